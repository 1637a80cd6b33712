#!/usr/bin/env bash
# Benchmark: a weekly `dr-action check` over N objects in one S3 prefix, against a local moto
# server. Reports the S3 requests the check made (counted from moto's request log), wall time and
# peak RSS (/usr/bin/time -v). Memory must stay flat as N grows: the listing is streamed page by
# page and only the six newest objects are kept.
#
#   scripts/bench-s3.sh [N...]          default: 10000 100000
#
# Needs moto in .venv (scripts/setup-tools.sh) or DR_MOTO_SERVER, and a built binary
# (DR_BIN, default $CARGO_TARGET_DIR/debug/dr-action; the debug build, so times are pessimistic).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO="${DR_MOTO_SERVER:-.venv/bin/moto_server}"
PY="$(dirname "$MOTO")/python"
BIN="${DR_BIN:-${CARGO_TARGET_DIR:-target}/debug/dr-action}"
[ -x "$MOTO" ] || { echo "moto_server not found at $MOTO: run scripts/setup-tools.sh" >&2; exit 2; }
[ -x "$BIN" ] || { echo "dr-action not built at $BIN: cargo build" >&2; exit 2; }
BIN="$(realpath "$BIN")"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)

WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$MOTO" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
  (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
ENDPOINT="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent

printf '%-8s %-10s %-9s %-7s %-6s %-8s %-8s %-10s %s\n' objects requests list-pages head get wall-s cpu-s peak-rss-KiB verdict
for N in "${SIZES[@]}"; do
  BUCKET="bench-$N"
  seed_start=$(date +%s)
  # Seeds through the S3 API (8 threads): one small valid gzipped pg_dump per key, a sidecar
  # for the newest only.
  "$PY" - "$ENDPOINT" "$BUCKET" "$N" <<'PY'
import sys, gzip, hashlib, boto3, concurrent.futures as cf
from botocore.config import Config
endpoint, bucket, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1",
                  config=Config(max_pool_connections=32, retries={"max_attempts": 5}))
s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
body = gzip.compress(b"PGDMP\x01\x0e\x00" + bytes(range(256)) * 4, mtime=0)
def put(i):
    s3.put_object(Bucket=bucket, Key=f"db/backup-{i:07d}.dump.gz", Body=body,
                  ServerSideEncryption="aws:kms", SSEKMSKeyId="bench-key")
with cf.ThreadPoolExecutor(8) as pool:
    list(pool.map(put, range(n - 1)))
# The newest, last, so it is the newest by time and by key.
put(n - 1)
h = hashlib.sha256(body).hexdigest()
s3.put_object(Bucket=bucket, Key=f"db/backup-{n-1:07d}.dump.gz.sha256",
              Body=f"{h}  backup-{n-1:07d}.dump.gz\n".encode())
PY
  seed_secs=$(( $(date +%s) - seed_start ))
  mkdir -p "$WORK/$N"
  cat >"$WORK/$N/dr.yml" <<YML
version: 1
aws: { region: eu-west-1, endpoint: "$ENDPOINT" }
storage: { bucket: $BUCKET }
targets:
  - name: bench
    prefix: db/
    match: "*.dump.gz"
    format: pg-dump
    checksum: sidecar
    rpo: 24h
    min-size: 10B
YML
  before=$(wc -l <"$WORK/moto.log")
  set +e
  (cd "$WORK/$N" && /usr/bin/time -v "$BIN" check --schedule weekly >"$WORK/$N/out.txt" 2>"$WORK/$N/time.txt")
  code=$?
  set -e
  tail -n +"$((before + 1))" "$WORK/moto.log" | sed $'s/\x1b\[[0-9;]*m//g' | grep -E '"(GET|HEAD|PUT|POST) ' >"$WORK/$N/requests.log" || true
  requests=$(wc -l <"$WORK/$N/requests.log")
  pages=$(grep -c 'list-type=2' "$WORK/$N/requests.log" || true)
  heads=$(grep -c '"HEAD ' "$WORK/$N/requests.log" || true)
  gets=$(grep '"GET ' "$WORK/$N/requests.log" | grep -vc 'list-type=2' || true)
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/$N/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$N/time.txt")
  # dr-action's own CPU (user + system): the rest of the wall time is moto answering.
  cpu=$(awk -F': ' '/User time|System time/ {t += $2} END {printf "%.2f", t}' "$WORK/$N/time.txt")
  printf '%-8s %-10s %-9s %-7s %-6s %-8s %-8s %-10s %s\n' "$N" "$requests" "$pages" "$heads" "$gets" "$wall" "$cpu" "$rss" "exit $code (seeded in ${seed_secs}s)"
  [ "$code" = 0 ] || { cat "$WORK/$N/out.txt" "$WORK/$N/time.txt" >&2; }
done
