#!/usr/bin/env bash
# Runs action.yml through tests/action/run_action.py (a local stand-in for the GitHub runner) and
# checks what the action does with its inputs and what it outputs.
#
# Usage: DR_ACTION_BIN=target/debug/dr-action bash tests/action/test_action.sh
#
# It builds nothing. The `demo` case runs $DR_ACTION_BIN (`dr-action demo --dir D` must write
# status=green and ok=true to $GITHUB_OUTPUT); without DR_ACTION_BIN a stub stands in and the case
# says so. The other cases always use a stub binary that records its arguments and environment:
# they check how action-run.sh builds the command line (no shell evaluation of any input), which
# variables reach the binary, and that failures fail the action.
# Prints "action tests: N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -x "$root/.venv/bin/python" ]; then
  python=$root/.venv/bin/python
else
  python=python3
fi
"$python" -c 'import yaml' 2>/dev/null || {
  echo "PyYAML is missing: run scripts/setup-tools.sh (it creates .venv/)"
  exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dr-action-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0 current_run="" shown_run=""
ok() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$1"
}
not_ok() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$1"
  if [ "$shown_run" != "$current_run" ]; then # the run's logs once, at its first failure
    shown_run=$current_run
    if [ -f "$tmp/stderr" ]; then sed 's/^/     | /' "$tmp/stderr"; fi
    if [ -f "$tmp/outputs.json" ]; then sed 's/^/     > /' "$tmp/outputs.json"; fi
  fi
}
expect() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# --- a stub dr-action ------------------------------------------------------------------------------
stub="$tmp/stub/dr-action"
mkdir -p "$tmp/stub"
cat >"$stub" <<'EOF'
#!/usr/bin/env bash
# Stub dr-action: records argv (one per line) and the variables the real binary reads, then
# writes outputs like the binary does.
set -euo pipefail
if [ "${1:-}" = --version ]; then echo "dr-action 0.0.0-stub"; exit 0; fi
log=${STUB_LOG:?}
: >"$log"
for a in "$@"; do printf 'arg:%s\n' "$a" >>"$log"; done
for v in GITHUB_TOKEN DR_AWS_ROLE_ARN DR_AWS_REGION SLACK_WEBHOOK_URL DR_CHAOS; do
  printf 'env:%s=%s\n' "$v" "$(printenv "$v" || echo '<unset>')" >>"$log"
done
printf 'which:%s\n' "$(command -v dr-action)" >>"$log"
{
  echo "status=green"
  echo "ok=true"
  echo "report=out/dr_dryrun_weekly.json"
  echo "kpi=out/backup_kpi.json"
  echo "badge-changed=false"
  echo "issue-url<<DR_EOF"
  echo "https://github.com/acme/app/issues/1"
  echo "DR_EOF"
} >>"$GITHUB_OUTPUT"
exit "${STUB_EXIT:-0}"
EOF
chmod +x "$stub"

# run_action CASE [run_action.py options...]: outputs in $tmp/outputs.json, logs in $tmp/stderr,
# the stub's record in $tmp/CASE.log; returns run_action.py's exit status.
run_action() {
  local case=$1
  shift
  current_run=$case
  mkdir -p "$tmp/$case-work"
  "$python" "$root/tests/action/run_action.py" --workdir "$tmp/$case-work" \
    --tool-cache "$tmp/$case-cache" --env "STUB_LOG=$tmp/$case.log" "$@" \
    >"$tmp/outputs.json" 2>"$tmp/stderr"
}

output_is() { # NAME EXPECTED
  local got
  got=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "<none>"))' \
    "$tmp/outputs.json" "$1" 2>/dev/null) || return 1
  [ "$got" = "$2" ]
}
args_are() { # CASE ARG... : the stub got exactly these arguments
  local case=$1 want got
  shift
  want=$(printf 'arg:%s\n' "$@")
  got=$(grep '^arg:' "$tmp/$case.log" 2>/dev/null || true)
  [ "$got" = "$want" ]
}
log_line() { [ -f "$tmp/$1.log" ] && grep -qxF -- "$2" "$tmp/$1.log"; }
stderr_has() { grep -q -- "$1" "$tmp/stderr"; }

# --- demo: the real binary when given ------------------------------------------------------------------
if [ -n "${DR_ACTION_BIN:-}" ]; then
  if [ ! -x "$DR_ACTION_BIN" ]; then
    echo "DR_ACTION_BIN=$DR_ACTION_BIN is not an executable file (build it first: cargo build)"
    exit 2
  fi
  demo_bin=$DR_ACTION_BIN
  what="dr-action"
else
  demo_bin=$stub
  what="stub (set DR_ACTION_BIN for the real binary)"
fi
expect "demo with $what: action succeeds" \
  run_action demo --prebuilt-bin "$demo_bin" --input command=demo --input "args=--dir $tmp/demo-work/dr-demo"
expect "demo: output status is green" output_is status green
expect "demo: output ok is true" output_is ok true
expect "demo: the binary came from the tool cache, no download" stderr_has "reusing the verified release"

# --- command line building (stub) -------------------------------------------------------------------
expect "run: action succeeds" run_action cmdline --prebuilt-bin "$stub" \
  --input command=run --input schedule=weekly --input chaos=TRUE --input config=ci/dr.yml \
  --input "args=--target orders-db
  --target  users-db	-v"
