"""The public form a person fills in, built from a marketer's :class:`~.models.Form`."""

from __future__ import annotations

import dataclasses
from functools import cache

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leadmill.contacts.identity import email_normalise, phone_normalise
from leadmill.contacts.models import Contact, CustomFieldDefinition
from leadmill.core.errors import ValidationFailed
from leadmill.core.i18n import language_of_locale, language_url
from leadmill.core.text import TextValidator

from . import tokens
from .models import FieldKind, Form

HONEYPOT_FIELD = "website"
RENDER_TOKEN_FIELD = "_rt"  # noqa: S105 (a field name, not a secret)
PAGE_FIELD = "_page"
VISITOR_FIELD = "_lm_vid"  # set by the tracker on forms of other sites

_max_lengths = {
    FieldKind.EMAIL: 254,
    FieldKind.FIRST_NAME: 100,
    FieldKind.LAST_NAME: 100,
    FieldKind.PHONE: 40,
    FieldKind.COMPANY: 200,
    FieldKind.ROLE: 100,
    FieldKind.COMPANY_SIZE: 50,
    FieldKind.SEGMENT: 100,
    FieldKind.COUNTRY: 60,
    FieldKind.MESSAGE: 5000,
    FieldKind.CUSTOM: 500,
}
# The one input edge (leadmill.core.text) on every text field: a line break only in a message.
_SINGLE_LINE = [TextValidator()]
_MULTI_LINE = [TextValidator(multiline=True)]
_autocomplete = {
    FieldKind.EMAIL: "email",
    FieldKind.FIRST_NAME: "given-name",
    FieldKind.LAST_NAME: "family-name",
    FieldKind.PHONE: "tel",
    FieldKind.COMPANY: "organization",
    FieldKind.ROLE: "organization-title",
    FieldKind.COUNTRY: "country",
}


