"""Back-office screens of consent: the purposes, the suppression list, and the consent part
of a lead's page."""

from django import forms
from django.db.models import Case, CharField, Exists, OuterRef, Q, Subquery, Value, When
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views import generic
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from leadmill.contacts.admin_leads import (
    LEAD_DETAIL_PANELS_HOOK,
    LEAD_LISTING_COLUMNS_HOOK,
    LeadDetailPanel,
    LeadListingColumns,
)
from leadmill.core.admin_viewsets import LimitedPermissionPolicy

from . import selectors, services
from .models import Consent, Purpose, Suppression

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
        InlinePanel("translations", label=gettext_lazy("Checkbox text in other languages")),
        FieldPanel("is_email_marketing"),
    ]
    inspect_view_fields = ["name", "key", "text", "is_email_marketing", "created_at"]


register_snippet(PurposeViewSet)

HASH_PREFIX_LENGTH = 12


class SuppressionForm(WagtailAdminModelForm):
    """Add an address by hand: the address is hashed by the service and never stored."""

    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        help_text=gettext_lazy("Only a keyed hash of the address is kept, not the address."),
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"),
        choices=[
            (value, label)
            for value, label in Suppression.Reason.choices
            if value != Suppression.Reason.ERASED  # written by the erasure of a person only
        ],
        initial=Suppression.Reason.MANUAL,
    )

    class Meta:
        model = Suppression
        fields = ["email", "reason", "detail"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if selectors.is_suppressed(email=email):
            raise forms.ValidationError(_("This address is already on the suppression list."))
        return email

    def save(self, commit: bool = True) -> Suppression:
        data = self.cleaned_data
        services.suppression_add(email=data["email"], reason=data["reason"], detail=data["detail"])
        self.instance = Suppression.objects.get(
            address_hash__in=selectors.address_hashes(data["email"])
        )
        return self.instance


class SuppressionIndexView(generic.IndexView):
    """Searching by an address finds its hash; anything else is taken as a hash prefix."""

    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        query = self.search_query.strip()
        if "@" in query:
            return queryset.filter(address_hash__in=selectors.address_hashes(query))
        return queryset.filter(address_hash__startswith=query.lower())


class SuppressionCreateView(generic.CreateView):
    def get_success_buttons(self):
        return []  # the list has no edit screen

    def get_success_message(self, instance):
        return _("Address added to the suppression list (hash %(prefix)s…).") % {
            "prefix": instance.address_hash[:HASH_PREFIX_LENGTH]
        }


class SuppressionViewSet(ModelViewSet):
    """Addresses that receive no email at all: hard bounces and complaints reported by the
    email provider, erased people, and addresses added by hand. Shown by hash prefix and reason;
    rows are never edited or removed here."""

    model = Suppression
    icon = "warning"
    menu_label = gettext_lazy("Suppression list")
    url_prefix = "suppression-list"
    add_to_settings_menu = True
    permission_policy = LimitedPermissionPolicy(Suppression, actions={"view", "add"})
    copy_view_enabled = False
    inspect_view_enabled = False
    add_to_reference_index = False
    index_view_class = SuppressionIndexView
    add_view_class = SuppressionCreateView
    list_display = [
        Column(
            "address_hash",
            label=gettext_lazy("Address hash"),
            accessor=lambda row: row.address_hash[:HASH_PREFIX_LENGTH] + "…",
        ),
        "reason",
        "detail",
        DateColumn("created_at", label=gettext_lazy("Since"), sort_key="created_at"),
    ]
    list_filter = ["reason"]
    search_fields = ["address_hash"]
    ordering = ["-created_at", "-id"]
    list_per_page = 50

    def get_form_class(self, for_update=False):
        return SuppressionForm


@hooks.register("register_admin_viewset")
def register_suppression_viewset():
    return SuppressionViewSet()


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
        if row.granted and row.awaiting_confirmation:
            return _("Agreed, awaiting email confirmation")
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


@hooks.register(LEAD_LISTING_COLUMNS_HOOK)
def lead_listing_consents() -> LeadListingColumns | None:
    """Two export columns per consent purpose: the lead's current answer ("granted",
    "granted, awaiting confirmation", "withdrawn" after an earlier grant, "declined") and
    when it was given, from the ledger's latest row (empty: never asked)."""
    purposes = list(Purpose.objects.order_by("name").values_list("pk", "name"))
    if not purposes:
        return None
    labels = {
        "awaiting": _("granted, awaiting confirmation"),
        "granted": _("granted"),
        "withdrawn": _("withdrawn"),
        "declined": _("declined"),
    }

    def annotate(queryset):
        for pk, _name in purposes:
            latest = Consent.objects.filter(contact=OuterRef("pk"), purpose_id=pk).order_by(
                "-occurred_at", "-id"
            )
            ever_granted = Consent.objects.filter(
                contact=OuterRef("pk"), purpose_id=pk, granted=True
            )
            granted, awaiting = f"_consent_{pk}_granted", f"_consent_{pk}_awaiting"
            queryset = queryset.alias(
                **{
                    granted: Subquery(latest.values("granted")[:1]),
                    awaiting: Subquery(latest.values("awaiting_confirmation")[:1]),
                }
            ).annotate(
                **{
                    f"consent_{pk}": Case(
                        When(Q(**{granted: True, awaiting: True}), then=Value(labels["awaiting"])),
                        When(Q(**{granted: True}), then=Value(labels["granted"])),
                        When(
                            Q(**{granted: False}) & Exists(ever_granted),
                            then=Value(labels["withdrawn"]),
                        ),
                        When(Q(**{granted: False}), then=Value(labels["declined"])),
                        default=Value(""),
                        output_field=CharField(),
                    ),
                    f"consent_{pk}_at": Subquery(latest.values("occurred_at")[:1]),
                }
            )
        return queryset

    export = []
    for pk, name in purposes:
        export += [
            (f"consent_{pk}", _("Consent: %(purpose)s") % {"purpose": name}),
            (f"consent_{pk}_at", _("Consent: %(purpose)s, at") % {"purpose": name}),
        ]
    return LeadListingColumns(annotate=annotate, export=export, order=50)
