"""The one outgoing HTTP client: every call Leadmill makes to an address someone typed.

A URL written in the back office (a sequence's "call a webhook" step, and every later
outgoing call) must not reach the server's own network: ``http://127.0.0.1:…``, a cloud
metadata address, the database, a neighbour on a private or carrier-grade NAT network. So
:func:`outgoing_request`

- resolves the host name **once**, through :func:`resolve` (a seam tests swap with
  :func:`outgoing_network`), and refuses the call unless **every** address it got is public
  (``ipaddress.is_global``, not multicast; an IPv4 address embedded in an IPv6 one, as
  ``::ffff:``, 6to4 ``2002::/16``, Teredo or NAT64 carry it, is checked as well);
- connects to one of those checked addresses, never to the name: a second look-up (by the
  HTTP library) could answer differently (DNS rebinding);
- keeps the original name in the ``Host`` header, for TLS SNI and for the certificate check;
- follows no redirect: a 3xx is an answer like any other, for the caller to judge;
- bounds the connect, each read, the whole exchange, and the size of the body it keeps.

``settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE`` (the name it had when webhooks were the only
outgoing call) lets calls reach loopback and private addresses: for tests and receivers on
the same network. See docs/adr/0015-one-outgoing-http-client.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 30.0
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "Leadmill/1"

# Not globally reachable (IANA special-purpose registries), though Python before 3.11.10 /
# 3.12.4 calls them global (CVE-2024-4032): refused whatever the interpreter says.
NOT_GLOBAL = (
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments (192.0.0.192 included)
    ipaddress.ip_network("3fff::/20"),  # documentation
)

Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]


class OutgoingRefused(Exception):
    """The URL may not be called; ``str(exc)`` is a sentence for the person who wrote it."""


class OutgoingFailed(Exception):
    """The call was made (or tried) and did not give a complete answer: the host cannot be
    found or reached, a time-out, a broken TLS handshake or certificate, a broken answer."""


@dataclasses.dataclass(frozen=True)
class OutgoingResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool  # the answer had more than the body cap; ``body`` is its first bytes


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def system_connect(address: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


_network: dict[str, Callable] = {"resolve": system_resolve, "connect": system_connect}


def resolve(host: str, port: int) -> list[str]:
    """The seam every look-up goes through (see :func:`outgoing_network`)."""
    return _network["resolve"](host, port)


@contextlib.contextmanager
def outgoing_network(
    *, resolve: Resolver | None = None, connect: Connector | None = None
) -> Iterator[None]:
    """Swap the resolver and/or the connector for the block (tests: a name that answers a
    public address first and loopback next; a connector that records where it was sent)."""
    saved = dict(_network)
    if resolve is not None:
        _network["resolve"] = resolve
    if connect is not None:
        _network["connect"] = connect
    try:
        yield
    finally:
        _network.update(saved)


def address_is_public(address: str) -> bool:
    """Whether ``address`` (an IP literal) is on the public internet and unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 well-known prefix
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        candidates += [v4 for v4 in embedded if v4 is not None]
    return all(
        c.is_global
        and not c.is_multicast
        and not any(c.version == net.version and c in net for net in NOT_GLOBAL)
        for c in candidates
    )


