"""Daily counts per dimension, the state of their fill, and ad spend.

``DailyCount`` holds, per day and metric, how many entities (visitors, leads, stage
reaches) had one combination of dimensions; every entity has exactly one combination, so a
breakdown by any one dimension is a ``SUM`` over the others and equals a direct count.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Metric(models.TextChoices):
    VISITORS = "visitors", _("Visitors")
    LEADS = "leads", _("Leads")
    # Cohort: dated by the lead's creation; lag_days = whole days from creation to the reach.
    COHORT_MQL = "cohort_mql", _("MQLs of the cohort")
    COHORT_SQL = "cohort_sql", _("SQLs of the cohort")
    COHORT_CUSTOMER = "cohort_customer", _("Customers of the cohort")
    COHORT_REVENUE = "cohort_revenue", _("Revenue of the cohort")
    # Time between stages, dated by the lead's creation; lag_days = whole days of the step.
    GAP_LEAD_MQL = "gap_lead_mql", _("Days from lead to MQL")
    GAP_MQL_SQL = "gap_mql_sql", _("Days from MQL to SQL")
    GAP_SQL_CUSTOMER = "gap_sql_customer", _("Days from SQL to customer")
    # Activity: dated by the first reach of the stage (or the won outcome's date).
    ACTIVITY_MQL = "activity_mql", _("MQLs in the period")
    ACTIVITY_SQL = "activity_sql", _("SQLs in the period")
    ACTIVITY_CUSTOMER = "activity_customer", _("Customers in the period")
    ACTIVITY_REVENUE = "activity_revenue", _("Revenue in the period")


# The columns a report may break down by (``offer`` is derived from ``form_id``). ``cta``:
# the call to action the lead clicked last before it came in (ADR 59).
DIMENSIONS = (
    "channel",
    "source",
    "medium",
    "campaign",
    "landing_page",
    "form_id",
    "country",
    "cta",
)


class DailyCount(models.Model):
    """How many entities of ``metric`` had these dimensions on ``day`` (site time zone).

    Rows of one day are deleted and written again together (one transaction), never edited.
    """

    day = models.DateField()
    metric = models.CharField(max_length=20, choices=Metric.choices)
    channel = models.CharField(max_length=20, blank=True, default="")
    source = models.CharField(max_length=200, blank=True, default="")
    medium = models.CharField(max_length=200, blank=True, default="")
    campaign = models.CharField(max_length=200, blank=True, default="")
    landing_page = models.CharField(max_length=500, blank=True, default="")
    form_id = models.BigIntegerField(default=0)  # 0: no form
    country = models.CharField(max_length=2, blank=True, default="")
    cta = models.CharField(max_length=200, blank=True, default="")  # "": no CTA clicked
    lag_days = models.IntegerField(default=-1)  # -1: not a time-to-stage count
    count = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        indexes = [models.Index(fields=["metric", "day"], name="analytics_count_metric_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.count}"


class FirstVisit(models.Model):
    """A visitor's first non-bot page view: its day (site time zone) and its touch.

    Written by the fill (:mod:`.services`), one row per visitor, for the days it has filled,
    so "new visitors in a period" is a range count and today's raw tail only looks at the
    visitors that have no row yet (ADR 52). A bot visitor gets no row; one flagged as a bot
    after its row was written (``Visitor.is_bot`` sticks) is left out when counted. ``url``
    is the viewed URL as stored; reports read its path (``counts.landing_page_of``).
    """

    visitor_id = models.CharField(primary_key=True, max_length=64)
    day = models.DateField()
    channel = models.CharField(max_length=20, blank=True, default="")
    source = models.CharField(max_length=200, blank=True, default="")
    medium = models.CharField(max_length=200, blank=True, default="")
    campaign = models.CharField(max_length=200, blank=True, default="")
    url = models.CharField(max_length=2000, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["day"], name="analytics_first_visit_day")]

    def __str__(self) -> str:
        return f"{self.visitor_id} {self.day}"


class PageCount(models.Model):
    """One landing page's counts of one day (site time zone): non-bot page views, accepted
    form posts sent from it, and its distinct visitors, exactly (``visitors``) and as a
    sketch to merge over any period (``visitors_sketch``: an Apache DataSketches CPC
    sketch of the visitor ids, ADR 56). Written by the fill with the day's
    :class:`DailyCount` rows, in the same transaction.
    """

    day = models.DateField()
    landing_page = models.CharField(max_length=500)
    views = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    visitors = models.BigIntegerField(default=0)
    visitors_sketch = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "landing_page"], name="analytics_page_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.landing_page} {self.views}"


class FormDayCount(models.Model):
    """One form's plain counts of one day (site time zone), which add up over days: non-bot
    form views, starts without a visitor id, accepted posts, posts (accepted or refused as
    invalid) and, per field, the posts whose errors name it. Written by the fill with the
    day's :class:`DailyCount` rows, in the same transaction (ADR 64)."""

    form_id = models.BigIntegerField()
    day = models.DateField()
    # The form's slug when the day was counted: its events are found by it. A form whose
    # slug changed since has its days counted again by the next fill (ADR 71).
    slug = models.CharField(max_length=60, blank=True, default="")
    views = models.BigIntegerField(default=0)
    anonymous_starts = models.BigIntegerField(default=0)
    submissions = models.BigIntegerField(default=0)
    posts = models.BigIntegerField(default=0)
    errors = models.JSONField(default=dict)  # field name -> posts

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form_id", "day"], name="analytics_form_day")
        ]
        indexes = [models.Index(fields=["day"], name="analytics_form_day_day")]

    def __str__(self) -> str:
        return f"{self.day} form {self.form_id} {self.views}"


