"""``leadmill erase EMAIL``: the operator's path to erasure."""

import io

import pytest
from django.core.management import CommandError, call_command

from leadmill.consent.selectors import is_suppressed
from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import ContactFactory

from ..models import ErasureRecord

pytestmark = pytest.mark.django_db


def test_the_command_erases_the_lead_with_that_address_and_records_who_asked():
    ana = ContactFactory(email="ana@example.com")
    rui = ContactFactory(email="rui@example.com")
    out = io.StringIO()

    call_command("erase", "Ana@Example.com", "--reason", "ticket 12", "--by", "ops", stdout=out)

    assert list(Contact.objects.values_list("pk", flat=True)) == [rui.pk]
    record = ErasureRecord.objects.get()
    assert (record.contact_id, record.via, record.erased_by_name, record.reason) == (
        ana.pk,
        "command",
        "ops",
        "ticket 12",
    )
    assert is_suppressed(email="ana@example.com")
    assert f"Lead #{ana.pk} erased" in out.getvalue()


def test_an_address_no_lead_has_is_an_error_and_suppresses_nothing():
    with pytest.raises(CommandError, match="No lead has the address nobody@example.com"):
        call_command("erase", "nobody@example.com", stdout=io.StringIO())

    assert not is_suppressed(email="nobody@example.com")
    assert not ErasureRecord.objects.exists()
