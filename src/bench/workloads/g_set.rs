//! The `g-set` workload, as Maelstrom 0.2.3 runs it
//! (`maelstrom: src/maelstrom/workload/g_set.clj`): a grow-only set that
//! clients add to and read, checked by Jepsen's `set-full`
//! (`jepsen: jepsen/src/jepsen/checker.clj` `set-full`).
//!
//! # Generator
//!
//! A random 50/50 mix (Jepsen's `gen/mix`) of `add` with the values 0, 1,
//! 2, … (globally unique and increasing) and `read`. After the main phase,
//! the engine's heal and recovery wait, every worker performs exactly one
//! `read` (`gen/each-thread`). Unlike broadcast's and the counters', these
//! final reads are **not** marked `final?`: Maelstrom's g-set generator
//! does not mark them (the checker does not care either way).
//!
//! # Client
//!
//! `add` → `{"type": "add", "element": v}` answered by a bare `add_ok`;
//! `read` → `{"type": "read"}` answered by `read_ok` with `value`, an
//! array (or `null`, which Maelstrom's schema admits and set-full reads as
//! the empty set). Replies are checked as closed schemas. Maelstrom's g-set client
//! has no `with-errors`: an error reply, a timeout or a malformed reply
//! escapes as an exception, which Jepsen records as an `info` op, for
//! reads too. We do the same (as the counter client does). An `add` that
//! ends `info` may or may not have happened.
//!
//! # Checker
//!
//! The set-full checker that broadcast uses, with `add` playing
//! broadcast's part ([`check`]): an element is *lost* when a read invoked
//! after every read that saw it (and after it was known) misses it, and
//! the result is invalid if any element is lost, unknown if no element is
//! stable. The checker lives with broadcast (it is moving to the checker
//! layer); we hand it the history with `add` renamed, rather than keep a
//! second copy of it.

use super::counter::{indeterminate, reply_body};
use crate::bench::checkers::set_full::{check_set_full, SetFull};
use crate::bench::checkers::Checker;
use crate::bench::history::History;
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, one_final_read, ClientStep, Completion, FinalStep, GenCtx, Invocation,
    RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashSet;

/// The g-set workload, configured by `opts`.
pub fn new(_opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(GSet {
        next_value: 0,
        finished: HashSet::new(),
    }))
}

/// The generator's state.
#[derive(Debug)]
struct GSet {
    /// The next element to add (globally unique, increasing).
    next_value: u64,
    /// Workers that have been handed their final read.
    finished: HashSet<usize>,
}

impl Workload for GSet {
    fn name(&self) -> &'static str {
        "g-set"
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        if rng.gen_bool(0.5) {
            let v = self.next_value;
            self.next_value += 1;
            Some(Invocation::new("add", json!(v)))
        } else {
            Some(Invocation::new("read", Value::Null))
        }
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_step(&mut self, ctx: &GenCtx<'_>, _rng: &mut StdRng) -> FinalStep {
        match one_final_read(&mut self.finished, ctx.worker) {
            FinalStep::Op(mut read) => {
                read.final_phase = false;
                FinalStep::Op(read)
            }
            other => other,
        }
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(SetFull::new("add"))
    }
}

/// A g-set client; it keeps nothing between operations.
#[derive(Debug, Default)]
struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        match inv.f.as_str() {
            "add" => ClientStep::Call(json!({"type": "add", "element": inv.value})),
            "read" => ClientStep::Call(json!({"type": "read"})),
            other => ClientStep::Done(indeterminate(inv, format!("unknown operation {other:?}"))),
        }
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        let body = match reply_body(inv, outcome) {
            Ok(body) => body,
            Err(done) => return ClientStep::Done(done),
        };
        let malformed =
            |why: String| indeterminate(inv, format!("malformed-rpc-response: {why}: {body}"));
        ClientStep::Done(if inv.f == "add" {
            match check_closed_body(&body, "add_ok", &[]) {
                Ok(()) => Completion::ok(inv.value.clone()),
                Err(why) => malformed(why),
            }
        } else {
            match check_closed_body(&body, "read_ok", &["value"]) {
                // Maelstrom's schema `[s/Any]` also admits null, which
                // set-full then reads as the empty set.
                Ok(()) => match body.get("value") {
                    Some(v @ (Value::Array(_) | Value::Null)) => Completion::ok(v.clone()),
                    _ => malformed("value is missing or not an array".into()),
                },
                Err(why) => malformed(why),
            }
        })
    }
}

