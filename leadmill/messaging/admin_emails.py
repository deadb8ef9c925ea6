"""Back-office screens of email: email templates (with a preview for any lead and a "send
test"), and the one read-only log of every email, marketing and transactional; in the
embedded mode its inspect page also shows the copy the outbox backend kept.

Templates stay snippets so sequences and broadcasts can choose them.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import DateColumn
from wagtail.admin.views.generic import IndexView as ModelIndexView
from wagtail.admin.views.generic import InspectView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import HeaderButton, ListingButton
from wagtail.permissions import ModelPermissionPolicy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import EditView, IndexView, SnippetViewSet

from leadmill.consent.selectors import may_receive_email
from leadmill.contacts.models import Contact
from leadmill.core.admin_viewsets import (
    LabelledInspectViewMixin,
    LimitedPermissionPolicy,
    TitledAdminViewMixin,
    snippet_breadcrumbs,
)

from .emails import email_template_errors, render_message
from .models import EmailTemplate, Message, OutboxMessage

TEMPLATES_URL_NAMESPACE = "wagtailsnippets_messaging_emailtemplate"
PERSONALISATION_HELP = _(
    "Simple HTML. Personalise with {{ first_name }}, {{ last_name }}, {{ full_name }}, {{ email }}, "
    "{{ company_name }}, {{ role }}, {{ country }} and custom fields by their key, with a fallback: "
    '{{ first_name|default:"there" }}. Links are tracked; the unsubscribe and preference links are '
    "added to the footer."
)


class EmailTemplateForm(WagtailAdminModelForm):
    """Refuses personalisation that cannot be rendered, field by field, before it is saved;
    and a subscription type that does not permit marketing email (never sent)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "purpose" in self.fields:
            self.fields["purpose"].error_messages["invalid_choice"] = _(
                "Choose a subscription type that permits marketing email."
            )

    def clean(self):
        cleaned = super().clean()
        errors = email_template_errors(
            subject=cleaned.get("subject") or "",
            preheader=cleaned.get("preheader") or "",
            body=cleaned.get("body") or "",
        )
        for field, field_errors in errors.items():
            for error in field_errors:
                self.add_error(field, error)
        return cleaned


def _preview_url(template_pk: int) -> str:
    return reverse(f"{TEMPLATES_URL_NAMESPACE}:preview", args=[template_pk])


class EmailTemplateIndexView(IndexView):
    def get_list_more_buttons(self, instance):
        return [
            *super().get_list_more_buttons(instance),
            ListingButton(
                _("Preview and test"), url=_preview_url(instance.pk), icon_name="view", priority=5
            ),
        ]


class EmailTemplateEditView(EditView):
    @property
    def header_more_buttons(self):
        return [
            *super().header_more_buttons,
            HeaderButton(
                _("Preview and test"),
                url=_preview_url(self.object.pk),
                icon_name="view",
                priority=5,
            ),
        ]


class _TemplateActionMixin:
    """Previewing needs permission to view email templates; sending a test, to change them
    (it goes out under the brand)."""

    permission_required = "view"

    def dispatch(self, request, *args, **kwargs):
        if not ModelPermissionPolicy(EmailTemplate).user_has_permission(
            request.user, self.permission_required
        ):
            raise PermissionDenied
        self.template = get_object_or_404(EmailTemplate, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def lead_chosen(self, value: str) -> tuple[Contact | None, str]:
        """The lead named by an id or an email address (None: the sample lead), and an error."""
        value = (value or "").strip()
        if not value:
            return None, ""
        lookup = {"pk": int(value)} if value.isdigit() else {"email__iexact": value}
        contact = Contact.objects.filter(**lookup).first()
        return contact, "" if contact else _(
            "No lead matches “%(value)s”; showing the sample lead."
        ) % {"value": value}


class EmailTemplatePreviewView(
    _TemplateActionMixin, TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView
):
    """The email as a lead would get it, in a sandboxed frame, with its text part and headers."""

    template_name = "messaging/admin/email_preview.html"
    page_title = _("Preview")
    header_icon = "mail"

    def parent_breadcrumbs(self):
        return snippet_breadcrumbs(self.template)

    def get_page_subtitle(self):
        return self.template.name

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lead_value = self.request.GET.get("lead", "")
        contact, lead_error = self.lead_chosen(lead_value)
        email = render_message(
            message=Message(template=self.template), template=self.template, contact=contact
        )
        context.update(
            email_template=self.template,
            rendered=email,
            contact=contact,
            lead_value=lead_value,
            lead_error=lead_error,
            send_test_url=reverse(f"{TEMPLATES_URL_NAMESPACE}:send_test", args=[self.template.pk]),
            edit_url=reverse(f"{TEMPLATES_URL_NAMESPACE}:edit", args=[self.template.pk]),
            test_address=self.request.user.email,
            list_unsubscribe=email.headers["List-Unsubscribe"],
        )
        return context


class EmailTemplateSendTestView(_TemplateActionMixin, View):
    """Sends the preview to one address through the configured backend, subject "[Test] …".

    Its links work but belong to no message: opens and clicks of a test are not recorded.
    """

    http_method_names = ["post"]
    permission_required = "change"

    def post(self, request, pk):
        back = _preview_url(self.template.pk)
        contact, _error = self.lead_chosen(request.POST.get("lead", ""))
        address = (request.POST.get("to") or "").strip()
        try:
            forms.EmailField().clean(address)
        except forms.ValidationError:
            messages.error(request, _("Enter the email address the test should go to."))
            return redirect(back)
        if not may_receive_email(email=address):
            messages.error(
                request,
                _("%(address)s is on the suppression list: no email goes to it.")
                % {"address": address},
            )
            return redirect(back)
        email = render_message(
            message=Message(template=self.template), template=self.template, contact=contact
        )
        mail = EmailMultiAlternatives(
            subject=f"[Test] {email.subject}",
            body=email.text,
            from_email=email.from_email,
            to=[address],
            reply_to=list(email.reply_to),
            headers={name: value for name, value in email.headers.items() if name != "Message-ID"},
        )
        mail.attach_alternative(email.html, "text/html")
        mail.send()
        messages.success(request, _("Test email sent to %(address)s.") % {"address": address})
        return redirect(back)


class EmailTemplateViewSet(SnippetViewSet):
    """Marketing email templates: subject, preheader and body with personalisation."""

    model = EmailTemplate
    icon = "mail"
    menu_label = _("Email templates")
    menu_order = 163
    add_to_admin_menu = True
    index_view_class = EmailTemplateIndexView
    edit_view_class = EmailTemplateEditView
    list_display = [
        "name",
        "subject",
        "purpose",
        DateColumn("updated_at", label=_("Updated"), sort_key="updated_at"),
    ]
    search_fields = ["name", "subject"]
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("subject"),
            FieldPanel("preheader", help_text=_("The line inboxes show after the subject.")),
            FieldPanel(
                "body",
                widget=forms.Textarea(attrs={"rows": 20, "style": "font-family: monospace"}),
                help_text=PERSONALISATION_HELP,
            ),
            MultiFieldPanel(
                [
                    FieldRowPanel([FieldPanel("from_name"), FieldPanel("from_email")]),
                    FieldPanel("reply_to"),
                ],
                heading=_("Sender"),
            ),
            FieldPanel("purpose"),
        ],
        base_form_class=EmailTemplateForm,
    )

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("preview/<int:pk>/", EmailTemplatePreviewView.as_view(), name="preview"),
            path("send-test/<int:pk>/", EmailTemplateSendTestView.as_view(), name="send_test"),
        ]


