#!/usr/bin/env bash
# Tests scripts/install.sh against a fake GitHub release served by `python3 -m http.server` on
# loopback: good checksum, bad checksum, asset missing from the checksum file, missing asset
# (cargo fallback through a stub), cache reuse (exact and moving versions, a tampered cache) and a
# local action with no version.
#
# Usage: bash tests/install/run.sh        (needs bash, python3, curl, tar, sha256sum or shasum)
# Prints "install tests: N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
install_sh="$root/scripts/install.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dr-install-test.XXXXXX")
server_pid=""

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
ok() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$1"
}
not_ok() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$1"
  if [ -f "$tmp/last.log" ]; then
    sed 's/^/     | /' "$tmp/last.log"
  fi
}
expect() { # DESCRIPTION COMMAND... : passes when the command succeeds
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 arch_dir=x64 ;;
  aarch64 | arm64) arch=aarch64 arch_dir=arm64 ;;
  *)
    echo "unsupported machine $(uname -m)"
    exit 1
    ;;
esac
case "$(uname -s)" in
  Linux) target="$arch-unknown-linux-gnu" ;;
  Darwin) target="$arch-apple-darwin" ;;
esac
asset="dr-action-$target.tar.gz"

# --- the fake release -----------------------------------------------------------------------------
www="$tmp/www"
mkdir -p "$www"

# make_release VERSION BUILD_LABEL [SUMS_MODE]: SUMS_MODE good | bad | unlisted | no-asset | none
make_release() {
  local version=$1 label=$2 mode=${3:-good} dir="$www/$1" pkg="$tmp/pkg-$1"
  rm -rf "$dir" "$pkg"
  mkdir -p "$dir" "$pkg"
  printf '#!/bin/sh\necho "dr-action %s"\n' "$label" >"$pkg/dr-action"
  chmod +x "$pkg/dr-action"
  tar -czf "$dir/$asset" -C "$pkg" dr-action
  case "$mode" in
    good) printf '%s  %s\n' "$(sha256 "$dir/$asset")" "$asset" >"$dir/dr-action-sha256sums.txt" ;;
    bad) printf '%064d  %s\n' 0 "$asset" >"$dir/dr-action-sha256sums.txt" ;;
    unlisted) printf '%s  %s\n' "$(sha256 "$dir/$asset")" "dr-action-other-target.tar.gz" >"$dir/dr-action-sha256sums.txt" ;;
    no-asset)
      printf '%s  %s\n' "$(sha256 "$dir/$asset")" "$asset" >"$dir/dr-action-sha256sums.txt"
      rm "$dir/$asset"
      ;;
    none) rm "$dir/$asset" ;;
  esac
}

# A stand-in for the action's checkout (install.sh builds from it) and a cargo stub that records
# its arguments and "builds" a binary into --root.
action_path="$tmp/action"
mkdir -p "$action_path/src"
printf '[package]\nname = "dr-action"\n' >"$action_path/Cargo.toml"
printf 'fn main() {}\n' >"$action_path/src/main.rs"

cargo_stub="$tmp/cargo-stub"
cat >"$cargo_stub" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"$DR_TEST_CARGO_LOG"
root=""
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root=$2; fi
  shift
done
mkdir -p "$root/bin"
printf '#!/bin/sh\necho "dr-action built-from-source"\n' >"$root/bin/dr-action"
chmod +x "$root/bin/dr-action"
EOF
chmod +x "$cargo_stub"

# --- the server -----------------------------------------------------------------------------------
# Port 0: the OS picks a free port and http.server prints it, so there is no race for a port.
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$www" >"$tmp/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$tmp/server.log" | head -n1)
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "the test HTTP server did not start:"
  cat "$tmp/server.log"
  exit 1
fi
base_url="http://127.0.0.1:$port"

