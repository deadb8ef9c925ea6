"""The embedded-mode email backend: keeps every message in the back office's outbox."""

from django.core.mail.backends.base import BaseEmailBackend


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from .models import OutboxMessage

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
        return len(rows)
