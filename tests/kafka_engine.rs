//! The kafka node under the bench engine: in-process on a virtual clock
//! (several seeds, with partitions), and once as a real process.

use glomers::bench::engine::{run, Outcome};
use glomers::bench::history::OpType;
use glomers::bench::opts::TestOpts;

mod common;
use common::quiet;

fn opts(nodes: usize, seed: u64, partition: bool) -> TestOpts {
    let mut o = TestOpts::with_nodes(nodes);
    o.workload = "kafka".into();
    o.concurrency = 2 * nodes;
    o.time_limit = 5.0;
    o.rate = 1000.0;
    if partition {
        o.nemesis = [glomers::bench::nemesis::Fault::Partition].into();
    }
    o.nemesis_interval = 1.0;
    o.in_process = true;
    o.seed = seed;
    o
}

/// Valid, cheap, and nothing failed or went indeterminate except the
/// workload's own crash ops.
fn assert_good(out: &Outcome) {
    let r = &out.results;
    assert_eq!(r["valid?"], true, "{r:#}");
    assert_eq!(r["workload"]["valid?"], true);
    let stray = out
        .history
        .ops
        .iter()
        .filter(|o| o.is_client() && matches!(o.kind, OpType::Fail | OpType::Info))
        .filter(|o| o.f != "crash")
        .count();
    assert_eq!(stray, 0, "fail/info besides crash");
    let ok_polls = out
        .history
        .ops
        .iter()
        .filter(|o| o.f == "poll" && o.kind == OpType::Ok)
        .filter(|o| o.value[0][1].as_object().is_some_and(|m| !m.is_empty()))
        .count();
    assert!(ok_polls > 10, "polls returned messages: {ok_polls}");
}

fn servers_msgs_per_op(out: &Outcome) -> f64 {
    out.results["net"]["servers"]["msgs-per-op"]
        .as_f64()
        .unwrap_or(0.0)
}

#[test]
fn kafka_engine_5a_in_process() {
    let out = run(&opts(1, 1, false), &quiet()).expect("run");
    assert_good(&out);
    assert_eq!(servers_msgs_per_op(&out), 0.0);
}

#[test]
fn kafka_engine_5b_partitions_in_process() {
    for seed in 1..=3 {
        let out = run(&opts(2, seed, true), &quiet()).expect("run");
        assert_good(&out);
        let mpo = servers_msgs_per_op(&out);
        assert!(mpo > 0.0 && mpo < 0.1, "msgs-per-op {mpo}");
    }
}

#[test]
fn kafka_engine_5b_real_process() {
    let mut o = opts(2, 7, false);
    o.in_process = false;
    o.bin = Some(env!("CARGO_BIN_EXE_kafka").into());
    o.time_limit = 3.0;
    o.recovery_wait = 1.0;
    let out = run(&o, &quiet()).expect("run");
    assert_good(&out);
    assert!(servers_msgs_per_op(&out) < 0.1);
}
