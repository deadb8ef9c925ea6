import re

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from leadmill.tracking.models import TOUCH_CHANNEL_CHOICES, EventType
from leadmill.tracking.sources import source_canonical


class ScoringModel(models.Model):
    """A predictive scorer trained on contacts with a known outcome, with its held-out figures.

    Each training stores two rows, the learned model and the baseline, and activates the one
    with the better held-out AUC; at most one row is active. ``fitted`` is the pickled
    scorer. Unpickling runs code, so it is loaded only when ``fitted_digest`` (an HMAC of the
    bytes under SECRET_KEY, written by our own trainer) matches and the library versions are
    the ones it was trained with: a row written by anything else is never loaded.
    """

    class Kind(models.TextChoices):
        LEARNED = "learned", _("Learned (calibrated gradient boosting)")
        BASELINE = "baseline", _("Baseline (naive Bayes frequency tables)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    trained_at = models.DateTimeField(_("trained"), default=timezone.now, db_index=True)
    is_active = models.BooleanField(_("active"), default=False)
    metrics = models.JSONField(
        _("held-out metrics"),
        default=dict,
        help_text=_("AUC, ECE, lift by decile and the calibration table, from cross-validation."),
    )
    features = models.JSONField(_("features"), default=dict)
    rows = models.PositiveIntegerField(_("training rows"), default=0)
    positives = models.PositiveIntegerField(_("won rows"), default=0)
    fitted = models.BinaryField(_("fitted scorer"), editable=False)
    fitted_digest = models.CharField(max_length=64, editable=False)
    library_versions = models.JSONField(default=dict, editable=False)

    class Meta:
        verbose_name = _("scoring model")
        verbose_name_plural = _("scoring models")
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="scoring_one_active_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.trained_at:%Y-%m-%d %H:%M}"


# --- Rules, settings and stored scores ---------------------------------------------------------

# Lead fields a fit rule may test, besides "custom.<key>" and "email_type".
FIT_FIELDS = (
    "role",
    "company_size",
    "segment",
    "country",
    "language",
    "time_zone",
    "company_name",
    "first_channel",
    "first_source",
    "first_medium",
    "first_campaign",
    "last_channel",
    "last_source",
    "last_medium",
    "last_campaign",
)
# Fit fields that hold names of the one source vocabulary (leadmill.tracking.sources).
CHANNEL_FIELDS = frozenset({"first_channel", "last_channel"})
SOURCE_FIELDS = frozenset({"first_source", "last_source"})
EMAIL_TYPE = "email_type"
CUSTOM_FIELD_PREFIX = "custom."
LEAD_CAPTURED = "lead_captured"
# Field events (one per field entered, for analytics' forms report) are not behaviour to score.
ENGAGEMENT_EVENT_TYPES = [
    (LEAD_CAPTURED, _("Form submitted and accepted")),
    *(choice for choice in EventType.choices if choice[0] != EventType.FORM_FIELD),
]


def _fit_field_validate(value: str) -> None:
    if value in FIT_FIELDS or value == EMAIL_TYPE:
        return
    if value.startswith(CUSTOM_FIELD_PREFIX) and re.fullmatch(r"[-a-zA-Z0-9_]+", value[7:]):
        return
    raise ValidationError(
        _("Use a lead field (%(fields)s), custom.<key> for a custom field, or email_type.")
        % {"fields": ", ".join(FIT_FIELDS)}
    )


class FitRule(models.Model):
    """How well a lead matches the ideal customer profile: points when a field passes a test.

    A lead's fit score is the sum of the points of the active rules it passes. Text tests
    ignore case; ``gte`` / ``lte`` compare numbers (a value that is not a number never
    passes). ``email_type`` is ``business`` or ``free`` (free mail: gmail.com, outlook.com …).
    """

    class Operator(models.TextChoices):
        EQUALS = "equals", _("equals")
        IN = "in", _("is one of (comma separated)")
        CONTAINS = "contains", _("contains")
        GTE = "gte", _("is at least")
        LTE = "lte", _("is at most")
        IS_SET = "is_set", _("is filled in")

    field = models.CharField(
        _("field"),
        max_length=60,
        validators=[_fit_field_validate],
        help_text=_("A lead field such as role or country, custom.<key>, or email_type."),
    )
    operator = models.CharField(_("test"), max_length=10, choices=Operator.choices)
    value = models.CharField(_("value"), max_length=500, blank=True)
    points = models.IntegerField(_("points"), help_text=_("Negative points lower the fit."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("fit rule")
        verbose_name_plural = _("fit rules")
        ordering = ["field", "id"]

    def __str__(self) -> str:
        return f"{self.field} {self.get_operator_display()} {self.value}: {self.points:+d}"

    def clean(self) -> None:
        if self.operator in (self.Operator.GTE, self.Operator.LTE):
            try:
                float(self.value)
            except ValueError:
                raise ValidationError({"value": _("Enter a number to compare with.")}) from None
        elif self.operator != self.Operator.IS_SET and not self.value.strip():
            raise ValidationError({"value": _("Enter the value to test for.")})
        if (
            self.field == EMAIL_TYPE
            and self.operator == self.Operator.EQUALS
            and self.value not in ("business", "free")
        ):
            raise ValidationError({"value": _("The email type is business or free.")})
        if self.operator in (self.Operator.EQUALS, self.Operator.IN):
            self._vocabulary_clean()

    def _vocabulary_clean(self) -> None:
        """Channels must be ones tracking gives; sources are stored by their canonical name
        (``IG`` and ``l.instagram.com`` are ``instagram``), as contacts hold them."""
        names = [name.strip() for name in self.value.split(",") if name.strip()]
        if self.field in CHANNEL_FIELDS:
            known = dict(TOUCH_CHANNEL_CHOICES)
            if any(name.lower() not in known for name in names):
                raise ValidationError(
                    {
                        "value": _("A channel is one of: %(channels)s.")
                        % {"channels": ", ".join(known)}
                    }
                )
            self.value = ", ".join(name.lower() for name in names)
        elif self.field in SOURCE_FIELDS:
            self.value = ", ".join(source_canonical(name) or name for name in names)

    def values(self) -> list[str]:
        """The lower-cased values an ``in`` rule accepts."""
        return [part.strip().lower() for part in self.value.split(",") if part.strip()]


class EngagementRule(models.Model):
    """Points for a behaviour: an event of a type, optionally filtered, decaying over time.

    ``lead_captured`` counts accepted form submissions (filter by form or offer); the other
    types count tracking events that are not bots (filter by URL, form, a property). With a
    cap, the rule gives at most ``cap_points`` per lead in each period of ``cap_days`` days
    (periods counted from 1970-01-01 UTC), the earliest events first.
    """

    name = models.CharField(_("name"), max_length=100)
    event_type = models.CharField(_("event"), max_length=20, choices=ENGAGEMENT_EVENT_TYPES)
    url_contains = models.CharField(_("URL contains"), max_length=500, blank=True)
    form = models.ForeignKey(
        "capture.Form",
        verbose_name=_("form"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    offer = models.ForeignKey(
        "capture.Offer",
        verbose_name=_("offer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("For form submissions only."),
    )
    property_key = models.CharField(_("property"), max_length=100, blank=True)
    property_value = models.CharField(_("property value"), max_length=200, blank=True)
    points = models.IntegerField(_("points"))
    cap_points = models.PositiveIntegerField(_("at most (points)"), null=True, blank=True)
    cap_days = models.PositiveIntegerField(_("per (days)"), null=True, blank=True)
    is_intent_signal = models.BooleanField(
        _("strong buying intent"),
        default=False,
        help_text=_("Makes the lead hot at once (e.g. a visit to the pricing page)."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("engagement rule")
        verbose_name_plural = _("engagement rules")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.points:+d}"

    @property
    def is_capped(self) -> bool:
        return bool(self.cap_points and self.cap_days and self.points > 0)

    def clean(self) -> None:
        if bool(self.cap_points) != bool(self.cap_days):
            raise ValidationError({"cap_days": _("A cap needs both the points and the days.")})
        if self.cap_points and self.points <= 0:
            raise ValidationError({"cap_points": _("Only rules that add points can be capped.")})
        if self.offer_id and self.event_type != LEAD_CAPTURED:
            raise ValidationError({"offer": _("Only form submissions have an offer.")})
        if self.event_type == LEAD_CAPTURED and (self.url_contains or self.property_key):
            raise ValidationError(
                {"url_contains": _("Form submissions are filtered by form or offer.")}
            )


@register_setting(icon="crosshairs")
class ScoringSettings(BaseGenericSetting):
    """How scores turn into temperature and stage. One row for the whole installation."""

    half_life_days = models.FloatField(
        _("engagement half-life (days)"),
        default=14,
        validators=[MinValueValidator(0.01)],
        help_text=_("After this many days a behaviour counts half as much."),
    )
    warm_threshold = models.IntegerField(_("warm from (fit + engagement)"), default=20)
    hot_threshold = models.IntegerField(_("hot from (fit + engagement)"), default=50)
    intent_hot_days = models.PositiveIntegerField(
        _("hot after an intent signal for (days)"),
        default=30,
        help_text=_("A demo request keeps the lead hot this long, whatever its scores."),
    )
    mql_fit_threshold = models.IntegerField(_("MQL: fit at least"), default=30)
    mql_engagement_threshold = models.IntegerField(_("MQL: engagement at least"), default=20)
    demote_on_decay = models.BooleanField(
        _("back to lead when the scores decay"),
        default=False,
        help_text=_("Only leads the scores made MQL go back; a person's choice stays."),
    )

    panels = [
        FieldPanel("half_life_days"),
        FieldPanel("warm_threshold"),
        FieldPanel("hot_threshold"),
        FieldPanel("intent_hot_days"),
        FieldPanel("mql_fit_threshold"),
        FieldPanel("mql_engagement_threshold"),
        FieldPanel("demote_on_decay"),
    ]

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")

    def clean(self) -> None:
        if self.hot_threshold < self.warm_threshold:
            raise ValidationError({"hot_threshold": _("Hot must start at or above warm.")})


class ContactScore(models.Model):
    """A lead's scores: one row per contact.

    ``engagement_score`` is the engagement at ``engagement_at``; it decays without a write:
    now it is ``engagement_score * 0.5 ** ((now - engagement_at) / half_life)`` (see
    :func:`.selectors.engagement_now`). A new tracking event rescores the lead from its
    events (:func:`.services.score_apply_event`), so each event counts once, in any order.
    """

    contact = models.OneToOneField(
        "contacts.Contact", primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    fit_score = models.IntegerField(_("fit"), default=0)
    engagement_score = models.FloatField(_("engagement at its reference time"), default=0)
    engagement_at = models.DateTimeField(_("engagement reference time"))
    intent_at = models.DateTimeField(_("last intent signal"), null=True, blank=True)
    predictive_probability = models.FloatField(_("predictive probability"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("lead score")
        verbose_name_plural = _("lead scores")
        indexes = [
            models.Index(fields=["fit_score"], name="scoring_fit_idx"),
            models.Index(
                fields=["engagement_at", "engagement_score"], name="scoring_engagement_idx"
            ),
            models.Index(fields=["predictive_probability"], name="scoring_predictive_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.contact_id}: fit {self.fit_score}, engagement {self.engagement_score:.1f}"


class ScoreAdjustment(models.Model):
    """Engagement points given to a lead by a person or an automation (a sequence step "add
    points"), not earned by a tracked behaviour.

    They count in the engagement score like a rule's hit at ``occurred_at`` (decaying with
    the half-life; no cap, no intent), in the recompute as in the incremental path, and show
    among the lead's reasons. Negative points lower the engagement.
    """

    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="score_adjustments",
        db_index=False,  # covered by scoring_adjustment_contact_idx
    )
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("given"))

    class Meta:
        verbose_name = _("score adjustment")
        verbose_name_plural = _("score adjustments")
        indexes = [
            models.Index(fields=["contact", "occurred_at"], name="scoring_adjustment_contact_idx")
        ]

    def __str__(self) -> str:
        return f"#{self.contact_id}: {self.points:+d} {self.reason}"
