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
use rand::rngs::StdRng;
use rand::Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;
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

    /// The line delivered to a node for message `id`.
    pub fn wire_line(&self, id: u64) -> String {
        let m = &self.messages[id as usize];
        let mut s = String::with_capacity(m.body.len() + 64);
        let _ = write!(
            s,
            "{{\"id\":{},\"src\":{},\"dest\":{},\"body\":{}}}",
            m.id,
            json_str(&self.endpoints[m.src].name),
            json_str(&self.endpoints[m.dest].name),
            m.body
        );
        s
    }

    /// The journal as JSON lines: `{"time":ns,"type":"send"|"recv","message":{…}}`.
    pub fn journal_jsonl(&self) -> String {
        let mut s = String::with_capacity(self.journal.len() * 128);
        for ev in &self.journal {
            let _ = write!(
                s,
                "{{\"time\":{},\"type\":\"{}\",\"message\":",
                ev.time.as_nanos(),
                if ev.recv { "recv" } else { "send" }
            );
            s.push_str(&self.wire_line(ev.msg));
            s.push_str("}\n");
        }
        s
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
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
}
