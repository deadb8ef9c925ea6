"""The one outgoing HTTP client (leadmill/core/outgoing.py): public addresses only, the
name resolved once and the checked address connected, no redirect followed, bounded in
time and size. Real receivers on loopback (http.server in a thread, plain and TLS)."""

import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadmill.core.outgoing import (
    OutgoingFailed,
    OutgoingRefused,
    address_is_public,
    outgoing_network,
    outgoing_request,
    url_problem,
)

pytestmark = pytest.mark.django_db  # conftest clears the database cache before each test

PUBLIC = "93.184.215.14"


class Receiver(BaseHTTPRequestHandler):
    """/hook answers 200; /redirect a 302 to /landed on 127.0.0.1; /huge 5 MB; /silent
    nothing at all; /trickle its headers then one byte at a time."""

    received: list
    stop: threading.Event

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((self.path, self.headers["Host"], body))
        port = self.server.server_address[1]
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{port}/landed")
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.end_headers()
            self._write_until_cut(b"x" * 65536, times=80)
        elif self.path == "/silent":
            type(self).stop.wait(30)
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self._write_until_cut(b"x", times=100000, pause=0.05)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    do_GET = do_POST

    def _write_until_cut(self, chunk, *, times, pause=0.0):
        for _ in range(times):
            if type(self).stop.is_set():
                return
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
            except OSError:  # the client hung up: what the test wants
                return
            if pause:
                type(self).stop.wait(pause)

    def log_message(self, *args):
        pass


