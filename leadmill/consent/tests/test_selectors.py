"""Who may be emailed: the one rule, for one contact and for a batch."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.contacts.tests.factories import ContactFactory

from ..models import Consent
from ..selectors import (
    address_hash,
    is_suppressed,
    marketing_recipients,
    may_receive_email,
    may_receive_marketing_email,
    purpose_texts_stated,
)
from .factories import PurposeFactory, SuppressionFactory, consent_give, marketing_purpose

pytestmark = pytest.mark.django_db

JAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FEB = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def test_address_hash_is_the_same_for_every_spelling_of_an_address_and_hides_it():
    digest = address_hash(" Ana@Example.COM ")

    assert digest == address_hash("ana@example.com")
    assert digest != address_hash("ana2@example.com")
    assert len(digest) == 64
    assert "ana" not in digest


def test_address_hash_depends_on_the_suppression_key_not_on_the_secret_key(settings):
    settings.LEADMILL_SUPPRESSION_KEY = "the-suppression-key-of-this-test-0123456789abcdef"
    before = address_hash("ana@example.com")

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    unchanged = address_hash("ana@example.com")
    settings.LEADMILL_SUPPRESSION_KEY = "another-suppression-key-0123456789abcdef"

    assert unchanged == before
    assert address_hash("ana@example.com") != before


def test_is_suppressed_matches_the_normalised_address_only():
    SuppressionFactory(email="ana@example.com")

    assert is_suppressed(email="ANA@example.com ") is True
    assert is_suppressed(email="bia@example.com") is False


def test_may_receive_email_is_false_for_a_suppressed_or_empty_address():
    SuppressionFactory(email="ana@example.com")

    assert may_receive_email(email="ana@example.com") is False
    assert may_receive_email(email="") is False
    assert may_receive_email(email="bia@example.com") is True


def test_a_contact_who_granted_marketing_email_may_receive_it():
    contact = ContactFactory()
    consent_give(contact)

    assert may_receive_marketing_email(contact_id=contact.pk) is True


def test_a_contact_who_never_answered_may_not_receive_marketing_email():
    contact = ContactFactory()

    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_the_latest_answer_decides_not_the_first():
    granted_then_withdrawn, withdrawn_then_granted = ContactFactory(), ContactFactory()
    consent_give(granted_then_withdrawn, at=JAN)
    consent_give(granted_then_withdrawn, granted=False, method=Consent.Method.UNSUBSCRIBE, at=FEB)
    consent_give(withdrawn_then_granted, granted=False, at=JAN)
    consent_give(withdrawn_then_granted, at=FEB)

    assert may_receive_marketing_email(contact_id=granted_then_withdrawn.pk) is False
    assert may_receive_marketing_email(contact_id=withdrawn_then_granted.pk) is True


def test_answers_at_the_same_instant_are_ordered_by_their_row():
    contact = ContactFactory()
    consent_give(contact, at=JAN)
    consent_give(contact, granted=False, at=JAN)

    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_a_grant_awaiting_double_opt_in_confirmation_does_not_permit_marketing_email():
    contact = ContactFactory()
    consent_give(contact, awaiting=True)

    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_a_grant_of_a_purpose_that_is_not_email_marketing_does_not_permit_it():
    contact = ContactFactory()
    consent_give(contact, PurposeFactory(key="partners", is_email_marketing=False))

    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_a_suppressed_address_may_not_receive_marketing_email_despite_its_consent():
    contact = ContactFactory(email="ana@example.com")
    consent_give(contact)
    SuppressionFactory(email="ana@example.com")

    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_a_contact_without_an_email_may_not_receive_marketing_email():
    contact = ContactFactory(email=None, phone="+5511912345678")
    consent_give(contact)

    assert may_receive_marketing_email(contact_id=contact.pk) is False


def test_a_purpose_id_limits_the_check_to_that_subscription_type():
    newsletter = PurposeFactory(key="newsletter")
    contact = ContactFactory()
    consent_give(contact, marketing_purpose())

    assert (
        may_receive_marketing_email(contact_id=contact.pk, purpose_id=marketing_purpose().pk)
        is True
    )
    assert may_receive_marketing_email(contact_id=contact.pk, purpose_id=newsletter.pk) is False


def test_marketing_recipients_keeps_exactly_the_permitted_contacts_of_a_batch():
    permitted, withdrawn, awaiting, suppressed, silent = ContactFactory.create_batch(5)
    consent_give(permitted)
    consent_give(withdrawn, at=JAN)
    consent_give(withdrawn, granted=False, at=FEB)
    consent_give(awaiting, awaiting=True)
    consent_give(suppressed)
    SuppressionFactory(email=suppressed.email)

    ids = [c.pk for c in (permitted, withdrawn, awaiting, suppressed, silent)]

    assert marketing_recipients(contact_ids=ids) == {permitted.pk}
    assert marketing_recipients(contact_ids=[]) == set()


def test_marketing_recipients_counts_a_contact_once_with_several_granted_purposes():
    contact = ContactFactory()
    consent_give(contact, marketing_purpose())
    consent_give(contact, PurposeFactory(key="newsletter"))

    assert marketing_recipients(contact_ids=[contact.pk]) == {contact.pk}


def test_marketing_recipients_takes_two_queries_for_a_batch_of_a_thousand():
    contacts = ContactFactory.create_batch(30)
    for contact in contacts[:20]:
        consent_give(contact)
    ids = [c.pk for c in contacts] + list(range(10_000_000, 10_000_970))

    with CaptureQueriesContext(connection) as queries:
        recipients = marketing_recipients(contact_ids=ids)

    assert recipients == {c.pk for c in contacts[:20]}
    assert len(queries) == 2


def test_a_purpose_id_that_does_not_permit_marketing_email_never_permits_it():
    partners = PurposeFactory(key="partners", is_email_marketing=False)
    contact = ContactFactory()
    consent_give(contact, partners)

    assert may_receive_marketing_email(contact_id=contact.pk, purpose_id=partners.pk) is False


def test_marketing_grant_q_filters_contacts_in_sql_by_the_same_consent_rule():
    from leadmill.contacts.models import Contact

    from ..selectors import marketing_grant_q

    partners = PurposeFactory(key="partners", is_email_marketing=False)
    granted, awaiting, withdrawn, partner_only = ContactFactory.create_batch(4)
    consent_give(granted)
    consent_give(awaiting, awaiting=True)
    consent_give(withdrawn, at=JAN)
    consent_give(withdrawn, granted=False, at=FEB)
    consent_give(partner_only, partners)

    def matching(q):
        return set(Contact.objects.filter(q).values_list("pk", flat=True))

    assert matching(marketing_grant_q()) == {granted.pk}
    assert matching(marketing_grant_q(purpose_key="partners")) == {partner_only.pk}
    assert matching(marketing_grant_q(purpose_id=partners.pk)) == set()


def test_stated_texts_are_found_each_version_and_a_missing_one_is_asked_again_at_once():
    """What an API caller states the person saw: each (purpose key, version) that exists;
    a found pair is kept (no query the next time), a missing one is asked every time, so a
    version written a moment later is usable at once."""
    purpose = PurposeFactory(text="I agree, first words.")
    first = (purpose.key, 1)
    second = (purpose.key, 2)
    text_1 = purpose.texts.get(version=1)
    assert purpose_texts_stated({first, second, ("no-such-purpose", 1)}) == {
        first: (purpose.pk, text_1.pk)
    }

    purpose.text = "I agree, second words."
    purpose.save()
    text_2 = purpose.texts.get(version=2)
    with CaptureQueriesContext(connection) as asked:
        found = purpose_texts_stated({first, second})
    assert found == {first: (purpose.pk, text_1.pk), second: (purpose.pk, text_2.pk)}
    assert len(asked) == 1  # only the pair missing before

    with CaptureQueriesContext(connection) as asked:
        assert purpose_texts_stated({first, second}) == found
    assert len(asked) == 0
