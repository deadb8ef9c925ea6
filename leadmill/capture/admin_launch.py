"""The back office's "New landing page" screen: an offer, its short form and its page in one
flow (:func:`.launch.landing_page_launch`), with nothing to do in another screen first."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.permissions import ModelPermissionPolicy

from leadmill.consent.models import Purpose
from leadmill.core.admin_viewsets import TitledAdminViewMixin

from .launch import DEFAULT_FIELDS, FULL, SHORT, OfferDraft, landing_page_launch
from .models import FieldKind, Offer, time_zones

LAUNCH_URL_NAME = "capture_landing_page_launch"

# The details a form may ask besides the email (custom fields are added in the form editor).
_EXTRA_FIELDS = [
    (kind.value, kind.label)
    for kind in FieldKind
    if kind not in (FieldKind.EMAIL, FieldKind.CUSTOM)
]


class LaunchForm(forms.Form):
    """What a new landing page needs; the fields of other offer kinds are ignored."""

    kind = forms.ChoiceField(
        label=_("What do you offer?"),
        choices=Offer.Kind.choices,
        initial=Offer.Kind.DOWNLOAD,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label=_("Name of the offer"),
        max_length=200,
        help_text=_("Also the page's title and, in short, its address."),
    )
    file = forms.FileField(label=_("File to download"), required=False)
    trial_url = forms.URLField(label=_("Trial sign-up link"), required=False, assume_scheme="https")
    discount_code = forms.CharField(label=_("Discount code"), max_length=100, required=False)
    starts_at = forms.DateTimeField(
        label=_("Starts at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)
    join_url = forms.URLField(label=_("Join link"), required=False, assume_scheme="https")
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, required=False)
    headline = forms.CharField(
        label=_("Headline"),
        max_length=120,
        required=False,
        help_text=_("The main benefit, in under ten words. Empty: the offer's name."),
    )
    description = forms.CharField(
        label=_("One sentence on what the visitor gets"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    benefits = forms.CharField(
        label=_("Benefits, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown with the full page template; at most five."),
    )
    fields = forms.MultipleChoiceField(
        label=_("The form asks for the email and"),
        choices=_EXTRA_FIELDS,
        initial=[kind.value for kind in DEFAULT_FIELDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Every field costs conversions: ask at most two details now."),
    )
    purposes = forms.ModelMultipleChoiceField(
        label=_("Consent checkboxes"),
        queryset=Purpose.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    template = forms.ChoiceField(
        label=_("Page template"),
        choices=[
            (SHORT, _("Short: headline and form")),
            (FULL, _("Full: headline, benefits, offer and form")),
        ],
        initial=FULL,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", "—")] + [
            (name, name) for name in sorted(time_zones())
        ]
        self.fields["time_zone"].initial = settings.TIME_ZONE
        self.fields["purposes"].initial = list(Purpose.objects.values_list("pk", flat=True))

    def clean_benefits(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["benefits"].splitlines()]
        benefits = [line[:200] for line in lines if line]
        if len(benefits) > 5:
            raise ValidationError(_("Keep it to five benefits at most."))
        return benefits

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        required = {
            Offer.Kind.DOWNLOAD: {"file": _("Upload the file that people download.")},
            Offer.Kind.TRIAL: {"trial_url": _("Enter the link where the trial starts.")},
            Offer.Kind.DISCOUNT: {"discount_code": _("Enter the discount code people receive.")},
            Offer.Kind.EVENT: {"starts_at": _("Enter when the webinar or event starts.")},
        }.get(kind, {})
        for name, message in required.items():
            if not data.get(name) and name not in self.errors:
                self.add_error(name, message)
        starts_at, zone = data.get("starts_at"), data.get("time_zone")
        if kind == Offer.Kind.EVENT and starts_at is not None and zone:
            # The time typed is a time in the event's own zone, not the server's.
            naive = timezone.make_naive(starts_at) if timezone.is_aware(starts_at) else starts_at
            data["starts_at"] = naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))
        return data

    def offer_draft(self) -> OfferDraft:
        data = self.cleaned_data
        return OfferDraft(
            kind=data["kind"],
            name=data["name"],
            file=data.get("file"),
            trial_url=data.get("trial_url") or "",
            discount_code=data.get("discount_code") or "",
            starts_at=data.get("starts_at"),
            time_zone=data.get("time_zone") or "",
            join_url=data.get("join_url") or "",
            capacity=data.get("capacity"),
        )


class LandingPageLaunchView(
    PermissionCheckedMixin, TitledAdminViewMixin, WagtailAdminTemplateMixin, FormView
):
    """One screen from nothing to a published page with a working form."""

    permission_policy = ModelPermissionPolicy(Offer)
    permission_required = "add"
    template_name = "capture/admin/landing_page_launch.html"
    form_class = LaunchForm
    page_title = _("New landing page")
    header_icon = "doc-empty-inverse"

    def form_valid(self, form):
        publish = "publish" in self.request.POST
        data = form.cleaned_data
        try:
            page = landing_page_launch(
                offer=form.offer_draft(),
                headline=data["headline"],
                description=data["description"],
                benefits=data["benefits"],
                fields=data["fields"],
                purposes=list(data["purposes"]),
                template=data["template"],
                publish=publish,
            )
        except ValidationError as exc:  # the offer's own rules (Offer.clean)
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        if publish:
            messages.success(
                self.request,
                _("“%(title)s” is live at %(url)s.") % {"title": page.title, "url": page.full_url},
            )
            return redirect(reverse(LAUNCH_URL_NAME) + f"?launched={page.pk}")
        return redirect("wagtailadmin_pages:edit", page.pk)

    def get_context_data(self, **kwargs):
        from .pages import LandingPage

        context = super().get_context_data(**kwargs)
        launched = self.request.GET.get("launched", "")
        context["launched"] = (
            LandingPage.objects.filter(pk=launched).first() if launched.isdigit() else None
        )
        return context