def serve(handler, wrap=None):
    handler.received, handler.stop = [], threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if wrap is not None:
        server.socket = wrap(server.socket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def receiver(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    server = serve(Receiver)
    yield Receiver, server.server_address[1]
    Receiver.stop.set()
    server.shutdown()
    server.server_close()


def names(mapping):
    """A resolver answering from ``mapping`` and recording what it was asked."""
    asked = []

    def resolve(host, port):
        asked.append(host)
        return list(mapping[host])

    return resolve, asked


def refusing_connector():
    """A connector that records where it was sent and connects nowhere (no traffic leaves
    loopback)."""
    attempts = []

    def connect(address, port, timeout):
        attempts.append((address, port))
        raise ConnectionRefusedError(f"test: not connecting to {address}")

    return connect, attempts


@pytest.mark.parametrize(
    "host",
    [
        "100.100.100.200",  # a cloud metadata address
        "100.64.0.1",  # carrier-grade NAT, 100.64.0.0/10
        "100.127.255.254",
        "192.0.0.192",
        "[2002:7f00:1::]",  # 6to4 carrying 127.0.0.1
        "[::ffff:127.0.0.1]",
        "[64:ff9b::a00:1]",  # NAT64 carrying 10.0.0.1
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 -- the address under test, nothing listens
        "224.0.0.1",
        "[::1]",
        "[fd00::1]",
        "localhost",
    ],
)
def test_an_address_outside_the_public_internet_is_refused_before_any_connection(settings, host):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    connect, attempts = refusing_connector()
    shown = host.strip("[]")
    expected = (
        f"“{shown}” is an address of the server's own or a private network; Leadmill only "
        "calls public addresses."
    )

    with outgoing_network(connect=connect), pytest.raises(OutgoingRefused) as refused:
        outgoing_request(method="POST", url=f"http://{host}:8120/hook")

    assert str(refused.value) == expected
    assert url_problem(f"https://{host}/hook") == expected
    assert attempts == []


def test_public_addresses_are_allowed():
    assert [address_is_public(a) for a in (PUBLIC, "8.8.8.8", "2606:4700::1111")] == [True] * 3


def test_a_name_with_one_internal_address_among_public_ones_is_refused(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    resolve, _asked = names({"hooks.example.test": [PUBLIC, "127.0.0.1"]})
    connect, attempts = refusing_connector()

    with outgoing_network(resolve=resolve, connect=connect), pytest.raises(OutgoingRefused):
        outgoing_request(method="POST", url="http://hooks.example.test/hook")

    assert attempts == []


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected(receiver, settings):
    # given a name that answers a public address first and the loopback receiver next
    handler, port = receiver
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    asked = []

    def rebinding(host, _port):
        asked.append(host)
        return next(answers)

    connect, attempts = refusing_connector()

    # when it is called
    with outgoing_network(resolve=rebinding, connect=connect), pytest.raises(OutgoingFailed):
        outgoing_request(method="POST", url=f"http://hooks.example.test:{port}/hook")

    # then one look-up, a connection to the address that was checked, and the loopback
    # receiver never reached
    assert asked == ["hooks.example.test"]
    assert attempts == [(PUBLIC, port)]
    assert handler.received == []


def test_the_call_goes_to_the_resolved_address_with_the_original_host_header(receiver):
    handler, port = receiver
    resolve, asked = names({"hooks.example.test": ["127.0.0.1"]})

    with outgoing_network(resolve=resolve):
        response = outgoing_request(
            method="POST", url=f"http://hooks.example.test:{port}/hook?a=1", body=b'{"x": 1}'
        )

    assert (response.status, response.body, response.truncated) == (200, b"ok", False)
    assert handler.received == [("/hook?a=1", f"hooks.example.test:{port}", b'{"x": 1}')]
    assert asked == ["hooks.example.test"]


def test_a_redirect_to_loopback_is_not_followed(receiver):
    handler, port = receiver

    response = outgoing_request(method="POST", url=f"http://127.0.0.1:{port}/redirect")

    assert response.status == 302
    assert [path for path, _host, _body in handler.received] == ["/redirect"]


def test_a_huge_answer_is_cut_at_the_size_cap(receiver):
    _handler, port = receiver

    response = outgoing_request(
        method="GET", url=f"http://127.0.0.1:{port}/huge", max_body_bytes=100_000
    )

    assert (response.status, len(response.body), response.truncated) == (200, 100_000, True)


def test_an_answer_that_never_comes_is_cut_by_the_read_timeout(receiver):
    _handler, port = receiver

    with pytest.raises(OutgoingFailed) as failed:
        outgoing_request(method="POST", url=f"http://127.0.0.1:{port}/silent", read_timeout=0.3)

    assert str(failed.value) == "No answer within 0.3 seconds."


def test_an_answer_that_trickles_is_cut_by_the_total_timeout(receiver):
    _handler, port = receiver

    with pytest.raises(OutgoingFailed) as failed:
        outgoing_request(
            method="POST",
            url=f"http://127.0.0.1:{port}/trickle",
            read_timeout=5,
            total_timeout=0.5,
        )

    assert str(failed.value) == "No complete answer within 0.5 seconds."


def test_a_name_that_cannot_be_found_fails_and_may_be_saved_for_later(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False

    def unknown(host, port):
        raise OSError("Name or service not known")

    with outgoing_network(resolve=unknown):
        assert (
            url_problem("https://later.example.test/h") == "“later.example.test” cannot be found."
        )
        assert url_problem("https://later.example.test/h", unknown_host_ok=True) == ""


# --- TLS: SNI and the certificate are checked for the name, not the pinned address -------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.example.test",
            "-addext", "subjectAltName=DNS:hooks.example.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def tls_receiver(settings, certificate):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    key, cert = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    server = serve(Receiver, wrap=lambda sock: context.wrap_socket(sock, server_side=True))
    yield Receiver, server.server_address[1], server_names, ssl.create_default_context(cafile=cert)
    Receiver.stop.set()
    server.shutdown()
    server.server_close()


def test_tls_goes_to_the_pinned_address_with_the_name_for_sni_and_the_certificate(tls_receiver):
    handler, port, server_names, trusting = tls_receiver
    resolve, _asked = names({"hooks.example.test": ["127.0.0.1"]})

    with outgoing_network(resolve=resolve):
        response = outgoing_request(
            method="POST", url=f"https://hooks.example.test:{port}/hook", ssl_context=trusting
        )

    assert response.status == 200
    assert server_names == ["hooks.example.test"]
    assert handler.received == [("/hook", f"hooks.example.test:{port}", b"")]


def test_tls_refuses_a_certificate_that_is_not_for_the_name(tls_receiver):
    handler, port, _server_names, trusting = tls_receiver
    resolve, _asked = names({"other.example.test": ["127.0.0.1"]})

    with outgoing_network(resolve=resolve), pytest.raises(OutgoingFailed) as failed:
        outgoing_request(
            method="POST", url=f"https://other.example.test:{port}/hook", ssl_context=trusting
        )

    assert "certificate verify failed" in str(failed.value)
    assert handler.received == []
