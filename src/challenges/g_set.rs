//! Maelstrom's `g-set` (the guide's CRDT chapter): a grow-only set, kept as
//! a delta CRDT with no service.
//!
//! # The problem
//!
//! Clients send `add {element}` and `read` to any node; `read_ok` carries
//! the node's set as an array. The checker (Jepsen's `set-full`) wants every
//! acknowledged element in every read that starts late enough, and measures
//! the *stable latency* of each element: from its `add_ok` to the last read
//! that missed it. Node↔node links are partitioned by the nemesis; after the
//! heal and a 10 s quiet period each client reads once more.
//!
//! # The design: origin logs, version vectors, deltas pushed until shown
//!
//! - **State.** Every element is logged once by its **origin**, the node
//!   that first added it, as the next entry of that origin's log. A node's
//!   knowledge is a *version vector*: per origin, how many entries of the
//!   origin's log it holds. Entries only ever arrive in order (see below),
//!   so the vector describes the state exactly, and the set is the union of
//!   the logs (an element added at two nodes sits in two logs; reads list it
//!   once). Merging is appending missing suffixes: commutative, idempotent.
//! - **Deltas.** Each node remembers, per peer, the vector the peer has
//!   *shown* it (the join of the `have` vectors on the peer's messages, a
//!   lower bound of what it holds) and the vector it last *told* the peer. A
//!   push to a peer carries, per origin, the entries from `shown[peer]` on,
//!   so it always starts at or below what the peer holds: no gap is
//!   possible, nothing is buffered, and a lost push is simply superseded.
//! - **Push until shown, acks ride on pushes**, as in
//!   [`crate::challenges::pn_counter`]: a push is re-sent (as a *retry*)
//!   when two ticks have passed without the peer's `have` covering it (an
//!   answer takes up to a tick of the peer's and a round trip); a
//!   push is answered by an *ack* (just the vector) unless the receiver's
//!   last message already told the pusher as much; a retry is always
//!   answered. Any message discharges a pending ack.
//! - **Relay on request.** A node pushes its *own* elements to every peer.
//!   Another origin's elements are relayed only when that origin asks: a
//!   node lists in its messages the peers *lagging* behind it (its
//!   [`LAGGING_AFTER`]th retry to them went out unanswered), and a node that hears "O cannot reach R"
//!   from O pushes O's entries to R until R shows them or O withdraws the
//!   request. With links up nobody relays, and nobody needs to learn who
//!   holds what from whom; with a link cut, elements travel around it.
//! - **Timing.** With `--gossip-ms 0` (the default) a node pushes its own new
//!   element to every peer at once, so an element is everywhere one link
//!   latency after its `add_ok`, as in Maelstrom's demo; acks, retries and
//!   relays run on a [`ACK_TICK`] timer. With `--gossip-ms P > 0`, everything
//!   goes on a tick of `P`: fewer messages, up to `P` more latency.
//!
//! # Message flow
//!
//! ```text
//!   client ──add {element}──▶ A   (add_ok at once; appended to A's log)
//!   A ──gset {elems: {A: [from, [..]]}, have, mode: push}──▶ every peer
//!   B ──gset {elems: {}, have, mode: ack}──▶ A     at B's next tick, unless
//!                                                   B messaged A since
//!   client ──read──▶ any node   (read_ok from local state)
//! ```
//!
//! # Cost
//!
//! With `N` nodes, `a` adds per second in all, tick `P` (acks on
//! [`ACK_TICK`] when `P` = 0) and links up:
//!
//! ```text
//! P = 0:  a·(N−1) pushes/s  +  ≤ N·(N−1)/ACK_TICK acks/s
//! P > 0:  ≤ N·(N−1)/P messages/s (pushes and acks share the tick)
//! ```
//!
//! and nothing at all once every push is shown. Maelstrom's demo
//! (`maelstrom: demo/ruby/g_set.rb`) sends every add twice to every other
//! node (the element, then the whole set): `2a·(N−1)`/s, with no repair of
//! a message lost to a partition except by a later add's whole set.
//!
//! # Faults
//!
//! - **Partitions.** Pushes across a cut are lost; the sender retries every
//!   two ticks while it lasts (one message per cut pair), and after
//!   [`LAGGING_AFTER`] unanswered retries (about 2.5 s at the default tick)
//!   asks the peers it reaches to relay, so its elements travel around the
//!   cut. After the heal every node holds every element
//!   within one tick plus a latency; the retrying sender then withdraws its
//!   relay requests (one message to each relay).
//! - **A lost push or ack** costs one retry and one ack (no relays: one
//!   answered retry resets the count); duplicates are harmless.
//! - **Kill and restart** (our bench's `kill`; Maelstrom never restarts a
//!   node). Every entry a node takes into its logs, its own or a peer's, is
//!   first appended to its disk ([`Ctx::disk`]) as `(origin, from,
//!   entries)`; the runtime syncs before any output, so `add_ok` and every
//!   `have` vector the node ever sent are durable. A restarted node reads
//!   its logs back, so it still holds at least what any peer was shown,
//!   and the "no gap" rule above keeps holding; its own per-peer state
//!   starts empty, so it pushes its own log once more (duplicates are
//!   skipped). The log is compacted into a snapshot of all logs when its
//!   records outnumber the elements held (so the disk stays linear in the
//!   set). Cost: one record per merged delta and one sync per batch of
//!   output, no message.
//! - **Pause** is a long latency: retries, then relays, as for a cut.
//!
//! # Caveats
//!
//! - A retry re-sends every unshown entry: during a long partition pushes
//!   grow with the entries added since; the count of messages does not.
//! - Elements are any JSON values, compared by their JSON text (object keys
//!   sorted), as Maelstrom compares them structurally.
//! - Only node ids from `init` count as origins and as gossip senders.
//! - The guide's command is the `m-gset` row of `scripts/challenges.tsv`
//!   (`glomers challenge m-gset`).
//!
//! # Measured
//!
//! Process mode, `--rate 10 --time-limit 20`, seeds 1–3, side by side with
//! Maelstrom's `demo/ruby/g_set.rb` (records:
//! `maelstrom-runs/records/guide-solvers.md`):
//!
//! | nodes | node | servers msgs-per-op | stable latency median / max |
//! |---|---|---|---|
//! | 5 | ours, `--gossip-ms 0` | 3.3–3.4 | 0 / 0 ms |
//! | 5 | ours, `--gossip-ms 4000` | 0.55–0.57 | 1.75–1.95 s / 3.8–3.9 s |
//! | 5 | `g_set.rb` | 0.57–0.62 | 2.2–2.6 s / 4.7–4.9 s |
//! | 25 | ours, `--gossip-ms 0` | 20–21 | 0 / 0 ms |
//! | 25 | ours, `--gossip-ms 4000` | 11.0–11.3 | 1.65–1.92 s / 3.9 s |
//! | 25 | `g_set.rb` | 17.9–18.5 | 2.0–2.5 s / 4.9–8.3 s |
//!
//! At `--gossip-ms 4000` ours sends fewer messages than the demo at both
//! sizes with lower stable latencies; the default trades messages for
//! elements that are everywhere on acknowledgement.

