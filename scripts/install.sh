#!/usr/bin/env bash
# Installs the dr-action binary for this runner and puts it on PATH (through $GITHUB_PATH).
#
# Runs as the first step of action.yml; works on Linux and macOS (bash 3.2).
#
#   1. target triple from uname: x86_64/aarch64 on Linux (gnu) and macOS (apple-darwin);
#   2. version = $DR_VERSION, else the ref the action was used at ($DR_ACTION_REF, passed by
#      action.yml, else $GITHUB_ACTION_REF, else the ref folder of $GITHUB_ACTION_PATH). Releases
#      are published as exact tags (v1.2.3), so a moving tag (v1, v1.2) or a commit SHA resolves to
#      the release named by the version in the action's own Cargo.toml, which is the source at
#      that ref (for v1: only when that version is a v1.x.y);
#   3. reuse $RUNNER_TOOL_CACHE/dr-action/<version>/<arch>/ when it holds a binary whose recorded
#      SHA-256 still verifies (see "The cache" below);
#   4. otherwise download dr-action-<target>.tar.gz and dr-action-sha256sums.txt from
#      ${DR_RELEASE_BASE_URL:-$GITHUB_SERVER_URL/<action repo>/releases/download}/<version>/, and
#      refuse to install unless the archive's SHA-256 is listed in the checksum file and matches;
#   5. when the release has no such asset (HTTP 404 on the asset or the checksum file), or there is
#      no version at all (`uses: ./`), build it: cargo install --locked --path $GITHUB_ACTION_PATH.
#
# The cache: <dir>/bin/dr-action plus <dir>/install-record, key=value lines written last (so a
# half-finished install is never reused):
#   bin_sha256=<sha256 of bin/dr-action>
#   source=release   asset_sha256=<sha256 of the verified archive>
#   source=cargo     source_fingerprint=<sha256 over the crate's sources>
# A release install of an exact version (v1.2.3, a commit SHA) is reused offline. For a moving ref
# (v1, main) the checksum file is fetched again and the cache reused only while it lists the same
# archive. A cargo build is reused while the action's sources hash to the same fingerprint.
#
# Environment (besides the runner's own): DR_VERSION, DR_ACTION_REF, DR_ACTION_REPOSITORY,
# DR_RELEASE_BASE_URL (tests, mirrors), DR_CARGO (default cargo; tests use a stub),
# DR_TARGET (override the detected target triple).
set -euo pipefail

log() { printf 'dr-action install: %s\n' "$*"; }
die() {
  printf '::error title=dr-action install::%s\n' "$*"
  exit 1
}

command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1 ||
  die "neither sha256sum nor shasum is available to verify the download"

sha256_file() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

sha256_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum | cut -d' ' -f1
  else
    shasum -a 256 | cut -d' ' -f1
  fi
}

# --- where and what --------------------------------------------------------------------------------

action_path=${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# Sets target (a Rust target triple) and arch_dir (the tool-cache folder, as the runner names it).
# Not in a $(...) subshell, so that die's annotation reaches the log.
if [ -n "${DR_TARGET:-}" ]; then
  target=$DR_TARGET
else
  case "$(uname -m)" in
    x86_64 | amd64) cpu=x86_64 ;;
    aarch64 | arm64) cpu=aarch64 ;;
    *) die "unsupported CPU architecture '$(uname -m)': dr-action ships x86_64 and aarch64 builds" ;;
  esac
  case "$(uname -s)" in
    Linux) target="$cpu-unknown-linux-gnu" ;;
    Darwin) target="$cpu-apple-darwin" ;;
    *) die "unsupported OS '$(uname -s)': dr-action ships Linux and macOS builds" ;;
  esac
fi
case "$target" in
  x86_64-*) arch_dir=x64 ;;
  aarch64-*) arch_dir=arm64 ;;
  *) die "unsupported target '$target'" ;;
esac

# The runner checks actions out to .../_actions/<owner>/<repo>/<ref>: a last resort for the ref and
# the repository when the variables are empty.
path_ref="" path_repo=""
case "$action_path" in
  */_actions/*/*/*)
    path_ref=$(basename "$action_path")
    path_repo="$(basename "$(dirname "$(dirname "$action_path")")")/$(basename "$(dirname "$action_path")")"
    ;;
esac

