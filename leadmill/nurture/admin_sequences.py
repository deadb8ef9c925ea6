"""Back-office screens of sequences: the listing (with who is in each now), the step editor,
"enrol leads" (a segment or pasted addresses), and the lead page's sequences panel.

Saving a sequence moves the enrollments at steps that were removed to the next step that
still exists (:func:`.services.enrollments_remap`), so an edit never strands anyone.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import FormView
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import Button, ListingButton
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import snippets as snippet_views
from wagtail.snippets.views.snippets import SnippetViewSet

from leadmill.contacts.admin_leads import (
    LEAD_ACTIONS_HOOK,
    LEAD_DETAIL_PANELS_HOOK,
    LeadAction,
    LeadDetailPanel,
)
from leadmill.contacts.models import LifecycleStage
from leadmill.contacts.selectors import contact_ids_by_email
from leadmill.core.admin_viewsets import TitledAdminViewMixin, boolean_column, snippet_breadcrumbs
from leadmill.core.errors import ValidationFailed
from leadmill.segments.models import Segment

from .models import Enrollment, Sequence
from .selectors import (
    contact_enrollments,
    exit_reason_text,
    sequences_with_counts,
    step_name,
)
from .services import enrollments_remap, enrollments_start_bulk
from .tasks import nurture_kick_after_commit
from .triggers import sequence_segment_watch_start

ENROL_URL_NAME = "nurture_sequence_enrol"


class SequenceAdminForm(WagtailAdminModelForm):
    """The trigger's own field is required with it; exit stages are ticked, not typed."""

    exit_stages = forms.MultipleChoiceField(
        label=_("Leave when the lead reaches"),
        choices=LifecycleStage.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    trigger_stage = forms.ChoiceField(
        label=_("Stage"),
        choices=[("", "—"), *LifecycleStage.choices],
        required=False,
    )

    _needs = {
        Sequence.Trigger.FORM: ("trigger_form", _("Choose the form.")),
        Sequence.Trigger.OFFER: ("trigger_offer", _("Choose the offer.")),
        Sequence.Trigger.SEGMENT: ("trigger_segment", _("Choose the segment.")),
        Sequence.Trigger.STAGE: ("trigger_stage", _("Choose the stage.")),
    }

    def clean(self):
        cleaned = super().clean()
        needed = self._needs.get(cleaned.get("trigger"))
        if needed and not cleaned.get(needed[0]):
            self.add_error(needed[0], needed[1])
        cleaned["exit_stages"] = list(cleaned.get("exit_stages") or [])
        return cleaned

    def save(self, commit=True):
        """Activated, or its trigger changed: it enrols only leads who enter its trigger
        segment from now on (see :func:`.triggers.sequence_segment_watch_start`)."""
        instance = super().save(commit=commit)
        if commit and {"is_active", "trigger", "trigger_segment"} & set(self.changed_data):
            sequence_segment_watch_start(sequence=instance)
        return instance


def trigger_text(sequence: Sequence) -> str:
    detail = {
        Sequence.Trigger.FORM: sequence.trigger_form,
        Sequence.Trigger.OFFER: sequence.trigger_offer,
        Sequence.Trigger.SEGMENT: sequence.trigger_segment,
        Sequence.Trigger.STAGE: sequence.trigger_stage,
    }.get(sequence.trigger)
    label = sequence.get_trigger_display()
    return f"{label}: {detail}" if detail else label


class SequenceIndexView(snippet_views.IndexView):
    def get_base_queryset(self):
        return sequences_with_counts().select_related(
            "trigger_form", "trigger_offer", "trigger_segment"
        )

    def get_list_more_buttons(self, instance):
        buttons = list(super().get_list_more_buttons(instance))
        if self.permission_policy.user_has_permission(self.request.user, "change"):
            buttons.append(
                ListingButton(
                    _("Enrol leads"),
                    url=reverse(ENROL_URL_NAME, args=[instance.pk]),
                    icon_name="user",
                    priority=5,
                )
            )
        return buttons


class SequenceEditView(snippet_views.EditView):
    """Saving keeps every enrolled lead's place (see the module docstring)."""

    @cached_property
    def header_more_buttons(self):
        return [
            *super().header_more_buttons,
            Button(
                _("Enrol leads"),
                url=reverse(ENROL_URL_NAME, args=[self.object.pk]),
                icon_name="user",
                priority=5,
            ),
        ]

    def save_instance(self):
        old_ids = [item["id"] for item in Sequence.objects.get(pk=self.object.pk).steps.raw_data]
        instance = super().save_instance()
        moved = enrollments_remap(sequence=instance, old_step_ids=old_ids)
        if moved:
            messages.info(
                self.request,
                ngettext(
                    "%(count)s lead was at a removed step: it continues at the next one.",
                    "%(count)s leads were at removed steps: they continue at the next one.",
                    moved,
                )
                % {"count": moved},
            )
        return instance


class SequenceViewSet(SnippetViewSet):
    """Sequences: steps leads walk through, what enrols them, what makes them leave."""

    model = Sequence
    icon = "list-ul"
    menu_label = _("Sequences")
    add_to_admin_menu = True
    menu_order = 161
    copy_view_enabled = False
    index_view_class = SequenceIndexView
    edit_view_class = SequenceEditView
    list_display = [
        "name",
        boolean_column(Sequence, "is_active"),
        Column("trigger", label=_("Enrol when"), accessor=trigger_text),
        Column("active_count", label=_("In it now"), sort_key="active_count"),
        Column("completed_count", label=_("Completed"), sort_key="completed_count"),
        DateColumn("updated_at", label=_("Updated"), sort_key="updated_at"),
    ]
    list_filter = ["is_active", "trigger"]
    search_fields = ["name"]
    edit_handler = ObjectList(
        [
            FieldRowPanel([FieldPanel("name"), FieldPanel("is_active")]),
            MultiFieldPanel(
                [
                    FieldPanel("trigger"),
                    FieldRowPanel([FieldPanel("trigger_form"), FieldPanel("trigger_offer")]),
                    FieldRowPanel([FieldPanel("trigger_segment"), FieldPanel("trigger_stage")]),
                    FieldPanel("reenrol"),
                ],
                heading=_("Enrolment"),
            ),
            MultiFieldPanel([FieldPanel("exit_stages")], heading=_("Leaving")),
            FieldPanel("holdout_percent"),
            FieldPanel("steps"),
        ],
        base_form_class=SequenceAdminForm,
    )


register_snippet(SequenceViewSet)


# --- Enrol leads ------------------------------------------------------------------------------


class EnrolForm(forms.Form):
    segment = forms.ModelChoiceField(
        label=_("Everyone in a segment"),
        queryset=Segment.objects.order_by("name"),
        required=False,
    )
    emails = forms.CharField(
        label=_("Or these leads"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Email addresses, one per line or separated by commas."),
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("segment") and not (cleaned.get("emails") or "").strip():
            raise forms.ValidationError(_("Choose a segment or paste email addresses."))
        return cleaned


class SequenceEnrolView(TitledAdminViewMixin, WagtailAdminTemplateMixin, FormView):
    """Enrol a segment or a pasted list in a sequence, by its re-enrolment rule."""

    template_name = "nurture/admin/sequence_enrol.html"
    form_class = EnrolForm
    header_icon = "list-ul"

    def parent_breadcrumbs(self):
        return snippet_breadcrumbs(self.sequence)

    def dispatch(self, request, pk):
        if not request.user.has_perm("nurture.change_sequence"):
            raise PermissionDenied
        self.sequence = get_object_or_404(Sequence, pk=pk)
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _g("Enrol leads in “%(name)s”") % {"name": self.sequence.name}

    def get_initial(self):
        return {"emails": self.request.GET.get("emails", "")}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            sequence=self.sequence,
            edit_url=reverse(
                Sequence.snippet_viewset.get_url_name("edit"), args=[self.sequence.pk]
            ),
            **kwargs,
        )

    def form_valid(self, form):
        from leadmill.segments.definitions import SegmentDefinitionError
        from leadmill.segments.selectors import segment_contacts

        contact_ids: list[int] = []
        unknown: list[str] = []
        if form.cleaned_data["segment"]:
            try:
                contact_ids += segment_contacts(segment=form.cleaned_data["segment"]).values_list(
                    "pk", flat=True
                )
            except SegmentDefinitionError as error:
                form.add_error(
                    "segment",
                    _g("This segment cannot be evaluated: %(why)s") % {"why": error.message},
                )
                return self.form_invalid(form)
        if form.cleaned_data["emails"].strip():
            try:
                found, unknown = contact_ids_by_email(form.cleaned_data["emails"])
            except ValidationFailed as error:
                form.add_error("emails", error.message)
                return self.form_invalid(form)
            contact_ids += found
        source = f"back office ({self.request.user.get_username()})"
        enrolled = enrollments_start_bulk(
            sequence=self.sequence, contact_ids=contact_ids, source=source
        )
        if enrolled:
            nurture_kick_after_commit()
        messages.success(
            self.request,
            _g(
                "Enrolled %(enrolled)s of %(found)s leads (the others are or were enrolled already)."
            )
            % {"enrolled": enrolled, "found": len(set(contact_ids))},
        )
        if not self.sequence.is_active:
            messages.warning(
                self.request, _g("The sequence is not active: nobody moves until you activate it.")
            )
        if unknown:
            messages.warning(
                self.request,
                _g("No lead has these addresses: %(emails)s") % {"emails": ", ".join(unknown)},
            )
        return redirect(Sequence.snippet_viewset.get_url_name("list"))


@hooks.register("register_admin_urls")
def register_sequence_urls():
    return [
        path("nurture/sequences/<int:pk>/enrol/", SequenceEnrolView.as_view(), name=ENROL_URL_NAME)
    ]


# --- The lead's page ---------------------------------------------------------------------------


@hooks.register(LEAD_DETAIL_PANELS_HOOK)
def lead_sequences_panel(request, contact) -> LeadDetailPanel:
    """The lead's sequences: where it is in each, or how it ended; and a way to enrol it."""
    rows = []
    for enrollment in contact_enrollments(contact_id=contact.pk)[:50]:
        sequence = enrollment.sequence
        where = (
            step_name(sequence, enrollment.step_id)
            if enrollment.state == Enrollment.State.ACTIVE
            else exit_reason_text(enrollment.exit_reason)
        )
        rows.append(
            (
                sequence.name,
                enrollment.get_state_display(),
                where,
                enrollment.next_run_at,
                enrollment.enrolled_at,
                "",
            )
        )
    if contact.email and request.user.has_perm("nurture.change_sequence"):
        choices = Sequence.objects.filter(is_active=True).order_by("name")[:20]
        for sequence in choices:
            if not any(row[0] == sequence.name for row in rows):
                # A button of its own column, labelled in full: in the "State" column a
                # short "Enrol…" read as a truncated word.
                rows.append(
                    (
                        sequence.name,
                        _g("Not enrolled"),
                        "",
                        None,
                        None,
                        format_html(
                            '<a class="button button-small button-secondary" href="{}">{}</a>',
                            _enrol_url(sequence, contact),
                            _g("Enrol in this sequence"),
                        ),
                    )
                )
    return LeadDetailPanel(
        heading=_g("Sequences"),
        columns=(
            _g("Sequence"),
            _g("State"),
            _g("Step / why it ended"),
            _g("Next step due"),
            _g("Enrolled"),
            _g("Actions"),
        ),
        rows=rows,
        empty_message=_g("Not in any sequence."),
        order=30,
        anchor="sequences",
    )


def _enrol_url(sequence: Sequence, contact) -> str:
    return reverse(ENROL_URL_NAME, args=[sequence.pk]) + "?" + urlencode({"emails": contact.email})


@hooks.register(LEAD_ACTIONS_HOOK)
def lead_enrol_action(request, contact) -> list[LeadAction]:
    """ "Enrol in a sequence" in the lead's "⋯" menu: to its sequences, each with a button."""
    if not (contact.email and request.user.has_perm("nurture.change_sequence")):
        return []
    return [LeadAction(_g("Enrol in a sequence"), "#sequences", "list-ul", 50)]