use crate::runtime::storage::disk_error;
use crate::runtime::{Ctx, Error, Init, Node, NodeId, Request};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

/// The period of acks, retries and relays when pushes go out at once.
pub const ACK_TICK: Duration = Duration::from_millis(500);
/// After this many unanswered retries to a peer, a node asks the others to
/// relay its entries to that peer.
pub const LAGGING_AFTER: u32 = 2;

/// Per origin, a count of log entries.
pub type Vector = BTreeMap<NodeId, usize>;

/// Records on disk below which the log is never compacted.
const COMPACT_AFTER: usize = 1024;

/// One record on a node's disk: entries of `o`'s log from index `from`.
#[derive(Debug, Serialize, Deserialize)]
struct Logged {
    o: NodeId,
    from: usize,
    e: Vec<Value>,
}

/// Messages of the g-set workload, and the node-to-node gossip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client adds an element.
    Add {
        /// The element (any JSON value).
        element: Value,
    },
    /// A client reads the set.
    Read,
    /// Gossip (no `msg_id`, never replied to).
    Gset {
        /// Per origin, the index of the first entry sent and the entries.
        elems: BTreeMap<NodeId, (usize, Vec<Value>)>,
        /// The sender's version vector.
        have: Vector,
        /// What the sender wants back.
        mode: Mode,
        /// Peers the sender is retrying: relay its entries to them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lagging: Vec<NodeId>,
    },
}

