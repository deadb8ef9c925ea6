"""Rule scores: fit operators, engagement filters and caps, decay, bots, temperature, stage,
and the set-based recompute agreeing with the incremental path."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.contacts.models import Contact, LifecycleStage, StageChange, Temperature
from leadmill.contacts.services import contact_stage_change
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent
from leadmill.tracking.models import EventType
from leadmill.tracking.tests.factories import EventFactory

from ..models import LEAD_CAPTURED, ContactScore, EngagementRule, FitRule, ScoringSettings
from ..qualification import scores_requalify
from ..recompute import scores_recompute_all
from ..selectors import engagement_now
from ..services import contact_score_refresh, score_apply_event, score_events_apply

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def settings_set(**values) -> ScoringSettings:
    settings = ScoringSettings.load()
    for name, value in values.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def fit_of(contact: Contact) -> int:
    scores_recompute_all(at=T)
    return ContactScore.objects.get(contact=contact).fit_score


def engagement_of(contact: Contact, *, at: dt.datetime = T) -> float:
    scores_recompute_all(at=at)
    return ContactScore.objects.get(contact=contact).engagement_score


# --- Fit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "role", "passes"),
    [
        ("equals", "CEO", "ceo", True),
        ("equals", "CEO", "CTO", False),
        ("in", "CEO, cto , Founder", "CTO", True),
        ("in", "CEO, Founder", "Intern", False),
        ("contains", "market", "Head of Marketing", True),
        ("contains", "market", "Sales", False),
        ("is_set", "", "Anything", True),
        ("is_set", "", "", False),
    ],
)
def test_a_fit_rule_on_a_text_field_gives_its_points_when_the_test_passes(
    operator, value, role, passes
):
    contact = ContactFactory(role=role)
    FitRule.objects.create(field="role", operator=operator, value=value, points=15)

    assert fit_of(contact) == (15 if passes else 0)


@pytest.mark.parametrize(
    ("operator", "value", "employees", "passes"),
    [
        ("gte", "50", 50, True),
        ("gte", "50", "49.5", False),
        ("lte", "10", "7", True),
        ("lte", "10", 11, False),
        ("gte", "1", "many", False),
        ("gte", "0.4", " .5 ", True),
        ("gte", "-3", "-2", True),
        ("lte", "10", "1.2.3", False),
        ("gte", "1", "5-", False),
        ("lte", "3", 2.5, True),
        ("gte", "0", True, False),
        ("gte", "0", None, False),
        ("gte", "0", {"n": 5}, False),
    ],
)
def test_a_number_test_on_a_custom_field_compares_numbers_and_never_passes_text(
    operator, value, employees, passes
):
    contact = ContactFactory(custom={"employees": employees})
    FitRule.objects.create(field="custom.employees", operator=operator, value=value, points=10)

    assert fit_of(contact) == (10 if passes else 0)


def test_a_number_test_on_a_custom_field_the_lead_does_not_have_never_passes():
    without = ContactFactory(custom={"other": 100})
    with_it = ContactFactory(custom={"employees": 100})
    FitRule.objects.create(field="custom.employees", operator="gte", value="-1", points=10)

    assert (fit_of(without), fit_of(with_it)) == (0, 10)


def test_email_type_tells_business_from_free_mail_and_points_may_be_negative():
    business = ContactFactory(email="ana@acme.example")
    free = ContactFactory(email="bob@gmail.com")
    FitRule.objects.create(field="email_type", operator="equals", value="business", points=20)
    FitRule.objects.create(field="email_type", operator="equals", value="free", points=-5)

    assert (fit_of(business), fit_of(free)) == (20, -5)


def test_fit_is_the_sum_of_every_rule_passed_and_inactive_rules_count_nothing():
    contact = ContactFactory(role="CEO", country="BR", segment="SaaS")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=20)
    FitRule.objects.create(field="country", operator="in", value="br,pt", points=10)
    FitRule.objects.create(
        field="segment", operator="equals", value="saas", points=7, is_active=False
    )

    assert fit_of(contact) == 30


def test_fit_rules_read_the_touch_channel_and_store_sources_by_their_canonical_name():
    paid_instagram = ContactFactory(first_channel="paid_social", first_source="instagram")
    organic = ContactFactory(first_channel="organic_search", first_source="google")
    channel = FitRule(field="first_channel", operator="in", value="Paid_Social, email", points=8)
    source = FitRule(field="first_source", operator="equals", value="IG", points=5)
    for rule in (channel, source):
        rule.full_clean()
        rule.save()

    assert (channel.value, source.value) == ("paid_social, email", "instagram")
    assert (fit_of(paid_instagram), fit_of(organic)) == (13, 0)


def test_a_fit_rule_on_a_channel_tracking_never_gives_is_refused_with_the_channels_named():
    rule = FitRule(field="last_channel", operator="equals", value="instagram", points=5)

    with pytest.raises(ValidationError) as refused:
        rule.full_clean()

    assert refused.value.message_dict == {
        "value": [
            "A channel is one of: direct, organic_search, paid_search, social, paid_social, "
            "email, referral, other."
        ]
    }


# --- Engagement --------------------------------------------------------------------------------


def test_engagement_rules_filter_by_url_form_and_property_and_add_up_on_one_event():
    contact = ContactFactory()
    form = FormFactory(slug="demo")
    EngagementRule.objects.create(
        name="pricing", event_type="page_view", url_contains="/PRICING", points=5
    )
    EngagementRule.objects.create(name="demo form", event_type="form_submit", form=form, points=11)
    EngagementRule.objects.create(name="any view", event_type="page_view", points=1)
    EngagementRule.objects.create(
        name="video", event_type="custom", property_key="video", property_value="intro", points=3
    )
    EventFactory(contact=contact, occurred_at=T, url="https://x.example/pricing?plan=pro")
    EventFactory(contact=contact, occurred_at=T, url="https://x.example/blog")
    EventFactory(contact=contact, occurred_at=T, type=EventType.FORM_SUBMIT, name="demo")
    EventFactory(contact=contact, occurred_at=T, type=EventType.FORM_SUBMIT, name="ebook")
    EventFactory(
        contact=contact, occurred_at=T, type=EventType.CUSTOM, properties={"video": "intro"}
    )
    EventFactory(
        contact=contact, occurred_at=T, type=EventType.CUSTOM, properties={"video": "outro"}
    )

    assert engagement_of(contact) == pytest.approx(5 + 11 + 3 + 2, abs=1e-9)  # rules add up


def test_a_lead_captured_rule_counts_accepted_submissions_of_its_offer_only():
    contact = ContactFactory()
    offer = OfferFactory()
    with_offer, without = FormFactory(offer=offer), FormFactory()
    EngagementRule.objects.create(name="offer", event_type=LEAD_CAPTURED, offer=offer, points=8)
    for form, status in ((with_offer, "accepted"), (with_offer, "spam"), (without, "accepted")):
        Submission.objects.create(form=form, status=status, data={}, contact=contact)
    Submission.objects.filter(contact=contact).update(created_at=T)

    assert engagement_of(contact) == pytest.approx(8, abs=1e-9)


def test_bot_events_never_count():
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=4)
    EventFactory(contact=contact, occurred_at=T, is_bot=True)
    bot = EventFactory(contact=contact, occurred_at=T, is_bot=True)
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)

    assert engagement_of(contact) == 0
    assert score_apply_event(event_id=bot.pk, at=T) is None
    assert ContactScore.objects.get(contact=contact).engagement_score == 0


def test_a_cap_limits_a_rules_points_per_period_earliest_first():
    contact = ContactFactory()
    EngagementRule.objects.create(
        name="view", event_type="page_view", points=20, cap_points=30, cap_days=30
    )
    period_start = dt.datetime.fromtimestamp(
        (int(T.timestamp()) // (86400 * 30)) * 86400 * 30, tz=dt.UTC
    )
    for minutes in (1, 2, 3):  # 20 + 10 + 0 in one period
        EventFactory(contact=contact, occurred_at=period_start + dt.timedelta(minutes=minutes))
    EventFactory(
        contact=contact, occurred_at=period_start - dt.timedelta(minutes=1)
    )  # the period before: 20
    settings_set(half_life_days=1e9)  # no decay to speak of

    assert engagement_of(contact, at=period_start + DAY) == pytest.approx(50, rel=1e-6)


def test_a_cap_keeps_the_earliest_hits_by_time_with_their_own_decay_for_every_lead():
    # given: 4 points a view, at most 10 per 30 days, half-life 10 days; one lead over the
    # cap (its latest view stored first), one under it
    over, under = ContactFactory(), ContactFactory()
    EngagementRule.objects.create(
        name="view", event_type="page_view", points=4, cap_points=10, cap_days=30
    )
    settings_set(half_life_days=10)
    period_start = dt.datetime.fromtimestamp(
        (int(T.timestamp()) // (86400 * 30)) * 86400 * 30, tz=dt.UTC
    )
    at = period_start + 25 * DAY
    for contact, days in ((over, (25, 5, 15)), (under, (5, 15))):
        for day in days:
            EventFactory(contact=contact, occurred_at=period_start + day * DAY)

    # when
    scores_recompute_all(at=at)

    # then: 4 x 0.25 + 4 x 0.5 + 2 x 1 (the cap's rest goes to the latest view), and 4 x 0.25 + 4 x 0.5
    engagement = dict(ContactScore.objects.values_list("contact_id", "engagement_score"))
    assert engagement[over.pk] == pytest.approx(5, abs=1e-9)
    assert engagement[under.pk] == pytest.approx(3, abs=1e-9)


# --- Decay -------------------------------------------------------------------------------------


def test_engagement_halves_after_one_half_life_exactly():
    contact = ContactFactory()
    settings_set(half_life_days=14)
    EngagementRule.objects.create(name="view", event_type="page_view", points=10)
    EventFactory(contact=contact, occurred_at=T)

    assert engagement_of(contact, at=T) == pytest.approx(10, abs=1e-9)
    score = ContactScore.objects.get(contact=contact)
    assert engagement_now(score=score, at=T + 14 * DAY) == pytest.approx(5, abs=1e-9)
    assert engagement_now(score=score, at=T + 28 * DAY) == pytest.approx(2.5, abs=1e-9)

    scores_recompute_all(at=T + 14 * DAY)  # nothing changed but time: no write, same value now
    score.refresh_from_db()
    assert (score.engagement_score, score.engagement_at) == (10, T)


def test_a_recompute_over_unchanged_data_writes_no_row_even_as_time_passes():
    contact = ContactFactory(role="ceo")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=10)
    EngagementRule.objects.create(name="view", event_type="page_view", points=10)
    EventFactory(contact=contact, occurred_at=T)
    assert scores_recompute_all(at=T) == 1

    assert scores_recompute_all(at=T + 3 * DAY) == 0
    assert ContactScore.objects.get(contact=contact).engagement_at == T


def test_a_recompute_after_a_rule_changed_writes_each_changed_lead_once_and_new_leads_too():
    # given: three scored leads; then a fit rule changes (two leads pass it), an engagement
    # rule changes (one of them and a third lead have its events), and a lead without scores
    settings_set(half_life_days=10)
    fit_rule = FitRule.objects.create(field="role", operator="equals", value="ceo", points=10)
    view = EngagementRule.objects.create(name="view", event_type="page_view", points=4)
    fit_only, both, engagement_only = (
        ContactFactory(role="ceo"),
        ContactFactory(role="ceo"),
        ContactFactory(role="intern"),
    )
    for contact in (both, engagement_only):
        EventFactory(contact=contact, occurred_at=T - 10 * DAY)
    assert scores_recompute_all(at=T - 10 * DAY) == 3
    newcomer = ContactFactory(role="ceo")
    fit_rule.points, view.points = 25, 6
    fit_rule.save()
    view.save()
    EventFactory(contact=newcomer, occurred_at=T, type=EventType.CTA_CLICK)

    # when
    changed = scores_recompute_all(at=T)

    # then: 6 points a half-life ago are 3 now; the newcomer's click counts nothing
    assert changed == 4
    scores = {s.contact_id: s for s in ContactScore.objects.all()}
    now = {pk: (s.fit_score, engagement_now(score=s, at=T)) for pk, s in scores.items()}
    assert now[fit_only.pk] == (25, 0)
    assert now[both.pk] == (25, pytest.approx(3, abs=1e-9))
    assert now[engagement_only.pk] == (0, pytest.approx(3, abs=1e-9))
    assert now[newcomer.pk] == (25, 0)
    assert {s.updated_at for s in scores.values()} == {T}
    assert (scores[engagement_only.pk].engagement_at, scores[newcomer.pk].engagement_at) == (T, T)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite writes scores by column")
def test_on_sqlite_a_fit_change_leaves_the_stored_engagement_and_its_time_as_they_were():
    settings_set(half_life_days=10)
    fit_rule = FitRule.objects.create(field="role", operator="equals", value="ceo", points=10)
    EngagementRule.objects.create(name="view", event_type="page_view", points=4)
    contact = ContactFactory(role="ceo")
    EventFactory(contact=contact, occurred_at=T - 10 * DAY)
    scores_recompute_all(at=T - 10 * DAY)
    fit_rule.points = 12
    fit_rule.save()

    assert scores_recompute_all(at=T) == 1

    score = ContactScore.objects.get(contact=contact)
    assert (score.fit_score, score.engagement_score, score.engagement_at) == (12, 4, T - 10 * DAY)
    assert score.updated_at == T


# --- Temperature and stage ---------------------------------------------------------------------


@pytest.fixture
def qualifying_rules():
    settings_set(
        half_life_days=14,
        warm_threshold=20,
        hot_threshold=80,
        mql_fit_threshold=30,
        mql_engagement_threshold=20,
        demote_on_decay=True,
    )
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=40)
    EngagementRule.objects.create(name="view", event_type="page_view", points=25)


def test_passing_both_thresholds_makes_the_lead_mql_with_the_cause_and_decay_takes_it_back(
    qualifying_rules,
):
    contact = ContactFactory(role="CEO")
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    event = EventFactory(contact=contact, occurred_at=T)

    score_apply_event(event_id=event.pk, at=T)

    contact.refresh_from_db()
    assert (contact.lifecycle_stage, contact.temperature) == (LifecycleStage.MQL, Temperature.WARM)
    change = StageChange.objects.filter(contact=contact).order_by("-pk").first()
    assert (change.from_stage, change.to_stage) == (LifecycleStage.LEAD, LifecycleStage.MQL)
    assert change.cause == "scores: fit 40 ≥ 30, engagement 25 ≥ 20"
    assert OutboxEvent.objects.filter(name="StageChanged").count() == 1


def test_decay_below_the_engagement_threshold_demotes_a_lead_the_scores_made_mql(qualifying_rules):
    contact = ContactFactory(role="CEO")
    EventFactory(contact=contact, occurred_at=T)
    contact_score_refresh(contact_id=contact.pk, at=T)
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == LifecycleStage.MQL

    # after 7 days 25 · 0.5^0.5 = 17.7 < 20
    assert scores_requalify(at=T + 7 * DAY) == 1

    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.LEAD
    assert (
        StageChange.objects.filter(contact=contact).order_by("-pk").first().cause
        == "scores: engagement 18 < 20"
    )
    assert ContactScore.objects.get(contact=contact).engagement_at == T  # decay wrote no score


def test_decay_does_not_demote_an_mql_a_person_chose_nor_without_the_setting(qualifying_rules):
    by_hand = ContactFactory(role="CEO")
    contact_stage_change(contact=by_hand, to_stage=LifecycleStage.MQL, cause="sales asked", at=T)
    contact_score_refresh(contact_id=by_hand.pk, at=T)

    scores_requalify(at=T + 7 * DAY)

    assert Contact.objects.get(pk=by_hand.pk).lifecycle_stage == LifecycleStage.MQL

    settings_set(demote_on_decay=False)
    scored = ContactFactory(role="CEO")
    EventFactory(contact=scored, occurred_at=T)
    contact_score_refresh(contact_id=scored.pk, at=T)
    scores_requalify(at=T + 30 * DAY)
    assert Contact.objects.get(pk=scored.pk).lifecycle_stage == LifecycleStage.MQL


def test_temperature_follows_the_thresholds_and_is_published(qualifying_rules):
    contact = ContactFactory(role="intern")
    EventFactory(contact=contact, occurred_at=T)
    contact_score_refresh(contact_id=contact.pk, at=T)  # 0 + 25: warm, not MQL (fit 0 < 30)

    contact.refresh_from_db()
    assert (contact.temperature, contact.lifecycle_stage) == (Temperature.WARM, LifecycleStage.LEAD)
    published = OutboxEvent.objects.filter(name="TemperatureChanged").get()
    assert published.payload["to_temperature"] == "warm"
    assert published.payload["cause"] == "scores: fit + engagement 25 ≥ 20"

    assert scores_requalify(at=T + 14 * DAY) == 1  # 12.5 < 20
    assert Contact.objects.get(pk=contact.pk).temperature == Temperature.COLD


def test_a_request_for_an_intent_offer_makes_the_lead_hot_at_once(qualifying_rules):
    contact = ContactFactory(role="intern")
    demo = FormFactory(offer=OfferFactory(is_intent_signal=True))
    Submission.objects.create(form=demo, status="accepted", data={}, contact=contact)

    contact_score_refresh(contact_id=contact.pk)

    contact.refresh_from_db()
    assert contact.temperature == Temperature.HOT
    assert ContactScore.objects.get(contact=contact).engagement_score == 0
    assert contact.lifecycle_stage == LifecycleStage.LEAD


def test_an_intent_engagement_rule_makes_the_lead_hot_on_its_event(qualifying_rules):
    contact = ContactFactory()
    EngagementRule.objects.create(
        name="pricing",
        event_type="page_view",
        url_contains="pricing",
        points=1,
        is_intent_signal=True,
    )
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    event = EventFactory(contact=contact, occurred_at=T, url="https://x.example/pricing")

    score_apply_event(event_id=event.pk, at=T)

    assert Contact.objects.get(pk=contact.pk).temperature == Temperature.HOT
    assert scores_requalify(at=T + 29 * DAY) == 0
    assert scores_requalify(at=T + 31 * DAY) == 1  # intent_hot_days over: 26 · 0.5^(31/14) is cold
    assert Contact.objects.get(pk=contact.pk).temperature == Temperature.COLD


# --- Incremental path --------------------------------------------------------------------------


def test_a_repeated_delivery_of_an_event_counts_once():
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=5)
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    event = EventFactory(contact=contact, occurred_at=T)

    score_apply_event(event_id=event.pk, at=T)
    score_apply_event(event_id=event.pk, at=T)

    assert ContactScore.objects.get(contact=contact).engagement_score == pytest.approx(5, abs=1e-9)


def test_events_delivered_newest_first_each_count_and_agree_with_a_recompute():
    # given: two page views of one lead, the newer one (higher id) delivered first, as
    # when another process committed the older one later
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=5)
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    older, newer = (
        EventFactory(contact=contact, occurred_at=T),
        EventFactory(contact=contact, occurred_at=T),
    )

    # when
    score_apply_event(event_id=newer.pk, at=T)
    score_apply_event(event_id=older.pk, at=T)

    # then
    assert older.pk < newer.pk
    assert ContactScore.objects.get(contact=contact).engagement_score == pytest.approx(10, abs=1e-9)
    assert engagement_of(contact) == pytest.approx(10, abs=1e-9)


def test_batches_delivered_out_of_order_and_twice_count_each_event_once():
    # given: three ingest batches of one lead's events, delivered last first, each twice
    settings_set(half_life_days=10)
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=4)
    contact_score_refresh(contact_id=contact.pk, at=T - 10 * DAY)
    batches = [
        [EventFactory(contact=contact, occurred_at=T - (9 - 3 * b - i) * DAY) for i in range(2)]
        for b in range(3)
    ]

    # when
    for batch in [*reversed(batches), *batches]:
        assert score_events_apply(event_ids=[e.pk for e in batch], at=T) == 1

    # then: six views, each decayed from its own day, as a recompute counts them
    expected = sum(4 * 0.5 ** (days / 10) for days in (9, 8, 6, 5, 3, 2))
    assert engagement_now(score=ContactScore.objects.get(contact=contact), at=T) == (
        pytest.approx(expected, rel=1e-9)
    )
    assert engagement_of(contact) == pytest.approx(expected, rel=1e-9)


def test_a_late_event_earlier_than_counted_ones_takes_its_place_under_the_cap():
    # given: a rule of 10 points capped at 20 per 7 days; two later views counted first
    contact = ContactFactory()
    EngagementRule.objects.create(
        name="pricing", event_type="page_view", points=10, cap_points=20, cap_days=7
    )
    settings_set(half_life_days=1000)
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    monday = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)
    late = EventFactory(contact=contact, occurred_at=monday)
    counted = [
        EventFactory(contact=contact, occurred_at=monday + h * dt.timedelta(hours=1))
        for h in (1, 2)
    ]
    for event in counted:
        score_apply_event(event_id=event.pk, at=T)

    # when: the earliest view arrives last
    score_apply_event(event_id=late.pk, at=T)

    # then: the cap keeps the two earliest views, as the recompute does
    incremental = ContactScore.objects.get(contact=contact).engagement_score
    expected = 10 * 0.5 ** ((T - monday).total_seconds() / 86400 / 1000) + 10 * 0.5 ** (
        (T - monday - dt.timedelta(hours=1)).total_seconds() / 86400 / 1000
    )
    assert incremental == pytest.approx(expected, rel=1e-9)
    assert engagement_of(contact) == pytest.approx(expected, rel=1e-9)


def test_a_rule_edited_between_two_events_scores_the_next_event_by_the_new_rule():
    # given: a lead scored by one rule, on one engine process (the per-lead statement is
    # compiled once per set of rules)
    contact = ContactFactory()
    other = ContactFactory()
    view = EngagementRule.objects.create(name="view", event_type="page_view", points=5)
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    contact_score_refresh(contact_id=other.pk, at=T - DAY)
    score_apply_event(event_id=EventFactory(contact=contact, occurred_at=T).pk, at=T)
    score_apply_event(event_id=EventFactory(contact=other, occurred_at=T).pk, at=T)

    # when: the rule gives more points, then the lead's next event arrives
    view.points = 7
    view.save()
    score_apply_event(event_id=EventFactory(contact=contact, occurred_at=T).pk, at=T)

    # then: both of its events count by the rule as it is; the other lead is untouched
    assert ContactScore.objects.get(contact=contact).engagement_score == pytest.approx(14)
    assert ContactScore.objects.get(contact=other).engagement_score == pytest.approx(5)


def test_an_event_no_rule_counts_and_a_bots_event_write_nothing():
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=5)
    contact_score_refresh(contact_id=contact.pk, at=T - DAY)
    click = EventFactory(contact=contact, occurred_at=T, type=EventType.CTA_CLICK)
    bot = EventFactory(contact=contact, occurred_at=T, is_bot=True)

    assert score_apply_event(event_id=click.pk, at=T) is None
    assert score_apply_event(event_id=bot.pk, at=T) is None
    assert score_events_apply(event_ids=[click.pk, bot.pk], at=T) == 0

    score = ContactScore.objects.get(contact=contact)
    assert (score.engagement_score, score.updated_at) == (0, T - DAY)


def test_the_set_based_recompute_equals_the_incremental_path_on_the_same_data():
    settings_set(half_life_days=10)
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=20)
    EngagementRule.objects.create(name="view", event_type="page_view", points=3)
    EngagementRule.objects.create(
        name="pricing",
        event_type="page_view",
        url_contains="pricing",
        points=20,
        cap_points=30,
        cap_days=7,
    )
    EngagementRule.objects.create(name="click", event_type="cta_click", points=-2)
    contacts = [ContactFactory(role=role) for role in ("ceo", "cto", "ceo")]
    for contact in contacts:
        contact_score_refresh(contact_id=contact.pk, at=T - 40 * DAY)
    incremental = {}
    plan = []
    for i in range(30):
        contact = contacts[i % 3]
        url = "https://x.example/pricing" if i % 2 else "https://x.example/"
        kind = EventType.CTA_CLICK if i % 5 == 0 else EventType.PAGE_VIEW
        plan.append((contact, T - dt.timedelta(days=30 - i, hours=i % 7), url, kind, i % 11 == 0))
    for contact, occurred_at, url, kind, is_bot in plan:
        event = EventFactory(
            contact=contact, occurred_at=occurred_at, url=url, type=kind, is_bot=is_bot
        )
        score_apply_event(event_id=event.pk, at=occurred_at + dt.timedelta(minutes=1))
    for contact in contacts:
        score = ContactScore.objects.get(contact=contact)
        incremental[contact.pk] = (score.fit_score, engagement_now(score=score, at=T))

    ContactScore.objects.all().delete()
    scores_recompute_all(at=T)

    recomputed = {
        s.contact_id: (s.fit_score, s.engagement_score) for s in ContactScore.objects.all()
    }
    assert recomputed.keys() == incremental.keys()
    for pk, (fit, engagement) in incremental.items():
        assert recomputed[pk][0] == fit
        assert recomputed[pk][1] == pytest.approx(engagement, rel=1e-9, abs=1e-9)
    assert any(engagement > 0 for _fit, engagement in incremental.values())


def test_requalify_walks_every_lead_in_batches_and_keeps_each_leads_cause(qualifying_rules):
    contacts = [ContactFactory(role="intern") for _ in range(5)]
    for points, contact in enumerate(contacts):
        EventFactory(contact=contact, occurred_at=T)
        EventFactory(contact=contact, occurred_at=T, type=EventType.CTA_CLICK, name=str(points))
        contact_score_refresh(contact_id=contact.pk, at=T)
    assert set(Contact.objects.values_list("temperature", flat=True)) == {Temperature.WARM}

    assert scores_requalify(at=T + 14 * DAY, batch_size=2) == 5

    assert set(Contact.objects.values_list("temperature", flat=True)) == {Temperature.COLD}
    causes = OutboxEvent.objects.filter(
        name="TemperatureChanged", payload__to_temperature="cold"
    ).values_list("payload__cause", flat=True)
    assert sorted(causes) == ["scores: fit + engagement 12 < 20"] * 5
