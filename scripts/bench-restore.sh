#!/usr/bin/env bash
# Benchmarks the full restore against the usual way of doing the same work.
#
# For each size (MiB of the stored, gzip'd object; default "100 1024") it makes a backup of
# random-ish, compressible text (hex of random bytes: about 1.7x the stored size unpacked),
# stores it in a LOCAL store with a sha256sum sidecar, then measures:
#   dr-action  `check --schedule quarterly` with `engine: command` running `wc -c`: one read of
#              the object, hashed and gunzip'd on the way, piped into the consumer;
#   usual way  `cp` to disk, `sha256sum -c`, `gunzip` to disk, then `wc -c` on the result.
# It prints the wall times, their ratio, and dr-action's peak RSS (`/usr/bin/time -v`), which
# must stay flat (the same for 100 MiB and 1 GiB) and under 64 MiB.
#
# Usage: scripts/bench-restore.sh [SIZE_MIB...]
#   DR_ACTION_BIN  the binary to measure (default: a debug build, `cargo build`; this script
#                  never builds release — set DR_ACTION_BIN to measure one)
#   BENCH_DIR      the work folder (default: a new temporary folder, deleted at the end)
# Both ways read a file the page cache holds (it was just written); caches are not dropped,
# so the figures compare the work done, not the disk.
set -euo pipefail

cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1024)

if [ -z "${DR_ACTION_BIN:-}" ]; then
  cargo build --quiet
  DR_ACTION_BIN="${CARGO_TARGET_DIR:-target}/debug/dr-action"
  build="debug"
else
  build="given ($DR_ACTION_BIN)"
fi
[ -x "$DR_ACTION_BIN" ] || { echo "no binary at $DR_ACTION_BIN" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }

if [ -n "${BENCH_DIR:-}" ]; then
  work="$BENCH_DIR"
  mkdir -p "$work"
else
  work="$(mktemp -d -t dr-bench-restore-XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi

now() { date +%s.%N; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

printf '%-8s %-10s %-11s %-12s %-12s %-7s %-10s\n' \
  "stored" "unpacked" "dr-action" "usual way" "ratio" "rss" "build"
for size in "${sizes[@]}"; do
  dir="$work/$size"
  rm -rf "$dir"
  mkdir -p "$dir/backups/db" "$dir/usual"
  obj="$dir/backups/db/bench.txt.gz"
  # Hex text of random bytes gzips to about 1.2x the random bytes: 5/6 of them make `size`.
  head -c "$((size * 1048576 * 5 / 6))" /dev/urandom | xxd -p | gzip -1 > "$obj"
  (cd "$dir/backups/db" && sha256sum bench.txt.gz > bench.txt.gz.sha256)
  cat > "$dir/dr.yml" <<'YAML'
version: 1
storage:
  local: ./backups
targets:
  - name: bench
    prefix: db/
    match: "*.txt.gz"
    format: file
    checksum: sidecar
    rpo: 1d
    rto: 1h
    restore:
      engine: command
      command: ["wc", "-c"]
YAML

  start=$(now)
  /usr/bin/time -v -o "$dir/time.txt" "$DR_ACTION_BIN" --config "$dir/dr.yml" \
    check --schedule quarterly --out "$dir/report.json" > "$dir/stdout.txt" \
    || { cat "$dir/stdout.txt" >&2; exit 1; }
  ours=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
  rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt")
  unpacked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["metrics"]["unpacked_bytes"])' "$dir/report.json")

  start=$(now)
  cp "$obj" "$dir/usual/bench.txt.gz"
  cp "$obj.sha256" "$dir/usual/"
  (cd "$dir/usual" && sha256sum --quiet -c bench.txt.gz.sha256)
  gunzip "$dir/usual/bench.txt.gz"
  wc -c < "$dir/usual/bench.txt" > /dev/null
  usual=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')

  ratio=$(awk -v a="$ours" -v b="$usual" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-8s %-10s %-11s %-12s %-12s %-7s %-10s\n' \
    "$(mib "$(stat -c %s "$obj")")M" "$(mib "$unpacked")M" "${ours}s" "${usual}s" \
    "$ratio" "$((rss_kib / 1024))M" "$build"
  rm -rf "$dir/usual"
done
echo "ratio = dr-action time / usual-way time (below 1 means dr-action is faster)"
