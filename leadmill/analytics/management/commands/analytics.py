"""``leadmill analytics fill|refill``: bring the daily counts up to date by hand."""

import time

from django.core.management.base import BaseCommand

from leadmill.analytics import services


class Command(BaseCommand):
    help = "Fill the analytics counts up to yesterday (fill), or forget and fill them (refill)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["fill", "refill"])
        parser.add_argument(
            "--pause-inside-day",
            type=float,
            default=0,
            help="Seconds to wait inside each day's transaction (for crash tests).",
        )

    def handle(self, *args, action, pause_inside_day, **options):
        def pause(day):
            self.stdout.write(f"writing {day}", ending="\n")
            self.stdout.flush()
            time.sleep(pause_inside_day)

        hook = pause if pause_inside_day else None
        if action == "refill":
            report = services.counts_refill()
        else:
            report = services.counts_fill(inside_day=hook)
        self.stdout.write(
            f"{report.days_filled} days counted, {report.days_corrected} corrected; "
            f"counts filled up to {report.filled_until}."
        )
