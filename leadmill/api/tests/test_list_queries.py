"""Every list endpoint of the API: its query count does not grow with the page size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadmill.capture.models import Channel, Submission
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.nurture.tests.factories import EnrollmentFactory, SequenceFactory
from leadmill.sales.models import Activity
from leadmill.sales.tests.factories import SalesRepFactory
from leadmill.scoring.models import ContactScore
from leadmill.segments.tests.factories import SegmentFactory, StaticSegmentFactory

from ..services import api_key_create

pytestmark = pytest.mark.django_db

ROWS = 30


def _leads():
    return [ContactFactory(country="BR") for _n in range(ROWS)]


def _submissions():
    for lead in _leads():
        Submission.objects.create(channel=Channel.API, data={"email": lead.email}, contact=lead)
    return "/api/v1/submissions/"


def _segments():
    for _n in range(ROWS):
        SegmentFactory()
    return "/api/v1/segments/"


def _static_members():
    segment = StaticSegmentFactory(members=_leads())
    return f"/api/v1/segments/{segment.pk}/members"


def _dynamic_members():
    _leads()
    return f"/api/v1/segments/{SegmentFactory().pk}/members"


def _sequences():
    for _n in range(ROWS):
        EnrollmentFactory(sequence=SequenceFactory())
    return "/api/v1/sequences/"


def _activities():
    rep = SalesRepFactory().user
    Activity.objects.bulk_create(
        Activity(contact=lead, user=rep, kind="note", occurred_at=timezone.now())
        for lead in _leads()
    )
    return "/api/v1/activities/"


def _owners():
    for _n in range(ROWS):
        SalesRepFactory()
    return "/api/v1/owners/"


def _leads_by_score():
    now = timezone.now()
    ContactScore.objects.bulk_create(
        ContactScore(contact=lead, fit_score=10, engagement_at=now, updated_at=now)
        for lead in _leads()
    )
    return "/api/v1/leads/?fit_min=-10&total_max=1000"


@pytest.mark.parametrize(
    "given",
    [
        _submissions,
        _segments,
        _static_members,
        _dynamic_members,
        _sequences,
        _activities,
        _owners,
        _leads_by_score,
    ],
    ids=lambda given: given.__name__.strip("_"),
)
def test_a_list_endpoint_reads_a_page_of_any_size_in_the_same_queries(client, given):
    path = given()
    _key, secret = api_key_create(name="all", scopes=["all"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    separator = "&" if "?" in path else "?"
    client.get(f"{path}{separator}limit=1", **auth)  # the key's last use is written once

    counts, sizes = [], []
    for limit in (1, 25):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{path}{separator}limit={limit}", **auth)
        assert response.status_code == 200, response.content
        sizes.append(len(response.json()["items"]))
        counts.append(len(queries))

    assert sizes == [1, 25]
    assert counts[0] == counts[1]
