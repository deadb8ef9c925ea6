from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "leadmill.nurture"
    label = "nurture"
    verbose_name = _("Nurture")

    def ready(self):
        from leadmill.core import registry
        from leadmill.core.personal_data import register_personal_data

        from . import handlers, selectors
        from .personal_data import PERSONAL_DATA

        handlers.subscribe_all()
        registry.register_timeline(selectors.enrollment_timeline)
        register_personal_data(*PERSONAL_DATA)
