//! The interface between the bench's engine and a workload.
//!
//! A workload is three things, as in Maelstrom: a **generator** of operations
//! ([`Workload::next_op`], [`Workload::final_step`]), a **client** that turns
//! one operation into one or more RPCs to a node and the replies into a
//! completion ([`WorkloadClient`]), and a **checker** over the finished
//! history ([`Workload::checker`], one of [`crate::bench::checkers`]). The engine owns time, workers, processes,
//! client ids, `msg_id`s, the 5 s RPC timeout, the network, the nemesis and
//! the history; a workload never sees any of that.

use super::checkers::Checker;
use super::history::OpType;
use super::opts::TestOpts;
use rand::rngs::StdRng;
use serde_json::Value;
use std::time::Duration;

/// An operation to invoke: its function and value, as recorded in the
/// history's invoke entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// `read`, `broadcast`, `send`, `txn`, …
    pub f: String,
    /// The invocation's value (`null` for reads).
    pub value: Value,
    /// Set on final-phase operations (recorded as `final?`).
    pub final_phase: bool,
}

impl Invocation {
    /// A main-phase invocation.
    pub fn new(f: &str, value: Value) -> Self {
        Invocation {
            f: f.into(),
            value,
            final_phase: false,
        }
    }
}

/// How an operation ended, as recorded in the history's completion entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// `ok`, `fail` or `info` (never `invoke`).
    pub kind: OpType,
    /// The completion's value.
    pub value: Value,
    /// Why it failed or is indeterminate.
    pub error: Option<Value>,
}

impl Completion {
    /// An `ok` completion.
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }
}

/// How an RPC to a node went.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcFailure {
    /// No reply within the client timeout (5 s).
    Timeout,
    /// The node replied with `type: error`.
    Error {
        /// The error code.
        code: u64,
        /// The error text (empty when absent).
        text: String,
        /// The whole reply body.
        body: Value,
    },
}

/// The reply body of an RPC, or why there is none.
pub type RpcOutcome = Result<Value, RpcFailure>;

/// What a client does next.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientStep {
    /// Send this request body to the worker's node (the engine adds
    /// `msg_id`) and call [`WorkloadClient::on_reply`] with the outcome.
    Call(Value),
    /// The operation is over.
    Done(Completion),
}

/// One worker's client: a small state machine per operation. It may keep
/// state across operations (Kafka's assigned offsets); the engine replaces
/// it with a fresh one when the worker's process changes, unless the
/// workload says clients are reusable.
pub trait WorkloadClient: Send {
    /// Start an operation.
    fn invoke(&mut self, inv: &Invocation) -> ClientStep;
    /// The outcome of the last [`ClientStep::Call`].
    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep;
}

/// What the engine tells a generator about the worker it is asking for.
#[derive(Debug, Clone)]
pub struct GenCtx<'a> {
    /// Worker thread number, `0 … concurrency-1`.
    pub worker: usize,
    /// The worker's current process id.
    pub process: u64,
    /// The node this worker talks to (`nodes[worker mod N]`).
    pub node: &'a str,
    /// Time since the test started.
    pub time: Duration,
    /// The test's options.
    pub opts: &'a TestOpts,
}

/// What a worker does next in the final phase.
#[derive(Debug, Clone, PartialEq)]
pub enum FinalStep {
    /// Invoke this operation (mark it `final_phase` if Maelstrom does).
    Op(Invocation),
    /// Wait this long, then ask again.
    Sleep(Duration),
    /// This worker is finished.
    Done,
}

/// The final phase of broadcast, g-counter and pn-counter: each worker
/// performs one `read` marked final, then is done. `finished` remembers
/// which workers have had theirs.
pub fn one_final_read(finished: &mut std::collections::HashSet<usize>, worker: usize) -> FinalStep {
    if finished.insert(worker) {
        FinalStep::Op(Invocation {
            f: "read".into(),
            value: Value::Null,
            final_phase: true,
        })
    } else {
        FinalStep::Done
    }
}

/// A Maelstrom workload: generator, client and checker.
pub trait Workload: Send {
    /// Maelstrom's `-w` name.
    fn name(&self) -> &'static str;

    /// Whether a worker keeps its client when its process changes after an
    /// `info` op (Maelstrom's `client/Reusable`: lin-kv, unique-ids and the
    /// txn workloads say yes).
    fn reusable_client(&self) -> bool {
        false
    }

    /// The client RPC timeout, if the workload's client has its own
    /// (lin-kv: `max(10 × latency, 1 s)`); default: the engine's 5 s.
    fn rpc_timeout(&self, opts: &TestOpts) -> Option<Duration> {
        let _ = opts;
        None
    }

