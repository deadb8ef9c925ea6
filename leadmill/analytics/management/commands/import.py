"""``leadmill import spend FILE.csv``: record ad spend from a CSV file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from leadmill.analytics.services import SpendError, spend_record, spend_rows_from_csv


class Command(BaseCommand):
    help = (
        "Import ad spend: a CSV with date (YYYY-MM-DD), amount, currency and any of channel, "
        "source, medium, campaign. All rows or none."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["spend"])
        parser.add_argument("path", type=Path)

    def handle(self, *args, kind, path, **options):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            message = _("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc}
            raise CommandError(message) from None
        try:
            count = spend_record(rows=spend_rows_from_csv(text))
        except SpendError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(_("%(count)s spend rows imported.") % {"count": count})
