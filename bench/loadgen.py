"""Load generators for bench/capture.py: keep-alive HTTP/1.1 form posts on loopback.

- :func:`closed_loop_wrk`: ``wrk`` (C, Debian package) with a Lua script, for maximum
  throughput; the lightest client, so the server keeps most of the 2 cores.
- :func:`closed_loop_python`: the fallback when wrk is missing: several processes, each
  running asyncio over raw sockets with the request bytes built from a template.
- :func:`open_loop`: a fixed offered rate (requests scheduled at t0 + i/rate, whatever the
  answers do), latency measured from each request's scheduled time, so a slow server shows
  as latency and is not hidden by the client waiting (no coordinated omission).

Every request is a valid post of the bench form with a unique email address; half of the
addresses are at a free-mail domain, half at one of 20 business domains.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import quote


@dataclasses.dataclass(frozen=True)
class PostTemplate:
    """How to build the n-th request of one client: everything but the email is fixed."""

    host: str
    port: int
    path: str
    token: str  # the render token of every post when there is no pool
    consent_field: str
    prefix: str  # unique per run and client, so every email of the whole benchmark is new
    # A pool of render tokens (each already URL-quoted), as pages hand them to visitors:
    # post n takes ``tokens[(token_base + n * token_stride + token_offset) % len(tokens)]``,
    # so each client of a run takes its own indices from ``token_base`` on.
    tokens: tuple[str, ...] = ()
    tokens_file: str = ""  # the same pool, one a line (what wrk's script reads)
    token_base: int = 0
    token_stride: int = 1
    token_offset: int = 0

    def token_index(self, n: int) -> int:
        """The pool index (before wrapping round) of post n."""
        return self.token_base + n * self.token_stride + self.token_offset

    def quoted_token(self, n: int) -> str:
        if not self.tokens:
            return quote(self.token)
        return self.tokens[self.token_index(n) % len(self.tokens)]

    def email(self, n: int) -> str:
        domain = "gmail.com" if n % 2 == 0 else f"corp{n % 20}.example.com"
        return f"{self.prefix}n{n}@{domain}"

    def body(self, n: int) -> bytes:
        return (
            f"email={quote(self.email(n))}&first_name=Ana&{self.consent_field}=on&_rt={self.quoted_token(n)}"
        ).encode()

    def client_ip(self, n: int) -> str:
        """Each post comes from its own address (as behind a proxy), like real visitors."""
        salt = sum(map(ord, self.prefix)) % 200
        return f"10.{salt}.{n // 250 % 250}.{n % 250 + 1}"

    def request(self, n: int) -> bytes:
        body = self.body(n)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"X-Forwarded-For: {self.client_ip(n)}\r\n"
            "User-Agent: leadmill-bench\r\nAccept: application/json\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


@dataclasses.dataclass
class Result:
    ok: int = 0  # 2xx answers
    non_2xx: int = 0
    errors: int = 0  # connection errors and timeouts
    unfinished: int = 0  # open loop: abandoned without an answer at the end of the run
    seconds: float = 0.0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    # Open loop: the wall-clock time (time.time()) the first request was due; the n-th was
    # due ``n / rate`` later, so a later stage's row can be timed from its request's turn.
    started_at: float = 0.0
    # Pool indices taken from the run's ``token_base`` on (an upper bound: the next run of
    # the same pool starts after them, so no token is posted by two runs).
    tokens_taken: int = 0

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def merge(self, other: Result) -> None:
        self.ok += other.ok
        self.non_2xx += other.non_2xx
        self.errors += other.errors
        self.unfinished += other.unfinished
        self.seconds = max(self.seconds, other.seconds)
        self.tokens_taken = max(self.tokens_taken, other.tokens_taken)
        self.latencies_ms.extend(other.latencies_ms)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


# --- the HTTP/1.1 exchange over raw asyncio streams ----------------------------------------


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """Send one request, read its whole answer. Returns (status, server keeps the connection)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, keep = 0, False, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _connect(template: PostTemplate):
    return await asyncio.open_connection(template.host, template.port)


async def _closed_client(template: PostTemplate, deadline: float, result: Result) -> None:
    n = 0
    connection = None
    while time.monotonic() < deadline:
        try:
            if connection is None:
                connection = await _connect(template)
            status, keep = await asyncio.wait_for(_exchange(*connection, template.request(n)), 30)
            n += 1
            if 200 <= status < 300:
                result.ok += 1
            else:
                result.non_2xx += 1
            if not keep:
                connection[1].close()
                connection = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1
            n += 1
            if connection is not None:
                connection[1].close()
            connection = None
            await asyncio.sleep(0.05)
    if connection is not None:
        connection[1].close()
    result.tokens_taken = max(result.tokens_taken, template.token_index(n) - template.token_base)


def _closed_loop_process(templates: list[PostTemplate], seconds: float) -> Result:
    async def main() -> Result:
        result = Result()
        started = time.monotonic()
        await asyncio.gather(*(_closed_client(t, started + seconds, result) for t in templates))
        result.seconds = time.monotonic() - started
        return result

    return asyncio.run(main())


def closed_loop_python(templates: list[PostTemplate], seconds: float, processes: int = 2) -> Result:
    """Each template is one keep-alive connection posting as fast as it is answered."""
    groups = [templates[i::processes] for i in range(processes)]
    total = Result()
    with ProcessPoolExecutor(max_workers=processes) as pool:
        for result in pool.map(_closed_loop_process, groups, [seconds] * processes):
            total.merge(result)
    return total


