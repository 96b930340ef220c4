#!/usr/bin/env bash
# Run a Fly.io sub-challenge (or `all`) on this project's JVM-free bench:
#
#   scripts/bench.sh 3d
#   scripts/bench.sh all
#
# Extra arguments go to `glomers challenge`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 <id|all> [glomers flags…]" >&2; exit 2; }
cd "$root"
cargo build --release
exec target/release/glomers challenge "$@"
