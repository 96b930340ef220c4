//! The `broadcast` workload (`maelstrom: src/maelstrom/workload/broadcast.clj`):
//! Maelstrom's eventually consistent set, with a topology hint, checked by
//! Jepsen's `set-full` rules.
//!
//! - **Setup.** Each node's setup client sends one `topology` message
//!   holding the *whole* map built by [`topology`] for `--topology` (grid by
//!   default; line, total, tree/tree2, tree3 and tree4), laid out the way
//!   Maelstrom lays them out; the reply must be a bare `topology_ok`
//!   (`Workload::check_setup_reply`).
//! - **Generator.** A 50/50 random mix of `broadcast` (values 0, 1, 2, …:
//!   globally unique and increasing) and `read`. Final phase: after the heal
//!   and the recovery wait, every worker performs exactly one
//!   `read` marked final.
//! - **Client.** `broadcast` → `broadcast_ok` (no fields); `read` →
//!   `read_ok` with `messages` (an array). Replies are checked as closed
//!   schemas; anything else is an indeterminate `malformed-rpc-response`.
//!   Only `read` is idempotent, so a timed-out read fails and a timed-out
//!   broadcast is `info`.
//! - **Checker.** [`crate::bench::checkers::set_full`], with `broadcast`
//!   as the add.

use crate::bench::checkers::set_full::SetFull;
use crate::bench::checkers::Checker;
use crate::bench::history::OpType;
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, one_final_read, ClientStep, Completion,
    FinalStep, GenCtx, Invocation, RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// The topology names `--topology` accepts, as Maelstrom spells them.
pub const TOPOLOGIES: &[&str] = &["grid", "line", "total", "tree", "tree2", "tree3", "tree4"];

/// Operations whose timeouts and error replies count as definite failures.
const IDEMPOTENT: &[&str] = &["read"];

/// The neighbour map Maelstrom sends for topology `name` over `nodes`, each
/// list in Maelstrom's order.
pub fn topology(name: &str, nodes: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let n = nodes.len();
    let neighbours: Box<dyn Fn(usize) -> Vec<usize>> = match name {
        "grid" => {
            // A roughly square grid, `side` = ⌈√n⌉ columns, filled row by row;
            // neighbours in the order below, above, right, left.
            let mut side = 1usize;
            while side * side < n {
                side += 1;
            }
            Box::new(move |idx| {
                let (row, col) = (idx / side, idx % side);
                [
                    Some((row + 1, col)),
                    row.checked_sub(1).map(|r| (r, col)),
                    (col + 1 < side).then_some((row, col + 1)),
                    col.checked_sub(1).map(|c| (row, c)),
                ]
                .into_iter()
                .flatten()
                .map(|(r, c)| r * side + c)
                .filter(|&i| i < n)
                .collect()
            })
        }
        // Left and right; no map at all below two nodes.
        "line" if n < 2 => return Ok(BTreeMap::new()),
        "line" => Box::new(move |idx| {
            [idx.checked_sub(1), Some(idx + 1)]
                .into_iter()
                .flatten()
                .filter(|&i| i < n)
                .collect()
        }),
        "total" => Box::new(move |idx| (0..n).filter(|&i| i != idx).collect()),
        "tree" | "tree2" | "tree3" | "tree4" => {
            // Breadth-first tiers of 1, b, b², … nodes: node i's parent is
            // (i−1)/b and its children are b·i+1 … b·i+b; parent first.
            let b = match name {
                "tree3" => 3,
                "tree4" => 4,
                _ => 2,
            };
            Box::new(move |idx| {
                let parent = idx.checked_sub(1).map(|p| p / b);
                let children = (b * idx + 1..=b * idx + b).filter(|&c| c < n);
                parent.into_iter().chain(children).collect()
            })
        }
        other => anyhow::bail!(
            "unknown topology {other:?}; known topologies: {}",
            TOPOLOGIES.join(", ")
        ),
    };
    Ok(nodes
        .iter()
        .enumerate()
        .map(|(idx, node)| {
            let list = neighbours(idx).into_iter().map(|i| nodes[i].clone());
            (node.clone(), list.collect())
        })
        .collect())
}

