"""Sales models: reps, teams, assignment rules, round-robin state, sales leads, activities."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from leadmill.contacts.models import Contact


def split_list(text: str) -> list[str]:
    """ "BR, pt ,us" -> ["br", "pt", "us"]: the comma-separated lists reps and rules match on."""
    return [item.strip().lower() for item in text.split(",") if item.strip()]


class SalesRep(models.Model):
    """A salesperson who can own leads: weight in the round robin, capacity, availability.

    ``territories``, ``segments`` and ``sources`` narrow which leads the fallback round robin
    gives this rep (empty takes any); assignment rules name their reps explicitly.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="sales_rep",
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"),
        default=1,
        help_text=_(
            "Share of leads in the round robin: a rep with weight 2 gets twice as many as one with 1."
        ),
    )
    capacity = models.PositiveIntegerField(
        _("capacity"),
        default=0,
        help_text=_("Most open leads this rep may own at once; 0 means no limit."),
    )
    available = models.BooleanField(_("available"), default=True)
    unavailable_until = models.DateTimeField(
        _("unavailable until"),
        null=True,
        blank=True,
        help_text=_("Away (holiday, leave) until this time; no leads are assigned before it."),
    )
    territories = models.CharField(
        _("territories"),
        max_length=200,
        blank=True,
        help_text=_(
            "Country codes this rep takes, separated by commas (e.g. “BR, PT”); empty takes any."
        ),
    )
    segments = models.CharField(
        _("segments"),
        max_length=300,
        blank=True,
        help_text=_("Segments / industries this rep takes, separated by commas; empty takes any."),
    )
    sources = models.CharField(
        _("sources"),
        max_length=300,
        blank=True,
        help_text=_("First-touch sources this rep takes, separated by commas; empty takes any."),
    )

    class Meta:
        verbose_name = _("sales rep")
        verbose_name_plural = _("sales reps")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    def is_available(self, at: dt.datetime | None = None) -> bool:
        if not self.available:
            return False
        return self.unavailable_until is None or self.unavailable_until <= (at or timezone.now())

    def takes(self, contact: Contact) -> bool:
        """Whether the rep's own territories / segments / sources accept this lead."""
        for wanted, value in (
            (self.territories, contact.country),
            (self.segments, contact.segment),
            (self.sources, contact.first_source),
        ):
            accepted = split_list(wanted)
            if accepted and value.strip().lower() not in accepted:
                return False
        return True


