"""contact_erase: a lead and every row the personal-data registry finds for it are erased,
its address suppressed, an audit row written; all or nothing."""

import json
import time

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.base import ContentFile
from django.db import models
from django.utils import timezone
from wagtail.log_actions import log
from wagtail.models import ModelLogEntry

from leadmill.analytics.models import FirstVisit
from leadmill.capture import tokens
from leadmill.capture.models import Offer, Submission
from leadmill.capture.services import submissions_process
from leadmill.capture.tests.factories import OfferFactory, form_with_fields
from leadmill.consent.models import Consent, Suppression
from leadmill.consent.selectors import address_hash, is_suppressed
from leadmill.consent.tests.factories import consent_give
from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.core.errors import NotFound
from leadmill.messaging.models import Message
from leadmill.messaging.tests.factories import MessageFactory
from leadmill.nurture.models import Enrollment
from leadmill.nurture.tests.factories import EnrollmentFactory
from leadmill.sales.models import Activity, SalesLead
from leadmill.sales.tests.factories import SalesLeadFactory
from leadmill.scoring.models import ContactScore
from leadmill.segments.models import SegmentMember
from leadmill.segments.tests.factories import StaticSegmentFactory
from leadmill.tracking.models import Event, Visitor
from leadmill.tracking.tests.factories import EventFactory, VisitorFactory

from .. import services
from ..models import ErasureRecord
from ..services import contact_erase

EMAIL = "anabela.quintaneiro@example.com"
PHONE = "+5511987654321"
NAME = "Quintaneiro"


def post_form(client, form, **values):
    """A person posts the form; the worker processes it."""
    payload = {"_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10), "website": ""}
    payload.update(values)
    response = client.post(
        f"/f/{form.slug}/", data=json.dumps(payload), content_type="application/json"
    )
    submissions_process()
    return response


def rows_naming(*needles: str) -> dict[str, int]:
    """Rows of every model whose text or JSON columns hold any of ``needles``, per model."""
    found: dict[str, int] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
        ]
        if not names:
            continue
        for row in model._base_manager.values_list(*names):
            text = json.dumps(row, default=str)
            if any(needle in text for needle in needles):
                found[model._meta.label_lower] = found.get(model._meta.label_lower, 0) + 1
    return found


def a_lead_with_everything(client) -> Contact:
    """Ana, from a form post (her submission, consent and contact), with a browser, events,
    emails, scores, a sales lead and an activity, a list membership and an enrolment."""
    form = form_with_fields(phone=True)
    response = post_form(
        client,
        form,
        email=EMAIL,
        first_name="Anabela",
        phone=PHONE,
        **{"consent_email-marketing": "on"},
    )
    assert response.status_code == 201
    ana = Contact.objects.get(email=EMAIL)
    Contact.objects.filter(pk=ana.pk).update(last_name=NAME)
    browser = VisitorFactory(contact=ana)
    EventFactory(visitor=browser, contact=ana, url=f"https://lp.example/?who={NAME}")
    EventFactory(visitor=browser, contact=None, url="https://lp.example/before-she-was-known/")
    MessageFactory(contact=ana, to_email=EMAIL)
    ContactScore.objects.update_or_create(
        contact=ana,
        defaults={"fit_score": 40, "engagement_at": timezone.now(), "updated_at": timezone.now()},
    )
    SalesLeadFactory(contact=ana)
    Activity.objects.create(
        contact=ana, kind="call", subject=f"Call {NAME}", occurred_at=timezone.now()
    )
    StaticSegmentFactory(members=[ana])
    EnrollmentFactory(contact=ana)
    return ana


@pytest.mark.django_db
def test_erasure_leaves_no_row_naming_the_lead_counts_its_rows_and_suppresses_the_address(client):
    # Given Ana with rows in every app, and Rui, who must keep his
    ana = a_lead_with_everything(client)
    rui = ContactFactory(email="rui@example.com", first_name="Rui")
    EventFactory(contact=rui, url="https://lp.example/rui/")
    MessageFactory(contact=rui, to_email="rui@example.com")
    consent_give(rui)
    boss = UserFactory(username="boss")
    submission = Submission.objects.get(contact=ana)
    assert rows_naming(EMAIL, PHONE, NAME)  # the test finds her before

    # When she is erased
    record = contact_erase(contact_id=ana.pk, by=boss, reason="request by email")

    # Then no row of any model names her
    assert rows_naming(EMAIL, PHONE, NAME) == {}
    assert not Contact.objects.filter(pk=ana.pk).exists()
    # and her form post stays for the form's counts, blanked and unlinked
    submission.refresh_from_db()
    assert (submission.contact_id, submission.data, submission.values, submission.form_id) == (
        None,
        {},
        {},
        submission.form_id,
    )
    # and the audit says how many rows of each model went, without her data
    assert record.rows == {
        "capture.submission": 1,
        "consent.consent": 1,
        "contacts.contact": 1,
        "contacts.stagechange": 1,
        "messaging.message": 1,
        "nurture.enrollment": 1,
        "sales.activity": 1,
        "sales.saleslead": 1,
        "scoring.contactscore": 1,
        "segments.segmentmember": 1,
        "tracking.event": 2,
        "tracking.visitor": 1,
    }
    assert (record.contact_id, record.erased_by, record.erased_by_name, record.reason) == (
        ana.pk,
        boss,
        "boss",
        "request by email",
    )
    assert record.suppression_hash == address_hash(EMAIL)
    assert record.via == ErasureRecord.Via.BACK_OFFICE
    # and her address is suppressed, for good
    assert is_suppressed(email=EMAIL) is True
    assert Suppression.objects.get().reason == Suppression.Reason.ERASED
    # and Rui's rows are all there
    assert Contact.objects.filter(pk=rui.pk).exists()
    assert (
        Event.objects.filter(contact=rui).count(),
        Message.objects.filter(contact=rui).count(),
        Consent.objects.filter(contact=rui).count(),
    ) == (1, 1, 1)
    assert not is_suppressed(email="rui@example.com")


