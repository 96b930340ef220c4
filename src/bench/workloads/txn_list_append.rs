//! The `txn-list-append` workload, as Maelstrom 0.2.3 runs it
//! (`maelstrom: src/maelstrom/workload/txn_list_append.clj`, on
//! `jepsen: jepsen/src/jepsen/tests/cycle/append.clj` and
//! `elle: src/elle/list_append.clj`): transactions over a map of keys to
//! lists, where a write appends one element and a read returns the whole
//! list.
//!
//! # Generator
//!
//! Elle's list-append generator is its write/read generator with every
//! write turned into an append (`elle: src/elle/list_append.clj`
//! `append-txns` over `elle: src/elle/txn.clj` `wr-txns`), so we reuse the
//! txn-rw-register generator ([`TxnGen`]) and rename its writes:
//! transactions of 1…`--max-txn-length` (default 4) micro-ops, each a read
//! or an append with equal probability, on keys from Elle's exponential
//! pool of `--key-count` keys (default 10); appended values count up from
//! 1 per key, and a key with `--max-writes-per-key` appends (default 16)
//! is retired for a fresh one, so every element is appended once. Every
//! worker draws from the one shared stream. No final phase.
//!
//! # Client
//!
//! One `txn` RPC per transaction, `{"type": "txn", "txn": [["r", 1, null],
//! ["append", 1, 3]]}`; the reply must be a closed `txn_ok` whose `txn`
//! holds `["r", k, null | [...]]` and `["append", k, v]` triples, or is
//! `null` (Maelstrom's response schema: Plumatic Schema's sequences admit
//! `null`), else the operation is an indeterminate
//! `malformed-rpc-response` counted under `malformed-responses`. Errors map
//! as Maelstrom's `with-errors` with no idempotent functions: timeouts and
//! indefinite codes are `info`, definite ones (30 `txn-conflict`, 11, 14,
//! …) `fail`. The client is reusable across processes. As for
//! txn-rw-register, a well-formed reply that does not hold the requested
//! micro-ops in order (appends unchanged) still counts as `ok`, as in
//! Maelstrom, but is counted under `mismatched-responses` with a warning
//! (under `--strict` it makes the result invalid).
//!
//! # Checker
//!
//! [`crate::bench::checkers::txn_list_append`] with
//! `--consistency-models` (default strict-serializable), unwrapped, as
//! Maelstrom runs it.

use super::txn_rw_register::{TxnClient, TxnGen};
use crate::bench::checkers::{txn_list_append, Checker, Input};
use crate::bench::history::History;
use crate::bench::opts::TestOpts;
use crate::bench::workload::{check_closed_body, GenCtx, Invocation, Workload, WorkloadClient};
use rand::rngs::StdRng;
use serde_json::{json, Value};

/// Elle's default key pool for the exponential distribution.
const DEFAULT_KEY_COUNT: usize = 10;

/// The next transaction of `generator`, with its writes made appends.
pub fn next_txn(generator: &mut TxnGen, rng: &mut StdRng) -> Value {
    let mut txn = generator.next_txn(rng);
    if let Value::Array(mops) = &mut txn {
        for m in mops {
            if m.get(0).and_then(Value::as_str) == Some("w") {
                m[0] = json!("append");
            }
        }
    }
    txn
}

/// Maelstrom's response schema for `txn_ok`: a closed body whose `txn` is
/// a list of `["r", k, null | list]` and `["append", k, v]` triples.
/// Returns the completed txn.
pub fn schema_reply(body: &Value) -> Result<Value, String> {
    check_closed_body(body, "txn_ok", &["txn"])?;
    let got = match body.get("txn") {
        Some(Value::Array(got)) => got,
        // Schema's sequences admit null, which Maelstrom's `str->kw` turns
        // into an empty txn (our checker counts it as a mismatched reply).
        Some(Value::Null) => return Ok(Value::Array(Vec::new())),
        _ => return Err("txn is missing or not a list".into()),
    };
    for (i, g) in got.iter().enumerate() {
        match g.as_array().map(Vec::as_slice) {
            Some([f, _, v]) if f == "r" && (v.is_null() || v.is_array()) => {}
            Some([f, _, _]) if f == "append" => {}
            _ => {
                return Err(format!(
                    "micro-op {i} ({g}) is not [\"r\", k, null | list] or [\"append\", k, v]"
                ))
            }
        }
    }
    Ok(Value::Array(got.clone()))
}