def _refusal(host: str) -> OutgoingRefused:
    return OutgoingRefused(
        _(
            "“%(host)s” is an address of the server's own or a private network; Leadmill "
            "only calls public addresses."
        )
        % {"host": host}
    )


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or OutgoingRefused."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise OutgoingRefused(_("Enter an http:// or https:// address."))
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def _checked_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` once; every address must be allowed. Raises OutgoingRefused, or
    OutgoingFailed when the name cannot be found."""
    allow_private = settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal: nothing to look up
    except ValueError:
        if not allow_private and (host == "localhost" or host.endswith(".localhost")):
            raise _refusal(host) from None
        addresses = _looked_up(host, port)
    if not allow_private and not all(address_is_public(a) for a in addresses):
        raise _refusal(host)
    return addresses


def _looked_up(host: str, port: int) -> list[str]:
    unknown = OutgoingFailed(_("“%(host)s” cannot be found.") % {"host": host})
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise unknown from exc
    if not addresses:
        raise unknown
    return addresses


def url_problem(url: str, *, unknown_host_ok: bool = False) -> str:
    """Why ``url`` may not be called (a sentence for the marketer), or "" when it may (today:
    the call checks again). ``unknown_host_ok`` (when a URL is saved: the name may exist
    later) accepts a name the look-up cannot find."""
    try:
        _scheme, host, port = _target(url)
        _checked_addresses(host, port)
    except OutgoingRefused as exc:
        return str(exc)
    except OutgoingFailed as exc:
        return "" if unknown_host_ok else str(exc)
    return ""


def outgoing_request(
    *,
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
    total_timeout: float = TOTAL_TIMEOUT_S,
    max_body_bytes: int = MAX_BODY_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> OutgoingResponse:
    """Make one HTTP request to ``url`` under the rules in this module's docstring.

    Returns the answer whatever its status (3xx included: no redirect is followed), with at
    most ``max_body_bytes`` of its body. Raises OutgoingRefused (the URL is not http(s), or its
    host is, or resolves to, a non-public address) before anything is sent, and OutgoingFailed
    for everything that goes wrong on the way (``total_timeout`` bounds the whole exchange,
    a receiver that trickles its answer included). Many requests to one receiver: an
    :class:`OutgoingSession` keeps the connection between them.
    """
    with OutgoingSession(ssl_context=ssl_context) as session:
        return session.request(
            method=method,
            url=url,
            body=body,
            headers=headers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            max_body_bytes=max_body_bytes,
        )


class _Watchdog:
    """Cuts the socket of the exchange under way when its deadline passes: one thread per
    session (not one per request), armed and disarmed around each exchange."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._sleeps_until: float | None = None  # None: until notified
        self.fired = False

    def arm(self, seconds: float) -> None:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="outgoing-watchdog", daemon=True
                )
                self._thread.start()
            deadline = time.monotonic() + seconds
            self._deadline, self._sock, self.fired = deadline, None, False
            # Wake the thread only when it would sleep past the new deadline: requests one
            # after the other do not each cost it a wake-up (a thread switch).
            if self._sleeps_until is None or self._sleeps_until > deadline:
                self._condition.notify()

    def watch(self, sock: socket.socket) -> None:
        """The socket to cut (set once it exists: the deadline runs from :meth:`arm`)."""
        with self._condition:
            self._sock = sock
            if self.fired:  # the deadline passed while connecting
                self._cut()

    def disarm(self) -> None:
        with self._condition:
            self._deadline, self._sock = None, None

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()

    def _cut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        with self._condition:
            while not self._closed:
                if self._deadline is None:
                    self._sleeps_until = None
                    self._condition.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._sleeps_until = self._deadline
                    self._condition.wait(remaining)
                    continue
                self.fired = True
                self._cut()
                self._deadline = None


Origin = tuple[str, str, int]  # scheme, host (lower case), port


class OutgoingSession:
    """Several requests under the rules of :func:`outgoing_request`, keeping one connection
    per receiver (scheme, host, port) open between them (HTTP/1.1 keep-alive).

    A connection is opened to an address checked when it is opened (the name resolved
    once, every address public); the requests it carries go to that address, so the check
    holds for them as it did for the first. A connection the receiver closed while idle is
    replaced by a new one, checked again; an answer cut at the size cap, one the receiver
    marks ``Connection: close``, or any failure closes the connection. Time-outs, the size
    cap and no-redirects apply to each request as in :func:`outgoing_request`.

    For one thread at a time; close it (``with OutgoingSession() as session:``) to close its
    connections. Keep a session for a bounded stretch of work (a worker's batch) so names
    are looked up again now and then.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._kept: dict[Origin, http.client.HTTPConnection] = {}
        self._watchdog = _Watchdog()
        self.connections_opened = 0

    def __enter__(self) -> OutgoingSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._kept.values():
            connection.close()
        self._kept.clear()
        self._watchdog.close()

    def request(
        self,
        *,
        method: str,
        url: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        total_timeout: float = TOTAL_TIMEOUT_S,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> OutgoingResponse:
        """As :func:`outgoing_request`, over a kept connection to the receiver when there is
        one. Raises OutgoingRefused and OutgoingFailed as it does."""
        scheme, host, port = _target(url)
        origin = (scheme, host.lower(), port)
        parts = urlsplit(url.strip())
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        exchange = functools.partial(
            self._exchange,
            origin=origin,
            method=method,
            path=path,
            body=body,
            headers=all_headers,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            max_body_bytes=max_body_bytes,
        )
        kept = self._kept.pop(origin, None)
        if kept is not None:
            try:
                return exchange(kept, reused=True)
            except _ClosedWhileIdle:
                pass  # the receiver closed it between two requests: open a new one
        addresses = _checked_addresses(host, port)
        self._watchdog.arm(total_timeout)
        try:
            connection = self._open(scheme, host, port, addresses, connect_timeout, read_timeout)
        except (OSError, ValueError, OutgoingFailed) as exc:
            self._watchdog.disarm()
            raise self._failure(exc, read_timeout, total_timeout) from exc
        return exchange(connection, reused=False, armed=True)

    def _open(self, scheme, host, port, addresses, connect_timeout, read_timeout):
        sock = _connect_first(addresses, port, connect_timeout)
        self._watchdog.watch(sock)
        try:
            # http.client sends the headers and the body in two writes: without this, Nagle's
            # algorithm holds the body until the receiver's delayed ACK (40 ms a request).
            # (http.client sets it too, on the connections it opens itself.)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(read_timeout)
            if scheme == "https":
                context = self._ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(
                    sock, server_hostname=host
                )  # SNI + certificate: the name
                self._watchdog.watch(sock)
        except BaseException:
            with contextlib.suppress(OSError):
                sock.close()
            raise
        # http.client never connects on its own while ``sock`` is set (ours, to a checked
        # address); ``host`` stays the name, for the Host header.
        connection_class = (
            http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(host, port, timeout=read_timeout)
        connection.sock = sock
        connection.auto_open = 0  # never a connection of its own, to the name: NotConnected
        self.connections_opened += 1
        return connection

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        *,
        reused: bool,
        origin: Origin,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        read_timeout: float,
        total_timeout: float,
        max_body_bytes: int,
        armed: bool = False,
    ) -> OutgoingResponse:
        if connection.sock is None:  # closed after its last answer: never reopened by name
            connection.close()
            raise _ClosedWhileIdle
        if not armed:
            self._watchdog.arm(total_timeout)
        self._watchdog.watch(connection.sock)
        keep = answered = False
        try:
            connection.sock.settimeout(read_timeout)
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            answered = True
            kept, truncated = _read_capped(response, max_body_bytes)
            if self._watchdog.fired:  # the watchdog cut the answer short: not its end
                raise TimeoutError
            if not truncated and response.length:  # fewer bytes than Content-Length announced
                raise http.client.IncompleteRead(kept, response.length)
            keep = not truncated and not response.will_close
            return OutgoingResponse(
                status=response.status,
                headers=list(response.getheaders()),
                body=kept,
                truncated=truncated,
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            closed_while_idle = (
                reused
                and not answered
                and not self._watchdog.fired
                and isinstance(exc, (ConnectionError, http.client.RemoteDisconnected))
            )
            if closed_while_idle:
                raise _ClosedWhileIdle from exc
            raise self._failure(exc, read_timeout, total_timeout) from exc
        finally:
            self._watchdog.disarm()
            if keep:
                self._kept[origin] = connection
            else:
                connection.close()

    def _failure(self, exc: BaseException, read_timeout: float, total_timeout: float):
        if self._watchdog.fired:
            return OutgoingFailed(
                _("No complete answer within %(seconds)s seconds.") % {"seconds": total_timeout}
            )
        if isinstance(exc, OutgoingFailed):
            return exc
        if isinstance(exc, TimeoutError):
            return OutgoingFailed(
                _("No answer within %(seconds)s seconds.") % {"seconds": read_timeout}
            )
        return OutgoingFailed(str(exc) or type(exc).__name__)


class _ClosedWhileIdle(Exception):
    """A kept connection the receiver had closed: nothing was answered, send it anew."""


def _connect_first(addresses: list[str], port: int, timeout: float) -> socket.socket:
    """A socket to the first checked address that accepts, in the resolver's order."""
    error: OSError | None = None
    for address in addresses:
        try:
            return _network["connect"](address, port, timeout)
        except OSError as exc:
            error = exc
    raise OutgoingFailed(str(error) or _("The receiver cannot be reached.")) from error


def _read_capped(response: http.client.HTTPResponse, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body, and whether there was more (then the rest is not
    read: the connection is closed)."""
    chunks, size = [], 0
    while size <= cap:
        chunk = response.read(min(64 * 1024, cap + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:cap], True
