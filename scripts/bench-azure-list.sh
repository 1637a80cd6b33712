#!/usr/bin/env bash
# Measures a weekly check listing 10,000 blobs on Azurite: List Blobs requests, wall time and
# peak RSS of the dr-action process (GNU time: `/usr/bin/time -v`, Debian package `time`).
# Needs scripts/setup-tools.sh to have installed Azurite. The debug build is measured, as the
# tests build it; pass `--release` to measure an optimised build instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test "$@" --test tests azure::azure_bench_listing_10000_blobs -- --ignored --nocapture 2>&1 |
  grep -E '^(seeded|listing) '
