"""The one source vocabulary for what was stored before it (capture 0010): a populated
database migrated forward keeps every row and has its old sources classified."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from leadmill.contacts.models import Contact

from ..models import Channel, Submission

BEFORE = [("capture", "0008_submission_retry"), ("contacts", "0002_country_as_written")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_a_populated_database_migrated_forward_keeps_every_row_and_classifies_its_sources():
    old = _migrate(BEFORE)
    try:
        OldContact, OldForm, OldSubmission = (
            old.get_model("contacts", "Contact"),
            old.get_model("capture", "Form"),
            old.get_model("capture", "Submission"),
        )
        now = timezone.now()
        tagged = OldContact.objects.create(
            email="ana@example.com",
            first_source="ig",
            first_medium="Social",
            first_campaign="launch",
            first_touch_at=now,
            last_source="newsletter",
            last_medium="email",
            last_touch_at=now,
        )
        searched = OldContact.objects.create(
            email="bia@example.com",
            first_referrer="https://www.google.com.br/",
            first_touch_at=now,
            first_landing_url="https://leads.example.com/ebook",
        )
        untouched = OldContact.objects.create(email="caio@example.com", first_name="Caio")
        form = OldForm.objects.create(name="Ebook", slug="ebook")
        posted = OldSubmission.objects.create(
            form=form,
            status="accepted",
            data={"email": "ana@example.com"},
            contact_id=tagged.pk,
            utm_source="fb",
            utm_medium="cpc",
            utm_campaign="black-friday",
        )
        bare = OldSubmission.objects.create(
            form=form, status="spam", data={"email": "bot@example.com"}
        )
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert Contact.objects.count() == 3
    assert Submission.objects.count() == 2
    ana = Contact.objects.get(pk=tagged.pk)
    assert (ana.first_channel, ana.first_source, ana.first_medium, ana.first_campaign) == (
        "social",
        "instagram",
        "social",
        "launch",
    )
    assert (ana.first_utm_source, ana.first_utm_medium, ana.first_utm_campaign) == (
        "ig",
        "Social",
        "launch",
    )
    assert (ana.last_channel, ana.last_source, ana.last_medium) == ("email", "newsletter", "email")
    assert (ana.last_utm_source, ana.last_utm_medium) == ("newsletter", "email")
    bia = Contact.objects.get(pk=searched.pk)
    assert (bia.first_channel, bia.first_source, bia.first_medium, bia.first_utm_source) == (
        "organic_search",
        "google",
        "organic",
        "",
    )
    caio = Contact.objects.get(pk=untouched.pk)
    assert (caio.first_name, caio.first_channel, caio.first_source, caio.first_touch_at) == (
        "Caio",
        "",
        "",
        None,
    )
    paid = Submission.objects.get(pk=posted.pk)
    assert (paid.channel, paid.source_channel, paid.source, paid.medium, paid.campaign) == (
        Channel.WEB_FORM,
        "paid_social",
        "facebook",
        "cpc",
        "black-friday",
    )
    assert (paid.utm_source, paid.contact_id, paid.status) == ("fb", tagged.pk, "accepted")
    spam = Submission.objects.get(pk=bare.pk)
    assert (spam.channel, spam.source_channel, spam.source, spam.status) == (
        Channel.WEB_FORM,
        "",
        "",
        "spam",
    )
