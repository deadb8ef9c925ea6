import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmill.settings")
django_application = get_wsgi_application()

from leadmill.tracking.wsgi import collect_ahead  # noqa: E402 -- needs the apps loaded above

# POST /t/collect skips the middleware it does not need (docs/adr/0008-lean-collect-path.md).
application = collect_ahead(django_application)
