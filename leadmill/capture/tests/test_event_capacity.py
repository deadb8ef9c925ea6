"""A webinar or event takes registrations up to its capacity (ADR 37's "not done yet"): the
post after the last place is refused with a clear message, and kept as rejected."""

import datetime as dt
import json
import time

import pytest
from django.utils import timezone
from wagtail.models import Locale

from .. import tokens
from ..models import Offer, Submission
from .factories import OfferFactory, form_with_fields

pytestmark = pytest.mark.django_db


def register(client, form, email: str):
    payload = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        "email": email,
    }
    return client.post(
        f"/f/{form.slug}/", data=json.dumps(payload), content_type="application/json"
    )


@pytest.fixture
def webinar():
    return OfferFactory(
        kind=Offer.Kind.EVENT,
        starts_at=timezone.now() + dt.timedelta(days=7),
        time_zone="America/Sao_Paulo",
        capacity=2,
    )


def test_registrations_beyond_the_capacity_are_refused_with_a_clear_message(client, webinar):
    form = form_with_fields(slug="webinar", offer=webinar)

    answers = [register(client, form, f"person{n}@example.com") for n in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 400]
    assert answers[2].json()["errors"] == {
        "__all__": [
            "Sorry, this event is full: all its places are taken. Your details were not registered."
        ]
    }
    assert list(Submission.objects.order_by("pk").values_list("status", flat=True)) == [
        "received",
        "received",
        "rejected",
    ]


def test_the_places_are_shared_by_the_events_translations(client, webinar):
    portuguese, _created = Locale.objects.get_or_create(language_code="pt-br")
    webinar_pt = webinar.copy_for_translation(portuguese)
    webinar_pt.save()
    form = form_with_fields(slug="webinar", offer=webinar)
    form_pt = form_with_fields(slug="webinar-pt-br", offer=webinar_pt, marketing_consent=False)
    form_pt.locale = portuguese
    form_pt.save()

    first = register(client, form, "ana@example.com")
    second = register(client, form_pt, "joana@example.com")
    third = register(client, form_pt, "bia@example.com")

    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 400)
    assert third.json()["errors"]["__all__"] == [
        "Desculpe, este evento está lotado: todas as vagas foram preenchidas. "
        "Seus dados não foram registrados."
    ]


def test_an_event_without_capacity_and_other_offers_take_every_registration(client, webinar):
    webinar.capacity = None
    webinar.save()
    form = form_with_fields(slug="webinar", offer=webinar)

    answers = [register(client, form, f"person{n}@example.com") for n in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
