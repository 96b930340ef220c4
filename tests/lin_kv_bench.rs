//! The lin-kv workload end to end on the bench, with python fixture nodes:
//! a correct single-node store (valid), the same store on three nodes (each
//! node's private store gives stale reads), a store that loses
//! compare-and-sets, and `glomers test` without `-w` running lin-kv as
//! Maelstrom does.

use glomers::bench::engine::run;
use glomers::bench::opts::TestOpts;
use serde_json::Value;
use std::path::PathBuf;

mod common;
use common::quiet;

fn opts(fixture: &str, nodes: usize, seed: u64) -> TestOpts {
    let base = TestOpts::with_nodes(nodes);
    TestOpts {
        workload: "lin-kv".into(),
        bin: Some(PathBuf::from(common::fixture(fixture))),
        concurrency: 2 * nodes,
        rate: 100.0,
        time_limit: 4.0,
        seed,
        ..base
    }
}

/// Every failing key's explanation text.
fn explanations(w: &Value) -> Vec<String> {
    w["explanations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn single_node_store_is_linearizable() {
    let out = run(&opts("lin_kv_store.py", 1, 1), &quiet()).expect("the test runs");
    let w = &out.results["workload"];
    assert_eq!(w["valid?"], true, "{w:#}");
    assert_eq!(w["failures"], serde_json::json!([]));
    // Reads, writes and cas really happened, and some cas failed with 22.
    let h = &out.history.ops;
    for f in ["read", "write", "cas"] {
        assert!(h
            .iter()
            .any(|o| o.f == f && o.kind == glomers::bench::history::OpType::Ok));
    }
    assert!(h
        .iter()
        .any(|o| o.error.as_ref().is_some_and(|e| e[0] == 22)));
    assert_eq!(out.results["valid?"], true);
}

#[test]
fn private_per_node_stores_give_stale_reads() {
    let out = run(&opts("lin_kv_store.py", 3, 2), &quiet()).expect("the test runs");
    let w = &out.results["workload"];
    assert_eq!(w["valid?"], false, "{w:#}");
    assert_eq!(out.results["valid?"], false);
    let failures = w["failures"].as_array().expect("failures");
    assert!(!failures.is_empty());
    let k = failures[0].to_string();
    let lin = &w["results"][&k]["linearizable"];
    assert_eq!(lin["valid?"], false);
    assert!(lin["op"]["index"].is_u64(), "{lin:#}");
    assert!(!lin["explanation"]["window"].as_array().unwrap().is_empty());
    assert!(!explanations(w).is_empty());
}

#[test]
fn lost_cas_is_caught() {
    let out = run(&opts("lin_kv_lost_cas.py", 1, 3), &quiet()).expect("the test runs");
    let w = &out.results["workload"];
    assert_eq!(w["valid?"], false, "{w:#}");
    // The register could not hold what was read: a cas was acknowledged
    // but the store kept the old value.
    let texts = explanations(w);
    assert!(
        texts.iter().any(|t| t.contains("read returned")),
        "{texts:?}"
    );
}

#[test]
fn glomers_test_without_w_runs_lin_kv() {
    let store = common::store("linkv", "default");
    let bin = common::fixture("lin_kv_store.py");
    let args = [
        "--bin",
        &bin,
        "--node-count",
        "1",
        "--concurrency",
        "2n",
        "--time-limit",
        "2",
        "--rate",
        "50",
    ];
    let o = common::run(&args, &store);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let r = common::results(&store);
    assert_eq!(r["workload"]["valid?"], true);
    assert!(
        r["workload"]["results"]["0"]["linearizable"].is_object(),
        "{r:#}"
    );
    // Maelstrom's default concurrency (1n) cannot run lin-kv's 2n threads
    // per key: a clear error, as Jepsen's generator assertion.
    let o = common::run(
        &["--bin", &bin, "--node-count", "1", "--time-limit", "2"],
        &store,
    );
    assert_eq!(o.status.code(), Some(254));
    assert!(
        common::stderr(&o).contains("multiple of 2"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn lossy_proxy_to_the_service_is_linearizable_with_info_ops() {
    // tests/fixtures/lin_kv_proxy.py: correct on any number of nodes, and
    // loses some replies, so timeouts make indeterminate operations.
    let mut o = opts("lin_kv_proxy.py", 3, 4);
    o.concurrency = 6;
    o.nemesis = [glomers::bench::nemesis::Fault::Partition].into();
    let out = run(&o, &quiet()).expect("the test runs");
    let w = &out.results["workload"];
    assert_eq!(w["valid?"], true, "{w:#}");
    let h = &out.history.ops;
    assert!(h
        .iter()
        .any(|op| op.kind == glomers::bench::history::OpType::Info));
}
