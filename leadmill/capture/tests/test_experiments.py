"""A/B tests of landing pages (ADR 40, ADR 48): serving, stickiness, bots, exposures and
conversions, results, start / stop / promote."""

from __future__ import annotations

import datetime as dt
import time

import hypothesis
import pytest
from django.utils import timezone
from hypothesis import strategies as st

from leadmill.core.errors import Conflict, ValidationFailed
from leadmill.core.stats import Arm, probability_b_beats_a

from .. import tokens
from ..demo import demo_seed
from ..experiments import (
    conversions_record,
    experiment_promote,
    experiment_results,
    experiment_start,
    experiment_stop,
    variant_pick,
    visitor_key,
)
from ..models import Experiment, Exposure, Form, Submission, Variant
from ..pages import LandingPage
from ..services import submissions_process

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def ebook_page():
    demo_seed()
    return LandingPage.objects.get(slug="ebook", locale__language_code="en")


@pytest.fixture
def running_ebook_test(ebook_page):
    return experiment_start(experiment=make_test(ebook_page))


def make_test(page, *, weights=(50, 50), headline_b="Get the playbook free today") -> Experiment:
    experiment = Experiment.objects.create(name="Headline", page=page)
    Variant.objects.create(experiment=experiment, label="A", weight=weights[0], sort_order=0)
    Variant.objects.create(
        experiment=experiment,
        label="B",
        weight=weights[1],
        headline=headline_b,
        sort_order=1,
    )
    return experiment


def visitor_for(experiment: Experiment, label: str, *, start: int = 0) -> str:
    """A visitor id (``lm_vid``) that the split sends to the variant ``label``."""
    variants = list(experiment.variants.all())
    wanted = [v.label for v in variants].index(label)
    for n in range(start, start + 1000):
        vid = f"visitor{n:012d}"
        if variant_pick(salt=experiment.salt, key=vid, weights=[v.weight for v in variants]) == (
            wanted
        ):
            return vid
    raise AssertionError("no visitor found")


def title_of(response) -> str:
    html = response.content.decode()
    return html.split("<title>", 1)[1].split("</title>", 1)[0]


def test_the_split_follows_the_weights_and_is_stable_per_key():
    keys = [f"visitor{n:012d}" for n in range(20_000)]

    picks = [variant_pick(salt="s1", key=key, weights=[80, 20]) for key in keys]

    assert abs(picks.count(0) / len(keys) - 0.8) < 0.01
    assert picks == [variant_pick(salt="s1", key=key, weights=[80, 20]) for key in keys]
    # another test's salt draws again: being in B of one test says nothing of the next
    other = [variant_pick(salt="s2", key=key, weights=[80, 20]) for key in keys]
    assert other != picks


def test_each_visitor_sees_its_variant_on_every_view_and_is_exposed_once(client, ebook_page):
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)
    in_a, in_b = visitor_for(experiment, "A"), visitor_for(experiment, "B")

    client.cookies["lm_vid"] = in_b
    first = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    again = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    client.cookies["lm_vid"] = in_a
    other = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)

    assert title_of(first) == title_of(again) == "Get the playbook free today"
    assert title_of(other) == "The Lead Generation Playbook"
    assert first["Cache-Control"] == "private, no-cache"
    assert "lm_vid" not in first.cookies  # it had one: nothing to set
    assert sorted(Exposure.objects.values_list("visitor_key", "variant__label")) == sorted(
        [(in_b, "B"), (in_a, "A")]
    )


def test_a_first_view_without_a_visitor_id_gets_one_and_keeps_its_variant(client, ebook_page):
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)

    first = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    minted = first.cookies["lm_vid"]
    again = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)  # the test client sends it back

    assert len(minted.value) == 32 and minted["samesite"] == "Lax" and minted["max-age"]
    assert title_of(again) == title_of(first)
    exposure = Exposure.objects.get()
    assert exposure.visitor_key == minted.value
    assert "lm_vid" not in again.cookies