requested=${DR_VERSION:-${DR_ACTION_REF:-${GITHUB_ACTION_REF:-$path_ref}}}
repo=${DR_ACTION_REPOSITORY:-${GITHUB_ACTION_REPOSITORY:-$path_repo}}
# The version names a cache folder and a URL path segment: only tag/branch characters, no '..'.
if printf '%s\n' "$requested" | grep -Eq '[^A-Za-z0-9._/+-]|\.\.|^[./]'; then
  die "refusing version '$requested': not a tag, branch or commit name"
fi

crate_version() { # the [package] version of the action's Cargo.toml, if any
  [ -f "$action_path/Cargo.toml" ] || return 0
  sed -n '/^\[package\]/,/^\[/ s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
    "$action_path/Cargo.toml" | head -n 1
}

version=$requested
if printf '%s\n' "$requested" | grep -Eq '^(v[0-9]+(\.[0-9]+)?|[0-9a-f]{40})$'; then
  crate=$(crate_version)
  case "$requested" in
    [0-9a-f]*) prefix="" ;;        # a commit SHA: whatever release its sources are
    *) prefix="${requested#v}." ;; # v1 -> 1.x.y only, v1.2 -> 1.2.x only
  esac
  case "$crate" in
    "$prefix"*) if [ -n "$crate" ]; then version="v$crate"; fi ;;
  esac
fi

if [ -n "${DR_RELEASE_BASE_URL:-}" ]; then
  base_url=${DR_RELEASE_BASE_URL%/}
elif [ -n "$repo" ]; then
  base_url="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download"
else
  base_url=""
fi

asset="dr-action-$target.tar.gz"
sums_name="dr-action-sha256sums.txt"
tool_cache=${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache/dr-action-tool-cache}
cache_key=$(printf '%s' "${version:-local}" | tr '/' '_')
cache_dir="$tool_cache/dr-action/$cache_key/$arch_dir"
bin="$cache_dir/bin/dr-action"
record="$cache_dir/install-record"

work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/dr-action-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the cache record ------------------------------------------------------------------------------

record_get() { # KEY -> value from the install record (empty when absent)
  [ -f "$record" ] || return 0
  sed -n "s/^$1=//p" "$record" | head -n 1
}

cached_binary_verifies() {
  local want
  [ -f "$record" ] && [ -x "$bin" ] || return 1
  want=$(record_get bin_sha256)
  [ -n "$want" ] && [ "$(sha256_file "$bin")" = "$want" ]
}

is_exact_version() { # v1.2.3, 1.2.3-rc.1, or a full commit SHA never change meaning
  printf '%s\n' "$1" | grep -Eq '^(v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?|[0-9a-f]{40})$'
}

source_fingerprint() { # sha256 over the files cargo builds from
  (
    cd "$action_path"
    for f in Cargo.toml Cargo.lock build.rs; do
      if [ -f "$f" ]; then printf '%s\n' "$f"; fi
    done
    for d in src assets policies; do
      if [ -d "$d" ]; then find "$d" -type f; fi
    done
  ) | LC_ALL=C sort | while IFS= read -r f; do
    printf '%s\n' "$f"
    cat "$action_path/$f"
  done | sha256_stdin
}

start_install() { # empties the cache folder; the record is written last by finish_install
  rm -rf "$cache_dir"
  mkdir -p "$cache_dir/bin"
}

finish_install() { # SOURCE KEY=VALUE
  local bin_sha
  bin_sha=$(sha256_file "$bin")
  printf 'bin_sha256=%s\nsource=%s\n%s\n' "$bin_sha" "$1" "$2" >"$record.tmp"
  mv "$record.tmp" "$record"
}

use_binary() { # puts the cache's bin folder on PATH for the later steps, and smoke-tests it
  local v
  v=$("$bin" --version 2>&1) || die "the installed binary $bin does not run: $v"
  if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$cache_dir/bin" >>"$GITHUB_PATH"
  fi
  log "using $v from $cache_dir/bin"
  exit 0
}

# --- downloads -------------------------------------------------------------------------------------

case "$base_url" in
  http://*) curl_proto='=http,https' ;; # only when DR_RELEASE_BASE_URL says http (local tests)
  *) curl_proto='=https' ;;
esac

