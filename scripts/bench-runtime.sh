#!/usr/bin/env bash
# Runtime throughput benchmark (not a test): echo round-trips per second
# through real pipes, this project's `echo` against an echo node built on the
# `maelstrom-node` crate (0.1.6), alternating, several repetitions; plus
# window-1 latency and each node's peak RSS. See
# scripts/bench-runtime/loadgen.rs for the method.
#
#   scripts/bench-runtime.sh                      # defaults: 200000 requests, window 256, 5 reps
#   scripts/bench-runtime.sh --reps 9 --window 64
#
# The baseline and the load generator live in a scratch crate under
# target/bench-runtime/ (built here, never part of the project). The result
# is printed and recorded in maelstrom-runs/records/runtime-bench.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch="$root/target/bench-runtime"
record="$root/maelstrom-runs/records/runtime-bench.md"

mkdir -p "$scratch/src/bin" "$(dirname "$record")"
cat > "$scratch/Cargo.toml" <<'TOML'
[package]
name = "bench-runtime"
version = "0.0.0"
edition = "2021"
publish = false

# Not a member of the glomers package: a scratch crate of its own.
[workspace]

[dependencies]
maelstrom-node = "=0.1.6"
async-trait = "0.1"

[profile.release]
debug = 1
TOML
cp "$root/scripts/bench-runtime/loadgen.rs" "$scratch/src/bin/loadgen.rs"
cp "$root/scripts/bench-runtime/mn_echo.rs" "$scratch/src/bin/mn-echo.rs"

echo "building glomers echo and the scratch crate…" >&2
(cd "$root" && cargo build --release --quiet --bin echo)
(cd "$scratch" && cargo build --release --quiet)

result=$("$scratch/target/release/loadgen" "$@" \
    "maelstrom-node=$scratch/target/release/mn-echo" \
    "glomers=$root/target/release/echo")
echo "$result"

# Hand-written notes below this marker survive a new recording.
marker='<!-- notes: kept by scripts/bench-runtime.sh -->'
notes=""
if [ -f "$record" ] && grep -qF "$marker" "$record"; then
    # awk, not sed: the marker holds slashes, which would end a sed address.
    notes=$(awk -v m="$marker" 'f || $0 == m { f = 1; print }' "$record")
fi
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
{
    echo "# Runtime benchmark: echo round-trips through real pipes"
    echo
    echo "Recorded by \`scripts/bench-runtime.sh $*\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "commit $commit$dirty; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg). \`maelstrom-node\` = an echo"
    echo "node on the maelstrom-node crate 0.1.6 (scripts/bench-runtime/mn_echo.rs);"
    echo "\`glomers\` = target/release/echo. Method: scripts/bench-runtime/loadgen.rs."
    echo
    echo "$result"
    if [ -n "$notes" ]; then
        echo
        echo "$notes"
    fi
} > "$record"
echo "recorded in ${record#"$root"/}" >&2