class MessageIndexView(ModelIndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().select_related("contact", "template")


class MessageInspectView(LabelledInspectViewMixin, InspectView):
    """One email: what happened to it and, where known, what it said — the bodies of a
    transactional email, or the copy the embedded outbox kept (in a sandboxed frame)."""

    template_name = "messaging/admin/message_inspect.html"

    field_labels = {
        "contact": _("lead"),
        "to_email": _("to"),
        "template": _("email template"),
        "subject": _("subject"),
        "status": _("status"),
        "message_id": _("Message-ID"),
        "created_at": _("Created"),
        "sent_at": _("Sent"),
        "opened_at": _("Opened"),
        "clicked_at": _("Clicked"),
        "error": _("Error"),
        "enrollment_id": _("enrollment"),
        "step_id": _("sequence step"),
        "broadcast_id": _("broadcast"),
    }

    def get_object(self, queryset=None):
        return get_object_or_404(Message.objects.select_related("contact", "template"), pk=self.pk)

    @cached_property
    def kept(self) -> OutboxMessage | None:
        """The copy the embedded outbox backend kept, if any."""
        return (
            OutboxMessage.objects.filter(message_id=f"<{self.object.message_id}>")
            .order_by("-created_at")
            .first()
        )

    def get_page_subtitle(self):
        return f"{self.object.subject_label()} → {self.object.recipient_label()}"

    def get_to_email_display_value(self):
        """A marketing email goes to its lead's address, not to a stored one."""
        return self.object.recipient

    def get_subject_display_value(self):
        """A marketing email's subject is rendered at send time: the kept copy has it."""
        return self.object.subject or (self.kept.subject if self.kept else "")

    def get_category_display_value(self):
        return self.object.category_label()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["body_text"] = self.kept.text_body if self.kept else self.object.body_text
        context["body_html"] = self.kept.html_body if self.kept else self.object.body_html
        return context


class MessageViewSet(ModelViewSet):
    """Every email Leadmill sent or meant to send — marketing and transactional: to whom,
    what it was, and what happened to it (read-only)."""

    model = Message
    icon = "mail"
    menu_label = _("Email log")
    url_prefix = "emails"
    add_to_admin_menu = True
    menu_order = 164
    permission_policy = LimitedPermissionPolicy(Message, actions={"view"})
    copy_view_enabled = False
    inspect_view_enabled = True
    add_to_reference_index = False
    index_view_class = MessageIndexView
    inspect_view_class = MessageInspectView
    list_display = [
        "recipient_label",
        "subject_label",
        "kind",
        "status",
        DateColumn("sent_at", label=_("Sent"), sort_key="sent_at"),
        DateColumn("opened_at", label=_("Opened"), sort_key="opened_at"),
        DateColumn("clicked_at", label=_("Clicked"), sort_key="clicked_at"),
    ]
    list_filter = ["kind", "status", "template"]
    search_fields = ["message_id", "contact__email", "to_email", "subject"]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    inspect_view_fields = [
        "contact",
        "to_email",
        "kind",
        "category",
        "template",
        "subject",
        "status",
        "message_id",
        "created_at",
        "sent_at",
        "opened_at",
        "clicked_at",
        "error",
        "enrollment_id",
        "step_id",
        "broadcast_id",
    ]
    form_fields = []  # never used: the screen is read-only


register_snippet(EmailTemplateViewSet)


@hooks.register("register_admin_viewset")
def register_message_viewset():
    return MessageViewSet()
