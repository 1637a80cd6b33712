#!/usr/bin/env bash
# Benchmark: a weekly and a monthly `dr-action check` of a backup-set target (`set:`) on a local
# store of N set folders, each three gzip parts (4 KiB of random content) and a metadata.json.
# Reports wall time and peak RSS (/usr/bin/time -v). Memory must grow with the number of sets
# (one summary each), not with their parts: only the six newest folders are listed in full.
#
#   scripts/bench-sets.sh [N...]          default: 1000 10000
#
# Needs a built binary (DR_BIN, default $CARGO_TARGET_DIR/debug/dr-action).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${DR_BIN:-${CARGO_TARGET_DIR:-target}/debug/dr-action}"
[ -x "$BIN" ] || { echo "dr-action not built at $BIN: cargo build" >&2; exit 2; }
BIN="$(realpath "$BIN")"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

printf '%-8s %-8s %10s %14s\n' sets schedule seconds "max RSS KiB"
for n in "${SIZES[@]}"; do
  dir="$WORK/$n"
  python3 - "$dir" "$n" <<'PY'
import gzip, hashlib, json, os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
now = time.time()
for i in range(n):
    folder = f"{d}/backups/app/full_{i:08d}"
    os.makedirs(folder)
    parts = []
    for name in ("database.sql.gz", "files.tar.gz", "config.json.gz"):
        data = gzip.compress(os.urandom(4096))
        with open(f"{folder}/{name}", "wb") as f: f.write(data)
        parts.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    with open(f"{folder}/metadata.json", "w") as f: json.dump({"parts": parts}, f)
    t = now - 600 - (n - i) * 3600
    for name in os.listdir(folder):
        os.utime(f"{folder}/{name}", (t, t))
with open(f"{d}/dr.yml", "w") as f:
    f.write("""version: 1
storage: { local: ./backups }
targets:
  - name: app
    prefix: app/
    match: "full_*"
    format: file
    rpo: 2h
    set: { manifest: metadata.json }
""")
PY
  for schedule in weekly monthly; do
    (cd "$dir" && /usr/bin/time -o "$WORK/time" -f '%e %M' "$BIN" check --schedule "$schedule" >/dev/null 2>&1) || true
    read -r secs rss <"$WORK/time"
    printf '%-8s %-8s %10s %14s\n' "$n" "$schedule" "$secs" "$rss"
  done
done
