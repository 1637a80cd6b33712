#!/usr/bin/env bash
# Benchmarks the full restore against the usual pipeline and against each single stage alone,
# in one run with alternating repetitions, so a machine that gets busier part-way slows every
# contender alike.
#
# For each size (MiB of the stored object; default "100 1024") and each compression (gzip,
# zstd) it makes a backup of random-ish, compressible text (hex of random bytes: about 1.7x the
# stored size unpacked) in a local store with a sha256sum sidecar, then times, BENCH_REPS times
# each (default 5), the contenders in an order that rotates every repetition:
#   dr-action   `check --schedule quarterly`, `engine: command` running `cat > /dev/null`: one
#               read of the object, hashed and decompressed on the way, piped into the consumer
#   usual       `cp` of the object and its sidecar, `sha256sum -c`, `gunzip -c` / `zstd -dc`
#   openssl     `openssl dgst -sha256` of the object (the hashing stage alone)
#   igzip       `igzip -dc` (ISA-L; when installed), `pigz -dc` (when installed), `gzip -dc`,
#   zstd        `zstd -dc` (the decompression stage alone)
#   piped       the fastest installed decompressor (`igzip`, else `pigz`, else `gzip`; `zstd`)
#               writing into the same consumer as dr-action, `cat > /dev/null`, through a pipe:
#               what feeding the consumer costs on its own, on the same cores
#   dr-s3       (with BENCH_S3_SERVER) dr-action's same restore from S3 on loopback: the object
#               PUT into an s3s server (`cargo build --profile bench-lite --example s3s_serve`)
#               and read with its parallel ranged GETs; besides the wall time it prints
#               dr-action's own CPU time from S3 against from the local store, as the server
#               runs on the same cores
#   piped-s3    (with BENCH_S3_SERVER) the `piped` yardstick fed from the same server instead of
#               the local file: `curl` (one signed GET) into the fastest decompressor into `cat`;
#               piped-s3 / piped is what reading over loopback costs the best tools on these
#               cores, the floor under dr-action's own from-S3 / local ratio
# It prints each contender's median with min–max, dr-action's ratio to it, dr-action's peak RSS
# (`/usr/bin/time -v`; it must stay flat from 100 MiB to 1 GiB and under 64 MiB), and the load
# average before and after. The headline is dr-action's ratio to the slowest stage of the best
# tools: max(fastest decompressor, openssl) — a pipeline can go no faster than that stage.
#
# Usage: scripts/bench-restore.sh BINARY [SIZE_MIB...]
#   BINARY         the dr-action to measure; build one in minutes with
#                  `cargo build --profile bench-lite` (target/bench-lite/dr-action)
#   BENCH_REPS     repetitions per contender (default 5)
#   BENCH_FORMATS  compressions to measure (default "gzip zstd")
#   BENCH_DIR      the work folder (default: a new temporary folder, deleted at the end)
#   BENCH_S3_SERVER  the s3s_serve example's binary (target/bench-lite/examples/s3s_serve):
#                  adds the restore from S3 on loopback (needs boto3: scripts/setup-tools.sh)
# The object is in the page cache (it was just written) and caches are not dropped, so the
# figures compare the work done, not the disk. For S3, `tests/parallel_reads.rs` checks the
# ranged reads on moto and s3s; judge S3 speed on s3s, never moto (it re-reads the whole object
# for every range). The s3s server shares the two cores with dr-action, so the S3 figure
# includes the server's own work.
set -euo pipefail

cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
bin="$(realpath "$1")"
shift
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1024)
reps="${BENCH_REPS:-5}"
read -r -a formats <<< "${BENCH_FORMATS:-gzip zstd}"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }
for tool in openssl sha256sum gzip zstd xxd; do
  command -v "$tool" > /dev/null || { echo "$tool is missing" >&2; exit 2; }
done

