from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "leadmill.tracking"
    label = "tracking"
    verbose_name = _("Tracking")

    def ready(self):
        from leadmill.core import events, registry
        from leadmill.core.personal_data import register_personal_data

        from . import handlers, selectors
        from .events import VisitorIdentified
        from .personal_data import PERSONAL_DATA

        registry.register_timeline(selectors.event_timeline)
        events.subscribe(VisitorIdentified, handlers.first_touch_from_visits)
        register_personal_data(*PERSONAL_DATA)
