from functools import partial

from django.urls import path, re_path
from ninja.openapi.views import openapi_json, openapi_view

from .errors import method_not_allowed, not_found_view
from .idempotency import idempotent
from .router import api

_patterns, _app, _namespace = api.urls  # (not ``app_name``: include() would read it)
for _pattern in _patterns:
    _pattern.callback = idempotent(method_not_allowed(_pattern.callback))

urlpatterns = [
    path("", (_patterns, _app, _namespace)),
    # The versioned addresses of the schema and its docs (/api/openapi.json, /api/docs stay).
    path("v1/openapi.json", partial(openapi_json, api=api), name="openapi-json-v1"),
    path("v1/docs", partial(openapi_view, api=api), name="openapi-view-v1"),
    re_path(r"^.*$", not_found_view),  # an unknown path under /api/ answers JSON too
]
