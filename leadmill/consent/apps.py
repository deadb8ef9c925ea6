from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "leadmill.consent"
    label = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        from leadmill.core.personal_data import register_personal_data

        from . import checks  # noqa: F401 -- registers the deploy checks
        from .personal_data import PERSONAL_DATA

        register_personal_data(*PERSONAL_DATA)
