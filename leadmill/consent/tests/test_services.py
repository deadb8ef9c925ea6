"""Writes on the ledger and the suppression list: unsubscribe, double opt-in, suppression."""

import datetime as dt

import pytest

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core import events
from leadmill.core.errors import ValidationFailed

from ..events import MarketingConsentWithdrawn
from ..models import Consent, Suppression
from ..selectors import (
    address_hash,
    marketing_recipients,
    may_receive_email,
    may_receive_marketing_email,
)
from ..services import (
    ConsentProof,
    consents_record,
    double_opt_in_confirm,
    marketing_unsubscribe,
    suppression_add,
)
from .factories import PurposeFactory, consent_give, marketing_purpose

pytestmark = pytest.mark.django_db

CLICK = ConsentProof(
    ip_address="203.0.113.9", user_agent="Mail client", page_url="https://lm.example/e/u/x"
)


# --- suppression ------------------------------------------------------------------------------


def test_suppression_add_stores_only_the_hash_and_is_idempotent():
    added = suppression_add(
        email="Ana@Example.com", reason=Suppression.Reason.HARD_BOUNCE, detail="550 no mailbox"
    )
    again = suppression_add(email="ana@example.com", reason=Suppression.Reason.COMPLAINT)

    assert (added, again) == (True, False)
    assert list(Suppression.objects.values_list("address_hash", "reason", "detail")) == [
        (address_hash("ana@example.com"), "hard_bounce", "550 no mailbox")
    ]


def test_suppression_add_refuses_an_unknown_reason_and_an_empty_address():
    with pytest.raises(ValidationFailed) as unknown:
        suppression_add(email="ana@example.com", reason="bored")
    with pytest.raises(ValidationFailed) as empty:
        suppression_add(email=" ", reason=Suppression.Reason.MANUAL)

    assert (unknown.value.code, empty.value.code) == ("suppression_reason_invalid", "email_missing")
    assert Suppression.objects.count() == 0


def test_a_suppressed_address_is_excluded_from_marketing_and_from_any_email():
    contact = ContactFactory(email="ana@example.com")
    consent_give(contact)

    suppression_add(email="ana@example.com", reason=Suppression.Reason.COMPLAINT)

    assert marketing_recipients(contact_ids=[contact.pk]) == set()
    assert may_receive_email(email="ana@example.com") is False


# --- unsubscribe ------------------------------------------------------------------------------


