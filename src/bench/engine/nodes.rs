//! The nodes' side of the engine: what they print, the network between
//! everyone, the services, and the nemesis's operations on nodes and links.
//!
//! Every line a node prints goes through [`Engine::on_node_line`], the one
//! parse-and-validate path (the envelope schema is the wire module's
//! [`NodeEnvelope`]; maelstrom: src/maelstrom/net/message.clj,
//! src/maelstrom/process.clj), and then into the network, which delivers it
//! at its deadline (maelstrom: src/maelstrom/net.clj).

use super::queue::Event;
use super::{BenchError, Engine};
use crate::bench::backend::NodeEvent;
use crate::bench::history::{Op, OpType, Process};
use crate::bench::nemesis::{NemesisOp, Stream};
use crate::bench::net::{Ep, EpKind};
use crate::bench::services::answer;
use crate::runtime::message::NodeEnvelope;
use serde_json::{json, Value};
use std::time::Duration;

/// How the refusal of a line addressed to a closed client starts.
const CLOSED_CLIENT: &str = "invalid destination for message: client";

/// How many offending node lines are kept in the results.
const MAX_NODE_ERRORS: usize = 50;

/// What the engine knows about the nodes.
pub(super) struct Nodes {
    /// Each node's endpoint.
    pub(super) eps: Vec<Ep>,
    /// Killed by the nemesis (and not restarted yet): its exit is expected.
    down: Vec<bool>,
    /// How many times the nemesis killed or paused each node: an init sent
    /// before the latest of these may go unanswered.
    pub(super) faults: Vec<u64>,
    /// The first [`MAX_NODE_ERRORS`] invalid lines, for `node-output`.
    pub(super) errors: Vec<Value>,
    /// How many invalid lines in all.
    pub(super) error_count: usize,
    /// When each node was muted by its first bad line (Maelstrom's mode).
    pub(super) muted: Vec<Option<Duration>>,
    /// Lines each muted node printed after it was muted (dropped).
    pub(super) dropped: Vec<u64>,
    /// Under kill or pause: replies to closed clients, dropped without
    /// muting their node (see [`Engine::on_node_line`]).
    pub(super) late_replies: u64,
}

impl Nodes {
    /// Whether the nemesis killed node `node` and has not started it yet.
    pub(super) fn is_down(&self, node: usize) -> bool {
        self.down[node]
    }

    pub(super) fn new(eps: Vec<Ep>) -> Self {
        Nodes {
            down: vec![false; eps.len()],
            faults: vec![0; eps.len()],
            muted: vec![None; eps.len()],
            dropped: vec![0; eps.len()],
            eps,
            errors: Vec::new(),
            error_count: 0,
            late_replies: 0,
        }
    }
}

