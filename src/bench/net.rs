//! The simulated network (spec §3): endpoints, per-destination queues in
//! deadline order, latency, partitions, and the message journal.
//!
//! Every party (node, client, service) is an [`Endpoint`] with a queue
//! ordered by deadline (send time + latency). The engine delivers a
//! destination's messages one at a time: the message with the smallest
//! deadline becomes the *head* (the partition check happens here, so a
//! message is lost if its destination holds a grudge against its source when
//! it reaches the head), and is delivered at its deadline. While a head
//! waits, a later send with an earlier deadline cannot overtake it — the
//! head-of-line blocking of Maelstrom's one-thread-per-destination delivery.
//!
//! Latency is zero when either end is a client; otherwise it is drawn per
//! message from the configured distribution. Clients and services are never
//! partitioned. Every send and every delivery is journaled; dropped
//! messages appear as sends only.

use super::opts::{LatencyDist, TestOpts};
use crate::runtime::message;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

/// An endpoint's index in the network.
pub type Ep = usize;

/// What kind of party an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpKind {
    /// Node `nodes[i]`.
    Node(usize),
    /// The engine's client number `i`.
    Client(usize),
    /// Service number `i`.
    Service(usize),
}

/// One party on the network.
#[derive(Debug)]
pub struct Endpoint {
    /// Its id (`n0`, `c4`, `lin-kv`).
    pub name: String,
    /// What it is.
    pub kind: EpKind,
    /// False once a client is closed: messages to it are then invalid.
    pub open: bool,
    /// Waiting messages: (deadline, message id).
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    /// The message being delivered next, if any (its deadline, its id).
    head: Option<(Duration, u64)>,
}

/// A message as sent: global id, ends, and the body's JSON text.
#[derive(Debug)]
pub struct Message {
    /// Maelstrom's global message id (0, 1, …).
    pub id: u64,
    /// Sender.
    pub src: Ep,
    /// Destination.
    pub dest: Ep,
    /// The body, as JSON text.
    pub body: Box<str>,
}

/// One journal entry: a send or a delivery.
#[derive(Debug, Clone, Copy)]
pub struct JournalEvent {
    /// When.
    pub time: Duration,
    /// Delivery (true) or send (false).
    pub recv: bool,
    /// The message id.
    pub msg: u64,
}

/// The network state.
pub struct Network {
    /// All endpoints, by index.
    pub endpoints: Vec<Endpoint>,
    by_name: HashMap<String, Ep>,
    /// Every message ever sent, by id.
    pub messages: Vec<Message>,
    /// Every send and delivery, in order.
    pub journal: Vec<JournalEvent>,
    /// `drops[dest][src]` for nodes: dest ignores src.
    drops: Vec<Vec<bool>>,
    latency_ms: u64,
    dist: LatencyDist,
    rng: StdRng,
}

/// Classification Maelstrom uses everywhere: ids starting with `c` are clients.
pub fn is_client_name(name: &str) -> bool {
    name.starts_with('c')
}

impl Network {
    /// A network for `opts`' latency, drawing from `rng`.
    pub fn new(opts: &TestOpts, rng: StdRng) -> Self {
        let n = opts.nodes.len();
        Network {
            endpoints: Vec::new(),
            by_name: HashMap::new(),
            messages: Vec::new(),
            journal: Vec::new(),
            drops: vec![vec![false; n]; n],
            latency_ms: opts.latency,
            dist: opts.latency_dist,
            rng,
        }
    }

    /// Register a party; returns its endpoint.
    pub fn add(&mut self, name: &str, kind: EpKind) -> Ep {
        let ep = self.endpoints.len();
        self.endpoints.push(Endpoint {
            name: name.to_string(),
            kind,
            open: true,
            queue: BinaryHeap::new(),
            head: None,
        });
        self.by_name.insert(name.to_string(), ep);
        ep
    }

    /// Remove a client: later messages to or from it are invalid.
    pub fn close(&mut self, ep: Ep) {
        self.endpoints[ep].open = false;
        let name = self.endpoints[ep].name.clone();
        self.by_name.remove(&name);
    }

    /// The open endpoint called `name`.
    pub fn lookup(&self, name: &str) -> Option<Ep> {
        self.by_name.get(name).copied()
    }

    /// Its name.
    pub fn name(&self, ep: Ep) -> &str {
        &self.endpoints[ep].name
    }

    fn is_client(&self, ep: Ep) -> bool {
        matches!(self.endpoints[ep].kind, EpKind::Client(_))
    }

    fn draw_latency(&mut self) -> Duration {
        let l = self.latency_ms;
        let ms = match self.dist {
            LatencyDist::Constant => l,
            LatencyDist::Uniform if l == 0 => 0,
            LatencyDist::Uniform => self.rng.gen_range(0..2 * l),
            LatencyDist::Exponential if l == 0 => 0,
            LatencyDist::Exponential => {
                let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
                (-u.ln() * l as f64).floor() as u64
            }
        };
        Duration::from_millis(ms)
    }

