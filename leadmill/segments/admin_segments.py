"""Back-office screens of segments: the listing (with each segment's current size), the
editor with its filter builder and live size, and the members of a static list.

The filter builder (``static/segments/builder.js``) edits the JSON definition in a
hidden field; as the marketer edits, it posts the draft to the size endpoint
(:class:`SegmentSizeView`), which answers ``{"count": N}`` or ``{"errors": [...]}``.
"""

from __future__ import annotations

import json

import django_filters
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from leadmill.consent.models import Purpose
from leadmill.contacts.admin_leads import LEAD_LISTING_FILTERS_HOOK, LEADS_URL_NAMESPACE
from leadmill.contacts.models import CustomFieldDefinition
from leadmill.contacts.selectors import contact_ids_by_email
from leadmill.core.admin_viewsets import TitledAdminViewMixin, snippet_breadcrumbs
from leadmill.core.errors import ValidationFailed

from .definitions import SegmentDefinitionError, definition_errors
from .fields import catalogue
from .models import Segment, SegmentMember
from .selectors import definition_count, segment_contacts, segment_count, segment_used_by
from .services import segment_members_add, segment_members_remove

SIZE_URL_NAME = "segments_size"
MEMBERS_URL_NAME = "segments_members"
MAX_EMAILS = 1000


def builder_catalogue(*, exclude_segment_id: int | None = None) -> dict:
    """What the filter builder offers on this installation (custom fields, purposes, segments)."""
    return catalogue(
        custom_fields=CustomFieldDefinition.objects.values_list("key", "label"),
        purposes=Purpose.objects.values_list("key", "name"),
        segments=Segment.objects.exclude(pk=exclude_segment_id).values_list("pk", "name"),
    )


def builder_texts() -> dict[str, str]:
    """The filter builder's own words, translated here so the script holds no text."""
    return {
        "remove": _g("Remove"),
        "did": _g("did"),
        "did_not": _g("did not do"),
        "has": _g("has"),
        "has_not": _g("does not have"),
        "url_contains": _g("page address contains"),
        "name_contains": _g("name contains"),
        "at_least": _g("at least (times)"),
        "within_days": _g("in the last (days; empty: ever)"),
        "value": _g("value"),
        "group": _g("A group of conditions (kept as it is)"),
        "counting": _g("Counting…"),
        "leads": _g("%(count)s leads match now"),
        "failed": _g("The size could not be counted."),
    }


class SegmentBuilderWidget(forms.Widget):
    """Condition rows (field / operator / value) that write the definition into a hidden
    textarea; plain JavaScript, no external files."""

    template_name = "segments/builder_widget.html"

    class Media:
        js = ["segments/builder.js"]
        css = {"all": ["segments/builder.css"]}

    def __init__(self, *args, segment_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.segment_id = segment_id

    def format_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value)
        return value or json.dumps({"match": "all", "conditions": []})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        element_id = context["widget"]["attrs"].get("id") or name
        context["catalogue"] = builder_catalogue(exclude_segment_id=self.segment_id)
        context["catalogue_id"], context["ui_id"] = f"{element_id}-catalogue", f"{element_id}-ui"
        context["ui"] = builder_texts()
        context["size_url"] = reverse(SIZE_URL_NAME)
        context["segment_id"] = self.segment_id or ""
        return context


class SegmentAdminForm(WagtailAdminModelForm):
    """Checks a dynamic segment's filters with the messages of :func:`definition_errors`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "definition" in self.fields:
            self.fields["definition"].widget = SegmentBuilderWidget(segment_id=self.instance.pk)
            self.fields["definition"].required = False

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Segment.Kind.DYNAMIC:
            for error in definition_errors(
                cleaned.get("definition") or {}, segment_id=self.instance.pk
            ):
                self.add_error("definition", error)
        elif "kind" in cleaned:
            cleaned["definition"] = {}
        return cleaned


def segment_size(segment: Segment) -> str:
    """The listing's "Size" cell: the count now, or a dash when the filters are broken."""
    try:
        return f"{segment_count(segment=segment):,}"
    except SegmentDefinitionError:
        return "—"