def test_bots_see_the_control_and_are_never_counted(client, ebook_page):
    experiment = make_test(ebook_page, weights=(1, 99))
    experiment_start(experiment=experiment)

    response = client.get("/ebook/", HTTP_USER_AGENT=GOOGLEBOT)
    no_agent = client.get("/ebook/", HTTP_USER_AGENT="")

    assert title_of(response) == title_of(no_agent) == "The Lead Generation Playbook"
    assert "lm_vid" not in response.cookies
    assert not Exposure.objects.exists()


def test_without_cookies_the_variant_follows_a_keyed_hash_of_address_and_browser(
    client, ebook_page, settings
):
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)

    views = [
        client.get("/ebook/", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.7") for _ in range(3)
    ]

    assert len({title_of(view) for view in views}) == 1
    assert all("lm_vid" not in view.cookies for view in views)
    exposure = Exposure.objects.get()
    key = visitor_key(visitor_id="", ip_address="203.0.113.7", user_agent=BROWSER)
    assert exposure.visitor_key == key and key.startswith("~") and "203.0.113.7" not in key


def test_a_form_post_after_the_view_is_the_conversion_of_that_variant(
    client, ebook_page, django_capture_on_commit_callbacks
):
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)
    in_b = visitor_for(experiment, "B")
    client.cookies["lm_vid"] = in_b
    client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    client.cookies["lm_vid"] = visitor_for(experiment, "A")
    client.get("/ebook/", HTTP_USER_AGENT=BROWSER)  # shown A, never converts
    form = Form.objects.get(slug="ebook")

    client.cookies["lm_vid"] = in_b
    response = client.post(
        "/f/ebook/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(ebook_page.pk),
            "website": "",
            "email": "ana@example.com",
            "first_name": "Ana",
            "consent_email-marketing": "on",
        },
        HTTP_USER_AGENT=BROWSER,
    )
    assert response.status_code == 303
    with django_capture_on_commit_callbacks(execute=True):
        submissions_process()
    submission = Submission.objects.get()
    assert conversions_record(submission_ids=[submission.pk]) == 0  # again: still one

    converted = Exposure.objects.get(converted_at__isnull=False)
    assert (converted.visitor_key, converted.variant.label, converted.submission_id) == (
        in_b,
        "B",
        submission.pk,
    )
    results = experiment_results(experiment=experiment)
    assert [(v.label, v.exposures, v.conversions, v.rate) for v in results.variants] == [
        ("A", 1, 0, 0.0),
        ("B", 1, 1, 1.0),
    ]


def _exposures(experiment: Experiment, label: str, shown: int, converted: int) -> None:
    variant = experiment.variants.get(label=label)
    now = timezone.now()
    Exposure.objects.bulk_create(
        Exposure(
            experiment=experiment,
            variant=variant,
            visitor_key=f"{label}-{n:08d}",
            exposed_at=now,
            converted_at=now if n < converted else None,
        )
        for n in range(shown)
    )


def test_results_give_rates_probability_to_be_best_risk_and_the_stop_rule(ebook_page):
    experiment = make_test(ebook_page)
    experiment = experiment_start(experiment=experiment)
    _exposures(experiment, "A", 200, 21)
    _exposures(experiment, "B", 200, 31)

    early = experiment_results(experiment=experiment, now=experiment.started_at)
    later = experiment_results(
        experiment=experiment, now=experiment.started_at + dt.timedelta(days=8)
    )

    a, b = early.variants
    assert (a.exposures, a.conversions, a.rate, b.rate) == (200, 21, 0.105, 0.155)
    assert abs(b.probability_best - 0.9300619) < 0.001
    assert b.probability_best == pytest.approx(probability_b_beats_a(Arm(200, 21), Arm(200, 31)))
    assert a.probability_best + b.probability_best == pytest.approx(1.0)
    assert a.expected_loss > b.expected_loss > 0
    assert (early.srm, early.may_stop, early.leader_id) == (False, False, None)
    assert "7 more days" in early.verdict
    # after the minimum days, B's risk (about 0.1 points) is under the 0.25 threshold
    assert (later.may_stop, later.leader_id) == (True, b.variant_id)
    assert later.verdict.startswith("“B” wins")


