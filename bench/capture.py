"""Capture benchmark: form posts per second through ``/f/<slug>/`` against a bare
one-INSERT view in the same server, on SQLite and PostgreSQL; then latency at a fixed rate.

    python bench/capture.py             3 runs of 10 s per figure, medians (about 6 minutes)
    python bench/capture.py --quick     1 run of 5 s per figure
    python bench/capture.py --profile   cProfile of the form post, one process (no server)

What it does, from nothing:

1. Makes its own data: a fresh PostgreSQL database and a fresh SQLite file in a temporary
   ``LEADMILL_DATA_DIR``, migrated with ``python -m django migrate``; in each, the form
   "bench" (email + first name, one optional consent box) and the bare view's plain table.
2. Starts the production server exactly as ``leadmill web`` does (granian WSGI, the same
   workers and threads) with ``DJANGO_SETTINGS_MODULE=bench_settings``, which is Leadmill's
   settings plus the URL ``/bench/bare/`` (bench_urls.py), and the per-form rate limit
   raised (the per-address one and LEADMILL_FORM_TOKEN_POSTS keep their defaults).
   The Huey consumer does not run (``--worker`` starts one): tasks just queue in Huey's
   SQLite store, so the form path is measured alone, like the bare view it is compared with.
   The set-up also mints a pool of render tokens (each its own render of the form, seen
   10 s ago), enough for one per post of the whole run: post n takes the next token of the
   pool, as each visitor posts the token of their own page view, so the per-token count in
   the form post's INSERT (ADR 27) costs what it costs a real visitor.
3. Phase 1, closed loop: 50 keep-alive connections post as fast as they are answered
   (wrk, else Python); form posts per second vs bare inserts per second; ratio = form/bare.
4. Phase 2, open loop: 200 submissions/s offered for 10 s; p50 / p99 latency from each
   request's scheduled send time.
5. After every run, the rows stored are counted: a 2xx answer without a received or
   accepted submission (or bare row) is ``lost``.

Prints a table and ends with one line of JSON. Goals (the capture issue): ratio >= 0.5,
lost == 0, p99 at 200/s under 100 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import loadgen  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = f"leadmill_bench_capture_{os.getpid()}"
PORTS = {"sqlite": 8310, "pg": 8311}
CONNECTIONS = 50
OFFERED_RATE = 200
SOURCE = ROOT  # the tree whose ``leadmill`` package is measured (``--ref`` exports another)
GRACE_S = 10.0  # open loop: how long answers are awaited after the last request was due
GOAL_RATIO, GOAL_P99_MS = 0.5, 100.0
# Render tokens minted per second of form load (closed loop, above any rate measured so far:
# about 1,700/s), so the pool holds one token per post; past it, tokens are reused round
# the pool, still within LEADMILL_FORM_TOKEN_POSTS (the report says how often).
TOKENS_PER_S = 4000
WARM_UP_S = 3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def python() -> str:
    """The virtualenv's interpreter (this one when it can import Leadmill)."""
    try:
        import django  # noqa: F401

        return sys.executable
    except ImportError:
        return str(ROOT / ".venv" / "bin" / "python")


# --- data ------------------------------------------------------------------------------------


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def pg_available() -> bool:
    try:
        pg_admin("SELECT 1")
        return True
    except Exception as exc:  # noqa: BLE001
        log(f"PostgreSQL at {PG_ADMIN_URL} does not answer ({exc}); PostgreSQL figures skipped.")
        return False


