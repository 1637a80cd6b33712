#!/usr/bin/env bash
# Benchmarks the full restore against the usual way of doing the same work.
#
# For each size (MiB of the stored, gzip'd object; default "100 1024") it makes a backup of
# random-ish, compressible text (hex of random bytes: about 1.7x the stored size unpacked),
# stores it with a sha256sum sidecar, then measures:
#   dr-action  `check --schedule quarterly` with `engine: command` running `wc -c`: one read of
#              the object, hashed and gunzip'd on the way, piped into the consumer;
#   usual way  copy to disk (`cp`, or `aws s3 cp` from S3), `sha256sum -c`, `gunzip` to disk,
#              then `wc -c` on the result.
# It prints the wall times, their ratio, and dr-action's peak RSS (`/usr/bin/time -v`), which
# must stay flat (the same for 100 MiB and 1 GiB) and under 64 MiB.
#
# Usage: scripts/bench-restore.sh [SIZE_MIB...]
#   BENCH_STORE    `local` (default): a folder; `s3`: a moto server on loopback (from
#                  DR_MOTO_SERVER or .venv, see scripts/setup-tools.sh), the object uploaded
#                  with boto3. The usual way downloads with `aws s3 cp` when the aws CLI is on
#                  PATH, else with boto3's `download_file` (both: parallel ranged GETs).
#   DR_ACTION_BIN  the binary to measure (default: a debug build, `cargo build`; this script
#                  never builds release — set DR_ACTION_BIN to measure one)
#   BENCH_DIR      the work folder (default: a new temporary folder, deleted at the end)
# Both ways read a file the page cache holds (it was just written); caches are not dropped,
# so the figures compare the work done, not the disk. With S3, both ways also wait on moto (a
# single-process Python server on the same cores), so the S3 figures are moto-bound.
set -euo pipefail

cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1024)
store="${BENCH_STORE:-local}"
case "$store" in
  local | s3) ;;
  *) echo "BENCH_STORE must be local or s3, not $store" >&2; exit 2 ;;
esac

if [ -z "${DR_ACTION_BIN:-}" ]; then
  cargo build --quiet
  DR_ACTION_BIN="${CARGO_TARGET_DIR:-target}/debug/dr-action"
  build="debug"
else
  build="given ($DR_ACTION_BIN)"
fi
[ -x "$DR_ACTION_BIN" ] || { echo "no binary at $DR_ACTION_BIN" >&2; exit 2; }
DR_ACTION_BIN="$(realpath "$DR_ACTION_BIN")"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }

