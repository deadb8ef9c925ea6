from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "leadmill.scoring"
    label = "scoring"
    verbose_name = _("Scoring")

    def ready(self):
        from leadmill.capture.events import LeadCaptured
        from leadmill.contacts.events import ContactsMerged, ContactUpdated
        from leadmill.core import events
        from leadmill.core.personal_data import register_personal_data
        from leadmill.messaging.events import MessageClicked
        from leadmill.tracking.events import (
            ContactEventRecorded,
            ContactEventsIngested,
            VisitorIdentified,
        )

        from . import handlers
        from .personal_data import PERSONAL_DATA

        events.subscribe(LeadCaptured, handlers.score_captured_lead, batch=True)
        events.subscribe(VisitorIdentified, handlers.score_identified_visitor, batch=True)
        events.subscribe(ContactUpdated, handlers.rescore_updated_contact, batch=True)
        events.subscribe(ContactsMerged, handlers.rescore_merged_contact, batch=True)
        events.subscribe(ContactEventRecorded, handlers.score_recorded_event)
        events.subscribe(ContactEventsIngested, handlers.score_ingested_events)
        events.subscribe(MessageClicked, handlers.rescore_after_scanner_burst)
        register_personal_data(*PERSONAL_DATA)
