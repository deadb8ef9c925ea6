"""The embedded-mode email backend: keeps every message in the back office's outbox.

Its copies show on the email log's pages. An email sent around the message log (a
password reset, an admin's test email) gets a log row of its own, as sent, so the one log
screen shows everything the embedded mode "sent".
"""

from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from .models import Message, OutboxMessage

        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            mime = message.message()
            rows.append(
                OutboxMessage(
                    message_id=mime.get("Message-ID", ""),
                    from_email=message.from_email,
                    to=", ".join(message.recipients()),
                    subject=message.subject,
                    text_body=message.body,
                    html_body=html,
                    headers={k: str(v) for k, v in (message.extra_headers or {}).items()},
                )
            )
        OutboxMessage.objects.bulk_create(rows)
        ids = {row.message_id.strip("<>"): row for row in rows if row.message_id}
        logged = set(
            Message.objects.filter(message_id__in=ids).values_list("message_id", flat=True)
        )
        now = timezone.now()
        Message.objects.bulk_create(
            [
                Message(
                    message_id=message_id,
                    kind=Message.Kind.TRANSACTIONAL,
                    category="outside the log",
                    to_email=row.to[:254],
                    subject=row.subject[:300],
                    status=Message.Status.SENT,
                    sent_at=now,
                )
                for message_id, row in ids.items()
                if message_id not in logged
            ]
        )
        return len(rows)
