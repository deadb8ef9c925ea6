from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "leadmill.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        from leadmill.core import events

        from . import handlers

        for event_type in handlers.WEBHOOK_EVENTS.values():
            events.subscribe(event_type, handlers.deliveries_record, batch=True)
