"""Dynamic segments over contact, company and custom fields; groups, validation, static lists.

Each test: given leads, when a segment with one kind of condition is read, then exactly the
leads the condition describes are in it (on SQLite and on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import CompanyFactory, ContactFactory
from leadmill.core import events

from ..definitions import SegmentDefinitionError, definition_errors
from ..events import StaticListChanged
from ..fields import catalogue
from ..selectors import segment_contacts, segment_contains, segment_count
from ..services import segment_members_add, segment_members_remove
from .factories import SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def lead(created_at: dt.datetime | None = None, **fields) -> Contact:
    contact = ContactFactory(**fields)
    if created_at:
        Contact.objects.filter(pk=contact.pk).update(created_at=created_at)
    return contact


def members(*conditions, match="all", now=NOW) -> set[int]:
    segment = SegmentFactory(definition={"match": match, "conditions": list(conditions)})
    return set(segment_contacts(segment=segment, now=now).values_list("pk", flat=True))


def cond(field, op, value=None, **extra) -> dict:
    return {"field": field, "op": op, "value": value, **extra}


# --- Contact text fields -------------------------------------------------------------------------


def test_equals_compares_country_codes_whatever_their_case():
    brazil, _portugal = lead(country="BR"), lead(country="PT")

    assert members(cond("country", "equals", "br")) == {brazil.pk}


def test_equals_on_free_text_ignores_case_and_not_equals_keeps_blank_values():
    ceo, _cto, blank = lead(role="CEO"), lead(role="cto"), lead(role="")

    assert members(cond("role", "equals", "ceo")) == {ceo.pk}
    assert members(cond("role", "not_equals", "Ceo")) == {_cto.pk, blank.pk}


def test_not_equals_includes_leads_without_an_email():
    with_email, without = lead(email="a@example.com"), lead(email=None, phone="+5511999990000")

    assert members(cond("email", "not_equals", "A@example.com")) == {without.pk}
    assert members(cond("email", "equals", "A@Example.com")) == {with_email.pk}


def test_contains_and_starts_with_ignore_case():
    growth, head = lead(first_campaign="Spring-Growth-2026"), lead(first_campaign="growth-q1")
    lead(first_campaign="brand")

    assert members(cond("first_campaign", "contains", "GROWTH")) == {growth.pk, head.pk}
    assert members(cond("first_campaign", "starts_with", "Growth")) == {head.pk}
    assert members(cond("first_campaign", "not_contains", "growth")) == members(
        cond("first_campaign", "equals", "brand")
    )


def test_is_empty_and_is_not_empty():
    empty, filled = lead(segment=""), lead(segment="saas")

    assert members(cond("segment", "is_empty")) == {empty.pk}
    assert members(cond("segment", "is_not_empty")) == {filled.pk}


def test_in_list_accepts_a_list_or_comma_separated_text():
    brazil, mexico, _us = lead(country="BR"), lead(country="MX"), lead(country="US")

    assert members(cond("country", "in", ["br", "MX"])) == {brazil.pk, mexico.pk}
    assert members(cond("country", "in", "BR, mx")) == {brazil.pk, mexico.pk}
    assert members(cond("country", "not_in", ["BR", "MX"])) == {_us.pk}


def test_in_list_on_free_text_ignores_case():
    paid, organic = lead(last_source="Google"), lead(last_source="bing")
    lead(last_source="newsletter")

    assert members(cond("last_source", "in", ["google", "BING"])) == {paid.pk, organic.pk}


def test_choice_fields_match_their_stored_values():
    warm, hot, _cold = lead(temperature="warm"), lead(temperature="hot"), lead(temperature="cold")
    mql = lead(lifecycle_stage="mql")

    assert members(cond("temperature", "in", ["warm", "hot"])) == {warm.pk, hot.pk}
    assert members(cond("lifecycle_stage", "equals", "mql")) == {mql.pk}


def test_touch_channels_are_choices_of_the_one_source_vocabulary():
    paid = lead(first_channel="paid_social", last_channel="email")
    social = lead(first_channel="social", last_channel="paid_social")
    lead(first_channel="direct")

    assert members(cond("first_channel", "equals", "paid_social")) == {paid.pk}
    assert members(cond("last_channel", "in", ["paid_social", "email"])) == {paid.pk, social.pk}
    assert definition_errors(
        {"match": "all", "conditions": [cond("first_channel", "equals", "instagram")]}
    ) == ["Condition 1: “First touch channel” has no such value."]


def test_a_source_is_found_by_any_of_its_names():
    instagram = lead(first_source="instagram", last_source="x")
    lead(first_source="facebook", last_source="linkedin")

    assert members(cond("first_source", "equals", "IG")) == {instagram.pk}
    assert members(cond("first_source", "in", "l.instagram.com, t.co")) == {instagram.pk}
    assert members(cond("last_source", "equals", "twitter")) == {instagram.pk}


def test_the_builder_offers_channels_as_choices_and_known_sources_and_mediums_while_typing():
    fields = {field["key"]: field for field in catalogue()["fields"]}

    assert fields["first_channel"]["kind"] == fields["last_channel"]["kind"] == "choice"
    assert [value for value, _label in fields["first_channel"]["choices"]] == [
        "direct",
        "organic_search",
        "paid_search",
        "social",
        "paid_social",
        "email",
        "referral",
        "other",
    ]
    assert {"instagram", "google", "facebook", "x", "bing"} <= set(
        fields["first_source"]["suggestions"]
    )
    assert fields["last_source"]["suggestions"] == fields["first_source"]["suggestions"]
    assert fields["first_medium"]["suggestions"] == [
        "cpc",
        "email",
        "organic",
        "paid",
        "referral",
        "social",
    ]
    assert "suggestions" not in fields["first_campaign"]


# --- Dates ---------------------------------------------------------------------------------------


def test_created_within_the_last_days_and_more_than_days_ago():
    recent = lead(created_at=NOW - dt.timedelta(days=10))
    old = lead(created_at=NOW - dt.timedelta(days=120))

    assert members(cond("created_at", "within_days", 90)) == {recent.pk}
    assert members(cond("created_at", "older_than_days", "90")) == {old.pk}


def test_created_before_and_after_a_date_take_whole_days():
    on_the_day = lead(created_at=dt.datetime(2026, 3, 10, 23, 0, tzinfo=dt.UTC))
    day_before = lead(created_at=dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC))
    day_after = lead(created_at=dt.datetime(2026, 3, 11, 0, 30, tzinfo=dt.UTC))

    with timezone.override("UTC"):
        before = members(cond("created_at", "before", "2026-03-10"))
        after = members(cond("created_at", "after", "2026-03-10"))

    assert before == {day_before.pk}
    assert after == {day_after.pk}
    assert on_the_day.pk not in before | after


def test_date_is_empty_when_the_lead_has_no_touch_yet():
    touched = lead(last_touch_at=NOW)
    untouched = lead(last_touch_at=None)

    assert members(cond("last_touch_at", "is_empty")) == {untouched.pk}
    assert members(cond("last_touch_at", "within_days", 1)) == {touched.pk}


# --- Company fields ------------------------------------------------------------------------------


def test_company_fields_and_leads_without_a_company():
    saas = CompanyFactory(industry="SaaS", size="51-200", country="BR")
    retail = CompanyFactory(industry="Retail", size="1-10", country="PT")
    at_saas, at_retail, alone = lead(company=saas), lead(company=retail), lead(company=None)

    assert members(cond("company.industry", "equals", "saas")) == {at_saas.pk}
    assert members(cond("company.country", "in", ["br", "pt"])) == {at_saas.pk, at_retail.pk}
    assert members(cond("company.size", "not_equals", "1-10")) == {at_saas.pk, alone.pk}
    assert members(cond("company__size", "is_empty")) == {alone.pk}


# --- Custom fields -------------------------------------------------------------------------------


def test_custom_field_equals_texts_case_insensitively_and_numbers_by_their_text():
    blue, five = lead(custom={"plan": "Pro"}), lead(custom={"seats": 5})
    lead(custom={"plan": "free", "seats": 50})

    assert members(cond("custom.plan", "equals", "pro")) == {blue.pk}
    assert members(cond("custom.seats", "equals", "5")) == {five.pk}


def test_custom_field_yes_no_values():
    yes, no = lead(custom={"newsletter": True}), lead(custom={"newsletter": False})

    assert members(cond("custom.newsletter", "equals", "yes")) == {yes.pk}
    assert members(cond("custom.newsletter", "equals", "false")) == {no.pk}


def test_custom_field_contains():
    agency = lead(custom={"notes": "Runs a marketing AGENCY"})
    lead(custom={"notes": "in-house"})

    assert members(cond("custom.notes", "contains", "agency")) == {agency.pk}


def test_custom_number_comparisons_read_numbers_and_numeric_texts_and_skip_the_rest():
    small, big, big_text = (
        lead(custom={"employees": 8}),
        lead(custom={"employees": 250}),
        lead(custom={"employees": "1200"}),
    )
    lead(custom={"employees": "lots"})
    lead(custom={})

    assert members(cond("custom.employees", "gt", 100)) == {big.pk, big_text.pk}
    assert members(cond("custom.employees", "gte", "250")) == {big.pk, big_text.pk}
    assert members(cond("custom.employees", "lt", 10)) == {small.pk}
    assert members(cond("custom.employees", "lte", 8.0)) == {small.pk}


def test_negated_custom_conditions_include_leads_without_the_field():
    pro, free, missing = (
        lead(custom={"plan": "pro", "seats": 50}),
        lead(custom={"plan": "free"}),
        lead(custom={}),
    )

    assert members(cond("custom.plan", "not_equals", "PRO")) == {free.pk, missing.pk}
    assert members(cond("custom.plan", "not_contains", "fre")) == {pro.pk, missing.pk}
    assert members(cond("custom.seats", "gt", 10, negate=True)) == {free.pk, missing.pk}


def test_custom_dates_compare_as_iso_dates():
    early, late = lead(custom={"renewal": "2026-01-15"}), lead(custom={"renewal": "2026-09-01"})

    assert members(cond("custom.renewal", "before", "2026-02-01")) == {early.pk}
    assert members(cond("custom.renewal", "after", "2026-01-15")) == {late.pk}


def test_custom_field_is_empty_when_missing_null_or_blank():
    missing, null, blank = lead(custom={}), lead(custom={"plan": None}), lead(custom={"plan": ""})
    filled = lead(custom={"plan": "pro"})

    assert members(cond("custom.plan", "is_empty")) == {missing.pk, null.pk, blank.pk}
    assert members(cond("custom.plan", "is_not_empty")) == {filled.pk}


# --- Groups, negation, validation ----------------------------------------------------------------


def test_all_needs_every_condition_and_any_needs_one():
    both = lead(country="BR", temperature="hot")
    only_country = lead(country="BR", temperature="cold")
    only_hot = lead(country="US", temperature="hot")
    conditions = (cond("country", "equals", "BR"), cond("temperature", "equals", "hot"))

    assert members(*conditions) == {both.pk}
    assert members(*conditions, match="any") == {both.pk, only_country.pk, only_hot.pk}


def test_nested_groups_and_negate():
    br_hot, pt_warm = lead(country="BR", temperature="hot"), lead(country="PT", temperature="warm")
    br_cold = lead(country="BR", temperature="cold")
    us_hot = lead(country="US", temperature="hot")
    either_country = {
        "match": "any",
        "conditions": [cond("country", "equals", "BR"), cond("country", "equals", "PT")],
    }

    assert members(either_country, cond("temperature", "in", ["warm", "hot"])) == {
        br_hot.pk,
        pt_warm.pk,
    }
    assert members(either_country, cond("temperature", "equals", "hot"), match="any") == {
        br_hot.pk,
        pt_warm.pk,
        br_cold.pk,
        us_hot.pk,
    }
    assert members(either_country, cond("temperature", "equals", "cold", negate=True)) == {
        br_hot.pk,
        pt_warm.pk,
    }
    assert members(
        cond("country", "in", ["BR", "PT"], negate=True), cond("temperature", "equals", "hot")
    ) == {us_hot.pk}


def test_a_segment_is_one_query():
    lead(country="BR", temperature="hot")
    segment = SegmentFactory(
        definition={
            "match": "all",
            "conditions": [cond("country", "equals", "BR"), cond("custom.seats", "gt", 1)],
        }
    )

    with CaptureQueriesContext(connection) as queries:
        count = segment_count(segment=segment, now=NOW)

    assert count == 0
    assert len(queries) == 1


def test_an_empty_definition_matches_nobody_and_is_reported():
    lead(country="BR")
    segment = SegmentFactory(definition={"match": "all", "conditions": []})

    assert definition_errors(segment.definition) == ["Add at least one condition."]
    with pytest.raises(SegmentDefinitionError):
        segment_count(segment=segment)


def test_definition_errors_name_the_condition_and_what_to_fix():
    definition = {
        "match": "all",
        "conditions": [
            cond("favourite_colour", "equals", "blue"),
            cond("country", "resembles", "BR"),
            cond("created_at", "within_days", "soon"),
            cond("temperature", "equals", "boiling"),
            {
                "match": "any",
                "conditions": [cond("score.fit", "gt", "high"), cond("role", "equals", "")],
            },
            cond("custom.bad__key", "equals", "x"),
            cond("country", "in", []),
        ],
    }

    assert definition_errors(definition) == [
        "Condition 1: choose what to filter on.",
        "Condition 2: choose how to compare “Country (2 letters)”.",
        "Condition 3: enter a whole number of days for “Created”.",
        "Condition 4: “Temperature” has no such value.",
        "Condition 5.1: enter a number for “Fit score”.",
        "Condition 5.2: enter a value for “Role”.",
        "Condition 6: choose what to filter on.",
        "Condition 7: list at least one value for “Country (2 letters)”.",
    ]
    assert definition_errors(
        {"match": "most", "conditions": [cond("country", "equals", "BR")]}
    ) == ["Choose whether leads must match all the conditions or any of them."]
    assert definition_errors("country = BR") == ["The filters are not in the expected form."]
    assert (
        definition_errors({"match": "all", "conditions": [cond("country", "equals", "BR")]}) == []
    )


def test_segment_contains_one_contact():
    brazil, portugal = lead(country="BR"), lead(country="PT")
    segment = SegmentFactory(conditions=[cond("country", "equals", "BR")])

    assert segment_contains(segment=segment, contact_id=brazil.pk) is True
    assert segment_contains(segment=segment, contact_id=portugal.pk) is False


# --- Static lists --------------------------------------------------------------------------------


def test_a_static_list_holds_its_members_whatever_their_fields():
    on_list, off_list = lead(country="BR"), lead(country="BR")
    segment = StaticSegmentFactory(members=[on_list])

    assert set(segment_contacts(segment=segment).values_list("pk", flat=True)) == {on_list.pk}
    assert segment_contains(segment=segment, contact_id=off_list.pk) is False


def test_adding_and_removing_members_skips_those_already_there():
    first, second = lead(), lead()
    segment = StaticSegmentFactory(members=[first])

    added = segment_members_add(segment=segment, contact_ids=[first.pk, second.pk])
    removed = segment_members_remove(segment=segment, contact_ids=[first.pk])

    assert (added, removed) == (1, 1)
    assert segment_count(segment=segment) == 1
    assert segment_contains(segment=segment, contact_id=second.pk) is True


def test_editing_a_static_list_publishes_who_was_added_or_removed_and_nothing_when_nothing_changed(
    django_capture_on_commit_callbacks,
):
    # given a list with one member, and a subscriber to StaticListChanged
    first, second = lead(), lead()
    segment = StaticSegmentFactory(members=[first])
    heard = []
    # when leads are added (one already there), removed, and a no-op removal is asked
    with (
        events.subscribed(StaticListChanged, heard.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        segment_members_add(segment=segment, contact_ids=[first.pk, second.pk])
        segment_members_remove(segment=segment, contact_ids=[first.pk])
        segment_members_remove(segment=segment, contact_ids=[first.pk])

    # then one event per change, with only the contacts that changed
    assert [(e.segment_id, e.contact_ids, e.added) for e in heard] == [
        (segment.pk, [second.pk], True),
        (segment.pk, [first.pk], False),
    ]