work=""
cleanup() { if [ -z "${BENCH_DIR:-}" ] && [ -n "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT
if [ -n "${BENCH_DIR:-}" ]; then
  work="$BENCH_DIR"
  mkdir -p "$work"
else
  work="$(mktemp -d -t dr-bench-restore-XXXXXX)"
fi

s3_pid=""
s3_port=""
py="${BENCH_PYTHON:-.venv/bin/python}"
stop_s3() { if [ -n "$s3_pid" ]; then kill "$s3_pid" 2> /dev/null || true; fi; }
if [ -n "${BENCH_S3_SERVER:-}" ]; then
  [ -x "$BENCH_S3_SERVER" ] || { echo "no s3s_serve at $BENCH_S3_SERVER" >&2; exit 2; }
  "$py" -c 'import boto3' || { echo "boto3 is missing from $py: run scripts/setup-tools.sh" >&2; exit 2; }
  mkdir -p "$work/s3"
  "$BENCH_S3_SERVER" "$work/s3" > "$work/s3.port" &
  s3_pid=$!
  trap 'stop_s3; cleanup' EXIT
  for _ in $(seq 100); do
    s3_port=$(head -n1 "$work/s3.port" 2> /dev/null || true)
    [ -n "$s3_port" ] && break
    sleep 0.1
  done
  [ -n "$s3_port" ] || { echo "s3s_serve did not start" >&2; exit 1; }
fi
# put_s3 FILE KEY: FILE and its sidecar into the bucket `backups` with one PUT each (s3s-fs
# keeps the ETag of what it was sent).
put_s3() {
  AWS_REQUEST_CHECKSUM_CALCULATION=when_required "$py" - "$s3_port" "$1" "$2" << 'PY'
import sys

import boto3

port, path, key = sys.argv[1:]
s3 = boto3.client(
    "s3",
    endpoint_url=f"http://127.0.0.1:{port}",
    aws_access_key_id="dr-bench",
    aws_secret_access_key="dr-bench-secret",
    region_name="us-east-1",
)
if "backups" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket="backups")
for p, k in ((path, key), (path + ".sha256", key + ".sha256")):
    with open(p, "rb") as f:
        s3.put_object(Bucket="backups", Key=k, Body=f)
PY
}

# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh

# The contenders; each reads $obj (and $dir), writes nothing but its own scratch.
run_dr_action() {
  /usr/bin/time -v -o "$dir/time.txt" "$bin" --config "$dir/dr.yml" \
    check --schedule quarterly --out "$dir/report.json" > "$dir/stdout.txt" \
    || { cat "$dir/stdout.txt" "$dir/report.json" >&2; exit 1; }
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt" >> "$dir/rss.txt"
  cpu_seconds "$dir/time.txt" >> "$dir/cpu.txt"
}
run_dr_s3() {
  /usr/bin/time -v -o "$dir/time-s3.txt" env AWS_ACCESS_KEY_ID=dr-bench \
    AWS_SECRET_ACCESS_KEY=dr-bench-secret AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3_port" \
    AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
    AWS_EC2_METADATA_DISABLED=true \
    "$bin" --config "$dir/dr-s3.yml" check --schedule quarterly --out "$dir/report-s3.json" \
    > "$dir/stdout-s3.txt" || { cat "$dir/stdout-s3.txt" "$dir/report-s3.json" >&2; exit 1; }
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time-s3.txt" >> "$dir/rss-s3.txt"
  cpu_seconds "$dir/time-s3.txt" >> "$dir/cpu-s3.txt"
}
# cpu_seconds TIME_V_OUTPUT: user + system seconds of the process and the children it waited for
# (dr-action and its `cat`; not the S3 server).
cpu_seconds() {
  awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.3f\n", t }' "$1"
}
run_usual() {
  mkdir -p "$dir/usual"
  cp "$obj" "$obj.sha256" "$dir/usual/"
  (cd "$dir/usual" && sha256sum --quiet -c "$name.sha256")
  "${decompress[@]}" "$dir/usual/$name" > /dev/null
  rm -rf "$dir/usual"
}
run_openssl() { openssl dgst -sha256 "$obj" > /dev/null; }
run_igzip() { igzip -dc "$obj" > /dev/null; }
run_pigz() { pigz -dc "$obj" > /dev/null; }
run_gzip() { gzip -dc "$obj" > /dev/null; }
run_zstd() { zstd -dcq "$obj" > /dev/null; }
run_piped() { "${fastest[@]}" "$obj" | cat > /dev/null; }
run_piped_s3() {
  curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user dr-bench:dr-bench-secret \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$s3_port/backups/db/$name" \
    | "${fastest[@]}" | cat > /dev/null
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; binary $bin"
printf '%-5s %-6s %-9s %-10s %-26s %-9s %s\n' \
  "size" "format" "unpacked" "contender" "median (min–max) s" "dr/it" "notes"
for size in "${sizes[@]}"; do
  for fmt in "${formats[@]}"; do
    dir="$work/$size-$fmt"
    rm -rf "$dir"
    mkdir -p "$dir/backups/db" "$dir/times"
    case "$fmt" in
      gzip)
        name=bench.txt.gz
        compress=(gzip -1)
        decompress=(gzip -dc)
        stages=(openssl gzip)
        fastest=(gzip -dc)
        command -v pigz > /dev/null && stages+=(pigz) && fastest=(pigz -dc)
        command -v igzip > /dev/null && stages+=(igzip) && fastest=(igzip -dc)
        ;;
      zstd)
        name=bench.txt.zst
        compress=(zstd -q -1 -T0)
        decompress=(zstd -dcq)
        stages=(openssl zstd)
        fastest=(zstd -dcq)
        ;;
      *) echo "BENCH_FORMATS: unknown $fmt (gzip or zstd)" >&2; exit 2 ;;
    esac
    obj="$dir/backups/db/$name"
    # Hex text of random bytes compresses to about 1.2x the random bytes: 5/6 of them make `size`.
    head -c "$((size * 1048576 * 5 / 6))" /dev/urandom | xxd -p | "${compress[@]}" > "$obj"
    (cd "$dir/backups/db" && sha256sum "$name" > "$name.sha256")
    stored=$(stat -c %s "$obj")
    bench_config "$name" > "$dir/dr.yml"
    contenders=(dr-action usual "${stages[@]}" piped)
    if [ -n "$s3_port" ]; then
      put_s3 "$obj" "db/$name"
      sed 's|^storage:$|aws:\n  region: us-east-1\nstorage:|; s|^  local: ./backups$|  bucket: backups|' \
        "$dir/dr.yml" > "$dir/dr-s3.yml"
      contenders+=(dr-s3)
      command -v curl > /dev/null && contenders+=(piped-s3)
    fi
    n=${#contenders[@]}
    for ((rep = 0; rep < reps; rep++)); do
      for ((i = 0; i < n; i++)); do
        c="${contenders[$(((i + rep) % n))]}"
        start=$(now)
        "run_${c//-/_}"
        awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.4f\n", b - a }' >> "$dir/times/$c"
      done
    done
    unpacked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["metrics"]["unpacked_bytes"])' "$dir/report.json")
    ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["ok"])' "$dir/report.json")
    [ "$ok" = True ] || { echo "dr-action's restore failed: see $dir/report.json" >&2; exit 1; }
    read -r ours _ _ < <(stats "$dir/times/dr-action")
    rss_mib=$(($(sort -n "$dir/rss.txt" | tail -1) / 1024))
    slowest_best=0
    fastest_decoder=""
    for c in "${contenders[@]}"; do
      read -r med lo hi < <(stats "$dir/times/$c")
      ratio=$(awk -v a="$ours" -v b="$med" 'BEGIN { printf "%.2fx", a / b }')
      notes=""
      [ "$c" = dr-action ] && notes="peak RSS ${rss_mib} MiB, stored $(mib "$stored") MiB"
      printf '%-5s %-6s %-9s %-10s %-26s %-9s %s\n' "${size}M" "$fmt" "$(mib "$unpacked")M" \
        "$c" "$med ($lo–$hi)" "$ratio" "$notes"
      case "$c" in
        dr-action | usual | openssl | dr-s3 | piped | piped-s3) ;;
        *)
          if [ -z "$fastest_decoder" ] || awk -v a="$med" -v b="$fastest_med" 'BEGIN { exit !(a < b) }'; then
            fastest_decoder=$c
            fastest_med=$med
          fi
          ;;
      esac
    done
    read -r ssl _ _ < <(stats "$dir/times/openssl")
    slowest_best=$(awk -v a="$ssl" -v b="$fastest_med" 'BEGIN { print (a > b) ? a : b }')
    which=$(awk -v a="$ssl" -v b="$fastest_med" -v d="$fastest_decoder" 'BEGIN { print (a > b) ? "openssl" : d }')
    headline=$(awk -v a="$ours" -v b="$slowest_best" 'BEGIN { printf "%.2fx", a / b }')
    read -r usual _ _ < <(stats "$dir/times/usual")
    speedup=$(awk -v a="$ours" -v b="$usual" 'BEGIN { printf "%.2fx", b / a }')
    if [ -n "$s3_port" ]; then
      s3_ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["ok"])' "$dir/report-s3.json")
      [ "$s3_ok" = True ] || { echo "the restore from S3 failed: see $dir/report-s3.json" >&2; exit 1; }
      read -r from_s3 _ _ < <(stats "$dir/times/dr-s3")
      s3_rss=$(($(sort -n "$dir/rss-s3.txt" | tail -1) / 1024))
      echo "==> ${size}M $fmt: from S3 on loopback / from the local store = $(awk -v a="$from_s3" -v b="$ours" 'BEGIN { printf "%.2fx", a / b }') (peak RSS ${s3_rss} MiB)"
      read -r cpu_local _ _ < <(stats "$dir/cpu.txt")
      read -r cpu_s3 _ _ < <(stats "$dir/cpu-s3.txt")
      echo "==> ${size}M $fmt: dr-action's own CPU (user + system, with its consumer; not the server's): ${cpu_s3}s from S3, ${cpu_local}s from the local store = $(awk -v a="$cpu_s3" -v b="$cpu_local" 'BEGIN { printf "%.2fx", a / b }')"
      if [ -s "$dir/times/piped-s3" ]; then
        read -r piped_local _ _ < <(stats "$dir/times/piped")
        read -r piped_s3 _ _ < <(stats "$dir/times/piped-s3")
        echo "==> ${size}M $fmt: the best tools from S3 on loopback / from the local file (\`curl | ${fastest[*]} | cat\`, ${piped_s3}s, against \`${fastest[*]} FILE | cat\`, ${piped_local}s) = $(awk -v a="$piped_s3" -v b="$piped_local" 'BEGIN { printf "%.2fx", a / b }')"
      fi
      rm -rf "$work/s3/backups/db"
    fi
    echo "==> ${size}M $fmt: dr-action / slowest best stage ($which, ${slowest_best}s) = $headline; the usual pipeline takes $speedup dr-action's time"
    read -r piped _ _ < <(stats "$dir/times/piped")
    echo "==> ${size}M $fmt: dr-action / \`${fastest[*]} | cat\` (the same consumer fed by the fastest decompressor alone, ${piped}s) = $(awk -v a="$ours" -v b="$piped" 'BEGIN { printf "%.2fx", a / b }')"
    rm -rf "$dir/backups"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $reps alternating repetitions; dr/it = dr-action's median / the contender's (below 1: dr-action is faster)"
