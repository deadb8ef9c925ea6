"""The form editor's own panels (issue 14, "the form builder"): the slug follows the name
while the form is new, and each field is listed by its label, not as "Fields 1"."""

from __future__ import annotations

from django import forms
from wagtail.admin.panels import InlinePanel, TitleFieldPanel
from wagtail.snippets.views.snippets import CreateView


class NameFieldPanel(TitleFieldPanel):
    """The form's name, which fills its slug as it is typed (Wagtail's title-to-slug sync)
    until the form is saved: after that the slug is the address pages and embeds post to,
    and renaming the form must not move it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("classname", "")
        kwargs.setdefault("placeholder", False)
        super().__init__(*args, **kwargs)

    class BoundPanel(TitleFieldPanel.BoundPanel):
        def get_should_apply(self):
            return self.instance is None or self.instance.pk is None


class LabelledInlinePanel(InlinePanel):
    """An inline panel whose children are headed by what they are (the field's label, else
    its kind: "Email", "Company"), kept up to date as the marketer changes them."""

    class BoundPanel(InlinePanel.BoundPanel):
        template_name = "capture/admin/labelled_inline_panel.html"

        @property
        def media(self):
            return super().media + forms.Media(js=["capture/admin/labelled_inline_panel.js"])


class FormCreateView(CreateView):
    """A new form starts with its email field in place, required: every form asks it
    (the other fields are the marketer's choice)."""

    def get_initial_form_instance(self):
        from .models import FieldKind, FormField

        instance = super().get_initial_form_instance() or self.model()
        instance.fields = [FormField(kind=FieldKind.EMAIL, required=True, sort_order=0)]
        return instance