/// What a `gset` message asks of its receiver (as in pn-counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Answer unless our last message already told the sender as much.
    Push,
    /// A push sent again: always answer.
    Retry,
    /// An answer: nothing wanted.
    Ack,
}

/// The answer to `read`: every element this node holds, once each.
#[derive(Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk<'a> {
    value: &'a [Value],
}

/// The g-set node.
#[derive(Debug)]
pub struct GSet {
    /// This node's id.
    me: NodeId,
    /// Every other node.
    peers: Vec<NodeId>,
    /// Every node id from init.
    members: HashSet<NodeId>,
    /// Per origin, its log.
    logs: BTreeMap<NodeId, Vec<Value>>,
    /// The JSON text of every element held, for duplicates.
    seen: HashSet<String>,
    /// Every distinct element, in arrival order (what reads return).
    elements: Vec<Value>,
    /// Per peer, the join of the vectors it sent us.
    shown: BTreeMap<NodeId, Vector>,
    /// Per peer, how far we have sent each origin's log (for retries).
    sent: BTreeMap<NodeId, Vector>,
    /// Per peer, the vector in our last message to it.
    told: BTreeMap<NodeId, Vector>,
    /// Peers owed an answer.
    owe_ack: HashSet<NodeId>,
    /// Per peer, when we last sent it entries.
    pushed_at: BTreeMap<NodeId, Duration>,
    /// Per peer whose copy of our own entries is behind, how many retries
    /// it has cost so far.
    retries: BTreeMap<NodeId, u32>,
    /// Per peer, the `lagging` list in our last message to it.
    told_lagging: BTreeMap<NodeId, Vec<NodeId>>,
    /// Per origin, the peers it asked us to relay its entries to.
    relay_for: BTreeMap<NodeId, BTreeSet<NodeId>>,
    /// The gossip tick; zero for immediate pushes of own elements.
    gossip: Duration,
    /// Records on disk since the last snapshot.
    records: usize,
}

fn covered(a: &Vector, b: &Vector) -> bool {
    a.iter().all(|(k, n)| *n <= b.get(k).copied().unwrap_or(0))
}

fn join(into: &mut Vector, other: &Vector) {
    for (k, n) in other {
        let slot = into.entry(k.clone()).or_insert(0);
        *slot = (*slot).max(*n);
    }
}

impl GSet {
    /// The timer's period.
    fn tick(&self) -> Duration {
        if self.gossip.is_zero() {
            ACK_TICK
        } else {
            self.gossip
        }
    }

    /// Every distinct element held, in arrival order.
    pub fn elements(&self) -> &[Value] {
        &self.elements
    }

    /// Our version vector.
    pub fn have(&self) -> Vector {
        self.logs
            .iter()
            .map(|(k, l)| (k.clone(), l.len()))
            .collect()
    }

    fn hold(&mut self, element: Value) {
        if self.seen.insert(element.to_string()) {
            self.elements.push(element);
        }
    }

