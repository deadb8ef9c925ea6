"""Back-office screens of consent: the purposes, and the consent part of a lead's page."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail import hooks
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from leadmill.contacts.views import (
    LEAD_DETAIL_PANELS_HOOK,
    LeadDetailPanel,
    LimitedPermissionPolicy,
)

from .models import Consent, Purpose

LEDGER_ROWS_SHOWN = 200


class PurposeViewSet(SnippetViewSet):
    """Consent purposes. Editing a text makes a new version; consents keep the one they saw.

    Purposes cannot be deleted here: the ledger's proof points to them.
    """

    model = Purpose
    icon = "tick"
    menu_label = gettext_lazy("Consent purposes")
    add_to_settings_menu = True
    copy_view_enabled = False
    inspect_view_enabled = True
    permission_policy = LimitedPermissionPolicy(Purpose, actions={"view", "add", "change"})
    list_display = ["name", "key", "is_email_marketing"]
    search_fields = ["name", "key"]
    panels = [
        FieldPanel("name"),
        FieldPanel("key"),
        FieldPanel("text"),
        FieldPanel("is_email_marketing"),
    ]
    inspect_view_fields = ["name", "key", "text", "is_email_marketing", "created_at"]


register_snippet(PurposeViewSet)


@hooks.register(LEAD_DETAIL_PANELS_HOOK)
def lead_consent_panels(request, contact) -> list[LeadDetailPanel]:
    """The lead's current answer for every purpose, then the ledger with its proof."""
    ledger = list(
        Consent.objects.filter(contact=contact)
        .select_related("purpose", "purpose_text")
        .order_by("-occurred_at", "-id")[:LEDGER_ROWS_SHOWN]
    )
    latest: dict[int, Consent] = {}
    for row in ledger:
        latest.setdefault(row.purpose_id, row)

    def answer(row: Consent) -> str:
        return _("Agreed") if row.granted else _("Declined")

    def version(row: Consent) -> str:
        return f"v{row.purpose_text.version}" if row.purpose_text else "?"

    current_rows = []
    for purpose in Purpose.objects.order_by("name"):
        row = latest.get(purpose.pk)
        current_rows.append(
            (purpose.name, answer(row), row.occurred_at, version(row))
            if row
            else (purpose.name, _("No answer"), None, None)
        )
    return [
        LeadDetailPanel(
            heading=_("Consent"),
            columns=(_("Purpose"), _("Current answer"), _("Since"), _("Text version")),
            rows=current_rows,
            empty_message=_("No consent purposes are defined."),
            order=10,
        ),
        LeadDetailPanel(
            heading=_("Consent ledger"),
            columns=(
                _("When"),
                _("Purpose"),
                _("Answer"),
                _("Text version"),
                _("How"),
                _("Page"),
                _("IP address"),
            ),
            rows=[
                (
                    row.occurred_at,
                    row.purpose.name,
                    answer(row),
                    version(row),
                    row.get_method_display(),
                    row.page_url,
                    row.ip_address,
                )
                for row in ledger
            ],
            empty_message=_("This lead has not answered any consent question."),
            order=11,
        ),
    ]