class FormBrowserDay(models.Model):
    """What one browser (visitor id) did with one form on one day, as much as the forms
    report needs to count it over any period exactly (ADR 64): its first non-bot start, its
    first accepted post, its first accepted post at or after that start, the field of its
    last field event and the fields it reached. Only browsers that started, touched a field
    or sent an accepted post have a row. Written by the fill with :class:`FormDayCount`."""

    form_id = models.BigIntegerField()
    day = models.DateField()
    visitor_id = models.CharField(max_length=64)
    first_start = models.DateTimeField(null=True)
    first_post = models.DateTimeField(null=True)
    post_after_start = models.DateTimeField(null=True)
    last_field = models.TextField(blank=True, default="")  # as the tracker sent it
    fields = models.JSONField(default=list)  # field names, sorted

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["form_id", "day", "visitor_id"], name="analytics_form_browser_day"
            )
        ]
        indexes = [
            models.Index(fields=["day"], name="analytics_form_browser_dday"),
            # A browser of today's tail looked up among the stored days (ADR 64).
            models.Index(fields=["form_id", "visitor_id"], name="analytics_form_browser_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} form {self.form_id} {self.visitor_id}"


class FillState(models.Model):
    """How far the counts are filled (one row per counts table; Zulip's ``FillState``).

    Days before ``filled_until`` are in the rollup. ``state`` is STARTED while a day is being
    written; a fill that was killed leaves it so and the next run writes that day again
    (each day is one transaction, so nothing of it was kept). The high-water marks find rows
    written late into days already filled.
    """

    class State(models.TextChoices):
        DONE = "done", _("Done")
        STARTED = "started", _("Started")

    name = models.CharField(max_length=40, unique=True)
    filled_until = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    day_in_progress = models.DateField(null=True, blank=True)
    event_id_seen = models.BigIntegerField(default=0)
    stage_change_id_seen = models.BigIntegerField(default=0)
    contact_updated_seen = models.DateTimeField(null=True, blank=True)
    # The oldest form post still waiting to be processed (or retried) at the last fill: a post
    # from there on may have been accepted since, into a day already counted (ADR 62). None:
    # not taken yet (the fill takes it and corrects nothing by it that once).
    submission_id_pending = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.filled_until} ({self.state})"


class Spend(models.Model):
    """What one channel / source / medium / campaign cost on one day, in the reporting
    currency (``LEADMILL_REPORTING_CURRENCY``)."""

    day = models.DateField(_("day"))
    channel = models.CharField(_("channel"), max_length=20, blank=True, default="")
    source = models.CharField(_("source"), max_length=200, blank=True, default="")
    medium = models.CharField(_("medium"), max_length=200, blank=True, default="")
    campaign = models.CharField(_("campaign"), max_length=200, blank=True, default="")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ad spend")
        verbose_name_plural = _("ad spend")
        ordering = ["-day", "channel", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "source", "medium", "campaign"], name="spend_unique_day"
            )
        ]
        indexes = [models.Index(fields=["day"], name="analytics_spend_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.source or self.channel} {self.amount} {self.currency}"


class DigestRecipient(models.Model):
    """A back-office user who gets the weekly analytics digest by email, in their language.

    ``last_week_sent`` (the Monday of the last week sent) makes the weekly send idempotent:
    a retried or repeated run does not send the same week twice.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="analytics_digest",
    )
    last_week_sent = models.DateField(_("last week sent"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("weekly digest recipient")
        verbose_name_plural = _("weekly digest recipients")

    def __str__(self) -> str:
        return str(self.user)


# The attribution models whose credits the fill stores (first touch is the daily counts).
SHARED_MODELS = ("last_touch", "linear", "u_shaped", "time_decay")


class LeadShare(models.Model):
    """A lead's share of credit for one touch key (channel, source, medium, campaign) under
    each attribution model other than first touch (one column per model, ADR 65):
    tracking's model functions over the lead's journey up to its creation, the same as the
    raw reading (ADR 60). Every key of the journey has a row, with a zero share under a
    model that gives it nothing (the raw reading lists it too). Written by the fill for the
    leads of the days it counts; forgotten when a late touch, an identification or a merge
    changes the journey (the next fill writes it again). ``contact_id`` is no foreign key: the
    personal-data registry deletes an erased lead's rows and those of a lead merged away
    (ADR 71).
    """

    contact_id = models.BigIntegerField()
    # The lead's creation (quality's credit-weighted scores of the leads of a period).
    created_at = models.DateTimeField()
    channel = models.CharField(max_length=20, blank=True, default="")
    source = models.CharField(max_length=200, blank=True, default="")
    medium = models.CharField(max_length=200, blank=True, default="")
    campaign = models.CharField(max_length=200, blank=True, default="")
    last_touch = models.FloatField()
    linear = models.FloatField()
    u_shaped = models.FloatField()
    time_decay = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["contact_id"], name="analytics_share_lead"),
            models.Index(fields=["created_at"], name="analytics_share_created"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.source or self.channel} {self.linear}"


class CreditCount(models.Model):
    """The daily counts under an attribution model other than first touch (ADR 65): per
    day, model, metric, touch key and lag, the sum of the credits (``credit``) and of the
    amounts times the credits (``amount``) of the leads' rows of that day. Fractional, so
    floats; rows of one day are deleted and written again with the day's
    :class:`DailyCount` rows, in the same transaction. Not by the lead's landing page, form
    or country: those would multiply the rows by their combinations (a report filtered by
    one is read from the raw journeys)."""

    day = models.DateField()
    model = models.CharField(max_length=20)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    channel = models.CharField(max_length=20, blank=True, default="")
    source = models.CharField(max_length=200, blank=True, default="")
    medium = models.CharField(max_length=200, blank=True, default="")
    campaign = models.CharField(max_length=200, blank=True, default="")
    lag_days = models.IntegerField(default=-1)
    credit = models.FloatField(default=0)
    amount = models.FloatField(default=0)

    class Meta:
        indexes = [models.Index(fields=["model", "day"], name="analytics_credit_model_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.model} {self.metric} {self.credit}"


class JourneyChange(models.Model):
    """A change after the fact that the next fill counts again, then deletes (ADR 65, 71):

    * a lead (``contact_id``) whose journey or history changed: a browser identified as
      the lead attached earlier anonymous events to it (``tracking.VisitorIdentified``), or
      another lead was merged into it. The fill forgets its shares and counts its days
      again;
    * a filled day (``day``) that counted someone no longer there: an erased lead, or the
      lead merged away, noted before its rows went. The fill counts the day again.
    """

    contact_id = models.BigIntegerField(null=True)
    day = models.DateField(null=True)
    noted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.contact_id or self.day} {self.noted_at}"


class LeadRow(models.Model):
    """One lead's row of the daily counts of ``day`` (:func:`.counts.lead_rows`, the per-lead
    statement of the fill): its metric, lag and amount, without its dimensions. Written by
    the fill with the day's :class:`DailyCount` rows, in the same transaction, so the funnel
    by segment counts the stored leads of a period who are members now by one join with the
    segments' memberships (ADR 65) instead of counting each segment from the raw tables."""

    day = models.DateField()
    contact_id = models.BigIntegerField()
    metric = models.CharField(max_length=20, choices=Metric.choices)
    lag_days = models.IntegerField(default=-1)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="analytics_lead_row_day"),
            # A lead's stored days, found before it is erased or merged away (ADR 71).
            models.Index(fields=["contact_id", "day"], name="analytics_lead_row_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.contact_id} {self.metric}"