def members_link(segment: Segment) -> str:
    return reverse(MEMBERS_URL_NAME, args=[segment.pk])


class MembersColumn(Column):
    cell_template_name = "segments/members_cell.html"


class SegmentViewSet(SnippetViewSet):
    """Segments: dynamic (filters, always current) and static lists."""

    model = Segment
    icon = "group"
    menu_label = _("Segments")
    add_to_admin_menu = True
    menu_order = 160
    copy_view_enabled = False
    list_display = [
        "name",
        "kind",
        Column("size", label=_("Size"), accessor=segment_size),
        MembersColumn("members", label=_("Members"), accessor=members_link),
        DateColumn("updated_at", label=_("Updated"), sort_key="updated_at"),
    ]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("kind"),
            FieldPanel("description"),
            FieldPanel("definition"),
        ],
        base_form_class=SegmentAdminForm,
    )


register_snippet(SegmentViewSet)


@hooks.register("before_delete_snippet")
def refuse_deleting_used_segments(request, instances):
    """A segment other segments, sequences or broadcasts use is not deleted (they would
    break or silently stop): the marketer is told which, to change them first."""
    if not instances or not isinstance(instances[0], Segment):
        return None
    refused = [
        _g("“%(name)s” is used by %(uses)s; change them first.")
        % {"name": segment.name, "uses": ", ".join(uses)}
        for segment in instances
        if (uses := segment_used_by(segment_id=segment.pk))
    ]
    if not refused:
        return None
    for text in refused:
        messages.error(request, text)
    return redirect(reverse(Segment.snippet_viewset.get_url_name("list")))


def _can_view_segments(user) -> bool:
    return user.is_active and any(
        user.has_perm(f"segments.{action}_segment") for action in ("view", "add", "change")
    )


def _can_edit_segments(user) -> bool:
    return user.is_active and (
        user.has_perm("segments.add_segment") or user.has_perm("segments.change_segment")
    )


class SegmentSizeView(View):
    """POST ``{"definition": {...}, "segment_id": optional}`` → ``{"count": N}``, or
    ``{"errors": [...]}`` with status 400. Staff who may add or change segments only; the
    CSRF token travels in the ``X-CSRFToken`` header."""

    http_method_names = ["post"]

    def post(self, request):
        if not _can_edit_segments(request.user):
            return JsonResponse({"errors": [_g("You may not edit segments.")]}, status=403)
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse(
                {"errors": [_g("The filters are not in the expected form.")]}, status=400
            )
        definition = payload.get("definition") if isinstance(payload, dict) else None
        segment_id = payload.get("segment_id") if isinstance(payload, dict) else None
        segment_id = int(segment_id) if str(segment_id or "").isdigit() else None
        errors = definition_errors(definition, segment_id=segment_id)
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse(
            {"count": definition_count(definition=definition, segment_id=segment_id)}
        )


