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

A header is built once per process for each distinct policy (its settings, the sites a
response may be framed by, whether the page used a nonce) and reused: building it cost
about 60 µs, some 7% of a form post. The request's nonce goes in by replacing a
placeholder. A form whose allowed origins change asks for another policy, so it never gets
a stale header; the cache is emptied when the CSP settings change (tests).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache

from csp.constants import HEADER, HEADER_REPORT_ONLY, SELF
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy, default_config
from django.conf import settings
from django.core.signals import setting_changed

# An origin as a CSP source expression: scheme, host (a name, IPv4 or [IPv6]) and a port.
# Anything else in a form's list (a typo, a path, a space or ";" that would add a
# directive) is left out of the header.
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")


def csp_origins(origins: Iterable[str]) -> list[str]:
    """The well-formed origins of ``origins``, in order, each once."""
    return list(dict.fromkeys(origin for origin in origins if _ORIGIN.fullmatch(origin)))


@lru_cache(maxsize=1024)
def _frame_ancestors(origins: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {"frame-ancestors": (SELF, *csp_origins(origins))}


def frame_ancestors_allow(response, origins: Iterable[str]):
    """Let Leadmill's own pages and ``origins`` (a form's allowed sites) frame ``response``,
    and no other site: ``frame-ancestors`` replaces the public ``'none'``, and the
    X-Frame-Options header, which cannot name a site, is left out. Returns ``response``."""
    response._csp_replace = _frame_ancestors(tuple(origins))  # shared: never mutate it
    response.xframe_options_exempt = True
    return response


# Stands for the request's nonce in a cached header; base64 never holds "!".
_NONCE_PLACEHOLDER = "!leadmill-csp-nonce!"
_policies: dict[tuple, str] = {}
_policies_lock = threading.Lock()


def _frozen(directives) -> tuple | None:
    """A hashable copy of a directives dict (None stays None); raises TypeError when a
    value cannot be hashed."""
    if directives is None:
        return None
    return tuple(
        sorted(
            (name, tuple(value) if isinstance(value, list | tuple) else value)
            for name, value in directives.items()
        )
    )


def _policies_clear(*, setting: str = "", **kwargs) -> None:
    if not setting or "CSP" in setting or "CONTENT_SECURITY_POLICY" in setting:
        with _policies_lock:
            _policies.clear()


setting_changed.connect(_policies_clear)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the back office's policy under its path prefix, and
    each distinct header built once (see the module's docstring)."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if (
            not report_only
            and parts.config is None
            and request.path_info.startswith(settings.LEADMILL_CSP_BACK_OFFICE_PATHS)
        ):
            parts.config = default_config(settings.LEADMILL_CSP_BACK_OFFICE)
        return parts

    def process_response(self, request, response):
        """django-csp's, with the headers from :meth:`_policy` (same rules for debug
        pages, exemptions, excluded prefixes and the nonce read too late)."""
        if response.status_code in (404, 500) and settings.DEBUG:
            return response
        for report_only, header, exempt, setting in (
            (False, HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (True, HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            if header in response or getattr(response, exempt, False) is not False:
                continue
            policy = self._policy(request, response, report_only=report_only)
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if policy and not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

    def _policy(self, request, response, *, report_only: bool) -> str:
        nonce = getattr(request, "_csp_nonce", None)
        suffix = "_ro" if report_only else ""
        config = getattr(response, f"_csp_config{suffix}", None)
        update = getattr(response, f"_csp_update{suffix}", None)
        replace = getattr(response, f"_csp_replace{suffix}", None)
        back_office = (
            not report_only
            and config is None
            and request.path_info.startswith(settings.LEADMILL_CSP_BACK_OFFICE_PATHS)
        )
        try:
            key = (
                report_only,
                back_office,
                _frozen(config),
                _frozen(update),
                _frozen(replace),
                nonce is not None,
            )
            hash(key)
        except TypeError:  # a value of a view's own directives cannot be a key: build it
            parts = self.get_policy_parts(request, response, report_only)
            return build_policy(
                parts.config, parts.update, parts.replace, parts.nonce, report_only=report_only
            )
        policy = _policies.get(key)
        if policy is None:
            parts = self.get_policy_parts(request, response, report_only)
            policy = build_policy(
                parts.config,
                parts.update,
                parts.replace,
                _NONCE_PLACEHOLDER if nonce is not None else None,
                report_only=report_only,
            )
            with _policies_lock:
                if len(_policies) > 4096:  # bounded: every distinct list of allowed sites
                    _policies.clear()
                _policies[key] = policy
        return policy.replace(_NONCE_PLACEHOLDER, nonce) if nonce is not None else policy
