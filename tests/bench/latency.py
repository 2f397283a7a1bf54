#!/usr/bin/env python3
"""Reads a `leadrouter serve` data dir's SQLite file and prints received-to-assigned latency.

Usage: latency.py DB [--wait N] [--since MICROS]
Waits (up to --wait seconds) until the intake queue is empty and no lead is still undecided, then prints one
JSON line: leads, routed (has assigned_at), p50/p90/p99/max received->assigned in ms, and
routed_per_s = routed / (last assigned_at - first received_at).
"""
import json
import sqlite3
import sys
import time
from datetime import datetime


def micros(ts: str) -> int:
    # RFC 3339 with up to nanoseconds and Z.
    ts = ts.rstrip("Z")
    if "." in ts:
        head, frac = ts.split(".")
        frac = (frac + "000000")[:6]
    else:
        head, frac = ts, "000000"
    dt = datetime.fromisoformat(head + "+00:00")
    return int(dt.timestamp()) * 1_000_000 + int(frac)


def main() -> None:
    db = sys.argv[1]
    wait = float(sys.argv[sys.argv.index("--wait") + 1]) if "--wait" in sys.argv else 60.0
    since = int(sys.argv[sys.argv.index("--since") + 1]) if "--since" in sys.argv else 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    deadline = time.time() + wait
    while True:
        # Ingest only enqueues: a lead reaches `leads` when a router worker takes it off the
        # embedded queue. Done when the queue is empty and no stored lead is still undecided.
        pending = con.execute("SELECT count(*) FROM queue_messages").fetchone()[0] + con.execute(
            "SELECT count(*) FROM leads WHERE received_at >= ? AND status IN ('received', 'queued')",
            (since,),
        ).fetchone()[0]
        if pending == 0 or time.time() > deadline:
            break
        time.sleep(0.5)
    rows = con.execute(
        "SELECT received_at, json_extract(body, '$.assigned_at') FROM leads WHERE received_at >= ?",
        (since,),
    ).fetchall()
    lat = sorted((micros(a) - r) / 1000.0 for r, a in rows if a)
    first = min((r for r, _ in rows), default=0)
    last = max((micros(a) for _, a in rows if a), default=0)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else 0.0

    span = (last - first) / 1e6 if last > first else 0.0
    print(json.dumps({
        "leads": len(rows), "routed": len(lat), "pending": pending,
        "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": round(lat[-1], 2) if lat else 0.0,
        "routed_per_s": round(len(lat) / span, 1) if span else 0.0,
    }))


if __name__ == "__main__":
    main()
