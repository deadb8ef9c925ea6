"""Progressive profiling: a known lead is not asked again for what it already told us; the
fields it answered give their place to fields asked of known leads only."""

import re
import time

import pytest

from leadmill.contacts.models import Contact
from leadmill.tracking.models import Visitor

from .. import tokens
from ..forms import fields_omitted, public_form_for
from ..models import FieldKind, FormField
from ..services import submissions_process
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

VISITOR = "a" * 32


@pytest.fixture
def form():
    """email, first name, company (ordinary); role, company size (asked of known leads only)."""
    form = form_with_fields(slug="guide")
    FormField.objects.create(form=form, kind=FieldKind.COMPANY, required=True, sort_order=2)
    FormField.objects.create(
        form=form, kind=FieldKind.ROLE, progressive=True, required=True, sort_order=3
    )
    FormField.objects.create(form=form, kind=FieldKind.COMPANY_SIZE, progressive=True, sort_order=4)
    form.progressive_profiling = True
    form.save()
    return form


def known_visitor(**contact_fields) -> Contact:
    contact = Contact.objects.create(email="ana@example.com", **contact_fields)
    Visitor.objects.create(
        id=VISITOR, contact=contact, first_seen="2026-01-01T00:00Z", last_seen="2026-01-01T00:00Z"
    )
    return contact


def input_names(html: str) -> list[str]:
    return [
        name
        for name in re.findall(r'<(?:input|textarea|select)[^>]* name="([^"]+)"', html)
        if not name.startswith("_") and name != "website"
    ]


def test_an_unknown_visitor_sees_the_ordinary_fields_only(form):
    # When nobody is known
    omitted = fields_omitted(form, None)

    # Then the fields for known leads are left out, the ordinary ones shown
    assert omitted == {"role", "company_size"}


def test_a_known_lead_is_asked_the_next_questions_instead_of_what_it_told_us(form):
    # Given a lead that gave its first name and company before
    contact = known_visitor(first_name="Ana", company_name="Acme")

    # When the form is built for it
    omitted = fields_omitted(form, contact)

    # Then first name and company give their places to role and company size; email stays
    assert omitted == {"first_name", "company_name"}


def test_the_form_never_grows_longer_than_for_a_stranger(form):
    # Given a lead that told us only its first name
    contact = known_visitor(first_name="Ana")

    # Then one field gave its place to one question for known leads
    assert fields_omitted(form, contact) == {"first_name", "company_size"}


def test_a_form_without_progressive_profiling_asks_everything(form):
    form.progressive_profiling = False
    form.save()
    contact = known_visitor(first_name="Ana", company_name="Acme")

    assert fields_omitted(form, contact) == frozenset()


def test_the_page_shows_a_known_lead_its_next_questions_and_the_post_accepts_them(client, form):
    # Given a known lead on Leadmill's page (its visitor cookie)
    contact = known_visitor(first_name="Ana", company_name="Acme")
    client.cookies["lm_vid"] = VISITOR

    # When the form is shown to it
    html = client.get(f"/f/{form.slug}/embed/").content.decode()

    # Then it asks email, role and company size, and not the name or company again
    assert input_names(html)[:3] == ["email", "role", "company_size"]
    assert "first_name" not in input_names(html)
    token = re.search(r'name="_rt" value="([^"]+)"', html).group(1)
    assert tokens.render_token_omitted(token, form_id=form.pk) == {"first_name", "company_name"}

    # ... and a post without the left-out (required) company is accepted
    aged = tokens.render_token_make(
        form_id=form.pk, at=time.time() - 10, omitted={"first_name", "company_name"}
    )
    response = client.post(
        f"/f/{form.slug}/",
        {
            "_rt": aged,
            "website": "",
            "email": "ana@example.com",
            "role": "CTO",
            "company_size": "50-200",
        },
    )
    assert response.status_code == 303
    submissions_process()
    contact.refresh_from_db()
    assert (contact.role, contact.company_size, contact.company_name) == ("CTO", "50-200", "Acme")


def test_a_stranger_must_still_answer_the_ordinary_required_fields(client, form):
    # Given a post from a form rendered for a stranger (nothing but the queued fields left out)
    token = tokens.render_token_make(
        form_id=form.pk, at=time.time() - 10, omitted={"role", "company_size"}
    )

    # When the required company is missing
    response = client.post(
        f"/f/{form.slug}/", {"_rt": token, "website": "", "email": "bo@example.com"}
    )

    # Then it is refused with the field's error, and the role is not demanded
    assert response.status_code == 400
    html = response.content.decode()
    assert "company_name" in input_names(html)
    assert "role" not in input_names(html)


def test_the_left_out_fields_come_only_from_a_signed_token(form):
    # A forged token is not read: nothing is left out on its say-so
    assert tokens.render_token_omitted("forged", form_id=form.pk) == frozenset()
    rendered = public_form_for(
        form, render_token=tokens.render_token_make(form_id=form.pk, omitted={"company_name"})
    )
    assert "company_name" not in rendered.django_form.fields
