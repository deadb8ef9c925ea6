"""Email templates and the message log move from nurture to messaging (ADR 24), step 3 of 3.

The tables take messaging's names (every row kept: a rename, not a copy), and the content
types follow the models, so Wagtail's and Django's permissions, revisions and log entries
of email templates stay attached to them.
"""

from django.db import migrations, models

MOVED = ("emailtemplate", "message")


def _content_types_move(apps, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MOVED:
        moving = ContentType.objects.filter(app_label=source, model=model).first()
        if moving is None:
            continue  # a database that never had the model: post_migrate makes the new one
        # A content type made under the new label before this ran holds no rows of its own,
        # only the permissions post_migrate gave it: the moving one brings its own.
        made = ContentType.objects.filter(app_label=target, model=model).first()
        if made is not None:
            Permission.objects.filter(content_type=made).delete()
            made.delete()
        ContentType.objects.filter(pk=moving.pk).update(app_label=target)


def content_types_forward(apps, schema_editor):
    _content_types_move(apps, source="nurture", target="messaging")


def content_types_backward(apps, schema_editor):
    _content_types_move(apps, source="messaging", target="nurture")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("messaging", "0002_email_from_nurture"),
        ("nurture", "0006_email_to_messaging"),
    ]

    operations = [
        migrations.AlterModelTable(name="emailtemplate", table=None),
        migrations.AlterModelTable(name="message", table=None),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["broadcast_id"], name="message_broadcast_idx"),
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
