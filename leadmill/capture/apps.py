from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaptureConfig(AppConfig):
    name = "leadmill.capture"
    label = "capture"
    verbose_name = _("Capture")

    def ready(self):
        from leadmill.core import events, registry
        from leadmill.core.log_redaction import secret_urls_register
        from leadmill.core.personal_data import register_personal_data

        from . import checks, handlers, selectors  # noqa: F401 -- checks: registers the system checks
        from .events import LeadCaptured
        from .personal_data import PERSONAL_DATA

        events.subscribe(LeadCaptured, handlers.deliver_offer_email)
        events.subscribe(LeadCaptured, handlers.stitch_visitor, batch=True)
        events.subscribe(LeadCaptured, handlers.request_opt_in_confirmation, batch=True)
        events.subscribe(LeadCaptured, handlers.record_experiment_conversions, batch=True)
        registry.register_timeline(selectors.submission_timeline)
        registry.register_names("form", selectors.form_names)
        registry.register_names("download", selectors.download_names)
        registry.register_names("channel", selectors.channel_names)
        secret_urls_register("capture:offer_download", "capture:opt_in_confirm")
        register_personal_data(*PERSONAL_DATA)