class AddMembersForm(forms.Form):
    emails = forms.CharField(
        label=_("Add leads by email"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One address per line, or separated by commas."),
    )


class SegmentMembersView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    """Who is in a segment now, paged (one ``COUNT`` and one page of rows, whatever the
    size), with links to the leads listing filtered by it (its bulk actions) and to its CSV
    export. A static list's members are shown newest first, with "add by email" and
    "remove"; a dynamic segment's, newest lead first (it follows its filters)."""

    template_name = "segments/members.html"
    header_icon = "group"
    per_page = 50

    def parent_breadcrumbs(self):
        return snippet_breadcrumbs(self.segment)

    def dispatch(self, request, pk):
        if not _can_view_segments(request.user):
            raise PermissionDenied
        self.segment = get_object_or_404(Segment, pk=pk)
        self.is_static = self.segment.kind == Segment.Kind.STATIC
        if request.method == "POST" and not (self.is_static and _can_edit_segments(request.user)):
            raise PermissionDenied
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _g("Members of “%(name)s”") % {"name": self.segment.name}

    def members_page(self):
        """One page of ``(contact, added_at)``: added_at is None for a dynamic segment."""
        number = self.request.GET.get("p")
        if self.is_static:
            rows = (
                SegmentMember.objects.filter(segment=self.segment)
                .select_related("contact")
                .order_by("-added_at", "-id")
            )
            page = Paginator(rows, self.per_page).get_page(number)
            page.members = [(row.contact, row.added_at) for row in page.object_list]
            return page, None
        try:
            contacts = segment_contacts(segment=self.segment).order_by("-created_at", "-id")
            page = Paginator(contacts, self.per_page).get_page(number)
            page.members = [(contact, None) for contact in page.object_list]
        except SegmentDefinitionError as error:
            return None, str(error)
        return page, None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page, broken = self.members_page()
        listing = reverse(f"{LEADS_URL_NAMESPACE}:index") + f"?segment={self.segment.pk}"
        context.update(
            segment=self.segment,
            is_static=self.is_static,
            can_edit=_can_edit_segments(self.request.user),
            page=page,
            broken=broken,
            form=(kwargs.get("form") or AddMembersForm()) if self.is_static else None,
            total=page.paginator.count if page else 0,
            edit_url=reverse(Segment.snippet_viewset.get_url_name("edit"), args=[self.segment.pk]),
            listing_url=listing,
            export_url=f"{listing}&export=csv",
        )
        return context

    def post(self, request, pk):
        if "remove" in request.POST:
            removed = segment_members_remove(
                segment=self.segment, contact_ids=[int(request.POST["remove"])]
            )
            messages.success(
                request, _g("Removed %(count)s lead from the list.") % {"count": removed}
            )
            return redirect(MEMBERS_URL_NAME, pk)
        form = AddMembersForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        try:
            found, unknown = contact_ids_by_email(form.cleaned_data["emails"], limit=MAX_EMAILS)
        except ValidationFailed:
            form.add_error(
                "emails", _g("Add at most %(max)s addresses at a time.") % {"max": MAX_EMAILS}
            )
            return self.render_to_response(self.get_context_data(form=form))
        added = segment_members_add(segment=self.segment, contact_ids=found)
        messages.success(
            request,
            _g("Added %(added)s of %(found)s leads found.") % {"added": added, "found": len(found)},
        )
        if unknown:
            messages.warning(
                request,
                _g("No lead has these addresses: %(emails)s") % {"emails": ", ".join(unknown)},
            )
        return redirect(MEMBERS_URL_NAME, pk)


def _leads_in_segment(queryset, name, segment):
    if not segment:
        return queryset
    try:
        members = segment_contacts(segment=segment)
    except SegmentDefinitionError:
        return queryset.none()  # broken filters match nobody, never everyone
    return queryset.filter(pk__in=members.order_by().values("pk"))


@hooks.register(LEAD_LISTING_FILTERS_HOOK)
def lead_filter_by_segment():
    """Leads listing filter (``leadmill_lead_listing_filters``): the leads in a segment now,
    dynamic or static, as one subquery."""
    return {
        "segment": django_filters.ModelChoiceFilter(
            label=_("Segment"),
            queryset=Segment.objects.order_by("name"),
            method=_leads_in_segment,
        )
    }


def admin_urls() -> list:
    """The URLs beside the snippet views (registered by ``register_admin_urls``)."""
    return [
        path("segments/size/", SegmentSizeView.as_view(), name=SIZE_URL_NAME),
        path(
            "segments/<int:pk>/members/",
            SegmentMembersView.as_view(),
            name=MEMBERS_URL_NAME,
        ),
    ]


@hooks.register("register_admin_urls")
def register_segment_urls():
    return admin_urls()
