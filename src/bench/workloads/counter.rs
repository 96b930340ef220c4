//! The `g-counter` and `pn-counter` workloads (spec §5.4; Maelstrom's
//! `workload/g_counter.clj` and `pn_counter.clj`).
//!
//! # Generator
//!
//! Each operation is, with equal probability, a read or an add whose delta
//! is uniform in −5…4. pn-counter keeps every draw (so half the ops are
//! adds, with negative deltas too); g-counter throws away negative adds and
//! draws again, which leaves deltas uniform in 0…4 and about one add in
//! three operations. After the main phase (and the engine's heal and
//! recovery wait), every worker performs exactly one read marked `final?`.
//!
//! # Client
//!
//! `add` → `{"type":"add","delta":d}` answered by `add_ok`; `read` →
//! `{"type":"read"}` answered by `read_ok` with an integer `value`. Replies
//! are checked against closed schemas. This client does not use Maelstrom's
//! error mapping: every error reply, timeout or malformed reply escapes as an
//! exception in Maelstrom, which the interpreter records as an `info` op
//! whose error begins with `"indeterminate: "`; we do the same. An add that
//! ends `info` may or may not have happened.
//!
//! # Checker
//!
//! The definite total is the sum of `ok` adds; every `info` add may or may
//! not count, so the acceptable totals are the definite total plus any
//! subset-sum of the `info` deltas, kept as a set of disjoint inclusive
//! integer ranges. Every `ok` read marked `final?` must be acceptable;
//! reads during the run are not checked. Result keys: `valid?`, `errors`
//! (the offending final reads, or null), `final-reads` (their values, in
//! history order) and `acceptable` (the ranges as `[lo, hi]` pairs).

use crate::bench::history::{History, OpType};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, one_final_read, ClientStep, Completion, FinalStep, GenCtx, Invocation,
    RpcFailure, RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashSet;

/// The g-counter (or, with `pn`, pn-counter) workload.
pub fn new(_opts: &TestOpts, pn: bool) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(Counter {
        pn,
        finished: HashSet::new(),
    }))
}

/// The workload's state: which kind, and which workers did their final read.
#[derive(Debug)]
pub struct Counter {
    /// pn-counter (negative deltas allowed) rather than g-counter.
    pn: bool,
    /// Workers that have been handed their final read.
    finished: HashSet<usize>,
}

impl Counter {
    /// Draw the next main-phase operation.
    fn draw(&self, rng: &mut StdRng) -> Invocation {
        loop {
            if rng.gen_bool(0.5) {
                return Invocation::new("read", Value::Null);
            }
            let delta: i64 = rng.gen_range(0..10) - 5;
            if self.pn || delta >= 0 {
                return Invocation::new("add", json!(delta));
            }
        }
    }
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        if self.pn {
            "pn-counter"
        } else {
            "g-counter"
        }
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        Some(self.draw(rng))
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_step(&mut self, ctx: &GenCtx<'_>, _rng: &mut StdRng) -> FinalStep {
        one_final_read(&mut self.finished, ctx.worker)
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(CounterClient)
    }

    fn check(&self, history: &History, _opts: &TestOpts) -> Value {
        check(history)
    }
}

/// One worker's client; it keeps no state between operations.
#[derive(Debug, Default)]
pub struct CounterClient;

/// An indeterminate completion, as Jepsen records an escaped exception
/// (also used by g-set, whose client has no error mapping either).
pub fn indeterminate(inv: &Invocation, why: String) -> Completion {
    Completion {
        kind: OpType::Info,
        value: inv.value.clone(),
        error: Some(Value::String(format!("indeterminate: {why}"))),
    }
}