# fetch URL FILE -> 0 downloaded, 2 not found (HTTP 404), 1 any other failure.
fetch() {
  local code rc=0
  code=$(curl --fail --location --silent --show-error --retry 3 --retry-delay 2 \
    --connect-timeout 20 --max-time 600 --proto "$curl_proto" --proto-redir '=https' \
    --output "$2" --write-out '%{http_code}' "$1") || rc=$?
  if [ "$rc" = 0 ]; then
    return 0
  fi
  rm -f "$2"
  if [ "$code" = 404 ]; then
    return 2
  fi
  log "download of $1 failed (curl exit $rc, HTTP ${code:-none})"
  return 1
}

listed_sha() { # the SHA-256 the checksum file lists for the asset ("hex  name" or "hex *name")
  awk -v name="$asset" '{ f = $2; sub(/^\*/, "", f); sub(/^\.\//, "", f) }
    f == name && $1 ~ /^[0-9a-fA-F]+$/ && length($1) == 64 { print tolower($1); exit }' "$1"
}

install_archive() { # ARCHIVE WANT_SHA: verifies, then unpacks into the cache
  local archive=$1 want=$2 got found="" f
  got=$(sha256_file "$archive")
  if [ "$got" != "$want" ]; then
    rm -f "$archive"
    die "checksum mismatch for $asset $version: $sums_name lists $want, the download is $got. The download was deleted and nothing was installed."
  fi
  log "verified $asset sha256 $got"
  start_install
  mkdir "$work/unpack"
  tar -xzf "$archive" -C "$work/unpack"
  for f in "$work/unpack/dr-action" "$work/unpack"/*/dr-action; do
    if [ -f "$f" ]; then
      found=$f
      break
    fi
  done
  [ -n "$found" ] || die "$asset holds no dr-action binary"
  mv "$found" "$bin"
  chmod 0755 "$bin"
  finish_install release "asset_sha256=$got"
}

install_from_source() { # REASON
  local fp
  fp=$(source_fingerprint)
  if cached_binary_verifies && [ "$(record_get source)" = cargo ] &&
    [ "$(record_get source_fingerprint)" = "$fp" ]; then
    log "reusing the build of these sources in $cache_dir"
    use_binary
  fi
  [ -f "$action_path/Cargo.toml" ] || die "$1, and $action_path has no Cargo.toml to build from"
  log "$1: building from source with cargo install --locked (this takes a few minutes)"
  start_install
  "${DR_CARGO:-cargo}" install --locked --path "$action_path" --root "$cache_dir" ||
    die "cargo install failed; a Rust toolchain (rustup, cargo) must be on the runner to build from source"
  [ -x "$bin" ] || die "cargo install did not produce $bin"
  finish_install cargo "source_fingerprint=$fp"
  use_binary
}

# --- main ------------------------------------------------------------------------------------------

if [ "$version" != "$requested" ]; then
  log "ref $requested holds dr-action $version (its Cargo.toml): installing release $version"
fi
log "target $target, version ${version:-(none)}, cache $cache_dir"

if [ -z "$version" ] || [ -z "$base_url" ]; then
  install_from_source "no release version or repository is known (a local action?)"
fi

if cached_binary_verifies && [ "$(record_get source)" = release ] && is_exact_version "$version"; then
  log "reusing the verified release in the tool cache"
  use_binary
fi

rc=0
fetch "$base_url/$version/$sums_name" "$work/$sums_name" || rc=$?
if [ "$rc" = 2 ]; then
  install_from_source "release $version has no $sums_name"
elif [ "$rc" != 0 ]; then
  if cached_binary_verifies && [ "$(record_get source)" = release ]; then
    printf '::warning title=dr-action install::could not fetch %s; using the cached %s\n' "$sums_name" "$version"
    use_binary
  fi
  die "could not download $base_url/$version/$sums_name"
fi

want=$(listed_sha "$work/$sums_name")
[ -n "$want" ] || die "$asset is not listed in $sums_name of release $version: refusing to install an unverified binary."

if cached_binary_verifies && [ "$(record_get source)" = release ] && [ "$(record_get asset_sha256)" = "$want" ]; then
  log "reusing the cached release: $sums_name still lists the same archive"
  use_binary
fi

rc=0
fetch "$base_url/$version/$asset" "$work/$asset" || rc=$?
if [ "$rc" = 2 ]; then
  install_from_source "release $version has no asset $asset"
elif [ "$rc" != 0 ]; then
  die "could not download $base_url/$version/$asset"
fi
install_archive "$work/$asset" "$want"
use_binary
