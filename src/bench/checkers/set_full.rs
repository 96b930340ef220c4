//! Jepsen's `set-full` checker (`jepsen: jepsen/src/jepsen/checker.clj`,
//! `set-full`, with `linearizable? false`), as Maelstrom runs it on
//! broadcast (`maelstrom: src/maelstrom/workload/broadcast.clj`, where
//! `broadcast` plays `add`) and g-set (`g_set.clj`, with `add`).
//!
//! # What it decides
//!
//! Per element: the *known* op (the `ok` add, or the first `ok` read that
//! contained it, whichever came first), the invocation of the *last* `ok`
//! read that contained it and of the last that did not. An element is
//! **stable** if some read contained it and the last such read was invoked
//! after the last read that missed it; **lost** if it was known and the
//! last read that missed it was invoked after both the known op and the
//! last read that contained it; otherwise **never read**. Comparing
//! invocation indices (not completions) is Jepsen's rule: a final read that
//! misses an element only makes it lost if that read began after every
//! read that saw it.
//!
//! The test is invalid if any element is lost, unknown if no element is
//! stable (nothing was ever confirmed), and valid otherwise. Latencies, in
//! whole milliseconds: *stable latency* from the known op to just after the
//! last read that missed it, *lost latency* from the known op to just
//! after the last read that saw it; their quantiles are Maelstrom's
//! `stable-latencies` and `lost-latencies`, the Fly.io pages' figures.
//!
//! # Where we differ
//!
//! Duplicates inside one read are reported (`duplicated-count`,
//! `duplicated`, and a warning) and never change the verdict. Jepsen's
//! duplicate check can never fire (it keeps an element whose count in a
//! read is *below* one), so its verdict never depends on duplicates and
//! ours does not either; we only say more. Elements are compared as JSON
//! values: `1`, `1.0` and `"1"` are three elements.
//!
//! # Use
//!
//! [`SetFull::new`] names the operation that adds an element; reads are
//! `read` operations whose value is the array of elements seen.

use super::{Checker, Input};
use crate::bench::check::{quantiles, Validity};
use crate::bench::history::{History, Op, OpType};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The set-full checker over a history whose adds are named `add`.
#[derive(Debug, Clone, Copy)]
pub struct SetFull {
    /// The `f` of the operations that add an element (`broadcast`, `add`).
    add: &'static str,
}

impl SetFull {
    /// A set-full checker whose adds are the operations named `add`.
    pub fn new(add: &'static str) -> Self {
        SetFull { add }
    }
}

impl Checker for SetFull {
    fn check(&self, input: &Input<'_>) -> Value {
        check_set_full(input.history, self.add)
    }
}

/// A set element as a hashable, ordered key. JSON equality is structural, so
/// `1`, `1.0` and `"1"` are three different elements; integers sort
/// numerically before everything else, which sorts by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Elem {
    Int(i128),
    Other(String),
}

impl Elem {
    fn of(v: &Value) -> Elem {
        if let Some(i) = v.as_i64() {
            Elem::Int(i128::from(i))
        } else if let Some(u) = v.as_u64() {
            Elem::Int(i128::from(u))
        } else {
            Elem::Other(v.to_string())
        }
    }
}

/// What set-full tracks per element (history indices).
struct ElemState {
    /// The element as broadcast.
    value: Value,
    /// The `ok` broadcast completion, or the first `ok` read completion that
    /// contained the element, whichever came first.
    known: Option<usize>,
    /// The invocation of the latest-invoked `ok` read containing it.
    last_present: Option<usize>,
    /// The invocation of the latest-invoked `ok` read missing it.
    last_absent: Option<usize>,
}

/// How an element ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stable,
    Lost,
    NeverRead,
}

