"""``leadmill suppression_rehash``: move the suppression list to the current
LEADMILL_SUPPRESSION_KEY (see :func:`leadmill.consent.services.suppression_rehash`).

The old keys are the ones a row may be under: SECRET_KEY and SECRET_KEY_FALLBACKS (the list
was keyed by them before it had a key of its own), LEADMILL_SUPPRESSION_KEY_FALLBACKS and the
key pinned in the data directory. ``--from-env NAME`` (repeatable) adds the key held by the
environment variable NAME; keys are never given on the command line (``ps`` would show them).
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from leadmill.consent.selectors import SUPPRESSION_KEY_FILE
from leadmill.consent.services import suppression_rehash


class Command(BaseCommand):
    help = "Re-hash the suppression list from old keys to LEADMILL_SUPPRESSION_KEY."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-env",
            action="append",
            default=[],
            metavar="NAME",
            help="An environment variable holding an old key (repeatable).",
        )

    def handle(self, *args, from_env, **options):
        old_keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        old_keys += settings.LEADMILL_SUPPRESSION_KEY_FALLBACKS
        pinned = Path(settings.DATA_DIR) / SUPPRESSION_KEY_FILE
        if pinned.exists():
            old_keys.append(pinned.read_text().strip())
        for name in from_env:
            if not os.environ.get(name):
                raise CommandError(f"The environment variable {name} is not set.")
            old_keys.append(os.environ[name])
        result = suppression_rehash(old_keys=old_keys)
        self.stdout.write(
            f"{result.rehashed} re-hashed, {result.current} under the current key, "
            f"{result.unknown} left as they were."
        )
        if result.unknown:
            self.stdout.write(
                "Rows left as they were have no address Leadmill still knows (an erased "
                "person, a bounce of an address that was never a contact). Those written under "
                "an old key keep matching only while it is in LEADMILL_SUPPRESSION_KEY_FALLBACKS."
            )
