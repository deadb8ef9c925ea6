from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "leadmill.nurture"
    label = "nurture"
    verbose_name = _("Nurture")

    def ready(self):
        from leadmill.core import registry
        from leadmill.core.log_redaction import secret_urls_register
        from leadmill.core.personal_data import register_personal_data

        from . import handlers, selectors
        from .personal_data import PERSONAL_DATA

        handlers.subscribe_all()
        registry.register_timeline(selectors.enrollment_timeline)
        secret_urls_register("nurture:open", "nurture:click", "nurture:unsubscribe", "nurture:preferences")
        register_personal_data(*PERSONAL_DATA)

