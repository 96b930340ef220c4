//! [`NodeHost`]: the sans-IO core of the runtime. It turns input lines into
//! handler calls and handler effects into output lines, keeps the pending-RPC
//! table and the timers, and never touches stdin, stdout or a clock: the
//! caller passes the current time in and drains the output.

use super::message::write_envelope;
use super::message::{
    BodyHeader, ErrorBody, Init, MsgId, MsgIdOnly, NodeId, OutBody, RawEnvelope, Reply, ReplyTo,
    Request, TypeOnly,
};
use super::node::{Ctx, Node, ReplyFn, TimerFn, TimerId};
use super::parse;
use super::queue::EventQueue;
use super::storage::{Disk, MemDisk};
use super::{Error, ErrorCode};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::time::Duration;

/// The longest piece of an offending line quoted in a log message.
const QUOTE_LIMIT: usize = 200;

/// Mixed into the host's seed for its default disk's crash draws, so they
/// do not mirror the node's own RNG.
const DISK_SEED: u64 = 0x6469_736b_6469_736b;

/// Everything of the host except the handler's state, so that a [`Ctx`] can
/// borrow it while the handler is borrowed too.
pub(crate) struct Core<N: Node> {
    pub(crate) id: NodeId,
    pub(crate) node_ids: Vec<NodeId>,
    pub(crate) rng: SmallRng,
    next_msg_id: MsgId,
    /// Outstanding RPCs by `msg_id`: their continuations.
    pending: HashMap<MsgId, ReplyFn<N>>,
    /// RPC deadlines, lazily cleaned: an entry whose RPC was answered is
    /// skipped when it comes up. Ties go in sending order (msg_ids rise).
    rpc_deadlines: EventQueue<MsgId>,
    /// Timers by deadline; timers due together fire in the order set. A
    /// cancelled timer stays queued and is skipped (it has no entry in
    /// `timer_fns`).
    timers: EventQueue<TimerId>,
    /// Live timers' continuations, and the period of a repeating one.
    timer_fns: HashMap<TimerId, (Option<Duration>, TimerFn<N>)>,
    /// The last [`TimerId`] handed out.
    last_timer: u64,
    /// The repeating timer whose continuation is running, and whether it
    /// cancelled itself meanwhile (so it is not re-armed).
    firing: Option<(TimerId, bool)>,
    /// Serialized output lines, newline-terminated, waiting to be written.
    out: Vec<u8>,
    /// Log lines waiting to be written to stderr.
    logs: Vec<u8>,
    /// Log every message received and sent.
    trace: bool,
    /// Wall-clock time (since the Unix epoch) at which this incarnation
    /// started; supplied by the driver.
    pub(crate) boot_time: Duration,
    /// The node's command-line arguments (after the program name);
    /// supplied by the driver.
    pub(crate) args: Vec<String>,
    /// The node's disk: a [`MemDisk`] unless the driver or a simulator
    /// supplies another.
    pub(crate) disk: Box<dyn Disk>,
}

impl<N: Node> Core<N> {
    pub(crate) fn next_msg_id(&mut self) -> MsgId {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        id
    }

    pub(crate) fn emit<P: Serialize + ?Sized>(
        &mut self,
        dest: &str,
        payload: &P,
        msg_id: Option<MsgId>,
        in_reply_to: Option<MsgId>,
    ) {
        let start = self.out.len();
        let body = OutBody {
            payload,
            msg_id,
            in_reply_to,
        };
        match write_envelope(&mut self.out, None, &self.id, dest, &body) {
            Ok(()) => {
                self.out.push(b'\n');
                if self.trace {
                    let line = String::from_utf8_lossy(&self.out[start..self.out.len() - 1]);
                    let _ = writeln!(self.logs, "send {line}");
                }
            }
            Err(e) => {
                self.out.truncate(start);
                let _ = writeln!(self.logs, "cannot serialize a message to {dest}: {e}");
            }
        }
    }

    pub(crate) fn emit_error(&mut self, dest: &str, in_reply_to: MsgId, error: &Error) {
        let body = ErrorBody {
            code: error.code,
            text: std::borrow::Cow::Borrowed(&error.text),
        };
        self.emit(dest, &body, None, Some(in_reply_to));
    }