/// Jepsen's `set-full` checker (`linearizable? false`) over `history`,
/// with operations named `add` adding an element and `read` reading the
/// set.
pub fn check_set_full(history: &History, add: &str) -> Value {
    let ops = &history.ops;
    let partner = history.pairs();
    let mut states: Vec<ElemState> = Vec::new();
    let mut by_elem: HashMap<Elem, usize> = HashMap::new();
    let mut dups: BTreeMap<Elem, (Value, usize)> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.is_client()) {
        let is_add = op.f == add;
        match op.kind {
            OpType::Invoke if is_add => {
                let st = ElemState {
                    value: op.value.clone(),
                    known: None,
                    last_present: None,
                    last_absent: None,
                };
                match by_elem.get(&Elem::of(&op.value)) {
                    Some(&i) => states[i] = st,
                    None => {
                        by_elem.insert(Elem::of(&op.value), states.len());
                        states.push(st);
                    }
                }
            }
            OpType::Ok if is_add => {
                if let Some(&i) = by_elem.get(&Elem::of(&op.value)) {
                    states[i].known.get_or_insert(op.index);
                }
            }
            OpType::Ok if op.f == "read" => {
                let Some(inv) = partner.get(op.index).copied().flatten() else {
                    continue;
                };
                let mut seen: HashMap<Elem, (usize, &Value)> = HashMap::new();
                if let Value::Array(vals) = &op.value {
                    for v in vals {
                        seen.entry(Elem::of(v)).or_insert((0, v)).0 += 1;
                    }
                }
                for (e, (count, v)) in &seen {
                    if *count > 1 {
                        let d = dups.entry(e.clone()).or_insert(((*v).clone(), 0));
                        d.1 = d.1.max(*count);
                    }
                }
                let ids: HashSet<usize> = seen
                    .keys()
                    .filter_map(|e| by_elem.get(e).copied())
                    .collect();
                for (i, st) in states.iter_mut().enumerate() {
                    if ids.contains(&i) {
                        st.known.get_or_insert(op.index);
                        if st.last_present.is_none_or(|p| p < inv) {
                            st.last_present = Some(inv);
                        }
                    } else if st.last_absent.is_none_or(|a| a < inv) {
                        st.last_absent = Some(inv);
                    }
                }
            }
            _ => {}
        }
    }
    summarize(ops, states, dups)
}

/// Whole milliseconds from `known` to `until`, never negative.
fn latency_ms(ops: &[Op], known: usize, until: u64) -> u64 {
    until.saturating_sub(ops[known].time) / 1_000_000
}

fn op_json(ops: &[Op], i: Option<usize>) -> Value {
    i.and_then(|i| serde_json::to_value(&ops[i]).ok())
        .unwrap_or(Value::Null)
}

/// How an element ended, with its latencies and the ops that explain them.
struct ElemResult {
    elem: Elem,
    value: Value,
    outcome: Outcome,
    stable_latency: Option<u64>,
    lost_latency: Option<u64>,
    known: Option<usize>,
    last_absent: Option<usize>,
}

/// Decide one element: stable, lost or never read, with its latency.
fn resolve(ops: &[Op], st: ElemState) -> ElemResult {
    let present = st.last_present.map(|i| i as i64).unwrap_or(-1);
    let absent = st.last_absent.map(|i| i as i64).unwrap_or(-1);
    let stable = st.last_present.is_some() && absent < present;
    let lost =
        matches!((st.known, st.last_absent), (Some(k), Some(a)) if present < a as i64 && k < a);
    let time_after = |i: Option<usize>| i.map(|i| ops[i].time + 1).unwrap_or(0);
    let (outcome, stable_latency, lost_latency) = match st.known {
        Some(k) if stable => (
            Outcome::Stable,
            Some(latency_ms(ops, k, time_after(st.last_absent))),
            None,
        ),
        Some(k) if lost => (
            Outcome::Lost,
            None,
            Some(latency_ms(ops, k, time_after(st.last_present))),
        ),
        _ => (Outcome::NeverRead, None, None),
    };
    ElemResult {
        elem: Elem::of(&st.value),
        value: st.value,
        outcome,
        stable_latency,
        lost_latency,
        known: st.known,
        last_absent: st.last_absent,
    }
}

/// The stale elements (stable, but missed by some read after they were
/// known), and the eight stalest with the ops that show it.
fn stale(ops: &[Op], results: &[ElemResult]) -> (Vec<Value>, Vec<Value>) {
    let mut stale: Vec<&ElemResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Stable && r.stable_latency.unwrap_or(0) > 0)
        .collect();
    let values: Vec<Value> = stale.iter().map(|r| r.value.clone()).collect();
    stale.sort_by(|a, b| (b.stable_latency, &b.elem).cmp(&(a.stable_latency, &a.elem)));
    let worst: Vec<Value> = stale
        .iter()
        .take(8)
        .map(|r| {
            json!({
                "element": r.value,
                "outcome": "stable",
                "stable-latency": r.stable_latency,
                "lost-latency": r.lost_latency,
                "known": op_json(ops, r.known),
                "last-absent": op_json(ops, r.last_absent),
            })
        })
        .collect();
    (values, worst)
}