expect "run: --config first, then run --schedule weekly --chaos, then args split on whitespace" \
  args_are cmdline --config ci/dr.yml run --schedule weekly --chaos --target orders-db --target users-db -v
expect "run: the cached binary is the one on PATH (GITHUB_PATH)" \
  log_line cmdline "which:$tmp/cmdline-cache/dr-action/v0.0.0-local/$(case "$(uname -m)" in aarch64 | arm64) echo arm64 ;; *) echo x64 ;; esac)/bin/dr-action"
expect "run: multi-line output (heredoc) passes through" output_is issue-url "https://github.com/acme/app/issues/1"
expect "run: every declared output is mapped" output_is badge-changed false

expect "chaos=false adds no --chaos" run_action nochaos --prebuilt-bin "$stub" \
  --input command=check --input schedule=monthly
expect "chaos=false: check --schedule monthly only" args_are nochaos check --schedule monthly

expect "two-word command: policy audit" run_action policy --prebuilt-bin "$stub" --input "command=policy audit"
expect "two-word command: argv is policy audit" args_are policy policy audit

# Inputs are never evaluated by a shell: command substitution, globs and quotes stay literal.
# shellcheck disable=SC2016 # the literal $(...) and backquotes are the point of this test
inject='$(touch pwned) `touch pwned2` ;touch pwned3 * "a b"'
# shellcheck disable=SC2016
expect "hostile args: action succeeds" run_action inject --prebuilt-bin "$stub" \
  --input command=kpi --input "args=$inject" --input 'config=$(touch pwned4)'
# shellcheck disable=SC2016
expect "hostile args: passed literally" args_are inject --config '$(touch pwned4)' kpi \
  '$(touch' 'pwned)' '`touch' 'pwned2`' ';touch' 'pwned3' '*' '"a' 'b"'
expect "hostile args: nothing was executed" \
  test -z "$(find "$tmp" -name 'pwned*' -print -quit)"

# --- environment handed to the binary (stub) -----------------------------------------------------------------
expect "env: action succeeds" run_action env --prebuilt-bin "$stub" \
  --input command=run --input schedule=quarterly \
  --input aws-role-arn=arn:aws:iam::123456789012:role/dr --input slack-webhook-url=https://hooks.invalid/x \
  --env DR_AWS_REGION=eu-west-1 --env DR_CHAOS=yes
expect "env: GITHUB_TOKEN defaults to github.token" log_line env "env:GITHUB_TOKEN=ghs_fake_token_for_tests"
expect "env: aws-role-arn input -> DR_AWS_ROLE_ARN" log_line env "env:DR_AWS_ROLE_ARN=arn:aws:iam::123456789012:role/dr"
expect "env: empty aws-region keeps the workflow's DR_AWS_REGION" log_line env "env:DR_AWS_REGION=eu-west-1"
expect "env: slack-webhook-url input -> SLACK_WEBHOOK_URL" log_line env "env:SLACK_WEBHOOK_URL=https://hooks.invalid/x"
expect "env: the workflow's DR_CHAOS passes through untouched" log_line env "env:DR_CHAOS=yes"
expect "env: github-token input overrides" run_action token --prebuilt-bin "$stub" \
  --input command=plan --input github-token=tok-123
expect "env: GITHUB_TOKEN from the input" log_line token "env:GITHUB_TOKEN=tok-123"

# --- uses: ./ (no ref, no release): install.sh builds from the action's source ----------------------
cargo_stub="$tmp/stub/cargo"
cat >"$cargo_stub" <<'EOF'
#!/usr/bin/env bash
# Stub cargo: records its arguments and "installs" the stub dr-action into --root.
set -euo pipefail
printf '%s\n' "$*" >"$STUB_CARGO_LOG"
while [ "$1" != --root ]; do shift; done
mkdir -p "$2/bin"
cp "$STUB_BIN" "$2/bin/dr-action"
EOF
chmod +x "$cargo_stub"
expect "local action: action succeeds" run_action local --action-ref "" \
  --env "DR_CARGO=$cargo_stub" --env "STUB_CARGO_LOG=$tmp/cargo.log" --env "STUB_BIN=$stub" \
  --input command=run --input schedule=weekly
expect "local action: built with cargo install --locked --path <action dir>" \
  grep -q -- "^install --locked --path $root --root " "$tmp/cargo.log"
expect "local action: the built binary ran" args_are local run --schedule weekly

# --- failures fail the action ------------------------------------------------------------------------
if run_action noschedule --prebuilt-bin "$stub" --input command=run; then
  not_ok "run without schedule: action fails"
else
  ok "run without schedule: action fails"
fi
expect "run without schedule: error annotation names the input" stderr_has "::error title=dr-action::input 'schedule' is required"
expect "run without schedule: the binary never ran" test ! -s "$tmp/noschedule.log"

if run_action unknown --prebuilt-bin "$stub" --input "command=rm -rf /"; then
  not_ok "unknown command: action fails"
else
  ok "unknown command: action fails"
fi
expect "unknown command: says which" stderr_has "unknown command 'rm'"

if run_action exit1 --prebuilt-bin "$stub" --input command=run --input schedule=weekly --env STUB_EXIT=1; then
  not_ok "binary exit 1: action fails"
else
  ok "binary exit 1: action fails"
fi
expect "binary exit 1: outputs written before the failure are still mapped" output_is ok true

printf 'action tests: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
