"""Hostile, random and steady requests against a running `ftlab serve`: what the service must survive.

`attack(url, hostile_requests(n))` sends requests that a careless or malicious client might send (random JSON
shapes, wrong types, deep nesting, lone surrogates, huge numbers, invalid UTF-8, wrong content types and methods,
oversized bodies and batches, bytes that are not HTTP) from many concurrent clients and counts the answers;
`soak(url, seconds)` sends ordinary requests at a steady rate and samples the server's memory. The tests use
both; `python -m ftlab.serving.stress MODEL_DIR` runs them against a model folder and prints the figures.
Loopback only: the URL must point at this machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ftlab.config import SERVE_MAX_BATCH, SERVE_MAX_CHARS
from ftlab.serving.background import BackgroundServer

PROBE = "The flight was delayed again and nobody told us anything."
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Characters that break naive text handling: white space of several kinds, NUL and control characters, accents
# as combining marks, zero-width and direction marks, emoji and CJK, private use, non-characters and (legal in
# JSON, illegal in UTF-8) lone surrogates.
_TRICKY = (" \t\n\r\x0b\x0c\u00a0\u2028\u3000", "\x00\x01\x1b\x7f", "e\u0301n\u0303", "\u200b\u200d\u200e\u202e",
           "😀👍🏽🇫🇷", "中文日本語한국어", "\ue000\U000f0000", "\ufffe\uffff", "\ud800\udbff\udc00\udfff")
_PLAIN = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,!?@#'\"\\/"


@dataclass
class Request:
    """One request as bytes go: method, path, headers and body; `kind` names the family it belongs to."""

    kind: str
    method: str = "POST"
    path: str = "/predict"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    raw: bytes | None = None  # sent as is on a socket instead of an HTTP request


def _text(rng: random.Random, longest: int = 80, valid: bool = False) -> str:
    """Random text from plain and tricky characters; `valid`: no lone surrogates (every text then is UTF-8)."""
    tricky = _TRICKY[:-1] if valid else _TRICKY
    pool = _PLAIN + "".join(rng.sample(tricky, k=rng.randint(0, len(tricky))))
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, longest)))


def _value(rng: random.Random, depth: int = 0):
    """A random JSON value: scalars of every type (NaN, infinities and 30-digit numbers too), lists, objects."""
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return _text(rng)
    if kind == "int":
        return rng.choice([0, -1, 2 ** 63, -(10 ** 30), rng.randint(-10 ** 6, 10 ** 6)])
    if kind == "float":
        return rng.choice([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, rng.random()])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["text", "texts", _text(rng, 8), "", "TEXT", "text "]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _json(value) -> bytes:
    return json.dumps(value).encode("utf-8")


def hostile_requests(n: int, *, seed: int = 0, max_batch: int = SERVE_MAX_BATCH,
                     max_chars: int = SERVE_MAX_CHARS) -> list[Request]:
    """`n` requests drawn from every family below, in random order, with `seed` fixing the draw."""
    rng = random.Random(seed)
    max_body = max_batch * (max_chars * 4 + 16) + 1024
    families = {
        "random JSON": lambda: Request("random JSON", body=_json(_value(rng))),
        "wrong types": lambda: Request("wrong types", body=_json(rng.choice([
            {"text": _value(rng)}, {"texts": _value(rng)}, {"texts": [_value(rng) for _ in range(3)]},
            {"text": "a", "texts": ["b"]}, {"text": "a", "extra": 1}, {}, [], "text", {"texts": []}]))),
        "valid, tricky text": lambda: Request("valid, tricky text", body=_json(
            {"text": _text(rng) + "x"} if rng.random() < 0.5 else {"texts": [_text(rng) + "x" for _ in range(4)]})),
        "deep nesting": lambda: Request("deep nesting", body=rng.choice([
            b"[" * 100_000, b'{"text": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            b"[" * 900 + b"]" * 900])),
        "lone surrogate": lambda: Request("lone surrogate", body=rng.choice([
            b'{"text": "\\ud800"}', b'{"texts": ["fine", "bad \\udfff end"]}', b'{"text": "\xed\xa0\x80"}',
            b'{"text": "a\\udbffb"}'])),
        "huge number": lambda: Request("huge number", body=rng.choice([
            b'{"text": 1' + b"0" * 5_000 + b"}", b'{"text": 1e999999}', b'{"texts": [-1e400]}', b'{"text": NaN}',
            b'{"text": Infinity}', b"9" * 100_000])),
        "invalid UTF-8": lambda: Request("invalid UTF-8", body=rng.choice([
            bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))), b'{"text": "\xff\xfe\xfd"}',
            b'{"text": "caf\xe9"}', b"\xef\xbb\xbf" + _json({"text": "with a byte-order mark"})])),
        "content type": lambda: Request("content type", body=_json({"text": "wrong header"}), headers=rng.choice([
            {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
            {"Content-Type": "multipart/form-data; boundary=x"}, {}, {"Content-Type": "application/json; charset=latin-1"},
            {"Content-Type": "\x7f" * 10}])),
        "method or path": lambda: Request("method or path", method=rng.choice(
            ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST"]), path=rng.choice(
            ["/predict", "/health", "/model", "/", "/../../etc/passwd", "/predict?text=x", "/%00", "/" + "a" * 4_000,
             "/docs", "/openapi.json"]), body=rng.choice([None, b"", _json({"text": "x"})])),
        "oversized": lambda: Request("oversized", body=rng.choice([
            _json({"texts": ["x"] * (max_batch + 1)}), _json({"text": "y" * (max_chars + 1)}),
            _json({"texts": ["z" * max_chars] * max_batch}), b'{"text": "' + b"w" * (max_body + 10) + b'"}'])),
        "lying length": lambda: Request("lying length", body=_json({"text": "short"}),
                                        headers={"Content-Type": "application/json", "Content-Length": str(10 ** 12)}),
        "not HTTP": lambda: Request("not HTTP", raw=rng.choice([
            b"GARBAGE\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"POST /predict HTTP/9.9\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"h" * 70_000 + b"\r\n\r\n"])),
    }
    names = list(families)
    return [families[names[i % len(names)]]() for i in rng.sample(range(n), n)]


def _check_loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK or parts.port is None:
        raise ValueError(f"{url} is not a loopback address with a port: these requests are only sent to a service "
                         f"on this machine (e.g. http://127.0.0.1:8000)")
    return parts.hostname, parts.port


def _send(host: str, port: int, request: Request, timeout: float) -> tuple[int | str, bytes]:
    """Send one request on a fresh connection; the status (or the name of the connection error) and the body."""
    if request.raw is not None:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request.raw)
            head = sock.recv(65536)
        if not head.startswith(b"HTTP/1."):
            return "no HTTP answer", head
        return int(head.split(b" ", 2)[1]), head
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.putrequest(request.method, request.path, skip_accept_encoding=True)
        headers = dict(request.headers)
        if request.body is not None:
            headers.setdefault("Content-Length", str(len(request.body)))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        if request.body:
            try:
                connection.send(request.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before reading all of it (413): the answer is still there to read
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as err:
        return type(err).__name__, b""
    finally:
        connection.close()


@dataclass
class AttackReport:
    """What the service answered: status codes (or connection errors) per request family."""

    statuses: dict[str, Counter]
    seconds: float
    bad_errors: list[str]  # 4xx answers from /predict without an {"error": "..."} body

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.statuses.values() for status, n in c.items()
                   if not isinstance(status, int) or status >= 500)

    def table(self) -> str:
        """One line per family: how many requests, and how many got each answer."""
        lines = [f"{'family':22s} {'requests':>8s}  answers"]
        for kind, counts in sorted(self.statuses.items()):
            answers = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items(), key=str))
            lines.append(f"{kind:22s} {sum(counts.values()):8d}  {answers}")
        lines.append(f"{'all':22s} {self.total:8d}  5xx or no answer: {self.server_errors}; "
                     f"{self.seconds:.1f} s")
        return "\n".join(lines)


def attack(url: str, requests: list[Request], *, clients: int = 16, timeout: float = 30.0) -> AttackReport:
    """Send `requests` from `clients` concurrent clients to the service at `url` (loopback only)."""
    host, port = _check_loopback(url)
    statuses: dict[str, Counter] = {}
    bad_errors: list[str] = []
    lock = threading.Lock()

    def one(request: Request) -> None:
        status, body = _send(host, port, request, timeout)
        with lock:
            statuses.setdefault(request.kind, Counter())[status] += 1
            if (request.raw is None and request.path == "/predict" and request.method not in ("HEAD",)
                    and isinstance(status, int) and 400 <= status < 500 and not _is_error_body(body)):
                bad_errors.append(f"{request.kind}: {status} {body[:80]!r}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, requests))
    return AttackReport(statuses, time.perf_counter() - start, bad_errors)


def _is_error_body(body: bytes) -> bool:
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and isinstance(answer.get("error"), str) and bool(answer["error"])


def predict_probe(url: str, text: str = PROBE, timeout: float = 30.0) -> dict:
    """The service's answer for `text` (to compare before and after an attack)."""
    host, port = _check_loopback(url)
    status, body = _send(host, port, Request("probe", body=_json({"text": text})), timeout)
    if status != 200:
        raise RuntimeError(f"the probe text got {status} {body[:200]!r} instead of an answer")
    return json.loads(body)


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (10^6 bytes), from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS line for process {pid}")