@pytest.mark.django_db
def test_a_failure_during_erasure_leaves_everything_as_it_was(client, monkeypatch):
    # Given Ana, and an erasure that fails after her rows were deleted
    ana = a_lead_with_everything(client)
    real_erase = services.personal_data_erase

    def erase_then_fail(**kwargs):
        real_erase(**kwargs)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "personal_data_erase", erase_then_fail)

    # When she is erased
    with pytest.raises(RuntimeError):
        contact_erase(contact_id=ana.pk, by=None, reason="")

    # Then nothing changed: her rows, her address unsuppressed, no audit row
    assert Contact.objects.filter(pk=ana.pk, email=EMAIL).exists()
    assert Submission.objects.get(contact=ana).data["email"] == EMAIL
    assert (
        Event.objects.filter(contact=ana).count(),
        Visitor.objects.filter(contact=ana).count(),
        SalesLead.objects.filter(contact=ana).count(),
        SegmentMember.objects.filter(contact=ana).count(),
        Enrollment.objects.filter(contact=ana).count(),
    ) == (1, 1, 1, 1, 1)
    assert is_suppressed(email=EMAIL) is False
    assert not ErasureRecord.objects.exists()


@pytest.mark.django_db
def test_erasing_a_lead_that_is_gone_is_refused():
    lead = ContactFactory()
    contact_erase(contact_id=lead.pk, by=None, reason="")

    with pytest.raises(NotFound) as refused:
        contact_erase(contact_id=lead.pk, by=None, reason="")

    assert refused.value.code == "lead_not_found"
    assert ErasureRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_after_erasure_a_new_post_makes_a_new_lead_with_only_its_fresh_consent_and_no_email(
    client, settings
):
    # Given a download offer that emails its file, and Ana, who took it and was erased
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD, email_subject="Your playbook")
    offer.file.save("guide.pdf", ContentFile(b"%PDF-1.4 test"))
    form = form_with_fields(offer=offer)
    post_form(client, form, email=EMAIL, **{"consent_email-marketing": "on"})
    assert [m.to for m in mail.outbox] == [[EMAIL]]  # the offer reached her the first time
    ana = Contact.objects.get(email=EMAIL)
    contact_erase(contact_id=ana.pk, by=None, reason="")
    mail.outbox.clear()

    # When the same address posts the form again, without ticking the marketing box
    response = post_form(client, form, email=EMAIL)

    # Then a new lead is made, with only the answer of this post (nothing of the old consent)
    assert response.status_code == 201
    again = Contact.objects.get(email=EMAIL)
    assert again.pk != ana.pk
    assert list(Consent.objects.filter(contact=again).values_list("granted", flat=True)) == [False]
    # and no email goes to the address, not even the offer it asked for
    assert mail.outbox == []
    assert set(Message.objects.filter(contact=again).values_list("status", flat=True)) <= {
        Message.Status.SUPPRESSED,
        Message.Status.FAILED,
    }


@pytest.mark.django_db
def test_the_back_offices_history_of_the_lead_which_names_it_goes_too():
    # Given a lead someone edited in the back office (Wagtail's log names it)
    ana = ContactFactory(email=EMAIL, first_name="Anabela", last_name=NAME)
    boss = UserFactory(username="boss")
    log(instance=ana, action="wagtail.edit", user=boss)
    assert ModelLogEntry.objects.filter(label__contains=NAME).count() == 1

    # When she is erased
    record = contact_erase(contact_id=ana.pk, by=boss, reason="")

    # Then the history is gone and counted
    assert not ModelLogEntry.objects.filter(object_id=str(ana.pk)).exists()
    assert record.rows["wagtailcore.modellogentry"] == 1
    assert rows_naming(EMAIL, NAME) == {}


@pytest.mark.django_db
def test_a_visitors_first_view_keeps_its_day_for_the_counts_but_no_longer_names_her_browser():
    # Given a lead whose browser's first view the analytics fill has stored
    ana = ContactFactory(email=EMAIL)
    browser = VisitorFactory(contact=ana)
    today = timezone.localdate()
    FirstVisit.objects.create(
        visitor_id=browser.pk, day=today, channel="direct", url="https://lp.example/ebook/"
    )
    FirstVisit.objects.create(visitor_id="someone-else", day=today, url="https://lp.example/")

    # When she is erased
    record = contact_erase(contact_id=ana.pk, by=None, reason="")

    # Then her first view still counts on its day, under an id no one can trace back, and
    # no longer credits a landing page; another visitor's is untouched
    assert record.rows["analytics.firstvisit"] == 1
    assert FirstVisit.objects.filter(day=today).count() == 2
    assert not FirstVisit.objects.filter(visitor_id=browser.pk).exists()
    erased = FirstVisit.objects.exclude(visitor_id="someone-else").get()
    assert (erased.channel, erased.url) == ("direct", "")
    assert FirstVisit.objects.get(visitor_id="someone-else").url == "https://lp.example/"