def test_unsubscribe_withdraws_every_granted_marketing_purpose_and_publishes_it(
    django_capture_on_commit_callbacks,
):
    marketing = marketing_purpose()
    newsletter, partners = (
        PurposeFactory(key="newsletter"),
        PurposeFactory(key="partners", is_email_marketing=False),
    )
    contact = ContactFactory()
    consent_give(contact, marketing)
    consent_give(contact, newsletter)
    consent_give(contact, partners)
    published = []

    with (
        events.subscribed(MarketingConsentWithdrawn, published.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        written = marketing_unsubscribe(contact_id=contact.pk, purpose_ids=None, proof=CLICK)

    assert written == 2
    withdrawals = Consent.objects.filter(contact=contact, granted=False).order_by("purpose_id")
    assert [(row.purpose_id, row.method, row.ip_address) for row in withdrawals] == [
        (marketing.pk, "unsubscribe", "203.0.113.9"),
        (newsletter.pk, "unsubscribe", "203.0.113.9"),
    ]
    assert [(e.contact_id, e.purpose_ids) for e in published] == [
        (contact.pk, [marketing.pk, newsletter.pk])
    ]
    assert isinstance(published[0].occurred_at, dt.datetime)


def test_after_unsubscribe_the_contact_is_no_longer_a_marketing_recipient():
    contact, other = ContactFactory(), ContactFactory()
    consent_give(contact)
    consent_give(other)

    marketing_unsubscribe(contact_id=contact.pk, purpose_ids=None, proof=CLICK)

    assert marketing_recipients(contact_ids=[contact.pk, other.pk]) == {other.pk}
    assert may_receive_marketing_email(contact_id=contact.pk) is False
    assert may_receive_email(email=contact.email) is True  # transactional email still may go


def test_a_second_unsubscribe_writes_nothing_and_publishes_nothing(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory()
    consent_give(contact)
    marketing_unsubscribe(contact_id=contact.pk, purpose_ids=None, proof=CLICK)
    published = []

    with (
        events.subscribed(MarketingConsentWithdrawn, published.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        written = marketing_unsubscribe(contact_id=contact.pk, purpose_ids=None, proof=CLICK)

    assert written == 0
    assert published == []
    assert Consent.objects.filter(contact=contact).count() == 2


def test_unsubscribe_from_one_purpose_keeps_the_others():
    newsletter = PurposeFactory(key="newsletter")
    contact = ContactFactory()
    consent_give(contact, marketing_purpose())
    consent_give(contact, newsletter)

    written = marketing_unsubscribe(contact_id=contact.pk, purpose_ids=[newsletter.pk], proof=CLICK)

    assert written == 1
    assert may_receive_marketing_email(contact_id=contact.pk, purpose_id=newsletter.pk) is False
    assert (
        may_receive_marketing_email(contact_id=contact.pk, purpose_id=marketing_purpose().pk)
        is True
    )


def test_unsubscribe_also_withdraws_a_grant_still_awaiting_confirmation():
    contact = ContactFactory()
    row = consent_give(contact, awaiting=True)

    written = marketing_unsubscribe(contact_id=contact.pk, purpose_ids=None, proof=CLICK)

    assert written == 1
    assert double_opt_in_confirm(consent_ids=[row.pk], proof=CLICK) == 0
    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_a_back_office_withdrawal_keeps_its_method():
    contact = ContactFactory()
    consent_give(contact)

    marketing_unsubscribe(
        contact_id=contact.pk, purpose_ids=None, proof=ConsentProof(method=Consent.Method.ADMIN)
    )

    assert Consent.objects.get(contact=contact, granted=False).method == "admin"


# --- double opt-in ----------------------------------------------------------------------------


def test_double_opt_in_records_marketing_grants_as_awaiting_and_other_answers_as_they_are():
    partners = PurposeFactory(key="partners", is_email_marketing=False)
    newsletter = PurposeFactory(key="newsletter")
    contact = ContactFactory()
    marketing = marketing_purpose()

    rows = consents_record(
        contact=contact,
        granted={marketing.pk: True, partners.pk: True, newsletter.pk: False},
        texts={marketing.pk: marketing.current_text, partners.pk: partners.current_text},
        proof=ConsentProof(form_id=7),
        double_opt_in=True,
    )

    assert sorted((r.purpose_id, r.granted, r.awaiting_confirmation) for r in rows) == sorted(
        [
            (marketing.pk, True, True),
            (partners.pk, True, False),
            (newsletter.pk, False, False),
        ]
    )
    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_double_opt_in_does_not_ask_again_for_a_purpose_already_confirmed():
    contact = ContactFactory()
    consent_give(contact)
    marketing = marketing_purpose()

    (row,) = consents_record(
        contact=contact,
        granted={marketing.pk: True},
        texts={marketing.pk: marketing.current_text},
        proof=ConsentProof(),
        double_opt_in=True,
    )

    assert row.awaiting_confirmation is False
    assert may_receive_marketing_email(contact_id=contact.pk) is True


def test_confirming_appends_a_double_opt_in_grant_with_the_same_text_and_permits_marketing():
    contact = ContactFactory()
    awaiting = consent_give(contact, awaiting=True)

    written = double_opt_in_confirm(consent_ids=[awaiting.pk], proof=CLICK)

    assert written == 1
    confirmation = Consent.objects.filter(contact=contact).order_by("-id").first()
    assert (
        confirmation.method,
        confirmation.granted,
        confirmation.awaiting_confirmation,
        confirmation.purpose_text_id,
        confirmation.ip_address,
        confirmation.user_agent,
    ) == ("double_opt_in", True, False, awaiting.purpose_text_id, "203.0.113.9", "Mail client")
    assert Consent.objects.filter(
        pk=awaiting.pk, awaiting_confirmation=True
    ).exists()  # both moments kept
    assert may_receive_marketing_email(contact_id=contact.pk) is True


def test_confirming_twice_writes_nothing_the_second_time():
    contact = ContactFactory()
    awaiting = consent_give(contact, awaiting=True)
    double_opt_in_confirm(consent_ids=[awaiting.pk], proof=CLICK)

    assert double_opt_in_confirm(consent_ids=[awaiting.pk], proof=CLICK) == 0
    assert Consent.objects.filter(contact=contact).count() == 2


def test_confirming_unknown_rows_writes_nothing():
    assert double_opt_in_confirm(consent_ids=[987654], proof=CLICK) == 0
    assert Consent.objects.count() == 0
