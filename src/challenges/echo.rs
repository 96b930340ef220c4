//! Fly.io challenge 1: echo.
//!
//! The smallest node: every `echo` request is answered with `echo_ok`
//! carrying the same `echo` value, untouched (any JSON, not only strings).
//! The reply is a type of its own, so the payload enum holds only what the
//! node accepts.

use crate::runtime::{Ctx, Error, Init, Node, Request};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Messages of the echo workload.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client asks for its value back.
    Echo {
        /// The value to send back.
        echo: Value,
    },
}

/// The answer: the value received.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "echo_ok")]
pub struct EchoOk {
    /// The value received.
    pub echo: Value,
}

/// The echo node; it keeps no state.
#[derive(Debug, Default)]
pub struct Echo;

impl Node for Echo {
    type Payload = Payload;

    fn init(_init: &Init, _ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(Echo)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let Payload::Echo { echo } = msg.payload;
        ctx.reply(&msg.from, &EchoOk { echo });
        Ok(())
    }
}
