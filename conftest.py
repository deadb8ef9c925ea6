"""Shared test set-up: a per-test Huey in immediate mode, the loopback SMTP server, the browser."""

import os

import pytest


@pytest.fixture(autouse=True)
def _huey_immediate(settings):
    """Tasks run inline in tests (after commit, as in production)."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's language: a request's LocaleMiddleware (or a test)
    leaves its language active in the thread, and the next test would read Portuguese."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from leadmill.capture.selectors import form_counts_clear, form_definitions_clear
    from leadmill.consent.selectors import purpose_texts_clear
    from leadmill.core.i18n import locale_caches_clear
    from leadmill.tracking.selectors import config_cache_clear

    def clear_process_caches():
        locale_caches_clear()  # a flushed database may give a locale's id to another
        form_definitions_clear()
        form_counts_clear()
        config_cache_clear()  # tracked sites and bot rules
        purpose_texts_clear()

    cache.clear()  # at set-up only: a test may leave the database unreachable on purpose
    clear_process_caches()
    yield
    clear_process_caches()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback (aiosmtpd) that Django's email goes to, for the test;
    the :class:`~leadmill.core.tests.smtp_sink.Inbox` of what it accepted."""
    from leadmill.core.tests.smtp_sink import Inbox, smtp_running, use_smtp

    inbox = Inbox()
    with smtp_running(inbox) as port:
        use_smtp(settings, port)
        yield inbox


@pytest.fixture
def page_tree():
    """Wagtail's root page and root collection, which the back office's home and page
    explorer need; an earlier transactional test's flush removes the ones the migrations
    made."""
    from django.conf import settings
    from wagtail.models import Collection, Locale, Page

    if not Page.objects.exists():
        Locale.objects.get_or_create(language_code=settings.LANGUAGE_CODE)
        Page.add_root(instance=Page(title="Root", slug="root"))
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")


@pytest.fixture
def styled(settings):
    """Static files under their own names, found and served by the live server: pages are
    laid out with Wagtail's and our stylesheets, as in production."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def chromium_executable():
    """Path of Debian's Chromium; skipped when absent, a failure where it is required (CI)."""
    path = os.environ.get("LEADMILL_CHROMIUM") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else ""
    )
    if not path:
        if os.environ.get("LEADMILL_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here but not installed")
        pytest.skip("Chromium is not installed")
    return path


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser(chromium_executable):
    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # A page the live server renders while the machine is busy (the admin's home computes its
    # charts) can take more than Playwright's 5 s: a person would wait, so the tests do too.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()
        # While Playwright's event loop runs in this thread, Django keeps a separate database
        # connection per async context (asgiref), which the test database teardown never
        # sees: close it here, or PostgreSQL refuses to drop the test database.
        from django.db import connections

        connections.close_all()


@pytest.fixture(autouse=True)
def _no_pending_outbox_ids():
    """A test's transaction is rolled back, never committed: forget the ids it published."""
    from leadmill.core import events

    events._pending_ids().clear()
    yield
    events._pending_ids().clear()
