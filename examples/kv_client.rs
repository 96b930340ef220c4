//! A minimal key/value client (Fly.io challenge 4's counter, kept in one
//! `lin-kv` key): an `add` reads the key, then compare-and-sets it to the
//! sum, and tries again if another node got there first. Each step is a
//! continuation that runs when the service answers, as in the Go library's
//! callbacks; the runtime drops a reply that comes after its timeout.
//!
//! `cargo build --example kv_client`, then
//! `glomers test -w g-counter --bin target/debug/examples/kv_client --node-count 3`.
use glomers::runtime::kv::{self, Cas, Kv, Read};
use glomers::runtime::{Ctx, Error, ErrorCode, Init, Node, ReplyTo, Request};
use serde_json::json;
use std::time::Duration;

const KEY: &str = "counter";
const TIMEOUT: Duration = Duration::from_secs(1);

#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    Add { delta: i64 },
    Read,
}

pub struct Counter;

/// The counter's value, with a missing key read as 0.
fn value(read: Result<serde_json::Value, Error>) -> Result<i64, Error> {
    match read.and_then(kv::decode) {
        Err(e) if e.code == ErrorCode::KeyDoesNotExist => Ok(0),
        other => other,
    }
}

/// Add `delta` to the key, then acknowledge `to` (or pass the error on).
fn add(ctx: &mut Ctx<Counter>, to: ReplyTo, delta: i64) {
    Kv::LIN.rpc(ctx, Read { key: KEY }, TIMEOUT, move |_, read, ctx| {
        let from = match value(read) {
            Ok(v) => v,
            Err(e) => return ctx.reply_err(&to, &e),
        };
        let cas = Cas {
            key: KEY,
            from,
            to: from + delta,
            create_if_missing: true,
        };
        Kv::LIN.rpc(ctx, cas, TIMEOUT, move |_, done, ctx| match done {
            Ok(()) => ctx.ack(&to, "add_ok"),
            // Another add came between our read and our cas: start over.
            Err(e) if e.code == ErrorCode::PreconditionFailed => add(ctx, to, delta),
            Err(e) => ctx.reply_err(&to, &e),
        });
    });
}

impl Node for Counter {
    type Payload = Msg;

    fn init(_: &Init, _: &mut Ctx<Self>) -> anyhow::Result<Self> {
        Ok(Counter)
    }

    fn on_message(&mut self, msg: Request<Msg>, ctx: &mut Ctx<Self>) -> Result<(), Error> {
        let to = msg.from;
        match msg.payload {
            Msg::Add { delta } => add(ctx, to, delta),
            Msg::Read => {
                Kv::LIN.rpc(
                    ctx,
                    Read { key: KEY },
                    TIMEOUT,
                    move |_, read, ctx| match value(read) {
                        Ok(value) => ctx.reply(&to, &json!({ "type": "read_ok", "value": value })),
                        Err(e) => ctx.reply_err(&to, &e),
                    },
                );
            }
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<Counter>()
}
