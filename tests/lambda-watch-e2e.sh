#!/usr/bin/env bash
# The serverless path in the Lambda emulator, end to end and offline: moto (DynamoDB + SQS),
# `cargo lambda watch` running the real Lambda binary (as ingest, router and sweeper), `cargo
# lambda invoke --data-file` with the committed API Gateway v2 fixture, then with the SQS event built from
# the message ingest sent; the lead must end up with an owner in DynamoDB. Then the function URL's
# events: an admin route refused (403), the same route through the IAM authorizer served, and a
# lead queued and routed; last, a sweep (nothing overdue, nothing waiting). Called by
# tests/run-all.sh; bounded (each step has a timeout) and stops everything it started.
#
# Needs: .venv/bin/moto_server (tests/run-all.sh installs it), cargo-lambda (installed into
# .venv-infra from PyPI if missing, as infra/check.sh does). No network beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> lambda watch e2e: %s\n' "$*"; }

if [ ! -x .venv-infra/bin/cargo-lambda ]; then
  step "installing cargo-lambda into .venv-infra"
  [ -x .venv-infra/bin/pip ] || python3 -m venv .venv-infra
  .venv-infra/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda>=1,<2'
fi
export PATH="$root/.venv-infra/bin:$PATH"
moto_server="${MOTO_SERVER:-$root/.venv/bin/moto_server}"
[ -x "$moto_server" ] || { echo "moto is not installed: run tests/run-all.sh" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port seconds
  for _ in $(seq 1 $(($2 * 10))); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1 after $2 s" >&2
  return 1
}

work=$(mktemp -d)
moto_pid=""
watch_pids=()
cleanup() {
  local status=$?
  if [ "$status" != 0 ]; then
    for log in "$work"/watch-*.log; do
      [ -f "$log" ] || continue
      echo "--- $(basename "$log") (last 60 lines) ---" >&2
      tail -60 "$log" >&2
    done
  fi
  # Each was started in its own session (setsid): stopping the group stops cargo-lambda's
  # builds and function processes too.
  for pid in "${watch_pids[@]}" "$moto_pid"; do
    [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
  done
  sleep 1
  for pid in "${watch_pids[@]}" "$moto_pid"; do
    [ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

step "building the Lambda binary (debug) before the emulator starts"
# Alone, as `cargo lambda watch` builds it (`cargo run --bin NAME`): built together with other
# targets its dependencies' features would unify differently, and the emulator would rebuild it.
timeout 900 cargo build --locked --bin leadrouter-lambda
# `--workspace`: the features of `cargo test --workspace`, whose build this reuses
# (`-p leadrouter-aws` alone would compile the AWS SDK once more with other features).
timeout 900 cargo test --locked --workspace --test lambda_watch_steps --no-run
steps() { # a step of shared/aws/tests/lambda_watch_steps.rs
  MOTO_URL="$moto_url" E2E_DIR="$work" timeout 60 \
    cargo test --locked -q --workspace --test lambda_watch_steps -- --ignored --exact "$@" --nocapture
}

step "moto"
moto_port=$(free_port)
moto_url="http://127.0.0.1:$moto_port"
setsid "$moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
wait_port "$moto_port" 30
steps setup
queue_url=$(cat "$work/queue_url")

cat >"$work/routing.toml" <<'TOML'
[[reps]]
id = "a"
[[reps]]
id = "b"
[[pools]]
id = "p"
members = ["a", "b"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
TOML
cat >"$work/env" <<ENV
AWS_ENDPOINT_URL=$moto_url
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
LEADROUTER_TABLE=leadrouter
LEADROUTER_QUEUE_URL=$queue_url
LEADROUTER_CONFIG=$work/routing.toml
LEADROUTER_LOG=info
# Admin routes are not exercised here; intake is public either way.
LEADROUTER_API_AUTH=gateway
ENV

# One binary serves all four functions, picking one by `_HANDLER` (on Lambda, the function's
# Handler property). An emulator runs one environment, so each function gets its own: the same
# binary, as each function on Lambda gets its own instances.
step "cargo lambda watch: one emulator per function (ingest, router, sweeper)"
declare -A watch_port
watch_pids=()
for handler in ingest router sweeper; do
  { cat "$work/env"; echo "_HANDLER=$handler"; } >"$work/env-$handler"
  watch_port[$handler]=$(free_port)
  setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${watch_port[$handler]}" \
    --env-file "$work/env-$handler" --ignore-changes >"$work/watch-$handler.log" 2>&1 &
  watch_pids+=("$!")
done
for handler in ingest router sweeper; do
  wait_port "${watch_port[$handler]}" 120 || { tail -50 "$work/watch-$handler.log"; exit 1; }
done

invoke() { # handler data-file output
  if ! timeout 300 cargo lambda invoke leadrouter-lambda --invoke-address 127.0.0.1 \
    --invoke-port "${watch_port[$1]}" --data-file "$2" --output-format json >"$3"; then
    echo "invoking $1 failed; emulator log:" >&2
    tail -80 "$work/watch-$1.log" >&2
    exit 1
  fi
}

step "invoke ingest with the API Gateway v2 fixture"
invoke ingest functions/ingest/tests/events/apigw-v2-post-lead.json "$work/ingest.json"
lead_id=$(python3 - "$work/ingest.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
assert out["statusCode"] == 202, out
print(json.loads(out["body"])["id"])
PY
)
echo "ingest answered 202, lead $lead_id"

step "invoke router with the SQS event of the message ingest sent"
steps sqs_event
invoke router "$work/sqs-event.json" "$work/router.json"
python3 - "$work/router.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
assert out.get("batchItemFailures") == [], out
PY

step "the lead has an owner in DynamoDB"
LEAD_ID="$lead_id" steps check

# The function URL (IntakeFunctionUrl=true): its events carry no authorizer context, so with
# LEADROUTER_API_AUTH=gateway an admin route is refused there and served through the API's
# IAM authorizer; a lead posted through it is queued and routed like any other.
step "invoke ingest with function URL events: an admin route (403) and a lead (202)"
invoke ingest functions/ingest/tests/events/function-url-get-leads.json "$work/url-admin.json"
invoke ingest functions/ingest/tests/events/apigw-v2-get-leads-iam.json "$work/iam-admin.json"
invoke ingest functions/ingest/tests/events/function-url-post-lead.json "$work/url-lead.json"
url_lead_id=$(python3 - "$work/url-admin.json" "$work/iam-admin.json" "$work/url-lead.json" <<'PY'
import json, sys
admin, iam, lead = (json.load(open(p)) for p in sys.argv[1:4])
assert admin["statusCode"] == 403, admin
assert json.loads(admin["body"])["error"]["code"] == "forbidden", admin
assert iam["statusCode"] == 200, iam
assert isinstance(json.loads(iam["body"])["leads"], list), iam
assert lead["statusCode"] == 202, lead
print(json.loads(lead["body"])["id"])
PY
)
echo "admin route: 403 through the function URL, 200 through the IAM authorizer; lead $url_lead_id: 202"
steps sqs_event
invoke router "$work/sqs-event.json" "$work/router-url.json"
LEAD_ID="$url_lead_id" steps check

step "invoke sweeper with the schedule fixture"
invoke sweeper functions/sweeper/tests/events/schedule.json "$work/sweeper.json"
python3 - "$work/sweeper.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
# Both leads were routed: nothing is overdue or waiting, and the sweep says so.
assert out == {"breaches": 0, "reassigned": 0, "escalated": 0, "released": 0, "assigned": 0}, out
PY
step "ok"
