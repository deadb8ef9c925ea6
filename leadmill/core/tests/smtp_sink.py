"""A real SMTP server on loopback (aiosmtpd) that keeps what it received: the one sink every
email test uses, through the ``smtp_server`` fixture of the root ``conftest.py`` or, for a
server stopped and started again on one port, :func:`smtp_running`."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class Inbox:
    """What the server accepted, in order: ``messages`` (parsed) and, beside each, its
    envelope's ``recipients``; the ``peers`` it came from and the Message-IDs received on
    each connection (``connections``). Addresses in ``refuse`` get a 550 at RCPT;
    ``delay_s`` slows each DATA answer (to land a kill mid-batch)."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.senders: list[str] = []
        self.peers: set = set()
        self.refuse: set[str] = set()
        self.connections: list[list[str]] = []
        self._lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self._lock:
            self.connections.append([])
            session.connection_index = len(self.connections) - 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(parsed)
            self.recipients.append(list(envelope.rcpt_tos))
            self.senders.append(envelope.mail_from)
            self.peers.add(session.peer)
            index = getattr(session, "connection_index", None)
            if index is not None:
                self.connections[index].append(str(parsed["Message-ID"]))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        """The messages whose envelope named ``address``."""
        return [
            m for m, rcpts in zip(self.messages, self.recipients, strict=True) if address in rcpts
        ]

    @staticmethod
    def text_of(message: email.message.EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def html_of(message: email.message.EmailMessage) -> str:
        return message.get_body(preferencelist=("html",)).get_content()


def free_port() -> int:
    """A port nothing listens on now, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_running(inbox: Inbox, port: int | None = None):
    """The server on ``port`` (a free one by default) while the block runs; yields the port."""
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def use_smtp(settings, port: int) -> None:
    """Point Django's email at the loopback server."""
    settings.EMAIL_BACKEND = "leadmill.messaging.backends.SMTPEmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