def test_a_split_that_does_not_match_the_weights_is_flagged(ebook_page):
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)
    _exposures(experiment, "A", 1000, 0)
    _exposures(experiment, "B", 800, 0)

    results = experiment_results(experiment=experiment)

    assert results.srm is True and results.srm_p_value < 0.001


def test_starting_needs_two_variants_a_live_page_and_no_other_running_test(ebook_page):
    lonely = Experiment.objects.create(name="One", page=ebook_page)
    Variant.objects.create(experiment=lonely, label="A", weight=50)
    with pytest.raises(ValidationFailed) as too_few:
        experiment_start(experiment=lonely)
    assert too_few.value.code == "too_few_variants"

    experiment_start(experiment=make_test(ebook_page))
    with pytest.raises(Conflict) as busy:
        experiment_start(experiment=make_test(ebook_page))
    assert busy.value.code == "page_busy"
    assert Experiment.objects.filter(status=Experiment.Status.RUNNING).count() == 1


def test_promoting_the_winner_ends_the_test_and_publishes_its_content(client, ebook_page):
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)
    winner = experiment.variants.get(label="B")

    experiment_promote(experiment=experiment, variant_id=winner.pk)

    experiment.refresh_from_db()
    page = LandingPage.objects.get(pk=ebook_page.pk)
    assert (experiment.status, experiment.winner_id) == (Experiment.Status.ENDED, winner.pk)
    assert page.title == "Get the playbook free today" and page.live
    # B changed only the headline: the blocks are the page's own
    assert [(b.block_type, b.id) for b in page.body] == [
        (b.block_type, b.id) for b in ebook_page.body
    ]
    response = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    assert title_of(response) == "Get the playbook free today"
    assert not Exposure.objects.exists()  # the test has ended: nobody is exposed any more
    with pytest.raises(Conflict):
        experiment_stop(experiment=experiment)


def test_stopping_without_a_winner_leaves_the_page_as_it_was(client, ebook_page):
    experiment = make_test(ebook_page, weights=(1, 99))
    experiment_start(experiment=experiment)

    experiment_stop(experiment=experiment)

    response = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    assert title_of(response) == "The Lead Generation Playbook"
    assert not Exposure.objects.exists()


def test_a_form_sent_with_errors_is_shown_again_in_the_visitors_variant(client, ebook_page):
    experiment = make_test(ebook_page)
    experiment_start(experiment=experiment)
    client.cookies["lm_vid"] = in_b = visitor_for(experiment, "B")
    client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    form = Form.objects.get(slug="ebook")

    response = client.post(
        "/f/ebook/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(ebook_page.pk),
            "website": "",
            "email": "not-an-email",
        },
        HTTP_USER_AGENT=BROWSER,
    )

    assert response.status_code == 400
    assert title_of(response) == "Get the playbook free today"
    assert list(Exposure.objects.values_list("visitor_key", flat=True)) == [in_b]


def test_the_editor_and_results_screens_open_and_a_start_that_breaks_a_rule_says_why(
    client, django_user_model, ebook_page
):
    from django.urls import reverse

    admin = django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    client.force_login(admin)
    lonely = Experiment.objects.create(name="One variant", page=ebook_page)
    Variant.objects.create(experiment=lonely, label="A", weight=50)
    viewset = Experiment.snippet_viewset

    add = client.get(reverse(viewset.get_url_name("add")))
    edit = client.get(reverse(viewset.get_url_name("edit"), args=[lonely.pk]))
    results_url = reverse("capture_experiment_results", args=[lonely.pk])
    started = client.post(results_url, {"action": "start"}, follow=True)

    assert (add.status_code, edit.status_code) == (200, 200)
    assert "When to call a winner" in edit.content.decode()
    assert started.status_code == 200
    assert "Add at least two variants (e.g. the page as it is, and one change)." in (
        started.content.decode()
    )
    lonely.refresh_from_db()
    assert lonely.status == Experiment.Status.DRAFT


