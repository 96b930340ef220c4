//! The g-counter node on the bench: whole runs of the counter workload
//! under the engine in-process (our handler on the bench's network, the
//! bench's real services, latency, random partitions, one worker per
//! node), and a scripted run on the bench's simulator
//! (`glomers::bench::sim`). Checks that every final read is exact, that
//! reads are fresh (absent partitions, they include every add
//! acknowledged ≥ 1 s earlier), and the message budget.

use glomers::bench::engine;
use glomers::bench::history::{OpType, Process};
use glomers::bench::inprocess::factory;
use glomers::bench::opts::TestOpts;
use glomers::bench::sim::Builder;
use glomers::challenges::g_counter::GCounter;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

mod common;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// One completed client operation.
#[derive(Debug, Clone)]
struct Done {
    node: String,
    f: String,
    delta: i64,
    invoked: Duration,
    completed: Duration,
    value: Option<i64>,
    final_read: bool,
}

/// What a run produced: its operations, the windows in which a partition
/// was in force, and the result map.
struct Run {
    done: Vec<Done>,
    cuts: Vec<(Duration, Duration)>,
    results: Value,
}

impl Run {
    fn any_cut_between(&self, from: Duration, to: Duration) -> bool {
        self.cuts.iter().any(|&(a, b)| a < to && from < b)
    }
}

/// A Fly.io-like test under the engine: `nodes` nodes, one worker per
/// node, ops every U(0, 2/rate) s for `time_limit` s (half adds with
/// deltas 0–4, or −5–4 for pn-counter), partitions every ~`nemesis` s if
/// given, then heal, wait 10 s and one final read per node.
fn run(pn: bool, seed: u64, time_limit: f64, latency: u64, nemesis: Option<f64>) -> Run {
    let o = TestOpts {
        workload: if pn { "pn-counter" } else { "g-counter" }.into(),
        in_process: true,
        rate: 100.0,
        time_limit,
        latency,
        nemesis: if nemesis.is_some() {
            [glomers::bench::nemesis::Fault::Partition].into()
        } else {
            Default::default()
        },
        nemesis_interval: nemesis.unwrap_or(0.0),
        seed,
        ..TestOpts::with_nodes(3)
    };
    let out = engine::run(&o, &common::quiet()).expect("a verdict");
    let ns = |t: u64| Duration::from_nanos(t);
    let (mut open, mut done, mut cuts) = (HashMap::new(), Vec::new(), Vec::new());
    for op in &out.history.ops {
        let Process::Client(p) = op.process else {
            // Jepsen's two entries per nemesis op: the second says what
            // was done.
            let cut = op.value[1].as_object().is_some_and(|g| !g.is_empty());
            if op.f == "start-partition" && cut {
                cuts.push((ns(op.time), Duration::MAX));
            } else if op.f == "stop-partition" && op.value == "network-healed" {
                if let Some(c) = cuts.last_mut().filter(|c| c.1 == Duration::MAX) {
                    c.1 = ns(op.time);
                }
            }
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(p, op);
            continue;
        }
        let Some(inv) = open.remove(&p) else { continue };
        let ok = op.kind == OpType::Ok;
        done.push(Done {
            node: format!("n{}", p % 3),
            f: op.f.clone(),
            delta: inv.value.as_i64().unwrap_or(0),
            invoked: ns(inv.time),
            completed: if ok { ns(op.time) } else { Duration::MAX },
            value: if ok { op.value.as_i64() } else { None },
            final_read: op.final_phase,
        });
    }
    Run {
        done,
        cuts,
        results: out.results,
    }
}

/// The first `n` runs (seeds from 0) in which the nemesis did cut the
/// network: for three nodes some shapes it draws are empty grudges.
fn partitioned_runs(pn: bool, n: usize) -> impl Iterator<Item = (u64, Run)> {
    let runs = (0..).map(move |seed| (seed, run(pn, seed, 20.0, 0, Some(2.0))));
    runs.filter(|(_, r)| !r.cuts.is_empty()).take(n)
}

/// Every add that completed by `t`.
fn acked_by(done: &[Done], t: Duration) -> i64 {
    done.iter()
        .filter(|d| d.f == "add" && d.completed <= t)
        .map(|d| d.delta)
        .sum()
}