/// The workload: the shared transaction stream.
#[derive(Debug)]
pub struct TxnListAppend {
    /// Elle's transaction stream, shared by all workers.
    generator: TxnGen,
}

/// The workload, configured by `opts`.
pub fn new(opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(TxnListAppend {
        generator: TxnGen::new(
            opts.key_count.unwrap_or(DEFAULT_KEY_COUNT),
            opts.max_txn_length,
            opts.max_writes_per_key,
        ),
    }))
}

/// The checker alone, on a history (for tests).
pub fn check_history(history: &History, opts: &TestOpts) -> Value {
    txn_list_append::TxnListAppend.check(&Input::new(history, opts))
}

impl Workload for TxnListAppend {
    fn name(&self) -> &'static str {
        "txn-list-append"
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("txn", next_txn(&mut self.generator, rng)))
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(TxnClient(schema_reply))
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(txn_list_append::TxnListAppend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::OpType;
    use crate::bench::workload::RpcFailure;
    use crate::bench::workload::{ClientStep, RpcOutcome};
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn transactions_read_and_append_unique_elements() {
        let mut g = TxnGen::new(3, 4, 5);
        let mut rng = StdRng::seed_from_u64(9);
        let mut seen = HashSet::new();
        let (mut reads, mut appends) = (0, 0);
        for _ in 0..2000 {
            let txn = next_txn(&mut g, &mut rng);
            let mops = txn.as_array().unwrap();
            assert!((1..=4).contains(&mops.len()));
            for m in mops {
                match m.as_array().unwrap().as_slice() {
                    [f, k, v] if f == "append" => {
                        appends += 1;
                        let kv = (k.as_u64().unwrap(), v.as_u64().unwrap());
                        assert!((1..=5).contains(&kv.1), "{m}");
                        assert!(seen.insert(kv), "element appended twice: {m}");
                    }
                    [f, _, v] if f == "r" => {
                        reads += 1;
                        assert!(v.is_null());
                    }
                    _ => panic!("unexpected micro-op {m}"),
                }
            }
        }
        assert!(
            reads > 1500 && appends > 1500,
            "{reads} reads, {appends} appends"
        );
    }

    #[test]
    fn replies_follow_maelstroms_schema() {
        let ok = json!({"type": "txn_ok", "in_reply_to": 1,
                        "txn": [["r", 1, [1, 2]], ["append", 1, 3], ["r", 2, null]]});
        assert_eq!(schema_reply(&ok).unwrap(), ok["txn"]);
        let empty = json!({"type": "txn_ok", "in_reply_to": 1, "txn": null});
        assert_eq!(schema_reply(&empty).unwrap(), json!([]));
        for bad in [
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1, 5]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["w", 1, 5]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["append", 1]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": {"r": 1}}),
            json!({"type": "txn_ok", "in_reply_to": 1}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [], "x": 1}),
            json!({"type": "txn", "in_reply_to": 1, "txn": []}),
        ] {
            assert!(schema_reply(&bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn client_maps_outcomes() {
        let inv = Invocation::new("txn", json!([["append", 1, 1]]));
        let mut c = TxnClient(schema_reply);
        let done = |o: RpcOutcome| match TxnClient(schema_reply).on_reply(&inv, o) {
            ClientStep::Done(d) => d,
            other => panic!("expected done, got {other:?}"),
        };
        assert_eq!(
            c.invoke(&inv),
            ClientStep::Call(json!({"type": "txn", "txn": [["append", 1, 1]]}))
        );
        assert_eq!(done(Err(RpcFailure::Timeout)).kind, OpType::Info);
        let abort = RpcFailure::Error {
            code: 30,
            text: "conflict".into(),
            body: json!({}),
        };
        assert_eq!(done(Err(abort)).kind, OpType::Fail);
        let bad = done(Ok(
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1, 2]]}),
        ));
        assert_eq!(bad.kind, OpType::Info);
        assert_eq!(bad.value, inv.value);
        let good = done(Ok(
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["append", 1, 1]]}),
        ));
        assert_eq!(
            (good.kind, good.value),
            (OpType::Ok, json!([["append", 1, 1]]))
        );
    }
}