LATIN_1 = st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f")


@hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
@hypothesis.given(
    # what a request's headers can carry: WSGI hands them over as latin-1 text
    cookie=st.text(LATIN_1, max_size=80).filter(lambda s: ";" not in s),
    user_agent=st.text(LATIN_1, max_size=300),
    address=st.sampled_from(["203.0.113.7", "2001:db8::1", "", "not-an-address"]),
)
def test_hostile_cookies_and_agents_on_a_page_under_test_get_a_page_never_a_5xx(
    client, running_ebook_test, cookie, user_agent, address
):
    client.cookies["lm_vid"] = cookie
    response = client.get("/ebook/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    assert response.status_code == 200
    assert title_of(response) in {"The Lead Generation Playbook", "Get the playbook free today"}


def test_a_marketer_adds_a_test_with_its_variants_and_split_and_starts_it(
    client, django_user_model, ebook_page
):
    from django.urls import reverse
    from wagtail.test.utils.form_data import inline_formset, nested_form_data, streamfield

    client.force_login(
        django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    )

    def variant(label, weight, headline=""):
        return {
            "label": label,
            "weight": weight,
            "headline": headline,
            "intro": "",
            "form": "",
            "body": streamfield([]),
        }

    created = client.post(
        reverse(Experiment.snippet_viewset.get_url_name("add")),
        nested_form_data(
            {
                "name": "Headline",
                "page": ebook_page.pk,
                "min_days": 7,
                "min_exposures": 100,
                "risk_threshold_percent": "0.25",
                "variants": inline_formset(
                    [variant("A", 80), variant("B", 20, "Get the playbook free today")]
                ),
            }
        ),
    )

    experiment = Experiment.objects.get()
    assert created.status_code == 302, created.context["form"].errors if created.context else ""
    assert created["Location"] == reverse("capture_experiment_results", args=[experiment.pk])
    assert [(v.label, v.weight, v.headline, v.is_control) for v in experiment.variants.all()] == [
        ("A", 80, "", True),
        ("B", 20, "Get the playbook free today", False),
    ]
    client.post(created["Location"], {"action": "start"})
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING and experiment.started_at


def test_a_variant_preview_shows_its_content_to_the_marketer_only_and_exposes_nobody(
    client, django_user_model, running_ebook_test
):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    a, b = running_ebook_test.variants.order_by("sort_order")
    url = reverse("capture_experiment_variant_preview", args=[running_ebook_test.pk, b.pk])
    other_test = make_test(running_ebook_test.page)
    # a back-office user without the A/B tests' permissions
    stranger = django_user_model.objects.create_user("s", "s@leadmill.test", "pw-41-long-enough")
    stranger.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(stranger)
    refused = client.get(url)
    client.force_login(
        django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    )

    preview_b = client.get(url)
    preview_a = client.get(
        reverse("capture_experiment_variant_preview", args=[running_ebook_test.pk, a.pk])
    )
    wrong_test = client.get(
        reverse("capture_experiment_variant_preview", args=[other_test.pk, b.pk])
    )

    assert (refused.status_code, refused.url) == (302, "/admin/")  # Wagtail's "no permission"
    assert (preview_b.status_code, title_of(preview_b)) == (200, "Get the playbook free today")
    assert title_of(preview_a) == "The Lead Generation Playbook"
    assert wrong_test.status_code == 404  # a variant is previewed through its own test
    assert not Exposure.objects.exists()