/// The broadcast workload, configured by `opts`.
pub fn new(opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    let topo = topology(&opts.topology, &opts.nodes)?;
    Ok(Box::new(Broadcast {
        topology: serde_json::to_value(topo)?,
        next_value: 0,
        finished: HashSet::new(),
    }))
}

/// Generator state and the topology message.
struct Broadcast {
    /// The whole topology map, sent to every node.
    topology: Value,
    /// The next broadcast value (globally unique, increasing).
    next_value: u64,
    /// Workers that have already performed their final read.
    finished: HashSet<usize>,
}

impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn setup_request(&mut self, _node: &str, _opts: &TestOpts) -> Option<Value> {
        Some(json!({"type": "topology", "topology": self.topology}))
    }

    fn check_setup_reply(&self, body: &Value) -> Result<(), String> {
        check_closed_body(body, "topology_ok", &[])
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        if rng.gen_bool(0.5) {
            let v = self.next_value;
            self.next_value += 1;
            Some(Invocation::new("broadcast", Value::from(v)))
        } else {
            Some(Invocation::new("read", Value::Null))
        }
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_step(&mut self, ctx: &GenCtx<'_>, _rng: &mut StdRng) -> FinalStep {
        one_final_read(&mut self.finished, ctx.worker)
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(SetFull::new("broadcast"))
    }
}

