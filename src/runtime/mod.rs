//! The node runtime: Maelstrom's protocol, a sans-IO host for handlers, and
//! the real driver that connects a host to stdin and stdout.
//!
//! A challenge is a [`Node`]: a plain state machine that reacts to a message,
//! a timer, or the outcome of an RPC, and emits messages through a [`Ctx`].
//! [`NodeHost`] turns input lines into handler calls and handler effects into
//! output lines, with no I/O of its own; [`run`] drives a host from stdin on
//! Tokio, and the bench's in-process mode drives the same host on a virtual
//! clock.

mod driver;
mod error;
mod host;
pub mod kv;
mod message;
mod node;
mod parse;

pub use driver::{run, run_with};
pub use error::{Error, ErrorCode};
pub use host::{AnyHost, NodeHost};
pub use message::{Init, MsgId, NodeId, Reply, Request};
pub use node::{Ctx, Node};
