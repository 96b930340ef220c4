//! Seed sweeps: each Fly.io sub-challenge that partitions can hurt, under
//! its page's command *with* the partition nemesis, over a fixed range of
//! seeds in virtual time (in-process, [`glomers::bench::sweep::sweep`]).
//!
//! A failing seed is reported with a one-line replay command; the run is a
//! pure function of its flags and seed, so the replay shows the same
//! history. Seed ranges are fixed so that CI is reproducible; a change
//! that breaks one seed breaks it every time.
//!
//! What is swept, and why:
//!
//! - `2`, `3c`, `4`, `6b`, `6c`: the page's command, which already has
//!   `--nemesis partition`.
//! - `3d` and `5b`: the page's command plus `--nemesis partition`.
//! - Not swept: `1` (echo has no peers, so a partition means nothing), `3a`
//!   (one node: a partition is a no-op), `3b` (3c is 3b with partitions),
//!   `3e` and `5c` (the same commands as 3d and 5b; those pages add
//!   efficiency targets, not failure modes), `6a` (one node).
//!
//! - The commands of Maelstrom's guide (`m-gset`, `m-pn`, `m-raft`,
//!   `m-raft-hard`, which have partitions, and `m-datomic` plus
//!   `--nemesis partition`).
//!
//! Every flag is the page's; only the number of seeds is chosen here, to
//! fit about two minutes of `cargo test --release` on two cores (cargo
//! runs the tests below on parallel threads). A debug build (`cargo test`
//! without `--release`) is some ten times slower and runs
//! [`DEBUG_SEEDS`] seeds of each, as a smoke test; CI runs release.
//!
//! Measured (26 Nov 2026, `time cargo test --release --test sweeps`, two
//! cores): 59 s wall, 108 s CPU; per sweep, 5b ≈ 49 s, 6b and 6c ≈ 23 s
//! each, 2 and 3d ≈ 9 s each, 4 and 3c under 1 s. With one of the two
//! cores taken by other work the same run took 125 s.

use glomers::bench::challenge;
use glomers::bench::check::Validity;
use glomers::bench::cli::{self, TestArgs};
use glomers::bench::nemesis::Fault;
use glomers::bench::{sweep as bench_sweep, workloads};
use std::time::Instant;

/// Seeds per challenge in a debug build.
const DEBUG_SEEDS: u64 = 3;

/// The page's flags for challenge `id`, plus `extra`.
fn flags(id: &str, extra: &[&str]) -> Vec<String> {
    let ch = challenge::challenges()
        .expect("scripts/challenges.tsv parses")
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("challenge {id} is not in scripts/challenges.tsv"));
    let mut f = vec!["-w".to_string(), ch.workload];
    f.extend(ch.flags);
    f.extend(extra.iter().map(|s| s.to_string()));
    f
}

/// Run challenge `id` (its flags plus `extra`) in-process for seeds
/// `first .. first + count` (count cut to [`DEBUG_SEEDS`] in debug
/// builds); fail listing every seed that was not valid, each with its
/// replay command.
fn sweep(id: &str, extra: &[&str], first: u64, count: u64) {
    let flags = flags(id, extra);
    let args: TestArgs =
        cli::parse_test_flags(&flags).unwrap_or_else(|e| panic!("challenge {id}: {e}"));
    let opts = args
        .to_opts()
        .unwrap_or_else(|e| panic!("challenge {id}: {e}"));
    assert!(
        opts.nemesis.contains(&Fault::Partition),
        "challenge {id}: a sweep here is about partitions"
    );
    assert!(
        workloads::make(&opts.workload, &opts).is_ok(),
        "challenge {id}: workload {} is not in the registry",
        opts.workload
    );
    let count = if cfg!(debug_assertions) {
        count.min(DEBUG_SEEDS)
    } else {
        count
    };
    let start = Instant::now();
    let results = bench_sweep::sweep(&opts, first, count);
    assert_eq!(results.len() as u64, count);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !matches!(r.verdict, Ok(Validity::Valid)))
        .map(|r| {
            let what = match &r.verdict {
                Ok(v) => format!("{v:?}"),
                Err(e) => format!("error: {}", e.lines().next().unwrap_or("")),
            };
            format!(
                "seed {} {what}: target/release/glomers test --in-process {} --seed {}",
                r.seed,
                flags.join(" "),
                r.seed
            )
        })
        .collect();
    eprintln!(
        "sweep {id}: seeds {first}..{}, {} failed, {:.1} s",
        first + count,
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "challenge {id}: {} of {count} seeds failed\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn sweep_2_unique_ids_partition() {
    sweep("2", &[], 0, 100);
}