/// A broadcast client; it keeps nothing between operations.
struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        match inv.f.as_str() {
            "broadcast" => ClientStep::Call(json!({"type": "broadcast", "message": inv.value})),
            "read" => ClientStep::Call(json!({"type": "read"})),
            other => ClientStep::Done(Completion {
                kind: OpType::Fail,
                value: inv.value.clone(),
                error: Some(Value::from(format!("unknown operation {other:?}"))),
            }),
        }
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        let body = match outcome {
            Ok(body) => body,
            Err(failure) => {
                return ClientStep::Done(map_failure(&inv.f, IDEMPOTENT, &inv.value, &failure))
            }
        };
        let done = if inv.f == "read" {
            match check_closed_body(&body, "read_ok", &["messages"]) {
                Ok(()) => match body.get("messages") {
                    Some(Value::Array(msgs)) => Completion::ok(Value::Array(msgs.clone())),
                    _ => malformed_reply(&inv.value, &body, "messages missing or not an array"),
                },
                Err(why) => malformed_reply(&inv.value, &body, &why),
            }
        } else {
            match check_closed_body(&body, "broadcast_ok", &[]) {
                Ok(()) => Completion::ok(inv.value.clone()),
                Err(why) => malformed_reply(&inv.value, &body, &why),
            }
        };
        ClientStep::Done(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::RpcFailure;

    use OpType::{Fail, Info, Ok as Done};

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn topo(name: &str, n: usize) -> Value {
        serde_json::to_value(topology(name, &names(n)).unwrap()).unwrap()
    }

    #[test]
    fn topologies_match_maelstrom_layouts() {
        assert_eq!(
            topo("grid", 5),
            json!({"n0": ["n3", "n1"], "n1": ["n4", "n2", "n0"], "n2": ["n1"],
                   "n3": ["n0", "n4"], "n4": ["n1", "n3"]})
        );
        assert_eq!(topo("grid", 1), json!({"n0": []}));
        let grid25 = topology("grid", &names(25)).unwrap();
        assert_eq!(grid25["n12"], ["n17", "n7", "n13", "n11"]);
        assert_eq!(grid25["n24"], ["n19", "n23"]);
        assert_eq!(topo("line", 1), json!({}));
        assert_eq!(
            topo("line", 3),
            json!({"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]})
        );
        assert_eq!(
            topo("total", 3),
            json!({"n0": ["n1", "n2"], "n1": ["n0", "n2"], "n2": ["n0", "n1"]})
        );
        let tree = json!({"n0": ["n1", "n2"], "n1": ["n0", "n3", "n4"], "n2": ["n0", "n5"],
                          "n3": ["n1"], "n4": ["n1"], "n5": ["n2"]});
        assert_eq!(topo("tree", 6), tree);
        assert_eq!(topo("tree2", 6), tree);
        assert_eq!(
            topo("tree3", 5),
            json!({"n0": ["n1", "n2", "n3"], "n1": ["n0", "n4"], "n2": ["n0"],
                   "n3": ["n0"], "n4": ["n1"]})
        );
        assert_eq!(topo("tree4", 1), json!({"n0": []}));
        assert_eq!(topology("tree4", &names(6)).unwrap()["n1"], ["n0", "n5"]);
        assert!(topology("star", &names(3)).is_err());
    }

    #[test]
    fn setup_generator_and_final_reads() {
        let mut opts = TestOpts::with_nodes(2);
        opts.topology = "line".into();
        let mut w = new(&opts).unwrap();
        assert_eq!(
            w.setup_request("n1", &opts),
            Some(json!({"type": "topology", "topology": {"n0": ["n1"], "n1": ["n0"]}}))
        );
        let ctx = GenCtx {
            worker: 0,
            process: 0,
            node: "n0",
            time: std::time::Duration::ZERO,
            opts: &opts,
        };
        let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(7);
        let ops: Vec<Invocation> = (0..400).filter_map(|_| w.next_op(&ctx, &mut rng)).collect();
        let values: Vec<u64> = ops
            .iter()
            .filter(|i| i.f == "broadcast")
            .map(|i| i.value.as_u64().unwrap())
            .collect();
        assert!((150..250).contains(&values.len()), "{}", values.len());
        assert_eq!(values, (0..values.len() as u64).collect::<Vec<_>>());
        assert!(w.has_final_phase());
        let FinalStep::Op(fin) = w.final_step(&ctx, &mut rng) else {
            panic!("expected a final read");
        };
        assert_eq!((fin.f.as_str(), fin.final_phase), ("read", true));
        assert_eq!(w.final_step(&ctx, &mut rng), FinalStep::Done);
        let ok = json!({"type": "topology_ok", "in_reply_to": 1});
        assert_eq!(w.check_setup_reply(&ok), Ok(()));
        let extra = json!({"type": "topology_ok", "in_reply_to": 1, "topology": {}});
        assert!(w.check_setup_reply(&extra).is_err());
        assert!(w
            .check_setup_reply(&json!({"type": "init_ok", "in_reply_to": 1}))
            .is_err());
        let other = GenCtx { worker: 1, ..ctx };
        assert!(matches!(w.final_step(&other, &mut rng), FinalStep::Op(_)));
    }

    #[test]
    fn client_validates_replies_and_maps_errors() {
        let bcast = Invocation::new("broadcast", json!(3));
        let read = Invocation::new("read", Value::Null);
        let mut c = Client;
        assert_eq!(
            c.invoke(&bcast),
            ClientStep::Call(json!({"type": "broadcast", "message": 3}))
        );
        assert_eq!(c.invoke(&read), ClientStep::Call(json!({"type": "read"})));
        let done = |s: ClientStep| match s {
            ClientStep::Done(c) => c,
            other => panic!("{other:?}"),
        };
        let ok = done(c.on_reply(
            &bcast,
            Ok(json!({"type": "broadcast_ok", "in_reply_to": 1})),
        ));
        assert_eq!((ok.kind, ok.value), (Done, json!(3)));
        let extra = json!({"type": "broadcast_ok", "in_reply_to": 1, "x": 1});
        assert_eq!(done(c.on_reply(&bcast, Ok(extra))).kind, Info);
        let r = json!({"type": "read_ok", "in_reply_to": 2, "messages": [1, 2]});
        assert_eq!(done(c.on_reply(&read, Ok(r))).value, json!([1, 2]));
        let no_msgs = json!({"type": "read_ok", "in_reply_to": 2});
        assert_eq!(done(c.on_reply(&read, Ok(no_msgs))).kind, Info);
        let not_array = json!({"type": "read_ok", "in_reply_to": 2, "messages": 5});
        assert_eq!(done(c.on_reply(&read, Ok(not_array))).kind, Info);
        assert_eq!(done(c.on_reply(&read, Err(RpcFailure::Timeout))).kind, Fail);
        assert_eq!(
            done(c.on_reply(&bcast, Err(RpcFailure::Timeout))).kind,
            Info
        );
        let crash = RpcFailure::Error {
            code: 13,
            text: String::new(),
            body: Value::Null,
        };
        assert_eq!(done(c.on_reply(&bcast, Err(crash.clone()))).kind, Info);
        assert_eq!(done(c.on_reply(&read, Err(crash))).kind, Fail);
    }
}
