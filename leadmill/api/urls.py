from django.urls import path, re_path

from .errors import method_not_allowed, not_found_view
from .router import api

_patterns, _app, _namespace = api.urls  # (not ``app_name``: include() would read it)
for _pattern in _patterns:
    _pattern.callback = method_not_allowed(_pattern.callback)

urlpatterns = [
    path("", (_patterns, _app, _namespace)),
    re_path(r"^.*$", not_found_view),  # an unknown path under /api/ answers JSON too
]
