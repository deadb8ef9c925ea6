"""Segments through the API: list, one with its size, members paged, static list edits."""

from __future__ import annotations

import json

import pytest

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent
from leadmill.segments.models import SegmentMember
from leadmill.segments.tests.factories import SegmentFactory, StaticSegmentFactory

from ..services import api_key_create

pytestmark = pytest.mark.django_db


def key(*scopes: str) -> dict:
    _key, secret = api_key_create(name="crm", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_a_dynamic_segment_shows_its_size_and_its_members_a_page_at_a_time(client):
    brazil = SegmentFactory(name="Brazil")
    first, second = ContactFactory(country="BR"), ContactFactory(country="BR")
    ContactFactory(country="PT")
    auth = key("segments:read")

    listed = client.get("/api/v1/segments/", **auth)
    detail = client.get(f"/api/v1/segments/{brazil.pk}", **auth)
    page1 = client.get(f"/api/v1/segments/{brazil.pk}/members?limit=1", **auth)
    page2 = client.get(
        f"/api/v1/segments/{brazil.pk}/members?limit=1&after={page1.json()['next']}", **auth
    )

    assert [s["name"] for s in listed.json()["items"]] == ["Brazil"]
    assert (detail.json()["kind"], detail.json()["size"]) == ("dynamic", 2)
    assert [m["id"] for m in page1.json()["items"]] == [first.pk]
    assert [m["id"] for m in page2.json()["items"]] == [second.pk]
    assert page2.json()["next"] is None


def test_leads_go_on_and_off_a_static_list_and_the_change_is_published(client):
    on_list = ContactFactory()
    newcomer = ContactFactory()
    static = StaticSegmentFactory(members=[on_list])
    auth = key("segments:write")

    added = client.post(
        f"/api/v1/segments/{static.pk}/members",
        json.dumps({"contact_ids": [on_list.pk, newcomer.pk, 999999]}),
        content_type="application/json",
        **auth,
    )
    removed = client.post(
        f"/api/v1/segments/{static.pk}/members/remove",
        json.dumps({"contact_ids": [on_list.pk]}),
        content_type="application/json",
        **auth,
    )

    assert added.json() == {"changed": 1, "unchanged": 1, "unknown_contact_ids": [999999]}
    assert removed.json() == {"changed": 1, "unchanged": 0, "unknown_contact_ids": []}
    assert set(SegmentMember.objects.values_list("contact_id", flat=True)) == {newcomer.pk}
    assert [
        (e.payload["contact_ids"], e.payload["added"])
        for e in OutboxEvent.objects.filter(name__endswith="StaticListChanged").order_by("pk")
    ] == [([newcomer.pk], True), ([on_list.pk], False)]


def test_a_dynamic_segment_has_no_members_to_add_409_and_an_unknown_one_404(client):
    dynamic = SegmentFactory()
    lead = ContactFactory()
    auth = key("segments:write", "segments:read")

    refused = client.post(
        f"/api/v1/segments/{dynamic.pk}/members",
        json.dumps({"contact_ids": [lead.pk]}),
        content_type="application/json",
        **auth,
    )
    unknown = client.get("/api/v1/segments/999999/members", **auth)

    assert (refused.status_code, refused.json()["code"]) == (409, "segment_not_static")
    assert not SegmentMember.objects.exists()
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_the_leads_list_filters_by_segment(client):
    static = StaticSegmentFactory(members=[(member := ContactFactory())])
    ContactFactory()

    response = client.get(f"/api/v1/leads/?segment_id={static.pk}", **key("leads:read"))

    assert [lead["id"] for lead in response.json()["items"]] == [member.pk]


def test_the_refusal_is_in_brazilian_portuguese_when_asked(client):
    dynamic = SegmentFactory()

    response = client.post(
        f"/api/v1/segments/{dynamic.pk}/members",
        json.dumps({"contact_ids": [ContactFactory().pk]}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="pt-BR",
        **key("segments:write"),
    )

    assert response.status_code == 409
    assert response.json()["message"] == (
        "Só uma lista estática tem membros para adicionar ou remover; um segmento dinâmico "
        "segue seus filtros."
    )


def test_a_segment_whose_filters_name_a_deleted_segment_answers_409_not_500(client):
    broken = SegmentFactory(conditions=[{"field": "in_segment", "value": 999999}])
    auth = key("segments:read", "leads:read")

    members = client.get(f"/api/v1/segments/{broken.pk}/members", **auth)
    detail = client.get(f"/api/v1/segments/{broken.pk}", **auth)
    leads = client.get(f"/api/v1/leads/?segment_id={broken.pk}", **auth)

    assert [r.status_code for r in (members, detail, leads)] == [409, 409, 409]
    assert {r.json()["code"] for r in (members, detail, leads)} == {"segment_invalid"}
