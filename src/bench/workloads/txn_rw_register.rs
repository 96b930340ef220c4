//! The `txn-rw-register` workload
//! (`maelstrom: src/maelstrom/workload/txn_rw_register.clj`).
//!
//! **Generator** (Elle's write/read transaction stream, shared by every
//! worker): each transaction has 1…`--max-txn-length` micro-ops, each a read
//! or a write with equal probability, on a key drawn from an active pool of
//! `--key-count` keys (default 10) with Elle's exponential distribution
//! (base 2). Write values count up per key from 1; a key that has had
//! `--max-writes-per-key` writes is retired and replaced in the pool by one
//! more than the pool's largest key, so every write is unique per key.
//!
//! **Client** (reusable across processes): one `txn` RPC per transaction.
//! The reply is checked against Maelstrom's response schema: a `txn_ok`
//! with only the reserved keys and `txn`, a list of `["r"|"w", k, v]`
//! triples. A reply that breaks it is a *malformed response*: the operation
//! becomes indeterminate (`info`, Maelstrom's `malformed-rpc-response`),
//! counted under `malformed-responses`. Errors map as Maelstrom's
//! `with-errors` with no idempotent functions: timeouts and indefinite codes
//! → `info`, definite codes (11, 14, 30, …) → `fail`.
//!
//! Maelstrom's schema does not check that the reply holds the request's
//! micro-ops, so a node may reorder them, change a key or alter a written
//! value and its transaction still counts as `ok` and goes to Elle. The
//! bench does the same (making such replies indeterminate would hide their
//! reads from Elle, and with them anomalies Maelstrom finds), and is louder:
//! the checker counts every `ok` reply that does not hold the requested
//! micro-ops in order, with writes unchanged, under `mismatched-responses`
//! with a warning; under `--strict` any such reply makes the workload
//! invalid.
//!
//! **Checker**: [`crate::bench::checkers::txn_rw_register`] (Elle, plus the
//! malformed and mismatched reply counts). No final phase.

use crate::bench::checkers::txn_rw_register::matches_request;
use crate::bench::checkers::{self, Checker};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, ClientStep, Completion, GenCtx, Invocation,
    RpcOutcome, Workload, WorkloadClient,
};
use crate::bench::workloads::keys::KeyPool;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// Elle's default key pool for the exponential distribution.
const DEFAULT_KEY_COUNT: usize = 10;

/// The generator's state: the active keys and each key's next write value.
#[derive(Debug, Clone)]
pub struct TxnGen {
    /// Elle's key pool.
    keys: KeyPool,
    /// Longest transaction.
    max_len: usize,
}

impl TxnGen {
    /// A generator for `key_count` keys, transactions of 1…`max_len`
    /// micro-ops and `max_writes` writes per key.
    pub fn new(key_count: usize, max_len: usize, max_writes: usize) -> Self {
        TxnGen {
            keys: KeyPool::new(key_count, max_writes),
            max_len: max_len.max(1),
        }
    }

    /// The next transaction, as a list of micro-op triples (reads `null`).
    pub fn next_txn(&mut self, rng: &mut StdRng) -> Value {
        let len = rng.gen_range(1..=self.max_len);
        let mut txn = Vec::with_capacity(len);
        while txn.len() < len {
            let write = rng.gen_bool(0.5);
            let ki = self.keys.key_index(rng);
            if !write {
                txn.push(json!(["r", self.keys.key(ki), null]));
            } else if let Some((k, v)) = self.keys.next_write(ki) {
                txn.push(json!(["w", k, v]));
            }
            // else: the key was retired; the draw is repeated.
        }
        Value::Array(txn)
    }
}

/// Maelstrom's response schema for `txn_ok`: a closed body whose `txn` is
/// a list of `["r"|"w", key, value]` triples. Returns the completed txn.
pub fn schema_reply(body: &Value) -> Result<Value, String> {
    check_closed_body(body, "txn_ok", &["txn"])?;
    let Some(got) = body.get("txn").and_then(Value::as_array) else {
        return Err("txn is missing or not a list".into());
    };
    for (i, g) in got.iter().enumerate() {
        match g.as_array().map(Vec::as_slice) {
            Some([f, _, _]) if f == "r" || f == "w" => {}
            _ => {
                return Err(format!(
                    "micro-op {i} ({g}) is not an [\"r\"|\"w\", k, v] triple"
                ))
            }
        }
    }
    Ok(Value::Array(got.clone()))
}

/// Both checks: Maelstrom's schema, then the match with the request.
pub fn validate_reply(request: &Value, body: &Value) -> Result<Value, String> {
    let txn = schema_reply(body)?;
    matches_request(request, &txn)?;
    Ok(txn)
}

/// The client: one `txn` RPC per operation; no state between operations.
/// Its field is the workload's `txn_ok` schema (this module's
/// [`schema_reply`], or txn-list-append's); everything else is shared.
#[derive(Debug, Clone, Copy)]
pub struct TxnClient(pub fn(&Value) -> Result<Value, String>);

