//! Fly.io challenge 1: echo.
//!
//! The smallest node: every `echo` request is answered with `echo_ok`
//! carrying the same `echo` value, untouched (any JSON, not only strings).

use crate::runtime::{Ctx, Error, Init, Node, Request};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Messages of the echo workload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client asks for its value back.
    Echo {
        /// The value to send back.
        echo: Value,
    },
    /// The answer.
    EchoOk {
        /// The value received.
        echo: Value,
    },
}

/// The echo node; it keeps no state.
#[derive(Debug, Default)]
pub struct Echo;

impl Node for Echo {
    type Payload = Payload;
    type Timer = ();
    type Call = ();

    fn init(_init: &Init, _ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(Echo)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        match msg.payload {
            Payload::Echo { echo } => {
                if let Some(id) = msg.msg_id {
                    ctx.reply_to(&msg.src, id, &Payload::EchoOk { echo });
                }
                Ok(())
            }
            Payload::EchoOk { .. } => Ok(()),
        }
    }
}
