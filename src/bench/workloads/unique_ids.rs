//! The `unique-ids` workload (`maelstrom: src/maelstrom/workload/unique_ids.clj`):
//! every op is `generate`; the reply `generate_ok` carries an `id` of any
//! JSON type, which [`crate::bench::checkers::unique_ids`] checks for
//! duplicates. Clients are reusable; no final phase.

use crate::bench::checkers::{self, Checker};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, ClientStep, Completion, GenCtx, Invocation,
    RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use serde_json::{json, Value};

/// The workload, configured by `opts`.
pub fn new(_opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(UniqueIds))
}

/// The unique-ids workload.
#[derive(Debug, Default)]
pub struct UniqueIds;

struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, _inv: &Invocation) -> ClientStep {
        ClientStep::Call(json!({"type": "generate"}))
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        ClientStep::Done(match outcome {
            Ok(body) => match check_closed_body(&body, "generate_ok", &["id"]) {
                Ok(()) => match body.get("id") {
                    Some(id) => Completion::ok(id.clone()),
                    None => malformed_reply(&inv.value, &body, "generate_ok has no id"),
                },
                Err(why) => malformed_reply(&inv.value, &body, &why),
            },
            Err(failure) => map_failure(&inv.f, &[], &inv.value, &failure),
        })
    }
}

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, _rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("generate", Value::Null))
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(checkers::unique_ids::UniqueIds)
    }
}
