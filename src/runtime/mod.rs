//! The node runtime: Maelstrom's protocol, a sans-IO host for handlers, and
//! the real driver that connects a host to stdin and stdout.
//!
//! A challenge is a [`Node`]: a plain state machine that accepts the
//! messages of its payload enum, and emits messages through a [`Ctx`].
//! [`NodeHost`] turns input lines into handler calls and handler effects into
//! output lines, with no I/O of its own; [`run`] (or a configured [`Driver`])
//! drives a host from stdin on Tokio, and the bench's in-process mode drives
//! the same host on a virtual clock.
//!
//! # Continuations, and why they keep runs deterministic
//!
//! Whatever a node waits for is a closure it hands over when it starts
//! waiting: [`Ctx::after`] and [`Ctx::every`] (each returns a [`TimerId`]
//! for [`Ctx::cancel`]), [`Ctx::rpc`] and the service clients in [`kv`].
//! This replaces an earlier design with `type Timer` and `type Call` on the
//! trait plus `on_timer`/`on_reply` callbacks: Rust has no stable defaults
//! for associated types, so every node, echo included, had to write them;
//! and a node had to filter stale timers and replies by hand. The host keeps
//! timer continuations in one [`EventQueue`] (ties in the order they were
//! set) and RPC continuations by `msg_id` with their deadlines in another,
//! and runs them on the node's own thread, so a seeded simulation replays
//! byte for byte. A cancelled timer stays queued and is skipped when it
//! comes up; a repeating timer is re-armed one period after it ran, once its
//! closure returns (also after a panic, which only loses that run's output).
//! Closures cost one allocation per timer or RPC, which nothing measurable
//! in this project sends often enough to notice.
//!
//! A reply goes to a [`ReplyTo`] (`src` and `msg_id`), a field of its own in
//! [`Request`], so matching `msg.payload` by value leaves `msg.from` usable,
//! and keeping it answers a request later. [`Ctx::reply`] takes any
//! `Serialize`, so the payload enum lists only what the node accepts.
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
//! (crash, indefinite). A reply to one of our RPCs goes to the RPC's continuation,
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
