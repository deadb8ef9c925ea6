"""Back-office screens of scoring: fit and engagement rules (the scoring settings are a
Wagtail setting, under Settings). Saving or deleting a rule queues a recompute of every
lead's scores."""

import django_filters
from django.db import connection, transaction
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.admin.ui.tables import Column
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from leadmill.contacts.admin_leads import (
    LEAD_DETAIL_PANELS_HOOK,
    LEAD_LISTING_COLUMNS_HOOK,
    LEAD_LISTING_FILTERS_HOOK,
    LeadDetailPanel,
    LeadListingColumns,
)
from leadmill.core.admin_viewsets import boolean_column

from . import rules
from .models import ContactScore, EngagementRule, FitRule, ScoringSettings
from .reasons import lead_score_reasons
from .selectors import contact_score, engagement_now, predictive_score


class FitRuleViewSet(SnippetViewSet):
    model = FitRule
    icon = "crosshairs"
    menu_label = _("Fit rules")
    list_display = ["field", "operator", "value", "points", boolean_column(FitRule, "is_active")]
    list_filter = ["operator", "is_active"]
    search_fields = ["field", "value"]
    panels = [
        FieldPanel("field"),
        FieldPanel("operator"),
        FieldPanel("value"),
        FieldPanel("points"),
        FieldPanel("is_active"),
    ]


class EngagementRuleViewSet(SnippetViewSet):
    model = EngagementRule
    icon = "pick"
    menu_label = _("Engagement rules")
    list_display = [
        "name",
        "event_type",
        "form",
        "points",
        "cap_points",
        "cap_days",
        boolean_column(EngagementRule, "is_intent_signal"),
        boolean_column(EngagementRule, "is_active"),
    ]
    list_filter = ["event_type", "is_intent_signal", "is_active"]
    search_fields = ["name", "url_contains"]
    panels = [
        FieldPanel("name"),
        FieldPanel("event_type"),
        MultiFieldPanel(
            [
                FieldPanel("url_contains"),
                FieldPanel("form"),
                FieldPanel("offer"),
                FieldRowPanel([FieldPanel("property_key"), FieldPanel("property_value")]),
            ],
            heading=_("Only events that match"),
        ),
        FieldPanel("points"),
        FieldRowPanel([FieldPanel("cap_points"), FieldPanel("cap_days")], heading=_("Cap")),
        FieldPanel("is_intent_signal"),
        FieldPanel("is_active"),
    ]


class ScoringRulesGroup(SnippetViewSetGroup):
    menu_label = _("Scoring rules")
    menu_icon = "crosshairs"
    items = (FitRuleViewSet, EngagementRuleViewSet)


register_snippet(ScoringRulesGroup)


@hooks.register("after_create_snippet")
@hooks.register("after_edit_snippet")
@hooks.register("after_delete_snippet")
def recompute_after_a_rule_changed(request, instances):
    """Every lead's scores follow the rules once the edit is committed (a background task)."""
    changed = (
        instances
        if isinstance(instances, list | tuple) or hasattr(instances, "model")
        else [instances]
    )
    if any(isinstance(instance, FitRule | EngagementRule) for instance in changed):
        from .tasks import scores_recompute_task

        transaction.on_commit(scores_recompute_task)


# Sales (a layer above) shows these on "My leads" and the lead page; the hook's name is
# declared by sales (``leadmill.sales.selectors.LEAD_REASONS_HOOK``), which scoring may not import.
SALES_LEAD_REASONS_HOOK = "leadmill_sales_lead_reasons"


@hooks.register(SALES_LEAD_REASONS_HOOK)
def sales_lead_reasons(contact):
    """Why the lead is hot: intent, top behaviours, given points, predictive chance, scores."""
    return lead_score_reasons(contact=contact)


# --- The lead's scores on its page and in the leads listing --------------------------------


@hooks.register(LEAD_DETAIL_PANELS_HOOK)
def lead_scores_panel(request, contact):
    """Fit, engagement (decayed to now), their total and the chance to win, with why."""
    score = contact_score(contact_id=contact.pk)
    if score is None:
        return LeadDetailPanel(
            heading=_("Scores"),
            empty_message=_("Not scored yet: scores come with the lead's first form or visit."),
            order=5,
        )
    engagement = round(engagement_now(score=score))
    predicted = predictive_score(contact=contact)
    return LeadDetailPanel(
        heading=_("Scores"),
        facts=[
            (_("Fit"), score.fit_score),
            (_("Engagement"), engagement),
            (_("Total"), score.fit_score + engagement),
            (
                _("Chance to win"),
                f"{predicted.probability * 100:.0f} %" if predicted is not None else None,
            ),
        ],
        notes=lead_score_reasons(contact=contact),
        notes_heading=_("Why"),
        order=5,
    )


def _scores_annotate(queryset):
    """Each lead's fit, engagement decayed to now, total and chance to win (in %), as
    correlated subqueries of its score row (0 / empty before it was scored)."""
    score_table = connection.ops.quote_name(ContactScore._meta.db_table)
    contact_id = (
        f"{connection.ops.quote_name(queryset.model._meta.db_table)}."
        f"{connection.ops.quote_name('id')}"
    )
    decay = rules.decay_sql(
        "s.engagement_score", "s.engagement_at", ScoringSettings.load().half_life_days
    )
    now = rules.reference_param(timezone.now())

    def per_contact(expression: str, params: list):
        return RawSQL(  # noqa: S611 -- quoted names and placeholders only
            f"(SELECT {expression} FROM {score_table} s WHERE s.contact_id = {contact_id})",  # noqa: S608 -- quoted names only
            params,
        )

    return queryset.annotate(
        score_fit=Coalesce(per_contact("s.fit_score", []), 0, output_field=IntegerField()),
        score_engagement=Coalesce(
            per_contact(f"ROUND({decay})", [now]), 0, output_field=IntegerField()
        ),
        score_total=Coalesce(
            per_contact(f"s.fit_score + ROUND({decay})", [now]), 0, output_field=IntegerField()
        ),
        score_chance=per_contact("ROUND(CAST(s.predictive_probability * 100 AS NUMERIC), 0)", []),
    )


@hooks.register(LEAD_LISTING_COLUMNS_HOOK)
def lead_listing_scores():
    return LeadListingColumns(
        annotate=_scores_annotate,
        columns=[
            Column("score_fit", label=_("Fit"), sort_key="score_fit"),
            Column("score_engagement", label=_("Engagement"), sort_key="score_engagement"),
            Column("score_total", label=_("Total score"), sort_key="score_total"),
            Column("score_chance", label=_("Chance to win (%)"), sort_key="score_chance"),
        ],
        # The chance first: it is empty until a model is trained, and an XLSX reader
        # drops the empty cells that end a row.
        export=[
            ("score_chance", _("Chance to win (%)")),
            ("score_fit", _("Fit score")),
            ("score_engagement", _("Engagement score")),
            ("score_total", _("Total score")),
        ],
    )


@hooks.register(LEAD_LISTING_FILTERS_HOOK)
def lead_listing_score_filters():
    return {
        "score_total": django_filters.NumberFilter(
            field_name="score_total", lookup_expr="gte", label=_("Total score at least")
        ),
        "score_fit": django_filters.NumberFilter(
            field_name="score_fit", lookup_expr="gte", label=_("Fit at least")
        ),
        "score_engagement": django_filters.NumberFilter(
            field_name="score_engagement", lookup_expr="gte", label=_("Engagement at least")
        ),
    }
