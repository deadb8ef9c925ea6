"""``leadmill erase EMAIL``: erase the lead with this email address (the operator's path to
:func:`leadmill.privacy.services.contact_erase`; docs/privacy.md, "Erasing a person")."""

from django.core.management.base import BaseCommand, CommandError

from leadmill.contacts.identity import email_normalise
from leadmill.contacts.models import Contact
from leadmill.core.errors import NotFound, ValidationFailed
from leadmill.privacy.models import ErasureRecord
from leadmill.privacy.services import contact_erase


class Command(BaseCommand):
    help = (
        "Erase the lead with this email address and its personal data, and suppress the "
        "address. This cannot be undone."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The lead's email address.")
        parser.add_argument(
            "--reason",
            default="",
            help="Kept in the erasure record (do not name the person).",
        )
        parser.add_argument(
            "--by", default="command line", help="Who asked, kept in the erasure record."
        )

    def handle(self, *args, email, reason, by, **options):
        try:
            address = email_normalise(email, check_deliverability=False)
        except ValidationFailed as error:
            raise CommandError(error.message) from error
        contact_ids = list(Contact.objects.filter(email=address).values_list("pk", flat=True))
        if not contact_ids:
            raise CommandError(f"No lead has the address {address}.")
        for contact_id in contact_ids:
            try:
                record = contact_erase(
                    contact_id=contact_id,
                    by=None,
                    by_name=by,
                    reason=reason,
                    via=ErasureRecord.Via.COMMAND,
                )
            except NotFound as error:
                raise CommandError(error.message) from error
            self.stdout.write(
                f"Lead #{contact_id} erased (erasure {record.pk}): "
                f"{record.rows_total} rows; the address is suppressed."
            )
