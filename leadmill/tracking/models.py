"""Visitors and the append-only event table, bot rules and the organisation's sites.

``Event`` is the hot, ever-growing table: rows are only inserted (in bulk, by the collect
endpoint), attached to a contact once (``visitor_identify``) and deleted by the retention
task. Its indexes serve exactly the reads we make: by time (retention, rollups), by contact
over time (timeline, touches, attribution) and by visitor over time (identification).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    PAGE_VIEW = "page_view", _("Page view")
    CTA_CLICK = "cta_click", _("CTA click")
    FORM_VIEW = "form_view", _("Form view")
    FORM_START = "form_start", _("Form start")
    FORM_SUBMIT = "form_submit", _("Form submit")
    # A field of a form entered or filled in: name is the form, properties hold the field's
    # name and "focus" or "complete", never what was typed (analytics' forms report).
    FORM_FIELD = "form_field", _("Form field")
    DOWNLOAD = "download", _("Download")
    EMAIL_OPEN = "email_open", _("Email open")
    EMAIL_CLICK = "email_click", _("Email click")
    CUSTOM = "custom", _("Custom")


class Channel(models.TextChoices):
    """Where a touch came from (see :mod:`.sources`). Empty: the event is not a touch."""

    NONE = "", _("—")
    DIRECT = "direct", _("Direct")
    ORGANIC_SEARCH = "organic_search", _("Organic search")
    PAID_SEARCH = "paid_search", _("Paid search")
    SOCIAL = "social", _("Social")
    PAID_SOCIAL = "paid_social", _("Paid social")
    EMAIL = "email", _("Email")
    REFERRAL = "referral", _("Referral")
    INTERNAL = "internal", _("Internal navigation")
    OTHER = "other", _("Other campaign")


# The channels a contact's first or last touch can have (internal navigation is no touch):
# the choices of segment conditions and fit rules on ``first_channel`` / ``last_channel``.
TOUCH_CHANNEL_CHOICES = tuple(
    (channel.value, channel.label)
    for channel in Channel
    if channel not in (Channel.NONE, Channel.INTERNAL)
)


class Visitor(models.Model):
    """An anonymous browser, known by the random first-party cookie id ``lm_vid``.

    ``contact`` is set when the visitor identifies (a form submit); ``is_bot`` sticks once
    any request of the visitor looked automated.
    """

    id = models.CharField(primary_key=True, max_length=64)
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visitors",
    )
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"), db_index=True)
    is_bot = models.BooleanField(_("bot"), default=False)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        indexes = [
            # The bots only (a few in a hundred): reports leave their events out by hashing
            # this small set, where they read every visitor (ADR 62 of analytics). A person's
            # visitor row writes no page of it.
            models.Index(
                fields=["id"], name="tracking_visitor_bot_idx", condition=models.Q(is_bot=True)
            ),
        ]

    def __str__(self) -> str:
        return self.id


class Event(models.Model):
    """Something a visitor or contact did. Append-only.

    ``source``/``medium``/``campaign``/``term``/``content`` and ``channel`` make a page view
    a touch; click ids (gclid, fbclid, ...) live in ``properties``.
    """

    occurred_at = models.DateTimeField(_("occurred"), db_index=True)
    visitor = models.ForeignKey(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,  # covered by tracking_event_visitor_idx
        # No database constraint: the collect endpoint stores events before their visitor's
        # row exists; services.visitors_sync() writes the rows off the request path.
        db_constraint=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tracking_events",
        db_index=False,  # covered by tracking_event_contact_idx
    )
    type = models.CharField(_("type"), max_length=20, choices=EventType.choices)
    name = models.CharField(_("name"), max_length=200, blank=True)
    url = models.CharField(_("URL"), max_length=2000, blank=True)
    referrer = models.CharField(_("referrer"), max_length=2000, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    medium = models.CharField(_("medium"), max_length=200, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    term = models.CharField(_("term"), max_length=200, blank=True)
    content = models.CharField(_("content"), max_length=200, blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    is_bot = models.BooleanField(_("bot"), default=False)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["contact", "occurred_at"], name="tracking_event_contact_idx"),
            models.Index(fields=["visitor", "occurred_at"], name="tracking_event_visitor_idx"),
            # A form's report reads its events of a period (analytics, ADR 56); partial, so a
            # page view, the bulk of the events, writes no page of it.
            models.Index(
                fields=["name", "occurred_at"],
                name="tracking_event_form_idx",
                condition=models.Q(type__in=["form_view", "form_start", "form_field"]),
            ),
            # An email click's message and browser are JSON properties: crediting a lead to
            # the email clicked last (nurture, ADR 57) and the scanner checks read clicks by
            # them. Partial: only email clicks write a page of these.
            models.Index(
                KeyTransform("message_id", "properties"),
                name="tracking_click_message_idx",
                condition=models.Q(type="email_click"),
            ),
            models.Index(
                KeyTransform("visitor_id", "properties"),
                name="tracking_click_visitor_idx",
                condition=models.Q(type="email_click"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name or self.url}"[:100]


class VisitorSyncState(models.Model):
    """How far :func:`.services.visitors_sync` has read the event table (one row).

    ``read_upto_event_id``: events up to this id are read; ``next_upto_event_id``: the
    highest event id the last run saw, which the next run reads up to (see the service).
    """

    read_upto_event_id = models.BigIntegerField(default=0)
    next_upto_event_id = models.BigIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)  # internal bookkeeping, shown nowhere

    def __str__(self) -> str:
        return f"events read up to {self.read_upto_event_id}"


class BotRule(models.Model):
    """A user-agent pattern, matched case-insensitively, that marks a request as automated,
    or, as an exception (``action`` "allow"), as a person's.

    Bots are first recognised by crawlerdetect's maintained list (:mod:`.bots`); these
    rules add to it and make exceptions to it, for page views, CTA clicks and email hits.
    """

    class Kind(models.TextChoices):
        SUBSTRING = "substring", _("Contains")
        REGEX = "regex", _("Regular expression")

    class Action(models.TextChoices):
        BOT = "bot", _("Is a bot")
        ALLOW = "allow", _("Is a person (an exception)")

    pattern = models.CharField(_("pattern"), max_length=200)
    kind = models.CharField(_("match"), max_length=10, choices=Kind.choices, default=Kind.SUBSTRING)
    action = models.CharField(
        _("a user agent it matches"),
        max_length=10,
        choices=Action.choices,
        default=Action.BOT,
        help_text=_(
            "An exception makes a user agent a person's even when it is on the list of "
            "known crawlers or matches another rule."
        ),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("bot rule")
        verbose_name_plural = _("bot rules")
        ordering = ["pattern"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "kind"], name="botrule_pattern_kind")
        ]

    def __str__(self) -> str:
        return self.pattern

    def clean(self) -> None:
        if self.kind == self.Kind.REGEX:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValidationError(
                    {
                        "pattern": _("This is not a valid regular expression: %(error)s")
                        % {"error": exc}
                    }
                ) from exc


class Site(models.Model):
    """A site of the organisation that may send tracking events (its origin is allowed)."""

    name = models.CharField(_("name"), max_length=100)
    origin = models.CharField(
        _("origin"),
        max_length=200,
        unique=True,
        help_text=_("Scheme and host, e.g. https://www.example.com (no path)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.origin})"

    def save(self, *args, **kwargs):
        self.origin = self.origin.strip().rstrip("/").lower()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from leadmill.core.http import origin_of

        normalised = origin_of(self.origin.strip())
        if not normalised or normalised != self.origin.strip().rstrip("/").lower():
            raise ValidationError(
                {"origin": _("Enter only a scheme and host, e.g. https://www.example.com.")}
            )
        self.origin = normalised
