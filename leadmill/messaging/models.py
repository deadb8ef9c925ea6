"""Email templates, the message log (marketing and transactional: one row per email, written
before it is sent, which is also the send queue) and the embedded mode's outbox.

``Message.status`` says where each email is (queued → sending → sent, or suppressed /
failed). A crash loses nothing: queued messages are simply picked up again.
"""

from __future__ import annotations

import uuid

from django.contrib.admin import display as admin_display
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadmill.consent.models import Purpose
from leadmill.contacts.models import Contact
from leadmill.core.i18n import Translatable


class OutboxMessage(models.Model):
    """An email kept by the embedded outbox backend instead of being sent over SMTP.

    Lets a small team see what Leadmill sends without configuring a mail server.
    """

    message_id = models.CharField(max_length=255, blank=True)
    from_email = models.CharField(_("from"), max_length=255)
    to = models.TextField(_("to"))
    subject = models.CharField(_("subject"), max_length=500)
    text_body = models.TextField(_("text"))
    html_body = models.TextField(_("HTML"), blank=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("queued"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("outbox email")
        verbose_name_plural = _("email outbox")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"


class EmailTemplate(Translatable, models.Model):
    """A marketing email written by a marketer: subject, preheader and body with
    personalisation (``{{ first_name|default:"there" }}``), laid out in the responsive
    Leadmill layout; the plain-text part is generated.

    Translatable (ADR 43): a lead receives the translation in its language when one exists;
    who may receive it (``purpose``) is the source email's."""

    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=300)
    preheader = models.CharField(_("preheader"), max_length=300, blank=True)
    body = models.TextField(_("body"))
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    from_email = models.EmailField(_("from address"), blank=True)
    reply_to = models.EmailField(_("reply-to"), blank=True)
    purpose = models.ForeignKey(
        Purpose,
        verbose_name=_("subscription type"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        limit_choices_to={"is_email_marketing": True},
        help_text=_(
            "Who may receive it: contacts subscribed to this type. Empty: any marketing consent."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(Translatable.Meta):
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _message_id() -> str:
    return f"{uuid.uuid4().hex}@leadmill"


# The ``category`` of the transactional emails Leadmill sends, as screens name them.
TRANSACTIONAL_CATEGORIES = {
    "offer delivery": _("offer delivery"),
    "double opt-in": _("double opt-in confirmation"),
    "event reminder": _("event reminder"),
    "outside the log": _("sent outside the log"),
}


class Message(models.Model):
    """One email to one address, marketing or transactional: the row is written (queued)
    before sending, so a crash resends it with the same ``message_id`` and receivers can drop
    the copy; a mail server that cannot be reached leaves it queued for the next pass.

    A marketing email is rendered from its ``template`` for its ``contact`` at send time and
    needs marketing permission then. A transactional email (an offer's delivery, a
    double opt-in confirmation, an owner's notification) carries its own ``subject`` and
    bodies, goes to ``to_email`` whatever the marketing consent, and ``category`` says what
    it is. No email goes to a suppressed address.

    ``enrollment_id`` / ``step_id`` / ``broadcast_id`` name the nurture rows that queued a
    marketing email. They are plain ids, not foreign keys: messaging sits below nurture in
    the layers (ADR 24), so nurture keeps them meaningful.

    ``opened_at`` / ``clicked_at`` are the first human open and click (scanner hits are
    recorded as bot tracking events and do not set them); ``bounced_at`` (a hard bounce),
    ``complained_at`` and ``unsubscribed_at`` the first report of each for this email.
    """

    wagtail_reference_index_ignore = True

    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        TRANSACTIONAL = "transactional", _("Transactional")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SUPPRESSED = "suppressed", _("Not sent (no permission)")
        FAILED = "failed", _("Failed")

    message_id = models.CharField(max_length=255, unique=True, default=_message_id)
    kind = models.CharField(_("kind"), max_length=13, choices=Kind.choices, default=Kind.MARKETING)
    category = models.CharField(_("what it is"), max_length=50, blank=True)
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="email_messages",
        db_index=False,  # message_contact_idx leads with it (ADR 63)
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_email = models.CharField(_("to"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # A transactional email's files, kept with it so a later retry sends the same ones:
    # ``[{"filename": …, "mimetype": "text/calendar; method=PUBLISH", "content": …}]``
    # (text content only: a calendar invitation, not uploads).
    attachments = models.JSONField(default=list, blank=True)
    enrollment_id = models.BigIntegerField(null=True, blank=True)
    step_id = models.CharField(max_length=64, blank=True)
    broadcast_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    # What the recipient (or its mailbox) did with it, for the nurture performance report:
    # set once, by the ESP's bounce / complaint webhook and the unsubscribe link.
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("email")
        verbose_name_plural = _("emails")
        indexes = [
            models.Index(fields=["status", "created_at"], name="message_status_idx"),
            models.Index(fields=["enrollment_id", "step_id"], name="message_step_idx"),
            models.Index(fields=["contact", "created_at"], name="message_contact_idx"),
            models.Index(
                fields=["status", "sent_at"], name="message_sent_idx"
            ),  # the hourly throttle
            # A broadcast's messages are found by message_broadcast_contact_unique, which
            # leads with broadcast_id (ADR 63).
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast_id", "contact"],
                condition=models.Q(broadcast_id__isnull=False),
                name="message_broadcast_contact_unique",
            )
        ]

    def __str__(self) -> str:
        return self.message_id

    @admin_display(description=_("to"))
    def recipient_label(self) -> str:
        """The contact (marketing) or the address (transactional), for the log screen."""
        return str(self.contact) if self.contact_id else self.to_email

    @admin_display(description=_("email"))
    def subject_label(self) -> str:
        """The template's name (marketing) or the subject (transactional)."""
        return self.template.name if self.template_id else self.subject

    def category_label(self) -> str:
        """What a transactional email is, in the reader's language (unknown ones as stored)."""
        return str(TRANSACTIONAL_CATEGORIES.get(self.category, self.category))

    @property
    def recipient(self) -> str:
        """The address it goes to: the contact's for marketing, its own for transactional."""
        if self.kind == self.Kind.TRANSACTIONAL or self.contact_id is None:
            return self.to_email
        return self.contact.email
