import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from leadmill.core.errors import ValidationFailed

from ...models import ALL_SCOPES, SCOPES
from ...services import api_key_create


class Command(BaseCommand):
    help = (
        "Create a scoped API key: leadmill apikey NAME --scope leads:read --scope leads:write "
        "(or --scope all). The key is printed alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            help=f"{ALL_SCOPES} (every scope), or one of {', '.join(SCOPES)}; repeat for more",
        )
        parser.add_argument(
            "--expires-days", type=int, default=None, help="the key stops working after this"
        )

    def handle(self, *args, name, scope, expires_days, **options):
        if not scope:
            raise CommandError(f"Give at least one --scope ({ALL_SCOPES}, {', '.join(SCOPES)}).")
        expires_at = None
        if expires_days is not None:
            expires_at = timezone.now() + dt.timedelta(days=expires_days)
        try:
            key, secret = api_key_create(name=name, scopes=scope, expires_at=expires_at)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        expiry = f", expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else ""
        self.stdout.write(f"API key {key.name!r} with scopes {', '.join(key.scopes)}{expiry}.")
        self.stdout.write("Store it now: it is not shown again.")
        self.stdout.write(secret)