# --- running install.sh ---------------------------------------------------------------------------
# run_install CASE VERSION [VAR=VALUE...]: a clean environment like a runner's, a fresh GITHUB_PATH
# and RUNNER_TEMP per call; the tool cache is per case ($tmp/CASE/cache) so a case can run twice.
run_install() {
  local case=$1 version=$2
  shift 2
  mkdir -p "$tmp/$case/cache"
  rm -rf "$tmp/$case/runner-temp"
  mkdir -p "$tmp/$case/runner-temp"
  : >"$tmp/$case/github_path"
  env -i PATH="$PATH" HOME="$HOME" \
    GITHUB_ACTION_PATH="$action_path" GITHUB_PATH="$tmp/$case/github_path" \
    RUNNER_TOOL_CACHE="$tmp/$case/cache" RUNNER_TEMP="$tmp/$case/runner-temp" \
    GITHUB_SERVER_URL="https://github.invalid" GITHUB_ACTION_REPOSITORY="" GITHUB_ACTION_REF="" \
    DR_RELEASE_BASE_URL="$base_url" DR_VERSION="$version" \
    DR_CARGO="$cargo_stub" DR_TEST_CARGO_LOG="$tmp/$case/cargo.log" \
    ${1+"$@"} bash "$install_sh" >"$tmp/last.log" 2>&1
}

cache_bin() { printf '%s/%s/cache/dr-action/%s/%s/bin/dr-action' "$tmp" "$1" "$2" "$arch_dir"; }

on_path_and_runs() { # CASE EXPECTED_OUTPUT: the bin dir is in GITHUB_PATH and dr-action runs from it
  local dir out
  dir=$(head -n1 "$tmp/$1/github_path")
  [ -n "$dir" ] || return 1
  out=$(PATH="$dir:$PATH" dr-action --version) || return 1
  [ "$out" = "$2" ]
}

log_has() { grep -q -- "$1" "$tmp/last.log"; }
no_download_left() { [ -z "$(find "$tmp/$1/runner-temp" -name '*.tar.gz' 2>/dev/null)" ]; }
not_installed() { [ ! -e "$(cache_bin "$1" "$2")" ] && [ ! -s "$tmp/$1/github_path" ]; }
cargo_calls() { if [ -f "$tmp/$1/cargo.log" ]; then wc -l <"$tmp/$1/cargo.log" | tr -d ' '; else echo 0; fi; }

# --- cases ----------------------------------------------------------------------------------------

# Good checksum.
make_release v1.0.0 "1.0.0"
expect "good checksum: install.sh succeeds" run_install good v1.0.0
expect "good checksum: target $target detected" log_has "target $target"
expect "good checksum: binary in the tool cache" test -x "$(cache_bin good v1.0.0)"
expect "good checksum: bin dir on GITHUB_PATH, dr-action runs" on_path_and_runs good "dr-action 1.0.0"
expect "good checksum: install record written" grep -q '^source=release$' "$tmp/good/cache/dr-action/v1.0.0/$arch_dir/install-record"
expect "good checksum: cargo not invoked" test "$(cargo_calls good)" = 0

# Cache reuse of an exact version: works with the server's release gone.
mv "$www/v1.0.0" "$www/v1.0.0.away"
expect "cache reuse: exact version reused without the release" run_install good v1.0.0
expect "cache reuse: says it reused" log_has "reusing the verified release"
expect "cache reuse: still on GITHUB_PATH and runs" on_path_and_runs good "dr-action 1.0.0"

# A tampered cache no longer verifies: it is replaced by a fresh, verified download.
mv "$www/v1.0.0.away" "$www/v1.0.0"
printf '#!/bin/sh\necho tampered\n' >"$(cache_bin good v1.0.0)"
expect "tampered cache: reinstalled" run_install good v1.0.0
expect "tampered cache: not reused" sh -c "! grep -q reusing '$tmp/last.log'"
expect "tampered cache: the release binary is back" on_path_and_runs good "dr-action 1.0.0"

# A moving ref (v1) is reused only while the checksum file still lists the cached archive.
make_release v1 "1.1.0"
expect "moving ref: first install" run_install moving v1
expect "moving ref: reused while unchanged" run_install moving v1
expect "moving ref: says the checksum file is unchanged" log_has "still lists the same archive"
make_release v1 "1.2.0"
expect "moving ref: reinstalled when the release moved" run_install moving v1
expect "moving ref: runs the new release" on_path_and_runs moving "dr-action 1.2.0"

# Bad checksum: refused, nothing installed, the download deleted.
make_release v2.0.0 "2.0.0" bad
if run_install bad v2.0.0; then not_ok "bad checksum: install.sh fails"; else ok "bad checksum: install.sh fails"; fi
expect "bad checksum: error annotation names the checksum" log_has "::error.*checksum mismatch"
expect "bad checksum: nothing installed, nothing on GITHUB_PATH" not_installed bad v2.0.0
expect "bad checksum: the download was deleted" no_download_left bad
expect "bad checksum: no fallback to cargo" test "$(cargo_calls bad)" = 0

