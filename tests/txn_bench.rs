//! txn-rw-register end to end: the real `glomers` binary against our node
//! (a shortened 6c with partitions) and against deliberately broken python3
//! nodes (tests/fixtures/txn_*.py), which must be judged invalid.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::fixture;

fn store(name: &str) -> PathBuf {
    common::store("txn", name)
}

fn run(bin: &str, args: &[&str], store: &Path) -> (Output, Value) {
    let mut full = vec!["-w", "txn-rw-register", "--bin", bin];
    full.extend_from_slice(args);
    let o = common::run(&full, store);
    let text = std::fs::read_to_string(store.join("latest/results.json"))
        .unwrap_or_else(|e| panic!("no results.json ({e}); stderr: {}", common::stderr(&o)));
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

/// One single-node read-committed run of a fixture, short.
fn broken(name: &str) -> (Output, Value) {
    broken_with(name, &[])
}

fn broken_with(name: &str, extra: &[&str]) -> (Output, Value) {
    let s = store(name);
    let mut args = vec![
        "--node-count",
        "1",
        "--concurrency",
        "2n",
        "--time-limit",
        "3",
        "--rate",
        "300",
        "--consistency-models",
        "read-committed",
        "--seed",
        "4",
    ];
    args.extend_from_slice(extra);
    let out = run(&fixture(name), &args, &s);
    let _ = std::fs::remove_dir_all(&s);
    out
}

#[test]
fn our_node_passes_a_shortened_6c_with_partitions() {
    let s = store("ours");
    let bin = env!("CARGO_BIN_EXE_txn-rw-register");
    let args = [
        "--node-count",
        "2",
        "--concurrency",
        "2n",
        "--time-limit",
        "4",
        "--rate",
        "300",
        "--consistency-models",
        "read-committed",
        "--availability",
        "total",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--seed",
        "2",
    ];
    let (o, r) = run(bin, &args, &s);
    assert_eq!(r["valid?"], true, "{r}");
    assert_eq!(r["availability"]["ok-fraction"], 1.0);
    assert_eq!(r["workload"]["malformed-responses"], 0);
    assert!(
        r["stats"]["ok-count"].as_u64().unwrap() > 300,
        "{}",
        r["stats"]
    );
    assert_eq!(o.status.code(), Some(0));
    // The nemesis really ran.
    let history = std::fs::read_to_string(s.join("latest/history.jsonl")).unwrap();
    assert!(history.contains("start-partition"));
    let _ = std::fs::remove_dir_all(&s);
}

#[test]
fn visible_aborted_writes_fail_read_committed_as_g1a() {
    let (o, r) = broken("txn_aborts_visible.py");
    assert_eq!(r["workload"]["valid?"], false, "{}", r["workload"]);
    assert!(
        anomaly_types(&r).contains(&"G1a".to_string()),
        "{}",
        r["workload"]
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn visible_intermediate_writes_fail_read_committed_as_g1b() {
    let (o, r) = broken("txn_intermediate_visible.py");
    assert_eq!(r["workload"]["valid?"], false, "{}", r["workload"]);
    assert!(
        anomaly_types(&r).contains(&"G1b".to_string()),
        "{}",
        r["workload"]
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn reordered_replies_stay_ok_for_elle_and_warn_but_fail_under_strict() {
    // Maelstrom's schema accepts reordered micro-ops, so the transactions
    // are ok and Elle analyses them (and finds nothing here); the bench
    // flags each one, and fails the run only under --strict.
    let (o, r) = broken("txn_reorders_reply.py");
    let mismatched = r["workload"]["mismatched-responses"].as_u64().unwrap();
    assert!(mismatched > 0, "{}", r["workload"]);
    assert_eq!(r["workload"]["malformed-responses"], 0);
    assert_eq!(r["stats"]["info-count"], 0, "{}", r["stats"]);
    assert!(r["workload"]["mismatched-response-example"]["why"].is_string());
    assert!(r["workload"]["warning"].is_string(), "{}", r["workload"]);
    assert_eq!(r["workload"]["valid?"], true, "{}", r["workload"]);
    assert_eq!(o.status.code(), Some(0));
    let (o, r) = broken_with("txn_reorders_reply.py", &["--strict"]);
    assert!(r["workload"]["mismatched-responses"].as_u64().unwrap() > 0);
    assert_eq!(r["workload"]["valid?"], false);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn reordered_replies_do_not_hide_aborted_reads() {
    // Aborted writes are visible to reordered (but schema-valid) replies:
    // Maelstrom finds G1a in them, so the bench must too.
    let (o, r) = broken("txn_reorder_hides_g1a.py");
    assert!(
        anomaly_types(&r).contains(&"G1a".to_string()),
        "{}",
        r["workload"]
    );
    assert_eq!(r["workload"]["valid?"], false);
    assert_eq!(o.status.code(), Some(1));
}
