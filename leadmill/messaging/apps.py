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

        from .bounces import tracking_event_received

        tracking.connect(tracking_event_received, dispatch_uid="leadmill.messaging.bounces")
