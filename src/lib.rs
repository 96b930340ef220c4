//! Gossip Glomers in Rust.
//!
//! # Layout
//!
//! - [`runtime`]: Maelstrom's protocol and the node runtime (sans-IO host plus
//!   the real stdin/stdout driver).
//! - [`challenges`]: one handler per Maelstrom workload.
//! - [`bench`]: the JVM-free, Maelstrom-compatible test bench.
//! - `examples/` (outside the library): minimal nodes, run by
//!   `tests/examples.rs`.
//!
//! # A node
//!
//! A node is a [`runtime::Node`]: the messages it accepts as a serde enum,
//! its state built in `init`, and `on_message`. Everything else goes through
//! the [`runtime::Ctx`]: replies, messages, RPCs and timers whose
//! continuations are closures the runtime runs later, in a deterministic
//! order. The same node runs for real under [`runtime::run`] and, here, in
//! memory under the sans-IO [`runtime::NodeHost`]:
//!
//! ```
//! use glomers::runtime::{Ctx, Error, Init, Node, NodeHost, Request};
//! use std::time::Duration;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Msg {
//!     Ping {},
//! }
//!
//! /// Answers `ping` with `pong`, 10 ms later.
//! struct Slow;
//!
//! impl Node for Slow {
//!     type Payload = Msg;
//!     fn init(_: &Init, _: &mut Ctx<Self>) -> anyhow::Result<Self> {
//!         Ok(Slow)
//!     }
//!     fn on_message(&mut self, msg: Request<Msg>, ctx: &mut Ctx<Self>) -> Result<(), Error> {
//!         let from = msg.from;
//!         ctx.after(Duration::from_millis(10), move |_, ctx| ctx.ack(&from, "pong"));
//!         Ok(())
//!     }
//! }
//!
//! let mut host = NodeHost::<Slow>::new(1);
//! let init = r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1"]}}"#;
//! host.handle_line(init.as_bytes(), Duration::ZERO);
//! let ping = r#"{"src":"c1","dest":"n1","body":{"type":"ping","msg_id":7}}"#;
//! host.handle_line(ping.as_bytes(), Duration::ZERO);
//! assert!(host.output().is_empty());
//! assert_eq!(host.next_deadline(), Some(Duration::from_millis(10)));
//! host.tick(Duration::from_millis(10));
//! let out = String::from_utf8(std::mem::take(host.output())).unwrap();
//! assert_eq!(out, "{\"src\":\"n1\",\"dest\":\"c1\",\"body\":{\"type\":\"pong\",\"in_reply_to\":7}}\n");
//! ```
pub mod bench;
pub mod challenges;
pub mod runtime;
