from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "leadmill.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        from leadmill.core.log_redaction import secret_urls_register

        # The signed tokens in these addresses act for the person: never logged.
        secret_urls_register(
            "messaging:open", "messaging:click", "messaging:unsubscribe", "messaging:preferences"
        )
        # A third-party signal, not a model signal: the ESP's bounce and complaint webhooks.
        from anymail.signals import tracking

        from leadmill.core.personal_data import register_personal_data

        from .bounces import tracking_event_received
        from .personal_data import PERSONAL_DATA

        tracking.connect(tracking_event_received, dispatch_uid="leadmill.messaging.bounces")
        register_personal_data(*PERSONAL_DATA)