class LeadFormBase(forms.Form):
    """Common behaviour: normalised email and phone, errors that say what to fix."""

    required_css_class = "required"
    error_css_class = "invalid"

    def clean_email(self):
        value = self.cleaned_data.get("email", "")
        if not value:
            return value
        try:
            return email_normalise(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc

    def clean_phone(self):
        value = self.cleaned_data.get("phone", "")
        try:
            return phone_normalise(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


def _field_for(form_field, custom_definitions: dict[str, CustomFieldDefinition]) -> forms.Field:
    kind = form_field.kind
    required = form_field.required or kind == FieldKind.EMAIL
    attrs = {"autocomplete": _autocomplete.get(kind, "off")}
    common = {
        "label": form_field.display_label,
        "required": required,
        "help_text": form_field.help_text,
    }
    if kind == FieldKind.EMAIL:
        return forms.CharField(
            max_length=254,
            widget=forms.EmailInput(attrs={**attrs, "inputmode": "email"}),
            validators=_SINGLE_LINE,
            **common,
            error_messages={"required": _("Enter your email address.")},
        )
    if kind == FieldKind.PHONE:
        return forms.CharField(
            max_length=40,
            widget=forms.TextInput(attrs={**attrs, "type": "tel"}),
            validators=_SINGLE_LINE,
            **common,
        )
    if kind == FieldKind.MESSAGE:
        return forms.CharField(
            max_length=5000,
            widget=forms.Textarea(attrs={"rows": 4}),
            validators=_MULTI_LINE,
            **common,
        )
    if kind == FieldKind.CUSTOM:
        definition = custom_definitions.get(form_field.custom_key)
        if definition is not None:
            common["label"] = form_field.label or definition.label
            if definition.field_type == CustomFieldDefinition.FieldType.NUMBER:
                return forms.DecimalField(**common)
            if definition.field_type == CustomFieldDefinition.FieldType.DATE:
                return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
            if definition.field_type == CustomFieldDefinition.FieldType.BOOLEAN:
                return forms.BooleanField(**common)
            if definition.field_type == CustomFieldDefinition.FieldType.CHOICE:
                choices = [("", "—")] + [(c, c) for c in definition.choice_list]
                return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(
        max_length=_max_lengths.get(kind, 200),
        widget=forms.TextInput(attrs=attrs),
        validators=_SINGLE_LINE,
        **common,
    )


def lead_form_class(form: Form) -> type[LeadFormBase]:
    """A Django form class with the marketer's fields and one checkbox per consent purpose."""
    fields: dict[str, forms.Field] = {}
    custom_keys = [f.custom_key for f in form.fields.all() if f.kind == FieldKind.CUSTOM]
    definitions = (
        {d.key: d for d in CustomFieldDefinition.objects.filter(key__in=custom_keys)}
        if custom_keys
        else {}
    )
    for form_field in form.fields.all():
        fields[form_field.name] = _field_for(form_field, definitions)
    if "email" not in fields:  # email is always asked: it is how a lead is known
        fields = {
            "email": forms.CharField(
                label=_("Email"), max_length=254, widget=forms.EmailInput(), validators=_SINGLE_LINE
            ),
            **fields,
        }
    language = language_of_locale(form.locale_id)
    for consent in form.consents.all():
        text = consent.purpose.text_in(language)  # in the form's language (ADR 43)
        fields[consent.name] = forms.BooleanField(
            label=text,
            required=consent.required,
            error_messages={"required": _("Tick this box to continue.")},
        )
        # Read by the template: the notice the consent text refers to, linked beside it.
        fields[consent.name].notice_url = _notice_url(consent)
    return type("LeadForm", (LeadFormBase,), fields)


def _notice_url(consent) -> str:
    """The address of the consent's notice page while it is live, else empty."""
    page = consent.notice_page
    if page is None or not page.live:
        return ""
    return language_url(page, page.get_url() or "")


class _SharedFields(dict):
    """The fields of a form that only validates: deep-copying them per instance, as Django
    does so that rendering can change a field's widget, is wasted on a post that is never
    rendered, and it was a tenth of each form post's time."""

    def __deepcopy__(self, memo) -> dict:
        return dict(self)


def validation_form_class(form_class: type[LeadFormBase]) -> type[LeadFormBase]:
    """The same form for validating posts only: its instances share the class's field
    objects (nothing in validation changes a field; removing one from an instance's
    ``fields`` stays a dict operation). Never render it: use :func:`public_form_for`."""
    validation_class = type("LeadValidationForm", (form_class,), {})
    validation_class.base_fields = _SharedFields(
        form_class.base_fields
    )  # after the metaclass set its own
    return validation_class


@dataclasses.dataclass
class PublicForm:
    """What a template needs to show a form: the model, the Django form and hidden fields."""

    form: Form
    django_form: LeadFormBase
    action: str
    render_token: str
    page_id: int | None
    non_field_error: str = ""

    honeypot_field = HONEYPOT_FIELD
    render_token_field = RENDER_TOKEN_FIELD
    page_field = PAGE_FIELD

    @property
    def consent_fields(self):
        return [
            self.django_form[name]
            for name in self.django_form.fields
            if name.startswith("consent_")
        ]

    @property
    def data_fields(self):
        return [
            self.django_form[name]
            for name in self.django_form.fields
            if not name.startswith("consent_")
        ]


def public_form_for(
    form: Form,
    *,
    page=None,
    request=None,
    data=None,
    render_token: str = "",
    page_id: int | None = None,
) -> PublicForm:
    """An unbound (or, with ``data``, bound) public form.

    The render token is fresh unless a still-valid one is passed back (a re-render after an
    error keeps the time the person first saw the form, and the fields it left out). With
    progressive profiling, the fields shown depend on what the visitor's contact already told
    us (:func:`fields_omitted`); the token carries the left-out fields to the post."""
    form_class = lead_form_class(form)
    django_form = form_class(data=data, prefix=None)
    if render_token:
        omitted = tokens.render_token_omitted(render_token, form_id=form.pk)
    else:
        contact = (
            known_contact(request) if form.progressive_profiling and request is not None else None
        )
        omitted = fields_omitted(form, contact)
    for name in omitted:
        django_form.fields.pop(name, None)
    return PublicForm(
        form=form,
        django_form=django_form,
        action=form_action_url(form.slug),
        render_token=render_token or tokens.render_token_make(form_id=form.pk, omitted=omitted),
        page_id=page.pk if page is not None else page_id,
    )


def known_contact(request) -> Contact | None:
    """The contact behind the visitor cookie of Leadmill's own pages, if it identified."""
    from leadmill.tracking.schemas import visitor_id_valid

    visitor_id = request.COOKIES.get("lm_vid", "")
    if not visitor_id_valid(visitor_id):
        return None
    return Contact.objects.filter(visitors__id=visitor_id).first()


def _known(contact: Contact, form_field) -> bool:
    if form_field.kind == FieldKind.EMAIL:
        return False  # always asked: it is how the person is known, and we never prefill it
    if form_field.kind == FieldKind.CUSTOM:
        return contact.custom.get(form_field.custom_key) not in (None, "")
    if form_field.kind == FieldKind.MESSAGE:
        return False
    return bool(getattr(contact, form_field.kind, ""))


def fields_omitted(form: Form, contact: Contact | None) -> frozenset[str]:
    """Which fields progressive profiling leaves out for ``contact`` (None: not known).

    A visitor we do not know sees the form's ordinary fields. A known lead is not asked
    again what it already told us; each such field gives its place to the next field marked
    "ask known leads only" that it has not answered, so the form never grows longer.
    Values are never prefilled (a shared computer would show them to someone else).
    """
    if not form.progressive_profiling:
        return frozenset()
    fields = list(form.fields.all())
    queued = [f for f in fields if f.progressive]
    if contact is None:
        return frozenset(f.name for f in queued)
    ordinary = [f for f in fields if not f.progressive]
    answered = [f for f in ordinary if _known(contact, f)]
    places = len(answered)
    shown_queued = []
    for candidate in queued:
        if places and not _known(contact, candidate):
            shown_queued.append(candidate)
            places -= 1
    shown = {f.name for f in ordinary if f not in answered} | {f.name for f in shown_queued}
    return frozenset(f.name for f in fields if f.name not in shown and f.kind != FieldKind.EMAIL)


@cache
def _form_action(slug: str) -> str:
    return reverse("capture:form_post", kwargs={"slug": slug})


def form_action_url(slug: str) -> str:
    return _form_action(slug)