#[test]
fn sweep_3c_broadcast_partition() {
    sweep("3c", &[], 0, 100);
}

#[test]
fn sweep_3d_broadcast_partition() {
    sweep("3d", &["--nemesis", "partition"], 0, 100);
}

#[test]
fn sweep_4_g_counter_partition() {
    sweep("4", &[], 0, 100);
}

#[test]
fn sweep_5b_kafka_partition() {
    sweep("5b", &["--nemesis", "partition"], 0, 100);
}

#[test]
fn sweep_6b_txn_read_uncommitted_partition() {
    sweep("6b", &[], 0, 100);
}

#[test]
fn sweep_6c_txn_read_committed_partition() {
    sweep("6c", &[], 0, 100);
}

// Maelstrom's guide (the `m-` rows). The records hold 100-seed sweeps of
// each (maelstrom-runs/records/guide-solvers.md); CI runs fewer seeds of
// the slower ones (a Raft run is 60 s of virtual time at up to 100 ops/s,
// a txn-list-append run replays Elle's checker on ~2000 transactions).

#[test]
fn sweep_m_gset_partition() {
    sweep("m-gset", &[], 0, 100);
}

#[test]
fn sweep_m_pn_partition() {
    sweep("m-pn", &[], 0, 100);
}

#[test]
fn sweep_m_datomic_partition() {
    sweep("m-datomic", &["--nemesis", "partition"], 0, 20);
}

#[test]
fn sweep_m_raft_partition() {
    sweep("m-raft", &[], 0, 20);
}

#[test]
fn sweep_m_raft_hard_partition() {
    sweep("m-raft-hard", &[], 0, 10);
}

// ---- hard mode: kill and pause beside partitions -----------------------
//
// Each Fly.io row's `hard` flags (scripts/challenges.tsv): kills that lose
// unsynced disk records, pauses that hold a node's input, partitions. The
// full 100-seed counts are in maelstrom-runs/records/durability.md; CI
// keeps the cheap rows at 100 seeds and a few seeds of the costly ones
// (kafka and txn at 1000 ops/s, 3d's 25 nodes). Measured (3 Dec 2026,
// `time cargo test --release --test sweeps hard -- --nocapture`, two
// shared cores): 11 s wall and CPU for these five tests; per sweep, 1,
// 3a, 3b, 3c under 1 s each at 100 seeds, 4 2.3 s, 2 (10 seeds) 3.1 s,
// 3d (5) 1.0 s, 5a (5) 3.1 s, 5b (2) 3.7 s, 6a/6b/6c (3 each) 2-3 s.

/// The `hard` flags of challenge `id`.
fn hard(id: &str) -> Vec<String> {
    let ch = challenge::challenges()
        .expect("scripts/challenges.tsv parses")
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("challenge {id} is not in scripts/challenges.tsv"));
    assert!(!ch.hard.is_empty(), "challenge {id} has a hard mode");
    ch.hard
}

/// Sweep challenge `id` in hard mode.
fn sweep_hard(id: &str, count: u64) {
    let flags = hard(id);
    let extra: Vec<&str> = flags.iter().map(String::as_str).collect();
    sweep(id, &extra, 1, count);
}

#[test]
fn sweep_hard_1_3a_3b_3c_4() {
    for id in ["1", "3a", "3b", "3c", "4"] {
        sweep_hard(id, 100);
    }
}

#[test]
fn sweep_hard_2_unique_ids() {
    sweep_hard("2", 10);
}

#[test]
fn sweep_hard_3d_broadcast() {
    sweep_hard("3d", 5);
}

#[test]
fn sweep_hard_5a_5b_kafka() {
    sweep_hard("5a", 5);
    sweep_hard("5b", 2);
}

#[test]
fn sweep_hard_6a_6b_6c_txn() {
    for id in ["6a", "6b", "6c"] {
        sweep_hard(id, 3);
    }
}

#[test]
fn sweep_hard_guide_crdts_raft_datomic() {
    // g-set and pn-counter keep what they acknowledged or showed on the
    // node's disk; Raft its term, vote and log; txn-list-append keeps
    // nothing (its state is in lin-kv) but tags thunk ids per incarnation.
    for (id, count) in [
        ("m-gset", 100),
        ("m-pn", 20),
        ("m-raft", 5),
        ("m-datomic", 3),
    ] {
        sweep_hard(id, count);
    }
}