# --- wrk -------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Written by bench/loadgen.py: a unique email per request, 2xx answers counted exactly.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- args: email prefix, file of URL-quoted render tokens (one a line), consent field,
  -- the run's first pool index, the number of threads
  prefix, consent = args[1], args[3]
  base, nthreads = tonumber(args[4]), tonumber(args[5])
  tokens = {}
  for line in io.lines(args[2]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  ok, bad, n = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["User-Agent"] = "leadmill-bench"
end

function request()
  n = n + 1
  -- post n of thread tid takes its own pool index: base + (n - 1) * threads + (tid - 1)
  local index = base + (n - 1) * nthreads + (tid - 1)
  local token = tokens[index % #tokens + 1]
  local domain = "gmail.com"
  if n % 2 == 1 then domain = "corp" .. (n % 20) .. ".example.com" end
  local body = "email=" .. prefix .. "t" .. tid .. "n" .. n .. "%40" .. domain
    .. "&first_name=Ana&" .. consent .. "=on&_rt=" .. token
  -- each post from its own address (as behind a proxy), like real visitors
  wrk.headers["X-Forwarded-For"] = "10." .. (100 + tid) .. "." .. (math.floor(n / 250) % 250) .. "." .. (n % 250 + 1)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local o, b, taken = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
    taken = math.max(taken, t:get("n") * #threads)
  end
  io.write(string.format("BENCH ok=%d bad=%d taken=%d\n", o, b, taken))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_install() -> str | None:
    """Install Debian's wrk when missing and we may (root); None when it cannot be had."""
    if wrk_path() or os.geteuid() != 0 or not shutil.which("apt-get"):
        return wrk_path()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "install", "-y", "-qq", "wrk"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "wrk"],
    ):
        subprocess.run(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300
        )
        if wrk_path():
            break
    return wrk_path()


def closed_loop_wrk(
    template: PostTemplate, *, connections: int, seconds: float, threads: int, workdir: Path
) -> Result:
    """``template``'s posts from ``connections`` connections; with a token pool, thread t's
    n-th post takes pool index ``token_base + (n - 1) * threads + (t - 1)``."""
    script = workdir / "capture.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    tokens_file = template.tokens_file
    if not tokens_file:  # one token for every post
        tokens_file = str(workdir / "render-token.txt")
        Path(tokens_file).write_text(quote(template.token, safe="") + "\n")
    url = f"http://{template.host}:{template.port}{template.path}"
    completed = subprocess.run(
        [
            wrk_path() or "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
            "--",
            template.prefix,
            tokens_file,
            template.consent_field,
            str(template.token_base),
            str(threads),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out = completed.stdout
    counted = re.search(r"BENCH ok=(\d+) bad=(\d+) taken=(\d+)", out)
    took = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if completed.returncode != 0 or counted is None or took is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {out}\n{completed.stderr}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[took.group(3)]
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return Result(
        ok=int(counted.group(1)),
        non_2xx=int(counted.group(2)),
        errors=sum(int(g) for g in socket_errors.groups()) if socket_errors else 0,
        seconds=float(took.group(2)) * scale,
        tokens_taken=int(counted.group(3)),
    )


# --- open loop -------------------------------------------------------------------------------


def open_loop(
    template: PostTemplate, *, rate: float, seconds: float, connections: int, grace_s: float = 10.0
) -> Result:
    """Offer ``rate`` requests/s for ``seconds`` over up to ``connections`` keep-alive
    connections; a request whose turn comes while all are busy waits, and that wait counts
    in its latency. Requests still unanswered ``grace_s`` after the last one was due are
    abandoned: counted in ``unfinished``, their latency so far kept (a lower bound)."""

    async def main() -> Result:
        result = Result()
        idle: asyncio.Queue = asyncio.Queue()
        opened = []
        for _ in range(connections):
            connection = await _connect(template)
            opened.append(connection)
            idle.put_nowait(connection)

        async def one(n: int, scheduled: float) -> None:
            connection = await idle.get()
            try:
                if connection is None:
                    connection = await _connect(template)
                    opened.append(connection)
                status, keep = await asyncio.wait_for(
                    _exchange(*connection, template.request(n)), 30
                )
                result.latencies_ms.append((time.monotonic() - scheduled) * 1000)
                if 200 <= status < 300:
                    result.ok += 1
                else:
                    result.non_2xx += 1
                if not keep:
                    connection[1].close()
                    connection = None
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                if connection is not None:
                    connection[1].close()
                connection = None
            idle.put_nowait(connection)

        total = int(rate * seconds)
        result.tokens_taken = template.token_index(total) - template.token_base
        tasks: dict[asyncio.Task, float] = {}
        started, result.started_at = time.monotonic(), time.time()
        for n in range(total):
            scheduled = started + n / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks[asyncio.create_task(one(n, scheduled))] = scheduled
        _done, pending = await asyncio.wait(
            tasks, timeout=max(0.1, started + seconds + grace_s - time.monotonic())
        )
        now = time.monotonic()
        for task in pending:
            task.cancel()
            result.unfinished += 1
            result.latencies_ms.append((now - tasks[task]) * 1000)
        result.seconds = min(now, started + seconds + grace_s) - started
        for connection in opened:
            connection[1].close()
        return result

    return asyncio.run(main())