/// The duplicates report: counts, the elements, and a warning.
fn report_duplicates(m: &mut Map<String, Value>, dups: &BTreeMap<Elem, (Value, usize)>) {
    m.insert("duplicated-count".into(), json!(dups.len()));
    let dup_map: Map<String, Value> = dups
        .values()
        .map(|(v, n)| (v.to_string(), json!(n)))
        .collect();
    if !dups.is_empty() {
        m.insert(
            "warnings".into(),
            json!([format!(
                "{} element(s) appeared more than once in a single read; Maelstrom's \
                 set-full never reports this, so the verdict ignores it",
                dups.len()
            )]),
        );
    }
    m.insert("duplicated".into(), Value::Object(dup_map));
}

fn summarize(ops: &[Op], states: Vec<ElemState>, dups: BTreeMap<Elem, (Value, usize)>) -> Value {
    let mut results: Vec<ElemResult> = states.into_iter().map(|st| resolve(ops, st)).collect();
    results.sort_by(|a, b| a.elem.cmp(&b.elem));
    let of = |o: Outcome| -> Vec<Value> {
        results
            .iter()
            .filter(|r| r.outcome == o)
            .map(|r| r.value.clone())
            .collect()
    };
    let stable = of(Outcome::Stable);
    let lost = of(Outcome::Lost);
    let never_read = of(Outcome::NeverRead);
    let (stale_values, worst_stale) = stale(ops, &results);
    let valid = if !lost.is_empty() {
        Validity::Invalid
    } else if stable.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let mut m = Map::new();
    m.insert("valid?".into(), json!(valid));
    m.insert("attempt-count".into(), json!(results.len()));
    m.insert("stable-count".into(), json!(stable.len()));
    m.insert("lost-count".into(), json!(lost.len()));
    m.insert("lost".into(), Value::Array(lost));
    m.insert("never-read-count".into(), json!(never_read.len()));
    m.insert("never-read".into(), Value::Array(never_read));
    m.insert("stale-count".into(), json!(stale_values.len()));
    m.insert("stale".into(), Value::Array(stale_values));
    m.insert("worst-stale".into(), Value::Array(worst_stale));
    let stable_lat: Vec<u64> = results.iter().filter_map(|r| r.stable_latency).collect();
    if let Some(q) = quantiles(&stable_lat) {
        m.insert("stable-latencies".into(), q);
    }
    let lost_lat: Vec<u64> = results.iter().filter_map(|r| r.lost_latency).collect();
    if let Some(q) = quantiles(&lost_lat) {
        m.insert("lost-latencies".into(), q);
    }
    report_duplicates(&mut m, &dups);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::Process;

    /// A history builder: `at(ms, process, type, f, value)`.
    struct H(History);

    impl H {
        fn new() -> Self {
            H(History::new())
        }
        fn at(&mut self, ms: f64, p: u64, kind: OpType, f: &str, value: Value) -> usize {
            self.0
                .push(Op::client((ms * 1e6) as u64, p, kind, f, value))
        }
        fn check(&self) -> Value {
            check_set_full(&self.0, "broadcast")
        }
    }

    use OpType::{Fail, Info, Invoke, Ok as Done};

    #[test]
    fn stable_element_with_latency_in_whole_ms() {
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 0, Done, "broadcast", json!(0));
        // A read on another node misses it, invoked 3.999998 ms in.
        h.at(3.999998, 1, Invoke, "read", Value::Null);
        h.at(4.5, 1, Done, "read", json!([]));
        h.at(5.0, 1, Invoke, "read", Value::Null);
        h.at(5.5, 1, Done, "read", json!([0]));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["stable-count"], 1);
        assert_eq!(r["stale"], json!([0]));
        // (3.999998 ms + 1 ns) − 1 ms = 2.999999 ms → 2.
        assert_eq!(r["stable-latencies"]["1"], 2);
        assert_eq!(r["worst-stale"][0]["stable-latency"], 2);
        assert_eq!(r["worst-stale"][0]["last-absent"]["index"], 2);
        assert!(r.get("lost-latencies").is_none());
    }

    #[test]
    fn last_invocation_decides_not_last_completion() {
        // The read that saw 0 was invoked *after* the read that missed it,
        // though it completed first: 0 is stable.
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 0, Done, "broadcast", json!(0));
        h.at(2.0, 1, Invoke, "read", Value::Null);
        h.at(3.0, 2, Invoke, "read", Value::Null);
        h.at(4.0, 2, Done, "read", json!([0]));
        h.at(5.0, 1, Done, "read", json!([]));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["stable-count"], 1);
        assert_eq!(r["lost-count"], 0);

        // Swapped invocation order: the missing read was invoked last, so 0
        // is lost, with its lost latency measured to the last present read.
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 0, Done, "broadcast", json!(0));
        h.at(2.0, 2, Invoke, "read", Value::Null);
        h.at(3.0, 1, Invoke, "read", Value::Null);
        h.at(4.0, 2, Done, "read", json!([0]));
        h.at(5.0, 1, Done, "read", json!([]));
        let r = h.check();
        assert_eq!(r["valid?"], false);
        assert_eq!(r["lost"], json!([0]));
        assert_eq!(r["lost-latencies"]["0"], 1);
        assert!(r.get("stable-latencies").is_none());
    }

    #[test]
    fn concurrent_miss_is_never_read_and_nothing_stable_is_unknown() {
        // The only read missing 0 was invoked before 0 was known: never read.
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 1, Invoke, "read", Value::Null);
        h.at(2.0, 0, Done, "broadcast", json!(0));
        h.at(3.0, 1, Done, "read", json!([]));
        let r = h.check();
        assert_eq!(r["valid?"], "unknown");
        assert_eq!(r["never-read"], json!([0]));
        assert_eq!(r["attempt-count"], 1);
    }

    #[test]
    fn unacknowledged_but_read_elements_count_and_failures_are_ignored() {
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(7));
        h.at(5000.0, 0, Info, "broadcast", json!(7));
        h.at(1.0, 1, Invoke, "read", Value::Null);
        h.at(2.0, 1, Done, "read", json!([7]));
        h.at(3.0, 1, Invoke, "read", Value::Null);
        h.at(4.0, 1, Fail, "read", Value::Null);
        // A later miss of 7 (known from the read) makes it lost.
        h.at(6000.0, 2, Invoke, "read", Value::Null);
        h.at(6001.0, 2, Done, "read", json!([1.0, "7"]));
        let mut nemesis = Op {
            index: 0,
            time: 0,
            process: Process::Nemesis,
            kind: Info,
            f: "start-partition".into(),
            value: json!("one"),
            error: None,
            final_phase: false,
        };
        nemesis.time = 6_002_000_000;
        h.0.push(nemesis);
        let r = h.check();
        assert_eq!(r["lost"], json!([7]));
        assert_eq!(r["valid?"], false);
        assert_eq!(r["lost-latencies"]["1"], 0);
    }

    #[test]
    fn duplicates_warn_without_changing_the_verdict() {
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(1));
        h.at(1.0, 0, Done, "broadcast", json!(1));
        h.at(2.0, 1, Invoke, "read", Value::Null);
        h.at(3.0, 1, Done, "read", json!([1, 1, 1, 9, 9]));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["duplicated-count"], 2);
        assert_eq!(r["duplicated"], json!({"1": 3, "9": 2}));
        assert!(r["warnings"].is_array());
    }

    #[test]
    fn quantiles_over_many_elements_and_sorted_outputs() {
        let mut h = H::new();
        // Elements 0..10 known at t = 0 ms; read k (at k·10 ms) sees only the
        // elements below k, so element e is last missed at e·10 ms.
        for k in (0..10u64).rev() {
            h.at(0.0, 0, Invoke, "broadcast", json!(k));
            h.at(0.0, 0, Done, "broadcast", json!(k));
        }
        for k in 0..10u64 {
            let present: Vec<u64> = (0..10).filter(|&e| e < k).collect();
            h.at((k * 10) as f64, 1, Invoke, "read", Value::Null);
            h.at((k * 10) as f64 + 0.5, 1, Done, "read", json!(present));
        }
        h.at(200.0, 1, Invoke, "read", Value::Null);
        h.at(201.0, 1, Done, "read", json!((0..10).collect::<Vec<u64>>()));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["stable-count"], 10);
        // Element k was last absent at k·10 ms → latencies 0, 10, …, 90.
        assert_eq!(
            r["stable-latencies"],
            json!({"0": 0, "0.5": 50, "0.95": 90, "0.99": 90, "1": 90})
        );
        assert_eq!(r["stale"], json!([1, 2, 3, 4, 5, 6, 7, 8, 9]));
        let worst: Vec<Value> = r["worst-stale"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["element"].clone())
            .collect();
        assert_eq!(
            worst,
            vec![
                json!(9),
                json!(8),
                json!(7),
                json!(6),
                json!(5),
                json!(4),
                json!(3),
                json!(2)
            ]
        );
    }
}
