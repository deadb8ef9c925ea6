"""Back-office screens of scoring: fit and engagement rules (the scoring settings are a
Wagtail setting, under Settings). Saving or deleting a rule queues a recompute of every
lead's scores."""

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from .models import EngagementRule, FitRule
from .reasons import lead_score_reasons


class FitRuleViewSet(SnippetViewSet):
    model = FitRule
    icon = "crosshairs"
    menu_label = _("Fit rules")
    list_display = ["field", "operator", "value", "points", "is_active"]
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
        "points",
        "cap_points",
        "cap_days",
        "is_intent_signal",
        "is_active",
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