    /// Append `entries` of `origin`'s log, starting at index `from`, to
    /// that log, on disk first: the ones we already hold are skipped, and a
    /// delta that starts past our end is ignored (`from` is at most what we
    /// showed the sender; anything else is not from a correct peer). On a
    /// disk error nothing is taken.
    fn take(
        &mut self,
        origin: &str,
        from: usize,
        entries: Vec<Value>,
        ctx: &mut Ctx<'_, Self>,
    ) -> std::io::Result<()> {
        let log = self.logs.entry(origin.to_string()).or_default();
        let len = log.len();
        if from > len || from + entries.len() <= len {
            return Ok(());
        }
        let new: Vec<Value> = entries.into_iter().skip(len - from).collect();
        log.extend(new.iter().cloned());
        if let Err(e) = self.persist(origin, len, &new, ctx) {
            if let Some(l) = self.logs.get_mut(origin) {
                l.truncate(len);
            }
            return Err(e);
        }
        for e in new {
            self.hold(e);
        }
        Ok(())
    }

    /// Record entries just appended to `origin`'s log (synced by the
    /// runtime before our next output), or, once the records outnumber the
    /// elements, a snapshot of every log instead.
    fn persist(
        &mut self,
        origin: &str,
        from: usize,
        entries: &[Value],
        ctx: &mut Ctx<'_, Self>,
    ) -> std::io::Result<()> {
        if self.records >= COMPACT_AFTER.max(self.elements.len()) {
            ctx.disk().snapshot_json(&self.logs)?;
            self.records = 0;
        } else {
            ctx.disk().append_json(&Logged {
                o: origin.to_string(),
                from,
                e: entries.to_vec(),
            })?;
            self.records += 1;
        }
        Ok(())
    }