    /// The request body (without `msg_id`) that each node's setup client
    /// sends before any operation, e.g. broadcast's `topology`. The reply
    /// must not be an error, or the test aborts.
    fn setup_request(&mut self, node: &str, opts: &TestOpts) -> Option<Value> {
        let _ = (node, opts);
        None
    }

    /// Check the (non-error) reply to [`Workload::setup_request`] against
    /// the RPC's response schema, as Maelstrom's `defrpc` does; an `Err`
    /// should abort the test like an error reply. Default: accept anything.
    fn check_setup_reply(&self, body: &Value) -> Result<(), String> {
        let _ = body;
        Ok(())
    }

    /// The next main-phase operation for a free worker, or None if the
    /// workload has nothing to emit for it now.
    fn next_op(&mut self, ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation>;

    /// Every completion is reported back, so generators that depend on
    /// results (Kafka's assign widening, final polls) can follow them.
    fn on_complete(&mut self, ctx: &GenCtx<'_>, inv: &Invocation, done: &Completion) {
        let _ = (ctx, inv, done);
    }

    /// Whether the test has a final phase (heal, recovery wait, final ops).
    fn has_final_phase(&self) -> bool {
        false
    }

    /// The next final-phase step of a worker.
    fn final_step(&mut self, ctx: &GenCtx<'_>, rng: &mut StdRng) -> FinalStep {
        let _ = (ctx, rng);
        FinalStep::Done
    }

    /// A cap on the whole final phase (Kafka: 10 s), if any.
    fn final_time_limit(&self) -> Option<Duration> {
        None
    }

    /// A fresh client for a worker.
    fn new_client(&self, ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient>;

    /// The workload's checker (its result goes under `workload` in the
    /// test's results), from [`crate::bench::checkers`].
    fn checker(&self) -> Box<dyn Checker>;
}

/// Maelstrom's error mapping (`maelstrom: src/maelstrom/client.clj`,
/// `with-errors`):
/// a timeout is `fail` for idempotent `f`s, else `info`; an error reply is
/// `fail` if its code is definite or `f` is idempotent, else `info`. The
/// completion keeps the invocation's value; `error` is `"net-timeout"` or
/// `[name, text]`.
pub fn map_failure(
    f: &str,
    idempotent: &[&str],
    inv_value: &Value,
    failure: &RpcFailure,
) -> Completion {
    let idem = idempotent.contains(&f);
    match failure {
        RpcFailure::Timeout => Completion {
            kind: if idem { OpType::Fail } else { OpType::Info },
            value: inv_value.clone(),
            error: Some(Value::from("net-timeout")),
        },
        RpcFailure::Error { code, text, .. } => {
            let code = crate::runtime::ErrorCode::from_code(*code);
            Completion {
                kind: if code.is_definite() || idem {
                    OpType::Fail
                } else {
                    OpType::Info
                },
                value: inv_value.clone(),
                error: Some(serde_json::json!([code.name(), text])),
            }
        }
    }
}

/// The completion for a reply that does not match the RPC's response schema
/// (Maelstrom's `malformed-rpc-response`): indeterminate, with the body.
pub fn malformed_reply(inv_value: &Value, body: &Value, why: &str) -> Completion {
    Completion {
        kind: OpType::Info,
        value: inv_value.clone(),
        error: Some(serde_json::json!(["malformed-rpc-response", why, body])),
    }
}

/// Check a reply body against a closed schema: its `type` must be
/// `expected_type` and it may hold only `type`, `msg_id`, `in_reply_to` and
/// `fields`. Returns a description of the first problem.
pub fn check_closed_body(body: &Value, expected_type: &str, fields: &[&str]) -> Result<(), String> {
    let Some(map) = body.as_object() else {
        return Err("reply body is not an object".into());
    };
    match map.get("type").and_then(Value::as_str) {
        Some(t) if t == expected_type => {}
        other => return Err(format!("expected type {expected_type:?}, got {other:?}")),
    }
    if !matches!(map.get("in_reply_to"), Some(v) if v.is_u64()) {
        return Err("in_reply_to missing or not an integer".into());
    }
    if let Some(id) = map.get("msg_id") {
        if !id.is_u64() {
            return Err("msg_id is not an integer".into());
        }
    }
    for k in map.keys() {
        if !matches!(k.as_str(), "type" | "msg_id" | "in_reply_to") && !fields.contains(&k.as_str())
        {
            return Err(format!("unexpected key {k:?}"));
        }
    }
    Ok(())
}
