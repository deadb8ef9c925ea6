"""The lean paths' middleware (core/wsgi.py) is derived from settings.MIDDLEWARE and checked."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils.module_loading import import_string

from leadmill.capture.wsgi import FORM_POST_MIDDLEWARE, FormPostHandler

from ..checks import lean_middleware_check
from ..wsgi import LEAN_MIDDLEWARE, lean_middleware

pytestmark = pytest.mark.django_db  # the shared conftest clears the database cache

SECURITY = "django.middleware.security.SecurityMiddleware"


def test_a_lean_path_runs_a_subset_of_the_sites_middleware_in_its_order(settings):
    # Given the site's middleware; when the form post's lean chain is derived from it
    chain = lean_middleware(*FORM_POST_MIDDLEWARE)

    # Then it holds exactly the lean and the form post's names, outermost first as in MIDDLEWARE
    expected = [
        name for name in settings.MIDDLEWARE if name in {*LEAN_MIDDLEWARE, *FORM_POST_MIDDLEWARE}
    ]
    assert len(expected) == len(LEAN_MIDDLEWARE) + len(FORM_POST_MIDDLEWARE)
    assert chain == tuple(import_string(name) for name in expected)
    # ... the CSP before the language, as in MIDDLEWARE (the hand-written list had it after)
    assert expected.index("leadmill.core.csp.ContentSecurityPolicyMiddleware") < expected.index(
        "django.middleware.locale.LocaleMiddleware"
    )


def test_a_site_middleware_moved_moves_on_the_lean_path_too(settings):
    settings.MIDDLEWARE = [SECURITY, *(name for name in settings.MIDDLEWARE if name != SECURITY)]

    assert lean_middleware()[0] is import_string(SECURITY)


def test_a_lean_middleware_missing_from_the_site_stops_the_start_and_fails_the_check(settings):
    # Given a site whose MIDDLEWARE lost the security headers
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != SECURITY]

    # Then the lean handlers cannot be built, and `check` names it
    with pytest.raises(ImproperlyConfigured, match=SECURITY):
        FormPostHandler()
    errors = lean_middleware_check(None)
    assert [(error.id, SECURITY in error.msg) for error in errors] == [("leadmill.core.E001", True)]
    with pytest.raises(SystemCheckError, match="leadmill.core.E001"):
        call_command("check")


def test_a_middleware_the_form_post_adds_missing_from_the_site_fails_the_check(settings):
    clickjacking = "django.middleware.clickjacking.XFrameOptionsMiddleware"
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != clickjacking]

    with pytest.raises(ImproperlyConfigured, match=clickjacking):
        FormPostHandler()
    with pytest.raises(SystemCheckError, match="leadmill.capture.E001"):
        call_command("check")


def test_the_sites_middleware_passes_the_checks():
    assert lean_middleware_check(None) == []
    call_command("check")
