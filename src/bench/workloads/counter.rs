//! The `g-counter` and `pn-counter` workloads (`maelstrom:
//! src/maelstrom/workload/g_counter.clj` and `pn_counter.clj`).
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
//! [`crate::bench::checkers::counter`]: every final read must be a total
//! the `ok` and `info` adds make possible.

use crate::bench::checkers::{self, Checker};
use crate::bench::history::OpType;
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

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(checkers::counter::Counter)
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

/// A reply's body, or the indeterminate completion a timeout or an error
/// reply makes (the counter and g-set clients map no error code to a
/// definite failure).
pub fn reply_body(inv: &Invocation, outcome: RpcOutcome) -> Result<Value, Completion> {
    match outcome {
        Ok(body) => Ok(body),
        Err(RpcFailure::Timeout) => Err(indeterminate(inv, "timeout: no reply in time".into())),
        Err(RpcFailure::Error { code, text, .. }) => {
            let name = crate::runtime::ErrorCode::from_code(code).name();
            Err(indeterminate(
                inv,
                format!("rpc error {code} ({name}): {text}"),
            ))
        }
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
        let body = match reply_body(inv, outcome) {
            Ok(body) => body,
            Err(done) => return ClientStep::Done(done),
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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
}
