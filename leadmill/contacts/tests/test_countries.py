"""Countries as people write them: read as ISO 3166-1 codes, or kept whole as written."""

import pytest

from leadmill.core.errors import ValidationFailed

from ..countries import country_code
from ..models import Contact
from ..services import contact_update, contact_upsert
from .factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Portugal", "PT"),
        ("portugal", "PT"),
        ("  PORTUGAL ", "PT"),
        ("Brasil", "BR"),
        ("brazil", "BR"),
        ("Alemanha", "DE"),
        ("Germany", "DE"),
        ("Estados Unidos", "US"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("Reino Unido", "GB"),
        ("UK", "GB"),
        ("México", "MX"),
        ("mexico", "MX"),
        ("Países Baixos", "NL"),
        ("Côte d'Ivoire", "CI"),
        ("Costa do Marfim", "CI"),
        ("Espanha", "ES"),
        ("Irã", "IR"),
        ("Rússia", "RU"),
        ("pt", "PT"),
        ("br", "BR"),
        ("DEU", "DE"),
        ("bra", "BR"),
        ("prt", "PT"),
    ],
)
def test_names_in_english_and_portuguese_and_codes_read_as_iso_3166_codes(written, code):
    assert country_code(written) == code


@pytest.mark.parametrize("written", ["PO", "Narnia", "Korea", "", "   ", "São Paulo"])
def test_what_names_no_single_country_reads_as_none(written):
    assert country_code(written) is None


def test_a_country_typed_as_a_name_is_stored_as_its_code_not_cut_to_two_letters():
    result = contact_upsert(email="ana@example.com", profile={"country": "Portugal"}, cause="form")

    contact = Contact.objects.get(pk=result.contact.pk)
    assert (contact.country, contact.country_as_written) == ("PT", "")


def test_a_country_that_cannot_be_read_is_kept_whole_as_written_and_the_code_left_alone():
    # given: a lead from Brazil
    contact_upsert(email="ana@example.com", profile={"country": "Brasil"}, cause="form")

    # when: a later form gives a place that is no country
    contact_upsert(email="ana@example.com", profile={"country": "Terra do Nunca"}, cause="form")

    # then
    contact = Contact.objects.get(email="ana@example.com")
    assert (contact.country, contact.country_as_written) == ("BR", "Terra do Nunca")

    # and: a country that can be read later clears what was kept
    contact_upsert(email="ana@example.com", profile={"country": "Alemanha"}, cause="form")
    contact.refresh_from_db()
    assert (contact.country, contact.country_as_written) == ("DE", "")


def test_an_edit_stores_the_code_of_a_country_name_and_refuses_what_names_none():
    contact = ContactFactory(country="", country_as_written="Terra do Nunca")

    assert contact_update(contact=contact, changes={"country": "Brazil"}) == {
        "country",
        "country_as_written",
    }
    contact.refresh_from_db()
    assert (contact.country, contact.country_as_written) == ("BR", "")

    with pytest.raises(ValidationFailed) as refused:
        contact_update(contact=contact, changes={"country": "PO"})
    assert refused.value.field_errors == {
        "country": ["Enter a country name or its ISO 3166 code, e.g. Brazil or BR."]
    }
    contact.refresh_from_db()
    assert contact.country == "BR"
