#!/usr/bin/env bash
# Checks the deployment: the SAM template lints clean (cfn-lint) and passes checkov, it matches
# the code (infra/check_template.py: handlers, triggers, environment variables, IAM actions, the
# table's indexes; plus a self-test proving that check fails on drift), and the one Lambda
# binary every function runs (`leadrouter-lambda`) builds for arm64 with `cargo lambda build
# --release --arm64` (what `sam build` runs), an aarch64 ELF. Prints the package's size.
#
# Installs its tools from PyPI into ./.venv-infra (gitignored): cfn-lint, checkov, cargo-lambda
# (which brings zig, the cross linker), PyYAML. Run from anywhere; tests/run-all.sh calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

venv=.venv-infra
requirements=("cfn-lint>=1,<2" "checkov>=3,<4" "cargo-lambda>=1,<2" "PyYAML>=6,<7")
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/cargo-lambda" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
  step "python tools (.venv-infra: cfn-lint, checkov, cargo-lambda + zig)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
  printf '%s' "${requirements[*]}" >"$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"

step "cfn-lint infra/template.yaml"
cfn-lint infra/template.yaml
echo "cfn-lint: no errors or warnings"

step "checkov -d infra (CloudFormation)"
# --skip-download: no call to the vendor's platform (this machine has no internet); the checks
# themselves ship with the package.
checkov -d infra --framework cloudformation --quiet --compact --skip-download

step "template vs code"
python infra/check_template.py
python infra/check_template.py --self-test

step "cargo lambda build --release --arm64 (the one Lambda package)"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
mapfile -t packages < <(python infra/check_template.py --lambda-packages)
args=()
for p in "${packages[@]}"; do args+=(-p "$p"); done
echo "packages: ${packages[*]}"
start=$SECONDS
cargo lambda build --release --arm64 --locked "${args[@]}"
echo "built in $((SECONDS - start)) s"

step "artifacts"
python infra/lambda_artifacts.py "${packages[@]}"
echo "infra checks: ok"
