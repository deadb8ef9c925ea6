"""The scoring part of ``leadmill run --demo``: fit and engagement rules that tell the demo's
leads apart, so a new install shows scores, temperatures and reasons from the first form.

By the demo's own definition a demo request is hot and qualified: its engagement rule is an
intent signal worth the MQL engagement threshold, and the demo form asks for the company,
which is worth the MQL fit threshold the seed sets. An e-book download from a business
address is warm. Created once, only when there are no scoring rules yet.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_noop

from leadmill.capture.models import Form

from .models import LEAD_CAPTURED, EngagementRule, FitRule, ScoringSettings

DEMO_MQL_FIT = 20
DEMO_MQL_ENGAGEMENT = 20


def scoring_demo_seed() -> bool:
    """Create the demo's scoring rules unless any rule exists; True when created."""
    ebook = Form.objects.filter(slug="ebook").select_related("offer").first()
    demo = Form.objects.filter(slug="demo-request").select_related("offer").first()
    if ebook is None or demo is None:
        return False
    if FitRule.objects.exists() or EngagementRule.objects.exists():
        return False
    # Rule names are stored as written in the message catalogue (gettext_noop): each reader
    # sees them in their own language (scoring.reasons.rule_name_display).
    with transaction.atomic():
        FitRule.objects.bulk_create(
            [
                FitRule(field="company_name", operator=FitRule.Operator.IS_SET, points=20),
                FitRule(
                    field="email_type",
                    operator=FitRule.Operator.EQUALS,
                    value="business",
                    points=10,
                ),
                FitRule(field="role", operator=FitRule.Operator.IS_SET, points=5),
                FitRule(
                    field="company_size",
                    operator=FitRule.Operator.IN,
                    value="11-50, 51-200, 201-1000",
                    points=10,
                ),
            ]
        )
        EngagementRule.objects.bulk_create(
            [
                EngagementRule(
                    name=gettext_noop("Asked for a demo"),
                    event_type=LEAD_CAPTURED,
                    form=demo,
                    points=DEMO_MQL_ENGAGEMENT + 10,
                    is_intent_signal=True,
                ),
                EngagementRule(
                    name=gettext_noop("Downloaded the e-book"),
                    event_type=LEAD_CAPTURED,
                    form=ebook,
                    points=15,
                ),
                EngagementRule(
                    name=gettext_noop("Viewed a page"),
                    event_type="page_view",
                    points=2,
                    cap_points=10,
                    cap_days=7,
                ),
                EngagementRule(
                    name=gettext_noop("Opened the demo page"),
                    event_type="page_view",
                    url_contains="/demo/",
                    points=5,
                ),
                EngagementRule(
                    name=gettext_noop("Clicked a link in an email"),
                    event_type="email_click",
                    points=5,
                ),
            ]
        )
        _form_rules_for_translations(forms=(demo, ebook))
        settings = ScoringSettings.load()
        settings.mql_fit_threshold = DEMO_MQL_FIT
        settings.mql_engagement_threshold = DEMO_MQL_ENGAGEMENT
        settings.save()
    return True


def _form_rules_for_translations(*, forms: tuple[Form, ...]) -> None:
    """The demo forms' translations (ADR 43: ``demo-request-pt-br`` …) score as their
    sources do: a rule names one form, so each translation gets a copy of its form's rules."""
    for form in forms:
        rules = list(EngagementRule.objects.filter(form=form).order_by("pk"))
        for translation in form.get_translations().select_related("locale"):
            # The source's name: a reason reads the same whichever form the lead used, in
            # the reader's language (scoring.reasons.rule_name_display); the listing's
            # "form" column tells the rules apart.
            EngagementRule.objects.bulk_create(
                [
                    EngagementRule(
                        name=rule.name,
                        event_type=rule.event_type,
                        form=translation,
                        points=rule.points,
                        is_intent_signal=rule.is_intent_signal,
                    )
                    for rule in rules
                ]
            )
