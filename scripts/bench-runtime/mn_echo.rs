//! An echo node on the `maelstrom-node` crate (0.1.6), written the way its
//! documentation shows: the baseline that `scripts/bench-runtime.sh`
//! compares this project's runtime against. Built only inside the
//! benchmark's scratch crate.
use async_trait::async_trait;
use maelstrom::protocol::Message;
use maelstrom::{done, Node, Result, Runtime};
use std::sync::Arc;

fn main() -> Result<()> {
    Runtime::init(async { Runtime::new().with_handler(Arc::new(Echo)).run().await })
}

struct Echo;

#[async_trait]
impl Node for Echo {
    async fn process(&self, runtime: Runtime, req: Message) -> Result<()> {
        if req.get_type() == "echo" {
            let body = req.body.clone().with_type("echo_ok");
            return runtime.reply(req, body).await;
        }
        done(runtime, req)
    }
}
