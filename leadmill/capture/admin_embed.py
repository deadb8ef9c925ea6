"""The form editor's "Embed on other sites" panels: the code to paste, with a copy button,
beside the allowed origins, and the sites refused lately (issue 14, item 12)."""

from __future__ import annotations

from wagtail.admin.panels import Panel

from .embeds import embed_code, refused_origins_recent


class EmbedCodePanel(Panel):
    """The form's embed code and a button that copies it (once the form is saved)."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "capture/admin/embed_code_panel.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            saved = self.instance is not None and self.instance.pk is not None
            context["code"] = embed_code(slug=self.instance.slug) if saved else ""
            return context


class RefusedOriginsPanel(Panel):
    """The sites that tried to embed or post the form lately and were refused."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "capture/admin/refused_origins_panel.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            saved = self.instance is not None and self.instance.pk is not None
            context["refused"] = refused_origins_recent(form_id=self.instance.pk) if saved else []
            return context
