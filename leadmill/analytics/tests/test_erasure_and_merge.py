"""A lead erased or merged away, and a form's slug changed, after their days were filled
(ADR 71): the next ordinary fill counts those days again, so every served number equals a
direct count over the raw rows again, with no full refill; an erased lead's stored rows go
with it."""

import datetime as dt
from contextlib import contextmanager

import pytest
from django.core.cache import cache
from django.utils import timezone

from leadmill.capture.models import Form, Submission
from leadmill.contacts.models import Contact
from leadmill.contacts.services import contact_merge
from leadmill.privacy.services import contact_erase
from leadmill.segments.models import Segment, SegmentMember
from leadmill.tracking.models import Event, EventType, Visitor

from .. import credits, selectors, services
from ..form_report import form_report, form_report_raw
from ..landing_pages import page_report
from ..models import SHARED_MODELS, FillState, FormDayCount, JourneyChange, LeadRow, LeadShare
from ..quality import quality
from .known_form import _at, _event, known_form
from .known_funnel import known_cta_clicks
from .test_attribution import journeys  # noqa: F401 -- the known journeys
from .test_credit_counts import same, summed

pytestmark = pytest.mark.django_db

GROUPS = (None, "channel", "source", "landing_page", "form", "country", "cta", "segment")
TOUCH_GROUPS = ("channel", "source", "medium", "campaign")
BROWSER_A = "visitor-a-000000001"  # the known form's browser that posted at 10:01


@contextmanager
def read_raw():
    """Reports read as a direct count over the raw rows (the fill's mark forgotten for the
    block, nothing kept), the mark put back after."""
    state = FillState.objects.get()
    FillState.objects.filter(pk=state.pk).update(filled_until=None)
    cache.clear()
    try:
        yield
    finally:
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)
        cache.clear()


def reports(since: dt.date, forms: list[Form]) -> dict:
    """The funnel by every breakdown in both readings, each attribution model by each touch
    column, quality (first touch and linear), the known form's report and the pages',
    from ``since`` to today (the days before today filled, today the raw tail)."""
    until = timezone.localdate()
    found: dict = {}
    for group in GROUPS:
        for reading, window in (("cohort", None), ("cohort", 30), ("activity", None)):
            found[(group, reading, window)] = selectors.funnel(
                since=since, until=until, group_by=group, reading=reading, window_days=window
            )
    for model in SHARED_MODELS:
        for group in TOUCH_GROUPS:
            found[(model, group)] = selectors.funnel(
                since=since, until=until, group_by=group, attribution=model
            )
    for model in ("first_touch", "linear"):
        found[("quality", model)] = quality(
            since=since, until=until, group_by="source", attribution=model
        )
    for form in forms:
        found[("form", form.slug)] = form_report(form=form, since=since, until=until)
    pages = page_report(since=since, until=until)
    found["pages"] = {row["page"]: (row["views"], row["conversions"]) for row in pages["rows"]}
    return found


def served_equals_raw(since: dt.date, forms: list[Form]) -> dict:
    cache.clear()
    served = reports(since, forms)
    with read_raw():
        raw = reports(since, forms)
        raw_credits = {
            (model, group): summed(
                credits.credited_rows(
                    since=since,
                    until=timezone.localdate(),
                    group_by=group,
                    model=model,
                    filters={},
                )[0]
            )
            for model in SHARED_MODELS
            for group in TOUCH_GROUPS
        }
    for form in forms:
        raw[("form", form.slug)] = form_report_raw(
            form=form, since=since, until=timezone.localdate()
        )
    same(served, raw)
    for (model, group), rows in raw_credits.items():
        stored = selectors.served_credited_rows(
            since=since, until=timezone.localdate(), group_by=group, model=model, filters={}
        )
        same(summed(stored), rows, f"{model}/{group}")
    return served


