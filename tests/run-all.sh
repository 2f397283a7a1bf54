#!/usr/bin/env bash
# leadrouter's whole test suite, on a fresh machine: installs what the tests need, then runs
# formatting, lints and every test. `.ci/run` calls exactly this.
#
# Needs: a Rust toolchain (cargo), python3 with venv/pip. Installs into ./.venv (gitignored):
# moto's server, the AWS-compatible endpoint the DynamoDB/SQS tests talk to with the real SDK.
# As root with apt: Debian chromium + chromium-driver for the dashboard test (functions/leadrouter/tests/dashboard.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*"; }

# A one-shot run gains nothing from incremental caches, and they cost gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
target="${CARGO_TARGET_DIR:-$root/target}"

# CI's disk is small: a run that kept every step's build products peaked at 8.6 GB and once ran
# out of space. Each step's products are deleted as soon as no later step needs them (peak
# 3.4 GB, docs/reliability.md#the-test-suites-disk); KEEP_BUILDS=1 keeps them for a faster
# second run. Every later step builds with the same feature sets as an earlier one (`--workspace`
# for tests, `--bin` for binaries), so nothing is compiled twice.
prune() {
  [ "${KEEP_BUILDS:-0}" = 1 ] && return 0
  rm -rf "$@"
  printf 'pruned %s (target/ now %s)\n' "${*#"$target/"}" "$(du -sh "$target" 2>/dev/null | cut -f1)"
}

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "python tools (.venv: moto server)"
if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi
export MOTO_SERVER="$root/.venv/bin/moto_server"

# Tests start their own moto servers on free loopback ports; make sure none outlives the run.
cleanup() {
  pkill -f "$root/.venv/bin/moto_server" 2>/dev/null || true
  pkill -f "moto_harness.py 127.0.0.1" 2>/dev/null || true
}
trap cleanup EXIT

step "browser for the dashboard test (Debian chromium + chromium-driver)"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "chromium/chromedriver missing and not root with apt: the dashboard test will skip"
  fi
fi
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  export LEADROUTER_REQUIRE_BROWSER=1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
# In its own directory: clippy's check-mode metadata (~0.5 GB) is never reused by a build.
cargo clippy --workspace --all-targets --locked --target-dir "$target/clippy" -- -D warnings
prune "$target/clippy"

step "cargo test"
cargo test --workspace --locked --no-fail-fast
# The test executables (~2.5 GB; not the proc-macro `.so`s, which everything would be rebuilt
# after): the later steps link the few they run again.
[ "${KEEP_BUILDS:-0}" = 1 ] || find "$target/debug" "$target/debug/deps" -maxdepth 1 -type f -perm -u+x ! -name "*.*" -delete
prune "$target/debug/examples"
# Bounded runs sized to CI's budget (2 cores, the whole command well under 30 minutes); the
# longer documented runs: FUZZ_SECONDS=600 tests/fuzz.sh, SCHEMATHESIS_MAX_TIME=600 tests/schemathesis.sh.
export FUZZ_SECONDS="${FUZZ_SECONDS:-3}" SCHEMATHESIS_MAX_TIME="${SCHEMATHESIS_MAX_TIME:-60}"
bash tests/fuzz.sh; bash tests/audit.sh   # bounded fuzzing, dependency audit (docs/reliability.md)
prune "$target/fuzz/release" "$target/fuzz/x86_64-unknown-linux-gnu"   # the corpus stays
# Crashes at the engine's failpoints, on moto (docs/reliability.md). `--workspace` keeps the
# dependencies' features those of the test run above; `-p leadrouter-router` alone would
# rebuild the AWS SDK with other features.
cargo test --workspace --locked --features leadrouter-router/failpoints --test failpoints
bash tests/lambda-watch-e2e.sh   # ingest and router in `cargo lambda watch` against moto (docs/reliability.md)
bash tests/schemathesis.sh   # schemathesis against a live `serve`, driven by docs/openapi.json (docs/reliability.md#http-abuse)
prune "$target/debug"   # the arm64 release build below shares nothing with it

step "infra checks"
bash infra/check.sh
