//! The smallest node (Fly.io challenge 1): `glomers test -w echo --bin target/debug/examples/echo`.
use glomers::runtime::{Ctx, Error, Init, Node, Request};
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    Echo { echo: Value },
}
pub struct Echo;

impl Node for Echo {
    type Payload = Msg;
    fn init(_: &Init, _: &mut Ctx<Self>) -> anyhow::Result<Self> {
        Ok(Echo)
    }
    fn on_message(&mut self, msg: Request<Msg>, ctx: &mut Ctx<Self>) -> Result<(), Error> {
        let Msg::Echo { echo } = msg.payload;
        ctx.reply(&msg.from, &json!({ "type": "echo_ok", "echo": echo }));
        Ok(())
    }
}
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<Echo>()
}
