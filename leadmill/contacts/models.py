from django.conf import settings
from django.contrib.admin import display as admin_display
from django.db import models
from django.utils.translation import gettext_lazy as _


class LifecycleStage(models.TextChoices):
    LEAD = "lead", _("Lead")
    MQL = "mql", _("Marketing qualified (MQL)")
    SQL = "sql", _("Sales qualified (SQL)")
    CUSTOMER = "customer", _("Customer")
    DISQUALIFIED = "disqualified", _("Disqualified")


class Temperature(models.TextChoices):
    COLD = "cold", _("Cold")
    WARM = "warm", _("Warm")
    HOT = "hot", _("Hot")


class Outcome(models.TextChoices):
    OPEN = "", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Company(models.Model):
    """An organisation; contacts with a business email are matched to it by domain."""

    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("email domain"), max_length=253, unique=True, null=True, blank=True)
    size = models.CharField(_("company size"), max_length=50, blank=True)
    industry = models.CharField(_("segment / industry"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person who left a detail and gave permission; a "lead" in the back office.

    ``email`` is normalised (see :mod:`.identity`) and unique when present; ``phone`` is
    E.164 and not unique. ``custom`` holds custom field values keyed by
    :class:`CustomFieldDefinition.key`, so they can be filtered in SQL.
    """

    wagtail_reference_index_ignore = True  # high volume; Wagtail content never links to it

    email = models.EmailField(_("email"), max_length=254, unique=True, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    role = models.CharField(_("role"), max_length=100, blank=True)
    company_size = models.CharField(_("company size"), max_length=50, blank=True)
    segment = models.CharField(_("segment / industry"), max_length=100, blank=True)
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO 3166-1 code, e.g. BR, PT, US.")
    )
    country_as_written = models.CharField(
        _("country as written"),
        max_length=100,
        blank=True,
        help_text=_("What the lead typed when it names no country Leadmill knows."),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=20,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )
    stage_changed_at = models.DateTimeField(_("stage changed"), null=True, blank=True)
    temperature = models.CharField(
        _("temperature"), max_length=10, choices=Temperature.choices, default=Temperature.COLD
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
    )

    # The one source vocabulary (docs/adr/0021-one-intake-and-one-source-vocabulary.md):
    # channel, source, medium and campaign as tracking classifies them
    # (leadmill.tracking.sources), the raw UTM values beside them as they were posted.
    first_channel = models.CharField(_("first touch channel"), max_length=20, blank=True)
    first_source = models.CharField(_("first touch source"), max_length=100, blank=True)
    first_medium = models.CharField(_("first touch medium"), max_length=100, blank=True)
    first_campaign = models.CharField(_("first touch campaign"), max_length=200, blank=True)
    first_utm_source = models.CharField(_("first touch utm_source"), max_length=100, blank=True)
    first_utm_medium = models.CharField(_("first touch utm_medium"), max_length=100, blank=True)
    first_utm_campaign = models.CharField(_("first touch utm_campaign"), max_length=200, blank=True)
    first_referrer = models.CharField(_("first touch referrer"), max_length=500, blank=True)
    first_landing_url = models.CharField(_("first landing page"), max_length=500, blank=True)
    first_touch_at = models.DateTimeField(_("first touch"), null=True, blank=True)
    last_channel = models.CharField(_("last touch channel"), max_length=20, blank=True)
    last_source = models.CharField(_("last touch source"), max_length=100, blank=True)
    last_medium = models.CharField(_("last touch medium"), max_length=100, blank=True)
    last_campaign = models.CharField(_("last touch campaign"), max_length=200, blank=True)
    last_utm_source = models.CharField(_("last touch utm_source"), max_length=100, blank=True)
    last_utm_medium = models.CharField(_("last touch utm_medium"), max_length=100, blank=True)
    last_utm_campaign = models.CharField(_("last touch utm_campaign"), max_length=200, blank=True)
    last_referrer = models.CharField(_("last touch referrer"), max_length=500, blank=True)
    last_landing_url = models.CharField(_("last landing page"), max_length=500, blank=True)
    last_touch_at = models.DateTimeField(_("last touch"), null=True, blank=True)

    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN, blank=True
    )
    outcome_value = models.DecimalField(
        _("outcome value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    outcome_at = models.DateTimeField(_("outcome date"), null=True, blank=True)
    outcome_reason = models.CharField(_("outcome reason"), max_length=200, blank=True)

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["lifecycle_stage", "created_at"], name="contact_stage_idx"),
            models.Index(fields=["temperature", "created_at"], name="contact_temp_idx"),
            models.Index(fields=["first_source", "first_medium"], name="contact_source_idx"),
            # Won deals by date (analytics' activity reading, every report's raw tail, ADR 56);
            # partial: only a won outcome writes a page of it.
            models.Index(
                fields=["outcome_at"], name="contact_won_at_idx", condition=models.Q(outcome="won")
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"#{self.pk}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class StageChange(models.Model):
    """One change of a contact's lifecycle stage, with its time and cause. Append-only."""

    wagtail_reference_index_ignore = True  # high volume; Wagtail content never links to it

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField(db_index=True)
    cause = models.CharField(_("cause"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["to_stage", "changed_at"], name="stagechange_to_idx")]

    def __str__(self) -> str:
        return f"{self.from_stage or '-'} -> {self.to_stage}"


# Why two contacts were flagged, as screens name it: ``reason`` keeps the English key.
DUPLICATE_REASONS = {"same phone, different email": _("same phone, different email")}


class PossibleDuplicate(models.Model):
    """Two contacts that may be one person, waiting for a person to merge or dismiss them."""

    class Resolution(models.TextChoices):
        OPEN = "", _("Open")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Not a duplicate")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "other"], name="possible_duplicate_pair")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} ~ {self.other_id}"

    @admin_display(description=_("reason"))
    def reason_label(self) -> str:
        """The reason in the reader's language (an unknown one as stored)."""
        return str(DUPLICATE_REASONS.get(self.reason, self.reason))


class ContactMerge(models.Model):
    """Record of a merge: the merged contact's data as it was, kept for audit."""

    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_contact_id = models.BigIntegerField()
    merged_data = models.JSONField()
    merged_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("contact merge")
        verbose_name_plural = _("contact merges")

    def __str__(self) -> str:
        return f"#{self.merged_contact_id} → #{self.survivor_id}"


class CustomFieldDefinition(models.Model):
    """A typed custom field; values live in ``Contact.custom[key]``."""

    class FieldType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(_("key"), max_length=50, unique=True)
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(
        _("type"), max_length=10, choices=FieldType.choices, default="text"
    )
    choices = models.TextField(
        _("choices"), blank=True, help_text=_("One per line, for choice fields.")
    )

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]
