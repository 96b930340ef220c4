//! The handler interface: [`Node`] is the state machine a challenge writes,
//! [`Ctx`] is everything it may touch.

use super::host::Core;
use super::message::{AsReplyTo, Init, MsgId, NodeId, Reply, Request, TypeOnly};
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
/// state. After that, every incoming request becomes [`Node::on_message`].
/// Everything else a node waits for is a continuation it hands to the
/// [`Ctx`] at the moment it starts waiting: a timer ([`Ctx::after`],
/// [`Ctx::every`]) or the outcome of an RPC ([`Ctx::rpc`], the service
/// clients in [`super::kv`]). A node that uses neither writes nothing for
/// them: no associated types, no empty callbacks.
///
/// # Why closures, and why they stay deterministic
///
/// Rust has no stable defaults for associated types, so a `type Timer` or
/// `type Call` on this trait would be written by every node, even echo.
/// Continuations as closures need no type on the trait, read like the Go
/// demo library's callbacks (`n.RPC(dest, body, func(msg) …)`), and carry
/// their own context (which peer, which round) instead of a hand-written
/// enum. The host keeps them in its queues keyed by `(deadline, order of
/// setting)` or by `msg_id`, and calls them from the same single thread
/// that handles messages, so a simulated run on a virtual clock replays
/// exactly as before: nothing here reads a clock or spawns a task.
pub trait Node: Sized + 'static {
    /// Every message type the node accepts (from clients and from other
    /// nodes): a serde enum tagged by `type`. Replies the node sends need
    /// not be in it: [`Ctx::reply`] takes any `Serialize`.
    type Payload: DeserializeOwned;

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
}

/// A timer's continuation: runs once, or (for [`Ctx::every`]) each period.
pub(crate) type TimerFn<N> = Box<dyn FnMut(&mut N, &mut Ctx<'_, N>)>;

/// An RPC's continuation: hears the reply, the error reply or the timeout.
pub(crate) type ReplyFn<N> = Box<dyn FnOnce(&mut N, Result<Reply, Error>, &mut Ctx<'_, N>)>;

/// A timer set with [`Ctx::after`] or [`Ctx::every`], for [`Ctx::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub(crate) u64);

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

    /// Reply to a request: `to` is the request itself or its
    /// [`Request::from`], which stays usable after the payload was matched
    /// by value. Requests without a `msg_id` cannot be replied to; for them
    /// this does nothing. `payload` is any `Serialize` with a `type`, so
    /// replies need no `*_ok` variants in the node's payload enum.
    pub fn reply<P: Serialize + ?Sized>(&mut self, to: &impl AsReplyTo, payload: &P) {
        let to = to.reply_to();
        if let Some(id) = to.msg_id {
            self.core.emit(&to.src, payload, None, Some(id));
        }
    }

    /// Reply with a body that is only a `type`, such as `topology_ok`.
    pub fn ack(&mut self, to: &impl AsReplyTo, kind: &str) {
        self.reply(to, &TypeOnly { kind });
    }

    /// Reply to `(src, msg_id)` directly (prefer keeping the request's
    /// [`super::ReplyTo`] and calling [`Ctx::reply`]).
    pub fn reply_to<P: Serialize + ?Sized>(&mut self, src: &str, msg_id: MsgId, payload: &P) {
        self.core.emit(src, payload, None, Some(msg_id));
    }

    /// Send `error` as the reply to a request (nothing if it had no
    /// `msg_id`). Returning `Err` from [`Node::on_message`] does the same
    /// for the request being handled.
    pub fn reply_err(&mut self, to: &impl AsReplyTo, error: &Error) {
        let to = to.reply_to();
        if let Some(id) = to.msg_id {
            self.core.emit_error(&to.src, id, error);
        }
    }

    /// Send an error reply to `(src, msg_id)`.
    pub fn reply_error(&mut self, src: &str, msg_id: MsgId, error: &Error) {
        self.core.emit_error(src, msg_id, error);
    }

    /// Send a request and run `then` with its outcome: the reply, an error
    /// reply (`Err` with its code), or, if nothing arrived within `timeout`,
    /// a timeout (`Err` with code 0, indefinite). A reply after the timeout
    /// is dropped by the runtime and never reaches `then`, so a
    /// continuation runs exactly once.
    pub fn rpc<P, F>(&mut self, dest: &str, payload: &P, timeout: Duration, then: F) -> MsgId
    where
        P: Serialize + ?Sized,
        F: FnOnce(&mut N, Result<Reply, Error>, &mut Ctx<'_, N>) + 'static,
    {
        let id = self.core.next_msg_id();
        self.core.emit(dest, payload, Some(id), None);
        self.core
            .register_rpc(id, self.now + timeout, Box::new(then));
        id
    }

    /// Run `then` once `delay` has passed. Timers due at the same time run
    /// in the order they were set.
    pub fn after<F>(&mut self, delay: Duration, then: F) -> TimerId
    where
        F: FnOnce(&mut N, &mut Ctx<'_, N>) + 'static,
    {
        let mut once = Some(then);
        let f: TimerFn<N> = Box::new(move |node, ctx| {
            if let Some(f) = once.take() {
                f(node, ctx)
            }
        });
        self.core.set_timer(self.now + delay, None, f)
    }

    /// Run `tick` every `period`, first after one period, until
    /// [`Ctx::cancel`]. Each run is re-armed one period after the time it
    /// ran (as a handler re-arming itself would), after `tick` returns.
    pub fn every<F>(&mut self, period: Duration, tick: F) -> TimerId
    where
        F: FnMut(&mut N, &mut Ctx<'_, N>) + 'static,
    {
        self.core
            .set_timer(self.now + period, Some(period), Box::new(tick))
    }

    /// Stop a timer: it will not run (again). Cancelling a timer that
    /// already ran or was cancelled does nothing.
    pub fn cancel(&mut self, timer: TimerId) {
        self.core.cancel_timer(timer);
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
