#!/usr/bin/env python3
"""Cold start and footprint of the Lambda functions, through a local Lambda Runtime API.

Usage: coldstart.py BINARY EVENTS_JSON_MAP RUNS
  BINARY: the release build of leadrouter-lambda, the one binary of every function.
  EVENTS_JSON_MAP: {"<handler>": ["<event file>", <events a run>], ...}, a handler being
  ingest, router, sweeper or notifier.
  The environment (LEADROUTER_*, AWS_*) is passed through to the functions.

For each function and run: starts the binary with `_HANDLER` set to the function's handler (as
Lambda does from the function's Handler property) and AWS_LAMBDA_RUNTIME_API pointing at this
process's runtime API, and measures
  - ready_ms: from spawn to its first `GET /runtime/invocation/next` (init done: config read,
    clients built; what Lambda bills as Init Duration, minus the sandbox's own start),
  - first_ms: the first event's handling (next -> response),
  - peak RSS (VmHWM from /proc) after handling the run's events.
Prints one JSON line per function with min/median/max over the runs.
"""
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

NEXT = "/2018-06-01/runtime/invocation/next"


class Runtime(http.server.BaseHTTPRequestHandler):
    # Set per run by the harness.
    events: list = []
    log: list = []
    done = threading.Event()

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        now = time.monotonic()
        if self.path != NEXT:
            self.send_error(404)
            return
        Runtime.log.append(("next", now))
        if not Runtime.events:
            Runtime.done.set()
            # Hold the long poll like Lambda does between invocations; the harness kills us.
            time.sleep(30)
            return
        body = json.dumps(Runtime.events.pop(0)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(n)
        kind = "error" if self.path.endswith("/error") else "response"
        Runtime.log.append((kind, time.monotonic(), payload[:300]))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def lambda_env(handler: str, port: int) -> dict:
    """This process's environment plus what Lambda sets for a function: its handler, the runtime
    API at `port` (serving the events queued in `Runtime.events`), the function's name and
    memory."""
    Runtime.log = []
    Runtime.done = threading.Event()
    env = dict(os.environ)
    env.update({
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": f"leadrouter-{handler}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    })
    return env


def start_runtime() -> tuple[int, http.server.ThreadingHTTPServer]:
    """The local Runtime API, serving in a thread: its port and server (to shut down)."""
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return port, server


def raise_on_invocation_error(handler: str) -> None:
    """Stops the run if the function answered any event of this run with an error."""
    errors = [rest[0] for k, _, *rest in Runtime.log if k == "error"]
    if errors:
        raise SystemExit(f"{handler}: invocation error: {errors[0]!r}")


def run_once(binary: str, handler: str, events: list, port: int) -> dict:
    Runtime.events = list(events)
    env = lambda_env(handler, port)
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = Runtime.done.wait(60)
    rss = peak_rss_kib(proc.pid) if proc.poll() is None else 0
    proc.kill()
    _, err = proc.communicate()
    if not ok:
        raise SystemExit(f"{handler}: never finished its events; stderr:\n{err.decode(errors='replace')[-2000:]}")
    nexts = [t for k, t, *_ in Runtime.log if k == "next"]
    answers = [t for k, t, *_ in Runtime.log if k != "next"]
    raise_on_invocation_error(handler)
    return {
        "ready_ms": (nexts[0] - start) * 1000,
        "first_ms": (answers[0] - nexts[0]) * 1000 if answers else 0.0,
        "rss_kib": rss,
    }


def main() -> None:
    binary, event_map, runs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    port, server = start_runtime()
    for name, (event_file, repeat) in event_map.items():
        with open(event_file) as f:
            event = json.load(f)
        results = [run_once(binary, name, [event] * repeat, port) for _ in range(runs)]

        def stats(key: str) -> dict:
            xs = [r[key] for r in results]
            return {"min": round(min(xs), 2), "median": round(statistics.median(xs), 2), "max": round(max(xs), 2)}

        print(json.dumps({
            "function": name, "runs": runs, "events_per_run": repeat,
            "ready_ms": stats("ready_ms"), "first_event_ms": stats("first_ms"),
            "peak_rss_mib": round(max(r["rss_kib"] for r in results) / 1024, 1),
            "binary_mib": round(os.path.getsize(binary) / 2**20, 2),
        }), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
