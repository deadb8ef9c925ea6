"""The segment screens of the back office: listing with sizes, the editor and its live size
endpoint, and the members of a static list."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from leadmill.contacts.tests.factories import ContactFactory, UserFactory

from ..admin_segments import MEMBERS_URL_NAME, SIZE_URL_NAME
from ..models import Segment, SegmentMember
from .factories import SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

BRAZIL = {"match": "all", "conditions": [{"field": "country", "op": "equals", "value": "BR"}]}


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def url(action: str, *args) -> str:
    return reverse(Segment.snippet_viewset.get_url_name(action), args=args)


def size(client, definition, **extra) -> tuple[int, dict]:
    response = client.post(
        reverse(SIZE_URL_NAME),
        data=json.dumps({"definition": definition, **extra}),
        content_type="application/json",
    )
    return response.status_code, response.json()


# --- Listing and editor --------------------------------------------------------------------------


def test_the_listing_shows_each_segments_current_size(staff):
    ContactFactory(country="BR"), ContactFactory(country="BR"), ContactFactory(country="PT")
    SegmentFactory(name="Brazil", definition=BRAZIL)
    StaticSegmentFactory(name="VIP", members=[ContactFactory()])
    SegmentFactory(name="Broken", definition={"match": "all", "conditions": []})

    response = staff.get(url("list"))

    assert response.status_code == 200
    html = response.content.decode()
    rows = {name: html[html.index(name) :][:2000] for name in ("Brazil", "VIP", "Broken")}
    assert "<td>2</td>" in rows["Brazil"].replace(" ", "").replace("\n", "")
    assert "<td>1</td>" in rows["VIP"].replace(" ", "").replace("\n", "")
    assert "<td>—</td>" in rows["Broken"].replace(" ", "").replace("\n", "")
    assert reverse(MEMBERS_URL_NAME, args=[Segment.objects.get(name="VIP").pk]) in html


def test_the_editor_offers_the_filter_builder_without_external_scripts(staff):
    response = staff.get(url("add"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "data-segment-builder" in html
    assert "segments/builder.js" in html
    assert reverse(SIZE_URL_NAME) in html
    assert "https://cdn" not in html


def test_saving_a_dynamic_segment_checks_its_filters(staff):
    bad = {"match": "all", "conditions": [{"field": "country", "op": "equals", "value": ""}]}

    refused = staff.post(
        url("add"),
        {"name": "Nowhere", "kind": "dynamic", "description": "", "definition": json.dumps(bad)},
    )
    saved = staff.post(
        url("add"),
        {"name": "Brazil", "kind": "dynamic", "description": "", "definition": json.dumps(BRAZIL)},
    )

    assert refused.status_code == 200
    assert "Condition 1: enter a value for “Country (2 letters)”." in refused.content.decode()
    assert saved.status_code == 302
    assert list(Segment.objects.values_list("name", "definition")) == [("Brazil", BRAZIL)]


def test_saving_a_segment_that_refers_to_itself_is_refused(staff):
    segment = SegmentFactory(name="Loop", definition=BRAZIL)
    loop = {"match": "all", "conditions": [{"field": "in_segment", "value": segment.pk}]}

    response = staff.post(
        url("edit", segment.pk),
        {"name": "Loop", "kind": "dynamic", "description": "", "definition": json.dumps(loop)},
    )

    assert response.status_code == 200
    assert "“Loop” refers back to itself" in response.content.decode()
    segment.refresh_from_db()
    assert segment.definition == BRAZIL


def test_a_static_list_is_saved_without_filters(staff):
    response = staff.post(
        url("add"),
        {"name": "Imported", "kind": "static", "description": "", "definition": json.dumps(BRAZIL)},
    )

    assert response.status_code == 302
    assert Segment.objects.get(name="Imported").definition == {}


# --- Live size endpoint --------------------------------------------------------------------------


def test_the_size_endpoint_counts_a_draft_definition(staff):
    ContactFactory(country="BR"), ContactFactory(country="PT")

    assert size(staff, BRAZIL) == (200, {"count": 1})


def test_the_size_endpoint_explains_what_is_wrong(staff):
    draft = {
        "match": "all",
        "conditions": [{"field": "created_at", "op": "within_days", "value": "soon"}],
    }

    assert size(staff, draft) == (
        400,
        {"errors": ["Condition 1: enter a whole number of days for “Created”."]},
    )
    assert size(staff, "nonsense") == (
        400,
        {"errors": ["The filters are not in the expected form."]},
    )


def test_the_size_endpoint_catches_a_cycle_through_the_segment_being_edited(staff):
    segment = SegmentFactory(name="Self", definition=BRAZIL)
    draft = {"match": "all", "conditions": [{"field": "in_segment", "value": segment.pk}]}

    status, body = size(staff, draft, segment_id=segment.pk)

    assert (status, body) == (
        400,
        {
            "errors": [
                "“Self” refers back to itself through its segment conditions; remove one of them."
            ]
        },
    )


def test_the_size_endpoint_needs_the_csrf_token():
    user = UserFactory(is_superuser=True, is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(url("add"))  # sets the CSRF cookie, as the editor page does
    token = client.cookies["csrftoken"].value

    without = client.post(
        reverse(SIZE_URL_NAME),
        data=json.dumps({"definition": BRAZIL}),
        content_type="application/json",
    )
    with_token = client.post(
        reverse(SIZE_URL_NAME),
        data=json.dumps({"definition": BRAZIL}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )

    assert without.status_code == 403
    assert with_token.status_code == 200


def test_the_size_endpoint_is_only_for_people_who_edit_segments(client):
    admin_only = UserFactory()
    admin_only.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(admin_only)

    forbidden = client.post(
        reverse(SIZE_URL_NAME),
        data=json.dumps({"definition": BRAZIL}),
        content_type="application/json",
    )
    client.logout()
    anonymous = client.post(
        reverse(SIZE_URL_NAME),
        data=json.dumps({"definition": BRAZIL}),
        content_type="application/json",
    )

    assert (forbidden.status_code, forbidden.json()) == (
        403,
        {"errors": ["You may not edit segments."]},
    )
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]


# --- Static list members -------------------------------------------------------------------------


def test_members_are_listed_with_their_email(staff):
    ana = ContactFactory(email="ana@example.com", first_name="Ana")
    segment = StaticSegmentFactory(name="VIP", members=[ana])

    response = staff.get(reverse(MEMBERS_URL_NAME, args=[segment.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "ana@example.com" in html
    assert "1 lead on this list." in html


def test_adding_members_by_email_reports_unknown_addresses(staff):
    ana, bea = ContactFactory(email="ana@example.com"), ContactFactory(email="bea@example.com")
    segment = StaticSegmentFactory(members=[ana])

    response = staff.post(
        reverse(MEMBERS_URL_NAME, args=[segment.pk]),
        {"emails": "ANA@example.com, bea@example.com\nnobody@example.com"},
        follow=True,
    )

    html = response.content.decode()
    assert set(
        SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)
    ) == {ana.pk, bea.pk}
    assert "Added 1 of 2 leads found." in html
    assert "No lead has these addresses: nobody@example.com" in html


def test_removing_a_member(staff):
    ana, bea = ContactFactory(), ContactFactory()
    segment = StaticSegmentFactory(members=[ana, bea])

    response = staff.post(reverse(MEMBERS_URL_NAME, args=[segment.pk]), {"remove": str(ana.pk)})

    assert response.status_code == 302
    assert list(
        SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)
    ) == [bea.pk]


def test_a_dynamic_segments_members_are_who_match_its_filters_now(staff):
    # given a segment of Brazilians and three leads, two of them in Brazil
    older = ContactFactory(country="BR", email="older@example.com")
    newer = ContactFactory(country="BR", email="newer@example.com")
    ContactFactory(country="PT", email="lisbon@example.com")
    segment = SegmentFactory(definition=BRAZIL)

    # when the marketer opens its members
    response = staff.get(reverse(MEMBERS_URL_NAME, args=[segment.pk]))

    # then the two Brazilians are listed, newest first, with links to the listing and export
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 leads match the segment" in html
    assert "lisbon@example.com" not in html
    assert html.index("newer@example.com") < html.index("older@example.com")
    assert [newer.pk, older.pk] == [c.pk for c, _added in response.context["page"].members]
    assert f"/admin/leads/?segment={segment.pk}&amp;export=csv" in html
    assert f"/admin/leads/?segment={segment.pk}" in html


def test_a_dynamic_segments_members_cannot_be_added_by_hand(staff):
    segment = SegmentFactory(definition=BRAZIL)
    ContactFactory(email="ana@example.com")

    response = staff.post(
        reverse(MEMBERS_URL_NAME, args=[segment.pk]), {"emails": "ana@example.com"}
    )

    assert response.status_code == 302  # Wagtail's answer to PermissionDenied
    assert response.url == reverse("wagtailadmin_home")
    assert not SegmentMember.objects.exists()


def test_members_are_paged_fifty_at_a_time(staff):
    ContactFactory.create_batch(51, country="BR")
    segment = SegmentFactory(definition=BRAZIL)

    first = staff.get(reverse(MEMBERS_URL_NAME, args=[segment.pk]))
    second = staff.get(reverse(MEMBERS_URL_NAME, args=[segment.pk]) + "?p=2")

    assert len(first.context["page"].members) == 50
    assert len(second.context["page"].members) == 1
    assert "51 leads match" in first.content.decode()


def test_a_segment_whose_filters_broke_says_so_on_its_members_page(staff):
    gone = SegmentFactory(definition=BRAZIL)
    segment = SegmentFactory(
        definition={
            "match": "all",
            "conditions": [{"field": "in_segment", "op": "is", "value": gone.pk}],
        }
    )
    Segment.objects.filter(pk=gone.pk).delete()

    response = staff.get(reverse(MEMBERS_URL_NAME, args=[segment.pk]))

    assert response.status_code == 200
    assert "cannot be evaluated" in response.content.decode()


# --- The leads listing, filtered by a segment ------------------------------------------------------


def test_the_leads_listing_filters_by_a_dynamic_segment(staff):
    ContactFactory(country="BR", email="rio@example.com")
    ContactFactory(country="PT", email="porto@example.com")
    segment = SegmentFactory(definition=BRAZIL)

    html = staff.get(reverse("leads:index") + f"?segment={segment.pk}").content.decode()

    assert "rio@example.com" in html
    assert "porto@example.com" not in html


def test_the_leads_listing_filters_by_a_static_list_and_exports_it(staff):
    vip = ContactFactory(email="vip@example.com")
    ContactFactory(email="other@example.com")
    segment = StaticSegmentFactory(members=[vip])

    response = staff.get(reverse("leads:index") + f"?segment={segment.pk}&export=csv")

    body = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    assert response.status_code == 200
    assert "vip@example.com" in body
    assert "other@example.com" not in body


def test_an_unknown_segment_in_the_listing_filter_is_an_error_not_every_lead(staff):
    ContactFactory(email="anyone@example.com")

    response = staff.get(reverse("leads:index") + "?segment=999999")

    assert response.status_code == 200
    assert "anyone@example.com" not in response.content.decode()
