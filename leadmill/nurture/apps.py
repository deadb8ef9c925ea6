from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "leadmill.nurture"
    label = "nurture"
    verbose_name = _("Nurture")

    def ready(self):
        from . import handlers

        handlers.subscribe_all()
