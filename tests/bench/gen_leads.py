#!/usr/bin/env python3
"""Writes N synthetic leads as CSV for `leadrouter simulate` benchmarks (deterministic, seed 7).

Usage: python3 tests/bench/gen_leads.py 1000000 > /tmp/leads-1m.csv

Columns: received_at (one lead every ~40 s from 2026-01-05, so a million leads span ~15 months of
working hours and weekends), email (unique), country, seats, company, job_title. No real people.
"""
import random
import sys
from datetime import datetime, timedelta, timezone

COUNTRIES = ["US", "US", "US", "DE", "GB", "FR", "CA", "JP", "BR", "IN", "AU", "NL", "ES", "MX"]
TITLES = ["Founder", "Engineer", "VP Sales", "CTO", "Marketing Manager", "Student", "Head of Ops"]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(7)
    t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    out = sys.stdout
    out.write("received_at,email,country,seats,company,job_title\n")
    for i in range(n):
        t += timedelta(seconds=rng.randint(1, 80))
        out.write(
            f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},p{i}@co{rng.randint(0, 200000)}.com,"
            f"{rng.choice(COUNTRIES)},{rng.choice([5, 20, 50, 120, 600, 1000, 5000])},"
            f"Co{i},{rng.choice(TITLES)}\n"
        )


if __name__ == "__main__":
    main()
