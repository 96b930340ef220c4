//! The node runtime: Maelstrom's protocol, a sans-IO host for handlers, and
//! the real driver that connects a host to stdin and stdout.
//!
//! A challenge is a [`Node`]: a plain state machine that reacts to a message,
//! a timer, or the outcome of an RPC, and emits messages through a [`Ctx`].
//! [`NodeHost`] turns input lines into handler calls and handler effects into
//! output lines, with no I/O of its own; [`run`] drives a host from stdin on
//! Tokio, and the bench's in-process mode drives the same host on a virtual
//! clock.
//!
//! A handler that must survive a restart keeps its state on its disk
//! ([`Ctx::disk`], [`storage`]): an append-only log plus a snapshot with an
//! explicit sync, on files for the real driver and in memory (with seeded
//! crashes) for a simulator. The host syncs it before any output leaves.
//!
//! # Input rules
//!
//! Bad input never stops a node. `init` is answered by the runtime. A line
//! that is not a JSON envelope is logged to stderr and skipped; a request of
//! an unknown `type` gets error 10 (not-supported), one whose body does not
//! parse gets error 12 (malformed-request) when its `msg_id` can be read;
//! requests before `init` get error 11. A handler's `Err` becomes an error
//! reply; an unexpected failure (an `anyhow` error, a panic) becomes code 13
//! (crash, indefinite). A reply to one of our RPCs goes to the RPC's caller,
//! unless its deadline has passed, in which case it is dropped. End of input
//! ends the node at once.
//!
//! # Speed
//!
//! A request to an initialised node is read in one pass (`parse.rs`): the
//! envelope, the reserved body keys and the handler's payload together, with
//! strings borrowed from the input. Anything unusual falls back to a
//! three-pass general path that produces the precise error replies. The
//! driver writes all output produced by one read of stdin in one write, then
//! flushes. Figures: `maelstrom-runs/records/runtime-bench.md`.

mod driver;
mod error;
mod host;
pub mod kv;
pub mod message;
mod node;
mod parse;
mod queue;
pub mod storage;

pub use driver::{run, Driver, TRACE_ENV};
pub use error::{Error, ErrorCode};
pub use host::{AnyHost, NodeHost};
pub use message::{AsReplyTo, Init, MsgId, NodeId, Reply, ReplyTo, Request};
pub use node::{Ctx, Node, TimerId};
pub use queue::EventQueue;
pub use storage::{Disk, FileDisk, MemDisk, Recovered};
