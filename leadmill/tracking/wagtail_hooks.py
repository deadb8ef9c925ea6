"""Back-office screens of tracking: the organisation's sites and the bot rules."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from .models import BotRule, Site


class SiteViewSet(SnippetViewSet):
    model = Site
    icon = "site"
    menu_label = _("Tracked sites")
    list_display = ["name", "origin", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "origin"]
    panels = [FieldPanel("name"), FieldPanel("origin"), FieldPanel("is_active")]


class BotRuleViewSet(SnippetViewSet):
    model = BotRule
    icon = "warning"
    menu_label = _("Bot rules")
    list_display = ["pattern", "kind", "action", "description", "is_active"]
    list_filter = ["action", "kind", "is_active"]
    search_fields = ["pattern", "description"]
    panels = [
        FieldPanel("pattern"),
        FieldPanel("kind"),
        FieldPanel("action"),
        FieldPanel("description"),
        FieldPanel("is_active"),
    ]


register_snippet(SiteViewSet)
register_snippet(BotRuleViewSet)
