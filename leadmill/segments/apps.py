from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "leadmill.segments"
    label = "segments"
    verbose_name = _("Segments")