#[test]
fn counter_final_reads_are_exact_despite_partitions() {
    for (seed, r) in partitioned_runs(false, 6) {
        let done = &r.done;
        let total: i64 = done.iter().filter(|d| d.f == "add").map(|d| d.delta).sum();
        assert!(done
            .iter()
            .filter(|d| d.f == "add")
            .all(|d| d.completed != Duration::MAX));
        let finals: Vec<_> = done.iter().filter(|d| d.final_read).collect();
        assert_eq!(finals.len(), 3);
        for f in finals {
            assert_eq!(
                f.value,
                Some(total),
                "seed {seed}: {} read {:?}",
                f.node,
                f.value
            );
        }
        // Reads are never ahead of what was added.
        for d in done.iter().filter(|d| d.f == "read") {
            let v = d.value.expect("reads are answered");
            let invoked: i64 = done
                .iter()
                .filter(|a| a.f == "add" && a.invoked <= d.completed)
                .map(|a| a.delta)
                .sum();
            assert!(v <= invoked, "seed {seed}: read {v} > {invoked} ever added");
        }
        let per_op = &r.results["net"]["servers"]["msgs-per-op"];
        eprintln!("seed {seed}: servers msgs-per-op {per_op}");
        assert!(
            per_op.as_f64().is_some_and(|m| m <= 0.5),
            "seed {seed}: {per_op}"
        );
    }
}

#[test]
fn counter_reads_are_fresh_within_one_second_absent_partitions() {
    for (seed, latency) in [(1, 0), (2, 0), (3, 100)] {
        let r = run(false, seed, 10.0, latency, None);
        let done = &r.done;
        assert!(!r.any_cut_between(Duration::ZERO, secs(1e6)));
        let mut checked = 0;
        for d in done.iter().filter(|d| d.f == "read") {
            let Some(cutoff) = d.invoked.checked_sub(secs(1.0)) else {
                continue;
            };
            let v = d.value.expect("reads are answered");
            let must = acked_by(done, cutoff);
            assert!(
                v >= must,
                "seed {seed}: read at {:?} on {} = {v}, but {must} was acked by {cutoff:?}",
                d.invoked,
                d.node
            );
            checked += 1;
        }
        assert!(checked > 300, "{checked}");
    }
}

#[test]
fn counter_reads_recover_freshness_after_partitions_heal() {
    // Partitions every ~10 s (Maelstrom's default), so reads well after
    // a heal exist too.
    let r = run(false, 7, 20.0, 0, Some(10.0));
    assert!(!r.cuts.is_empty());
    let done = &r.done;
    let mut checked = 0;
    let mut stale_during_cuts = 0;
    for d in done.iter().filter(|d| d.f == "read" && !d.final_read) {
        let Some(cutoff) = d.invoked.checked_sub(secs(1.0)) else {
            continue;
        };
        let v = d.value.expect("reads are answered");
        let must = acked_by(done, cutoff);
        // Partitions may delay pushes; a refresh through seq-kv (every 2 s)
        // repairs that, so 3 s after the last cut a read must be fresh.
        let around = (d.invoked.saturating_sub(secs(3.0)), d.invoked + secs(0.001));
        if r.any_cut_between(around.0, around.1) {
            stale_during_cuts += (v < must) as usize;
            continue;
        }
        assert!(v >= must, "read at {:?} = {v} < {must}", d.invoked);
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
    // The scenario does exercise staleness: some reads during cuts lag.
    assert!(stale_during_cuts > 0);
}

#[test]
fn counter_an_idle_node_refreshes_before_answering() {
    // n1 gets every add; n0 only reads, after a long quiet spell, and never
    // hears n1's pushes. Its read must wait for a refresh through seq-kv,
    // and that refresh must defeat seq-kv's staleness.
    for seed in 0..10 {
        let b = Builder::new().nodes(2).latency(Duration::from_millis(50));
        let b = b.seed(seed).hosts(factory::<GCounter>());
        let mut sim = b.build().expect("init");
        sim.partition_oneway(&[1], &[0]);
        let r = sim.call(0, json!({"type": "read"})).unwrap();
        assert_eq!(r["value"], 0);
        // Several separate writes of n1's key, so seq-kv holds many states.
        for _ in 0..5 {
            let r = sim.call(1, json!({"type": "add", "delta": 3}));
            assert_eq!(r.unwrap()["type"], "add_ok");
            sim.run_for(secs(2.5));
        }
        sim.run_for(secs(10.0));
        let quiet_msgs = sim.server_messages();
        sim.run_for(secs(10.0));
        assert_eq!(sim.server_messages(), quiet_msgs, "idle nodes send nothing");
        let before = sim.now();
        let r = sim.call(0, json!({"type": "read"})).unwrap();
        assert_eq!(r["value"], 15, "seed {seed}");
        // A write and a read through seq-kv: two round trips of 2×50 ms.
        assert!(sim.now() - before >= Duration::from_millis(200));
        assert_eq!(sim.server_messages(), quiet_msgs + 4);
    }
}

#[test]
fn counter_pn_final_reads_are_exact_with_negative_deltas() {
    for (seed, r) in partitioned_runs(true, 3) {
        let done = r.done;
        let adds: Vec<i64> = done
            .iter()
            .filter(|d| d.f == "add")
            .map(|d| d.delta)
            .collect();
        assert!(adds.iter().any(|d| *d < 0));
        let total: i64 = adds.iter().sum();
        for f in done.iter().filter(|d| d.final_read) {
            assert_eq!(f.value, Some(total), "seed {seed}: {}", f.node);
        }
    }
}
