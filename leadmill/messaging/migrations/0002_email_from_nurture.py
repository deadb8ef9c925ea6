"""Email templates and the message log move from nurture to messaging (ADR 24), step 1 of 3.

State only: messaging now owns ``EmailTemplate`` and ``Message`` on nurture's tables (renamed
in 0003). ``Message.enrollment`` / ``broadcast`` become plain ids (messaging sits below
nurture): nurture's 0006 drops their foreign keys in the database.
"""

import django.db.models.deletion
from django.db import migrations, models

import leadmill.messaging.models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0002_suppression_consent_awaiting_confirmation"),
        ("contacts", "0002_country_as_written"),
        ("messaging", "0001_initial"),
        ("nurture", "0005_remove_sequence_exit_on_reply"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EmailTemplate",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=200, verbose_name="name")),
                        ("subject", models.CharField(max_length=300, verbose_name="subject")),
                        ("preheader", models.CharField(blank=True, max_length=300, verbose_name="preheader")),
                        ("body", models.TextField(verbose_name="body")),
                        ("from_name", models.CharField(blank=True, max_length=100, verbose_name="from name")),
                        ("from_email", models.EmailField(blank=True, max_length=254, verbose_name="from address")),
                        ("reply_to", models.EmailField(blank=True, max_length=254, verbose_name="reply-to")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "purpose",
                            models.ForeignKey(
                                blank=True,
                                help_text="Who may receive it: contacts subscribed to this type. Empty: any marketing consent.",
                                limit_choices_to={"is_email_marketing": True},
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="consent.purpose",
                                verbose_name="subscription type",
                            ),
                        ),
                    ],
                    options={"verbose_name": "email template", "ordering": ["name"], "db_table": "nurture_emailtemplate"},
                ),
                migrations.CreateModel(
                    name="Message",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("message_id", models.CharField(default=leadmill.messaging.models._message_id, max_length=255, unique=True)),
                        ("enrollment_id", models.BigIntegerField(blank=True, null=True)),
                        ("step_id", models.CharField(blank=True, max_length=64)),
                        ("broadcast_id", models.BigIntegerField(blank=True, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("suppressed", "Not sent (no permission)"),
                                    ("failed", "Failed"),
                                ],
                                default="queued",
                                max_length=10,
                            ),
                        ),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("opened_at", models.DateTimeField(blank=True, null=True)),
                        ("clicked_at", models.DateTimeField(blank=True, null=True)),
                        ("error", models.CharField(blank=True, max_length=500)),
                        (
                            "contact",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="email_messages",
                                to="contacts.contact",
                            ),
                        ),
                        (
                            "template",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="messaging.emailtemplate",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "email",
                        "verbose_name_plural": "emails",
                        "db_table": "nurture_message",
                        "indexes": [
                            models.Index(fields=["status", "created_at"], name="message_status_idx"),
                            models.Index(fields=["enrollment_id", "step_id"], name="message_step_idx"),
                            models.Index(fields=["contact", "created_at"], name="message_contact_idx"),
                            models.Index(fields=["status", "sent_at"], name="message_sent_idx"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("broadcast_id__isnull", False)),
                                fields=("broadcast_id", "contact"),
                                name="message_broadcast_contact_unique",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
