//! The g-counter and pn-counter checker (`maelstrom:
//! src/maelstrom/workload/pn_counter.clj`, `checker`, which g-counter uses
//! too).
//!
//! The definite total is the sum of `ok` adds; every `info` add may or may
//! not have happened, so the acceptable totals are the definite total plus
//! any subset-sum of the `info` deltas, kept as a set of disjoint inclusive
//! integer ranges ([`RangeSet`]; Maelstrom keeps a Guava range set). Every
//! `ok` read marked `final?` must be acceptable; reads during the run are
//! not checked, since a counter is only eventually consistent. `fail` adds
//! did not happen and are ignored.
//!
//! Result keys: `valid?`, `errors` (the offending final reads, or null),
//! `final-reads` (their values, in history order) and `acceptable` (the
//! ranges as `[lo, hi]` pairs). A non-integer add or final read makes the
//! result `unknown`, as Maelstrom's arithmetic would throw.

use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use serde_json::{json, Value};

/// The counter checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter;

impl Checker for Counter {
    fn check(&self, input: &Input<'_>) -> Value {
        check(input.history)
    }
}

/// A set of integers kept as disjoint, non-adjacent inclusive ranges in
/// ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(i64, i64)>,
}

impl RangeSet {
    /// The set `{v}`.
    pub fn single(v: i64) -> Self {
        RangeSet {
            ranges: vec![(v, v)],
        }
    }

    /// Replace the set by its union with itself shifted by `delta`: every
    /// total stays possible, with or without one more maybe-add.
    pub fn add_maybe(&mut self, delta: i64) {
        if delta == 0 {
            return;
        }
        let mut all = self.ranges.clone();
        all.extend(
            self.ranges
                .iter()
                .map(|&(lo, hi)| (lo.saturating_add(delta), hi.saturating_add(delta))),
        );
        all.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.ranges = merged;
    }

    /// Whether `v` is in the set.
    pub fn contains(&self, v: i64) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= v && v <= hi)
    }

    /// The ranges, as `[lo, hi]` pairs.
    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }
}

