#!/usr/bin/env bash
# Benchmarks a full restore of an encrypted backup against the same restore of the plain one,
# in one run with alternating repetitions.
#
# It makes one gzip'd backup of random-ish text (hex of random bytes) of SIZE MiB stored
# (default 1024), and from it an age-encrypted copy (`age -r`, an `age-keygen` identity) and an
# `openssl enc -aes-256-cbc -pbkdf2` copy, each in its own local store with a sha256sum sidecar;
# then times BENCH_REPS times each (default 5), in an order that rotates every repetition:
#   plain       dr-action `check --schedule quarterly` of the plain backup (`engine: command`
#               running `cat > /dev/null`): read, hash, decompress, pipe
#   age         the same restore of the age copy (decrypted in the stream)
#   openssl     the same restore of the openssl copy
#   age-d       `age -d -i KEY OBJ | gzip -dc > /dev/null`: the usual tools, no hash
#   openssl-d   `openssl enc -d -aes-256-cbc -pbkdf2 … | gzip -dc > /dev/null`
# It prints each one's median (min–max), its ratio to the plain restore, dr-action's peak RSS
# and the load average before and after.
#
# Usage: scripts/bench-encrypted.sh BINARY [SIZE_MIB]
#   BINARY      the dr-action to measure (`cargo build --profile bench-lite`)
#   BENCH_REPS  repetitions per contender (default 5)
set -euo pipefail

cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
bin="$(realpath "$1")"
size="${2:-1024}"
reps="${BENCH_REPS:-5}"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 2; }
for tool in age age-keygen openssl sha256sum gzip xxd /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "$tool is missing" >&2; exit 2; }
done

work="$(mktemp -d -t dr-bench-encrypted-XXXXXX)"
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh

pass="bench passphrase"
age-keygen -o "$work/key.txt" 2> /dev/null
recipient=$(sed -n 's/^# public key: //p' "$work/key.txt")
plain="$work/source.gz"
head -c "$((size * 1048576 * 5 / 6))" /dev/urandom | xxd -p | gzip -1 > "$plain"

# store NAME FILE ENCRYPTION_YAML: a store of its own holding FILE as db/NAME, and its config.
store() {
  local dir="$work/$1"
  mkdir -p "$dir/backups/db" "$dir/times"
  mv "$2" "$dir/backups/db/$1"
  (cd "$dir/backups/db" && sha256sum "$1" > "$1.sha256")
  bench_config "$1" "$3" > "$dir/dr.yml"
}
age -r "$recipient" -o "$work/a" "$plain"
PASS="$pass" openssl enc -aes-256-cbc -pbkdf2 -salt -pass env:PASS -in "$plain" -out "$work/o"
store plain.txt.gz "$plain" ""
store age.txt.gz.age "$work/a" "    encryption: { kind: age, identity-env: DR_AGE_IDENTITY }"
store openssl.txt.gz.enc "$work/o" "    encryption: { kind: openssl, key-env: DR_KEY }"

restore() {
  local dir="$work/$1"
  DR_AGE_IDENTITY="$(cat "$work/key.txt")" DR_KEY="$pass" \
    /usr/bin/time -v -o "$dir/time.txt" "$bin" --config "$dir/dr.yml" \
    check --schedule quarterly --out "$dir/report.json" > "$dir/stdout.txt" \
    || { cat "$dir/stdout.txt" "$dir/report.json" >&2; exit 1; }
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt" >> "$dir/rss.txt"
}
run_plain() { restore plain.txt.gz; }
run_age() { restore age.txt.gz.age; }
run_openssl() { restore openssl.txt.gz.enc; }
run_age_d() { age -d -i "$work/key.txt" "$work/age.txt.gz.age/backups/db/age.txt.gz.age" | gzip -dc > /dev/null; }
run_openssl_d() {
  PASS="$pass" openssl enc -d -aes-256-cbc -pbkdf2 -pass env:PASS \
    -in "$work/openssl.txt.gz.enc/backups/db/openssl.txt.gz.enc" | gzip -dc > /dev/null
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; binary $bin"
contenders=(plain age openssl age-d openssl-d)
n=${#contenders[@]}
mkdir -p "$work/times"
for ((rep = 0; rep < reps; rep++)); do
  for ((i = 0; i < n; i++)); do
    c="${contenders[$(((i + rep) % n))]}"
    start=$(now)
    "run_${c//-/_}"
    awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.4f\n", b - a }' >> "$work/times/$c"
  done
done
for d in plain.txt.gz age.txt.gz.age openssl.txt.gz.enc; do
  ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["ok"])' "$work/$d/report.json")
  [ "$ok" = True ] || { echo "the restore of $d failed: $(cat "$work/$d/report.json")" >&2; exit 1; }
done
read -r base _ _ < <(stats "$work/times/plain")
printf '%-10s %-26s %-10s %s\n' "contender" "median (min–max) s" "vs plain" "notes"
for c in "${contenders[@]}"; do
  read -r med lo hi < <(stats "$work/times/$c")
  ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2fx", a / b }')
  notes=""
  case "$c" in
    plain) notes="peak RSS $(($(sort -n "$work/plain.txt.gz/rss.txt" | tail -1) / 1024)) MiB" ;;
    age) notes="peak RSS $(($(sort -n "$work/age.txt.gz.age/rss.txt" | tail -1) / 1024)) MiB" ;;
    openssl) notes="peak RSS $(($(sort -n "$work/openssl.txt.gz.enc/rss.txt" | tail -1) / 1024)) MiB" ;;
  esac
  printf '%-10s %-26s %-10s %s\n' "$c" "$med ($lo–$hi)" "$ratio" "$notes"
done
echo "stored ${size} MiB gzip'd; load average after: $(cut -d' ' -f1-3 /proc/loadavg); median of $reps alternating repetitions"
