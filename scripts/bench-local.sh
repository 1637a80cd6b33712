#!/usr/bin/env bash
# Benchmarks of the spine on a local store: `kpi` and `badge` (time and peak memory per call),
# and a weekly dry-run check over 1,000 and 10,000 backups (time and peak memory: memory must
# stay flat, since the listing keeps only the newest six objects and the retention days).
#
#   scripts/bench-local.sh [path/to/dr-action]     (default: target/release/dr-action)
#
# Uses /usr/bin/time -v for wall time and max RSS; each figure is the median of RUNS runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$root/target}/release/dr-action}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release first" >&2; exit 2; }
runs=${RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints "<seconds> <max RSS KiB>" for one run of the command, median over $runs.
measure() {
  local t=() m=() i out
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>&1 || true
    out=$(tail -n1 "$work/time")
    t+=("${out% *}"); m+=("${out#* }")
  done
  printf '%s %s\n' "$(printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")" \
    "$(printf '%s\n' "${m[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
}

# One table row: the label, then the median seconds and max RSS of the command.
row() {
  local label=$1 t m
  shift
  read -r t m < <(measure "$@")
  printf '%-40s %10s %14s\n' "$label" "$t" "$m"
}

# A store of N gzip backups (4 KiB of random content each) with sidecars, one an hour.
make_store() {
  local dir=$1 n=$2
  python3 - "$dir" "$n" <<'PY'
import gzip, hashlib, os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{d}/backups/db", exist_ok=True)
now = time.time()
for i in range(n):
    name = f"db-{i:06d}.sqlite.gz"
    data = gzip.compress(b"SQLite format 3\0" + os.urandom(4096))
    p = f"{d}/backups/db/{name}"
    with open(p, "wb") as f: f.write(data)
    with open(p + ".sha256", "w") as f: f.write(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    t = now - 600 - i * 3600
    os.utime(p, (t, t)); os.utime(p + ".sha256", (t, t))
with open(f"{d}/dr.yml", "w") as f:
    f.write("""version: 1
storage: { local: ./backups }
targets:
  - name: db
    prefix: db/
    match: "*.sqlite.gz"
    format: sqlite
    rpo: 26h
    min-size: 1KiB
    retention: { daily: 30, weekly: 12, monthly: 12 }
""")
PY
}

echo "binary: $bin ($(du -h "$bin" | cut -f1))"
echo "runs per figure: $runs (median)"
printf '%-40s %10s %14s\n' "what" "seconds" "max RSS (KiB)"
for n in 1000 10000; do
  make_store "$work/s$n" "$n"
  (cd "$work/s$n" && row "weekly check, $n backups" "$bin" check --schedule weekly)
done
s=$work/s1000
(cd "$s" && "$bin" check --schedule weekly >/dev/null && "$bin" check --schedule monthly >/dev/null || true)
(cd "$s" && row "kpi" "$bin" kpi)
(cd "$s" && row "badge (svg + png)" "$bin" badge --png out/b.png)
(cd "$s" && row "badge (svg only)" "$bin" badge)