impl WorkloadClient for CounterClient {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        match inv.f.as_str() {
            "add" => ClientStep::Call(json!({"type": "add", "delta": inv.value})),
            "read" => ClientStep::Call(json!({"type": "read"})),
            other => ClientStep::Done(indeterminate(inv, format!("unknown operation {other:?}"))),
        }
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        let body = match outcome {
            Ok(body) => body,
            Err(RpcFailure::Timeout) => {
                return ClientStep::Done(indeterminate(inv, "timeout: no reply in time".into()))
            }
            Err(RpcFailure::Error { code, text, .. }) => {
                let name = crate::runtime::ErrorCode::from_code(code).name();
                return ClientStep::Done(indeterminate(
                    inv,
                    format!("rpc error {code} ({name}): {text}"),
                ));
            }
        };
        let malformed = |why: String| {
            ClientStep::Done(indeterminate(
                inv,
                format!("malformed-rpc-response: {why}: {body}"),
            ))
        };
        if inv.f == "add" {
            match check_closed_body(&body, "add_ok", &[]) {
                Ok(()) => ClientStep::Done(Completion::ok(inv.value.clone())),
                Err(why) => malformed(why),
            }
        } else {
            if let Err(why) = check_closed_body(&body, "read_ok", &["value"]) {
                return malformed(why);
            }
            match body.get("value").and_then(Value::as_i64) {
                Some(v) => ClientStep::Done(Completion::ok(json!(v))),
                None => malformed("value is missing or not an integer".into()),
            }
        }
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
    use rand::SeedableRng;

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
    fn generator_mixes_like_maelstrom() {
        for (pn, add_share, lo, hi) in [(false, 1.0 / 3.0, 0, 4), (true, 0.5, -5, 4)] {
            let w = Counter {
                pn,
                finished: HashSet::new(),
            };
            let mut rng = StdRng::seed_from_u64(7);
            let n = 30_000;
            let mut adds = 0;
            let mut seen = std::collections::BTreeMap::new();
            for _ in 0..n {
                let inv = w.draw(&mut rng);
                if inv.f == "add" {
                    adds += 1;
                    *seen.entry(inv.value.as_i64().unwrap()).or_insert(0) += 1;
                } else {
                    assert_eq!(inv.f, "read");
                    assert_eq!(inv.value, Value::Null);
                }
            }
            let share = adds as f64 / n as f64;
            assert!((share - add_share).abs() < 0.02, "pn={pn}: {share}");
            let keys: Vec<i64> = seen.keys().copied().collect();
            assert_eq!(keys, (lo..=hi).collect::<Vec<_>>(), "pn={pn}");
            let expect = adds as f64 / keys.len() as f64;
            for (d, c) in &seen {
                assert!((*c as f64 - expect).abs() < expect * 0.1, "delta {d}: {c}");
            }
        }
    }

    #[test]
    fn final_phase_is_one_read_per_worker() {
        let mut w = Counter {
            pn: false,
            finished: HashSet::new(),
        };
        let opts = TestOpts::with_nodes(3);
        let mut rng = StdRng::seed_from_u64(1);
        assert!(w.has_final_phase());
        for worker in 0..3 {
            let ctx = GenCtx {
                worker,
                process: worker as u64,
                node: "n0",
                time: std::time::Duration::ZERO,
                opts: &opts,
            };
            match w.final_step(&ctx, &mut rng) {
                FinalStep::Op(inv) => {
                    assert_eq!(inv.f, "read");
                    assert!(inv.final_phase);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(w.final_step(&ctx, &mut rng), FinalStep::Done);
        }
    }

    #[test]
    fn client_requests_and_reply_mapping() {
        let mut c = CounterClient;
        let add = Invocation::new("add", json!(3));
        let read = Invocation::new("read", Value::Null);
        assert_eq!(
            c.invoke(&add),
            ClientStep::Call(json!({"type": "add", "delta": 3}))
        );
        assert_eq!(c.invoke(&read), ClientStep::Call(json!({"type": "read"})));
        let ok = c.on_reply(&add, Ok(json!({"type": "add_ok", "in_reply_to": 1})));
        assert_eq!(ok, ClientStep::Done(Completion::ok(json!(3))));
        let ok = c.on_reply(
            &read,
            Ok(json!({"type": "read_ok", "in_reply_to": 2, "msg_id": 9, "value": 12})),
        );
        assert_eq!(ok, ClientStep::Done(Completion::ok(json!(12))));
        // Every failure is indeterminate, definite codes included.
        let failures = [
            Err(RpcFailure::Timeout),
            Err(RpcFailure::Error {
                code: 11,
                text: "busy".into(),
                body: json!({}),
            }),
            Ok(json!({"type": "add_ok", "in_reply_to": 1, "extra": 1})),
            Ok(json!({"type": "read_ok", "in_reply_to": 1, "value": 1.5})),
            Ok(json!({"type": "read_ok", "in_reply_to": 1})),
        ];
        for (i, f) in failures.into_iter().enumerate() {
            let inv = if i < 3 { &add } else { &read };
            let ClientStep::Done(done) = c.on_reply(inv, f) else {
                panic!("expected a completion");
            };
            assert_eq!(done.kind, OpType::Info, "case {i}");
            assert_eq!(done.value, inv.value);
            let e = done.error.as_ref().and_then(Value::as_str).unwrap_or("");
            assert!(e.starts_with("indeterminate: "), "case {i}: {e}");
        }
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
