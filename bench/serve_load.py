"""Benchmark: `gankit serve` under load on loopback: no HTTP 500, flat memory.

Trains two tiny runs (a digits GAN and a digits recogniser) into --work, serves them with
uvicorn in this process, and sends --requests mixed requests from --clients threads, each on
its own keep-alive connection: pages, listings, reports, sample and attack jobs and their
polls, and bad requests (unknown runs, escapes, out-of-range numbers, foreign Origin). The
job store's limit (gankit.serve.app.MAX_KEPT_JOBS) is passed about halfway through; the
process's resident memory is read after every tenth of the requests.

    python bench/serve_load.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, command_line, commit, machine, publish

from gankit.cli import main as gankit
from gankit.serve import app as serve_app

# (method, path, form): the cycle each client walks, from a different start
MIX: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/", None),
    ("GET", "/api/runs", None),
    ("GET", "/api/report?run=gan", None),
    ("POST", "/api/sample", {"run": "gan", "n": 4}),
    ("POST", "/api/attack", {"run": "clf", "method": "fgsm", "index": 3}),
    ("POLL", "", None),
    ("POST", "/api/sample", {"run": "nowhere"}),
    ("POST", "/api/sample", {"run": "../../etc"}),
    ("POST", "/api/sample", {"run": "gan", "n": 100_000}),
    ("GET", "/api/report?run=.", None),
    ("POST", "/api/sample", {"run": "gan", "n": 2, "origin": "http://evil.example"}),
    ("POST", "/api/sample", {"run": "gan", "n": 2}),
]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_runs(work: Path) -> Path:
    runs = work / "runs"
    if not (runs / "gan" / "run.json").is_file():
        assert gankit(["train", "--data", "digits", "--width", "8", "--steps", "20",
                       "--out", str(runs / "gan"), "--no-progress"]) == 0
    if not (runs / "clf" / "run.json").is_file():
        assert gankit(["classify", "train", "--data", "digits", "--width", "4", "--steps",
                       "50", "--out", str(runs / "clf"), "--no-progress"]) == 0
    return runs


def client(port: int, start: int, count: int, statuses: Counter, lock: threading.Lock,
           done: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    last_job: str | None = None
    for i in range(count):
        method, path, form = MIX[(start + i) % len(MIX)]
        headers = {"Host": f"127.0.0.1:{port}"}
        body = None
        if method == "POLL":
            if last_job is None:
                continue
            method, path = "GET", f"/api/jobs/{last_job}"
        elif form is not None:
            form = dict(form)
            if "origin" in form:
                headers["Origin"] = form.pop("origin")
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if path.startswith("/api/s") or path.startswith("/api/a"):
            if response.status == 200:
                last_job = json.loads(payload)["id"]
        with lock:
            statuses[response.status] += 1
            done[0] += 1
    conn.close()


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "serve-load")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.json")
    args = parser.parse_args(argv)
    runs = make_runs(args.work)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve_app.create_app(runs)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    statuses: Counter = Counter()
    lock, done = threading.Lock(), [0]
    share = args.requests // args.clients
    started = time.monotonic()
    memory = [(0, round(rss_mb(), 1))]
    clients = [threading.Thread(target=client, args=(port, k, share, statuses, lock, done))
               for k in range(args.clients)]
    for c in clients:
        c.start()
    tenth = max(1, args.requests // 10)
    while any(c.is_alive() for c in clients):
        time.sleep(0.2)
        if done[0] >= memory[-1][0] + tenth:
            memory.append((done[0], round(rss_mb(), 1)))
    memory.append((done[0], round(rss_mb(), 1)))
    seconds = time.monotonic() - started
    server.should_exit = True
    thread.join(timeout=10)
    app.state.shutdown(wait=False, cancel_futures=True)
    half = [m for n, m in memory if n >= done[0] // 2]
    headline = {"requests": done[0], "clients": args.clients,
                "http_5xx": sum(v for k, v in statuses.items() if k >= 500 and k != 503),
                "http_503_busy": statuses.get(503, 0),
                "status_counts": {str(k): v for k, v in sorted(statuses.items())},
                "rss_mb_start": memory[0][1], "rss_mb_end": memory[-1][1],
                "rss_mb_growth_second_half": round(max(half) - min(half), 1),
                "max_kept_jobs": serve_app.MAX_KEPT_JOBS, "seconds": round(seconds, 1)}
    result = {"benchmark": "serve_load", "machine": machine(),
              "command": command_line("serve_load.py", argv), "commit": commit(),
              "memory_by_requests": memory, "headline": headline}
    m = result["machine"]
    table = "\n".join([
        "## Web app under load (loopback)", "",
        f"{m['cpu']} ({m['cores']} cores), commit {result['commit']}, `{result['command']}`: "
        f"{headline['requests']} mixed requests (pages, reports, sample and attack jobs and "
        f"their polls, bad requests) from {args.clients} keep-alive clients in "
        f"{headline['seconds']} s.", "",
        "| responses by status | HTTP 5xx (not 503) | 503 (queue full) | resident MB: start "
        "→ end | growth over the second half |",
        "|---|---|---|---|---|",
        f"| {', '.join(f'{k}: {v}' for k, v in headline['status_counts'].items())} | "
        f"{headline['http_5xx']} | {headline['http_503_busy']} | {headline['rss_mb_start']} → "
        f"{headline['rss_mb_end']} | {headline['rss_mb_growth_second_half']} MB |", ""])
    publish("serve-load", result, args.out, table)
    print(json.dumps(headline, indent=2))
    return 0 if headline["http_5xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
