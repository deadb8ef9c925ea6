"""An A/B test end to end in headless Chromium: the marketer starts it, two visitors (two
browsers) each see their variant and keep it on reload, one converts, the results screen
shows it, and "promote" publishes the winner. Then the results screen in Portuguese on a
phone.

Screenshots go to ``LEADMILL_SCREENSHOTS_DIR`` when set, else to a temporary directory.
"""

import os
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from ..demo import demo_seed
from ..models import Experiment, Exposure, Submission, Variant
from ..pages import LandingPage
from .test_experiments import visitor_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"
PHONE = {"width": 390, "height": 844}
HEADLINE_B = "Get the playbook free today"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


@pytest.fixture
def screenshots_dir(tmp_path) -> Path:
    directory = Path(os.environ.get("LEADMILL_SCREENSHOTS_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def fast_forms(settings):
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    return settings.LEADMILL_FORM_MIN_SECONDS


def visitor(browser, live_server, vid: str):
    """A browser of its own, already known to the tracker by ``vid`` (its ``lm_vid``).
    With a desktop Chrome's user agent: headless Chromium's own says "HeadlessChrome",
    which crawlerdetect rightly takes for a bot (bots see the control, uncounted)."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, user_agent=BROWSER_UA)
    context.add_cookies([{"name": "lm_vid", "value": vid, "url": live_server.url}])
    return context.new_page()


def sign_in(browser, live_server, username: str, *, viewport=None):
    page = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(ADMIN_PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def test_two_visitors_see_their_variants_one_converts_and_the_marketer_promotes_it(
    browser, live_server, fast_forms, screenshots_dir
):
    # Given the e-book page and a draft test of a new headline against the page as it is
    demo_seed()
    get_user_model().objects.create_superuser("marketer", "m@example.com", ADMIN_PASSWORD)
    landing = LandingPage.objects.get(slug="ebook", locale__language_code="en")
    experiment = Experiment.objects.create(name="E-book headline", page=landing)
    Variant.objects.create(experiment=experiment, label="A", weight=50, sort_order=0)
    Variant.objects.create(
        experiment=experiment, label="B", weight=50, headline=HEADLINE_B, sort_order=1
    )

    # When the marketer opens the test from the Capture menu and starts it
    admin = sign_in(browser, live_server, "marketer")
    admin.get_by_role("button", name="Capture").click()
    admin.get_by_role("link", name="A/B tests").click()
    admin.get_by_role("row", name="E-book headline").get_by_role(
        "button", name="More options"
    ).click()
    admin.get_by_role("link", name="Results").click()
    expect(admin.get_by_test_id("experiment-status")).to_have_text("Draft")
    admin.get_by_role("button", name="Start the test").click()
    expect(admin.get_by_text("The test is running: visitors now see its variants.")).to_be_visible()

    # Then one visitor sees the page as it is, the other the new headline, each on reload too
    in_a = visitor(browser, live_server, visitor_for(experiment, "A"))
    in_b = visitor(browser, live_server, visitor_for(experiment, "B"))
    for page, title in ((in_a, "The Lead Generation Playbook"), (in_b, HEADLINE_B)):
        page.goto(f"{live_server.url}/ebook/")
        expect(page).to_have_title(title)
        page.reload()
        expect(page).to_have_title(title)
    shown_at = time.monotonic()

    # When the visitor of B asks for the e-book
    in_b.get_by_role("textbox", name="Email", exact=True).fill("bea@example.com")
    in_b.get_by_label("First name").fill("Bea")
    in_b.get_by_label("Yes, send me marketing emails").check()
    time.sleep(max(0.0, shown_at + fast_forms + 0.3 - time.monotonic()))
    in_b.get_by_role("button", name="Send me the e-book").click()
    expect(in_b.get_by_role("heading", level=1)).to_have_text("Your e-book is ready")

    # Then the results show one visitor per variant and B's conversion
    admin.reload()
    table = admin.get_by_test_id("experiment-results")
    row_a, row_b = table.locator("tr[data-variant=A]"), table.locator("tr[data-variant=B]")
    expect(row_a.get_by_test_id("exposures")).to_have_text("1")
    expect(row_a.get_by_test_id("conversions")).to_have_text("0")
    expect(row_b.get_by_test_id("exposures")).to_have_text("1")
    expect(row_b.get_by_test_id("conversions")).to_have_text("1")
    expect(row_b).to_contain_text("100.00 %")
    expect(admin.get_by_test_id("experiment-verdict")).to_contain_text("Keep the test running")
    admin.screenshot(path=str(screenshots_dir / "ab-results.png"), full_page=True)

    # When she promotes B
    row_b.get_by_role("button", name="Promote “B”").click()

    # Then the test has ended with B, and B's headline is the page for everyone
    expect(admin.get_by_text("“B” is now the page, published; the test has ended.")).to_be_visible()
    expect(admin.get_by_test_id("experiment-status")).to_have_text("Ended")
    newcomer = browser.new_context(user_agent=BROWSER_UA).new_page()
    newcomer.goto(f"{live_server.url}/ebook/")
    expect(newcomer).to_have_title(HEADLINE_B)
    in_a.reload()
    expect(in_a).to_have_title(HEADLINE_B)
    assert LandingPage.objects.get(pk=landing.pk).title == HEADLINE_B
    assert Exposure.objects.count() == 2  # nobody is exposed once the test has ended
    converted = Exposure.objects.get(converted_at__isnull=False)
    assert converted.variant.label == "B"
    assert converted.submission_id == Submission.objects.get(status="accepted").pk


def test_the_results_screen_reads_in_portuguese_on_a_phone(browser, live_server, screenshots_dir):
    from wagtail.users.models import UserProfile

    demo_seed()
    user = get_user_model().objects.create_superuser("ana", "ana@example.com", ADMIN_PASSWORD)
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "pt-br"
    profile.save()
    experiment = Experiment.objects.create(
        name="Título do e-book",
        page=LandingPage.objects.get(slug="ebook", locale__language_code="en"),
    )
    Variant.objects.create(experiment=experiment, label="A", weight=50, sort_order=0)
    Variant.objects.create(
        experiment=experiment, label="B", weight=50, headline="Grátis", sort_order=1
    )

    page = sign_in(browser, live_server, "ana", viewport=PHONE)
    page.goto(f"{live_server.url}/admin/capture/ab-tests/{experiment.pk}/results/")
    page.get_by_role("button", name="Iniciar o teste").click()

    expect(page.get_by_text("O teste está em andamento")).to_be_visible()
    expect(page.get_by_test_id("experiment-verdict")).to_contain_text("Mantenha o teste rodando")
    expect(page.get_by_role("columnheader", name="Probabilidade de ser a melhor")).to_be_attached()
    expect(page.get_by_role("button", name="Promover “B”")).to_be_attached()
    page.screenshot(path=str(screenshots_dir / "ab-results-pt-br-phone.png"), full_page=True)
    # nothing wider than the phone: the table scrolls inside its own box, to its last column
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.get_by_test_id("experiment-results").locator("xpath=..")
    box.evaluate("element => { element.scrollLeft = element.scrollWidth; }")
    expect(page.get_by_role("button", name="Promover “B”")).to_be_in_viewport()


def test_a_marketer_builds_an_ab_test_with_the_mouse_previews_a_variant_and_starts_it(
    browser, live_server, page_tree, screenshots_dir
):
    # Given the e-book page and a marketer in the back office
    demo_seed()
    get_user_model().objects.create_superuser("marketer", "m@example.com", ADMIN_PASSWORD)
    admin = sign_in(browser, live_server, "marketer")

    # When she adds an A/B test of the e-book page from the Capture menu
    admin.get_by_role("button", name="Capture").click()
    admin.get_by_role("link", name="A/B tests").click()
    admin.get_by_role("link", name="Add A/B test").click()
    admin.get_by_label("Name").fill("Free headline")
    admin.get_by_role("button", name="Choose a page").click()
    chooser = admin.locator(".modal-dialog")
    chooser.get_by_title("Explore subpages of 'Leadmill demo'").click()
    chooser.get_by_role("link", name="The Lead Generation Playbook", exact=True).click()
    expect(admin.locator(".modal-dialog")).to_be_hidden()
    # with the page as it is (A) and a new headline (B), half of the visitors each
    labels, headlines = admin.get_by_label("Label"), admin.get_by_label("Headline")
    expect(labels).to_have_count(2)  # a test needs two variants: both forms are there
    labels.nth(0).fill("A")
    labels.nth(1).fill("B")
    headlines.nth(1).fill(HEADLINE_B)
    admin.get_by_role("button", name="Save").first.click()

    # Then she lands on its results screen, a draft
    expect(admin.get_by_test_id("experiment-status")).to_have_text("Draft")
    experiment = Experiment.objects.get(name="Free headline")
    assert [
        (v.label, v.weight, v.headline) for v in experiment.variants.order_by("sort_order")
    ] == [
        ("A", 50, ""),
        ("B", 50, HEADLINE_B),
    ]

    # When she previews B
    with admin.expect_popup() as opened:
        admin.get_by_role("link", name="Preview “B”").click()
    preview = opened.value

    # Then she sees the page with B's headline, and nobody counts as exposed
    expect(preview).to_have_title(HEADLINE_B)
    expect(preview.get_by_role("button", name="Send me the e-book")).to_be_visible()
    preview.close()
    assert Exposure.objects.count() == 0

    # When she starts the test
    admin.get_by_role("button", name="Start the test").click()

    # Then it is running, and the A/B tests listing shows it so
    expect(admin.get_by_text("The test is running: visitors now see its variants.")).to_be_visible()
    expect(admin.get_by_test_id("experiment-status")).to_have_text("Running")
    admin.get_by_role("button", name="Capture").click()
    admin.get_by_role("link", name="A/B tests").click()
    row = admin.get_by_role("row", name="Free headline")
    expect(row).to_contain_text("The Lead Generation Playbook")
    expect(row).to_contain_text("Running")
    admin.screenshot(path=str(screenshots_dir / "ab-listing.png"), full_page=True)
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING
