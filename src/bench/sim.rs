//! A simulated cluster for tests: any hosts, the bench's own network and
//! services, a virtual clock, and the verbs a test needs.
//!
//! # Why
//!
//! A test of a node wants to say "cut n0 off, send it a write, heal, read
//! on n1" and look at what came back, without a workload, a generator or a
//! checker around it. It also wants the network to behave exactly as the
//! bench's does, or the test proves something about a different network.
//! So this module owns no network of its own: messages go through
//! [`Network`] (per-destination deadline order, head-of-line blocking,
//! grudges checked at the head, Maelstrom's latency rules, the journal),
//! nodes are an [`InProcessBackend`] built from [`HostFactory`]s (our
//! handlers or deliberately broken ones), and services are the bench's
//! (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`).
//!
//! # Design
//!
//! The shape is turmoil's (`turmoil: src/builder.rs`, `src/sim.rs`,
//! `src/top.rs`): a [`Builder`] whose docs list every default, and a
//! [`Sim`] with `partition`/`repair` (both also one way), `hold`/`release`,
//! `crash`/`restart`, `step` and `run_until`; plus `call`, a client
//! request that runs the cluster until the reply comes, as raft-rs's and
//! toydb's test clusters do. Deliveries wait in one [`EventQueue`] keyed by
//! (time, insertion order); node timers stay in their hosts and fire when
//! they are the earliest thing due. The order is the engine's: it runs
//! every event due by now, then asks the backend to wait until its next
//! event, and the backend fires the timers due by then; so deliveries due
//! by now go first, and when the clock moves to a time at which a timer
//! and a delivery are both due, the timer fires first. A sequence of sends
//! and timers therefore plays out here as in a `--in-process` run: a value
//! that reaches the broadcast hub exactly as its round ticks waits for the
//! next round in both.
//!
//! Seeds: the builder's seed feeds one generator that draws, in order, the
//! network's latency stream, the services' stream and one seed per node
//! (the engine derives its streams the same way). A simulation is a pure
//! function of its builder and the verbs called on it.
//!
//! # Caveats
//!
//! - Clients are the simulator's, not Maelstrom's workers: a request is a
//!   message from a client endpoint (`c0`, or one from
//!   [`Sim::open_client`]) with a fresh `msg_id`; replies are kept by
//!   `msg_id` until taken. There is no generator, history or checker here;
//!   that is the engine's job.
//! - Lines a node prints that are not an envelope, or are addressed to no
//!   one, are dropped and listed in [`Sim::node_errors`] (the engine fails
//!   the run for them; a test asserts on the list).
//! - A crashed node loses its memory and what its disk had not synced
//!   (see [`super::inprocess`]); [`Sim::restart`] sends `init` again.

use super::backend::{Backend, NodeEvent};
use super::inprocess::{HostFactory, InProcessBackend};
use super::net::{Ep, EpKind, Network};
use super::opts::{LatencyDist, TestOpts};
use super::services::{answer, default_services, Service};
use crate::runtime::{AnyHost, EventQueue, Node, NodeHost};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of a simulated cluster. Every default:
///
/// | setting | default | why |
/// |---|---|---|
/// | [`nodes`](Builder::nodes) | 1 (`n0`) | Maelstrom's ids `n0…` |
/// | [`latency`](Builder::latency) | 0 ms | Maelstrom's `--latency` |
/// | [`latency_dist`](Builder::latency_dist) | constant | Maelstrom's `--latency-dist` |
/// | [`seed`](Builder::seed) | 0 | printed by no one: a test names it |
/// | [`args`](Builder::args) | none | a node's command-line arguments |
/// | [`hosts`](Builder::hosts) / [`host`](Builder::host) | none: `build` fails | what runs on each node |
/// | [`services`](Builder::services) | Maelstrom's four | `lin-kv`, `seq-kv`, `lww-kv`, `lin-tso` |
/// | [`call_timeout`](Builder::call_timeout) | 5 s | Maelstrom's client timeout, also for `init` |
pub struct Builder {
    nodes: usize,
    latency: Duration,
    latency_dist: LatencyDist,
    seed: u64,
    args: Vec<String>,
    every_host: Option<HostFactory>,
    hosts: BTreeMap<usize, HostFactory>,
    services: Vec<(&'static str, Box<dyn Service>)>,
    call_timeout: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            nodes: 1,
            latency: Duration::ZERO,
            latency_dist: LatencyDist::Constant,
            seed: 0,
            args: Vec::new(),
            every_host: None,
            hosts: BTreeMap::new(),
            services: default_services(),
            call_timeout: Duration::from_secs(5),
        }
    }
}

