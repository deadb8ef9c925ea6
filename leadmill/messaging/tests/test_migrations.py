"""Email templates and the message log moved from nurture to messaging (ADR 24): a populated
database migrates forward with every row kept, links and content types following."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("messaging", "0001_initial"),
    ("nurture", "0005_remove_sequence_exit_on_reply"),
]


def _migrate(targets):
    """Migrate to ``targets``; the models as they stand there, with the lower apps (whose
    tables the rows point at) as they stand now."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    loader = MigrationExecutor(connection).loader
    lower = [leaf for leaf in loader.graph.leaf_nodes() if leaf[0] in ("contacts", "consent")]
    return loader.project_state([*targets, *lower]).apps


def _contact(model, *, email, at):
    """A contact through the historical model: its text columns empty, as forms leave them."""
    blank = {
        field.attname: ""
        for field in model._meta.concrete_fields
        if field.get_internal_type() in ("CharField", "TextField", "EmailField")
        and not field.null
        and not field.has_default()
    }
    return model.objects.create(**{**blank, "email": email, "created_at": at, "updated_at": at})


@pytest.mark.django_db(transaction=True)
def test_a_populated_database_migrates_forward_with_every_email_row_kept():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        # Given a database from before the move, holding templates, messages, a broadcast,
        # an enrollment and a permission on email templates
        old = _migrate(BEFORE)
        ContentType = old.get_model("contenttypes", "ContentType")
        Permission = old.get_model("auth", "Permission")
        Contact = old.get_model("contacts", "Contact")
        Purpose = old.get_model("consent", "Purpose")
        OldTemplate = old.get_model("nurture", "EmailTemplate")
        OldMessage = old.get_model("nurture", "Message")
        Segment = old.get_model("nurture", "Segment")
        Sequence = old.get_model("nurture", "Sequence")
        Enrollment = old.get_model("nurture", "Enrollment")
        Broadcast = old.get_model("nurture", "Broadcast")
        now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)

        template_type, _ = ContentType.objects.get_or_create(
            app_label="nurture", model="emailtemplate"
        )
        permission, _ = Permission.objects.get_or_create(
            content_type=template_type,
            codename="change_emailtemplate",
            defaults={"name": "Can change email template"},
        )
        purpose = Purpose.objects.create(
            key="newsletter", name="Newsletter", is_email_marketing=True
        )
        ana = _contact(Contact, email="ana@example.com", at=now)
        bo = _contact(Contact, email="bo@example.com", at=now)
        welcome = OldTemplate.objects.create(
            name="Welcome", subject="Hi {{ first_name }}", body="<p>Hi</p>", purpose=purpose
        )
        digest = OldTemplate.objects.create(name="Digest", subject="News", body="<p>News</p>")
        segment = Segment.objects.create(name="Everyone", kind="static")
        sequence = Sequence.objects.create(name="Onboarding")
        enrollment = Enrollment.objects.create(sequence=sequence, contact=ana, enrolled_at=now)
        broadcast = Broadcast.objects.create(name="November", template=digest, segment=segment)
        sent = OldMessage.objects.create(
            contact=ana,
            template=welcome,
            enrollment=enrollment,
            step_id="step-1",
            status="sent",
            sent_at=now,
            opened_at=now,
        )
        queued = OldMessage.objects.create(contact=bo, template=digest, broadcast=broadcast)
        before = {
            row.pk: (
                row.message_id,
                row.contact_id,
                row.template_id,
                row.enrollment_id,
                row.step_id,
                row.broadcast_id,
                row.status,
                row.sent_at,
                row.opened_at,
            )
            for row in OldMessage.objects.all()
        }

        # When the database migrates forward
        new = _migrate(leaves)

        # Then every row is there, through messaging's models, on messaging's tables
        Template = new.get_model("messaging", "EmailTemplate")
        Message = new.get_model("messaging", "Message")
        assert Template._meta.db_table == "messaging_emailtemplate"
        assert Message._meta.db_table == "messaging_message"
        assert dict(Template.objects.values_list("pk", "name")) == {
            welcome.pk: "Welcome",
            digest.pk: "Digest",
        }
        assert Template.objects.get(pk=welcome.pk).purpose_id == purpose.pk
        after = {
            row.pk: (
                row.message_id,
                row.contact_id,
                row.template_id,
                row.enrollment_id,
                row.step_id,
                row.broadcast_id,
                row.status,
                row.sent_at,
                row.opened_at,
            )
            for row in Message.objects.all()
        }
        assert after == before
        assert set(after) == {sent.pk, queued.pk}
        assert set(Message.objects.values_list("kind", flat=True)) == {"marketing"}
        # the broadcast still points at its template, now messaging's
        NewBroadcast = new.get_model("nurture", "Broadcast")
        assert NewBroadcast.objects.get(pk=broadcast.pk).template.name == "Digest"
        # permissions follow the model
        NewContentType = new.get_model("contenttypes", "ContentType")
        moved = NewContentType.objects.get(pk=template_type.pk)
        assert (moved.app_label, moved.model) == ("messaging", "emailtemplate")
        assert (
            new.get_model("auth", "Permission").objects.get(pk=permission.pk).content_type_id
            == moved.pk
        )
        assert not NewContentType.objects.filter(
            app_label="nurture", model__in=["emailtemplate", "message"]
        ).exists()
        # and an enrollment can go without taking its messages' log rows along (no FK left)
        new.get_model("nurture", "Enrollment").objects.filter(pk=enrollment.pk).delete()
        assert Message.objects.get(pk=sent.pk).enrollment_id == enrollment.pk
    finally:
        _migrate(leaves)