moto_pid=""
work=""
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; fi
  if [ -z "${BENCH_DIR:-}" ] && [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
if [ -n "${BENCH_DIR:-}" ]; then
  work="$BENCH_DIR"
  mkdir -p "$work"
else
  work="$(mktemp -d -t dr-bench-restore-XXXXXX)"
fi

now() { date +%s.%N; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

bucket=bench
if [ "$store" = s3 ]; then
  moto="${DR_MOTO_SERVER:-.venv/bin/moto_server}"
  py="$(dirname "$moto")/python"
  [ -x "$moto" ] || { echo "moto_server not found at $moto: run scripts/setup-tools.sh" >&2; exit 2; }
  port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$moto" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 300); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  endpoint="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1 \
    AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true
  if command -v aws > /dev/null 2>&1 && aws --version > /dev/null 2>&1; then
    fetcher="aws s3 cp"
  else
    fetcher="boto3 download_file"
  fi
fi

# s3 OP ARGS...: boto3 against moto (create-bucket, upload FILE KEY, download KEY FILE..., delete
# KEY).
s3() {
  "$py" - "$endpoint" "$bucket" "$@" << 'PY'
import sys, boto3
from boto3.s3.transfer import TransferConfig
endpoint, bucket, op, *args = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
if op == "create-bucket":
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
elif op == "upload":
    # Big parts: fewer for moto to join.
    s3.upload_file(args[0], bucket, args[1], Config=TransferConfig(multipart_chunksize=64 << 20))
elif op == "download":
    for key, path in zip(args[::2], args[1::2]):
        s3.download_file(bucket, key, path)
elif op == "delete":
    s3.delete_object(Bucket=bucket, Key=args[0])
PY
}

# fetch PREFIX DIR: the usual way's download of the backup and its sidecar into DIR, in one
# process (one CLI start-up, as a script would do it).
fetch() {
  if [ "$fetcher" = "aws s3 cp" ]; then
    aws --endpoint-url "$endpoint" s3 cp --only-show-errors --recursive "s3://$bucket/$1" "$2/"
  else
    s3 download "$1bench.txt.gz" "$2/bench.txt.gz" "$1bench.txt.gz.sha256" "$2/bench.txt.gz.sha256"
  fi
}

[ "$store" = local ] || s3 create-bucket
printf '%-6s %-8s %-10s %-11s %-12s %-8s %-7s %s\n' \
  "store" "stored" "unpacked" "dr-action" "usual way" "ratio" "rss" "build, notes"
for size in "${sizes[@]}"; do
  dir="$work/$size"
  rm -rf "$dir"
  mkdir -p "$dir/backups/db" "$dir/usual"
  obj="$dir/backups/db/bench.txt.gz"
  # Hex text of random bytes gzips to about 1.2x the random bytes: 5/6 of them make `size`.
  head -c "$((size * 1048576 * 5 / 6))" /dev/urandom | xxd -p | gzip -1 > "$obj"
  (cd "$dir/backups/db" && sha256sum bench.txt.gz > bench.txt.gz.sha256)
  stored=$(stat -c %s "$obj")
  notes="$build"
  if [ "$store" = local ]; then
    storage="storage:
  local: ./backups"
    prefix=db/
  else
    # One prefix per size, so each run restores its own object.
    prefix="s$size/"
    start=$(now)
    s3 upload "$obj" "${prefix}bench.txt.gz"
    s3 upload "$obj.sha256" "${prefix}bench.txt.gz.sha256"
    notes="$notes, uploaded in $(since "$start")s, usual way: $fetcher"
    rm -rf "$dir/backups"
    storage="aws:
  region: eu-west-1
  endpoint: $endpoint
storage:
  bucket: $bucket"
  fi
  cat > "$dir/dr.yml" << YAML
version: 1
$storage
targets:
  - name: bench
    prefix: $prefix
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
    || { cat "$dir/stdout.txt" "$dir/report.json" >&2; exit 1; }
  ours=$(since "$start")
  rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt")
  unpacked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["metrics"]["unpacked_bytes"])' "$dir/report.json")

  start=$(now)
  if [ "$store" = local ]; then
    cp "$obj" "$obj.sha256" "$dir/usual/"
  else
    fetch "$prefix" "$dir/usual"
  fi
  fetched=$(since "$start")
  (cd "$dir/usual" && sha256sum --quiet -c bench.txt.gz.sha256)
  gunzip "$dir/usual/bench.txt.gz"
  wc -c < "$dir/usual/bench.txt" > /dev/null
  usual=$(since "$start")

  # Where the usual way's time went: the copy or download, then hashing and unpacking.
  notes="$notes, usual way's copy ${fetched}s"
  ratio=$(awk -v a="$ours" -v b="$usual" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-6s %-8s %-10s %-11s %-12s %-8s %-7s %s\n' \
    "$store" "$(mib "$stored")M" "$(mib "$unpacked")M" "${ours}s" "${usual}s" \
    "$ratio" "$((rss_kib / 1024))M" "$notes"
  rm -rf "$dir/usual" "$dir/backups"
  if [ "$store" = s3 ]; then
    s3 delete "${prefix}bench.txt.gz"
    s3 delete "${prefix}bench.txt.gz.sha256"
  fi
done
echo "ratio = dr-action time / usual-way time (below 1 means dr-action is faster)"
