"""The API object; each app's endpoints are added as a router here."""

from ninja import NinjaAPI

api = NinjaAPI(title="Leadmill API", version="1", urls_namespace="api")


@api.get("/health", tags=["meta"])
def health(request):
    return {"status": "ok"}
