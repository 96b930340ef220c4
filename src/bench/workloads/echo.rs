//! The `echo` workload (`maelstrom: src/maelstrom/workload/echo.clj`): each
//! op sends `{"type":"echo","echo":"Please echo <k>"}` and expects `echo_ok`
//! with the same value back, as [`crate::bench::checkers::echo`] checks. No
//! final phase; clients are not reusable; no operation is idempotent.

use crate::bench::checkers::{self, Checker};
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

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(checkers::echo::Echo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::OpType;
    use crate::bench::workload::RpcFailure;

    #[test]
    fn client_maps_replies() {
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
    }
}