impl Engine<'_> {
    pub(super) fn process_node_events(&mut self, buf: &mut Vec<NodeEvent>) {
        for ev in buf.drain(..) {
            match ev {
                NodeEvent::Line { node, line } => self.on_node_line(node, &line),
                // A node the nemesis killed is expected to exit.
                NodeEvent::Exited { node, .. } if self.nodes.down[node] => {}
                NodeEvent::Exited { report, .. } => self.fail(BenchError::Fatal(report)),
                NodeEvent::Interrupted => self.fatal = Some(BenchError::Interrupted),
            }
        }
    }

    // ---- network -------------------------------------------------------

    pub(super) fn send(&mut self, src: Ep, dest: Ep, body: Box<str>) {
        self.net.send(self.now, src, dest, body);
        if let Some(t) = self.net.next_head(dest) {
            self.schedule(t, Event::Deliver(dest));
        }
    }

    pub(super) fn deliver(&mut self, ep: Ep) {
        if let Some(id) = self.net.take_head(ep, self.now) {
            match self.net.endpoints[ep].kind {
                EpKind::Node(i) => {
                    let line = self.net.wire_line(id);
                    let mut buf = std::mem::take(&mut self.buf);
                    self.backend.deliver(i, &line, self.now, &mut buf);
                    if self.overload.active {
                        let m = &self.net.messages[id as usize];
                        let clock = self.backend.now();
                        self.overload.on_delivered(ep, m.src, &m.body, clock);
                    }
                    self.process_node_events(&mut buf);
                    self.buf = buf;
                }
                EpKind::Client(c) => self.client_receive(c, id),
                EpKind::Service(s) => self.service_receive(s, id),
            }
        }
        if let Some(t) = self.net.next_head(ep) {
            self.schedule(t, Event::Deliver(ep));
        }
    }

    /// Record a bad line of `node`; in Maelstrom's mode (not `--strict`)
    /// its first one mutes the node, as Maelstrom's stdout reader stops
    /// there (maelstrom: src/maelstrom/process.clj, `io-thread` returns
    /// `nil` from its catch-all and loops on an empty line sequence).
    fn node_error(&mut self, node: usize, line: &str, error: String) {
        self.nodes.error_count += 1;
        let name = &self.opts.nodes[node];
        let muted_before = self.nodes.muted[node].is_some();
        let mutes = !self.opts.strict && !muted_before;
        if mutes {
            self.nodes.muted[node] = Some(self.now);
        }
        if self.cfg.verbose && (self.nodes.error_count <= 5 || mutes) {
            let (level, then) = match (self.opts.strict, mutes) {
                (true, _) => ("ERROR", "--strict: the run will not be valid"),
                (false, true) => (
                    "WARNING",
                    "Maelstrom stops reading this node here, and so does the bench: its later lines are dropped",
                ),
                (false, false) => ("WARNING", "already muted: the line is dropped"),
            };
            eprintln!("glomers: {level}: node {name}: {error}\n    line: {line}\n    {then}");
        }
        if self.nodes.errors.len() < MAX_NODE_ERRORS {
            self.nodes.errors.push(json!({
                "node": name,
                "time": self.now.as_nanos() as u64,
                "error": error,
                "line": line,
                "muted": muted_before || mutes,
            }));
        }
    }

    /// The one parse-and-validate path for everything a node prints. In
    /// Maelstrom's mode a muted node's lines are dropped (and counted; a bad
    /// one is still reported); under `--strict` the node is never muted.
    ///
    /// Beyond Maelstrom: when the nemesis kills or pauses nodes, a reply to
    /// a client that was already closed is dropped and counted, not an
    /// error. A paused node wakes up to answer requests whose clients gave
    /// up on it (and so may a node that waited on a paused or restarted
    /// peer), as any real server does; Maelstrom never pauses a node, so
    /// it never meets this, and with partitions alone the rule is
    /// Maelstrom's.
    fn on_node_line(&mut self, node: usize, line: &str) {
        let parsed = self.parse_node_line(line);
        if self.opts.nemesis.iter().any(|f| f.acts_on_nodes())
            && matches!(&parsed, Err(why) if why.starts_with(CLOSED_CLIENT))
        {
            self.nodes.late_replies += 1;
            return;
        }
        if self.nodes.muted[node].is_some() {
            self.nodes.dropped[node] += 1;
            if let Err(why) = parsed {
                self.node_error(node, line, why);
            }
            return;
        }
        match parsed {
            Ok((src, dest, body)) => {
                if self.overload.active {
                    let clock = self.backend.now();
                    self.overload.on_node_line(src, dest, &body, clock);
                }
                self.send(src, dest, body)
            }
            Err(why) => self.node_error(node, line, why),
        }
    }

    /// A node line as a message of the network, or why Maelstrom would
    /// refuse it (maelstrom: src/maelstrom/process.clj `parse-msg`,
    /// src/maelstrom/net.clj `validate-msg`).
    fn parse_node_line(&self, line: &str) -> Result<(Ep, Ep, Box<str>), String> {
        let env: NodeEnvelope<'_> = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                return Err(
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(line) {
                        format!("line-not-valid-json: printed a line to STDOUT which was not well-formed JSON ({e})")
                    } else {
                        format!("malformed-message: not a message envelope of exactly src, dest, body and an optional integer id ({e})")
                    },
                );
            }
        };
        if env
            .id
            .as_ref()
            .is_some_and(|id| !(id.is_i64() || id.is_u64()))
        {
            return Err("malformed-message: id is not an integer".into());
        }
        let Some(src) = self.net.lookup(&env.src) else {
            return Err(format!(
                "invalid source for message: {:?} is not a node, open client or service",
                env.src
            ));
        };
        let Some(dest) = self.net.lookup(&env.dest) else {
            let closed = env
                .dest
                .strip_prefix('c')
                .and_then(|k| k.parse::<usize>().ok())
                .is_some_and(|k| self.is_known_client(k));
            return Err(if closed {
                format!(
                    "{CLOSED_CLIENT} {:?} was already closed (its worker moved on to a new client after an indeterminate op)",
                    env.dest
                )
            } else {
                format!(
                    "invalid destination for message: {:?} is not a node, open client or service",
                    env.dest
                )
            });
        };
        Ok((src, dest, env.body.get().into()))
    }

    // ---- services ------------------------------------------------------

    fn service_receive(&mut self, s: usize, id: u64) {
        let msg = &self.net.messages[id as usize];
        let (src, svc_ep) = (msg.src, msg.dest);
        let src_name = self.net.name(src).to_string();
        let services = &mut self.services;
        let svc = services.list[s].as_mut();
        let Some(reply) = answer(svc, &src_name, &msg.body, &mut services.rng) else {
            return;
        };
        if self.net.endpoints[src].open {
            self.send(svc_ep, src, reply.to_string().into_boxed_str());
        }
    }

    // ---- nemesis -------------------------------------------------------

    /// A nemesis stream's tick in the main phase: apply its next op (if
    /// it has one), schedule the one after.
    pub(super) fn nemesis_tick(&mut self, stream: Stream) {
        if !self.phases.in_main() || self.now >= self.generator.main_end {
            return;
        }
        let (op, gap) = self.nemesis.next(stream, self.opts.nodes.len());
        if let Some(op) = op {
            self.apply_nemesis(op);
        }
        let next = self.now + gap;
        if next < self.generator.main_end {
            self.schedule(next, Event::Nemesis(stream));
        }
    }

    /// Carry out one nemesis op and record it as Jepsen does: two `info`
    /// entries, the request and what was done. A lifecycle op the backend
    /// cannot do stops the test.
    pub(super) fn apply_nemesis(&mut self, op: NemesisOp) {
        let done = match &op {
            NemesisOp::StartPartition { grudge, .. } => {
                self.net.apply_grudge(grudge);
                Ok(())
            }
            NemesisOp::StopPartition => {
                self.net.heal();
                Ok(())
            }
            NemesisOp::Kill(nodes) => self.each_node(nodes, |e, n| {
                e.nodes.down[n] = true;
                e.nodes.faults[n] += 1;
                e.backend.kill(n)
            }),
            NemesisOp::Start(nodes) => self.each_node(nodes, |e, n| {
                e.backend.start(n)?;
                e.nodes.down[n] = false;
                // A new process gets a new stdout reader, as in Maelstrom.
                e.nodes.muted[n] = None;
                e.send_init(n);
                Ok(())
            }),
            NemesisOp::Pause(nodes) => self.each_node(nodes, |e, n| {
                e.nodes.faults[n] += 1;
                e.backend.pause(n)
            }),
            NemesisOp::Resume(nodes) => self.each_node(nodes, |e, n| e.backend.resume(n)),
        };
        if let Err(why) = done {
            return self.fail(BenchError::Fatal(format!("nemesis {}: {why}", op.f())));
        }
        let (invoke, info) = op.values(&self.opts.nodes);
        for value in [invoke, info] {
            self.history.push(Op {
                index: 0,
                time: self.now.as_nanos() as u64,
                process: Process::Nemesis,
                kind: OpType::Info,
                f: op.f().into(),
                value,
                error: None,
                final_phase: false,
            });
        }
        // After the kill is in the history, the ops it cut short end.
        if let NemesisOp::Kill(nodes) = &op {
            for &n in nodes {
                self.abort_rpcs_to(n);
            }
        }
    }

    fn each_node(
        &mut self,
        nodes: &[usize],
        mut f: impl FnMut(&mut Self, usize) -> Result<(), String>,
    ) -> Result<(), String> {
        nodes.iter().try_for_each(|&n| f(self, n))
    }
}
