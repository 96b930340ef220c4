//! The handler interface: [`Node`] is the state machine a challenge writes,
//! [`Ctx`] is everything it may touch.

use super::host::Core;
use super::message::{Init, MsgId, NodeId, Reply, Request};
use super::storage::Disk;
use super::Error;
use rand::rngs::SmallRng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A challenge's logic: a plain state machine with no I/O of its own.
///
/// The runtime answers `init` itself, then calls [`Node::init`] to build the
/// state. After that, every incoming request becomes [`Node::on_message`],
/// every due timer [`Node::on_timer`], and every reply to (or timeout of) an
/// RPC sent with [`Ctx::rpc`] becomes [`Node::on_reply`].
pub trait Node: Sized {
    /// Every message type the node accepts (from clients and from other
    /// nodes): a serde enum tagged by `type`.
    type Payload: DeserializeOwned;
    /// What a timer carries back to [`Node::on_timer`].
    type Timer: fmt::Debug;
    /// What an RPC carries back to [`Node::on_reply`]: the node's own record
    /// of why it sent the request.
    type Call: fmt::Debug;

    /// Build the node's state once `init` arrives. An error is sent back as
    /// the reply to `init` (code 13) and the node stays uninitialised.
    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self>;

    /// Handle a request. An `Err` is sent back to the requester as an error
    /// reply (when it carried a `msg_id`).
    fn on_message(
        &mut self,
        msg: Request<Self::Payload>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Result<(), Error>;

    /// A timer set with [`Ctx::set_timer`] is due.
    fn on_timer(&mut self, timer: Self::Timer, ctx: &mut Ctx<'_, Self>) {
        let _ = (timer, ctx);
    }

    /// An RPC sent with [`Ctx::rpc`] got a reply, an error reply, or timed out
    /// (`Err` with code 0, indefinite). Replies that arrive after the timeout
    /// are dropped by the runtime and never reach the node.
    fn on_reply(&mut self, call: Self::Call, reply: Result<Reply, Error>, ctx: &mut Ctx<'_, Self>) {
        let _ = (call, reply, ctx);
    }
}

/// What a handler may touch: its identity, the clock, the RNG, and an outbox.
pub struct Ctx<'a, N: Node> {
    pub(crate) core: &'a mut Core<N>,
    pub(crate) now: Duration,
}

impl<'a, N: Node> Ctx<'a, N> {
    /// This node's id.
    pub fn id(&self) -> &str {
        &self.core.id
    }

    /// Every node's id, in Maelstrom's order.
    pub fn node_ids(&self) -> &[NodeId] {
        &self.core.node_ids
    }

    /// Time since the node started (real or virtual).
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Wall-clock time (since the Unix epoch) at which this incarnation of
    /// the node started: the real driver reads the system clock once at
    /// start, a simulator supplies a virtual value. `boot_time() + now()` is
    /// the current wall-clock time. Two incarnations of one node id (a
    /// restarted process) see different values unless the clock stepped
    /// back between them.
    pub fn boot_time(&self) -> Duration {
        self.core.boot_time
    }

    /// The node's command-line arguments (after the program name), so a
    /// handler can read its tuning in [`Node::init`] without touching the
    /// process: Maelstrom and the bench forward a test's trailing arguments
    /// to every node.
    pub fn args(&self) -> &[String] {
        &self.core.args
    }

    /// The node's random number generator (seeded by the driver, so a
    /// simulated run is reproducible).
    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.core.rng
    }

    /// Send a message that expects no reply.
    pub fn send<P: Serialize + ?Sized>(&mut self, dest: &str, payload: &P) {
        self.core.emit(dest, payload, None, None);
    }

    /// Reply to a request. Requests without a `msg_id` cannot be replied to;
    /// for them this does nothing.
    pub fn reply<Q, P: Serialize + ?Sized>(&mut self, to: &Request<Q>, payload: &P) {
        if let Some(id) = to.msg_id {
            self.core.emit(&to.src, payload, None, Some(id));
        }
    }

    /// Reply to `(src, msg_id)` directly, for replies sent after the request
    /// itself was dropped (for example once a batch is acknowledged).
    pub fn reply_to<P: Serialize + ?Sized>(&mut self, src: &str, msg_id: MsgId, payload: &P) {
        self.core.emit(src, payload, None, Some(msg_id));
    }

    /// Send an error reply to `(src, msg_id)`.
    pub fn reply_error(&mut self, src: &str, msg_id: MsgId, error: &Error) {
        self.core.emit_error(src, msg_id, error);
    }

    /// Send a request and hear its outcome in [`Node::on_reply`] with `call`.
    /// If no reply arrives within `timeout`, the node hears a timeout error
    /// and a later reply is dropped.
    pub fn rpc<P: Serialize + ?Sized>(
        &mut self,
        dest: &str,
        payload: &P,
        timeout: Duration,
        call: N::Call,
    ) -> MsgId {
        let id = self.core.next_msg_id();
        self.core.emit(dest, payload, Some(id), None);
        self.core.register_rpc(id, self.now + timeout, call);
        id
    }

    /// Call [`Node::on_timer`] with `timer` once `after` has passed.
    pub fn set_timer(&mut self, after: Duration, timer: N::Timer) {
        self.core.set_timer(self.now + after, timer);
    }

    /// The node's disk: an append-only log plus a snapshot that survive a
    /// restart of the node (see [`super::storage`] for the guarantees).
    /// Read it back with [`Disk::load`] in [`Node::init`]. Output never
    /// leaves the node before the records appended before it are synced.
    pub fn disk(&mut self) -> &mut dyn Disk {
        &mut *self.core.disk
    }

    /// Write a line to the node's log (stderr in a real run).
    pub fn log(&mut self, msg: impl fmt::Display) {
        self.core.log(format_args!("{msg}"));
    }
}