    /// Read back the logs an earlier incarnation of this node left.
    fn recover(&mut self, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<()> {
        let rec = ctx.disk().load()?;
        if let Some(bytes) = &rec.snapshot {
            self.logs = serde_json::from_slice(bytes)
                .map_err(|e| anyhow::anyhow!("unreadable g-set snapshot on disk: {e}"))?;
        }
        for bytes in &rec.records {
            let r: Logged = serde_json::from_slice(bytes)
                .map_err(|e| anyhow::anyhow!("unreadable g-set record on disk: {e}"))?;
            let log = self.logs.entry(r.o).or_default();
            if r.from <= log.len() {
                let skip = log.len() - r.from;
                log.extend(r.e.into_iter().skip(skip));
            }
        }
        self.records = rec.records.len();
        for e in self.logs.values().flatten().cloned().collect::<Vec<_>>() {
            self.hold(e);
        }
        Ok(())
    }

    /// What `peer` may lack and we may send now: per origin, the first
    /// index and the entries: our own, and those of origins that asked us
    /// to relay to `peer`.
    fn delta(&self, peer: &str) -> BTreeMap<NodeId, (usize, Vec<Value>)> {
        let shown = self.shown.get(peer);
        let mut out = BTreeMap::new();
        for (origin, log) in &self.logs {
            let relay = self.relay_for.get(origin).is_some_and(|r| r.contains(peer));
            if origin == peer || (*origin != self.me && !relay) {
                continue;
            }
            let from = shown.and_then(|s| s.get(origin)).copied().unwrap_or(0);
            if from < log.len() {
                out.insert(origin.clone(), (from, log[from..].to_vec()));
            }
        }
        out
    }

    /// Send `peer` what it lacks, or an answer if one is owed, or our new
    /// list of lagging peers; else nothing.
    fn gossip_to(&mut self, peer: &str, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let mut elems = self.delta(peer);
        let tick = self.tick();
        let sent = self.sent.entry(peer.to_string()).or_default();
        let all_sent = elems
            .iter()
            .all(|(o, (from, e))| from + e.len() <= sent.get(o).copied().unwrap_or(0));
        let own_unshown = elems.contains_key(&self.me);
        let last = self.pushed_at.get(peer).copied().unwrap_or_default();
        if all_sent && now.saturating_sub(last) < tick * 2 {
            // Sent less than two ticks ago: its answer may be on its way.
            elems.clear();
        }
        let lagging: Vec<NodeId> = self
            .retries
            .iter()
            .filter(|(r, n)| *r != peer && **n >= LAGGING_AFTER)
            .map(|(r, _)| r.clone())
            .collect();
        let mode = if !elems.is_empty() {
            let repeat = all_sent;
            self.pushed_at.insert(peer.to_string(), now);
            for (o, (from, e)) in &elems {
                let slot = sent.entry(o.clone()).or_insert(0);
                *slot = (*slot).max(from + e.len());
            }
            if repeat {
                Mode::Retry
            } else {
                Mode::Push
            }
        } else if self.owe_ack.contains(peer)
            || self
                .told_lagging
                .get(peer)
                .map_or(!lagging.is_empty(), |t| *t != lagging)
        {
            Mode::Ack
        } else {
            if !own_unshown {
                self.retries.remove(peer);
            }
            return;
        };
        if !own_unshown {
            self.retries.remove(peer);
        } else if mode == Mode::Retry {
            *self.retries.entry(peer.to_string()).or_insert(0) += 1;
        }
        self.owe_ack.remove(peer);
        let have = self.have();
        let msg = Payload::Gset {
            elems,
            have: have.clone(),
            mode,
            lagging: lagging.clone(),
        };
        ctx.send(peer, &msg);
        self.told.insert(peer.to_string(), have);
        self.told_lagging.insert(peer.to_string(), lagging);
    }

    fn on_gossip(
        &mut self,
        src: NodeId,
        elems: BTreeMap<NodeId, (usize, Vec<Value>)>,
        (have, mode, lagging): (Vector, Mode, Vec<NodeId>),
        ctx: &mut Ctx<'_, Self>,
    ) {
        for (origin, (from, entries)) in elems {
            if origin == self.me || !self.members.contains(&origin) {
                continue;
            }
            if let Err(e) = self.take(&origin, from, entries, ctx) {
                // Not held, so never shown: the sender retries.
                ctx.log(format_args!("disk: {e}; entries of {origin} dropped"));
            }
        }
        let mut have: Vector = have
            .into_iter()
            .filter(|(k, _)| self.members.contains(k))
            .collect();
        let owe = match mode {
            Mode::Ack => false,
            Mode::Retry => true,
            Mode::Push => self.told.get(&src).is_none_or(|t| !covered(&have, t)),
        };
        let shown = self.shown.entry(src.clone()).or_default();
        join(shown, &std::mem::take(&mut have));
        let relay: BTreeSet<NodeId> = lagging
            .into_iter()
            .filter(|r| self.members.contains(r) && *r != src && *r != self.me)
            .collect();
        if relay.is_empty() {
            self.relay_for.remove(&src);
        } else {
            self.relay_for.insert(src.clone(), relay);
        }
        if owe {
            self.owe_ack.insert(src);
        }
    }
}

/// Read `--gossip-ms MS` (0 = push own elements at once).
fn gossip_from_args(args: &[String]) -> anyhow::Result<Duration> {
    let mut ms = 0u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = if a == "--gossip-ms" {
            it.next().map(String::as_str)
        } else if let Some(v) = a.strip_prefix("--gossip-ms=") {
            Some(v)
        } else {
            continue;
        };
        let v = v.ok_or_else(|| anyhow::anyhow!("--gossip-ms needs a value"))?;
        ms = v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("--gossip-ms expects milliseconds, got {v:?}"))?;
        anyhow::ensure!(ms <= 60_000, "--gossip-ms must be 0…60000, got {ms}");
    }
    Ok(Duration::from_millis(ms))
}

