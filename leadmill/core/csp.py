"""Content-Security-Policy for every page, with django-csp (docs/adr/0014-content-security-policy.md).

Three policies, one middleware:

- **public pages** (landing pages, form pages, thank-you pages, the opt-in page):
  ``settings.CONTENT_SECURITY_POLICY``. Scripts only from Leadmill itself or with the
  request's nonce (``{{ request.csp_nonce }}``), no plug-ins, forms post only to Leadmill,
  and ``frame-ancestors 'none'``: nobody may frame them.
- **embeddable pages** (a form's iframe page, and what its post leads to: the thank-you
  page, the form again with its errors, an error message): the public policy, with
  ``frame-ancestors`` listing Leadmill itself and the form's allowed origins
  (:func:`frame_ancestors_allow`), and no X-Frame-Options header.
- **the back office** (``/admin/``): ``settings.LEADMILL_CSP_BACK_OFFICE``, which allows
  the inline scripts and styles Wagtail's admin is built with, and framing by itself only
  (its page preview).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from csp.constants import SELF
from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import default_config
from django.conf import settings

# An origin as a CSP source expression: scheme, host (a name, IPv4 or [IPv6]) and a port.
# Anything else in a form's list (a typo, a path, a space or ";" that would add a
# directive) is left out of the header.
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")


def csp_origins(origins: Iterable[str]) -> list[str]:
    """The well-formed origins of ``origins``, in order, each once."""
    return list(dict.fromkeys(origin for origin in origins if _ORIGIN.fullmatch(origin)))


def frame_ancestors_allow(response, origins: Iterable[str]):
    """Let Leadmill's own pages and ``origins`` (a form's allowed sites) frame ``response``,
    and no other site: ``frame-ancestors`` replaces the public ``'none'``, and the
    X-Frame-Options header, which cannot name a site, is left out. Returns ``response``."""
    response._csp_replace = {"frame-ancestors": [SELF, *csp_origins(origins)]}
    response.xframe_options_exempt = True
    return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the back office's policy under its path prefix."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if (
            not report_only
            and parts.config is None
            and request.path_info.startswith(settings.LEADMILL_CSP_BACK_OFFICE_PATHS)
        ):
            parts.config = default_config(settings.LEADMILL_CSP_BACK_OFFICE)
        return parts
