"""The Content-Security-Policy header is built once per distinct policy and reused, with
each request's own nonce (leadmill.core.csp)."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from leadmill.core import csp

pytestmark = pytest.mark.django_db  # the shared fixtures clear caches held in the database

PARTNER = "https://partner.example"


@pytest.fixture
def middleware():
    csp._policies_clear()
    yield csp.ContentSecurityPolicyMiddleware(lambda request: HttpResponse())
    csp._policies_clear()


@pytest.fixture
def builds(monkeypatch):
    """The policies the middleware built (report-only ones included)."""
    built = []
    real = csp.build_policy

    def counting(*args, **kwargs):
        built.append(kwargs.get("report_only", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(csp, "build_policy", counting)
    return built


def answer(middleware, path="/f/ebook/", *, origins=None, use_nonce=False):
    request = RequestFactory().post(path)
    middleware.process_request(request)
    nonce = str(request.csp_nonce) if use_nonce else None
    response = HttpResponse()
    if origins is not None:
        csp.frame_ancestors_allow(response, origins)
    return middleware.process_response(request, response), nonce


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part for part in (p.strip() for p in policy.split(";")) if part}


def test_each_distinct_policy_is_built_once_and_then_reused(middleware, builds):
    first = [answer(middleware, origins=[PARTNER])[0] for _ in range(3)]
    other = answer(middleware, origins=["https://shop.example"])[0]
    public = answer(middleware, "/ebook/")[0]

    assert builds == [False, True, False, False]  # 3 policies; the (empty) report-only one once
    assert {r["Content-Security-Policy"] for r in first} == {first[0]["Content-Security-Policy"]}
    assert directives(first[0])["frame-ancestors"] == f"frame-ancestors 'self' {PARTNER}"
    assert directives(other)["frame-ancestors"] == "frame-ancestors 'self' https://shop.example"
    assert directives(public)["frame-ancestors"] == "frame-ancestors 'none'"


def test_a_reused_header_carries_each_requests_own_nonce(middleware, builds):
    (one, one_nonce), (two, two_nonce) = (answer(middleware, use_nonce=True) for _ in range(2))
    (without, _none) = answer(middleware)

    assert one_nonce != two_nonce
    assert directives(one)["script-src"] == f"script-src 'self' 'nonce-{one_nonce}'"
    assert directives(two)["script-src"] == f"script-src 'self' 'nonce-{two_nonce}'"
    assert directives(without)["script-src"] == "script-src 'self'"
    assert builds.count(False) == 2  # with and without a nonce


def test_the_back_office_keeps_its_own_policy(middleware):
    office, _ = answer(middleware, "/admin/")
    public, _ = answer(middleware, "/ebook/")

    assert directives(office)["frame-ancestors"] == "frame-ancestors 'self'"
    assert directives(public)["frame-ancestors"] == "frame-ancestors 'none'"


def test_a_changed_policy_setting_is_used_at_once(middleware, settings):
    before, _ = answer(middleware)

    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": ["'self'"]}
    }
    after, _ = answer(middleware)

    assert directives(before)["img-src"] == "img-src 'self' data:"
    assert directives(after)["img-src"] == "img-src 'self'"