/// The counter checker over a finished history (see the module docs).
pub fn check(history: &History) -> Value {
    let mut definite: i64 = 0;
    let mut maybe: Vec<i64> = Vec::new();
    for op in history.ops.iter().filter(|o| o.is_client() && o.f == "add") {
        let delta = match op.kind {
            OpType::Ok | OpType::Info => op.value.as_i64(),
            _ => continue,
        };
        let Some(delta) = delta else {
            return json!({
                "valid?": "unknown",
                "error": format!("add {} has a non-integer value {}", op.index, op.value),
            });
        };
        if op.kind == OpType::Ok {
            definite = definite.saturating_add(delta);
        } else {
            maybe.push(delta);
        }
    }
    let mut acceptable = RangeSet::single(definite);
    for d in maybe {
        acceptable.add_maybe(d);
    }
    let mut final_reads = Vec::new();
    let mut errors = Vec::new();
    // A completion is final if it or its invocation is marked `final?`.
    let partner = history.pairs();
    for (pos, op) in history.ops.iter().enumerate() {
        let is_final = op.final_phase || partner[pos].is_some_and(|i| history.ops[i].final_phase);
        if !(op.is_client() && op.kind == OpType::Ok && is_final) {
            continue;
        }
        let Some(v) = op.value.as_i64() else {
            return json!({
                "valid?": "unknown",
                "error": format!("final read {} has a non-integer value {}", op.index, op.value),
            });
        };
        final_reads.push(v);
        if !acceptable.contains(v) {
            errors.push(serde_json::to_value(op).unwrap_or(Value::Null));
        }
    }
    let ranges: Vec<Value> = acceptable
        .ranges()
        .iter()
        .map(|&(lo, hi)| json!([lo, hi]))
        .collect();
    json!({
        "valid?": errors.is_empty(),
        "errors": if errors.is_empty() { Value::Null } else { Value::Array(errors) },
        "final-reads": final_reads,
        "acceptable": ranges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, Process};

    fn op(process: u64, kind: OpType, f: &str, value: Value, final_phase: bool) -> Op {
        Op {
            index: 0,
            time: 0,
            process: Process::Client(process),
            kind,
            f: f.into(),
            value,
            error: None,
            final_phase,
        }
    }

    /// A history from `(kind, f, value, final?)` completions, each preceded
    /// by its invocation.
    fn history(entries: &[(OpType, &str, Value, bool)]) -> History {
        let mut h = History::new();
        for (i, (kind, f, value, fin)) in entries.iter().enumerate() {
            let inv_value = if *f == "read" {
                Value::Null
            } else {
                value.clone()
            };
            h.push(op(i as u64, OpType::Invoke, f, inv_value, *fin));
            h.push(op(i as u64, *kind, f, value.clone(), *fin));
        }
        h
    }

    #[test]
    fn range_set_subset_sums() {
        let mut s = RangeSet::single(10);
        s.add_maybe(0);
        assert_eq!(s.ranges(), &[(10, 10)]);
        s.add_maybe(3);
        assert_eq!(s.ranges(), &[(10, 10), (13, 13)]);
        s.add_maybe(1);
        assert_eq!(s.ranges(), &[(10, 11), (13, 14)]);
        s.add_maybe(2);
        assert_eq!(s.ranges(), &[(10, 16)]);
        s.add_maybe(-20);
        assert_eq!(s.ranges(), &[(-10, -4), (10, 16)]);
        assert!(s.contains(-4) && s.contains(10) && !s.contains(0) && !s.contains(17));
    }

    #[test]
    fn checker_accepts_definite_plus_subsets_of_maybes() {
        use OpType::*;
        let h = history(&[
            (Ok, "add", json!(2), false),
            (Ok, "add", json!(3), false),
            (Info, "add", json!(4), false),
            (Fail, "add", json!(100), false),
            (Info, "read", Value::Null, false),
            (Ok, "read", json!(999), false), // not final: unchecked
            (Ok, "read", json!(5), true),
            (Ok, "read", json!(9), true),
            (Info, "read", Value::Null, true),
        ]);
        let r = check(&h);
        assert_eq!(r["valid?"], true, "{r}");
        assert_eq!(r["errors"], Value::Null);
        assert_eq!(r["final-reads"], json!([5, 9]));
        assert_eq!(r["acceptable"], json!([[5, 5], [9, 9]]));
    }

    #[test]
    fn checker_flags_a_wrong_final_read() {
        use OpType::*;
        let h = history(&[
            (Ok, "add", json!(2), false),
            (Info, "add", json!(4), false),
            (Ok, "read", json!(2), true),
            (Ok, "read", json!(4), true),
            (Ok, "read", json!(6), true),
        ]);
        let r = check(&h);
        assert_eq!(r["valid?"], false, "{r}");
        let errors = r["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["value"], 4);
        assert_eq!(errors[0]["final?"], true);
        assert_eq!(r["final-reads"], json!([2, 4, 6]));
        assert_eq!(r["acceptable"], json!([[2, 2], [6, 6]]));
    }

    #[test]
    fn checker_is_unknown_on_non_integer_values() {
        use OpType::*;
        let h = history(&[(Ok, "add", json!(1.5), false), (Ok, "read", json!(1), true)]);
        assert_eq!(check(&h)["valid?"], "unknown");
        let h = history(&[(Ok, "add", json!(1), false), (Ok, "read", json!("1"), true)]);
        assert_eq!(check(&h)["valid?"], "unknown");
    }

    #[test]
    fn no_final_reads_is_valid() {
        let h = history(&[(OpType::Ok, "add", json!(1), false)]);
        let r = check(&h);
        assert_eq!(r["valid?"], true);
        assert_eq!(r["final-reads"], json!([]));
    }
}