impl Builder {
    /// The defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// `n` nodes, `n0 … n(n-1)`.
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// Node↔node and node↔service latency (whole milliseconds; client
    /// traffic has none, as in Maelstrom).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// How latency is drawn per message.
    pub fn latency_dist(mut self, dist: LatencyDist) -> Self {
        self.latency_dist = dist;
        self
    }

    /// The seed of every random choice (latency, services, nodes).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Command-line arguments every node gets (as after `--`).
    pub fn args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }

    /// Run hosts from `factory` on every node not given one by
    /// [`Builder::host`].
    pub fn hosts(mut self, factory: HostFactory) -> Self {
        self.every_host = Some(factory);
        self
    }

    /// Run hosts from `factory` on node `i`.
    pub fn host(mut self, i: usize, factory: HostFactory) -> Self {
        self.hosts.insert(i, factory);
        self
    }

    /// These services instead of Maelstrom's four.
    pub fn services(mut self, services: Vec<(&'static str, Box<dyn Service>)>) -> Self {
        self.services = services;
        self
    }

    /// How long [`Sim::call`] (and `init`) waits for a reply.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Build the cluster and initialise every node (each must answer
    /// `init_ok` within the call timeout).
    pub fn build(self) -> Result<Sim, String> {
        let n = self.nodes;
        let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let mut factories = Vec::with_capacity(n);
        for i in 0..n {
            let f = self.hosts.get(&i).or(self.every_host.as_ref());
            factories.push(f.ok_or_else(|| format!("no host for node n{i}"))?.clone());
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let (net_seed, svc_seed): (u64, u64) = (rng.gen(), rng.gen());
        let seeds: Vec<u64> = (0..n).map(|_| rng.gen()).collect();
        let mut opts = TestOpts::with_nodes(n);
        opts.latency = self.latency.as_millis() as u64;
        opts.latency_dist = self.latency_dist;
        let mut net = Network::new(&opts, StdRng::seed_from_u64(net_seed));
        let node_eps = (0..n)
            .map(|i| net.add(&names[i], EpKind::Node(i)))
            .collect();
        let mut services = Vec::new();
        for (i, (name, s)) in self.services.into_iter().enumerate() {
            net.add(name, EpKind::Service(i));
            services.push(s);
        }
        let client = net.add("c0", EpKind::Client(0));
        let nodes = InProcessBackend::from_factories(factories, &names, &seeds, &self.args, false);
        let mut sim = Sim {
            now: Duration::ZERO,
            net,
            nodes,
            names,
            node_eps,
            services,
            svc_rng: StdRng::seed_from_u64(svc_seed),
            deliveries: EventQueue::new(),
            clients: 1,
            client: Client(client),
            next_msg_id: 1,
            replies: BTreeMap::new(),
            node_errors: Vec::new(),
            call_timeout: self.call_timeout,
        };
        let ids: Vec<u64> = (0..n).map(|i| sim.send_init(i)).collect();
        let limit = sim.now + sim.call_timeout;
        sim.run_until(|s| ids.iter().all(|id| s.replies.contains_key(id)), limit);
        for (i, id) in ids.iter().enumerate() {
            match sim.take_reply(*id) {
                Some((_, r)) if r["type"] == "init_ok" => {}
                Some((_, r)) => return Err(format!("n{i} answered init with {r}")),
                None => return Err(format!("n{i} did not answer init")),
            }
        }
        Ok(sim)
    }
}

/// A client endpoint of a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(Ep);

/// A node's envelope as printed.
#[derive(Deserialize)]
struct Envelope<'a> {
    src: String,
    dest: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// A running simulated cluster; see the module docs.
pub struct Sim {
    now: Duration,
    net: Network,
    nodes: InProcessBackend,
    names: Vec<String>,
    node_eps: Vec<Ep>,
    services: Vec<Box<dyn Service>>,
    /// The services' random stream (seq-kv's staleness, lww-kv's gossip).
    svc_rng: StdRng,
    /// Endpoints whose head message is due, by its deadline.
    deliveries: EventQueue<Ep>,
    /// How many clients were opened (the next one is `c{clients}`).
    clients: usize,
    /// The client of [`Sim::request`] and [`Sim::call`].
    client: Client,
    /// `msg_id`s are unique across clients, so replies are keyed by them.
    next_msg_id: u64,
    /// Replies that reached a client and were not taken yet: when, body.
    replies: BTreeMap<u64, (Duration, Value)>,
    node_errors: Vec<String>,
    call_timeout: Duration,
}

impl Sim {
    /// The virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The node ids, `n0…`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of node `name`.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The network, for its journal, messages and drop count.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// How many messages were sent between servers (nodes and services,
    /// no client at either end): the numerator of the bench's servers
    /// `msgs-per-op`.
    pub fn server_messages(&self) -> usize {
        let client = |ep: Ep| matches!(self.net.endpoints[ep].kind, EpKind::Client(_));
        let msgs = self.net.messages.iter();
        msgs.filter(|m| !client(m.src) && !client(m.dest)).count()
    }

    /// Lines nodes printed that could not be routed, with why.
    pub fn node_errors(&self) -> &[String] {
        &self.node_errors
    }

    /// Node `i`'s running host; None while it is crashed.
    pub fn host(&self, i: usize) -> Option<&dyn AnyHost> {
        self.nodes.host(i)
    }

    /// Node `i`'s handler state, if it runs a `NodeHost<N>` and is up and
    /// initialised.
    pub fn state<N: Node + 'static>(&self, i: usize) -> Option<&N> {
        self.host(i)?.as_any().downcast_ref::<NodeHost<N>>()?.node()
    }

    /// What node `i` logged so far.
    pub fn log(&self, i: usize) -> String {
        String::from_utf8_lossy(self.nodes.log(i)).into_owned()
    }

    // ---- faults ---------------------------------------------------------

    /// Nodes in `a` and nodes in `b` stop hearing each other.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        self.partition_oneway(a, b);
        self.partition_oneway(b, a);
    }

    /// Nodes in `to` stop hearing nodes in `from` (the other way still works).
    pub fn partition_oneway(&mut self, from: &[usize], to: &[usize]) {
        for &f in from {
            for &t in to {
                self.net.cut(f, t);
            }
        }
    }

    /// Undo [`Sim::partition`] between `a` and `b`.
    pub fn repair(&mut self, a: &[usize], b: &[usize]) {
        self.repair_oneway(a, b);
        self.repair_oneway(b, a);
    }

    /// Nodes in `to` hear nodes in `from` again.
    pub fn repair_oneway(&mut self, from: &[usize], to: &[usize]) {
        for &f in from {
            for &t in to {
                self.net.repair(f, t);
            }
        }
    }

    /// Every node hears every node again (held links stay held).
    pub fn heal(&mut self) {
        self.net.heal();
    }

    /// Messages from node `from` to node `to` are set aside, neither
    /// delivered nor lost, until [`Sim::release`].
    pub fn hold(&mut self, from: usize, to: usize) {
        let (f, t) = (self.node_eps[from], self.node_eps[to]);
        self.net.hold(f, t);
    }

    /// Deliver what was held from `from` to `to`, from now on; returns how
    /// many messages were held.
    pub fn release(&mut self, from: usize, to: usize) -> usize {
        let (f, t) = (self.node_eps[from], self.node_eps[to]);
        let n = self.net.release(f, t, self.now);
        self.schedule_head(t);
        n
    }

    /// Deliver what is held from `from` to `to` now, keeping the link held
    /// for later messages; returns how many.
    pub fn deliver_held(&mut self, from: usize, to: usize) -> usize {
        let (f, t) = (self.node_eps[from], self.node_eps[to]);
        let n = self.net.deliver_held(f, t, self.now);
        self.schedule_head(t);
        n
    }

    /// Lose what is held from `from` to `to`, keeping the link held;
    /// returns how many.
    pub fn drop_held(&mut self, from: usize, to: usize) -> usize {
        let (f, t) = (self.node_eps[from], self.node_eps[to]);
        self.net.drop_held(f, t)
    }

    /// Every message held between nodes: (from, to, body), by link, in
    /// sending order.
    pub fn held(&self) -> Vec<(usize, usize, Value)> {
        let node = |ep: Ep| match self.net.endpoints[ep].kind {
            EpKind::Node(i) => Some(i),
            _ => None,
        };
        let held = self.net.held().map(|id| &self.net.messages[id as usize]);
        held.filter_map(|m| {
            let body = serde_json::from_str(&m.body).unwrap_or(Value::Null);
            Some((node(m.src)?, node(m.dest)?, body))
        })
        .collect()
    }

    /// Crash node `i`: it loses its memory, timers and in-flight RPCs, and
    /// messages reaching it are lost until [`Sim::restart`]. False if it
    /// was already down.
    pub fn crash(&mut self, i: usize) -> bool {
        self.nodes.crash(i, self.now)
    }

    /// Restart crashed node `i` from its factory and send it `init` (its
    /// reply goes to the default client, unread). False if it was up.
    pub fn restart(&mut self, i: usize) -> bool {
        if !self.nodes.restart(i, self.now) {
            return false;
        }
        self.send_init(i);
        true
    }

    /// Whether node `i` is up.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes.is_up(i)
    }

    // ---- time -----------------------------------------------------------

    /// When the next delivery or node timer is due.
    pub fn next_time(&self) -> Option<Duration> {
        let d = self.deliveries.peek_time();
        let t = self.nodes.next_deadline().map(|(t, _)| t);
        match (d, t) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the earliest delivery or node timer, in the engine's order:
    /// deliveries due by now first, then whichever is earlier, the timer on
    /// a tie. False if nothing is pending.
    pub fn step(&mut self) -> bool {
        let timer = self.nodes.next_deadline().map(|(t, _)| t);
        let delivery = self.deliveries.peek_time();
        let first = |d: Duration| d <= self.now || timer.is_none_or(|t| d < t);
        if delivery.is_some_and(first) {
            if let Some((at, ep)) = self.deliveries.pop() {
                self.now = self.now.max(at);
                self.deliver(ep);
            }
        } else if let Some(t) = timer {
            let mut out = Vec::new();
            self.now = self.now.max(self.nodes.wait(Some(t), &mut out));
            self.route(out);
        } else {
            return false;
        }
        true
    }

    /// Run until `done` holds (true) or nothing is due by `limit` (then the
    /// clock stands at `limit` and the result is `done`'s).
    pub fn run_until(&mut self, mut done: impl FnMut(&Sim) -> bool, limit: Duration) -> bool {
        loop {
            if done(self) {
                return true;
            }
            match self.next_time() {
                Some(t) if t <= limit => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(limit);
                    return done(self);
                }
            }
        }
    }

    /// Run everything due within `d` from now.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(|_| false, until);
    }

    // ---- clients --------------------------------------------------------

    /// A new client endpoint (`c1`, `c2`, …).
    pub fn open_client(&mut self) -> Client {
        let k = self.clients;
        self.clients += 1;
        Client(self.net.add(&format!("c{k}"), EpKind::Client(k)))
    }

    /// Send `body` (given a fresh `msg_id`) from `client` to node `node`;
    /// returns the `msg_id`. The reply waits for [`Sim::take_reply`].
    pub fn request_from(&mut self, client: Client, node: usize, mut body: Value) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), id.into());
        }
        let dest = self.node_eps[node];
        self.send(client.0, dest, body.to_string().into_boxed_str());
        id
    }

    /// [`Sim::request_from`] the default client `c0`.
    pub fn request(&mut self, node: usize, body: Value) -> u64 {
        self.request_from(self.client, node, body)
    }

    /// The reply to request `msg_id`, if it came: when, and its body.
    pub fn take_reply(&mut self, msg_id: u64) -> Option<(Duration, Value)> {
        self.replies.remove(&msg_id)
    }

    /// Whether the reply to `msg_id` came (and was not taken).
    pub fn has_reply(&self, msg_id: u64) -> bool {
        self.replies.contains_key(&msg_id)
    }

    /// A request from `c0` to node `node`, running the cluster until its
    /// reply comes (returned) or the call timeout passes (None).
    pub fn call(&mut self, node: usize, body: Value) -> Option<Value> {
        let id = self.request(node, body);
        let limit = self.now + self.call_timeout;
        self.run_until(|s| s.has_reply(id), limit);
        self.take_reply(id).map(|(_, b)| b)
    }

    /// Send `body` to node `node` as if `src` (any endpoint: a node, a
    /// service, an open client) had sent it: for peer messages a test
    /// forges. False if there is no endpoint `src`.
    pub fn send_as(&mut self, src: &str, node: usize, body: &Value) -> bool {
        let Some(from) = self.net.lookup(src) else {
            return false;
        };
        let dest = self.node_eps[node];
        self.send(from, dest, body.to_string().into_boxed_str());
        true
    }

    fn send_init(&mut self, i: usize) -> u64 {
        let body = json!({"type": "init", "node_id": self.names[i], "node_ids": self.names});
        self.request(i, body)
    }

    // ---- the network ----------------------------------------------------

    fn send(&mut self, src: Ep, dest: Ep, body: Box<str>) {
        self.net.send(self.now, src, dest, body);
        self.schedule_head(dest);
    }

    fn schedule_head(&mut self, ep: Ep) {
        if let Some(t) = self.net.next_head(ep) {
            self.deliveries.schedule(t.max(self.now), ep);
        }
    }

    fn deliver(&mut self, ep: Ep) {
        match self.net.endpoints[ep].kind {
            EpKind::Node(i) if !self.nodes.is_up(i) => {
                self.net.discard_head(ep);
            }
            EpKind::Node(i) => {
                if let Some(id) = self.net.take_head(ep, self.now) {
                    let line = self.net.wire_line(id);
                    let mut out = Vec::new();
                    self.nodes.deliver(i, &line, self.now, &mut out);
                    self.route(out);
                }
            }
            EpKind::Client(_) => {
                if let Some(id) = self.net.take_head(ep, self.now) {
                    let body = &self.net.messages[id as usize].body;
                    if let Ok(b) = serde_json::from_str::<Value>(body) {
                        if let Some(irt) = b.get("in_reply_to").and_then(Value::as_u64) {
                            self.replies.insert(irt, (self.now, b));
                        }
                    }
                }
            }
            EpKind::Service(s) => {
                if let Some(id) = self.net.take_head(ep, self.now) {
                    self.serve(s, id);
                }
            }
        }
        self.schedule_head(ep);
    }

    /// Service `s` answers message `id`, as the engine's services do: the
    /// reply carries `in_reply_to` and no `msg_id`.
    fn serve(&mut self, s: usize, id: u64) {
        let msg = &self.net.messages[id as usize];
        let (src, svc) = (msg.src, msg.dest);
        let src_name = self.net.name(src).to_string();
        let service = self.services[s].as_mut();
        let Some(reply) = answer(service, &src_name, &msg.body, &mut self.svc_rng) else {
            return;
        };
        if self.net.endpoints[src].open {
            self.send(svc, src, reply.to_string().into_boxed_str());
        }
    }

    /// Put what nodes printed on the network.
    fn route(&mut self, out: Vec<NodeEvent>) {
        for ev in out {
            let NodeEvent::Line { node, line } = ev else {
                continue;
            };
            let env: Envelope<'_> = match serde_json::from_str(&line) {
                Ok(e) => e,
                Err(e) => {
                    let why = format!("{}: not an envelope ({e}): {line}", self.names[node]);
                    self.node_errors.push(why);
                    continue;
                }
            };
            match (self.net.lookup(&env.src), self.net.lookup(&env.dest)) {
                (Some(src), Some(dest)) => self.send(src, dest, env.body.get().into()),
                _ => {
                    let why = format!("{}: unknown src or dest: {line}", self.names[node]);
                    self.node_errors.push(why);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::inprocess::factory;
    use crate::challenges::g_counter::GCounter;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    fn cluster(n: usize) -> Sim {
        Builder::new()
            .nodes(n)
            .latency(ms(10))
            .seed(3)
            .hosts(factory::<GCounter>())
            .build()
            .expect("init")
    }

    fn add(sim: &mut Sim, i: usize, d: i64) {
        let r = sim.call(i, json!({"type": "add", "delta": d})).unwrap();
        assert_eq!(r["type"], "add_ok", "{r}");
    }

    fn read(sim: &mut Sim, i: usize) -> Option<i64> {
        sim.call(i, json!({"type": "read"}))?["value"].as_i64()
    }

    #[test]
    fn build_needs_a_host_and_an_init_ok() {
        let e = Builder::new().nodes(2).build().err().unwrap();
        assert_eq!(e, "no host for node n0");
        let sim = Builder::new().hosts(factory::<GCounter>()).build().unwrap();
        assert_eq!(sim.names(), ["n0"]);
        assert_eq!(sim.node("n0"), Some(0));
        assert_eq!(sim.now(), Duration::ZERO, "init has no latency");
        assert!(sim.state::<GCounter>(0).is_some());
    }

    #[test]
    fn partitions_one_way_and_both_ways_then_heal() {
        let mut sim = cluster(2);
        add(&mut sim, 0, 1);
        sim.run_for(ms(500));
        assert_eq!(read(&mut sim, 1), Some(1));
        let dropped = sim.network().dropped;
        // n1 no longer hears n0, but n0 hears n1.
        sim.partition_oneway(&[0], &[1]);
        add(&mut sim, 0, 10);
        add(&mut sim, 1, 100);
        sim.run_for(ms(500));
        assert!(sim.network().dropped > dropped);
        // n0 heard n1's push; n1 did not hear n0's (its refresh through
        // seq-kv, every 2 s, has not come yet).
        assert_eq!(read(&mut sim, 0), Some(111));
        assert_eq!(read(&mut sim, 1), Some(101));
        sim.repair(&[0], &[1]);
        sim.partition(&[0], &[1]);
        sim.repair_oneway(&[1], &[0]);
        sim.repair_oneway(&[0], &[1]);
        sim.heal();
        sim.run_for(ms(3000));
        assert_eq!(read(&mut sim, 0), Some(111));
        assert_eq!(read(&mut sim, 1), Some(111));
        assert!(sim.node_errors().is_empty());
    }

    #[test]
    fn a_held_link_delivers_on_release() {
        let mut sim = cluster(2);
        sim.hold(0, 1);
        add(&mut sim, 0, 5);
        sim.run_for(ms(100));
        let held = sim.release(0, 1);
        assert!(held >= 1, "{held}");
        // Delivered at the release time, not dropped.
        let at = sim.now();
        sim.run_for(ms(1));
        let recv = sim
            .network()
            .journal
            .iter()
            .filter(|e| e.recv && e.time == at);
        assert!(recv.count() >= held);
        assert_eq!(sim.network().dropped, 0);
    }

    #[test]
    fn held_messages_can_be_seen_delivered_or_dropped() {
        let mut sim = cluster(3);
        for (a, b) in [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)] {
            sim.hold(a, b);
        }
        add(&mut sim, 0, 4);
        sim.run_for(ms(100));
        let held = sim.held();
        assert!(held.iter().any(|(f, t, _)| (*f, *t) == (0, 1)), "{held:?}");
        assert!(held.iter().all(|(f, _, _)| *f == 0), "{held:?}");
        let to_n1 = held.iter().filter(|(_, t, _)| *t == 1).count();
        assert_eq!(sim.drop_held(0, 2), held.len() - to_n1);
        assert_eq!(sim.deliver_held(0, 1), to_n1);
        sim.run_for(ms(1));
        assert!(sim.held().is_empty());
        assert_eq!(read(&mut sim, 1), Some(4));
        assert_eq!(sim.network().dropped as usize, held.len() - to_n1);
    }

    #[test]
    fn a_crashed_node_loses_its_memory_and_comes_back_from_its_disk() {
        let mut sim = cluster(1);
        add(&mut sim, 0, 7);
        assert_eq!(read(&mut sim, 0), Some(7));
        assert!(sim.crash(0) && !sim.crash(0) && !sim.is_up(0));
        assert!(sim.state::<GCounter>(0).is_none());
        let t = sim.now();
        assert_eq!(read(&mut sim, 0), None, "a down node does not answer");
        assert_eq!(sim.now(), t + Duration::from_secs(5));
        assert!(sim.restart(0) && !sim.restart(0));
        sim.run_for(ms(1));
        assert!(sim.state::<GCounter>(0).is_some(), "re-initialised");
        sim.run_for(ms(3000));
        // The add was on its disk (synced before it was acknowledged), and
        // the disk outlives the crash: the new incarnation reads it back.
        assert_eq!(read(&mut sim, 0), Some(7));
        assert!(sim.log(0).contains("restarted"));
    }

    #[test]
    fn runs_are_a_function_of_the_seed() {
        let trace = |seed| {
            let mut sim = Builder::new()
                .nodes(3)
                .latency(ms(20))
                .latency_dist(LatencyDist::Uniform)
                .seed(seed)
                .hosts(factory::<GCounter>())
                .build()
                .unwrap();
            for i in 0..3 {
                add(&mut sim, i, i as i64 + 1);
            }
            sim.run_for(ms(3000));
            let n = sim.network();
            n.journal
                .iter()
                .map(|e| (e.time, e.msg))
                .collect::<Vec<_>>()
        };
        assert_eq!(trace(1), trace(1));
        assert_ne!(trace(1), trace(2));
    }

    #[test]
    fn unroutable_lines_are_listed() {
        let mut sim = cluster(1);
        let c = sim.open_client();
        let id = sim.request_from(c, 0, json!({"type": "read"}));
        sim.run_for(ms(100));
        assert!(sim.has_reply(id));
        // A bad line, as if the node printed it.
        let out = vec![
            NodeEvent::Line {
                node: 0,
                line: "not json".into(),
            },
            NodeEvent::Line {
                node: 0,
                line: r#"{"src":"n0","dest":"zz","body":{}}"#.into(),
            },
        ];
        sim.route(out);
        assert_eq!(sim.node_errors().len(), 2, "{:?}", sim.node_errors());
        // A forged peer message arrives like any other.
        assert!(!sim.send_as("n9", 0, &json!({})));
        assert!(sim.send_as("lin-kv", 0, &json!({"type": "read", "msg_id": 9})));
        sim.run_for(ms(100));
        let last = sim.network().messages.last().unwrap();
        assert_eq!(sim.network().name(last.dest), "lin-kv");
        assert!(!sim.step() || sim.next_time().is_some());
    }
}
