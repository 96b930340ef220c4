#!/usr/bin/env bash
# Run a Fly.io Gossip Glomers sub-challenge on real Maelstrom, with the page's
# command (scripts/challenges.tsv) and this project's release binary.
#
#   scripts/maelstrom.sh 3d                 # one sub-challenge
#   scripts/maelstrom.sh 2 --log-stderr     # extra flags go to Maelstrom
#   MAELSTROM=~/maelstrom/maelstrom scripts/maelstrom.sh 1
#
# Maelstrom is found through $MAELSTROM, else `maelstrom` on PATH. Results go
# to maelstrom-runs/store/ (Maelstrom's usual store layout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
table="$root/scripts/challenges.tsv"

usage() {
    echo "usage: $0 <id> [maelstrom flags…]   (ids: $(grep -v '^#' "$table" | cut -f1 | tr '\n' ' '))" >&2
    exit 2
}
[ $# -ge 1 ] || usage
id=$1
shift
row=$(awk -F'\t' -v id="$id" '!/^#/ && $1 == id' "$table")
[ -n "$row" ] || { echo "$0: no sub-challenge '$id'" >&2; usage; }
workload=$(cut -f2 <<<"$row")
# Our binaries are named after their workloads (src/bench/workloads/mod.rs).
binary=$workload
read -r -a flags <<<"$(cut -f3 <<<"$row")"
read -r -a node_args <<<"$(cut -f4 -s <<<"$row")"

maelstrom=${MAELSTROM:-$(command -v maelstrom || true)}
if [ -z "$maelstrom" ] || [ ! -x "$maelstrom" ]; then
    cat >&2 <<'MSG'
Maelstrom is not installed (set MAELSTROM=/path/to/maelstrom or put
`maelstrom` on PATH). To install it:
  1. download maelstrom.tar.bz2 from the latest release at
     https://github.com/jepsen-io/maelstrom/releases and unpack it
     (the `maelstrom` script is inside);
  2. install a JDK (11 or newer; e.g. `apt-get install openjdk-17-jdk`),
     graphviz and gnuplot (`apt-get install graphviz gnuplot`).
Without Maelstrom, run the same sub-challenge on this project's bench:
  scripts/bench.sh <id>
MSG
    exit 127
fi

(cd "$root" && cargo build --release --bin "$binary")
mkdir -p "$root/maelstrom-runs"
cd "$root/maelstrom-runs"
set -x
if [ ${#node_args[@]} -gt 0 ]; then
    # Everything after `--` is forwarded to the node binary.
    exec "$maelstrom" test -w "$workload" --bin "$root/target/release/$binary" "${flags[@]}" "$@" -- "${node_args[@]}"
fi
exec "$maelstrom" test -w "$workload" --bin "$root/target/release/$binary" "${flags[@]}" "$@"
