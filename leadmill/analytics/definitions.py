"""The short definition shown beside each number (the long ones: docs/analytics.md).

One place, so a screen, a CSV header and the API documentation say the same thing.
"""

from django.utils.translation import gettext_lazy as _

DEFINITIONS = {
    "visitors": _(
        "Browsers whose first page view that was not a bot's fell in the period (new visitors)."
    ),
    "leads": _("People who left a detail and gave permission, counted on the day they came in."),
    "mqls": _("Leads whose stage history reaches MQL (or a later stage), counted once each."),
    "sqls": _("Leads whose stage history reaches SQL (or customer), counted once each."),
    "customers": _("Leads whose stage history reaches customer, counted once each."),
    "visitor_to_lead_rate": _("Leads ÷ visitors of the same period."),
    "reference_rate": _(
        "A reference to compare with: Ruler Analytics' published average is 2.9 %. Change it "
        "to your own goal."
    ),
    "step_rate": _("The share of the stage before that reached this one."),
    "spend": _("Ad spend entered for the period, in the reporting currency."),
    "cost_per_lead": _("Spend ÷ leads; “—” when there is no lead to divide by."),
    "revenue": _("The value of won outcomes."),
    "median_days": _("Median whole days between the two stages (nearest rank)."),
    "cohort": _(
        "Cohort: of the leads created in the period, how many reached each stage (within the "
        "window, if set). Recent cohorts are still maturing."
    ),
    "activity": _(
        "Activity: how many MQLs, SQLs and customers happened in the period, whenever the lead "
        "came in. Rates compare different people and may pass 100 %."
    ),
    "cta_breakdown": _(
        "Each lead under the call to action it clicked last before it came in (“(none)” when "
        "it clicked none); visitors are under “(none)”."
    ),
    "segment_breakdown": _(
        "The leads of the period who are in each segment now. A lead may be in several "
        "segments or in none, so the rows do not add up to the total. Segments have no "
        "visitors and no spend."
    ),
    "comparison": _("The period of the same length just before the one chosen."),
    "quality_share": _("The share of the source's leads created in the period that reached it."),
    "average_score": _(
        "Average over the leads that have scores; predictive is the probability to convert."
    ),
    "days_to_stage": _("Median whole days from the lead's creation to the stage."),
    "page_views": _("Page views that were not a bot's (total, not unique)."),
    "unique_visitors": _(
        "Distinct browsers that viewed the page in the period: exact for a single day, "
        "an estimate (≈) over several days."
    ),
    "unique_visitors_approximate": _(
        "≈ approximate: over several days, distinct browsers are estimated by merging a "
        "sketch of each day's browsers, within 1 % of the exact number. Choose a single day "
        "for the exact number."
    ),
    "page_conversions": _("Accepted form posts sent from the page in the period."),
    "page_rate": _("Conversions ÷ unique visitors of the page (≈ when the visitors are)."),
    "pages_live": _("Landing pages first published by the end of the week and live today."),
    "form_views": _("Times the form was shown (total)."),
    "form_starts": _("Browsers that typed in a field of the form."),
    "form_submissions": _("Accepted posts of the form in the period."),
    "completion_rate": _("Submissions ÷ starts."),
    "time_to_complete": _("Median time from a browser's first field to its accepted post."),
    "field_reached": _("Browsers that entered the field."),
    "field_left": _("Browsers that started but never sent the form, whose last field was this."),
    "field_error_rate": _("Posts refused with an error on this field ÷ all posts of the form."),
}
