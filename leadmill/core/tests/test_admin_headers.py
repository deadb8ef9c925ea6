"""The header of every back-office screen of our own names the page under the screens it
belongs to; Wagtail's default breadcrumbs hold only "Home", which the header then showed as
the page's title (the email preview was titled "Home")."""

import re

import pytest

from leadmill.messaging.tests.factories import EmailTemplateFactory
from leadmill.nurture.models import Broadcast
from leadmill.nurture.tests.factories import SequenceFactory
from leadmill.segments.tests.factories import StaticSegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def header_breadcrumbs(html: str) -> list[str]:
    """The texts of the header's breadcrumb items, Home first."""
    nav = re.search(r'<nav[^>]*aria-label="Breadcrumb".*?</nav>', html, re.DOTALL).group(0)
    items = re.findall(r"<li[^>]*>(.*?)</li>", nav, re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def test_our_own_screens_name_the_page_under_the_screens_it_belongs_to(staff):
    # Given an email template, a sequence, a broadcast and a static segment
    template = EmailTemplateFactory(name="Welcome")
    sequence = SequenceFactory(name="Onboarding")
    broadcast = Broadcast.objects.create(
        name="Spring launch", template=template, segment=StaticSegmentFactory(name="VIPs")
    )
    segment = broadcast.segment

    # When the marketer opens each of the screens Leadmill adds to the back office
    screens = {
        f"/admin/snippets/messaging/emailtemplate/preview/{template.pk}/": [
            "Email templates",
            "Welcome",
            "Preview : Welcome",
        ],
        f"/admin/nurture/sequences/{sequence.pk}/enrol/": [
            "Sequences",
            "Onboarding",
            "Enrol leads in “Onboarding”",
        ],
        f"/admin/nurture/broadcasts/{broadcast.pk}/send/": [
            "Broadcasts",
            "Send “Spring launch”",
        ],
        f"/admin/segments/{segment.pk}/members/": ["Segments", "VIPs", "Members of “VIPs”"],
        "/admin/my-leads/": ["My leads"],
        "/admin/dead-letters/retry/": ["Event deliveries", "Retry dead letters"],
    }

    # Then each header names the page after its parents, never "Home" alone
    for url, expected in screens.items():
        response = staff.get(url)
        assert response.status_code == 200, url
        assert header_breadcrumbs(response.content.decode())[-len(expected) :] == expected, url
