"""Outgoing webhooks benchmark: 100,000 lead events fanned out to 2 endpoints on PostgreSQL,
sent by the real sender to a local receiver that answers 200 at once, beside a plain loop
that signs and POSTs the same payloads over reused connections, in the same run.

    python bench/webhooks.py                 100,000 events (200,000 deliveries), 3 runs
    python bench/webhooks.py --quick         10,000 events, 3 runs (for tries)
    python bench/webhooks.py --events 50000 --runs 5

What it does, from nothing (in a child process, on a fresh PostgreSQL database):

1. Migrate; two endpoints (``/a`` and ``/b`` of the receiver, every event, each its own
   secret). The receiver is a separate process (asyncio, HTTP/1.1 keep-alive) that answers
   ``200`` at once and keeps what it got; it checks nothing while the clock runs.
2. Per run: N ``lead.created`` facts go through the real batch handler
   (``deliveries_record``, 1,000 a call): 2N delivery rows (``record_s``, not in the rate).
3. Ceiling, the plain loop: the delivery rows read back in chunks of 1,000, each payload
   serialised and signed as the sender does and POSTed over ONE reused connection per
   endpoint, one after the other. ``raw_per_s`` = 2N / seconds, until the receiver holds all.
4. The sender: ``deliveries_send_due`` until nothing is due (as the worker's task does),
   ``--senders`` of them at once (the worker's threads; default 1), timed until the
   receiver holds 2N requests. ``deliveries_per_s`` = 2N / seconds; ``ratio`` = that / the
   loop's.
5. Checks after each phase: every owed (endpoint, ``webhook-id``) received at that
   endpoint (``lost`` counts the missing ones), every request's signature verified (HMAC,
   computed here, not by Leadmill's code) with the secret of the endpoint that received it,
   and nothing received that the endpoint was not owed (``misdelivered``); every row
   ``delivered``.

Several runs, as the host is shared and noisy: the figures are the median run's (by
ratio). Ends with one JSON line. Goal (issue 16): ratio ≥ 0.5, nothing lost or misdelivered.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_RATIO = 0.5
RECEIVER_PORT = int(os.environ.get("LEADMILL_BENCH_WEBHOOK_PORT", "19290"))
PATHS = ("/a", "/b")


# --- The receiver (its own process) ------------------------------------------------------------


def receiver_main(port: int) -> int:
    """Answer every POST ``200`` at once over kept connections and keep (path, headers, body).
    ``GET /count``: how many POSTs so far; ``GET /reset``: forget them; ``POST /report`` with
    ``{path: secret}``: per path the webhook-ids received, and how many did not verify."""
    import asyncio

    kept: list[tuple[bytes, bytes, bytes, bytes, bytes]] = []

    def report(secrets: dict[str, str]) -> bytes:
        ids: dict[str, list[str]] = {path: [] for path in secrets}
        unsigned = 0
        keys = {
            path.encode(): base64.b64decode(secret.removeprefix("whsec_"))
            for path, secret in secrets.items()
        }
        for path, webhook_id, timestamp, signature, body in kept:
            key = keys.get(path)
            expected = b""
            if key is not None:
                signed = webhook_id + b"." + timestamp + b"." + body
                expected = b"v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
            if not expected or expected not in signature.split(b" "):
                unsigned += 1
                continue
            ids[path.decode()].append(webhook_id.decode())
        return json.dumps({"ids": ids, "unverified": unsigned, "requests": len(kept)}).encode()

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, path, _version = lines[0].split(b" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _sep, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0"))
                body = await reader.readexactly(length) if length else b""
                answer = b""
                if method == b"POST" and path == b"/report":
                    answer = report(json.loads(body))
                elif method == b"POST":
                    kept.append(
                        (
                            path,
                            headers.get(b"webhook-id", b""),
                            headers.get(b"webhook-timestamp", b""),
                            headers.get(b"webhook-signature", b""),
                            body,
                        )
                    )
                elif path == b"/count":
                    answer = str(len(kept)).encode()
                elif path == b"/reset":
                    kept.clear()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
        server.close()

    asyncio.run(serve())
    return 0


class Receiver:
    def __init__(self, port: int):
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--receiver", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        self.connection.request(method, path, body=body)
        return self.connection.getresponse().read()

    def count(self) -> int:
        return int(self.call("GET", "/count"))

    def reset(self) -> None:
        self.call("GET", "/reset")

    def report(self, secrets: dict[str, str]) -> dict:
        return json.loads(self.call("POST", "/report", json.dumps(secrets).encode()))

    def wait_for(self, count: int, started: float, limit_s: float = 3600) -> None:
        while self.count() < count and time.perf_counter() - started < limit_s:
            time.sleep(0.005)

    def close(self) -> None:
        self.connection.close()
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# --- Child: the runs ------------------------------------------------------------------------------


def record(events: int, run: int) -> float:
    """N lead.created facts through the real batch handler; returns the seconds it took."""
    import datetime as dt

    from django.utils import timezone

    from leadmill.contacts.events import ContactCreated
    from leadmill.integrations.handlers import deliveries_record

    started = time.perf_counter()
    at = timezone.now() - dt.timedelta(seconds=1)
    for first in range(0, events, 1000):
        deliveries_record(
            [
                ContactCreated(contact_id=run * 10_000_000 + n, occurred_at=at)
                for n in range(first, min(events, first + 1000))
            ]
        )
    return time.perf_counter() - started


def plain_loop(receiver: Receiver, owed: int) -> float:
    """The ceiling: the same rows read in chunks, signed as the sender signs, POSTed over one
    reused connection per endpoint, one after the other."""
    from leadmill.integrations import signing
    from leadmill.integrations.models import WebhookDelivery, WebhookEndpoint

    endpoints = {e.pk: e for e in WebhookEndpoint.objects.all()}
    connections = {
        pk: http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30) for pk in endpoints
    }
    paths = {pk: urlsplit(e.url).path for pk, e in endpoints.items()}
    started = time.perf_counter()
    last = 0
    while True:
        chunk = list(
            WebhookDelivery.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "endpoint_id", "webhook_id", "payload")[:1000]
        )
        if not chunk:
            break
        for _pk, endpoint_id, webhook_id, payload in chunk:
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = signing.headers(
                secrets_signing=[endpoints[endpoint_id].secret],
                webhook_id=webhook_id,
                timestamp=int(time.time()),
                body=body,
            )
            connection = connections[endpoint_id]
            connection.request("POST", paths[endpoint_id], body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
        last = chunk[-1][0]
    receiver.wait_for(owed, started)
    elapsed = time.perf_counter() - started
    for connection in connections.values():
        connection.close()
    return elapsed


def sender_run(receiver: Receiver, owed: int, senders: int) -> float:
    """The real sender, as the worker's task runs it, from ``senders`` threads at once."""
    from django.db import connections

    from leadmill.integrations.services import deliveries_send_due

    def task():
        try:
            while deliveries_send_due():
                pass
        finally:
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=task) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    receiver.wait_for(owed, started, limit_s=60)
    return time.perf_counter() - started


