from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "leadmill.nurture"
    label = "nurture"
    verbose_name = _("Nurture")

    def ready(self):
        from leadmill.core import registry

        from . import handlers, selectors

        handlers.subscribe_all()
        registry.register_timeline(selectors.enrollment_timeline)
