//! The g-counter workload end to end on the bench: our node in-process under
//! Fly.io's challenge-4 settings (shortened), and a deliberately broken
//! python node (tests/fixtures/counter_local_only.py) in process mode, which
//! the checker must reject.

use glomers::bench::engine::{run, EngineConfig};
use glomers::bench::opts::TestOpts;
use std::path::PathBuf;
use std::time::Duration;

mod common;
use common::quiet;

fn fly4(seed: u64, time_limit: f64) -> TestOpts {
    TestOpts {
        workload: "g-counter".into(),
        rate: 100.0,
        time_limit,
        nemesis: [glomers::bench::nemesis::Fault::Partition].into(),
        seed,
        in_process: true,
        ..TestOpts::with_nodes(3)
    }
}

#[test]
fn counter_our_node_passes_challenge_4_in_process() {
    for seed in 1..=3 {
        let out = run(&fly4(seed, 20.0), &quiet()).expect("the test runs");
        let r = &out.results;
        assert_eq!(r["valid?"], true, "seed {seed}: {r:#}");
        let w = &r["workload"];
        let finals = w["final-reads"].as_array().expect("final-reads");
        assert_eq!(finals.len(), 3);
        // Every add was acknowledged, so there is exactly one acceptable
        // total and every node read it.
        assert_eq!(w["acceptable"].as_array().map(Vec::len), Some(1), "{w}");
        assert!(finals.iter().all(|v| *v == w["acceptable"][0][0]), "{w}");
        let per_op = r["net"]["servers"]["msgs-per-op"]
            .as_f64()
            .expect("msgs-per-op");
        assert!(per_op <= 0.5, "seed {seed}: {per_op}");
        // The partition nemesis really ran.
        assert!(out.history.ops.iter().any(|o| o.f == "start-partition"));
    }
}

#[test]
fn counter_local_only_node_is_invalid() {
    let bin = PathBuf::from(common::fixture("counter_local_only.py"));
    let opts = TestOpts {
        bin: Some(bin),
        in_process: false,
        time_limit: 3.0,
        recovery_wait: 0.5,
        ..fly4(5, 3.0)
    };
    let cfg = EngineConfig {
        init_timeout: Duration::from_secs(10),
        ..quiet()
    };
    let out = run(&opts, &cfg).expect("the test runs");
    let w = &out.results["workload"];
    assert_eq!(out.results["valid?"], false, "{w:#}");
    assert_eq!(w["valid?"], false);
    let errors = w["errors"].as_array().expect("errors listed");
    assert!(!errors.is_empty());
    assert!(errors
        .iter()
        .all(|e| e["f"] == "read" && e["final?"] == true));
}
