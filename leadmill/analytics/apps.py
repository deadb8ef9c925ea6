from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "leadmill.analytics"
    label = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from leadmill.core.personal_data import register_personal_data

        from . import (
            admin_nurture,  # noqa: F401 -- registers the nurture performance screens
            handlers,
        )
        from .personal_data import PERSONAL_DATA

        register_personal_data(*PERSONAL_DATA)
        handlers.subscribe_all()