impl WorkloadClient for TxnClient {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        ClientStep::Call(json!({"type": "txn", "txn": inv.value}))
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        ClientStep::Done(match outcome {
            Ok(body) => match (self.0)(&body) {
                Ok(txn) => Completion::ok(txn),
                Err(why) => malformed_reply(&inv.value, &body, &why),
            },
            Err(failure) => map_failure(&inv.f, &[], &inv.value, &failure),
        })
    }
}

/// The workload: the shared generator plus the checker's options.
#[derive(Debug)]
pub struct TxnRwRegister {
    /// Elle's transaction stream, shared by all workers.
    generator: TxnGen,
}

/// The workload, configured by `opts`.
pub fn new(opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(TxnRwRegister {
        generator: TxnGen::new(
            opts.key_count.unwrap_or(DEFAULT_KEY_COUNT),
            opts.max_txn_length,
            opts.max_writes_per_key,
        ),
    }))
}

impl Workload for TxnRwRegister {
    fn name(&self) -> &'static str {
        "txn-rw-register"
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("txn", self.generator.next_txn(rng)))
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(TxnClient(schema_reply))
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(checkers::txn_rw_register::TxnRwRegister)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::OpType;
    use crate::bench::workload::RpcFailure;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn generated_writes_are_unique_per_key_and_lengths_bounded() {
        let mut g = TxnGen::new(3, 4, 5);
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = HashSet::new();
        let mut keys = HashSet::new();
        for _ in 0..2000 {
            let txn = g.next_txn(&mut rng);
            let mops = txn.as_array().unwrap();
            assert!((1..=4).contains(&mops.len()));
            for m in mops {
                let [f, k, v] = m.as_array().unwrap().as_slice() else {
                    panic!("not a triple: {m}");
                };
                keys.insert(k.as_u64().unwrap());
                if f == "w" {
                    let v = v.as_u64().unwrap();
                    assert!((1..=5).contains(&v), "{m}");
                    assert!(seen.insert((k.as_u64().unwrap(), v)), "duplicate write {m}");
                } else {
                    assert!(v.is_null());
                }
            }
        }
        // Keys are retired and replaced as they fill up.
        assert!(keys.len() > 3);
    }

    #[test]
    fn exponential_keys_favour_later_pool_slots() {
        let g = TxnGen::new(10, 1, 16);
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0usize; 10];
        for _ in 0..20000 {
            counts[g.keys.key_index(&mut rng)] += 1;
        }
        assert!(counts[9] > counts[8] && counts[8] > counts[5] && counts[5] > counts[0]);
    }

    #[test]
    fn replies_must_echo_the_request() {
        let req = json!([["r", 1, null], ["w", 2, 3]]);
        let ok = json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1, 9], ["w", 2, 3]]});
        assert_eq!(validate_reply(&req, &ok).unwrap(), ok["txn"]);
        for bad in [
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1, 9]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1, 9], ["w", 2, 4]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["w", 2, 3], ["r", 1, 9]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["read", 1, 9], ["w", 2, 3]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1], ["w", 2, 3]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 5, 9], ["w", 2, 3]]}),
            json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["r", 1, 9], ["w", 2, 3]], "x": 1}),
            json!({"type": "txn", "in_reply_to": 1, "txn": [["r", 1, 9], ["w", 2, 3]]}),
        ] {
            assert!(validate_reply(&req, &bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn client_maps_outcomes() {
        let inv = Invocation::new("txn", json!([["w", 1, 1]]));
        let mut c = TxnClient(schema_reply);
        let ClientStep::Done(d) = c.on_reply(&inv, Err(RpcFailure::Timeout)) else {
            panic!("expected done");
        };
        assert_eq!(d.kind, OpType::Info);
        let abort = RpcFailure::Error {
            code: 30,
            text: "conflict".into(),
            body: json!({}),
        };
        let ClientStep::Done(d) = c.on_reply(&inv, Err(abort)) else {
            panic!("expected done");
        };
        assert_eq!(d.kind, OpType::Fail);
        // Maelstrom's schema: a wrong triple is malformed (info)…
        let bad = json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["x", 1, 2]]});
        let ClientStep::Done(d) = c.on_reply(&inv, Ok(bad)) else {
            panic!("expected done");
        };
        assert_eq!(d.kind, OpType::Info);
        assert_eq!(
            d.error.unwrap()[0],
            crate::bench::checkers::txn_rw_register::MALFORMED
        );
        // …but a well-formed reply that does not match the request is ok, as
        // in Maelstrom (the checker flags it).
        let altered = json!({"type": "txn_ok", "in_reply_to": 1, "txn": [["w", 1, 2]]});
        let ClientStep::Done(d) = c.on_reply(&inv, Ok(altered)) else {
            panic!("expected done");
        };
        assert_eq!(d.kind, OpType::Ok);
        assert_eq!(d.value, json!([["w", 1, 2]]));
    }
}
