from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "leadmill.api"
    label = "api"
    verbose_name = _("API")

    def ready(self):
        from leadmill.core.personal_data import register_personal_data

        from .personal_data import PERSONAL_DATA

        register_personal_data(*PERSONAL_DATA)
