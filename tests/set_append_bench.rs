//! g-set and txn-list-append end to end: the real `glomers` binary against
//! python3 fixture nodes (tests/fixtures/g_set_*.py,
//! txn_list_append_*.py), each deliberately broken in one way and judged
//! invalid with the anomaly named, and a correct one judged valid.

use serde_json::Value;
use std::process::Output;

mod common;
use common::fixture;

/// One short run of `workload` against fixture `bin` on `nodes` nodes;
/// returns the exit status and results.json.
fn run(workload: &str, bin: &str, nodes: &str, extra: &[&str]) -> (Output, Value) {
    let store = common::store("set-append", &format!("{workload}-{bin}-{nodes}"));
    let path = fixture(bin);
    let mut args = vec![
        "-w",
        workload,
        "--bin",
        &path,
        "--node-count",
        nodes,
        "--concurrency",
        "2n",
        "--time-limit",
        "3",
        "--rate",
        "200",
        "--seed",
        "4",
    ];
    args.extend_from_slice(extra);
    let o = common::run(&args, &store);
    let text = std::fs::read_to_string(store.join("latest/results.json"))
        .unwrap_or_else(|e| panic!("no results.json ({e}); stderr: {}", common::stderr(&o)));
    let _ = std::fs::remove_dir_all(&store);
    (
        o,
        serde_json::from_str(&text).expect("results.json is JSON"),
    )
}

fn anomaly_types(r: &Value) -> Vec<String> {
    r["workload"]["anomaly-types"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_private_set_per_node_loses_elements_with_two_nodes_only() {
    let wait = ["--recovery-wait", "0.5"];
    // One node: its private set is the whole set.
    let (o, r) = run("g-set", "g_set_private.py", "1", &wait);
    assert_eq!(r["valid?"], true, "{r}");
    assert_eq!(r["workload"]["lost-count"], 0);
    assert!(r["workload"]["stable-count"].as_u64().unwrap() > 50, "{r}");
    assert_eq!(o.status.code(), Some(0));
    // Two nodes: each final read misses the other node's elements.
    let (o, r) = run("g-set", "g_set_private.py", "2", &wait);
    assert_eq!(r["workload"]["valid?"], false, "{r}");
    assert!(r["workload"]["lost-count"].as_u64().unwrap() > 10, "{r}");
    assert_eq!(r["valid?"], false);
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn a_correct_single_store_is_strict_serializable() {
    let (o, r) = run("txn-list-append", "txn_list_append_ok.py", "1", &[]);
    assert_eq!(r["valid?"], true, "{r}");
    assert_eq!(r["workload"]["valid?"], true, "{r}");
    assert_eq!(
        r["workload"]["consistency-models"],
        serde_json::json!(["strict-serializable"])
    );
    assert_eq!(r["workload"]["malformed-responses"], 0);
    assert!(
        r["stats"]["ok-count"].as_u64().unwrap() > 300,
        "{}",
        r["stats"]
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn private_stores_per_node_are_incompatible_orders() {
    let (o, r) = run("txn-list-append", "txn_list_append_per_node.py", "2", &[]);
    assert_eq!(r["workload"]["valid?"], false, "{r}");
    let types = anomaly_types(&r);
    assert!(types.iter().any(|t| t == "incompatible-order"), "{types:?}");
    // Even read committed rules the nodes out.
    let (_, rc) = run(
        "txn-list-append",
        "txn_list_append_per_node.py",
        "2",
        &["--consistency-models", "read-committed"],
    );
    assert_eq!(rc["workload"]["valid?"], false, "{rc}");
    assert!(anomaly_types(&rc).iter().any(|t| t == "incompatible-order"));
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn lost_appends_are_caught_inside_and_across_transactions() {
    let (o, r) = run("txn-list-append", "txn_list_append_lossy.py", "1", &[]);
    assert_eq!(r["workload"]["valid?"], false, "{r}");
    let types = anomaly_types(&r);
    // A transaction that appended and then read the key misses its own
    // append; other transactions order around the missing element.
    assert!(types.iter().any(|t| t == "internal"), "{types:?}");
    assert!(
        types.iter().any(|t| t.starts_with("G")),
        "no dependency cycle or read anomaly: {types:?}"
    );
    assert_ne!(o.status.code(), Some(0));
}
