//! Elle's list-append checker, as Maelstrom 0.2.3 runs it on
//! `txn-list-append` (`maelstrom: src/maelstrom/workload/txn_list_append.clj`
//! hands the history to `jepsen: src/jepsen/tests/cycle/append.clj`, which
//! calls `elle: src/elle/list_append.clj` `check`, Elle 0.1.6).
//!
//! # Why list-append
//!
//! A register's reads say nothing about the order of its versions, so the
//! rw-register checker has to guess it (and rarely can). A list's reads
//! say everything: a read of `[3, 1, 2]` means the key went through
//! `[3]`, `[3, 1]` and `[3, 1, 2]`, in that order. So the version order of
//! every key is read off the lists, and almost every `ww`, `wr` and `rw`
//! dependency between transactions is known. That makes list-append
//! Elle's strongest workload. The cross-check against a brute-force
//! oracle in tests/list_append_checker.rs (4000 random histories from a
//! store with stale reads, lost appends, failed transactions that took
//! effect and executions outside their real-time window) asserts that an
//! anomaly is never reported on a history that has a legal order, and
//! that every history of `ok` transactions without one is rejected, under
//! serializable and strict serializable. It is not complete in general:
//! a transaction that reads a key as `null` and then as a list holding
//! only its own *later* append passes, since Elle checks no read that
//! follows a read of `null` within a transaction.
//!
//! # What is checked
//!
//! 1. **Input guards** ([`txns`]): micro-ops other than `["r", k, list]`
//!    and `["append", k, v]`, or one value appended twice to a key by two
//!    invocations, make the result `valid? "unknown"` with the reason (Elle
//!    throws, which Jepsen reports as unknown).
//! 2. **Version orders** ([`order`]): per key, the distinct non-empty
//!    lists read by `ok` and `info` entries, by length; each must be a
//!    prefix of the next (**incompatible-order** otherwise). A read holding
//!    an element twice is **duplicate-elements**. The order of a key is its
//!    longest list.
//! 3. **Direct anomalies** ([`direct`]): **G1a** (read of a failed
//!    append), **G1b** (read ending at another transaction's intermediate
//!    append), **internal** (a read disagreeing with the transaction's own
//!    earlier reads and appends), **dirty-update** (a committed append
//!    right after a failed one in a version order), **lost-update** (two
//!    committed transactions read the same list of a key, then both
//!    appended to it).
//! 4. **Dependency graph** ([`deps`]) over `ok` and `info` transactions:
//!    `wr`, `ww`, `rw` from the version orders, plus real-time edges when a
//!    requested model prohibits a real-time cycle (strict serializable) and
//!    process edges when one prohibits a process cycle and real time is not
//!    built (as Elle: real time implies process order).
//! 5. **Cycles**: the rw-register checker's search, shared through
//!    [`cycles::Explain`]: per strongly connected component, probes for the
//!    subgraph each model forbids, then the shortest cycle of each class,
//!    most severe first: **G0**, **G1c**, **G-single-item**,
//!    **G-nonadjacent-item**, **G2-item** and their `-process` / `-realtime`
//!    variants, 1000 ms per component.
//! 6. **Verdict** ([`super::models`], [`super::verdict`]): as Elle's
//!    `result-map`, since Maelstrom does not wrap this checker (it does wrap
//!    rw-register's): `valid?` is false when a prohibited anomaly was found,
//!    `"unknown"` when only `empty-transaction-graph` or
//!    `cycle-search-timeout` was, true otherwise; `anomaly-types`,
//!    `anomalies`, `not`, `also-not` as Elle's.
//!
//! An element read by some transaction that no transaction ever appended
//! makes Elle 0.1.6 fail an assertion in its dirty-update pass, which
//! Maelstrom reports as `valid? "unknown"`. We report the same verdict, with
//! the elements under `unwritten-elements`, and keep the other findings in
//! the result so that they are not lost.
//!
//! # Where this differs from Elle 0.1.6
//!
//! - **Names and probes** are Elle 0.2's, as in the rw-register checker
//!   (see its module docs): `G-single-item` where 0.1.6 says `G-single`,
//!   and `*-cycle-exists` probes, which 0.1.6 does not have: by default a
//!   probe hit is a warning (`cycle-exists-warnings`) and the verdict is
//!   0.1.6's; under `--strict` it fails the run. A write cycle whose edges
//!   are also `wr` is named G1c by both versions; 0.1.6 passes it under
//!   read uncommitted, and so do we unless `--strict`.
//! - **Search** on explanations for the typed classes (see
//!   `cycles.rs`), so we may report a cycle Elle discards (and then fail
//!   a history Maelstrom would pass; not seen on Maelstrom-shaped runs).
//! - **Single-append inference** (Elle's `values-from-single-appends`,
//!   which gives a never-read key with one append the order `[v]`) is not
//!   done: it changes no edge (an unread append already follows the
//!   initial state) and no anomaly.
//! - **Ties**: two incompatible lists of the same length are ordered by
//!   first appearance, not by hash order, so which one becomes the version
//!   order is deterministic.
//! - **Output**: anomaly entries are `{type, ops, explanation, detail}`
//!   maps, as the rw-register checker's.
//!
//! # Models
//!
//! The six the rw-register checker decides (read uncommitted … strict
//! serializable, by any of their names); any other yields `unknown`.
//!
//! # Cost
//!
//! Linear in the history and the edges, plus the cycle search inside
//! strongly connected components (bounded by the budget). The `rw` edges
//! of a state go to the next append only, so the graph has O(micro-ops ×
//! readers per state) edges.

