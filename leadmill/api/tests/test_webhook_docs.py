"""The OpenAPI document's ``webhooks`` section (OpenAPI 3.1): every event a webhook endpoint
can receive is documented, and what Leadmill sends validates against its documented schema."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing

import jsonschema_rs
import pytest

from leadmill.integrations.handlers import PAYLOAD_VERSION, WEBHOOK_EVENTS, payload_of
from leadmill.integrations.services import endpoint_test_event_send

pytestmark = pytest.mark.django_db
SAMPLES = {int: 7, str: "mql", bool: True, dt.datetime: dt.datetime(2026, 12, 6, 19, tzinfo=dt.UTC)}


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def sample_of(annotation):
    """A value of the annotated type (the first non-None of a union; a tuple of one)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return sample_of(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is tuple:
        return (sample_of(typing.get_args(annotation)[0]),)
    return SAMPLES[annotation]


def fact_sample(fact_class):
    hints = typing.get_type_hints(fact_class)
    return fact_class(**{f.name: sample_of(hints[f.name]) for f in dataclasses.fields(fact_class)})


def validator(document, event_type):
    operation = document["webhooks"][event_type]["post"]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = {"$ref": reference, "components": document["components"]}
    name = reference.rsplit("/", 1)[1]
    return jsonschema_rs.Draft202012Validator(schema), document["components"]["schemas"][name]


def test_the_document_is_openapi_3_1_with_every_event_and_the_test_event(document):
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == {*WEBHOOK_EVENTS, "webhook.test"}
    for item in document["webhooks"].values():
        operation = item["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert operation["description"]
        assert {"2XX", "410", "default"} <= set(operation["responses"])


@pytest.mark.parametrize("event_type", sorted(WEBHOOK_EVENTS))
def test_what_is_sent_for_each_event_validates_against_its_documented_payload(document, event_type):
    event_type_sent, payload = payload_of(fact_sample(WEBHOOK_EVENTS[event_type]))
    check, schema = validator(document, event_type)

    assert event_type_sent == event_type
    check.validate(payload)
    # every field sent is documented and required, and nothing documented is missing
    assert set(schema["properties"]["data"]["required"]) == set(payload["data"])
    assert schema["title"].endswith(f"V{PAYLOAD_VERSION}")
    # another event's payload, or a payload without its data, does not validate
    assert not check.is_valid({**payload, "type": "lead.nope"})
    assert not check.is_valid({**payload, "data": {}})


def test_the_test_event_validates_against_its_documented_payload(document):
    from leadmill.integrations.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(url="https://93.184.215.14/h", secret="whsec_AAAA")
    delivery = endpoint_test_event_send(endpoint=endpoint)
    check, _schema = validator(document, "webhook.test")
    check.validate(delivery.payload)
