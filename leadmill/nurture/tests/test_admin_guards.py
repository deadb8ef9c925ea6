"""Back-office guards: a broken segment is reported, not a server error; a segment in use
is not deleted; an email's subscription type must permit marketing email; a webhook may
not call the server's own network (admin_sequences.py, admin_segments.py, admin_emails.py,
blocks.py)."""

import pytest
from django.urls import reverse

from leadmill.consent.tests.factories import PurposeFactory
from leadmill.messaging.models import EmailTemplate
from leadmill.segments.models import Segment
from leadmill.segments.tests.factories import SegmentFactory

from ..admin_sequences import ENROL_URL_NAME
from ..models import Broadcast, Enrollment, Sequence
from .engine_factories import sequence_with, step
from .factories import EmailTemplateFactory
from .test_engine_admin import editor_post

pytestmark = pytest.mark.django_db


def segment_url(action: str, *args) -> str:
    return reverse(Segment.snippet_viewset.get_url_name(action), args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_enrolling_a_segment_that_cannot_be_evaluated_says_why(admin_client):
    gone = SegmentFactory()
    broken = SegmentFactory(conditions=[{"field": "in_segment", "value": gone.pk}])
    Segment.objects.filter(pk=gone.pk).delete()
    sequence = sequence_with(step("wait", days=1))

    response = admin_client.post(
        reverse(ENROL_URL_NAME, args=[sequence.pk]), {"segment": broken.pk, "emails": ""}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["segment"] == [
        "This segment cannot be evaluated: A condition refers to a segment that no longer exists."
    ]
    assert Enrollment.objects.count() == 0


def test_a_segment_other_segments_sequences_or_broadcasts_use_is_not_deleted(admin_client):
    used = SegmentFactory(name="Brazil")
    SegmentFactory(
        name="Brazil and more",
        definition={
            "match": "any",
            "conditions": [
                {"match": "all", "conditions": [{"field": "in_segment", "value": used.pk}]}
            ],
        },
    )
    sequence_with(step("wait", days=1), name="Welcome BR", trigger="segment", trigger_segment=used)
    Broadcast.objects.create(name="Carnival", template=EmailTemplateFactory(), segment=used)

    page = admin_client.get(segment_url("delete", used.pk), follow=True)
    deleted = admin_client.post(segment_url("delete", used.pk), follow=True)

    expected = [
        "“Brazil” is used by segment “Brazil and more”, sequence “Welcome BR”, "
        "broadcast “Carnival”; change them first."
    ]
    assert messages_of(page) == expected
    assert messages_of(deleted) == expected
    assert Segment.objects.filter(pk=used.pk).exists()


def test_a_segment_nothing_uses_is_deleted(admin_client):
    unused = SegmentFactory()

    response = admin_client.post(segment_url("delete", unused.pk))

    assert response.status_code == 302
    assert not Segment.objects.filter(pk=unused.pk).exists()


def test_an_email_template_cannot_take_a_subscription_type_that_is_not_marketing_email(
    admin_client,
):
    not_email = PurposeFactory(name="Phone calls", is_email_marketing=False)
    newsletter = PurposeFactory(name="Newsletter", is_email_marketing=True)
    data = {"name": "Welcome", "subject": "Hi", "preheader": "", "body": "<p>Hello</p>"}
    data |= {"from_name": "", "from_email": "", "reply_to": ""}
    url = reverse(EmailTemplate.snippet_viewset.get_url_name("add"))

    refused = admin_client.post(url, {**data, "purpose": not_email.pk})
    saved = admin_client.post(url, {**data, "purpose": newsletter.pk})

    assert refused.status_code == 200
    assert refused.context["form"].errors["purpose"] == [
        "Choose a subscription type that permits marketing email."
    ]
    assert list(refused.context["form"].fields["purpose"].queryset) == [newsletter]
    assert saved.status_code == 302
    assert EmailTemplate.objects.get().purpose == newsletter


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1"),
        ("http://localhost/hook", "localhost"),
        ("https://10.0.0.5/", "10.0.0.5"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::1]/", "::1"),
        ("http://100.100.100.200/latest/meta-data/", "100.100.100.200"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://192.0.0.192/", "192.0.0.192"),
        ("http://[2002:7f00:1::]/", "2002:7f00:1::"),
    ],
)
def test_a_webhook_to_the_servers_own_network_is_refused_when_saved(admin_client, url, host):
    sequence = sequence_with(step("end"))

    response = editor_post(admin_client, sequence, [("webhook", {"label": "", "url": url}, "")])

    assert response.status_code == 200
    (error,) = response.context["form"].errors.as_data()["steps"]
    assert error.block_errors[0].block_errors["url"].messages == [
        f"“{host}” is an address of the server's own or a private network; "
        "Leadmill only calls public addresses."
    ]
    assert Sequence.objects.get().steps.raw_data[0]["type"] == "end"


def test_a_webhook_to_a_private_address_is_saved_when_the_setting_allows_it(admin_client, settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    sequence = sequence_with(step("end"))
    hook = {"label": "", "url": "http://127.0.0.1:8000/hook"}

    response = editor_post(admin_client, sequence, [("webhook", hook, "")])

    assert response.status_code == 302