    /// Send a message at `now`: journal it and queue it at its destination.
    /// Returns its id. The caller then calls [`Network::next_head`] for the
    /// destination if it had no head.
    pub fn send(&mut self, now: Duration, src: Ep, dest: Ep, body: Box<str>) -> u64 {
        let id = self.messages.len() as u64;
        let latency = if self.is_client(src) || self.is_client(dest) {
            Duration::ZERO
        } else {
            self.draw_latency()
        };
        self.messages.push(Message {
            id,
            src,
            dest,
            body,
        });
        self.journal.push(JournalEvent {
            time: now,
            recv: false,
            msg: id,
        });
        self.endpoints[dest]
            .queue
            .push(Reverse((now + latency, id)));
        id
    }

    /// Whether `dest` drops messages from `src` now.
    fn partitioned(&self, src: Ep, dest: Ep) -> bool {
        match (self.endpoints[src].kind, self.endpoints[dest].kind) {
            (EpKind::Node(s), EpKind::Node(d)) => self.drops[d][s],
            _ => false,
        }
    }

    /// If `dest` has no head, take the next message from its queue (dropping
    /// any whose source `dest` holds a grudge against) and return the time at
    /// which it is due. None if it already has a head or nothing waits.
    pub fn next_head(&mut self, dest: Ep) -> Option<Duration> {
        if self.endpoints[dest].head.is_some() {
            return None;
        }
        while let Some(Reverse((deadline, id))) = self.endpoints[dest].queue.pop() {
            let src = self.messages[id as usize].src;
            if self.partitioned(src, dest) {
                continue;
            }
            self.endpoints[dest].head = Some((deadline, id));
            return Some(deadline);
        }
        None
    }

    /// Deliver `dest`'s head at `now`: journal the receive and return the
    /// message id.
    pub fn take_head(&mut self, dest: Ep, now: Duration) -> Option<u64> {
        let (_, id) = self.endpoints[dest].head.take()?;
        self.journal.push(JournalEvent {
            time: now,
            recv: true,
            msg: id,
        });
        Some(id)
    }

    /// Apply a grudge over node indices (adds to the current one).
    pub fn apply_grudge(&mut self, grudge: &super::nemesis::Grudge) {
        for (&dest, srcs) in grudge {
            for &src in srcs {
                if dest < self.drops.len() && src < self.drops.len() {
                    self.drops[dest][src] = true;
                }
            }
        }
    }

    /// Heal every partition.
    pub fn heal(&mut self) {
        for row in &mut self.drops {
            row.iter_mut().for_each(|b| *b = false);
        }
    }

    /// The line delivered to a node for message `id` (written by the wire
    /// module, [`crate::runtime::message::write_raw_envelope`]).
    pub fn wire_line(&self, id: u64) -> String {
        let m = &self.messages[id as usize];
        let mut out = Vec::with_capacity(m.body.len() + 64);
        message::write_raw_envelope(
            &mut out,
            Some(m.id),
            &self.endpoints[m.src].name,
            &self.endpoints[m.dest].name,
            &m.body,
        );
        message::into_text(out)
    }

    /// The journal as JSON lines: `{"time":ns,"type":"send"|"recv","message":{…}}`
    /// (written by [`crate::runtime::message::write_journal_line`], read back
    /// by [`crate::runtime::message::read_journal`]).
    pub fn journal_jsonl(&self) -> String {
        let mut out = Vec::with_capacity(self.journal.len() * 128);
        for ev in &self.journal {
            let m = &self.messages[ev.msg as usize];
            let kind = if ev.recv {
                message::JournalKind::Recv
            } else {
                message::JournalKind::Send
            };
            message::write_journal_line(
                &mut out,
                ev.time.as_nanos() as u64,
                kind,
                m.id,
                &self.endpoints[m.src].name,
                &self.endpoints[m.dest].name,
                &m.body,
            );
        }
        message::into_text(out)
    }

    /// Maelstrom's `net` checker over the journal (spec §3.5); msgs-per-op
    /// divides by `op_count` (client invocations) and is omitted when 0.
    pub fn stats(&self, op_count: usize) -> Value {
        let names: Vec<(bool, bool)> = self
            .messages
            .iter()
            .map(|m| {
                let c = is_client_name(&self.endpoints[m.src].name)
                    || is_client_name(&self.endpoints[m.dest].name);
                (c, !c)
            })
            .collect();
        net_stats(&self.journal, &names, op_count)
    }
}