def engine_env(engine: str, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join(
            [str(BENCH_DIR), str(SOURCE), os.environ.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep),
        "LEADMILL_DATA_DIR": str(data_dir),
        "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB if engine == "pg" else "",
        # Every post carries its own client address (X-Forwarded-For, as behind a proxy), so
        # the per-IP limit keeps its default; the per-form one is raised above the load.
        "LEADMILL_TRUST_X_FORWARDED_FOR": "1",
        "LEADMILL_RATE_LIMIT_PER_FORM": "1000000000",
        "HOST": "127.0.0.1",
        "PORT": str(PORTS[engine]),
        "LOG_LEVEL": "WARNING",
        "LEADMILL_DEBUG": "",
        "LEADMILL_TESTING": "",
        "HUEY_IMMEDIATE": "",
    }
    env.pop("REDIS_URL", None)
    env.pop("LEADMILL_FORM_TOKEN_POSTS", None)  # the default: each post takes its own token
    return env


def token_pool_size(args) -> int:
    """Render tokens for every form post of one engine's run: warm-up and closed loops at
    up to TOKENS_PER_S, the open loop at its rate."""
    if args is None:
        return 0
    closed_s = WARM_UP_S + args.runs * args.seconds
    return int(closed_s * TOKENS_PER_S + args.runs * args.seconds * args.rate)


def prepare(
    engines: list[str], workdir: Path, args=None, pool: int | None = None
) -> dict[str, dict]:
    """Fresh databases, migrated in parallel, each with the bench form, bare table and a
    pool of render tokens for ``args``' runs (none without ``args``), or of ``pool``."""
    prepared: dict[str, dict] = {}
    migrations = {}
    for engine in engines:
        data_dir = workdir / engine
        (data_dir / "static").mkdir(parents=True)
        if engine == "pg":
            pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{PG_DB}"')
        env = engine_env(engine, data_dir)
        prepared[engine] = {"env": env, "data_dir": data_dir}
        migrations[engine] = subprocess.Popen(
            [python(), "-m", "django", "migrate", "--noinput", "--verbosity", "0"],
            env=env,
            cwd=data_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    for engine, process in migrations.items():
        output, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"migrate on {engine} failed:\n{output}")
        size = token_pool_size(args) if pool is None else pool
        setup = django_helper(prepared[engine]["env"], "setup", str(size))
        if setup["tokens"]:
            setup["token_pool"] = tuple(Path(setup["tokens_file"]).read_text().split())
        prepared[engine].update(setup)
    return prepared


def django_helper(env: dict[str, str], *args: str, script: str = "capture_django.py") -> dict:
    """Run a Django side of a benchmark (``script`` in bench/) with ``args``; its last line's JSON."""
    completed = subprocess.run(
        [python(), str(BENCH_DIR / script), *args],
        env=env,
        cwd=env["LEADMILL_DATA_DIR"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{script} {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
        )
    if args[0] == "profile":
        print(completed.stdout.rsplit("\n", 2)[0])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def stored(engine: str, setup: dict) -> dict[str, int]:
    """Rows the database holds now: submissions by status, bare rows, queued Huey tasks."""
    counts: dict[str, int] = {}
    if engine == "pg":
        import psycopg

        with psycopg.connect(setup["env"]["DATABASE_URL"]) as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM capture_submission GROUP BY status"
            ).fetchall()
            bare = conn.execute("SELECT count(*) FROM bench_bare").fetchone()[0]
    else:
        with sqlite3.connect(setup["data_dir"] / "leadmill.sqlite3", timeout=30) as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM capture_submission GROUP BY status"
            ).fetchall()
            bare = conn.execute("SELECT count(*) FROM bench_bare").fetchone()[0]
    counts.update({status: n for status, n in rows})
    counts["bare"] = bare
    huey_file = setup["data_dir"] / "huey.sqlite3"
    if huey_file.exists():
        with sqlite3.connect(huey_file, timeout=30) as conn:
            try:
                counts["queued_tasks"] = conn.execute("SELECT count(*) FROM task").fetchone()[0]
            except sqlite3.OperationalError:
                counts["queued_tasks"] = 0
    return counts


def quiescent(engine: str, setup: dict, *, limit_s: float = 60) -> dict[str, int]:
    """The counts once the server has finished what was in flight (unchanged for 1 s)."""
    time.sleep(1)
    counts = stored(engine, setup)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(1)
        again = stored(engine, setup)
        if again == counts:
            break
        counts = again
    return counts


# --- CPU time spent by the server and its database connections ---------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _descendants(roots: list[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_seconds(server: Server, engine: str, setup: dict) -> dict[tuple[str, int], float]:
    """User + system CPU seconds so far of every server process (web workers, and the Huey
    consumer when it runs) and, on PostgreSQL, of the backends serving the bench database."""
    pids = {("web", pid) for pid in _descendants([process.pid for process in server.processes])}
    if engine == "pg":
        import psycopg

        with psycopg.connect(setup["env"]["DATABASE_URL"]) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        pids |= {("db", pid) for (pid,) in rows}
    seconds = {}
    for kind, pid in pids:
        if fields := _proc_stat(pid):
            seconds[(kind, pid)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def cpu_spent(before: dict, after: dict, kind: str | None = None) -> float:
    """CPU seconds spent between two readings, by every process or those of one kind."""
    return sum(
        value - before.get(key, 0.0)
        for key, value in after.items()
        if kind is None or key[0] == kind
    )


# --- the server ------------------------------------------------------------------------------


class Server:
    """``leadmill web`` (and with ``worker``, ``leadmill worker``) in their own process groups."""

    def __init__(self, engine: str, setup: dict, *, worker: bool, workdir: Path):
        self.engine, self.env, self.port = engine, setup["env"], PORTS[engine]
        self.log_path = workdir / f"server-{engine}.log"
        self.processes: list[subprocess.Popen] = []
        self.worker = worker

    def __enter__(self) -> Server:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"port {self.port} is already in use")
        log_file = self.log_path.open("w")
        commands = [[python(), "-m", "leadmill.cli", "web"]]
        if self.worker:
            commands.append([python(), "-m", "leadmill.cli", "worker"])
        for command in commands:
            self.processes.append(
                subprocess.Popen(
                    command,
                    env=self.env,
                    cwd=self.env["LEADMILL_DATA_DIR"],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.processes[0].poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/healthz", timeout=2
                ) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(
            f"the server did not answer in 90 s: {self.log_path.read_text()[-3000:]}"
        )

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    @property
    def command_line(self) -> str:
        code = "import django; django.setup(); from leadmill.cli import web_command; print(' '.join(web_command()[1:]))"
        completed = subprocess.run(
            [python(), "-c", code],
            env=self.env,
            cwd=self.env["LEADMILL_DATA_DIR"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return completed.stdout.strip()


# --- runs ------------------------------------------------------------------------------------


class Runner:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.wrk = None if args.python_client else loadgen.wrk_install()
        self.sequence = 0
        self.tokens_taken: dict[str, int] = {}  # per engine: pool indices handed out so far

    @property
    def client_name(self) -> str:
        return "wrk (2 threads)" if self.wrk else "Python asyncio (2 processes)"

    def template(
        self, engine: str, setup: dict, path: str, client: int = 0, clients: int = 1
    ) -> loadgen.PostTemplate:
        """Client ``client`` of ``clients`` of the next run: its posts take the pool's tokens
        from the engine's next unused index on, interleaved with the other clients'."""
        self.sequence += 1
        return loadgen.PostTemplate(
            host="127.0.0.1",
            port=PORTS[engine],
            path=path,
            token=setup["token"],
            consent_field=setup["consent_field"],
            prefix=f"b{os.getpid()}r{self.sequence}c{client}",
            tokens=setup.get("token_pool", ()),
            tokens_file=setup.get("tokens_file", ""),
            token_base=self.tokens_taken.get(engine, 0),
            token_stride=clients,
            token_offset=client,
        )

    def taken(self, engine: str, path: str, result: loadgen.Result) -> loadgen.Result:
        """Count the run's tokens as used (the bare view ignores them: its runs take none)."""
        if path != "/bench/bare/":
            self.tokens_taken[engine] = self.tokens_taken.get(engine, 0) + result.tokens_taken
        return result

    def closed(self, engine: str, setup: dict, path: str, seconds: float) -> loadgen.Result:
        if self.wrk:
            result = loadgen.closed_loop_wrk(
                self.template(engine, setup, path),
                connections=CONNECTIONS,
                seconds=seconds,
                threads=2,
                workdir=self.workdir,
            )
        else:
            templates = [
                self.template(engine, setup, path, client, CONNECTIONS)
                for client in range(CONNECTIONS)
            ]
            result = loadgen.closed_loop_python(templates, seconds, processes=2)
        return self.taken(engine, path, result)

    def checked(self, engine: str, setup: dict, target: str, run) -> dict:
        """Run, let the server finish what was in flight, then compare stored rows with 2xx."""
        before = stored(engine, setup)
        cpu_before = cpu_seconds(self.server, engine, setup)
        result: loadgen.Result = run()
        after = quiescent(engine, setup)
        cpu_after = cpu_seconds(self.server, engine, setup)
        cpu, cpu_db = cpu_spent(cpu_before, cpu_after), cpu_spent(cpu_before, cpu_after, "db")
        delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
        # A valid post is stored as "received" by the request and becomes "accepted" when the
        # worker has processed it: both are kept.
        kept = (
            delta.get("bare", 0)
            if target == "bare"
            else delta.get("received", 0) + delta.get("accepted", 0)
        )
        processed = (
            delta.get("bare", 0)
            if target == "bare"
            else sum(
                delta.get(status, 0)
                for status in ("received", "accepted", "rejected", "spam", "error")
            )
        )
        return {
            "cpu_ms": 1000 * cpu / processed if processed else None,
            "cpu_db_ms": 1000 * cpu_db / processed if processed else None,
            "cores": cpu / result.seconds if result.seconds else None,
            "per_s": result.per_s,
            "ok": result.ok,
            "non_2xx": result.non_2xx,
            "errors": result.errors,
            "stored": kept,
            "lost": max(0, result.ok - kept),
            "unfinished": result.unfinished,
            "other_status": {
                k: v
                for k, v in delta.items()
                if k in ("received", "rejected", "spam", "error") and v
            },
            "p50_ms": loadgen.percentile(result.latencies_ms, 50),
            "p90_ms": loadgen.percentile(result.latencies_ms, 90),
            "p99_ms": loadgen.percentile(result.latencies_ms, 99),
            "max_ms": max(result.latencies_ms) if result.latencies_ms else None,
            "queued_tasks": after.get("queued_tasks"),
        }

    def engine(self, engine: str, setup: dict) -> dict:
        args = self.args
        paths = {"form": "/f/bench/", "bare": "/bench/bare/"}
        out: dict = {"form": [], "bare": [], "open": []}
        with Server(engine, setup, worker=args.worker, workdir=self.workdir) as server:
            self.server = server
            out["server"] = server.command_line
            log(f"[{engine}] warm-up")
            for path in paths.values():
                self.closed(engine, setup, path, WARM_UP_S)
            for i in range(args.runs):
                for target in ("form", "bare") if i % 2 == 0 else ("bare", "form"):
                    run = self.checked(
                        engine,
                        setup,
                        target,
                        lambda p=paths[target]: self.closed(engine, setup, p, args.seconds),
                    )
                    out[target].append(run)
                    log(
                        f"[{engine}] closed loop {target} run {i + 1}: {run['per_s']:.0f}/s, lost {run['lost']}"
                    )
            for i in range(args.runs):
                run = self.checked(
                    engine,
                    setup,
                    "form",
                    lambda: self.taken(
                        engine,
                        paths["form"],
                        loadgen.open_loop(
                            self.template(engine, setup, paths["form"]),
                            rate=args.rate,
                            seconds=args.seconds,
                            connections=CONNECTIONS,
                            grace_s=GRACE_S,
                        ),
                    ),
                )
                out["open"].append(run)
                log(
                    f"[{engine}] open loop {args.rate}/s run {i + 1}: p99 {run['p99_ms']:.1f} ms, lost {run['lost']}"
                )
            out["queries"] = django_helper(setup["env"], "queries")
        pool = len(setup.get("token_pool", ())) or 1
        out["tokens"] = {
            "pool": pool,
            "taken": self.tokens_taken.get(engine, 0),
            "max_posts_per_token": -(-self.tokens_taken.get(engine, 0) // pool),
            "limit": setup["token_posts"],
        }
        out["queued_tasks"] = stored(engine, setup).get("queued_tasks")
        return out


def median(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def report(results: dict[str, dict], args, runner: Runner) -> dict:
    def fmt(value, digits=0):
        return "-" if value is None else f"{value:,.{digits}f}"

    print()
    print(
        "Capture benchmark: form posts through /f/bench/ vs one INSERT per request (/bench/bare/)"
    )
    for engine, out in results.items():
        print(f"  server ({engine}): granian {out['server'].split('granian ', 1)[-1]}")
    print(
        f"  Huey consumer: {'running (leadmill worker)' if args.worker else 'NOT running: tasks only queue'}"
    )
    print(
        f"  load: {runner.client_name}, {CONNECTIONS} keep-alive connections on loopback, "
        f"{args.seconds:g} s per run, {args.runs} run(s) per figure, medians; 2 cores shared with the client"
    )
    print()
    print("Phase 1: maximum throughput (closed loop)")
    header = f"  {'engine':<7} {'target':<5} " + " ".join(
        f"{'run ' + str(i + 1):>8}" for i in range(args.runs)
    )
    print(
        header
        + f" {'median/s':>9} {'CPU ms':>7} {'in db':>6} {'cores':>5} {'non-2xx':>8} {'lost':>5}"
        + "  other statuses"
    )
    summary: dict = {}
    for engine, out in results.items():
        for target in ("form", "bare"):
            runs = out[target]
            cells = " ".join(f"{run['per_s']:>8.0f}" for run in runs)
            others = {}
            for run in runs:
                for key, value in run["other_status"].items():
                    others[key] = others.get(key, 0) + value
            print(
                f"  {engine:<7} {target:<5} {cells} {fmt(median(runs, 'per_s')):>9} "
                f"{fmt(median(runs, 'cpu_ms'), 2):>7} "
                f"{fmt(median(runs, 'cpu_db_ms'), 2) if engine == 'pg' else '':>6} "
                f"{fmt(median(runs, 'cores'), 2):>5} "
                f"{sum(r['non_2xx'] + r['errors'] for r in runs):>8} {sum(r['lost'] for r in runs):>5}  "
                f"{others or ''}"
            )
        form, bare = median(out["form"], "per_s"), median(out["bare"], "per_s")
        ratio = form / bare if form and bare else None
        cpu_form, cpu_bare = median(out["form"], "cpu_ms"), median(out["bare"], "cpu_ms")
        cpu_ratio = cpu_bare / cpu_form if cpu_form and cpu_bare else None
        summary[engine] = {
            "form": form,
            "bare": bare,
            "ratio": ratio,
            "cpu_form": cpu_form,
            "cpu_bare": cpu_bare,
            "cpu_ratio": cpu_ratio,
            "cpu_db_form": median(out["form"], "cpu_db_ms"),
            "cpu_db_bare": median(out["bare"], "cpu_db_ms"),
        }
        print(
            f"  {engine:<7} ratio form/bare = {fmt(ratio, 3)}  (goal >= {GOAL_RATIO}); "
            f"by server CPU per request, bare/form = {fmt(cpu_ratio, 3)}"
        )
    print(
        "  CPU ms: user+system CPU of the server processes"
        + (" and PostgreSQL backends" if "pg" in results else "")
        + " per request it stored ('in db': the PostgreSQL backends' part), and the cores they"
        + " kept busy (medians); the client's CPU is not in it"
    )
    print()
    print(f"Phase 2: {args.rate}/s offered (open loop), latency from the scheduled send time, ms")
    print(
        f"  {'engine':<7} {'run':>4} {'done/s':>7} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'non-2xx':>8} "
        f"{'unanswered':>10} {'lost':>5}"
    )
    for engine, out in results.items():
        for i, run in enumerate(out["open"]):
            print(
                f"  {engine:<7} {i + 1:>4} {run['per_s']:>7.0f} {fmt(run['p50_ms'], 1):>8} {fmt(run['p90_ms'], 1):>8} "
                f"{fmt(run['p99_ms'], 1):>8} {fmt(run['max_ms'], 1):>8} {run['non_2xx'] + run['errors']:>8} "
                f"{run['unfinished']:>10} {run['lost']:>5}"
            )
        if any(run["unfinished"] for run in out["open"]):
            print(
                f"  {engine:<7} the server fell behind: requests unanswered {GRACE_S:g} s after the last was due were "
                "abandoned, their wait so far counted (so these percentiles are lower bounds)"
            )
        summary[engine]["p50"] = median(out["open"], "p50_ms")
        summary[engine]["p99"] = median(out["open"], "p99_ms")
        print(
            f"  {engine:<7} median p50 {fmt(summary[engine]['p50'], 1)}  p99 {fmt(summary[engine]['p99'], 1)}"
            + (f"  (goal < {GOAL_P99_MS:g} on PostgreSQL)" if engine == "pg" else "")
        )
    print()
    print(
        "SQL per form post (one new contact; Huey's enqueue is in its own SQLite store, not counted)"
    )
    for engine, out in results.items():
        for label, q in out["queries"].items():
            print(f"  {engine:<7} {label:<10} {q['queries']:>3} statements  {q['by_kind']}")
            tables = ", ".join(f"{table} {n}" for table, n in q["by_table"].items())
            print(f"  {'':<7} {'':<10}     by table: {tables}")
        print(f"  {engine:<7} Huey tasks queued at the end: {out['queued_tasks']}")
    print()
    print(
        "Render tokens (one per page view; the server's LEADMILL_FORM_TOKEN_POSTS is the default)"
    )
    for engine, out in results.items():
        t = out["tokens"]
        print(
            f"  {engine:<7} pool {t['pool']:,}, taken {t['taken']:,}: at most "
            f"{t['max_posts_per_token']} post(s) per token (limit {t['limit']} an hour)"
            + (
                "  TOO MANY: posts past the limit are spam, counted lost"
                if t["max_posts_per_token"] > t["limit"]
                else ""
            )
        )

    lost = sum(
        run["lost"]
        for out in results.values()
        for kind in ("form", "bare", "open")
        for run in out[kind]
    )

    def pick(engine: str, key: str, digits: int):
        value = summary.get(engine, {}).get(key)
        return None if value is None else round(value, digits)

    line = {
        "bench": "capture",
        "per_s_pg": pick("pg", "form", 1),
        "per_s_sqlite": pick("sqlite", "form", 1),
        "bare_per_s_pg": pick("pg", "bare", 1),
        "bare_per_s_sqlite": pick("sqlite", "bare", 1),
        "ratio_pg": pick("pg", "ratio", 3),
        "ratio_sqlite": pick("sqlite", "ratio", 3),
        "p50_ms_pg": pick("pg", "p50", 1),
        "p99_ms_pg": pick("pg", "p99", 1),
        "p50_ms_sqlite": pick("sqlite", "p50", 1),
        "p99_ms_sqlite": pick("sqlite", "p99", 1),
        "offered_per_s": args.rate,
        "lost": lost,
        "runs": args.runs,
        "seconds": args.seconds,
        "connections": CONNECTIONS,
        "client": "wrk" if runner.wrk else "python",
        "huey_consumer": bool(args.worker),
        "unanswered_at_rate": sum(
            run["unfinished"] for out in results.values() for run in out["open"]
        ),
        "cpu_ms_form_pg": pick("pg", "cpu_form", 2),
        "cpu_ms_bare_pg": pick("pg", "cpu_bare", 2),
        "cpu_db_ms_form_pg": pick("pg", "cpu_db_form", 2),
        "cpu_db_ms_bare_pg": pick("pg", "cpu_db_bare", 2),
        "cpu_ms_form_sqlite": pick("sqlite", "cpu_form", 2),
        "cpu_ms_bare_sqlite": pick("sqlite", "cpu_bare", 2),
        "commit": args.commit,
        "max_posts_per_token": max(
            (out["tokens"]["max_posts_per_token"] for out in results.values()), default=None
        ),
        "queries_per_submission_pg": results.get("pg", {})
        .get("queries", {})
        .get("business", {})
        .get("queries"),
        "queries_per_submission_sqlite": results.get("sqlite", {})
        .get("queries", {})
        .get("business", {})
        .get("queries"),
    }
    ratios = [line["ratio_pg"], line["ratio_sqlite"]]
    line["goals_met"] = bool(
        all(r is not None and r >= GOAL_RATIO for r in ratios)
        and lost == 0
        and line["p99_ms_pg"] is not None
        and line["p99_ms_pg"] < GOAL_P99_MS
    )
    return line


def export_ref(ref: str, workdir: Path) -> Path:
    """The ``leadmill`` package as committed at ``ref``, exported (git archive) into workdir."""
    target = workdir / "source"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "leadmill"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True, timeout=120)
    return target


def git_state(ref: str | None) -> str:
    """The commit measured: ``ref``'s, or HEAD's with "+dirty" when the work tree's
    ``leadmill`` had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", ref or "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if ref:
            if not head:
                raise SystemExit(f"unknown git ref {ref!r}")
            return head
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "leadmill"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 5 s per figure")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; medians)")
    parser.add_argument("--seconds", type=float, help="seconds per run (default 10)")
    parser.add_argument(
        "--rate", type=int, default=OFFERED_RATE, help="offered submissions/s in phase 2"
    )
    parser.add_argument("--engines", default="sqlite,pg", help="sqlite,pg (default both)")
    parser.add_argument(
        "--port-base",
        type=int,
        help=f"the SQLite server listens on this port, PostgreSQL's on the next "
        f"(default {PORTS['sqlite']})",
    )
    parser.add_argument(
        "--worker", action="store_true", help="run the Huey consumer beside the server"
    )
    parser.add_argument(
        "--python-client", action="store_true", help="use the Python load generator, not wrk"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the form post in one process and stop"
    )
    parser.add_argument(
        "--ref",
        help="measure the leadmill package as committed at this git ref "
        "(default: the work tree as it is)",
    )
    args = parser.parse_args()
    if args.port_base:
        PORTS.update(sqlite=args.port_base, pg=args.port_base + 1)
    args.runs = args.runs or (1 if args.quick else 3)
    args.seconds = args.seconds or (5.0 if args.quick else 10.0)
    engines = [e for e in args.engines.split(",") if e]
    if "pg" in engines and not pg_available():
        engines.remove("pg")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="leadmill-bench-capture-") as tmp:
        workdir = Path(tmp)
        args.commit = git_state(args.ref)
        if args.ref:
            global SOURCE
            SOURCE = export_ref(args.commit, workdir)
            log(f"measuring leadmill as committed at {args.ref} ({args.commit})")
        try:
            log(f"preparing {', '.join(engines)} (fresh databases, migrate, bench form)")
            prepared = prepare(engines, workdir, None if args.profile else args)
            if args.profile:
                for engine in engines:
                    print(f"===== {engine} =====")
                    print(json.dumps(django_helper(prepared[engine]["env"], "profile", "300")))
                return 0
            runner = Runner(args, workdir)
            log(f"load generator: {runner.client_name}")
            results = {engine: runner.engine(engine, prepared[engine]) for engine in engines}
        finally:
            if "pg" in engines:
                try:
                    pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                except Exception as exc:  # noqa: BLE001
                    log(f"could not drop {PG_DB}: {exc}")
    line = report(results, args, runner)
    print(f"\n(took {time.monotonic() - started:.0f} s)")
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