# Asset not listed in the checksum file: refused as unverifiable.
make_release v2.1.0 "2.1.0" unlisted
if run_install unlisted v2.1.0; then not_ok "unlisted asset: install.sh fails"; else ok "unlisted asset: install.sh fails"; fi
expect "unlisted asset: error says it is not listed" log_has "::error.*not listed in dr-action-sha256sums.txt"
expect "unlisted asset: nothing installed" not_installed unlisted v2.1.0

# Missing asset (404): falls back to cargo install from the action's source.
make_release v3.0.0 "3.0.0" no-asset
expect "missing asset: install.sh succeeds through cargo" run_install missing v3.0.0
expect "missing asset: cargo called with install --locked --path <action>" \
  grep -q -- "^install --locked --path $action_path --root " "$tmp/missing/cargo.log"
expect "missing asset: built binary on GITHUB_PATH and runs" on_path_and_runs missing "dr-action built-from-source"
expect "missing asset: a rerun reuses the build" run_install missing v3.0.0
expect "missing asset: cargo ran only once" test "$(cargo_calls missing)" = 1
printf '// changed\n' >>"$action_path/src/main.rs"
expect "missing asset: changed sources are rebuilt" run_install missing v3.0.0
expect "missing asset: cargo ran again" test "$(cargo_calls missing)" = 2

# A moving major tag or a commit SHA resolves to the exact release named by the action's Cargo.toml.
versioned_action="$tmp/action-versioned"
mkdir -p "$versioned_action/src"
printf '[package]\nname = "dr-action"\nversion = "1.0.0"\n\n[dependencies]\nversion = "9.9.9"\n' \
  >"$versioned_action/Cargo.toml"
printf 'fn main() {}\n' >"$versioned_action/src/main.rs"
sha=0123456789abcdef0123456789abcdef01234567
expect "major tag: v1 installs release v1.0.0" \
  run_install major "" DR_ACTION_REF=v1 GITHUB_ACTION_PATH="$versioned_action"
expect "major tag: says how it resolved" log_has "ref v1 holds dr-action v1.0.0"
expect "major tag: cached as the exact version" test -x "$(cache_bin major v1.0.0)"
expect "major tag: the release binary runs" on_path_and_runs major "dr-action 1.0.0"
expect "commit SHA: installs release v1.0.0" \
  run_install sha "" DR_ACTION_REF=$sha GITHUB_ACTION_PATH="$versioned_action"
expect "commit SHA: the release binary runs" on_path_and_runs sha "dr-action 1.0.0"
expect "other major: v2 does not take the 1.0.0 release" \
  run_install othermajor "" DR_ACTION_REF=v2 GITHUB_ACTION_PATH="$versioned_action"
expect "other major: built from source instead" test "$(cargo_calls othermajor)" = 1
expect "runner path: ref and repository read from .../_actions/OWNER/REPO/REF" \
  sh -c "mkdir -p '$tmp/_actions/org/dr-action' && cp -R '$versioned_action' '$tmp/_actions/org/dr-action/v1'"
expect "runner path: installs release v1.0.0" \
  run_install runnerpath "" GITHUB_ACTION_PATH="$tmp/_actions/org/dr-action/v1"
expect "runner path: the release binary runs" on_path_and_runs runnerpath "dr-action 1.0.0"

# No release at all (404 on the checksum file), e.g. a branch: cargo fallback too.
expect "no release: install.sh succeeds through cargo" run_install norelease main
expect "no release: cargo was called" test "$(cargo_calls norelease)" = 1

# Local action (uses: ./): no version, no repository: built from source.
expect "local action: install.sh succeeds" run_install local "" DR_RELEASE_BASE_URL=
expect "local action: built with cargo" test "$(cargo_calls local)" = 1
expect "local action: on GITHUB_PATH and runs" on_path_and_runs local "dr-action built-from-source"

# A version that could escape the cache folder is refused before anything is touched.
if run_install escape "../x"; then not_ok "unsafe version: refused"; else ok "unsafe version: refused"; fi
expect "unsafe version: says why" log_has "refusing version"

rm -f "$tmp/last.log"
printf 'install tests: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