class SalesTeam(models.Model):
    """A named group of reps an assignment rule can hand leads to."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        SalesRep, verbose_name=_("members"), related_name="teams", blank=True
    )

    class Meta:
        verbose_name = _("sales team")
        verbose_name_plural = _("sales teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AssignmentRule(models.Model):
    """Leads that match every filled criterion go to the rule's reps (and team), by weighted
    round robin. Rules are tried by priority, lowest number first; a lead no rule places goes
    to the round robin over every available rep."""

    name = models.CharField(_("name"), max_length=100)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower runs first.")
    )
    active = models.BooleanField(_("active"), default=True)
    countries = models.CharField(
        _("countries"),
        max_length=200,
        blank=True,
        help_text=_("Country codes, separated by commas; empty matches any."),
    )
    segments = models.CharField(
        _("segments"),
        max_length=300,
        blank=True,
        help_text=_("Separated by commas; empty matches any."),
    )
    sources = models.CharField(
        _("first-touch sources"),
        max_length=300,
        blank=True,
        help_text=_("Separated by commas; empty matches any."),
    )
    company_sizes = models.CharField(
        _("company sizes"),
        max_length=200,
        blank=True,
        help_text=_("Values of the company size field, separated by commas; empty matches any."),
    )
    reps = models.ManyToManyField(
        SalesRep, verbose_name=_("reps"), related_name="rules", blank=True
    )
    team = models.ForeignKey(
        SalesTeam,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rules",
    )

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def matches(self, contact: Contact) -> bool:
        for wanted, value in (
            (self.countries, contact.country),
            (self.segments, contact.segment),
            (self.sources, contact.first_source),
            (self.company_sizes, contact.company_size),
        ):
            accepted = split_list(wanted)
            if accepted and value.strip().lower() not in accepted:
                return False
        return True


class RoundRobinPool(models.Model):
    """The smooth weighted round robin's state of one pool of reps (a rule, or the fallback).

    Locked with ``select_for_update`` while a lead is assigned, so concurrent assignments
    see each other's turns. ``current_weights`` maps rep id (as text) to its current weight.
    """

    FALLBACK = "fallback"

    key = models.CharField(max_length=50, unique=True)
    current_weights = models.JSONField(default=dict)
    last_rep = models.ForeignKey(
        SalesRep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("round-robin pool")
        verbose_name_plural = _("round-robin pools")

    def __str__(self) -> str:
        return self.key


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    ATTEMPTING = "attempting", _("Attempting")
    CONNECTED = "connected", _("Connected")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")


class SalesLead(models.Model):
    """A contact handed to sales: its owner, sales status, and the speed-to-lead clock.

    One per contact. ``mql_at`` is when it became an MQL; ``first_activity_at`` the first
    call, email, meeting or note logged on it; ``sla_due_at`` when that first activity is due.
    ``closed_at`` is set when it is disqualified or its outcome (won / lost) is recorded.
    """

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="sales_lead")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sales_leads",
        db_index=False,  # saleslead_owner_open_idx leads with it (ADR 63)
    )
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    rule = models.ForeignKey(
        AssignmentRule,
        verbose_name=_("assigned by rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    mql_at = models.DateTimeField(_("became MQL"))
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    first_activity_at = models.DateTimeField(_("first activity"), null=True, blank=True)
    sla_due_at = models.DateTimeField(_("first activity due"), db_index=True)
    sla_warned_at = models.DateTimeField(_("SLA warning sent"), null=True, blank=True)
    assignment_notified_at = models.DateTimeField(_("owner notified"), null=True, blank=True)
    alert_sent_at = models.DateTimeField(_("new-lead alert sent"), null=True, blank=True)
    disqualify_reason = models.CharField(_("disqualify reason"), max_length=200, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sales lead")
        verbose_name_plural = _("sales leads")
        ordering = ["-assigned_at", "-id"]
        indexes = [models.Index(fields=["owner", "closed_at"], name="saleslead_owner_open_idx")]

    def __str__(self) -> str:
        return str(self.contact)

    @property
    def speed_to_lead(self) -> dt.timedelta | None:
        """Time from MQL to the first sales activity (None until there is one)."""
        return self.first_activity_at - self.mql_at if self.first_activity_at else None


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")
    TASK = "task", _("Task")


# A task is a plan, not contact with the lead: it does not stop the speed-to-lead clock.
FIRST_TOUCH_KINDS = frozenset(
    {ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING, ActivityKind.NOTE}
)


class Activity(models.Model):
    """Something sales did with a contact (call, email, meeting, note), or a task to do."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="sales_activities")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ActivityKind.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("details"), blank=True)
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    done = models.BooleanField(_("done"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sales activity")
        verbose_name_plural = _("sales activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["contact", "occurred_at"], name="activity_contact_idx")]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()}: {self.subject}"
            if self.subject
            else self.get_kind_display()
        )


class OwnerNotification(models.Model):
    """A sequence's "notify owner" step, as sales handled it: whom it told and when.

    The row is the claim that makes the email go once per request (one enrollment at one
    step at one time) although the event may arrive more than once.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="owner_notifications"
    )
    enrollment_id = models.BigIntegerField(_("enrollment"))
    step_id = models.CharField(_("step"), max_length=64)
    requested_at = models.DateTimeField(_("requested at"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("owner notification")
        verbose_name_plural = _("owner notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment_id", "step_id", "requested_at"], name="ownernotification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id}/{self.step_id}"


@register_setting(icon="user")
class SalesSettings(BaseGenericSetting):
    """Sales settings a person can change in the back office (they win over the environment)."""

    new_lead_alert_email = models.EmailField(
        _("new-lead alert address"),
        blank=True,
        help_text=_(
            "Every lead handed to sales is announced here. Empty uses LEADMILL_NEW_LEAD_ALERT_EMAIL."
        ),
    )
    sla_hours = models.PositiveIntegerField(
        _("first-activity SLA (hours)"),
        null=True,
        blank=True,
        help_text=_(
            "Hours from MQL to the first call, email, meeting or note. Empty uses LEADMILL_SALES_SLA_HOURS."
        ),
    )

    class Meta:
        verbose_name = _("sales settings")
        verbose_name_plural = _("sales settings")