    pub(crate) fn register_rpc(&mut self, id: MsgId, deadline: Duration, then: ReplyFn<N>) {
        self.pending.insert(id, then);
        self.rpc_deadlines.schedule(deadline, id);
    }

    pub(crate) fn set_timer(
        &mut self,
        deadline: Duration,
        period: Option<Duration>,
        then: TimerFn<N>,
    ) -> TimerId {
        self.last_timer += 1;
        let id = TimerId(self.last_timer);
        self.timer_fns.insert(id, (period, then));
        self.timers.schedule(deadline, id);
        id
    }

    pub(crate) fn cancel_timer(&mut self, id: TimerId) {
        self.timer_fns.remove(&id);
        if let Some((firing, cancelled)) = &mut self.firing {
            if *firing == id {
                *cancelled = true;
            }
        }
    }

    /// Clean up after a handler panicked: drop everything it emitted in the
    /// call that panicked (which may end in a half-written line if the panic
    /// came from a payload's `Serialize`), so stdout only ever sees complete
    /// lines and a request is not answered twice (its reply, then 13).
    /// `mark` is the output's length before the call.
    pub(crate) fn after_panic(&mut self, what: &str, mark: usize) {
        self.out.truncate(mark);
        self.log(format_args!(
            "the handler panicked in {what}; its output is dropped and the node carries on"
        ));
    }

    pub(crate) fn log(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.logs.write_fmt(args);
        self.logs.push(b'\n');
    }
}

/// The sans-IO host of one node: feed it lines and time, drain its output.
pub struct NodeHost<N: Node> {
    node: Option<N>,
    core: Core<N>,
}

/// Run a handler callback; a panic in it (already reported on stderr by the
/// panic hook) becomes `None`, so one bad message cannot stop the node. The
/// caller then calls [`Core::after_panic`].
fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

fn quote(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    if s.chars().count() > QUOTE_LIMIT {
        let cut: String = s.chars().take(QUOTE_LIMIT).collect();
        format!("{cut}… ({} bytes)", line.len())
    } else {
        s.into_owned()
    }
}