/// Jepsen's `set-full` over a g-set history: broadcast's checker, with
/// `add` entries presented as the `broadcast`s it expects.
pub fn check(history: &History) -> Value {
    check_set_full(history, "add")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, OpType};
    use crate::bench::workload::RpcFailure;
    use rand::SeedableRng;

    fn ctx(opts: &TestOpts) -> GenCtx<'_> {
        GenCtx {
            worker: 0,
            process: 0,
            node: "n0",
            time: std::time::Duration::ZERO,
            opts,
        }
    }

    #[test]
    fn generator_mixes_unique_adds_and_reads_then_one_unmarked_final_read() {
        let opts = TestOpts::with_nodes(1);
        let mut w = new(&opts).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let ops: Vec<Invocation> = (0..400)
            .filter_map(|_| w.next_op(&ctx(&opts), &mut rng))
            .collect();
        let adds: Vec<u64> = ops
            .iter()
            .filter(|i| i.f == "add")
            .map(|i| i.value.as_u64().unwrap())
            .collect();
        assert!((150..250).contains(&adds.len()), "{}", adds.len());
        assert_eq!(adds, (0..adds.len() as u64).collect::<Vec<_>>());
        assert!(ops.iter().all(|i| i.f == "add" || i.f == "read"));
        let FinalStep::Op(fin) = w.final_step(&ctx(&opts), &mut rng) else {
            panic!("expected a final read");
        };
        assert_eq!((fin.f.as_str(), fin.final_phase), ("read", false));
        assert_eq!(w.final_step(&ctx(&opts), &mut rng), FinalStep::Done);
    }

    #[test]
    fn client_speaks_maelstroms_schema_and_every_failure_is_indeterminate() {
        let mut c = Client;
        let add = Invocation::new("add", json!(4));
        assert_eq!(
            c.invoke(&add),
            ClientStep::Call(json!({"type": "add", "element": 4}))
        );
        let read = Invocation::new("read", Value::Null);
        assert_eq!(c.invoke(&read), ClientStep::Call(json!({"type": "read"})));
        let done = |c: &mut Client, inv: &Invocation, o: RpcOutcome| match c.on_reply(inv, o) {
            ClientStep::Done(d) => d,
            other => panic!("expected done, got {other:?}"),
        };
        let ok = done(
            &mut c,
            &add,
            Ok(json!({"type": "add_ok", "in_reply_to": 1})),
        );
        assert_eq!((ok.kind, ok.value), (OpType::Ok, json!(4)));
        let r = done(
            &mut c,
            &read,
            Ok(json!({"type": "read_ok", "in_reply_to": 1, "value": [1, 2]})),
        );
        assert_eq!((r.kind, r.value), (OpType::Ok, json!([1, 2])));
        let r = done(
            &mut c,
            &read,
            Ok(json!({"type": "read_ok", "in_reply_to": 1, "value": null})),
        );
        assert_eq!((r.kind, r.value), (OpType::Ok, Value::Null));
        let failures = [
            Err(RpcFailure::Timeout),
            Err(RpcFailure::Error {
                code: 11,
                text: "unavailable".into(),
                body: json!({}),
            }),
            Ok(json!({"type": "read_ok", "in_reply_to": 1, "messages": [1]})),
            Ok(json!({"type": "read_ok", "in_reply_to": 1, "value": 3})),
        ];
        for f in failures {
            let d = done(&mut c, &read, f);
            assert_eq!(d.kind, OpType::Info, "{d:?}");
            assert!(d
                .error
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("indeterminate: "));
        }
        let d = done(
            &mut c,
            &add,
            Ok(json!({"type": "add_ok", "in_reply_to": 1, "x": 1})),
        );
        assert_eq!(d.kind, OpType::Info);
    }

    fn op(ms: u64, p: u64, kind: OpType, f: &str, value: Value) -> Op {
        Op::client(ms * 1_000_000, p, kind, f, value)
    }

    #[test]
    fn set_full_sees_adds_as_elements_and_finds_the_lost_one() {
        use OpType::{Invoke, Ok as Done};
        let mut h = History::new();
        for o in [
            op(0, 0, Invoke, "add", json!(0)),
            op(1, 0, Done, "add", json!(0)),
            op(2, 1, Invoke, "add", json!(1)),
            op(3, 1, Done, "add", json!(1)),
            op(4, 0, Invoke, "read", Value::Null),
            op(5, 0, Done, "read", json!([0, 1])),
            op(6, 1, Invoke, "read", Value::Null),
            op(7, 1, Done, "read", json!([0])),
        ] {
            h.push(o);
        }
        let r = check(&h);
        assert_eq!(r["valid?"], false, "{r}");
        assert_eq!(r["lost"], json!([1]));
        assert_eq!(r["stable-count"], 1);
        assert_eq!(r["attempt-count"], 2);
        // A stray `broadcast` entry is not an add.
        h.push(op(8, 2, Invoke, "broadcast", json!(9)));
        assert_eq!(check(&h)["attempt-count"], 2);
    }
}
