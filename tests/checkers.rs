//! Checkers end to end: the real `glomers` binary against small python
//! nodes (tests/fixtures/) whose answers exercise one checker rule each.
//!
//! unique-ids with ids that are not plain strings or numbers: Jepsen's
//! checker orders them with Clojure's `compare` (vectors by length, then
//! element by element; integers and floats as numbers) and throws, making
//! Maelstrom's verdict unknown, only where `compare` throws (a string
//! against a number).

use serde_json::{json, Value};
use std::process::Output;

mod common;
use common::{fixture, results, run, stderr};

/// Runs every fixture at once (they are independent), then hands back each
/// one's process output and results.json.
fn run_all(fixtures: &[&str]) -> Vec<(Output, Value)> {
    let handles: Vec<_> = fixtures
        .iter()
        .map(|f| {
            let f = f.to_string();
            std::thread::spawn(move || {
                let s = common::store("checkers", &f);
                let o = run(
                    &[
                        "-w",
                        "unique-ids",
                        "--bin",
                        &fixture(&f),
                        "--node-count",
                        "3",
                        "--time-limit",
                        "1",
                        "--rate",
                        "120",
                        "--seed",
                        "3",
                    ],
                    &s,
                );
                let r = results(&s);
                let _ = std::fs::remove_dir_all(&s);
                (o, r)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("fixture thread"))
        .collect()
}

#[test]
fn unique_ids_are_ranged_with_clojures_compare() {
    let fixtures = [
        "unique_ids_composite.py",
        "unique_ids_nested.py",
        "unique_ids_lengths.py",
        "unique_ids_numbers.py",
        "unique_ids_mixed.py",
    ];
    let out = run_all(&fixtures);
    let valid = |i: usize| {
        let (o, r) = &out[i];
        assert_eq!(o.status.code(), Some(0), "{}: {}", fixtures[i], stderr(o));
        assert_eq!(r["workload"]["valid?"], true, "{}: {r}", fixtures[i]);
        assert!(r["workload"]["acknowledged-count"].as_u64().unwrap() > 30);
        assert_eq!(r["workload"]["duplicated-count"], 0);
        r["workload"]["range"].clone()
    };
    // [node, k]: lowest is n0's first id, highest one of n2's.
    let range = valid(0);
    assert_eq!(range[0], json!(["n0", 1]), "{range}");
    assert_eq!(range[1][0], "n2", "{range}");
    // [node, [k, k + 0.5]]: compared through the nested vector.
    let range = valid(1);
    assert_eq!(range[0], json!(["n0", [1, 1.5]]), "{range}");
    assert_eq!(range[1][0], "n2", "{range}");
    // [node, k] for even k, [node, k, "odd"] for odd k: length decides first.
    let range = valid(2);
    assert_eq!(range[0], json!(["n0", 2]), "{range}");
    assert_eq!(range[1].as_array().map(Vec::len), Some(3), "{range}");
    assert_eq!(range[1][0], "n2", "{range}");
    // Integers and floats mixed: compared as numbers.
    let range = valid(3);
    assert_eq!(range[0], json!(1.5), "{range}");
    assert!(range[1].as_f64().unwrap() > 2_000_000.0, "{range}");
    // Strings from n0, numbers from the others: compare throws → unknown.
    let (o, r) = &out[4];
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert_eq!(r["valid?"], "unknown");
    assert_eq!(r["workload"]["valid?"], "unknown", "{r}");
    assert!(r["workload"].get("range").is_none());
    let error = r["workload"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("ClassCastException"), "{error}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("Errors occurred during analysis"));
}
