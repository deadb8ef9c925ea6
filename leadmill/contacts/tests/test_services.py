"""Writes on contacts: upsert (identity, dedupe, touches), update, merge and dismiss."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory
from leadmill.consent.models import Consent
from leadmill.consent.services import purpose_ensure
from leadmill.core import events, personal_data
from leadmill.core.errors import NotFound, ValidationFailed
from leadmill.core.personal_data import (
    Link,
    Merge,
    PersonalData,
    personal_data_registered,
    personal_data_unregistered,
)

from ..events import ContactCreated, ContactsMerged, ContactUpdated, PossibleDuplicateFound
from ..models import Company, Contact, ContactMerge, LifecycleStage, PossibleDuplicate, StageChange
from ..services import (
    Touch,
    contact_merge,
    contact_stage_change,
    contact_update,
    contact_upsert,
    possible_duplicate_dismiss,
)
from .factories import ContactFactory, PossibleDuplicateFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def at(days: int) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


# --- contact_upsert: identity and dedupe -----------------------------------------------------


def test_upsert_with_the_same_email_in_other_case_and_spaces_updates_one_contact():
    first = contact_upsert(email=" Ana@Example.COM ", profile={"first_name": "Ana"}, cause="form")

    second = contact_upsert(email="ana@example.com", profile={"last_name": "Silva"}, cause="form")

    assert first.created is True
    assert second.created is False
    assert second.contact.pk == first.contact.pk
    contact = Contact.objects.get()
    assert (contact.email, contact.first_name, contact.last_name) == (
        "ana@example.com",
        "Ana",
        "Silva",
    )


def test_upsert_without_email_finds_the_contact_by_its_phone_in_any_local_format(settings):
    settings.LEADMILL_PHONE_REGION = "BR"
    first = contact_upsert(phone="(11) 91234-5678", cause="form")

    second = contact_upsert(
        phone="+55 11 91234 5678", profile={"first_name": "Bia"}, cause="whatsapp"
    )

    assert first.contact.phone == "+5511912345678"
    assert second.created is False
    assert second.contact.pk == first.contact.pk
    assert Contact.objects.get().first_name == "Bia"


def test_upsert_with_a_new_email_fills_the_contact_found_by_phone_when_it_had_no_email():
    by_phone = contact_upsert(phone="(201) 555-0123", cause="form").contact

    result = contact_upsert(email="carla@example.com", phone="201-555-0123", cause="form")

    assert result.contact.pk == by_phone.pk
    assert Contact.objects.get().email == "carla@example.com"


def test_email_and_phone_of_two_different_contacts_flag_a_possible_duplicate_and_merge_nothing(
    django_capture_on_commit_callbacks,
):
    by_email = contact_upsert(email="dan@example.com", cause="form").contact
    by_phone = contact_upsert(
        email="daniel@work.example", phone="(201) 555-0123", cause="form"
    ).contact
    found = []

    with (
        events.subscribed(PossibleDuplicateFound, found.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = contact_upsert(email="dan@example.com", phone="(201) 555-0123", cause="form")

    assert result.contact.pk == by_email.pk
    assert result.possible_duplicate_of == by_phone.pk
    assert Contact.objects.count() == 2
    flag = PossibleDuplicate.objects.get()
    assert (flag.contact_id, flag.other_id, flag.resolution) == (by_email.pk, by_phone.pk, "")
    assert [(e.contact_id, e.other_id) for e in found] == [(by_email.pk, by_phone.pk)]


def test_a_business_email_matches_the_company_by_domain():
    first = contact_upsert(
        email="eva@acme.example", profile={"company_name": "ACME"}, cause="form"
    ).contact

    second = contact_upsert(email="fred@ACME.example", cause="form").contact

    assert first.company is not None
    assert (first.company.domain, first.company.name) == ("acme.example", "ACME")
    assert second.company_id == first.company_id
    assert Company.objects.count() == 1


def test_a_free_mail_address_is_not_matched_to_a_company():
    contact = contact_upsert(
        email="gil@gmail.com", profile={"company_name": "Gil Ltd"}, cause="form"
    ).contact

    assert contact.company is None
    assert contact.company_name == "Gil Ltd"
    assert Company.objects.count() == 0


def test_the_first_touch_is_kept_and_the_last_touch_is_updated():
    contact_upsert(
        email="hal@example.com",
        cause="form",
        touch=Touch(
            source="instagram",
            medium="social",
            campaign="spring",
            landing_url="https://lp/a",
            occurred_at=at(0),
        ),
    )

    contact_upsert(
        email="hal@example.com",
        cause="form",
        touch=Touch(
            source="google",
            medium="cpc",
            campaign="brand",
            landing_url="https://lp/b",
            occurred_at=at(5),
        ),
    )

    contact = Contact.objects.get()
    assert (contact.first_source, contact.first_medium, contact.first_campaign) == (
        "instagram",
        "social",
        "spring",
    )
    assert (contact.first_landing_url, contact.first_touch_at) == ("https://lp/a", at(0))
    assert (contact.last_source, contact.last_medium, contact.last_campaign) == (
        "google",
        "cpc",
        "brand",
    )
    assert (contact.last_landing_url, contact.last_touch_at) == ("https://lp/b", at(5))


def test_a_new_contact_starts_its_stage_history_as_a_lead():
    contact = contact_upsert(email="ivy@example.com", cause="form ebook").contact

    change = StageChange.objects.get(contact=contact)
    assert (change.from_stage, change.to_stage, change.cause) == (
        "",
        LifecycleStage.LEAD,
        "form ebook",
    )
    assert contact.lifecycle_stage == LifecycleStage.LEAD


def test_upsert_publishes_contact_created_then_contact_updated_after_commit(
    django_capture_on_commit_callbacks,
):
    created, updated = [], []

    with (
        events.subscribed(ContactCreated, created.append),
        events.subscribed(ContactUpdated, updated.append),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            contact = contact_upsert(email="jo@example.com", cause="form").contact
        with django_capture_on_commit_callbacks(execute=True):
            contact_upsert(
                email="jo@example.com", profile={"role": "CTO", "first_name": "Jo"}, cause="form"
            )
        with django_capture_on_commit_callbacks(execute=True):
            contact_upsert(email="jo@example.com", profile={"role": "CTO"}, cause="form")

    assert [e.contact_id for e in created] == [contact.pk]
    # (the outbox stores events as JSON, so a tuple arrives as a list)
    assert [(e.contact_id, tuple(e.fields)) for e in updated] == [
        (contact.pk, ("first_name", "role"))
    ]


def test_upsert_without_email_or_phone_is_refused():
    with pytest.raises(ValidationFailed) as error:
        contact_upsert(email="  ", phone="", cause="form")

    assert error.value.code == "identity_missing"
    assert Contact.objects.count() == 0


# --- contact_update (back-office edits) -------------------------------------------------------


def test_update_normalises_the_email_and_publishes_the_changed_fields(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory(email="kim@example.com", first_name="Kim")
    updated = []

    with (
        events.subscribed(ContactUpdated, updated.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        changed = contact_update(
            contact=contact,
            changes={"email": " KIM@Example.org ", "first_name": "Kim", "role": "CEO"},
        )

    assert changed == {"email", "role"}
    contact.refresh_from_db()
    assert (contact.email, contact.role) == ("kim@example.org", "CEO")
    assert [tuple(e.fields) for e in updated] == [("email", "role")]


def test_update_refuses_an_email_another_contact_has():
    ContactFactory(email="taken@example.com")
    contact = ContactFactory(email="lia@example.com")

    with pytest.raises(ValidationFailed) as error:
        contact_update(contact=contact, changes={"email": "Taken@example.com"})

    assert error.value.code == "email_taken"
    contact.refresh_from_db()
    assert contact.email == "lia@example.com"


# --- contact_merge ---------------------------------------------------------------------------


def test_merge_moves_submissions_consents_and_stage_changes_and_keeps_all_history():
    survivor = ContactFactory(email="max@example.com", stage_changed_at=at(0))
    other = ContactFactory(email="max.work@example.com", stage_changed_at=at(1))
    contact_stage_change(contact=other, to_stage=LifecycleStage.MQL, cause="score 80", at=at(2))
    form = FormFactory()
    kept_submission = Submission.objects.create(
        form=form, data={"email": "max@example.com"}, contact=survivor
    )
    moved_submission = Submission.objects.create(
        form=form, data={"email": "max.work@example.com"}, contact=other
    )
    purpose = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")
    Consent.objects.create(
        contact=other, purpose=purpose, granted=True, method=Consent.Method.FORM, occurred_at=at(1)
    )
    other_id = other.pk

    result = contact_merge(survivor=survivor, other=other)

    assert result.pk == survivor.pk
    assert not Contact.objects.filter(pk=other_id).exists()
    assert set(Submission.objects.values_list("pk", "contact_id")) == {
        (kept_submission.pk, survivor.pk),
        (moved_submission.pk, survivor.pk),
    }
    assert Consent.objects.get().contact_id == survivor.pk
    history = list(
        StageChange.objects.filter(contact=survivor)
        .order_by("changed_at")
        .values_list("from_stage", "to_stage")
    )
    assert history == [("", "lead"), ("", "lead"), ("lead", "mql")]
    assert StageChange.objects.count() == 3


def test_merge_fills_the_survivors_blanks_and_keeps_its_own_values():
    company = Company.objects.create(name="Nox", domain="nox.example")
    survivor = ContactFactory(
        email="ned@example.com", first_name="Ned", last_name="", role="", custom={"plan": "pro"}
    )
    other = ContactFactory(
        email="ned@nox.example",
        first_name="Edward",
        last_name="Nox",
        role="CFO",
        phone="+12015550123",
        company=company,
        custom={"plan": "free", "seats": 5},
    )

    merged = contact_merge(survivor=survivor, other=other)

    assert (merged.email, merged.first_name, merged.last_name, merged.role) == (
        "ned@example.com",
        "Ned",
        "Nox",
        "CFO",
    )
    assert (merged.phone, merged.company_id) == ("+12015550123", company.pk)
    assert merged.custom == {"plan": "pro", "seats": 5}
    survivor_in_memory = survivor
    assert survivor_in_memory.last_name == "Nox"  # the caller's object is refreshed


def test_a_survivor_without_email_takes_the_other_contacts_email():
    survivor = ContactFactory(email=None, phone="+12015550123")
    other = ContactFactory(email="ola@example.com")

    merged = contact_merge(survivor=survivor, other=other)

    assert merged.email == "ola@example.com"
    assert Contact.objects.get().email == "ola@example.com"


def test_merge_keeps_the_earliest_first_touch_and_the_latest_last_touch():
    survivor = ContactFactory(
        first_source="google",
        first_touch_at=at(3),
        first_campaign="brand",
        last_source="google",
        last_touch_at=at(3),
    )
    other = ContactFactory(
        first_source="instagram",
        first_touch_at=at(1),
        first_campaign="spring",
        last_source="newsletter",
        last_medium="email",
        last_touch_at=at(9),
    )

    merged = contact_merge(survivor=survivor, other=other)

    assert (merged.first_source, merged.first_campaign, merged.first_touch_at) == (
        "instagram",
        "spring",
        at(1),
    )
    assert (merged.last_source, merged.last_medium, merged.last_touch_at) == (
        "newsletter",
        "email",
        at(9),
    )


def test_merge_records_the_other_contacts_data_and_who_merged():
    user = UserFactory()
    survivor = ContactFactory()
    other = ContactFactory(email="pia@example.com", first_name="Pia", first_touch_at=at(0))
    other_id = other.pk

    contact_merge(survivor=survivor, other=other, actor=user)

    record = ContactMerge.objects.get()
    assert (record.survivor_id, record.merged_contact_id, record.actor_id) == (
        survivor.pk,
        other_id,
        user.pk,
    )
    assert record.merged_data["email"] == "pia@example.com"
    assert record.merged_data["first_name"] == "Pia"
    assert record.merged_data["id"] == other_id
    assert record.merged_data["first_touch_at"].startswith("2025-03-01T12:00:00")


def test_merge_resolves_the_pair_as_merged_and_moves_the_others_pairs_to_the_survivor():
    survivor = ContactFactory()
    other = ContactFactory()
    third, fourth = ContactFactory(), ContactFactory()
    pair = PossibleDuplicateFactory(contact=survivor, other=other)
    PossibleDuplicateFactory(contact=other, other=third)
    PossibleDuplicateFactory(contact=survivor, other=fourth)
    PossibleDuplicateFactory(contact=fourth, other=other)  # the survivor already has this pair

    contact_merge(survivor=survivor, other=other)

    pair.refresh_from_db()
    assert pair.resolution == PossibleDuplicate.Resolution.MERGED
    assert pair.resolved_at is not None
    open_pairs = set(
        PossibleDuplicate.objects.filter(resolution="").values_list("contact_id", "other_id")
    )
    assert open_pairs == {(survivor.pk, third.pk), (survivor.pk, fourth.pk)}


def test_a_row_the_survivor_already_has_a_twin_of_is_dropped_instead_of_breaking_the_merge():
    # Given a model with a unique constraint over its contact column (the possible-duplicate
    # pairs, declared for the generic drop-on-conflict move rather than their own rules)
    pairs_seen_generically = PersonalData(
        model=PossibleDuplicate,
        links=(Link.foreign_key("contact"),),
        merge=Merge.DROP_ON_CONFLICT,
    )
    others = [d.model for d in personal_data.declarations() if d.model is not PossibleDuplicate]
    survivor, other, third, fourth = (
        ContactFactory(),
        ContactFactory(),
        ContactFactory(),
        ContactFactory(),
    )
    PossibleDuplicateFactory(contact=survivor, other=third)
    twin = PossibleDuplicateFactory(contact=other, other=third)
    movable = PossibleDuplicateFactory(contact=other, other=fourth)

    # When the rows of `other` move to the survivor
    with personal_data_registered(pairs_seen_generically), personal_data_unregistered(*others):
        moved = personal_data.rows_move(keep_id=survivor.pk, gone_id=other.pk)

    # Then the twin is dropped and the rest moved
    assert moved == {"contacts.possibleduplicate.contact": 1}
    assert not PossibleDuplicate.objects.filter(pk=twin.pk).exists()
    assert PossibleDuplicate.objects.get(pk=movable.pk).contact_id == survivor.pk
    assert set(PossibleDuplicate.objects.values_list("contact_id", "other_id")) == {
        (survivor.pk, third.pk),
        (survivor.pk, fourth.pk),
    }


def test_merge_publishes_contacts_merged_after_commit(django_capture_on_commit_callbacks):
    survivor, other = ContactFactory(), ContactFactory()
    other_id = other.pk
    merged = []

    with (
        events.subscribed(ContactsMerged, merged.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        contact_merge(survivor=survivor, other=other)

    assert [(e.survivor_id, e.merged_id) for e in merged] == [(survivor.pk, other_id)]


def test_merging_a_contact_with_itself_is_refused_and_changes_nothing():
    contact = ContactFactory()

    with pytest.raises(ValidationFailed) as error:
        contact_merge(survivor=contact, other=Contact.objects.get(pk=contact.pk))

    assert error.value.code == "merge_self"
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert ContactMerge.objects.count() == 0


def test_merging_a_contact_that_was_already_merged_away_is_not_found():
    survivor, other = ContactFactory(), ContactFactory()
    stale = Contact.objects.get(pk=other.pk)
    contact_merge(survivor=survivor, other=other)

    with pytest.raises(NotFound):
        contact_merge(survivor=survivor, other=stale)

    assert ContactMerge.objects.count() == 1


# --- possible_duplicate_dismiss --------------------------------------------------------------


def test_dismissing_a_possible_duplicate_keeps_both_contacts_and_stops_the_pair_being_flagged_again():
    contact_upsert(email="quin@example.com", cause="form")
    contact_upsert(email="quinn@example.com", phone="(201) 555-0123", cause="form")
    contact_upsert(email="quin@example.com", phone="(201) 555-0123", cause="form")
    flag = PossibleDuplicate.objects.get()

    possible_duplicate_dismiss(duplicate=flag)
    contact_upsert(email="quin@example.com", phone="(201) 555-0123", cause="form")

    flag.refresh_from_db()
    assert flag.resolution == PossibleDuplicate.Resolution.DISMISSED
    assert flag.resolved_at is not None
    assert PossibleDuplicate.objects.count() == 1
    assert Contact.objects.count() == 2


def test_dismissing_a_merged_pair_is_refused():
    survivor, other = ContactFactory(), ContactFactory()
    flag = PossibleDuplicateFactory(contact=survivor, other=other)
    contact_merge(survivor=survivor, other=other)

    with pytest.raises(ValidationFailed) as error:
        possible_duplicate_dismiss(duplicate=flag)

    assert error.value.code == "duplicate_merged"


def test_dismissing_twice_is_harmless():
    flag = PossibleDuplicateFactory()
    possible_duplicate_dismiss(duplicate=flag)
    first_time = PossibleDuplicate.objects.get().resolved_at

    possible_duplicate_dismiss(duplicate=flag)

    assert PossibleDuplicate.objects.get().resolved_at == first_time
    assert timezone.now() >= first_time