/// The `net` result from journal events and, per message id, whether it
/// belongs to the clients group and the servers group.
pub fn net_stats(journal: &[JournalEvent], groups: &[(bool, bool)], op_count: usize) -> Value {
    #[derive(Default)]
    struct G {
        send: u64,
        recv: u64,
        seen: std::collections::HashSet<u64>,
    }
    let mut all = G::default();
    let mut clients = G::default();
    let mut servers = G::default();
    for ev in journal {
        let (c, s) = groups
            .get(ev.msg as usize)
            .copied()
            .unwrap_or((false, true));
        let bump = |g: &mut G| {
            if ev.recv {
                g.recv += 1;
            } else {
                g.send += 1;
            }
            g.seen.insert(ev.msg);
        };
        bump(&mut all);
        if c {
            bump(&mut clients);
        }
        if s {
            bump(&mut servers);
        }
    }
    let render = |g: &G, per_op: bool| {
        let mut m = serde_json::Map::new();
        m.insert("send-count".into(), g.send.into());
        m.insert("recv-count".into(), g.recv.into());
        m.insert("msg-count".into(), (g.seen.len() as u64).into());
        if per_op && op_count > 0 {
            m.insert(
                "msgs-per-op".into(),
                (g.seen.len() as f64 / op_count as f64).into(),
            );
        }
        Value::Object(m)
    };
    serde_json::json!({
        "all": render(&all, true),
        "clients": render(&clients, false),
        "servers": render(&servers, true),
        "valid?": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ev(t: u64, recv: bool, msg: u64) -> JournalEvent {
        JournalEvent {
            time: Duration::from_millis(t),
            recv,
            msg,
        }
    }

    #[test]
    fn msgs_per_op_on_a_hand_built_journal() {
        // Messages: 0 c0→n0 (client), 1 n0→n1, 2 n1→n0, 3 n0→c0 (client),
        // 4 n0→lin-kv (server), 5 n0→n1 (dropped: sent, never received).
        let groups = vec![
            (true, false),
            (false, true),
            (false, true),
            (true, false),
            (false, true),
            (false, true),
        ];
        let journal = vec![
            ev(0, false, 0),
            ev(0, true, 0),
            ev(1, false, 1),
            ev(2, true, 1),
            ev(2, false, 2),
            ev(3, true, 2),
            ev(3, false, 3),
            ev(3, true, 3),
            ev(4, false, 4),
            ev(5, true, 4),
            ev(6, false, 5),
        ];
        let s = net_stats(&journal, &groups, 2);
        assert_eq!(s["all"]["send-count"], 6);
        assert_eq!(s["all"]["recv-count"], 5);
        assert_eq!(s["all"]["msg-count"], 6);
        assert_eq!(s["all"]["msgs-per-op"], 3.0);
        assert_eq!(s["servers"]["msg-count"], 4);
        assert_eq!(s["servers"]["send-count"], 4);
        assert_eq!(s["servers"]["recv-count"], 3);
        assert_eq!(s["servers"]["msgs-per-op"], 2.0);
        assert_eq!(s["clients"]["msg-count"], 2);
        assert!(s["clients"].get("msgs-per-op").is_none());
        assert_eq!(s["valid?"], true);
        let none = net_stats(&journal, &groups, 0);
        assert!(none["all"].get("msgs-per-op").is_none());
    }

    #[test]
    fn head_of_line_blocking_and_partitions() {
        let mut opts = TestOpts::with_nodes(2);
        opts.latency = 100;
        opts.latency_dist = LatencyDist::Uniform;
        let mut net = Network::new(&opts, StdRng::seed_from_u64(1));
        let n0 = net.add("n0", EpKind::Node(0));
        let n1 = net.add("n1", EpKind::Node(1));
        let c0 = net.add("c0", EpKind::Client(0));
        // Client traffic has zero latency.
        net.send(Duration::ZERO, c0, n1, "{}".into());
        assert_eq!(net.next_head(n1), Some(Duration::ZERO));
        assert_eq!(net.take_head(n1, Duration::ZERO), Some(0));
        // A head is not overtaken by a later, earlier-due message.
        net.send(Duration::ZERO, n0, n1, "{}".into());
        let due = net.next_head(n1).unwrap();
        net.send(Duration::ZERO, c0, n1, "{}".into());
        assert_eq!(net.next_head(n1), None, "head already waiting");
        assert_eq!(net.take_head(n1, due), Some(1));
        assert_eq!(net.next_head(n1), Some(Duration::ZERO));
        assert_eq!(net.take_head(n1, due), Some(2));
        // Partitioned when reaching the head: dropped, journaled as send only.
        let mut g = crate::bench::nemesis::Grudge::new();
        g.insert(1, [0].into());
        net.apply_grudge(&g);
        net.send(due, n0, n1, "{}".into());
        assert_eq!(net.next_head(n1), None);
        net.heal();
        net.send(due, n0, n1, "{}".into());
        assert!(net.next_head(n1).is_some());
        let sends = net.journal.iter().filter(|e| !e.recv).count();
        let recvs = net.journal.iter().filter(|e| e.recv).count();
        assert_eq!((sends, recvs), (5, 3));
        assert!(net
            .wire_line(0)
            .starts_with("{\"id\":0,\"src\":\"c0\",\"dest\":\"n1\""));
    }
}
