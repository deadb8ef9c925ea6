"""Intake benchmark: speed to lead, end to end, from a form post or an API post to the owner's
"new lead for you" email accepted by an SMTP sink, through the production server and worker,
on SQLite and PostgreSQL.

    python bench/intake.py             steady 200 posts/s for 60 s per path, a ramp of 20 s steps
    python bench/intake.py --quick     steady 15 s per path, 10 s ramp steps (for development)

What it does, from nothing, per engine:

1. Makes its own data as bench/capture.py does (fresh PostgreSQL database, fresh SQLite file,
   migrated; the form "bench" with its consent box), then bench/intake_django.py's ``setup``:
   a scoring rule that makes every captured lead an MQL, a sequence triggered on capture whose
   first step sends a welcome email, one sales rep named by an assignment rule, an API key.
   ``--redis URL`` runs PostgreSQL as docs/deployment.md deploys it, with Redis (a queue
   name of the run's own) for the task queue, the cache and the rate-limit counters; by
   default both engines run without it (figures comparable with earlier runs).
2. An SMTP sink (aiosmtpd, its own process: bench/nurture.py's) records the time it accepted
   each message and the lead it is about; the app's ``EMAIL_HOST`` / ``EMAIL_PORT`` point at it.
3. Ceiling: the production server alone (``leadmill web``, no worker), form posts as fast as
   they are answered for a few seconds (bench/capture.py's closed loop): how many posts per
   second the front door takes (those posts are then dropped). And the sink's rate, one new
   SMTP connection per message as the owner's notification is sent.
4. Then ``leadmill web`` and ``leadmill worker`` (the Huey consumer, as ``leadmill run`` starts
   it), and open-loop load (bench/loadgen.py: posts sent on schedule whatever the answers),
   each phase started once the earlier one's work is done (no submission received, step due,
   email queued or fact undelivered; at most 2 minutes) and, on PostgreSQL, after a
   ``VACUUM ANALYZE`` (what autovacuum, off on this host's server, would have done):
   - steady form: 200 posts/s for 60 s to ``/f/bench/``.
   - steady API: 200 posts/s for 60 s to ``POST /api/v1/leads`` with the API key.
   - ramp, last (its last step does not keep up, by design): 20 s steps at 25, 38, 56 …
     posts/s until the pipeline stops keeping up, then one bisection step. A step KEEPS UP
     when every lead of it completes and the median lag of the leads posted in its last 2 s
     is at most 1.5 x that of those posted in its middle 2 s plus 0.25 s (a lag that still
     grows at the end of the step is a backlog building up), and the middle one is at
     most 5 s (the goal) and a quarter of the step.
     ``sustained_per_s`` is the highest rate that kept up.
   After each, it waits until every lead is complete or past its deadline (60 s after its
   post's turn; 45 s with --quick), or nothing moved for a while with nothing queued.
5. A lead is COMPLETE when it has a score row, an enrolment, an owner and the owner's email
   was accepted by the sink; its latency is the last of those times minus its post's turn
   (the time the load generator was due to send it). A post answered 2xx whose lead is not
   complete by its deadline is ``lost``. Each stage's time is reported too (the rows'
   timestamps: submission received, processed, LeadCaptured handled, scored, enrolled, MQL,
   assigned, owner's email claimed and accepted, the welcome email sent), so the table shows
   where the time goes.

The host is shared (2 cores): the figures are noisy. Ends with one line of JSON. Goal (issue
13): p99 under 5 s at 200 posts/s on PostgreSQL, nothing lost.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import smtplib
import sqlite3
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import capture  # noqa: E402
import loadgen  # noqa: E402
import nurture  # noqa: E402

# Ports and database of our own, so this runs beside bench/capture.py.
capture.PORTS.update(sqlite=8320, pg=8321)
capture.PG_DB = f"leadmill_bench_intake_{os.getpid()}"
SINK_PORTS = {"sqlite": 8322, "pg": 8323}
CONNECTIONS = 50
STEADY_RATE = 200
RAMP_START, RAMP_FACTOR, RAMP_MAX = 25.0, 1.5, 400.0
GOAL_P99_S = 5.0
# The lead emails bench/loadgen.py writes: b<pid>r<run>c<client>n<n>@<domain>
LEAD_EMAIL = r"b[0-9]+r[0-9]+c[0-9]+n[0-9]+@[a-z0-9.]*[a-z0-9]"
STAGES = (
    ("received", "submission row written"),
    ("processed", "processed (contact, consent, LeadCaptured)"),
    ("scored", "score row"),
    ("enrolled", "enrolled in the sequence"),
    ("dispatched", "every LeadCaptured handler done"),
    ("mql", "MQL (StageChanged)"),
    ("assigned", "owner assigned"),
    ("notify_claimed", "owner's email claimed"),
    ("notified", "owner's email accepted by the sink"),
    ("welcome_sent", "welcome email sent (sequence step 1)"),
)
log = capture.log


def intake_helper(env: dict[str, str], *args: str) -> dict:
    return capture.django_helper(env, *args, script="intake_django.py")


# --- the load --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ApiPostTemplate(loadgen.PostTemplate):
    """``POST /api/v1/leads`` with a bearer key: the same lead as the form's, as JSON, with
    the consent the person gave (the purpose and the text version they saw)."""

    api_key: str = ""
    purpose_key: str = ""
    text_version: int = 1

    def body(self, n: int) -> bytes:
        return json.dumps(
            {
                "email": self.email(n),
                "first_name": "Ana",
                "consents": [
                    {
                        "purpose": self.purpose_key,
                        "text_version": self.text_version,
                        "granted": True,
                    }
                ],
            }
        ).encode()

    def request(self, n: int) -> bytes:
        body = self.body(n)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"X-Forwarded-For: {self.client_ip(n)}\r\n"
            f"Authorization: Bearer {self.api_key}\r\n"
            "User-Agent: leadmill-bench\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


@dataclasses.dataclass
class Phase:
    """One open-loop run and what became of its leads."""

    name: str
    path: str  # "form" or "api"
    rate: float
    seconds: float
    template: loadgen.PostTemplate
    result: loadgen.Result | None = None
    leads: list[dict] = dataclasses.field(default_factory=list)  # one per post, in post order
    waited_s: float = 0.0
    deadline_s: float = 0.0
    worker_cpu_s: float | None = None  # CPU seconds of the worker's processes (post to wait end)
    db_cpu_s: float | None = None  # and of the PostgreSQL backends serving the bench database
    web_cpu_s: float | None = None  # and of the web server's processes (per answered post)
    sink_cpu_s: float | None = None  # and of the SMTP sink (a stand-in for the mail server)
    client_cpu_s: float | None = None  # and of this process while it offered the load
    load: tuple[float, float] | None = None  # the host's 1-minute load average, start and end

    def cpu_ms_per_lead(self, seconds: float | None) -> float | None:
        """CPU milliseconds per lead processed by the end of the wait (a submission row
        processed: contact, consent, LeadCaptured): less noisy than a rate on a shared host.
        Exact for a step that keeps up; at an overload it includes the chains of leads
        still under way."""
        processed = sum(1 for lead in self.leads if "processed" in lead["stages"])
        if seconds is None or not processed:
            return None
        return 1000 * seconds / processed

    def due(self, n: int) -> float:
        return self.result.started_at + n / self.rate

    @property
    def complete(self) -> list[dict]:
        return [lead for lead in self.leads if lead["done"] is not None]

    @property
    def lost(self) -> int:
        return max(0, self.result.ok - len(self.complete))

    def lags(self) -> list[float]:
        """Every post's lag: completed leads' latency; the others count with the time they
        were waited for (a lower bound), as bench/capture.py counts unanswered requests."""
        return [lead["lag"] for lead in self.leads]

    def window_p50(self, start_s: float, end_s: float) -> float | None:
        return loadgen.percentile(
            [lead["lag"] for lead in self.leads if start_s <= lead["offset"] < end_s], 50
        )

    def keeps_up(self) -> bool:
        middle = self.window_p50(self.seconds / 2 - 1, self.seconds / 2 + 1)
        end = self.window_p50(self.seconds - 2, self.seconds)
        return bool(
            self.result.ok == len(self.leads)
            and self.lost == 0
            and middle is not None
            and end is not None
            and end <= 1.5 * middle + 0.25
            # A lag longer than a quarter of the step hides its growth inside the step (the
            # whole step is worked off afterwards, as one batch): not keeping up either.
            and middle <= min(GOAL_P99_S, self.seconds / 4)
        )


def percentiles(values: list[float]) -> dict[str, float | None]:
    return {f"p{q}": loadgen.percentile(values, q) for q in (50, 95, 99)}


# --- one engine ------------------------------------------------------------------------------


class EngineRun:
    def __init__(self, engine: str, setup: dict, args, workdir: Path, sink: nurture.Sink):
        self.engine, self.setup, self.args, self.workdir, self.sink = (
            engine,
            setup,
            args,
            workdir,
            sink,
        )
        self.sequence = 0
        self.tokens_next = 0  # the first pool index no post took yet
        self.wrk = None if args.python_client else loadgen.wrk_install()
        self.server: capture.Server | None = None
        self._cpu_seen: dict[tuple[str, int], float] = {}  # (kind, pid) -> last CPU seconds

    def cpu(self) -> tuple[float, float, float] | None:
        """CPU seconds so far of the worker (``leadmill worker`` and its children), of
        the database backends (PostgreSQL) and of the web server, or None without a worker.

        Every process ever seen counts with its last reading: a database backend that
        exits (a connection closed) keeps what it spent up to the last sample
        (:meth:`sampling` reads every second during a phase), so a phase's difference is
        never negative and loses at most a second of each backend that went away."""
        if self.server is None or len(self.server.processes) < 2:
            return None
        self._cpu_sample()
        worker = capture._descendants([self.server.processes[1].pid])
        seen = dict(self._cpu_seen)
        return (
            sum(v for (kind, pid), v in seen.items() if kind == "web" and pid in worker),
            sum(v for (kind, _pid), v in seen.items() if kind == "db"),
            sum(v for (kind, pid), v in seen.items() if kind == "web" and pid not in worker),
        )

    def _cpu_sample(self) -> None:
        for key, value in capture.cpu_seconds(self.server, self.engine, self.setup).items():
            self._cpu_seen[key] = max(value, self._cpu_seen.get(key, 0.0))

    @contextlib.contextmanager
    def sampling(self):
        """Read every process's CPU each second while the block runs (see :meth:`cpu`)."""
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                with contextlib.suppress(Exception):  # a reading lost is a second undercounted
                    self._cpu_sample()

        thread = threading.Thread(target=sample, daemon=True)
        if self.server is not None and len(self.server.processes) >= 2:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()

    def template(self, path: str) -> loadgen.PostTemplate:
        self.sequence += 1
        common = {
            "host": "127.0.0.1",
            "port": capture.PORTS[self.engine],
            "token": self.setup["token"],
            "consent_field": self.setup["consent_field"],
            "prefix": f"b{os.getpid()}r{self.sequence}c0",
            # Each form post takes its own render token, as each visitor posts the token of
            # their own page view: one token posted by every post of a run made each post's
            # per-token count (the submission's INSERT) read every earlier post of the run,
            # a cost growing with the run's length that no site has.
            "tokens": self.setup.get("token_pool", ()),
            "tokens_file": self.setup.get("tokens_file", ""),
            "token_base": self.tokens_next,
        }
        if path == "api":
            return ApiPostTemplate(
                path="/api/v1/leads/",
                api_key=self.setup["api_key"],
                purpose_key=self.setup["purpose_key"],
                text_version=self.setup["text_version"],
                **common,
            )
        return loadgen.PostTemplate(path="/f/bench/", **common)

    # ceilings ------------------------------------------------------------------------------

    def capture_ceiling(self) -> float:
        """Form posts per second the server alone takes (no worker), closed loop."""
        with capture.Server(self.engine, self.setup, worker=False, workdir=self.workdir):
            template = self.template("form")
            if self.wrk:
                run = lambda s: loadgen.closed_loop_wrk(  # noqa: E731
                    template, connections=CONNECTIONS, seconds=s, threads=2, workdir=self.workdir
                )
            else:
                run = lambda s: loadgen.closed_loop_python(  # noqa: E731
                    [
                        dataclasses.replace(template, prefix=f"{template.prefix}k{i}")
                        for i in range(CONNECTIONS)
                    ],
                    s,
                )
            run(2)  # warm-up
            result = run(self.args.ceiling_seconds)
        intake_helper(self.setup["env"], "purge")
        return result.per_s

    def smtp_ceiling(self, count: int = 300) -> float:
        """Messages per second the sink accepts, a new connection for each (as each owner's
        notification is sent)."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            "bench@bench.example",
            "ceiling@bench.example",
            "x",
        )
        message.set_content("ceiling")
        started = time.perf_counter()
        for _ in range(count):
            with smtplib.SMTP("127.0.0.1", SINK_PORTS[self.engine], timeout=10) as smtp:
                smtp.send_message(message)
        return count / (time.perf_counter() - started)

    # phases --------------------------------------------------------------------------------

    def notified(self, prefix: str) -> dict[str, float]:
        """Lead email -> when the sink accepted its owner's notification (first one)."""
        owner = self.setup["owner_email"].encode()
        times: dict[str, float] = {}
        for fields in self.sink.lines():
            if len(fields) == 4 and fields[2] == owner and fields[3].startswith(prefix.encode()):
                times.setdefault(fields[3].decode(), float(fields[1]))
        return times

    def run(self, name: str, path: str, rate: float, seconds: float) -> Phase:
        phase = Phase(
            name=name, path=path, rate=rate, seconds=seconds, template=self.template(path)
        )
        log(f"[{self.engine}] {name}: {rate:g} {path} posts/s for {seconds:g} s")
        cpu_before, load_before = self.cpu(), os.getloadavg()[0]
        sink_before, client_before = _process_cpu_s(self.sink.proc.pid), time.process_time()
        with self.sampling():
            phase.result = loadgen.open_loop(
                phase.template,
                rate=rate,
                seconds=seconds,
                connections=CONNECTIONS,
                grace_s=capture.GRACE_S,
            )
            self.tokens_next += phase.result.tokens_taken
            phase.client_cpu_s = time.process_time() - client_before
            phase.deadline_s = self.args.deadline
            self.wait(phase)
        cpu_after = self.cpu()
        sink_after = _process_cpu_s(self.sink.proc.pid)
        if sink_before is not None and sink_after is not None:
            phase.sink_cpu_s = sink_after - sink_before
        if cpu_before is not None and cpu_after is not None:
            phase.worker_cpu_s = cpu_after[0] - cpu_before[0]
            phase.db_cpu_s = cpu_after[1] - cpu_before[1] if self.engine == "pg" else None
            phase.web_cpu_s = cpu_after[2] - cpu_before[2]
        phase.load = (load_before, os.getloadavg()[0])
        self.gather(phase)
        log(
            f"[{self.engine}] {name}: {phase.result.ok} answered 2xx, {len(phase.complete)} complete, "
            f"lost {phase.lost}, p99 {fmt(percentiles(phase.lags())['p99'], 2)} s (waited {phase.waited_s:.0f} s), "
            f"worker CPU {fmt(phase.cpu_ms_per_lead(phase.worker_cpu_s), 1)} ms per processed lead"
        )
        return phase

    def wait(self, phase: Phase) -> None:
        """Until every answered post's lead was notified, or the last post is past its
        deadline, or nothing moved for ``stall`` s with nothing received or queued."""
        prefix = phase.template.prefix
        last_due = phase.due(int(phase.rate * phase.seconds) - 1)
        started = time.monotonic()
        seen, moved_at = None, time.monotonic()
        while time.time() < last_due + phase.deadline_s:
            count = len(self.notified(prefix))
            if count >= phase.result.ok:
                break
            backlog = capture.stored(self.engine, self.setup)
            busy = backlog.get("received", 0) or backlog.get("queued_tasks", 0)
            state = (count, backlog.get("received", 0), backlog.get("queued_tasks", 0))
            if state != seen:
                seen, moved_at = state, time.monotonic()
            elif not busy and time.monotonic() - moved_at > self.args.stall:
                log(
                    f"[{self.engine}] {phase.name}: nothing moved for {self.args.stall:g} s; "
                    f"{phase.result.ok - count} leads left incomplete"
                )
                break
            time.sleep(1)
        phase.waited_s = time.monotonic() - started

    def in_flight(self) -> int:
        """What the pipeline still has to do: submissions received and not processed,
        sequence steps due, emails queued or being sent, facts not delivered yet."""
        now = "now()" if self.engine == "pg" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
        queries = (
            "SELECT count(*) FROM capture_submission WHERE status = 'received'",
            f"SELECT count(*) FROM nurture_enrollment WHERE state = 'active' AND next_run_at <= {now}",  # noqa: E501, S608 (no input)
            "SELECT count(*) FROM messaging_message WHERE status IN ('queued', 'sending')",
            "SELECT count(*) FROM core_outboxevent WHERE next_attempt_at IS NOT NULL",
        )
        if self.engine == "pg":
            import psycopg

            with psycopg.connect(self.setup["env"]["DATABASE_URL"]) as conn:
                return sum(conn.execute(query).fetchone()[0] for query in queries)
        path = self.setup["data_dir"] / "leadmill.sqlite3"
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            return sum(conn.execute(query).fetchone()[0] for query in queries)

    def settle(self, limit_s: float = 120.0) -> None:
        """Before a phase: until the earlier phases' work is done (the welcome emails of an
        overloaded step go on being sent after its leads are complete), so a phase measures
        its own posts, not the debris of the one before. Then, on PostgreSQL, what
        autovacuum would have done meanwhile (this host's server runs without it, on
        purpose; production keeps it on, docs/deployment.md): ``VACUUM ANALYZE``."""
        started = time.monotonic()
        while (left := self.in_flight()) and time.monotonic() - started < limit_s:
            time.sleep(1)
        if left:
            log(f"[{self.engine}] still in flight after {limit_s:g} s: {left}")
        if self.engine == "pg":
            import psycopg

            with psycopg.connect(self.setup["env"]["DATABASE_URL"], autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")

    def gather(self, phase: Phase) -> None:
        prefix = phase.template.prefix
        rows = intake_helper(self.setup["env"], "collect", prefix)["leads"]
        notified = self.notified(prefix)
        now = time.time()
        for n in range(int(phase.rate * phase.seconds)):
            email = phase.template.email(n)
            due = phase.due(n)
            row = dict(rows.get(email, {}))
            if email in notified:
                row["notified"] = notified[email]
            ends = [row.get(key) for key in ("scored", "enrolled", "notified")]
            done = max(ends) if all(ends) and row.get("owner") is not None else None
            if done is not None and done - due > phase.deadline_s:
                done = None  # complete, but after its deadline: lost all the same
            phase.leads.append(
                {
                    "offset": n / phase.rate,
                    "due": due,
                    "stages": {
                        key: row[key] - due for key, _label in STAGES if row.get(key) is not None
                    },
                    "done": done,
                    "lag": (done if done is not None else min(now, due + phase.deadline_s)) - due,
                }
            )

    def all(self) -> dict:
        args = self.args
        out: dict = {"engine": self.engine}
        phases = set(args.phases.split(","))
        log(f"[{self.engine}] ceiling: the server alone, closed loop")
        out["capture_per_s"] = self.capture_ceiling() if "ceiling" in phases else None
        out["smtp_per_s"] = self.smtp_ceiling()
        log(
            f"[{self.engine}] ceilings: {fmt(out['capture_per_s'], 0)} form posts/s, sink {out['smtp_per_s']:.0f} msg/s"
        )
        with capture.Server(
            self.engine, self.setup, worker=True, workdir=self.workdir
        ) as self.server:
            self.run("warm-up", "form", 10, 3)
            # The ramp last: it ends on a step that does not keep up, by design.
            if "form" in phases:
                self.settle()
                out["steady_form"] = self.run("steady form", "form", args.rate, args.seconds)
            if "api" in phases:
                self.settle()
                out["steady_api"] = self.run("steady API", "api", args.rate, args.api_seconds)
            out["ramp"] = self.ramp() if "ramp" in phases else []
        return out

    def ramp(self) -> list[Phase]:
        steps: list[Phase] = []
        rate = self.args.ramp_start
        passed, failed = None, None
        while rate <= RAMP_MAX:
            self.settle()
            step = self.run(f"ramp {rate:g}/s", "form", rate, self.args.step_seconds)
            steps.append(step)
            if not step.keeps_up():
                failed = rate
                break
            passed = rate
            rate = round(rate * RAMP_FACTOR)
        if not self.args.quick and failed is not None and passed is not None:
            middle = round(math.sqrt(passed * failed))
            if passed < middle < failed:
                self.settle()
                steps.append(self.run(f"ramp {middle:g}/s", "form", middle, self.args.step_seconds))
        return steps


def sustained(steps: list[Phase]) -> float | None:
    kept = [step.rate for step in steps if step.keeps_up()]
    return max(kept) if kept else None


# --- report ----------------------------------------------------------------------------------


def fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def stage_table(phase: Phase) -> None:
    print(
        f"  {'stage (seconds after the post was due)':<44} {'p50':>7} {'p95':>7} {'p99':>7} {'rows':>6}"
    )
    answered = [loadgen.percentile(phase.result.latencies_ms, q) for q in (50, 95, 99)]
    print(
        f"  {'answered (HTTP)':<44} "
        + " ".join(f"{fmt(v / 1000 if v is not None else None, 2):>7}" for v in answered)
        + f" {phase.result.ok:>6}"
    )
    for key, label in STAGES:
        values = [lead["stages"][key] for lead in phase.leads if key in lead["stages"]]
        cells = percentiles(values)
        print(
            f"  {label:<44} "
            + " ".join(f"{fmt(cells[p], 2):>7}" for p in ("p50", "p95", "p99"))
            + f" {len(values):>6}"
        )


def lag_over_time(phase: Phase, window_s: float = 5.0) -> None:
    """Each window of posts' median and largest lag, by when they were due: a backlog shows
    as a lag that grows, a stall as one window's peak."""
    windows: dict[int, list[float]] = {}
    for lead in phase.leads:
        windows.setdefault(int(lead["offset"] // window_s), []).append(lead["lag"])
    cells = [
        f"{n * window_s:g}s {fmt(loadgen.percentile(lags, 50), 1)}/{fmt(max(lags), 1)}"
        for n, lags in sorted(windows.items())
    ]
    started = time.strftime("%H:%M:%S", time.localtime(phase.result.started_at))
    print(f"  lag by when posted (from {started}; window start: p50/max s): {', '.join(cells)}")


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds so far of one process (the SMTP sink), None if gone."""
    fields = capture._proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / capture.CLOCK_TICKS if fields else None


def cpu_budget(phase: Phase) -> dict | None:
    """CPU milliseconds per lead of each process of the pipeline, Leadmill's own (web,
    worker, database) apart from the harness (SMTP sink, load generator), and the most
    leads per second the host's cores could carry at that cost, all busy and nothing else
    running: a bound a rate cannot pass on this host, whatever the latency."""
    leads = sum(1 for lead in phase.leads if "processed" in lead["stages"])
    parts = {
        "web": phase.web_cpu_s,
        "worker": phase.worker_cpu_s,
        "db": phase.db_cpu_s,
        "sink": phase.sink_cpu_s,
        "client": phase.client_cpu_s,
    }
    if not leads or phase.web_cpu_s is None or phase.worker_cpu_s is None:
        return None
    ms = {key: round(1000 * value / leads, 2) for key, value in parts.items() if value is not None}
    own = round(sum(ms.get(key, 0.0) for key in ("web", "worker", "db")), 2)
    total = round(sum(ms.values()), 2)
    cores = os.cpu_count() or 1
    return {
        **ms,
        "leadmill": own,
        "all": total,
        "cores": cores,
        "bound_per_s": round(1000 * cores / total) if total else None,
        "leadmill_bound_per_s": round(1000 * cores / own) if own else None,
    }


def summary_of(phase: Phase) -> dict:
    cells = percentiles(phase.lags())
    return {
        "rate": phase.rate,
        "seconds": phase.seconds,
        "posts": int(phase.rate * phase.seconds),
        "answered_2xx": phase.result.ok,
        "refused": phase.result.non_2xx + phase.result.errors + phase.result.unfinished,
        "complete": len(phase.complete),
        "lost": phase.lost,
        **{f"{p}_s": _round(v) for p, v in cells.items()},
        "worker_cpu_ms": _round(phase.cpu_ms_per_lead(phase.worker_cpu_s), 1),
        "db_cpu_ms": _round(phase.cpu_ms_per_lead(phase.db_cpu_s), 1),
        # The web server's CPU per answered post (2xx): the API processes its leads there.
        "web_cpu_ms": _round(1000 * phase.web_cpu_s / phase.result.ok, 1)
        if phase.web_cpu_s is not None and phase.result.ok
        else None,
        "answered_p50_s": _round(
            v / 1000
            if (v := loadgen.percentile(phase.result.latencies_ms, 50)) is not None
            else None
        ),
        "load": [round(value, 1) for value in phase.load] if phase.load else None,
    }


def report(results: dict[str, dict], args) -> dict:
    print()
    print(
        "Intake benchmark: speed to lead, post -> scored, enrolled, assigned, owner's email accepted"
    )
    print(
        f"  server: leadmill web (granian) + leadmill worker (Huey, HUEY_WORKERS={os.environ.get('HUEY_WORKERS', '6 (default)')}),"
        f" open-loop load over {CONNECTIONS} keep-alive connections; lead deadline {args.deadline:g} s;"
        " 2 cores shared with the client and, today, with other engineers' test runs: noisy figures"
    )
    redis = getattr(args, "redis_used", "")
    print(
        f"  PostgreSQL run {'with Redis ' + redis if redis else 'without Redis'} (queue, cache, rate limits)"
    )
    line: dict = {
        "bench": "intake",
        "commit": args.commit,
        "quick": bool(args.quick),
        "pg_with_redis": bool(getattr(args, "redis_used", "")),
    }
    lost_total = 0
    for engine, out in results.items():
        tag = "pg" if engine == "pg" else "sqlite"
        steady = [out[key] for key in ("steady_form", "steady_api") if key in out]
        print()
        print(
            f"[{engine}] ceilings, same run: the server alone took {fmt(out['capture_per_s'], 0)} form posts/s "
            f"(closed loop); the sink {out['smtp_per_s']:,.0f} messages/s (new connection each)"
        )
        print(
            f"  {'phase':<16} {'rate/s':>7} {'posts':>6} {'2xx':>6} {'complete':>8} {'lost':>6} "
            f"{'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'mid':>6} {'end':>6} {'wCPU':>6} {'dbCPU':>6}  keeps up"
        )
        for phase in [*out["ramp"], *steady]:
            cells = summary_of(phase)
            middle = phase.window_p50(phase.seconds / 2 - 1, phase.seconds / 2 + 1)
            end = phase.window_p50(phase.seconds - 2, phase.seconds)
            print(
                f"  {phase.name:<16} {phase.rate:>7g} {cells['posts']:>6} {cells['answered_2xx']:>6} "
                f"{cells['complete']:>8} {cells['lost']:>6} {fmt(cells['p50_s'], 2):>7} {fmt(cells['p95_s'], 2):>7} "
                f"{fmt(cells['p99_s'], 2):>7} {fmt(middle, 2):>6} {fmt(end, 2):>6} "
                f"{fmt(cells['worker_cpu_ms'], 1):>6} {fmt(cells['db_cpu_ms'], 1):>6}  "
                + ("yes" if phase.keeps_up() else "no")
            )
            lost_total += phase.lost
        rate = sustained(out["ramp"])
        print(
            f"  sustained: {fmt(rate, 0)} posts/s (a step keeps up: every lead complete, and the median lag of its "
            "last 2 s <= 1.5 x its middle 2 s' + 0.25 s, and the middle one <= 5 s and a quarter of the step)"
        )
        for phase in [*out["ramp"], *steady]:
            if budget := cpu_budget(phase):
                print(
                    f"  CPU per lead, {phase.name}: web {fmt(budget.get('web'), 2)} + worker "
                    f"{fmt(budget.get('worker'), 2)} + database {fmt(budget.get('db'), 2)} = Leadmill "
                    f"{budget['leadmill']:.2f} ms; harness: SMTP sink {fmt(budget.get('sink'), 2)}, load "
                    f"{fmt(budget.get('client'), 2)} ms; {budget['cores']} cores carry at most "
                    f"{budget['bound_per_s']} leads/s so (Leadmill alone: {budget['leadmill_bound_per_s']}/s)"
                )
        for phase in [*steady, *out["ramp"][-1:]]:
            print(f"  where the time goes, {phase.name} ({phase.path}) at {phase.rate:g}/s:")
            stage_table(phase)
            lag_over_time(phase)
        line.update(
            {
                f"sustained_per_s_{tag}": rate,
                f"ramp_{tag}": {f"{step.rate:g}": step.keeps_up() for step in out["ramp"]},
                # CPU ms per post of the worker (and of PostgreSQL's backends) in each ramp
                # step: steadier than the rates on a shared host.
                f"ramp_worker_cpu_ms_{tag}": {
                    f"{step.rate:g}": summary_of(step)["worker_cpu_ms"] for step in out["ramp"]
                },
                f"ramp_db_cpu_ms_{tag}": {
                    f"{step.rate:g}": summary_of(step)["db_cpu_ms"] for step in out["ramp"]
                },
                # Every process's CPU per lead (Leadmill's and the harness's), and the rate
                # the host's cores could carry at that cost.
                f"ramp_cpu_budget_{tag}": {
                    f"{step.rate:g}": cpu_budget(step) for step in out["ramp"]
                },
                f"capture_ceiling_per_s_{tag}": None
                if out["capture_per_s"] is None
                else round(out["capture_per_s"], 1),
                f"smtp_ceiling_per_s_{tag}": round(out["smtp_per_s"], 1),
            }
        )
        if "steady_form" in out:
            form = summary_of(out["steady_form"])
            line.update(
                {
                    f"p50_s_{tag}": form["p50_s"],
                    f"p95_s_{tag}": form["p95_s"],
                    f"p99_s_{tag}": form["p99_s"],
                    f"lost_form_{tag}": form["lost"],
                    f"complete_form_{tag}": form["complete"],
                    f"refused_form_{tag}": form["refused"],
                    f"worker_cpu_ms_form_{tag}": form["worker_cpu_ms"],
                    f"db_cpu_ms_form_{tag}": form["db_cpu_ms"],
                    f"cpu_budget_form_{tag}": cpu_budget(out["steady_form"]),
                    f"stages_p50_s_{tag}": {
                        key: _round(
                            percentiles(
                                [
                                    lead["stages"][key]
                                    for lead in out["steady_form"].leads
                                    if key in lead["stages"]
                                ]
                            )["p50"]
                        )
                        for key, _label in STAGES
                    },
                }
            )
        if "steady_api" in out:
            api = summary_of(out["steady_api"])
            incomplete = api["complete"] == 0 and api["answered_2xx"] > 0
            if incomplete:
                print(
                    f"  API path INCOMPLETE: {api['answered_2xx']} API leads answered 2xx, none reached score,"
                    " enrolment, owner and notification by its deadline (a worker still working off the"
                    " form phase's backlog, or an API path that does not reach processing); counted as lost"
                )
            line.update(
                {
                    f"api_p50_s_{tag}": api["p50_s"],
                    f"api_p95_s_{tag}": api["p95_s"],
                    f"api_p99_s_{tag}": api["p99_s"],
                    f"lost_api_{tag}": api["lost"],
                    f"complete_api_{tag}": api["complete"],
                    f"refused_api_{tag}": api["refused"],
                    f"api_status_{tag}": "incomplete" if incomplete else "measured",
                    f"answered_api_{tag}": api["answered_2xx"],
                    f"answered_p50_s_api_{tag}": api["answered_p50_s"],
                    f"web_cpu_ms_api_{tag}": api["web_cpu_ms"],
                    f"worker_cpu_ms_api_{tag}": api["worker_cpu_ms"],
                    f"db_cpu_ms_api_{tag}": api["db_cpu_ms"],
                    f"cpu_budget_api_{tag}": cpu_budget(out["steady_api"]),
                    f"load_api_{tag}": api["load"],
                }
            )
    line["lost"] = lost_total
    line["offered_per_s"] = args.rate
    line["seconds"] = args.seconds
    line["deadline_s"] = args.deadline
    line["goal_met"] = bool(
        line.get("p99_s_pg") is not None and line["p99_s_pg"] < GOAL_P99_S and lost_total == 0
    )
    return line


def token_pool_size(args) -> int:
    """A render token for every form post of a run (warm-up, the steady phase, the ramp's
    steps up to RAMP_MAX and the bisecting ones after): the pool wraps around past it."""
    ramp, rate = 0.0, args.ramp_start
    while rate <= RAMP_MAX:
        ramp += rate * args.step_seconds
        rate = round(rate * RAMP_FACTOR)
    return int(100 + args.rate * args.seconds + 1.5 * ramp)


def prepare(engines: list[str], workdir: Path, args, redis_url: str = "") -> dict[str, dict]:
    """bench/capture.py's data (fresh databases, the bench form), then the intake pipeline;
    PostgreSQL with Redis when ``redis_url`` is given."""
    prepared = capture.prepare(engines, workdir, pool=token_pool_size(args))
    for engine in engines:
        setup = prepared[engine]
        setup.update(intake_helper(setup["env"], "setup"))
        setup["env"].update(
            {
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(SINK_PORTS[engine]),
                "EMAIL_URL": "",
                "LEADMILL_NEW_LEAD_ALERT_EMAIL": "",
                "LEADMILL_EMAIL_MAX_PER_HOUR": "0",
                # Each post takes its own token of the pool (EngineRun.template); should a run
                # outgrow the pool, its reused tokens stay valid, not spam.
                "LEADMILL_FORM_TOKEN_POSTS": "1000000000",
                # One key posts every API lead: the per-key limit (600 a minute by default)
                # would answer 429 to most of a 200/s phase and measure the limit, not intake.
                "LEADMILL_API_RATE_LIMIT": "1000000000",
            }
        )
        if engine == "pg" and redis_url:
            # As docs/deployment.md runs PostgreSQL: with Redis for the task queue, the cache
            # and the rate-limit counters (each post counts its address's hits there, not in
            # a PostgreSQL row); a queue name of this run's own.
            setup["env"].update({"REDIS_URL": redis_url, "HUEY_NAME": REDIS_QUEUE})
    return prepared


REDIS_QUEUE = f"leadmill-bench-intake-{os.getpid()}"


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception as exc:  # noqa: BLE001
        log(f"Redis at {url} does not answer ({exc}); PostgreSQL runs without it.")
        return False


def redis_forget(url: str) -> None:
    """Remove this run's queue keys from Redis (what its consumer left, if anything)."""
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        for key in client.scan_iter(match=f"*{REDIS_QUEUE}*"):
            client.delete(key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for development")
    parser.add_argument("--engines", default="sqlite,pg", help="sqlite,pg (default both)")
    parser.add_argument("--rate", type=float, default=STEADY_RATE, help="steady posts/s")
    parser.add_argument("--seconds", type=float, help="steady form run (default 60; 15 quick)")
    parser.add_argument("--api-seconds", type=float, help="steady API run (default as --seconds)")
    parser.add_argument("--step-seconds", type=float, help="ramp step (default 20; 10 quick)")
    parser.add_argument(
        "--deadline", type=float, help="seconds a lead may take (default 60; 45 quick)"
    )
    parser.add_argument(
        "--python-client", action="store_true", help="Python load for the ceiling, not wrk"
    )
    parser.add_argument(
        "--phases", default="ceiling,ramp,form,api", help="which to run (default all)"
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", "none"),
        help="Redis for the PostgreSQL run, as deployed (e.g. redis://127.0.0.1:6379/0; "
        "default 'none': the queue in SQLite, cache and rate limits in PostgreSQL)",
    )
    parser.add_argument("--ramp-start", type=float, default=RAMP_START, help="first ramp rate")
    parser.add_argument(
        "--port-base",
        type=int,
        default=8320,
        help="first of the 4 ports used: servers (sqlite, pg), then sinks (default 8320)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (server logs, SQLite files)"
    )
    args = parser.parse_args()
    base = args.port_base
    capture.PORTS.update(sqlite=base, pg=base + 1)
    SINK_PORTS.update(sqlite=base + 2, pg=base + 3)
    args.seconds = args.seconds or (15.0 if args.quick else 60.0)
    args.api_seconds = args.api_seconds or args.seconds
    args.step_seconds = args.step_seconds or (10.0 if args.quick else 20.0)
    args.deadline = args.deadline or (45.0 if args.quick else 60.0)
    args.stall = 8.0 if args.quick else 15.0
    args.ceiling_seconds = 3.0 if args.quick else 5.0
    engines = [e for e in args.engines.split(",") if e]
    if "pg" in engines and not capture.pg_available():
        engines.remove("pg")

    started = time.monotonic()
    args.commit = capture.git_state(None)
    results: dict[str, dict] = {}
    with contextlib.ExitStack() as stack:
        if args.keep:
            workdir = Path(tempfile.mkdtemp(prefix="leadmill-bench-intake-"))
            log(f"work folder kept: {workdir}")
        else:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="leadmill-bench-intake-"))
            )
        try:
            log(f"preparing {', '.join(engines)} (fresh databases, migrate, form, pipeline)")
            redis_url = "" if args.redis == "none" else args.redis
            if "pg" in engines and redis_url and not redis_answers(redis_url):
                redis_url = ""
            args.redis_used = redis_url
            prepared = prepare(engines, workdir, args, redis_url)
            for engine in engines:
                sink = nurture.Sink(SINK_PORTS[engine], LEAD_EMAIL)
                try:
                    results[engine] = EngineRun(engine, prepared[engine], args, workdir, sink).all()
                finally:
                    sink.close()
        finally:
            if getattr(args, "redis_used", ""):
                redis_forget(args.redis_used)
            if "pg" in engines:
                try:
                    capture.pg_admin(f'DROP DATABASE IF EXISTS "{capture.PG_DB}" WITH (FORCE)')
                except Exception as exc:  # noqa: BLE001
                    log(f"could not drop {capture.PG_DB}: {exc}")
    line = report(results, args)
    print(f"\n(took {time.monotonic() - started:.0f} s)")
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
