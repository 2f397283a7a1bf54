#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ (cargo-fuzz) for a bounded time each: every source
# adapter, the form decoder, the JSON API body and the config loader (docs/reliability.md#fuzzing).
#
#   tests/fuzz.sh                          # FUZZ_SECONDS (default 10) per target
#   FUZZ_SECONDS=600 tests/fuzz.sh         # a longer run
#   FUZZ_TARGETS="config form" tests/fuzz.sh
#
# libFuzzer needs nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# No sanitizer (`-s none`): the crates forbid unsafe code, so AddressSanitizer would find
# nothing the panics do not; debug assertions and overflow checks are on (`-a`).
# Skips, saying so, only if cargo-fuzz is missing and cannot be installed. A crash fails the
# run; its input is in fuzz/artifacts/<target>/ (reproduce: see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds="${FUZZ_SECONDS:-10}"
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/fuzz}"
export RUSTC_BOOTSTRAP=1

printf '\n==> fuzz (%ss per target)\n' "$seconds"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)"
  if ! cargo install cargo-fuzz --locked >/dev/null 2>&1; then
    echo "SKIPPED: fuzzing (cargo-fuzz could not be installed; no crates.io access?)"
    exit 0
  fi
fi

cd fuzz
flags=(-s none -a --target-dir "$target_dir")
cargo fuzz build "${flags[@]}"

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
failed=0
printf '%-20s %12s %10s %8s  %s\n' target execs exec/s corpus result
for t in $targets; do
  corpus="$target_dir/corpus/$t"   # grows across runs; the committed seeds stay read-only
  mkdir -p "$corpus"
  log="$target_dir/fuzz-$t.log"
  result=ok
  if ! cargo fuzz run "${flags[@]}" "$t" "$corpus" "seeds/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 >"$log" 2>&1; then
    result="CRASH (see $log and fuzz/artifacts/$t/)"
    failed=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  size=$(find "$corpus" -type f | wc -l)
  printf '%-20s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$size" "$result"
done
if [ "$failed" != 0 ]; then
  echo "fuzzing found a crash"
  exit 1
fi
