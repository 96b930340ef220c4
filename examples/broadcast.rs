//! A minimal broadcast node (Fly.io challenges 3a–3c): every node keeps the
//! set of values it has seen and, every 200 ms, sends the whole set to every
//! other node, so values cross partitions once they heal. Simple and
//! correct, but its messages grow with the set: our solver
//! (`src/challenges/broadcast.rs`) sends only what is new.
//!
//! `cargo build --example broadcast`, then
//! `glomers test -w broadcast --bin target/debug/examples/broadcast --node-count 5 --nemesis partition`.
use glomers::runtime::{Ctx, Error, Init, Node, NodeId, Request};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    Broadcast { message: u64 },
    Read,
    Topology {},
    Gossip { messages: BTreeSet<u64> },
}

pub struct Broadcast {
    peers: Vec<NodeId>,
    seen: BTreeSet<u64>,
}

impl Node for Broadcast {
    type Payload = Msg;

    fn init(init: &Init, ctx: &mut Ctx<Self>) -> anyhow::Result<Self> {
        ctx.every(Duration::from_millis(200), |node: &mut Self, ctx| {
            let gossip = json!({ "type": "gossip", "messages": node.seen });
            for peer in &node.peers {
                ctx.send(peer, &gossip);
            }
        });
        let peers = init.node_ids.iter().filter(|n| **n != init.node_id);
        let peers = peers.cloned().collect();
        Ok(Broadcast {
            peers,
            seen: BTreeSet::new(),
        })
    }

    fn on_message(&mut self, msg: Request<Msg>, ctx: &mut Ctx<Self>) -> Result<(), Error> {
        match msg.payload {
            Msg::Broadcast { message } => {
                self.seen.insert(message);
                ctx.ack(&msg.from, "broadcast_ok");
            }
            Msg::Read => ctx.reply(
                &msg.from,
                &json!({ "type": "read_ok", "messages": self.seen }),
            ),
            Msg::Topology {} => ctx.ack(&msg.from, "topology_ok"),
            Msg::Gossip { messages } => self.seen.extend(messages),
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<Broadcast>()
}
