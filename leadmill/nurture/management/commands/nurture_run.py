"""``leadmill nurture_run``: run nurture's background pass in the foreground.

Without options, one pass (what the periodic task does each minute). ``--until-idle`` repeats
until a pass finds nothing to do; ``--forever`` keeps polling (a dedicated nurture worker).
"""

import time

from django.core.management.base import BaseCommand

from leadmill.core.locks import locks_release_dead
from leadmill.messaging import tasks as messaging_tasks  # noqa: F401 (declares the send lock)
from leadmill.nurture.runner import nurture_pass


class Command(BaseCommand):
    help = "Enrol segment newcomers, advance due sequence steps, start broadcasts and send queued email."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--until-idle", action="store_true", help="Repeat until there is nothing to do."
        )
        mode.add_argument(
            "--forever", action="store_true", help="Keep polling, once a second when idle."
        )

    def handle(self, *args, until_idle=False, forever=False, **options):
        # A worker restarted on this machine takes back at once the locks a killed one left
        # (the send lock of the queue, ADR 68), as a starting consumer does.
        locks_release_dead()
        while True:
            report = nurture_pass()
            if options["verbosity"] > 1 or (report.did_something and options["verbosity"] > 0):
                self.stdout.write(str(report))
            if report.did_something and (until_idle or forever):
                continue
            if not forever:
                return
            time.sleep(1.0)
