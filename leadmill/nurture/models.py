"""Sequences, enrollments and broadcasts.

State that moves over time lives in rows, advanced by periodic tasks in batches:
``Enrollment.next_run_at`` (indexed) says when a contact's next step is due. The emails they
send are messaging's ``Message`` rows (the message log and its send queue), which keep the
enrollment's and the broadcast's ids. A crash loses nothing: due enrollments and queued
messages are simply picked up again.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField

from leadmill.contacts.models import Contact
from leadmill.messaging.models import EmailTemplate
from leadmill.segments.models import Segment

from .blocks import StepBlock

# What enrols a lead (``Enrollment.source``): a trigger's name, or who enrolled it by hand,
# "api (<key name>)" / "back office (<username>)".
ENROLMENT_SOURCE_LABELS = {
    "form": _("Form submitted"),
    "stage": _("Lifecycle stage reached"),
    "segment": _("Entered a segment"),
    "api": _("API"),
    "back office": _("Back office"),
}


def enrollment_source_text(source: str) -> str:
    """``Enrollment.source`` in the reader's language: "Back office (ana)" for
    ``back office (ana)``; a source without a label is shown as stored."""
    kind, paren, who = source.partition(" (")
    label = ENROLMENT_SOURCE_LABELS.get(kind)
    if label is None:
        return source
    return f"{label} ({who}" if paren else str(label)


class Sequence(models.Model):
    """A nurture flow: steps that each enrolled contact walks through at its own pace."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Manually, in bulk or through the API only")
        CAPTURE = (
            "capture",
            _("A lead is captured, from any channel (a form, the API, an import …)"),
        )
        FORM = "form", _("A form is submitted")
        OFFER = "offer", _("An offer is requested")
        SEGMENT = "segment", _("The lead enters a segment")
        STAGE = "stage", _("The lead reaches a lifecycle stage")

    class Reenrol(models.TextChoices):
        NEVER = "never", _("Never: once per lead")
        AFTER_EXIT = "after_exit", _("Again after leaving the sequence")

    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=False)
    steps = StreamField(StepBlock(), verbose_name=_("steps"), blank=True, use_json_field=True)
    trigger = models.CharField(
        _("enrol when"), max_length=10, choices=Trigger.choices, default=Trigger.MANUAL
    )
    trigger_form = models.ForeignKey(
        "capture.Form",
        verbose_name=_("form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    trigger_offer = models.ForeignKey(
        "capture.Offer",
        verbose_name=_("offer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    trigger_segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    trigger_stage = models.CharField(_("stage"), max_length=20, blank=True)
    # When this sequence started watching its trigger segment: only leads who enter the
    # segment after it are enrolled. None: not yet; the next full check of the segment
    # records who is in it already (enrolling none of them) and sets it. See .triggers.
    segment_watched_since = models.DateTimeField(null=True, blank=True, editable=False)
    exit_stages = models.JSONField(
        _("leave when the lead reaches"),
        default=list,
        blank=True,
        help_text=_("Lifecycle stages that end the sequence, e.g. SQL and customer."),
    )
    reenrol = models.CharField(
        _("re-enrolment"), max_length=12, choices=Reenrol.choices, default=Reenrol.NEVER
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("hold out (%)"),
        default=0,
        validators=[MaxValueValidator(50)],
        help_text=_(
            "A share of the leads it enrols, chosen at random and recorded, that walk no step "
            "and get no marketing email from it: the uplift report compares them with the others."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    """One contact's walk through one sequence. ``step_id`` is the id of the StreamField
    block it is at; ``next_run_at`` is when that step is due (null once finished)."""

    wagtail_reference_index_ignore = True

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Left")

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    step_id = models.CharField(max_length=64, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(_("enrolled"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    exit_reason = models.CharField(_("why it ended"), max_length=200, blank=True)
    source = models.CharField(_("enrolled by"), max_length=100, blank=True)
    # Chosen at random at enrolment by the sequence's holdout share: such an enrolment stays
    # active with no step due (next_run_at is null), so the engine never walks it.
    held_out = models.BooleanField(_("held out"), default=False, db_default=False)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        indexes = [models.Index(fields=["next_run_at"], name="enrollment_due_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=models.Q(state="active"),
                name="enrollment_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.sequence_id}"


class Broadcast(models.Model):
    """A one-off email to a segment, now or at a set time."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        EmailTemplate, verbose_name=_("email"), on_delete=models.PROTECT, related_name="+"
    )
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.PROTECT, related_name="+"
    )
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    queued_count = models.PositiveIntegerField(_("queued"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
