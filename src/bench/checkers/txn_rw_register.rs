//! The txn-rw-register checker: Elle's rw-register analysis
//! ([`super::elle`]) as Maelstrom runs it
//! (`maelstrom: src/maelstrom/workload/txn_rw_register.clj`, `checker`),
//! with `--consistency-models`, plus two counts of replies Elle never sees
//! as wrong. The verdict is Elle 0.1.6's, which Maelstrom 0.2.3 runs: a
//! `*-cycle-exists` probe hit is a warning unless `--strict`
//! ([`super::elle::Probes`]).
//!
//! - **Malformed responses**: replies that broke Maelstrom's `txn_ok`
//!   schema, which the client recorded as indeterminate (`info`) operations
//!   with the error `malformed-rpc-response`. Counted under
//!   `malformed-responses`, with one example; they do not change the
//!   verdict, as in Maelstrom (Elle treats them like any `info`).
//! - **Mismatched responses**: `ok` replies whose micro-ops are not the
//!   requested ones in order, with writes unchanged. Maelstrom's schema
//!   lets them through and Elle judges what came back, so a node that
//!   rewrites its transactions can look serializable; the bench counts them
//!   under `mismatched-responses` with one example and a `warning`, and
//!   keeps Elle's verdict, as Maelstrom would; under `--strict` any one
//!   makes the result invalid.
//!
//! Maelstrom's result always carries `anomaly-types` and `anomalies`, even
//! when valid; so does ours.

use super::elle::{check_with, Probes, CYCLE_SEARCH_TIMEOUT};
use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use crate::bench::opts::TestOpts;
use serde_json::{json, Value};

/// The error tag the workload's client puts on malformed replies.
pub const MALFORMED: &str = "malformed-rpc-response";

/// The txn-rw-register checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxnRwRegister;

impl Checker for TxnRwRegister {
    fn check(&self, input: &Input<'_>) -> Value {
        check(input.history, input.opts)
    }
}

/// What Maelstrom's schema does not check: the completed txn holds the
/// requested micro-ops, in order, with writes (and txn-list-append's
/// appends) unchanged.
pub fn matches_request(request: &Value, txn: &Value) -> Result<(), String> {
    let got = txn.as_array().map(Vec::as_slice).unwrap_or_default();
    let want = request.as_array().map(Vec::as_slice).unwrap_or_default();
    if got.len() != want.len() {
        return Err(format!(
            "txn has {} micro-ops, the request had {}",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let (Some([gf, gk, gv]), Some([wf, wk, wv])) = (
            g.as_array().map(Vec::as_slice),
            w.as_array().map(Vec::as_slice),
        ) else {
            return Err(format!(
                "micro-op {i} ({g}) or its request ({w}) is not a triple"
            ));
        };
        if gf != wf || gk != wk {
            return Err(format!("micro-op {i} is {g}, the request had {w}"));
        }
        if wf != "r" && gv != wv {
            return Err(format!("write {i} came back as {g}, the request had {w}"));
        }
    }
    Ok(())
}

/// The completions the client marked malformed, and one example.
pub fn malformed(history: &History) -> (usize, Option<Value>) {
    let mut count = 0;
    let mut example = None;
    for op in &history.ops {
        let tagged = op.kind == OpType::Info
            && op
                .error
                .as_ref()
                .and_then(|e| e.get(0))
                .and_then(Value::as_str)
                == Some(MALFORMED);
        if tagged {
            count += 1;
            if example.is_none() {
                example = serde_json::to_value(op).ok();
            }
        }
    }
    (count, example)
}

/// The `ok` transactions whose reply does not hold the requested
/// micro-ops, and one example.
pub fn mismatched(history: &History) -> (usize, Option<Value>) {
    let mut count = 0;
    let mut example = None;
    for (inv, done) in history.client_pairs() {
        let Some(done) = done.filter(|d| d.kind == OpType::Ok && d.f == "txn") else {
            continue;
        };
        if let Err(why) = matches_request(&inv.value, &done.value) {
            count += 1;
            if example.is_none() {
                example = Some(json!({"request": inv.value, "reply": done.value, "why": why}));
            }
        }
    }
    (count, example)
}

/// The workload's result: Elle's verdict, the malformed-response count,
/// and the replies that do not match their request (which make it invalid).
pub fn check(history: &History, opts: &TestOpts) -> Value {
    let probes = Probes::for_run(opts.strict);
    let mut result = check_with(
        history,
        &opts.consistency_models,
        CYCLE_SEARCH_TIMEOUT,
        probes,
    );
    if let Value::Object(map) = &mut result {
        // Maelstrom's result always carries these two, even when valid
        // (`:anomaly-types ()`, `:anomalies nil`).
        map.entry("anomaly-types").or_insert_with(|| json!([]));
        map.entry("anomalies").or_insert(Value::Null);
    }
    with_response_checks(result, history, opts.strict)
}

/// Adds to an Elle verdict what Maelstrom's schema lets through: the
/// malformed-response count and the replies that do not match their
/// request (a warning, or, when `strict`, an invalid result). Shared by
/// txn-rw-register and txn-list-append.
pub fn with_response_checks(mut result: Value, history: &History, strict: bool) -> Value {
    let (count, example) = malformed(history);
    let (mismatches, mismatch_example) = mismatched(history);
    if let Value::Object(map) = &mut result {
        map.insert("mismatched-responses".into(), json!(mismatches));
        if let Some(ex) = mismatch_example {
            map.insert("mismatched-response-example".into(), ex);
            if strict {
                map.insert("valid?".into(), Value::Bool(false));
            } else {
                map.insert(
                    "warning".into(),
                    json!("WARNING: some ok replies are not the requested micro-ops in order; Maelstrom's schema accepts them and Elle judges what came back, so the verdict is Elle's; --strict makes them invalid"),
                );
            }
        }
        map.insert("malformed-responses".into(), json!(count));
        if let Some(ex) = example {
            map.insert("malformed-response-example".into(), ex);
        }
    }
    result
}