impl<N: Node> NodeHost<N> {
    /// A host whose RNG is seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        NodeHost {
            node: None,
            core: Core {
                id: String::new(),
                node_ids: Vec::new(),
                rng: SmallRng::seed_from_u64(seed),
                next_msg_id: 1,
                pending: HashMap::new(),
                rpc_deadlines: EventQueue::new(),
                timers: EventQueue::new(),
                timer_fns: HashMap::new(),
                last_timer: 0,
                firing: None,
                out: Vec::new(),
                logs: Vec::new(),
                trace: false,
                boot_time: Duration::ZERO,
                args: Vec::new(),
                disk: Box::new(MemDisk::new(seed ^ DISK_SEED)),
            },
        }
    }

    /// Log every message received and sent.
    pub fn set_trace(&mut self, trace: bool) {
        self.core.trace = trace;
    }

    /// Set the wall-clock time (since the Unix epoch) at which this
    /// incarnation of the node started, as [`Ctx::boot_time`] reports it.
    /// The real driver sets it from the system clock; a simulator sets a
    /// virtual one (it is zero until set).
    pub fn set_boot_time(&mut self, boot_time: Duration) {
        self.core.boot_time = boot_time;
    }

    /// Set the node's command-line arguments, as [`Ctx::args`] reports
    /// them: the real driver passes the binary's, a simulator the test's.
    pub fn set_args(&mut self, args: Vec<String>) {
        self.core.args = args;
    }

    /// Give the node this disk (before `init`): the driver's files, or a
    /// simulator's [`MemDisk`] that outlives crashed hosts.
    pub fn set_disk(&mut self, disk: Box<dyn Disk>) {
        self.core.disk = disk;
    }

    /// The node's id, once initialised.
    pub fn id(&self) -> Option<&str> {
        self.node.as_ref().map(|_| self.core.id.as_str())
    }

    /// The handler's state, once initialised (for tests and the simulator).
    pub fn node(&self) -> Option<&N> {
        self.node.as_ref()
    }

    /// Output lines produced so far (each newline-terminated). The caller
    /// writes them out and clears the buffer.
    ///
    /// The write-ahead rule (see `storage.rs`): if the node appended records
    /// it has not synced, the disk is synced here first, once for all the
    /// output waiting, so no message leaves before what it may promise is
    /// durable. If that sync fails, the waiting output is dropped and the
    /// failure logged; the next call tries again.
    pub fn output(&mut self) -> &mut Vec<u8> {
        if self.core.disk.dirty() {
            if let Err(e) = self.core.disk.sync() {
                let dropped = self.core.out.iter().filter(|&&b| b == b'\n').count();
                self.core.out.clear();
                self.core.log(format_args!(
                    "disk sync failed ({e}): {dropped} output messages dropped"
                ));
            }
        }
        &mut self.core.out
    }

    /// Log lines produced so far (each newline-terminated), for stderr.
    pub fn logs(&mut self) -> &mut Vec<u8> {
        &mut self.core.logs
    }

    /// The earliest time at which [`NodeHost::tick`] has work to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        let t = self.core.timers.peek_time();
        let r = self.core.rpc_deadlines.peek_time();
        match (t, r) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire every timer and RPC timeout that is due at `now`.
    pub fn tick(&mut self, now: Duration) {
        loop {
            if let Some((_, id)) = self.core.timers.pop_due(now) {
                self.fire_timer(id, now);
                continue;
            }
            if let Some((_, id)) = self.core.rpc_deadlines.pop_due(now) {
                // Every msg_id is registered once, so a pending entry for
                // `id` is this deadline's; none means it was answered.
                if let Some(then) = self.core.pending.remove(&id) {
                    self.run_reply(then, Err(Error::timeout()), now);
                }
                continue;
            }
            break;
        }
    }

    /// Run timer `id`'s continuation (unless it was cancelled), and re-arm
    /// it one period later if it repeats and did not cancel itself.
    fn fire_timer(&mut self, id: TimerId, now: Duration) {
        let Some((period, mut then)) = self.core.timer_fns.remove(&id) else {
            return;
        };
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let mark = self.core.out.len();
        self.core.firing = Some((id, false));
        let mut ctx = Ctx {
            core: &mut self.core,
            now,
        };
        if guarded(|| then(node, &mut ctx)).is_none() {
            self.core.after_panic("a timer", mark);
        }
        let cancelled = matches!(self.core.firing.take(), Some((_, true)));
        if let (Some(period), false) = (period, cancelled) {
            self.core.timer_fns.insert(id, (Some(period), then));
            self.core.timers.schedule(now + period, id);
        }
    }

    /// Run an RPC's continuation with its outcome.
    fn run_reply(&mut self, then: ReplyFn<N>, result: Result<Reply, Error>, now: Duration) {
        if let Some(node) = self.node.as_mut() {
            let mark = self.core.out.len();
            let mut ctx = Ctx {
                core: &mut self.core,
                now,
            };
            if guarded(|| then(node, result, &mut ctx)).is_none() {
                self.core.after_panic("an RPC continuation", mark);
            }
        }
    }

    /// Handle one input line (without its newline) received at `now`.
    /// Never panics on bad input: lines that are not messages are logged and
    /// skipped; requests that cannot be served get an error reply.
    pub fn handle_line(&mut self, line: &[u8], now: Duration) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        // The fast path: one pass for a request to an initialised node.
        // Replies to our RPCs, `init` and anything the fast path declines
        // take the general path below.
        if self.node.is_some() {
            if let Some(req) = parse::request::<N::Payload>(line) {
                if self.core.trace {
                    let q = String::from_utf8_lossy(line);
                    self.core.log(format_args!("recv {q}"));
                }
                self.dispatch(&req.src, req.header.msg_id, req.payload, now);
                return;
            }
        }
        let env: RawEnvelope<'_> = match serde_json::from_slice(line) {
            Ok(env) => env,
            Err(e) => {
                let q = quote(line);
                self.core.log(format_args!(
                    "skipping an input line that is not a Maelstrom message ({e}): {q}"
                ));
                return;
            }
        };
        if self.core.trace {
            let q = String::from_utf8_lossy(line);
            self.core.log(format_args!("recv {q}"));
        }
        let header: BodyHeader<'_> = match serde_json::from_str(env.body.get()) {
            Ok(h) => h,
            Err(e) => {
                // A body whose reserved keys have the wrong shape (say a
                // numeric `type`): answer 12 if its `msg_id` is readable.
                match serde_json::from_str::<MsgIdOnly>(env.body.get()) {
                    Ok(MsgIdOnly {
                        msg_id: Some(id),
                        in_reply_to: None,
                    }) => {
                        let err = Error::new(
                            ErrorCode::MalformedRequest,
                            format!("malformed message body: {e}"),
                        );
                        self.core.emit_error(&env.src, id, &err);
                    }
                    _ => {
                        let q = quote(line);
                        self.core.log(format_args!(
                            "skipping a message whose body is unreadable ({e}): {q}"
                        ));
                    }
                }
                return;
            }
        };
        if let Some(irt) = header.in_reply_to {
            self.handle_reply(env, header.kind.as_deref() == Some("error"), irt, now);
            return;
        }
        let Some(kind) = header.kind.as_deref() else {
            if let Some(id) = header.msg_id {
                let e = Error::new(ErrorCode::MalformedRequest, "message body has no type");
                self.core.emit_error(&env.src, id, &e);
            } else {
                let q = quote(line);
                self.core
                    .log(format_args!("skipping a message with no type: {q}"));
            }
            return;
        };
        if kind == "init" {
            self.handle_init(&env, header.msg_id, now);
            return;
        }
        if self.node.is_none() {
            if let Some(id) = header.msg_id {
                let e = Error::new(
                    ErrorCode::TemporarilyUnavailable,
                    "node has not received init yet",
                );
                // It does not know its id yet (a restarted node hears from
                // clients before its new init): it answers as the node
                // the request was addressed to, or the reply would have no
                // valid source.
                let unknown = std::mem::replace(&mut self.core.id, env.dest.to_string());
                self.core.emit_error(&env.src, id, &e);
                self.core.id = unknown;
            }
            return;
        };
        let payload: N::Payload = match serde_json::from_str(env.body.get()) {
            Ok(p) => p,
            Err(e) => {
                let msg = e.to_string();
                let (code, text) = if msg.starts_with(&format!("unknown variant `{kind}`")) {
                    (
                        ErrorCode::NotSupported,
                        format!("message type {kind:?} is not supported"),
                    )
                } else {
                    (
                        ErrorCode::MalformedRequest,
                        format!("malformed {kind:?} body: {msg}"),
                    )
                };
                match header.msg_id {
                    Some(id) => self.core.emit_error(&env.src, id, &Error::new(code, text)),
                    None => {
                        let q = quote(line);
                        self.core.log(format_args!("skipping message: {text}: {q}"));
                    }
                }
                return;
            }
        };
        self.dispatch(&env.src, header.msg_id, payload, now);
    }

    /// Call the handler with a request, and turn its error (or panic) into
    /// an error reply.
    fn dispatch(&mut self, src: &str, msg_id: Option<MsgId>, payload: N::Payload, now: Duration) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let request = Request {
            from: ReplyTo {
                src: src.to_owned(),
                msg_id,
            },
            payload,
        };
        let mark = self.core.out.len();
        let mut ctx = Ctx {
            core: &mut self.core,
            now,
        };
        let outcome = guarded(|| node.on_message(request, &mut ctx)).unwrap_or_else(|| {
            self.core.after_panic("on_message", mark);
            Err(Error::new(ErrorCode::Crash, "the handler panicked"))
        });
        if let Err(e) = outcome {
            match msg_id {
                Some(id) => self.core.emit_error(src, id, &e),
                None => self
                    .core
                    .log(format_args!("error handling a message from {src}: {e}")),
            }
        }
    }

    fn handle_reply(&mut self, env: RawEnvelope<'_>, is_error: bool, irt: MsgId, now: Duration) {
        let Some(then) = self.core.pending.remove(&irt) else {
            if self.core.trace {
                self.core.log(format_args!(
                    "dropping a reply from {} to unknown or expired request {irt}",
                    env.src
                ));
            }
            return;
        };
        let result = if is_error {
            match serde_json::from_str::<ErrorBody<'_>>(env.body.get()) {
                Ok(b) => Err(Error::new(b.code, b.text.into_owned())),
                Err(e) => Err(Error::new(
                    ErrorCode::Crash,
                    format!("unreadable error reply: {e}"),
                )),
            }
        } else {
            Ok(Reply {
                src: env.src.into_owned(),
                body: env.body.to_owned(),
            })
        };
        self.run_reply(then, result, now);
    }

    fn handle_init(&mut self, env: &RawEnvelope<'_>, msg_id: Option<MsgId>, now: Duration) {
        let init: Init = match serde_json::from_str(env.body.get()) {
            Ok(i) => i,
            Err(e) => {
                if let Some(id) = msg_id {
                    let err =
                        Error::new(ErrorCode::MalformedRequest, format!("malformed init: {e}"));
                    self.core.emit_error(&env.src, id, &err);
                }
                return;
            }
        };
        if self.node.is_none() {
            self.core.id = init.node_id.clone();
            self.core.node_ids = init.node_ids.clone();
            self.core.disk.attach(&init.node_id);
            let mark = self.core.out.len();
            let mut ctx = Ctx {
                core: &mut self.core,
                now,
            };
            let built = guarded(|| N::init(&init, &mut ctx)).unwrap_or_else(|| {
                self.core.after_panic("init", mark);
                Err(anyhow::anyhow!("the handler panicked in init"))
            });
            match built {
                Ok(node) => self.node = Some(node),
                Err(e) => {
                    if let Some(id) = msg_id {
                        self.core.emit_error(&env.src, id, &Error::from(e));
                    }
                    return;
                }
            }
        } else if init.node_id != self.core.id {
            if let Some(id) = msg_id {
                let err = Error::new(
                    ErrorCode::Abort,
                    format!("already initialised as {}", self.core.id),
                );
                self.core.emit_error(&env.src, id, &err);
            }
            return;
        }
        if let Some(id) = msg_id {
            self.core
                .emit(&env.src, &TypeOnly { kind: "init_ok" }, None, Some(id));
        }
    }
}

