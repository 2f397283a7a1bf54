#!/usr/bin/env python3
"""Checks and sizes the arm64 Lambda packages that `cargo lambda build --release --arm64` wrote.

Usage: lambda_artifacts.py [--jsonl FILE] PACKAGE...

For each package, `<target dir>/lambda/<package>/bootstrap` must be a 64-bit little-endian
aarch64 ELF (what `provided.al2023` on arm64 runs). Prints its size and its size zipped with
deflate (what Lambda's package limit and cold-start download see); with --jsonl, also appends
one JSON line per package to FILE (tests/bench.sh turns them into a table). Exits 1 if any
package is missing or not an aarch64 ELF. Called by infra/check.sh and tests/bench.sh.
"""
import io
import json
import os
import struct
import sys
import zipfile
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    jsonl = None
    if args[:1] == ["--jsonl"]:
        jsonl, args = Path(args[1]), args[2:]
    failed = False
    print(f"{'function':<22} {'bootstrap':>12} {'zipped':>12}")
    for package in args:
        # cargo lambda writes under the cargo target dir, which CARGO_TARGET_DIR may move.
        path = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "lambda" / package / "bootstrap"
        if not path.is_file():
            print(f"{package}: missing {path}")
            failed = True
            continue
        data = path.read_bytes()
        # ELF header: magic, class 2 (64-bit), data 1 (little endian), e_machine at offset 18.
        machine = struct.unpack_from("<H", data, 18)[0] if len(data) > 20 else None
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1 or machine != 0xB7:
            print(f"{package}: {path} is not a 64-bit little-endian aarch64 ELF (e_machine={machine})")
            failed = True
            continue
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bootstrap", data)
        size, zipped = len(data) / 2**20, len(buf.getvalue()) / 2**20
        print(f"{package:<22} {size:>9.2f} MiB {zipped:>8.2f} MiB  (aarch64 ELF)")
        if jsonl:
            with jsonl.open("a") as f:
                f.write(json.dumps({"function": package, "bootstrap_mib": round(size, 2),
                                    "zipped_mib": round(zipped, 2)}) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