@pytest.fixture
def leads_with_browsers(journeys):  # noqa: F811
    """The known journeys, CTA clicks and form, a list and a segment; c3 (D2, bing, straight
    to SQL) owns the browser v4 (a page view on D2) and the known form's browser A (its
    views, start, fields and accepted post, ten days ago)."""
    data = journeys
    known_cta_clicks(data)
    data.form = known_form()
    c3 = data.contacts["c3"]
    Visitor.objects.filter(id__in=("v4", BROWSER_A)).update(contact=c3)
    Event.objects.filter(visitor_id__in=("v4", BROWSER_A)).update(contact=c3)
    Submission.objects.filter(visitor_id=BROWSER_A).update(contact=c3)
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    for name in ("c1", "c2", "c3"):
        SegmentMember.objects.create(segment=listed, contact=data.contacts[name])
    Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    return data


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_an_erasure_and_a_merge_are_corrected_by_the_next_ordinary_fill(leads_with_browsers):
    data = leads_with_browsers
    c1, c2, c3 = (data.contacts[name] for name in ("c1", "c2", "c3"))
    forms = [data.f1, data.f2, data.form.form]
    services.counts_fill()
    before = served_equals_raw(data.d1, forms)
    total_before = before[(None, "cohort", None)]["total"]
    assert (total_before["visitors"], total_before["leads"]) == (5, 4)
    assert LeadRow.objects.filter(contact_id=c3.pk).exists()
    assert LeadShare.objects.filter(contact_id=c1.pk).exists()

    # When c1 (won, customer) is merged into c2, and c3 is erased with its browsers
    contact_merge(survivor=c2, other=c1)
    contact_erase(contact_id=c3.pk, by=None, by_name="tests", reason="ticket 15")

    # Then nothing stored names the erased lead or the lead merged away, at once
    for gone in (c1.pk, c3.pk):
        assert not LeadRow.objects.filter(contact_id=gone).exists()
        assert not LeadShare.objects.filter(contact_id=gone).exists()
        assert not JourneyChange.objects.filter(contact_id=gone).exists()
    assert not Contact.objects.filter(pk__in=(c1.pk, c3.pk)).exists()

    # and the next ordinary fill (no refill) counts their days again
    report = services.counts_fill()
    assert report.days_corrected >= 3  # D1, D2, the form's day, the stages' days
    after = served_equals_raw(data.d1, forms)
    assert not JourneyChange.objects.exists()  # taken by the fill
    assert set(LeadRow.objects.values_list("contact_id", flat=True)) == {
        c2.pk,
        data.contacts["c4"].pk,
    }
    assert set(LeadShare.objects.values_list("contact_id", flat=True)) == {
        c2.pk,
        data.contacts["c4"].pk,
    }

    # with the numbers a person counts by hand: c2 took c1's history and outcome
    total = after[(None, "cohort", None)]["total"]
    assert (total["visitors"], total["leads"], total["mqls"], total["sqls"]) == (4, 2, 2, 1)
    assert total["customers"] == 1
    assert total["revenue"] == total_before["revenue"]
    # and the known form lost browser A's view and start (its post is kept, emptied)
    signup, signed_before = (reading[("form", "signup")] for reading in (after, before))
    assert (signup["views"], signup["starts"]) == (signed_before["views"] - 1, 3)
    assert signup["submissions"] == signed_before["submissions"]


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_an_erasure_notes_the_days_it_changes_before_its_rows_go(leads_with_browsers):
    data = leads_with_browsers
    c3 = data.contacts["c3"]
    services.counts_fill()
    stored = set(LeadRow.objects.filter(contact_id=c3.pk).values_list("day", flat=True))

    contact_erase(contact_id=c3.pk, by=None, by_name="tests", reason="ticket 15")

    # The days of its rows, of its browsers' events and of its form post, with no one's id
    noted = set(JourneyChange.objects.values_list("day", flat=True))
    assert stored <= noted
    assert data.form.day in noted  # browser A's form events and post
    assert set(JourneyChange.objects.values_list("contact_id", flat=True)) == {None}


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_a_merge_notes_the_survivor_and_both_leads_days(leads_with_browsers):
    data = leads_with_browsers
    c1, c4 = data.contacts["c1"], data.contacts["c4"]
    services.counts_fill()
    days = set(LeadRow.objects.filter(contact_id__in=(c1.pk, c4.pk)).values_list("day", flat=True))

    contact_merge(survivor=c4, other=c1)

    assert set(
        JourneyChange.objects.exclude(contact_id=None).values_list("contact_id", flat=True)
    ) == {c4.pk}
    assert set(JourneyChange.objects.exclude(day=None).values_list("day", flat=True)) == days
    assert not LeadRow.objects.filter(contact_id=c1.pk).exists()
    services.counts_fill()
    served_equals_raw(data.d1, [data.f1, data.f2])


def test_a_form_whose_slug_changed_is_counted_again_by_the_next_fill():
    # Given the known form, and a view sent by a site under the name "sign-up" three days
    # before (no form had that slug then), filled
    data = known_form()
    earlier = data.day - dt.timedelta(days=3)
    _event("visitor-f-000000001", _at(earlier, 9), EventType.FORM_VIEW, form="sign-up")
    services.counts_fill()
    assert set(FormDayCount.objects.values_list("slug", flat=True)) == {"signup"}
    since, until = earlier, timezone.localdate()
    assert form_report(form=data.form, since=since, until=until)["views"] == 5

    # When its slug changes to "sign-up": the events sent by the old name are no longer its
    # own, the earlier one sent by the new name is
    Form.objects.filter(pk=data.form.pk).update(slug="sign-up")
    data.form.refresh_from_db()
    services.counts_fill()

    # Then the stored days are counted again under the new slug: served equals raw
    cache.clear()
    served = form_report(form=data.form, since=since, until=until)
    assert served == form_report_raw(form=data.form, since=since, until=until)
    assert served["views"] == 1
    assert set(FormDayCount.objects.values_list("slug", flat=True)) == {"sign-up"}