/// An object-safe view of a [`NodeHost`], so a simulator can hold hosts of
/// different handler types side by side.
pub trait AnyHost {
    /// See [`NodeHost::handle_line`].
    fn handle_line(&mut self, line: &[u8], now: Duration);
    /// See [`NodeHost::tick`].
    fn tick(&mut self, now: Duration);
    /// See [`NodeHost::next_deadline`].
    fn next_deadline(&self) -> Option<Duration>;
    /// See [`NodeHost::output`].
    fn output(&mut self) -> &mut Vec<u8>;
    /// See [`NodeHost::logs`].
    fn logs(&mut self) -> &mut Vec<u8>;
    /// See [`NodeHost::set_boot_time`]. The default does nothing, for
    /// hosts without a notion of incarnation.
    fn set_boot_time(&mut self, boot_time: Duration) {
        let _ = boot_time;
    }
    /// See [`NodeHost::set_args`]. The default ignores the arguments.
    fn set_args(&mut self, args: Vec<String>) {
        let _ = args;
    }
    /// The host itself, so that a test holding a `Box<dyn AnyHost>` can
    /// downcast it to its `NodeHost<N>` and read the handler's state
    /// ([`NodeHost::node`]).
    fn as_any(&self) -> &dyn std::any::Any;
    /// See [`NodeHost::set_disk`]. The default ignores the disk, for hosts
    /// that keep nothing.
    fn set_disk(&mut self, disk: Box<dyn Disk>) {
        let _ = disk;
    }
}

impl<N: Node + 'static> AnyHost for NodeHost<N> {
    fn handle_line(&mut self, line: &[u8], now: Duration) {
        NodeHost::handle_line(self, line, now)
    }
    fn tick(&mut self, now: Duration) {
        NodeHost::tick(self, now)
    }
    fn next_deadline(&self) -> Option<Duration> {
        NodeHost::next_deadline(self)
    }
    fn output(&mut self) -> &mut Vec<u8> {
        NodeHost::output(self)
    }
    fn logs(&mut self) -> &mut Vec<u8> {
        NodeHost::logs(self)
    }
    fn set_boot_time(&mut self, boot_time: Duration) {
        NodeHost::set_boot_time(self, boot_time)
    }
    fn set_args(&mut self, args: Vec<String>) {
        NodeHost::set_args(self, args)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn set_disk(&mut self, disk: Box<dyn Disk>) {
        NodeHost::set_disk(self, disk)
    }
}
