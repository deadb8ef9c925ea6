"""OutgoingSession (leadmill/core/outgoing.py): many requests to one receiver over one kept
connection, under the same rules as one request: a connection is opened only to a checked
address, never again by name; one the receiver closed is replaced; time-outs hold on a
reused connection. Real HTTP/1.1 receivers on loopback."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadmill.core.outgoing import (
    OutgoingFailed,
    OutgoingRefused,
    OutgoingSession,
    outgoing_network,
)

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.215.14"


class KeepAliveReceiver(BaseHTTPRequestHandler):
    """HTTP/1.1: keeps the connection unless the path asks otherwise. /close answers with
    ``Connection: close``; /trickle sends its headers then a byte at a time."""

    protocol_version = "HTTP/1.1"
    connections: list
    stop: threading.Event

    def setup(self):
        super().setup()
        type(self).connections.append(self.client_address)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                if type(self).stop.wait(0.05):
                    return
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        if self.path == "/close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    KeepAliveReceiver.connections, KeepAliveReceiver.stop = [], threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveReceiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield KeepAliveReceiver, server.server_address[1]
    KeepAliveReceiver.stop.set()
    server.shutdown()
    server.server_close()


def test_many_requests_to_one_receiver_share_one_connection(receiver):
    r, port = receiver
    with OutgoingSession() as session:
        statuses = [
            session.request(method="POST", url=f"http://127.0.0.1:{port}/hook", body=b"{}").status
            for _ in range(20)
        ]
        assert session.connections_opened == 1
    assert statuses == [200] * 20
    assert len(r.connections) == 1


def test_an_answer_marked_connection_close_is_not_reused(receiver):
    r, port = receiver
    with OutgoingSession() as session:
        session.request(method="POST", url=f"http://127.0.0.1:{port}/close")
        session.request(method="POST", url=f"http://127.0.0.1:{port}/hook")
        session.request(method="POST", url=f"http://127.0.0.1:{port}/hook")
        assert session.connections_opened == 2
    assert len(r.connections) == 2


def test_a_connection_the_receiver_closed_while_idle_is_replaced(settings):
    """A receiver that answers one request per connection and closes it without saying so."""
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []

    def serve():
        while len(accepted) < 3:
            conn, _address = listener.accept()
            accepted.append(conn)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            conn.close()  # no "Connection: close": the client learns it on its next request

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with OutgoingSession() as session:
        answers = [
            session.request(method="POST", url=f"http://127.0.0.1:{port}/h", body=b"x").status
            for _ in range(3)
        ]
        opened = session.connections_opened
    thread.join(timeout=10)
    listener.close()
    assert answers == [200, 200, 200]
    assert opened == 3 == len(accepted)


def test_a_session_refuses_a_private_address_as_one_request_does(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    connected = []

    def connect(address, port, timeout):
        connected.append(address)
        raise AssertionError("no connection may be opened")

    with outgoing_network(connect=connect), OutgoingSession() as session:
        for url in ("http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://10.1.2.3/hook"):
            with pytest.raises(OutgoingRefused):
                session.request(method="POST", url=url)
    assert connected == []


def test_a_kept_connection_goes_to_its_checked_address_and_a_new_one_is_checked_again(
    receiver, settings
):
    """The name first resolves to a public address (the connector takes it to the receiver
    on loopback); then it resolves to a private one. The kept connection carries on to the
    checked address without a look-up; once it is closed, the new one is refused."""
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    _r, port = receiver
    lookups, connected = [], []
    answers = iter([[PUBLIC], ["10.0.0.1"]])

    def resolve(host, p):
        lookups.append(host)
        return next(answers)

    def connect(address, p, timeout):
        connected.append(address)
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)

    url = f"http://hooks.example.test:{port}"
    with outgoing_network(resolve=resolve, connect=connect), OutgoingSession() as session:
        assert session.request(method="POST", url=f"{url}/hook").status == 200
        assert session.request(method="POST", url=f"{url}/close").status == 200
        assert (lookups, connected) == (["hooks.example.test"], [PUBLIC])
        with pytest.raises(OutgoingRefused):
            session.request(method="POST", url=f"{url}/hook")
    assert len(lookups) == 2
    assert connected == [PUBLIC]


def test_the_total_timeout_cuts_a_trickling_answer_on_a_reused_connection(receiver):
    _r, port = receiver
    with OutgoingSession() as session:
        assert session.request(method="POST", url=f"http://127.0.0.1:{port}/hook").status == 200
        with pytest.raises(OutgoingFailed, match="No complete answer within 0.5 seconds"):
            session.request(
                method="POST", url=f"http://127.0.0.1:{port}/trickle", total_timeout=0.5
            )
        # The cut connection is not reused; the next request gets a fresh one.
        assert session.request(method="POST", url=f"http://127.0.0.1:{port}/hook").status == 200
        assert session.connections_opened == 2


def test_requests_are_not_held_back_by_nagles_algorithm(receiver):
    """http.client writes the headers and the body apart: without TCP_NODELAY the body waits
    for the receiver's delayed ACK (40 ms a request on Linux)."""
    _r, port = receiver
    opened = []

    def connect(address, p, timeout):
        sock = socket.create_connection((address, p), timeout=timeout)
        opened.append(sock)
        return sock

    with outgoing_network(connect=connect), OutgoingSession() as session:
        session.request(method="POST", url=f"http://127.0.0.1:{port}/hook", body=b"{}")
        assert opened[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
