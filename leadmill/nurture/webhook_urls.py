"""Which webhook URLs a sequence may call: http(s) to a public address only.

A webhook step is written in the back office, so without this check it could reach the
server's own network (``http://127.0.0.1:…``, a cloud metadata address, the database):
a host resolving to a loopback, private, link-local, multicast, reserved or unspecified
address is refused, unless ``settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE`` (for receivers on
the same network, and tests). Checked when the sequence is saved and again at each call.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def webhook_url_problem(url: str, *, unknown_host_ok: bool = False) -> str:
    """Why ``url`` may not be called (a sentence for the marketer), or "" when it may.

    The host name is looked up; ``unknown_host_ok`` (when a sequence is saved: the name
    may exist later, the call checks again) accepts one the lookup cannot find.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return _("Enter an http:// or https:// address.")
    if settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE:
        return ""
    host = parts.hostname
    refused = _(
        "“%(host)s” is an address of the server's own or a private network; webhooks may only "
        "call public addresses."
    ) % {"host": host}
    if host == "localhost" or host.endswith(".localhost"):
        return refused
    try:
        return refused if _internal(host) else ""
    except ValueError:
        pass  # a name, not an address
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return "" if unknown_host_ok else _("“%(host)s” cannot be found.") % {"host": host}
    return refused if any(_internal(address) for address in addresses) else ""
