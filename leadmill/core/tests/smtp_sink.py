"""A real SMTP server on loopback (aiosmtpd) for engine tests, keeping what it received."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class Inbox:
    """Received emails, parsed; ``delay_s`` slows each DATA answer (to land a kill mid-batch)."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.messages: list[email.message.EmailMessage] = []
        self.connections: list[list[str]] = []  # Message-IDs received on each connection
        self._lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self._lock:
            self.connections.append([])
            session.connection_index = len(self.connections) - 1
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(parsed)
            index = getattr(session, "connection_index", None)
            if index is not None:
                self.connections[index].append(str(parsed["Message-ID"]))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    @staticmethod
    def html_of(message: email.message.EmailMessage) -> str:
        return message.get_body(preferencelist=("html",)).get_content()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_running(inbox: Inbox, port: int | None = None):
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def use_smtp(settings, port: int) -> None:
    """Point Django's email at the loopback server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