impl Node for GSet {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let gossip = gossip_from_args(ctx.args())?;
        let peers = init
            .node_ids
            .iter()
            .filter(|n| **n != init.node_id)
            .cloned()
            .collect();
        let mut members: HashSet<NodeId> = init.node_ids.iter().cloned().collect();
        members.insert(init.node_id.clone());
        let tick = if gossip.is_zero() { ACK_TICK } else { gossip };
        // Acks, retries, relays (and pushes when batching).
        ctx.every(tick, |n, ctx| {
            for peer in n.peers.clone() {
                n.gossip_to(&peer, ctx);
            }
        });
        let mut node = GSet {
            me: init.node_id.clone(),
            peers,
            members,
            logs: BTreeMap::new(),
            seen: HashSet::new(),
            elements: Vec::new(),
            shown: BTreeMap::new(),
            sent: BTreeMap::new(),
            told: BTreeMap::new(),
            owe_ack: HashSet::new(),
            pushed_at: BTreeMap::new(),
            retries: BTreeMap::new(),
            told_lagging: BTreeMap::new(),
            relay_for: BTreeMap::new(),
            gossip,
            records: 0,
        };
        node.recover(ctx)?;
        Ok(node)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        match msg.payload {
            Payload::Add { element } => {
                let new = !self.seen.contains(&element.to_string());
                if new {
                    let me = self.me.clone();
                    let from = self.logs.get(&me).map_or(0, Vec::len);
                    self.take(&me, from, vec![element], ctx)
                        .map_err(disk_error)?;
                }
                ctx.ack(&msg.from, "add_ok");
                if new && self.gossip.is_zero() {
                    for peer in self.peers.clone() {
                        self.gossip_to(&peer, ctx);
                    }
                }
            }
            Payload::Read => {
                ctx.reply(
                    &msg.from,
                    &ReadOk {
                        value: &self.elements,
                    },
                );
            }
            Payload::Gset {
                elems,
                have,
                mode,
                lagging,
            } => {
                let src = msg.from.src;
                if src == self.me || !self.members.contains(&src) {
                    ctx.log(format_args!("ignoring gset from non-peer {src}"));
                } else {
                    self.on_gossip(src, elems, (have, mode, lagging), ctx);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NodeHost;
    use serde_json::json;

    const MS: Duration = Duration::from_millis(1);

    fn host(id: &str, args: &[&str]) -> NodeHost<GSet> {
        let mut h = NodeHost::new(1);
        h.set_args(args.iter().map(|s| s.to_string()).collect());
        let init = json!({"src":"c0","dest":id,"body":{"type":"init","msg_id":1,
            "node_id":id,"node_ids":["n0","n1","n2"]}});
        h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    fn cluster(args: &[&str]) -> Vec<NodeHost<GSet>> {
        ["n0", "n1", "n2"].iter().map(|n| host(n, args)).collect()
    }

    fn out(h: &mut NodeHost<GSet>) -> Vec<Value> {
        let buf = std::mem::take(h.output());
        String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Add `e` at node `i` and return the node-to-node messages it sent.
    fn add(hosts: &mut [NodeHost<GSet>], i: usize, e: Value, now: Duration) -> Vec<Value> {
        let id = format!("n{i}");
        let line = json!({"src":"c1","dest":id,"body":{"type":"add","element":e,"msg_id":5}});
        hosts[i].handle_line(line.to_string().as_bytes(), now);
        let mut msgs = out(&mut hosts[i]);
        let reply = msgs.remove(0);
        assert_eq!(reply["body"]["type"], "add_ok", "{reply}");
        msgs
    }

    fn read(h: &mut NodeHost<GSet>, now: Duration) -> Vec<i64> {
        let id = h.id().unwrap().to_string();
        let line = json!({"src":"c1","dest":id,"body":{"type":"read","msg_id":6}});
        h.handle_line(line.to_string().as_bytes(), now);
        let body = out(h).pop().unwrap()["body"].clone();
        let mut v: Vec<i64> = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        v.sort();
        v
    }

    /// Deliver `msgs` unless their `(src, dest)` link is in `cut`.
    fn deliver(
        hosts: &mut [NodeHost<GSet>],
        msgs: Vec<Value>,
        cut: &[(&str, &str)],
        now: Duration,
    ) {
        for m in msgs {
            let (src, dest) = (m["src"].as_str().unwrap(), m["dest"].as_str().unwrap());
            if !cut.contains(&(src, dest)) {
                let i: usize = dest[1..].parse().unwrap();
                hosts[i].handle_line(m.to_string().as_bytes(), now);
            }
        }
    }

    /// Fire every host's timers at `now`; deliver what they send.
    fn step(hosts: &mut [NodeHost<GSet>], cut: &[(&str, &str)], now: Duration) -> usize {
        let mut sent = Vec::new();
        for h in hosts.iter_mut() {
            h.tick(now);
            sent.extend(out(h));
        }
        let n = sent.len();
        deliver(hosts, sent, cut, now);
        n
    }

    #[test]
    fn an_add_is_pushed_at_once_acked_once_and_then_nothing_is_sent() {
        let mut hosts = cluster(&[]);
        let msgs = add(&mut hosts, 0, json!(1), MS);
        assert_eq!(msgs.len(), 2);
        assert!(msgs.iter().all(|m| m["body"]["mode"] == "push"));
        deliver(&mut hosts, msgs, &[], MS);
        // A duplicate add of a held element sends nothing.
        assert!(add(&mut hosts, 1, json!(1), MS).is_empty());
        for h in hosts.iter_mut() {
            assert_eq!(read(h, MS), [1]);
        }
        // Both receivers ack at their next tick; then silence, relays
        // included (everyone has shown everything).
        assert_eq!(step(&mut hosts, &[], ACK_TICK), 2);
        for k in 2..10 {
            assert_eq!(step(&mut hosts, &[], ACK_TICK * k), 0, "tick {k}");
        }
    }

    #[test]
    fn elements_travel_around_a_cut_and_across_it_after_the_heal() {
        let mut hosts = cluster(&[]);
        let cut = [("n0", "n2"), ("n2", "n0")];
        let msgs = add(&mut hosts, 0, json!(7), MS);
        deliver(&mut hosts, msgs, &cut, MS);
        let msgs = add(&mut hosts, 2, json!(9), MS);
        deliver(&mut hosts, msgs, &cut, MS);
        assert_eq!(read(&mut hosts[1], MS), [7, 9]);
        assert_eq!(read(&mut hosts[2], MS), [9]);
        // Ticks 3 and 5 (two ticks apart): n0 and n2 retry across the cut;
        // tick 6: each asks n1 to relay; tick 7: n1 relays both ways.
        for k in 1..=6 {
            step(&mut hosts, &cut, ACK_TICK * k);
            assert_eq!(read(&mut hosts[2], ACK_TICK * k), [9], "tick {k}");
        }
        let k = 7;
        step(&mut hosts, &cut, ACK_TICK * k);
        assert_eq!(read(&mut hosts[0], ACK_TICK * k), [7, 9]);
        assert_eq!(read(&mut hosts[2], ACK_TICK * k), [7, 9]);
        // n0 and n2 still retry each other across the cut (their pushes are
        // unshown); after the heal everything settles and goes quiet.
        let during: usize = (k + 1..k + 3)
            .map(|j| step(&mut hosts, &cut, ACK_TICK * j))
            .sum();
        assert!(during >= 2, "{during}");
        let k = k + 2;
        let mut quiet = false;
        for j in k + 1..k + 8 {
            quiet = step(&mut hosts, &[], ACK_TICK * j) == 0;
        }
        assert!(quiet, "gossip must stop once everything is shown");
        for h in hosts.iter_mut() {
            assert_eq!(read(h, ACK_TICK * (k + 8)), [7, 9]);
        }
    }

    #[test]
    fn batched_pushes_wait_for_the_tick_and_lost_ones_are_retried() {
        let tick = Duration::from_millis(1000);
        let mut hosts = cluster(&["--gossip-ms", "1000"]);
        assert!(add(&mut hosts, 0, json!(1), MS).is_empty());
        assert!(add(&mut hosts, 0, json!(2), MS).is_empty());
        // The tick's pushes are both lost; the next tick is too early to
        // retry.
        assert_eq!(step(&mut hosts, &[("n0", "n1"), ("n0", "n2")], tick), 2);
        assert_eq!(read(&mut hosts[1], tick), Vec::<i64>::new());
        assert_eq!(step(&mut hosts, &[], tick * 2), 0);
        // Two ticks after the push: retries, with both elements.
        hosts[0].tick(tick * 3);
        let retries = out(&mut hosts[0]);
        assert_eq!(retries.len(), 2);
        assert!(retries.iter().all(|m| m["body"]["mode"] == "retry"));
        assert_eq!(retries[0]["body"]["elems"]["n0"], json!([0, [1, 2]]));
        deliver(&mut hosts, retries, &[], tick * 3);
        assert_eq!(read(&mut hosts[2], tick * 3), [1, 2]);
        let n: usize = (4..9).map(|k| step(&mut hosts, &[], tick * k)).sum();
        assert_eq!(n, 2, "one ack from each receiver, then nothing");
    }

    fn boot(id: &str, disk: &crate::runtime::MemDisk) -> NodeHost<GSet> {
        let mut h = NodeHost::new(1);
        h.set_disk(Box::new(disk.clone()));
        let init = json!({"src":"c0","dest":id,"body":{"type":"init","msg_id":1,
            "node_id":id,"node_ids":["n0","n1","n2"]}});
        h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    #[test]
    fn a_restarted_node_keeps_every_element_it_acknowledged_or_showed() {
        use crate::runtime::MemDisk;
        // Enough adds to compact the log into a snapshot on the way.
        let n = COMPACT_AFTER + 100;
        for seed in 0..5 {
            let disk = MemDisk::new(seed);
            let mut h = boot("n0", &disk);
            for i in 0..n {
                let line = json!({"src":"c1","dest":"n0",
                    "body":{"type":"add","element":i,"msg_id":i + 10}});
                h.handle_line(line.to_string().as_bytes(), MS);
                out(&mut h);
            }
            // A peer's entries, shown back to it in our answer.
            let gossip = json!({"src":"n1","dest":"n0","body":{"type":"gset",
                "elems":{"n1":[0,[-1,-2]]},"have":{"n1":2},"mode":"push"}});
            h.handle_line(gossip.to_string().as_bytes(), MS * 2);
            h.tick(ACK_TICK);
            let shown = out(&mut h);
            assert_eq!(shown[0]["body"]["have"]["n1"], 2, "{shown:?}");
            assert_eq!(shown[0]["body"]["have"]["n0"], n, "{shown:?}");
            // An add whose add_ok never left: it may be lost, nothing else.
            let line = json!({"src":"c1","dest":"n0",
                "body":{"type":"add","element":"late","msg_id":9}});
            h.handle_line(line.to_string().as_bytes(), ACK_TICK);
            drop(h);
            disk.crash();
            let h = boot("n0", &disk);
            let have = h.node().unwrap().have();
            assert_eq!(have["n1"], 2, "seed {seed}");
            assert!(
                have["n0"] == n || have["n0"] == n + 1,
                "seed {seed}: {have:?}"
            );
            assert!(h.node().unwrap().elements().len() >= n + 2);
        }
    }

    #[test]
    fn gossip_from_clients_and_foreign_origins_is_ignored() {
        let mut hosts = cluster(&[]);
        let forged = json!({"src":"c9","dest":"n0","body":{"type":"gset",
            "elems":{"n1":[0,[5]]},"have":{"n1":1},"mode":"push"}});
        hosts[0].handle_line(forged.to_string().as_bytes(), MS);
        let foreign = json!({"src":"n1","dest":"n0","body":{"type":"gset",
            "elems":{"n9":[0,[6]],"n0":[0,[8]],"n1":[3,[7]]},"have":{"n9":1},"mode":"ack"}});
        hosts[0].handle_line(foreign.to_string().as_bytes(), MS);
        assert_eq!(read(&mut hosts[0], MS), Vec::<i64>::new());
        assert!(gossip_from_args(&["--gossip-ms".into(), "x".into()]).is_err());
        assert!(gossip_from_args(&["--gossip-ms".into()]).is_err());
    }
}
