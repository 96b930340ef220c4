//! The `echo` workload (spec §5.1): each op sends
//! `{"type":"echo","echo":"Please echo <k>"}` and expects `echo_ok` with the
//! same value back. The checker compares every invocation's value with the
//! `echo` field of its completion, so a timeout or an error (whose
//! completion keeps the original string) is an error too. No final phase;
//! clients are not reusable; no operation is idempotent.

use crate::bench::history::{History, OpType};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, ClientStep, Completion, GenCtx, Invocation,
    RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// The workload, configured by `opts`.
pub fn new(_opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(Echo))
}

/// The echo workload.
#[derive(Debug, Default)]
pub struct Echo;

struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        ClientStep::Call(json!({"type": "echo", "echo": inv.value}))
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        ClientStep::Done(match outcome {
            Ok(body) => match check_closed_body(&body, "echo_ok", &["echo"]) {
                Ok(()) if body.get("echo").is_some() => Completion::ok(body),
                Ok(()) => malformed_reply(&inv.value, &body, "echo_ok has no echo"),
                Err(why) => malformed_reply(&inv.value, &body, &why),
            },
            Err(failure) => map_failure(&inv.f, &[], &inv.value, &failure),
        })
    }
}

impl Workload for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        let k: u32 = rng.gen_range(0..128);
        Some(Invocation::new(
            "echo",
            Value::from(format!("Please echo {k}")),
        ))
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }

    fn check(&self, history: &History, _opts: &TestOpts) -> Value {
        let mut errors = Vec::new();
        for (inv, done) in history.client_pairs() {
            // As in Maelstrom (knossos' pair index), an operation that ended
            // `info` (timeout, indefinite error, malformed reply) or never
            // ended is not checked; `ok` and `fail` ones are.
            let Some(done) = done.filter(|d| d.kind != OpType::Info) else {
                continue;
            };
            let received = done.value.get("echo").cloned().unwrap_or(Value::Null);
            if received != inv.value {
                errors.push(json!({
                    "expected": inv.value,
                    "received": received,
                    "invocation": inv,
                    "completion": done,
                }));
            }
        }
        json!({"valid?": errors.is_empty(), "errors": errors})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, Process};
    use crate::bench::workload::RpcFailure;

    fn op(kind: OpType, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process: Process::Client(0),
            kind,
            f: "echo".into(),
            value,
            error: None,
            final_phase: false,
        }
    }

    #[test]
    fn client_and_checker() {
        let inv = Invocation::new("echo", json!("Please echo 3"));
        let mut c = Client;
        assert_eq!(
            c.invoke(&inv),
            ClientStep::Call(json!({"type": "echo", "echo": "Please echo 3"}))
        );
        let good = json!({"type": "echo_ok", "in_reply_to": 1, "echo": "Please echo 3"});
        let ClientStep::Done(done) = c.on_reply(&inv, Ok(good.clone())) else {
            panic!("done expected");
        };
        assert_eq!(done.kind, OpType::Ok);
        let ClientStep::Done(to) = c.on_reply(&inv, Err(RpcFailure::Timeout)) else {
            panic!("done expected");
        };
        assert_eq!(to.kind, OpType::Info);
        let extra = json!({"type": "echo_ok", "in_reply_to": 1, "echo": "x", "oops": 1});
        let ClientStep::Done(bad) = c.on_reply(&inv, Ok(extra)) else {
            panic!("done expected");
        };
        assert_eq!(bad.kind, OpType::Info);

        let mut h = History::new();
        h.push(op(OpType::Invoke, json!("Please echo 3")));
        h.push(op(OpType::Ok, good));
        let opts = TestOpts::with_nodes(1);
        assert_eq!(Echo.check(&h, &opts)["valid?"], true);
        h.push(op(OpType::Invoke, json!("Please echo 4")));
        h.push(op(
            OpType::Ok,
            json!({"type": "echo_ok", "echo": "Please echo 5"}),
        ));
        let r = Echo.check(&h, &opts);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["errors"][0]["expected"], "Please echo 4");
    }

    #[test]
    fn info_ops_are_not_checked_but_fails_are() {
        let opts = TestOpts::with_nodes(1);
        let mut h = History::new();
        h.push(op(OpType::Invoke, json!("Please echo 1")));
        h.push(op(OpType::Info, json!("Please echo 1")));
        assert_eq!(Echo.check(&h, &opts)["valid?"], true);
        h.push(op(OpType::Invoke, json!("Please echo 2")));
        h.push(op(OpType::Fail, json!("Please echo 2")));
        let r = Echo.check(&h, &opts);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["errors"].as_array().unwrap().len(), 1);
    }
}