@dataclass
class SoakReport:
    """A steady load: requests answered, their statuses, and the server's memory sampled through it."""

    requests: int
    statuses: Counter
    seconds: float
    memory_mb: list[float]  # one sample per interval, the first after the warm-up

    @property
    def growth_mb(self) -> float:
        return self.memory_mb[-1] - self.memory_mb[0]

    def summary(self) -> str:
        return (f"{self.requests:,} requests in {self.seconds:.0f} s ({self.requests / self.seconds:.0f}/s), "
                f"statuses {dict(self.statuses)}; server memory {self.memory_mb[0]:.0f} MB after warm-up, "
                f"{max(self.memory_mb):.0f} MB at most, {self.memory_mb[-1]:.0f} MB at the end "
                f"({self.growth_mb:+.1f} MB)")


def soak(url: str, pid: int, *, seconds: float = 20.0, clients: int = 4, samples: int = 10,
         warmup: int = 200, seed: int = 0) -> SoakReport:
    """Ordinary requests (single texts and batches of new random texts) from `clients` clients for `seconds`,
    sampling the resident memory of server process `pid` `samples` times."""
    host, port = _check_loopback(url)
    rng = random.Random(seed)

    def ordinary() -> Request:
        if rng.random() < 0.5:
            return Request("soak", body=_json({"text": _text(rng, 200, valid=True) + "x"}))
        return Request("soak", body=_json({"texts": [_text(rng, 200, valid=True) + "x"
                                                     for _ in range(rng.randint(2, 16))]}))

    for _ in range(warmup):
        _send(host, port, ordinary(), 30.0)
    statuses: Counter = Counter()
    memory = [rss_mb(pid)]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() < stop:
            with lock:
                request = ordinary()
            status, _ = _send(host, port, request, 30.0)
            with lock:
                statuses[status] += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for _ in range(samples):
        time.sleep(seconds / samples)
        memory.append(rss_mb(pid))
    for worker in workers:
        worker.join()
    return SoakReport(sum(statuses.values()), statuses, time.perf_counter() - start, memory)


def main(argv: list[str] | None = None) -> int:
    """Start `ftlab serve` on a model folder, attack it, soak it, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with BackgroundServer(args.model_dir) as server:
        before = predict_probe(server.url)
        start_mb = rss_mb(server.process.pid)
        report = attack(server.url, hostile_requests(args.requests, seed=args.seed), clients=args.clients)
        print(report.table())
        print(f"probe answered the same after the attack: {predict_probe(server.url) == before}; server memory "
              f"{start_mb:.0f} MB before, {rss_mb(server.process.pid):.0f} MB after")
        print("soak:", soak(server.url, server.process.pid, seconds=args.soak_seconds, seed=args.seed).summary())
        tracebacks = server.output().count("Traceback")
        print(f"tracebacks in the server's log: {tracebacks}")
    return 0 if report.server_errors == 0 and not report.bad_errors and tracebacks == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
