from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "leadmill.consent"
    label = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        from . import checks  # noqa: F401 -- registers the deploy checks
