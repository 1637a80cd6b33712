# shellcheck shell=bash
# Sourced by the restore benchmarks (bench-restore.sh, bench-encrypted.sh): the clock, the
# statistics of repeated timings, and the config of the one target they restore.

now() { date +%s.%N; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# stats FILE: "median min max" of the numbers in FILE, one a line.
stats() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# bench_config MATCH [YAML]: the config of a local store in ./backups whose target `bench`
# restores db/MATCH (checked against its sidecar) into `cat > /dev/null`; YAML (indented as a
# target's key, e.g. an `encryption:` line) goes into the target.
bench_config() {
  cat << YAML
version: 1
storage:
  local: ./backups
targets:
  - name: bench
    prefix: db/
    match: "$1"
    format: file
    checksum: sidecar
    rpo: 1d
    rto: 1h
${2:+$2
}    restore:
      engine: command
      command: ["sh", "-c", "cat > /dev/null"]
YAML
}
