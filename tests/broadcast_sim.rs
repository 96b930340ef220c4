//! The broadcast node under the broadcast workload, run by the bench
//! engine in-process (our handler on the bench's network, virtual clock):
//! Maelstrom's generator (50/50 broadcast/read at a global rate, one
//! worker per node, final reads after the heal and 10 s), constant
//! latency, random partitions, and the bench's set-full checker.

use glomers::bench::engine;
use glomers::bench::opts::TestOpts;
use serde_json::Value;

mod common;

/// One simulated test's settings.
#[derive(Clone)]
struct Sim {
    nodes: usize,
    seconds: u64,
    rate: f64,
    latency_ms: u64,
    partitions: bool,
    seed: u64,
    /// The node binary's arguments (the `--batch-ms` knob).
    args: Vec<String>,
}

/// What a run produced: the workload checker's result and the network's.
struct Outcome {
    result: Value,
    net: Value,
}

impl Outcome {
    fn msgs_per_op(&self) -> f64 {
        self.net["servers"]["msgs-per-op"]
            .as_f64()
            .unwrap_or(f64::MAX)
    }
    fn latency(&self, q: &str) -> u64 {
        self.result["stable-latencies"][q]
            .as_u64()
            .unwrap_or(u64::MAX)
    }
}

fn run(s: Sim) -> Outcome {
    let o = TestOpts {
        workload: "broadcast".into(),
        in_process: true,
        bin_args: s.args,
        time_limit: s.seconds as f64,
        rate: s.rate,
        latency: s.latency_ms,
        nemesis: if s.partitions {
            [glomers::bench::nemesis::Fault::Partition].into()
        } else {
            Default::default()
        },
        nemesis_interval: 2.0,
        seed: s.seed,
        ..TestOpts::with_nodes(s.nodes)
    };
    let out = engine::run(&o, &common::quiet()).expect("a verdict");
    let net = out.results["net"].clone();
    if s.partitions {
        let servers = &net["servers"];
        assert!(
            servers["send-count"].as_u64() > servers["recv-count"].as_u64(),
            "nothing dropped"
        );
    }
    Outcome {
        result: out.results["workload"].clone(),
        net,
    }
}

fn sim(nodes: usize, rate: f64, latency_ms: u64, partitions: bool, seed: u64) -> Sim {
    Sim {
        nodes,
        seconds: if nodes > 5 { 10 } else { 20 },
        rate,
        latency_ms,
        partitions,
        seed,
        args: Vec::new(),
    }
}

#[test]
fn single_node_and_five_nodes_are_valid() {
    for s in [sim(1, 10.0, 0, false, 1), sim(5, 10.0, 0, false, 2)] {
        let out = run(s);
        assert_eq!(out.result["valid?"], true, "{}", out.result);
        assert_eq!(out.result["never-read-count"], 0);
    }
}

#[test]
fn five_nodes_survive_partitions() {
    for seed in 0..4 {
        let out = run(sim(5, 10.0, 0, true, 100 + seed));
        assert_eq!(out.result["valid?"], true, "seed {seed}: {}", out.result);
        assert_eq!(out.result["lost-count"], 0);
    }
}

#[test]
fn twenty_five_nodes_meet_the_3d_targets_by_default() {
    // The 3d command, cut to 10 s of operations to keep the test short; the
    // figures are per operation, so they do not depend on the length.
    let out = run(sim(25, 100.0, 100, false, 7));
    assert_eq!(out.result["valid?"], true, "{}", out.result);
    let mpo = out.msgs_per_op();
    eprintln!(
        "3d default: msgs-per-op {mpo:.3}, stable-latencies {}",
        out.result["stable-latencies"]
    );
    assert!(mpo <= 2.0, "msgs-per-op {mpo}");
    assert!(
        out.latency("0.5") <= 350,
        "{}",
        out.result["stable-latencies"]
    );
    assert!(
        out.latency("1") <= 550,
        "{}",
        out.result["stable-latencies"]
    );
}

#[test]
fn twenty_five_nodes_with_partitions_lose_nothing() {
    let out = run(sim(25, 100.0, 100, true, 11));
    assert_eq!(out.result["valid?"], true, "{}", out.result);
}

#[test]
fn a_longer_batch_trades_latency_for_messages() {
    let out = run(Sim {
        args: vec!["--batch-ms".into(), "800".into()],
        ..sim(25, 100.0, 100, false, 7)
    });
    assert_eq!(out.result["valid?"], true, "{}", out.result);
    let mpo = out.msgs_per_op();
    eprintln!(
        "batch 800 ms: msgs-per-op {mpo:.3}, stable-latencies {}",
        out.result["stable-latencies"]
    );
    assert!(mpo <= 0.8, "msgs-per-op {mpo}");
    assert!(out.latency("0.5") < 1000);
    assert!(out.latency("1") < 2000);
}
