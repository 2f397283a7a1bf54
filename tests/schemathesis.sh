#!/usr/bin/env bash
# Property-based HTTP testing of the whole API with schemathesis (PyPI), driven by
# docs/openapi.json as served at /v1/openapi.json:
#
#   - installs schemathesis into ./.venv (next to moto) if it is missing;
#   - builds the debug `leadrouter` binary and starts `leadrouter serve` on a free loopback port
#     with a temporary data directory and a random API token, running the demo config plus two
#     unsigned webhook sources (`typeform`, `zapier`), so generated payloads reach the adapters
#     (signatures have their own tests);
#   - runs schemathesis's examples, coverage and fuzzing phases with a bounded budget (at most
#     SCHEMATHESIS_MAX_EXAMPLES cases per operation, SCHEMATHESIS_MAX_TIME seconds in all), sending
#     the token, with the checks `not_a_server_error` (no 5xx, whatever the input) and
#     `response_schema_conformance` (every answer matches the document);
#   - fails if the server's log contains "panicked" (a panic caught by the panic layer still
#     answers, so only the log shows it).
#
# Called by tests/run-all.sh; runnable alone. schemathesis's output is kept in
# $CARGO_TARGET_DIR/schemathesis.log (default target/). Exit status is schemathesis's, or 1 on a
# panic.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
max_time="${SCHEMATHESIS_MAX_TIME:-150}"
target="${CARGO_TARGET_DIR:-$root/target}"

if [ ! -x .venv/bin/schemathesis ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

# `--bin`, as tests/lambda-watch-e2e.sh builds the functions: the same dependency features, so
# after it nothing but this binary is compiled (`-p leadrouter` would rebuild the AWS SDK).
cargo build --quiet --locked --bin leadrouter
bin="$target/debug/leadrouter"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="st-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
base="http://127.0.0.1:$port"
log="$work/serve.log"

config="$work/routing.toml"
cat functions/leadrouter/demo.toml - >"$config" <<'TOML'

[sources.typeform]
auth = { scheme = "none" }

[sources.zapier]
auth = { scheme = "none" }
TOML

LEADROUTER_API_TOKENS="$token" LEADROUTER_LOG=info \
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --config "$config" \
  --workers 2 >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  if python3 -c "import urllib.request, sys; urllib.request.urlopen('$base/v1/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "leadrouter serve exited:"; cat "$log"; exit 1; }
  sleep 0.1
done

out="$work/schemathesis.out"
set +e
# Run from the temporary directory: schemathesis keeps state (.schemathesis/) in its cwd.
(cd "$work" && "$root/.venv/bin/schemathesis" run "$base/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --seed 20261123 \
  --generation-database none \
  --request-timeout 10 \
  --workers 1 \
  --no-color) 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e

mkdir -p "$target"
cp "$out" "$target/schemathesis.log"
if grep -q "panicked" "$log"; then
  echo "FAIL: the server log shows a panic:"
  grep -n -B2 -A5 "panicked" "$log" | head -40
  exit 1
fi
# The figures docs/reliability.md quotes: test cases generated, and how the server answered.
summary=$(grep -A1 "^Test cases:" "$out" | tail -1 | xargs)
echo "schemathesis: status $status; $summary; server log: $(wc -l <"$log") lines, no panic"
exit "$status"
