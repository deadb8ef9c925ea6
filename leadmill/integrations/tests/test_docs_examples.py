"""The verification examples of docs/webhooks.md work: the Python one (the reference
library) and the plain-crypto JavaScript one (run by Node when it is installed) accept a
request the real sender signed, and refuse it with another secret or a changed body."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from leadmill.contacts.events import ContactCreated
from leadmill.integrations import services
from leadmill.integrations.handlers import deliveries_record

pytestmark = pytest.mark.django_db(transaction=True)
DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"
OTHER_SECRET = "whsec_" + "QUJD" * 8


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def signed_request(settings, monkeypatch):
    """(secret, headers, raw body) of one delivery the real sender made."""
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = services.endpoint_create(
            url=f"http://127.0.0.1:{server.server_address[1]}/hook", events=[]
        )
        deliveries_record([ContactCreated(contact_id=42, occurred_at=timezone.now())])
        assert services.deliveries_send_due() == 1
    finally:
        server.shutdown()
        server.server_close()
    headers, body = Receiver.received[0]
    return endpoint.secret, headers, body


def test_the_python_example_verifies_a_real_delivery(signed_request):
    from standardwebhooks.webhooks import WebhookVerificationError

    secret, headers, body = signed_request
    (example,) = [b for b in blocks("python") if "Webhook(" in b]
    namespace = {"SECRET": secret}
    exec(example.replace('"whsec_..."', "SECRET"), namespace)  # noqa: S102
    request = type("Request", (), {"body": body, "headers": headers})

    assert namespace["receive"](request) is None  # returns nothing; raises when it fails
    namespace_other = {"SECRET": OTHER_SECRET}
    exec(example.replace('"whsec_..."', "SECRET"), namespace_other)  # noqa: S102
    with pytest.raises(WebhookVerificationError):
        namespace_other["receive"](request)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed")
def test_the_plain_javascript_example_verifies_a_real_delivery(signed_request, tmp_path):
    secret, headers, body = signed_request
    (example,) = [b for b in blocks("js") if "createHmac" in b]
    script = tmp_path / "verify.js"
    script.write_text(
        example
        + "\nconst [secret, headers, body] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        + "\nprocess.stdout.write(String(verify(secret, headers, body)));\n"
    )

    def run(secret_given: str, raw: bytes) -> str:
        stdin = json.dumps([secret_given, headers, raw.decode()])
        return subprocess.run(
            ["node", str(script)], input=stdin, capture_output=True, text=True, check=True
        ).stdout

    assert run(secret, body) == "true"
    assert run(OTHER_SECRET, body) == "false"
    assert run(secret, body.replace(b"42", b"43")) == "false"