pub mod deps;
pub mod direct;
pub mod order;
pub mod txns;

use super::cycles;
use super::{canonical_models, models, verdict, Case, Probes, Rule, CYCLE_SEARCH_TIMEOUT};
use crate::bench::history::History;
use serde_json::{json, Value};
use std::time::Duration;

/// Is `anomaly` a process-order cycle class?
fn is_process_cycle_type(anomaly: &str) -> bool {
    anomaly
        .strip_suffix("-process")
        .is_some_and(|base| cycles::is_realtime_cycle_type(&format!("{base}-realtime")))
}

/// Check a `txn-list-append` history against `models` (Maelstrom's
/// `--consistency-models`), returning the workload's result map.
/// Probes count as anomalies here (Elle 0.2.x, the bench's `--strict`).
pub fn check_list_append(history: &History, models: &[String]) -> Value {
    check_with(history, models, CYCLE_SEARCH_TIMEOUT, Probes::Count)
}

/// [`check_list_append`] with a chosen per-component search budget.
pub fn check_with_timeout(history: &History, models: &[String], timeout: Duration) -> Value {
    check_with(history, models, timeout, Probes::Count)
}

/// [`check_list_append`] with a chosen per-component search budget and
/// probe rule ([`Probes::Warn`] is Maelstrom 0.2.3's Elle 0.1.6).
pub fn check_with(
    history: &History,
    models: &[String],
    timeout: Duration,
    probes: Probes,
) -> Value {
    let unknown = |error: String| json!({"valid?": "unknown", "error": error});
    let canonical = match canonical_models(models) {
        Ok(c) => c,
        Err(e) => return unknown(e),
    };
    let t = match txns::parse(history) {
        Ok(t) => t,
        Err(e) => return unknown(e),
    };
    if let Err(e) = txns::unique_appends(&t) {
        return unknown(e);
    }
    let prohibited = models::prohibited_by(&canonical);
    let realtime = prohibited.iter().any(|a| cycles::is_realtime_cycle_type(a));
    let extra = deps::Extra {
        realtime,
        process: !realtime && prohibited.iter().any(|a| is_process_cycle_type(a)),
    };
    // The graph's version orders come from `ok` and `info` reads; Elle's
    // dirty-update pass reads them (and the writers) off every entry.
    let sorted = order::sorted_values(&t, |i| t.txns[i].possible());
    let index = order::append_index(&sorted);
    let every = order::append_index(&order::sorted_values(&t, |_| true));
    let writers = direct::write_index(&t, |_| true);
    let mut all: Vec<Case> = Vec::new();
    all.extend(direct::g1a(&t));
    all.extend(direct::g1b(&t));
    all.extend(direct::internal(&t));
    all.extend(direct::dirty_update(&t, &every, &writers));
    all.extend(order::duplicates(&t));
    all.extend(order::incompatible_orders(&t, &sorted));
    all.extend(direct::lost_update(&t));
    let deps = deps::Deps::build(&t, &index, extra);
    if !deps.graph.linked {
        all.push(Case {
            kind: "empty-transaction-graph".into(),
            ops: vec![],
            explanation: "no dependency between any two transactions could be inferred".into(),
            detail: Value::Null,
        });
    }
    all.extend(cycles::cycle_cases(&deps, timeout));
    let mut result = verdict(all, &prohibited, &canonical, Rule::Elle, probes);
    let unwritten = direct::unwritten(&every, &writers);
    if let (Some(&(k, e)), Value::Object(map)) = (unwritten.first(), &mut result) {
        map.insert("valid?".into(), json!("unknown"));
        map.insert(
            "error".into(),
            json!(format!(
                "element {} of key {} was read but never appended; Elle 0.1.6 (Maelstrom 0.2.3) \
                 stops on such a history, so the verdict is unknown",
                t.name(e),
                t.name(k)
            )),
        );
        map.insert(
            "unwritten-elements".into(),
            json!(unwritten
                .iter()
                .map(|&(k, e)| json!([t.name(k), t.name(e)]))
                .collect::<Vec<_>>()),
        );
    }
    result
}
