"""Back-office screens of contacts: Leads, Possible duplicates, and lead custom fields.

Their views live in ``admin_leads.py`` and ``admin_duplicates.py``; this module only wires
them into Wagtail's admin.
"""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.viewsets.model import ModelViewSet

from leadmill.core.admin_viewsets import LimitedPermissionPolicy

from .admin_bulk import LeadsExportBulkAction, LeadsStageChangeBulkAction
from .admin_duplicates import (
    DuplicateDismissView,
    DuplicateIndexView,
    DuplicateMergeView,
    DuplicateReviewView,
)
from .admin_leads import (
    DUPLICATES_URL_NAMESPACE,
    LEADS_URL_NAMESPACE,
    LeadAdminForm,
    LeadDataExportView,
    LeadEditView,
    LeadIndexView,
    LeadInspectView,
    LeadStageChangeView,
    lead_company,
)
from .models import Contact, CustomFieldDefinition, PossibleDuplicate


class LeadViewSet(ModelViewSet):
    """Leads: newest first, searchable, filterable, exportable to CSV and XLSX.

    Leads arrive through forms, imports and the API, with their consent: the back office
    edits them but does not create or delete them. The lifecycle stage is not in the edit form because
    every change of it is kept with its cause (``contact_stage_change``).
    """

    model = Contact
    name = LEADS_URL_NAMESPACE
    url_prefix = "leads"
    menu_label = _("Leads")
    icon = "user"
    add_to_admin_menu = True
    menu_order = 150
    copy_view_enabled = False
    inspect_view_enabled = True
    # No "delete": removing a person must go through erasure (privacy), which keeps the
    # suppression that stops them being emailed again; a plain delete would lose it.
    permission_policy = LimitedPermissionPolicy(Contact, actions={"view", "change"})

    index_view_class = LeadIndexView
    inspect_view_class = LeadInspectView
    edit_view_class = LeadEditView

    list_display = [
        "email",  # replaced by the "Lead" column (name · email) in LeadIndexView
        Column("company", label=_("Company"), accessor=lead_company, sort_key="company_name"),
        "lifecycle_stage",
        "temperature",
        "first_source",
        DateColumn("created_at", label=_("Created"), sort_key="created_at"),
    ]
    search_fields = ["email", "first_name", "last_name", "company_name", "phone"]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    list_export = [
        "email",
        "first_name",
        "last_name",
        "phone",
        "company_name",
        "role",
        "company_size",
        "segment",
        "country",
        "country_as_written",
        "get_lifecycle_stage_display",
        "get_temperature_display",
        "owner",
        "first_channel",
        "first_source",
        "first_medium",
        "first_campaign",
        "first_utm_source",
        "first_utm_medium",
        "first_utm_campaign",
        "first_landing_url",
        "first_touch_at",
        "last_channel",
        "last_source",
        "last_medium",
        "last_campaign",
        "last_touch_at",
        "get_outcome_display",
        "outcome_value",
        "created_at",
    ]
    export_headings = {
        "get_lifecycle_stage_display": _("Lifecycle stage"),
        "get_temperature_display": _("Temperature"),
        "get_outcome_display": _("Outcome"),
        "first_touch_at": _("First touch at"),
        "last_touch_at": _("Last touch at"),
        "created_at": _("Created at"),
    }
    export_filename = "leads"
    inspect_view_fields = [
        "email",
        "phone",
        "first_name",
        "last_name",
        "company",
        "role",
        "company_size",
        "segment",
        "country",
        "country_as_written",
        "time_zone",
        "language",
        "lifecycle_stage",
        "stage_changed_at",
        "temperature",
        "owner",
        "outcome",
        "outcome_value",
        "outcome_at",
        "outcome_reason",
        "created_at",
        "updated_at",
    ]
    edit_handler = ObjectList(
        [
            MultiFieldPanel(
                [
                    FieldRowPanel([FieldPanel("first_name"), FieldPanel("last_name")]),
                    FieldPanel("email"),
                    FieldPanel("phone"),
                ],
                heading=_("Person"),
            ),
            MultiFieldPanel(
                [
                    FieldPanel("company_name"),
                    FieldPanel("role"),
                    FieldPanel("company_size"),
                    FieldPanel("segment"),
                    FieldRowPanel(
                        [FieldPanel("country"), FieldPanel("time_zone"), FieldPanel("language")]
                    ),
                    FieldPanel("country_as_written", read_only=True),
                ],
                heading=_("Company and role"),
            ),
            MultiFieldPanel([FieldPanel("owner"), FieldPanel("temperature")], heading=_("Sales")),
            MultiFieldPanel(
                [
                    FieldPanel("outcome"),
                    FieldPanel("outcome_value"),
                    FieldPanel("outcome_at"),
                    FieldPanel("outcome_reason"),
                ],
                heading=_("Outcome"),
            ),
        ],
        base_form_class=LeadAdminForm,
    )

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("stage/<int:pk>/", LeadStageChangeView.as_view(), name="stage"),
            path("export-data/<int:pk>/", LeadDataExportView.as_view(), name="export_data"),
        ]


class PossibleDuplicateViewSet(ModelViewSet):
    """The review queue of contacts that may be one person: merge them or keep both."""

    model = PossibleDuplicate
    name = DUPLICATES_URL_NAMESPACE
    url_prefix = "leads/duplicates"
    menu_label = _("Possible duplicates")
    icon = "group"
    add_to_admin_menu = True
    menu_order = 151
    copy_view_enabled = False
    add_to_reference_index = False
    permission_policy = LimitedPermissionPolicy(PossibleDuplicate, actions={"view"})
    index_view_class = DuplicateIndexView
    list_display = [
        "contact",
        "reason_label",
        DateColumn("created_at", label=_("Flagged"), sort_key="created_at"),
    ]
    ordering = ["-created_at", "-id"]
    form_fields = []  # never used: pairs are resolved by merging or dismissing

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("review/<int:pk>/", DuplicateReviewView.as_view(), name="review"),
            path("merge/<int:pk>/", DuplicateMergeView.as_view(), name="merge"),
            path("dismiss/<int:pk>/", DuplicateDismissView.as_view(), name="dismiss"),
        ]


class CustomFieldDefinitionViewSet(ModelViewSet):
    """The typed custom fields forms can ask and leads keep (in ``Contact.custom``)."""

    model = CustomFieldDefinition
    url_prefix = "lead-custom-fields"
    menu_label = _("Lead custom fields")
    icon = "sliders"
    add_to_settings_menu = True
    copy_view_enabled = False
    list_display = ["label", "key", "field_type"]
    form_fields = ["label", "key", "field_type", "choices"]
    search_fields = ["label", "key"]


@hooks.register("register_admin_viewset")
def register_lead_viewsets():
    return [LeadViewSet(), PossibleDuplicateViewSet(), CustomFieldDefinitionViewSet()]


hooks.register("register_bulk_action", LeadsStageChangeBulkAction)
hooks.register("register_bulk_action", LeadsExportBulkAction)
