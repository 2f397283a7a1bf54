#!/usr/bin/env python3
"""Log bytes per lead of the ingest and router functions, at the deployed log level.

Usage: log_volume.py BINARY INGEST_EVENT ROUTER_EVENT LEADS
  BINARY: the release build of leadrouter-lambda, run as each function (`_HANDLER`).
  The environment (LEADROUTER_*, AWS_* pointing at moto, as for coldstart.py) is passed through;
  LEADROUTER_LOG is set to `info`, the template's default `LogLevel`.

Runs each function once against coldstart.py's local Runtime API and writes its stdout (the JSON
log lines CloudWatch Logs would ingest) to a file:
  - ingest: LEADS distinct leads, one API Gateway v2 event each (the fixture's body with another
    email, without its Idempotency-Key), as API Gateway invokes it: one invocation a lead;
  - router: the same number of distinct leads in SQS batches of 10 (the template's batch size),
    the fixture's record shape with fresh lead ids.
Prints one JSON line per function: the bytes written during init, and the bytes and lines per
lead after it. Lambda's own START/END/REPORT lines and the API's access log are not in a
binary's output; docs/deploy.md adds them from their published formats.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coldstart import Runtime, lambda_env, raise_on_invocation_error, start_runtime  # noqa: E402

BATCH = 10


def ingest_events(fixture: dict, leads: int) -> list:
    events = []
    for i in range(leads):
        e = copy.deepcopy(fixture)
        e["headers"].pop("idempotency-key", None)
        body = json.loads(e["body"])
        body["email"] = f"lead{i}@example.com"
        e["body"] = json.dumps(body)
        e["requestContext"]["requestId"] = str(uuid.uuid4())
        events.append(e)
    return events


def router_events(fixture: dict, leads: int) -> list:
    template = fixture["Records"][0]
    events = []
    for start in range(0, leads, BATCH):
        records = []
        for i in range(start, min(start + BATCH, leads)):
            r = copy.deepcopy(template)
            body = json.loads(r["body"])
            body["id"] = str(uuid.uuid7()) if hasattr(uuid, "uuid7") else str(uuid.uuid4())
            body["email"] = f"routed{i}@example.com"
            r["body"] = json.dumps(body)
            r["messageId"] = str(uuid.uuid4())
            records.append(r)
        events.append({"Records": records})
    return events


def measure(binary: str, handler: str, events: list, leads: int, port: int) -> dict:
    Runtime.events = list(events)
    env = lambda_env(handler, port)
    env["LEADROUTER_LOG"] = "info"
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([binary], env=env, stdout=out, stderr=subprocess.STDOUT)
        # Init ends at the first poll for an event; what was written by then is init's.
        init_bytes = None
        while init_bytes is None and proc.poll() is None:
            if any(k == "next" for k, *_ in Runtime.log):
                init_bytes = os.fstat(out.fileno()).st_size
            else:
                threading.Event().wait(0.005)
        ok = Runtime.done.wait(120)
        proc.kill()
        proc.wait()
        out.seek(0)
        text = out.read()
    if not ok or init_bytes is None:
        raise SystemExit(f"{handler}: did not finish its events:\n{text[-2000:].decode(errors='replace')}")
    raise_on_invocation_error(handler)
    after = text[init_bytes:]
    lines = [line for line in after.splitlines() if line.strip()]
    return {
        "function": handler,
        "leads": leads,
        "invocations": len(events),
        "init_bytes": init_bytes,
        "bytes_per_lead": round(len(after) / leads, 1),
        "lines_per_lead": round(len(lines) / leads, 2),
    }


def main() -> None:
    binary, ingest_fixture, router_fixture, leads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    port, server = start_runtime()
    with open(ingest_fixture) as f:
        ingest = ingest_events(json.load(f), leads)
    with open(router_fixture) as f:
        router = router_events(json.load(f), leads)
    for handler, events in (("ingest", ingest), ("router", router)):
        print(json.dumps(measure(binary, handler, events, leads, port)), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
