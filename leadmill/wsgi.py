import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmill.settings")
django_application = get_wsgi_application()

# Needs the apps loaded above.
from django.conf import settings  # noqa: E402

from leadmill.capture.wsgi import form_post_route  # noqa: E402
from leadmill.core.wsgi import lean_paths_ahead, static_files_route  # noqa: E402
from leadmill.tracking.wsgi import collect_route  # noqa: E402

# The event batches and form posts skip the middleware they do not need
# (docs/adr/0008-lean-collect-path.md, docs/adr/0009-lean-form-post-path.md); static files
# and uploaded media are served here too, with the security headers (nosniff).
application = lean_paths_ahead(
    django_application,
    [
        collect_route(),
        form_post_route(),
        static_files_route(settings.STATIC_URL, settings.STATIC_ROOT),
        static_files_route(settings.MEDIA_URL, settings.MEDIA_ROOT, max_age_s=7 * 86_400),
    ],
)

# Everything loaded so far lives as long as the worker: out of the collector's full passes.
from leadmill.core.memory import startup_objects_freeze  # noqa: E402

startup_objects_freeze()
