//! The simulated network: endpoints, per-destination queues in deadline
//! order, latency, partitions, held links, and the message journal. It
//! follows Maelstrom's (`maelstrom: src/maelstrom/net.clj`, `send!`,
//! `recv!`, `latency-dist`), and the bench engine and the test simulator
//! ([`super::sim`]) both move every message through it.
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
//!
//! # Faults beyond Maelstrom's
//!
//! Maelstrom's partitions are grudges (`dest` ignores `src`, so one-way by
//! construction; its nemesis only ever builds symmetric ones, `jepsen:
//! jepsen/src/jepsen/nemesis.clj`). [`Network::cut`] and
//! [`Network::repair`] set one direction of one node link, as turmoil's
//! `partition_oneway`/`repair_oneway` do (`turmoil: src/top.rs`).
//! [`Network::hold`] is turmoil's hold: a message on a held link that
//! reaches its destination's head is set aside instead of delivered or
//! dropped, so the destination's other traffic goes on; [`Network::release`]
//! queues what was set aside at the destination again, due at the release
//! time, in sending order. Holding applies to any pair
//! of endpoints (a node's link to a service too); partitions only to nodes,
//! as in Maelstrom.

use super::opts::{LatencyDist, TestOpts};
use crate::runtime::message;
use crate::runtime::EventQueue;
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// Waiting message ids by deadline; equal deadlines in sending order.
    queue: EventQueue<u64>,
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
    /// Held links `(src, dest)`, each with the messages set aside on it
    /// (their ids, in sending order). A BTreeMap so that nothing depends on
    /// hash order.
    held: BTreeMap<(Ep, Ep), Vec<u64>>,
    /// Ids let through a link that is still held ([`Network::deliver_held`]):
    /// each passes its head check once.
    passing: BTreeSet<u64>,
    /// How many messages a partition dropped (they are journaled as sends
    /// only; this count saves a test from recomputing it).
    pub dropped: u64,
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
            held: BTreeMap::new(),
            passing: BTreeSet::new(),
            dropped: 0,
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
            queue: EventQueue::new(),
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
        self.endpoints[dest].queue.schedule(now + latency, id);
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
    /// any whose source `dest` holds a grudge against, setting aside any on
    /// a held link) and return the time at which it is due. None if it
    /// already has a head or nothing waits.
    pub fn next_head(&mut self, dest: Ep) -> Option<Duration> {
        if self.endpoints[dest].head.is_some() {
            return None;
        }
        while let Some((deadline, id)) = self.endpoints[dest].queue.pop() {
            let src = self.messages[id as usize].src;
            if self.partitioned(src, dest) {
                self.dropped += 1;
                continue;
            }
            if let Some(aside) = self.held.get_mut(&(src, dest)) {
                if !self.passing.remove(&id) {
                    aside.push(id);
                    continue;
                }
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

    /// Drop `dest`'s head without delivering it (its destination is down):
    /// the message is journaled as sent only, like a partitioned one.
    /// Returns its id.
    pub fn discard_head(&mut self, dest: Ep) -> Option<u64> {
        self.endpoints[dest].head.take().map(|(_, id)| id)
    }

    /// Node `to` ignores node `from` from now on (one direction only).
    pub fn cut(&mut self, from: usize, to: usize) {
        if let Some(cell) = self.drops.get_mut(to).and_then(|r| r.get_mut(from)) {
            *cell = true;
        }
    }

    /// Node `to` hears node `from` again (one direction only).
    pub fn repair(&mut self, from: usize, to: usize) {
        if let Some(cell) = self.drops.get_mut(to).and_then(|r| r.get_mut(from)) {
            *cell = false;
        }
    }

    /// Whether node `to` ignores node `from` now.
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.drops
            .get(to)
            .and_then(|r| r.get(from))
            .copied()
            .unwrap_or(false)
    }

    /// Hold the link from `src` to `dest`: its messages are set aside as
    /// they reach `dest`'s head, until [`Network::release`].
    pub fn hold(&mut self, src: Ep, dest: Ep) {
        self.held.entry((src, dest)).or_default();
    }

    /// Release a held link at `now`: what was set aside is queued at
    /// `dest` again, due now, in sending order. Returns how many messages
    /// that was; the caller then calls [`Network::next_head`] for `dest`.
    pub fn release(&mut self, src: Ep, dest: Ep, now: Duration) -> usize {
        let ids = self.held.remove(&(src, dest)).unwrap_or_default();
        for &id in &ids {
            self.endpoints[dest].queue.schedule(now, id);
        }
        ids.len()
    }

    /// Deliver what is held on the link from `src` to `dest` from `now`
    /// (queued due now, in sending order) while the link stays held for
    /// later messages. Returns how many; the caller then calls
    /// [`Network::next_head`] for `dest`.
    pub fn deliver_held(&mut self, src: Ep, dest: Ep, now: Duration) -> usize {
        let Some(aside) = self.held.get_mut(&(src, dest)) else {
            return 0;
        };
        let ids = std::mem::take(aside);
        for &id in &ids {
            self.passing.insert(id);
            self.endpoints[dest].queue.schedule(now, id);
        }
        ids.len()
    }

    /// Lose what is held on the link from `src` to `dest` (journaled as
    /// sent only, and counted in [`Network::dropped`]); the link stays
    /// held. Returns how many.
    pub fn drop_held(&mut self, src: Ep, dest: Ep) -> usize {
        let n = self
            .held
            .get_mut(&(src, dest))
            .map_or(0, |aside| std::mem::take(aside).len());
        self.dropped += n as u64;
        n
    }

    /// Every message set aside on a held link, by link, in sending order.
    pub fn held(&self) -> impl Iterator<Item = u64> + '_ {
        self.held.values().flatten().copied()
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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

    fn two_nodes() -> (Network, Ep, Ep) {
        let mut opts = TestOpts::with_nodes(2);
        opts.latency = 10;
        let mut net = Network::new(&opts, StdRng::seed_from_u64(1));
        let n0 = net.add("n0", EpKind::Node(0));
        let n1 = net.add("n1", EpKind::Node(1));
        (net, n0, n1)
    }

    /// Deliver everything waiting at `dest` in order; returns the ids.
    fn drain(net: &mut Network, dest: Ep) -> Vec<u64> {
        let mut got = Vec::new();
        while let Some(t) = net.next_head(dest) {
            got.extend(net.take_head(dest, t));
        }
        got
    }

    #[test]
    fn a_one_way_cut_drops_one_direction_only() {
        let (mut net, n0, n1) = two_nodes();
        net.cut(0, 1);
        assert!(net.is_cut(0, 1) && !net.is_cut(1, 0));
        let a = net.send(Duration::ZERO, n0, n1, "{}".into());
        let b = net.send(Duration::ZERO, n1, n0, "{}".into());
        assert_eq!(drain(&mut net, n1), Vec::<u64>::new(), "{a} dropped");
        assert_eq!(drain(&mut net, n0), vec![b]);
        assert_eq!(net.dropped, 1);
        net.repair(0, 1);
        let c = net.send(Duration::ZERO, n0, n1, "{}".into());
        assert_eq!(drain(&mut net, n1), vec![c]);
        // Out-of-range nodes are ignored, not a panic.
        net.cut(5, 0);
        net.repair(0, 9);
        assert!(!net.is_cut(5, 0));
    }

    #[test]
    fn a_held_link_sets_messages_aside_until_released() {
        let (mut net, n0, n1) = two_nodes();
        let c0 = net.add("c0", EpKind::Client(0));
        let svc = net.add("lin-kv", EpKind::Service(0));
        net.hold(n0, n1);
        let a = net.send(Duration::ZERO, n0, n1, "{}".into());
        let b = net.send(Duration::from_millis(1), n0, n1, "{}".into());
        // Other traffic to n1 is not blocked by the held messages.
        let c = net.send(Duration::from_millis(2), c0, n1, "{}".into());
        assert_eq!(drain(&mut net, n1), vec![c]);
        // Holding any pair, and a release of a link that was never held.
        net.hold(svc, n0);
        let d = net.send(Duration::ZERO, svc, n0, "{}".into());
        assert_eq!(drain(&mut net, n0), Vec::<u64>::new());
        assert_eq!(net.release(n1, n0, Duration::ZERO), 0);
        // Released: due at the release time, in sending order, journaled
        // as delivered then.
        let at = Duration::from_secs(3);
        assert_eq!(net.release(n0, n1, at), 2);
        assert_eq!(net.next_head(n1), Some(at));
        assert_eq!(net.take_head(n1, at), Some(a));
        assert_eq!(drain(&mut net, n1), vec![b]);
        assert_eq!(net.release(svc, n0, at), 1);
        assert_eq!(drain(&mut net, n0), vec![d]);
        assert_eq!(net.dropped, 0);
        let recv_a = net.journal.iter().find(|e| e.recv && e.msg == a).unwrap();
        assert_eq!(recv_a.time, at);
        // A released link is no longer held.
        let e = net.send(at, n0, n1, "{}".into());
        assert_eq!(drain(&mut net, n1), vec![e]);
    }

    #[test]
    fn held_messages_are_listed_delivered_or_dropped_while_the_link_stays_held() {
        let (mut net, n0, n1) = two_nodes();
        net.hold(n0, n1);
        net.hold(n1, n0);
        let a = net.send(Duration::ZERO, n0, n1, "{}".into());
        let b = net.send(Duration::ZERO, n1, n0, "{}".into());
        let c = net.send(Duration::ZERO, n0, n1, "{}".into());
        assert_eq!(drain(&mut net, n1), Vec::<u64>::new());
        assert_eq!(drain(&mut net, n0), Vec::<u64>::new());
        assert_eq!(net.held().collect::<Vec<_>>(), vec![a, c, b]);
        let at = Duration::from_millis(50);
        assert_eq!(net.deliver_held(n0, n1, at), 2);
        assert_eq!(net.deliver_held(n1, n1, at), 0, "never held");
        // Still held for what comes next.
        let d = net.send(at, n0, n1, "{}".into());
        assert_eq!(drain(&mut net, n1), vec![a, c]);
        assert_eq!(net.held().collect::<Vec<_>>(), vec![d, b]);
        assert_eq!(net.drop_held(n1, n0), 1);
        assert_eq!(net.drop_held(n1, n0), 0);
        assert_eq!(net.dropped, 1);
        assert_eq!(net.held().collect::<Vec<_>>(), vec![d]);
    }

    #[test]
    fn a_discarded_head_is_journaled_as_sent_only() {
        let (mut net, n0, n1) = two_nodes();
        let a = net.send(Duration::ZERO, n0, n1, "{}".into());
        assert!(net.next_head(n1).is_some());
        assert_eq!(net.discard_head(n1), Some(a));
        assert_eq!(net.discard_head(n1), None);
        assert!(net.journal.iter().all(|e| !e.recv));
    }
}