def checked(receiver: Receiver) -> dict:
    """lost / misdelivered / duplicates of what the receiver holds against the rows owed."""
    from leadmill.integrations.models import WebhookDelivery, WebhookEndpoint

    endpoints = list(WebhookEndpoint.objects.all())
    got = receiver.report({urlsplit(e.url).path: e.secret for e in endpoints})
    lost = misdelivered = duplicates = 0
    for endpoint in endpoints:
        path = urlsplit(endpoint.url).path
        owed = set(
            WebhookDelivery.objects.filter(endpoint=endpoint).values_list("webhook_id", flat=True)
        )
        received = got["ids"][path]
        distinct = set(received)
        lost += len(owed - distinct)
        misdelivered += len(distinct - owed)
        duplicates += len(received) - len(distinct)
    return {
        "lost": lost,
        "misdelivered": misdelivered + got["unverified"],
        "duplicates": duplicates,
        "requests": got["requests"],
    }


def child(events: int, runs: int, senders: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from leadmill.integrations import services
    from leadmill.integrations.models import DeliveryStatus, WebhookDelivery

    call_command("migrate", verbosity=0)
    receiver = Receiver(RECEIVER_PORT)
    try:
        for path in PATHS:
            services.endpoint_create(url=f"http://127.0.0.1:{RECEIVER_PORT}{path}", events=[])
        owed = events * len(PATHS)
        results = []
        for run in range(runs):
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE integrations_webhookdelivery")
            record_s = record(events, run)
            assert WebhookDelivery.objects.count() == owed
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE integrations_webhookdelivery")
            receiver.reset()
            raw_s = plain_loop(receiver, owed)
            raw_check = checked(receiver)
            receiver.reset()
            send_s = sender_run(receiver, owed, senders)
            send_check = checked(receiver)
            undelivered = WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).count()
            result = {
                "run": run + 1,
                "record_s": round(record_s, 2),
                "raw_per_s": round(owed / raw_s, 1),
                "deliveries_per_s": round(owed / send_s, 1),
                "ratio": round(raw_s / send_s, 3),
                "lost": send_check["lost"],
                "misdelivered": send_check["misdelivered"],
                "duplicates": send_check["duplicates"],
                "undelivered_rows": undelivered,
                "raw_lost": raw_check["lost"] + raw_check["misdelivered"],
            }
            print(f"[run {run + 1}] {json.dumps(result)}", file=sys.stderr, flush=True)
            results.append(result)
    finally:
        receiver.close()
    median = sorted(results, key=lambda r: r["ratio"])[len(results) // 2]
    return {
        "events": events,
        "endpoints": len(PATHS),
        "deliveries": owed,
        "runs": runs,
        "senders": senders,
        "deliveries_per_s_pg": median["deliveries_per_s"],
        "raw_per_s": median["raw_per_s"],
        "ratio_pg": median["ratio"],
        "ratio_median_of_runs": statistics.median(r["ratio"] for r in results),
        "record_s": median["record_s"],
        "lost": sum(r["lost"] + r["undelivered_rows"] for r in results),
        "misdelivered": sum(r["misdelivered"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "per_run": [[r["deliveries_per_s"], r["raw_per_s"], r["ratio"]] for r in results],
    }


# --- Parent -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="10,000 events (for tries)")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--receiver", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.receiver:
        return receiver_main(args.receiver)
    events = 10_000 if args.quick else args.events
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(events, args.runs, args.senders)))
        return 0

    import psycopg

    db_name = f"leadmill_bench_webhooks_{os.getpid()}"
    env = {
        **os.environ,
        "LEADMILL_DATA_DIR": tempfile.mkdtemp(prefix="leadmill-bench-webhooks-"),
        "DJANGO_SETTINGS_MODULE": "leadmill.settings",
        "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name,
        "LEADMILL_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on loopback
    }
    env.pop("LEADMILL_TESTING", None)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--events",
                str(events),
                "--runs",
                str(args.runs),
                "--senders",
                str(args.senders),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    summary = json.loads(output.stdout.strip().splitlines()[-1])
    print(
        f"\n{events:,} events → {summary['deliveries']:,} deliveries on PostgreSQL, "
        f"median of {summary['runs']} runs: sender {summary['deliveries_per_s_pg']}/s, "
        f"plain loop {summary['raw_per_s']}/s, ratio {summary['ratio_pg']} "
        f"(goal ≥ {GOAL_RATIO}); lost {summary['lost']}, misdelivered {summary['misdelivered']}"
    )
    summary["goal_ratio"] = GOAL_RATIO
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
