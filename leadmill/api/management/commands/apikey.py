from django.core.management.base import BaseCommand, CommandError

from leadmill.core.errors import ValidationFailed

from ...models import SCOPES
from ...services import api_key_create


class Command(BaseCommand):
    help = "Create a scoped API key: leadmill apikey NAME --scope leads:read --scope leads:write"

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scope", action="append", default=[], help=f"one of {', '.join(SCOPES)}"
        )

    def handle(self, *args, name, scope, **options):
        if not scope:
            raise CommandError(f"Give at least one --scope ({', '.join(SCOPES)}).")
        try:
            key, secret = api_key_create(name=name, scopes=scope)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"API key {key.name!r} with scopes {', '.join(key.scopes)}:")
        self.stdout.write(secret)
        self.stdout.write("Store it now: it is not shown again.")
