//! Maelstrom's `pn-counter` (the guide's CRDT chapter): a counter that goes
//! up and down, kept as a state-based CRDT with no service at all.
//!
//! # The problem
//!
//! Clients send `add {delta}` (any integer, negative too) and `read` to any
//! node. Reads during the run are not checked; after the partitions heal and
//! a 10 s quiet period, every node's final read must equal the sum of every
//! acknowledged delta (plus any subset of the deltas whose `add` ended
//! indefinitely). Node↔node links are partitioned by the nemesis, and there
//! is no store to lean on: the nodes must agree among themselves.
//!
//! # The design: two grow-only maps, pushed until acknowledged
//!
//! - **State.** Per node id `i`, two monotone totals: `up[i]`, the sum of
//!   the positive deltas added at `i`, and `down[i]`, the sum of the
//!   magnitudes of its negative ones. The counter is `Σ up − Σ down`. Only
//!   node `i` ever raises its own entries, so merging two states takes the
//!   larger value of each entry; merge is commutative, associative and
//!   idempotent, and a message may be lost, duplicated, delayed or reordered
//!   without harm. An `add` updates the node's own entry and is answered at
//!   once; a `read` answers from local state at once.
//! - **Gossip carries the whole state.** It is `2N` integers: for the
//!   guide's 3 nodes, a few dozen bytes. What the bench counts is messages,
//!   not bytes, and a whole state is self-contained (it repairs any earlier
//!   loss and relays third parties' entries across a partition that cuts a
//!   direct link), so deltas would save bytes and cost code for nothing here.
//! - **Push until acknowledged, acks ride on pushes.** Each node remembers,
//!   per peer, the largest state that peer has *shown* it (`shown[peer]`, the
//!   join of every state received from it: a lower bound of what it holds,
//!   since states only grow) and the last state it *sent* it. Every tick
//!   ([`DEFAULT_GOSSIP_MS`], the knob), for each peer:
//!   - if our state is not below `shown[peer]`, the peer may lack something:
//!     send our state as a **push**, or as a **retry** if we sent it this
//!     much before (the earlier message, or its answer, was lost);
//!   - else, if we owe the peer an answer, send our state as an **ack**;
//!   - else send nothing.
//!
//!   A node that receives a push owes an answer unless the last state it
//!   sent that peer already covers the push (their messages crossed, and the
//!   peer learns the same from ours); a retry is always answered, which is
//!   what breaks the tie if our crossing message was lost. Any message
//!   discharges what we owe, so while every node is busy the one message per
//!   ordered pair per tick is at once a push and an answer; when the cluster
//!   falls quiet, the last pushes cross or are acked once, then nothing is
//!   sent at all.
//!
//! # Message flow
//!
//! ```text
//!   client ──add {delta}──▶ A  (add_ok at once; A's own entry grows)
//!   A ──pn_state {counts, mode: push}──▶ B   at A's next tick
//!   B ──pn_state {counts, mode: ack}──▶ A    at B's next tick, unless B
//!                                            pushed to A anyway (crossing)
//!   A ──pn_state {counts, mode: retry}──▶ B  if neither reached A
//!   client ──read──▶ any node  (read_ok from local state at once)
//! ```
//!
//! # Cost
//!
//! With `N` nodes, tick `P`, and `T` seconds in which every node changes at
//! least once per tick (true at the guide's 100 ops/s), the server messages
//! are about
//!
//! ```text
//! N·(N−1)·T/P  +  N·(N−1)          (busy ticks, then one push/ack per pair)
//! ```
//!
//! and nothing while nothing changes. For the guide's command (`N` = 3,
//! `T` ≈ 20 s, ≈ 2 000 operations) and the default `P` = 2 s that is
//! 60 + 6 ≈ 66 messages, ≈ 0.033 per operation. Maelstrom's demo
//! (`maelstrom: demo/ruby/crdt.rb`) sends its whole state to every node every
//! 5 s as an RPC, answered by `merge_ok`, busy or not, until the end of the
//! test: `2·N·(N−1)` messages per 5 s over ≈ 31 s, ≈ 72–84 messages.
//!
//! **Staleness.** An add is in every node's state at most `P + d` (one tick
//! and one link latency `d`) after it is acknowledged while links are up,
//! against the demo's `5 s + d`; median `P/2 + d`.
//!
//! # Faults
//!
//! - **Partitions.** A push across a cut link is lost and no ack comes back,
//!   so the sender pushes again every tick until one does: `(N−1)` messages
//!   per tick per cut-off node, exactly the busy rate, and nothing extra to
//!   time out or rewind. Entries also travel around a cut (A→B→C), because
//!   the whole state is pushed and B's state changed when A's push arrived.
//!   Once the partition heals, every node holds every entry within `P + d`,
//!   acknowledged within `2(P + d)`, far inside Maelstrom's 10 s recovery
//!   wait, so the final reads agree.
//! - **Lost or duplicated messages** are repaired by the next push or are
//!   harmless (merge is idempotent); a lost ack, or a lost crossing push
//!   that was standing in for one, costs one retry and one ack.
//! - **Reads during a partition** return the node's own view, which may miss
//!   deltas added on the other side: a pn-counter is eventually consistent,
//!   and only final reads are checked.
//! - **Kill and restart** (our bench's `kill`; Maelstrom never restarts a
//!   node). A node that started from zero would have its own entry below
//!   the copies its peers hold (its new adds hidden behind them until they
//!   overtook them), and would never be pushed what its peers were shown it
//!   held. So the node appends its whole state to its disk
//!   ([`Ctx::disk`]) whenever the state grows, by an add or a merge, and
//!   the runtime syncs before any output: every `add_ok` and every state
//!   the node ever sent is durable, and a restarted node starts from at
//!   least all of them (it then pushes its state to every peer once). A
//!   record is `2N` integers; every [`COMPACT_AFTER`] records the log is
//!   replaced by a snapshot. Cost: no message, one sync per output batch.
//! - **Pause** is a long latency: the paused node's peers retry each tick.
//!
//! # Caveats
//!
//! - Deltas and totals are bounded: an add that would overflow a `u64` total
//!   is refused with error 14 (abort, definite: it did not happen), and a read
//!   whose value does not fit an `i64` answers error 13.
//! - Only entries of node ids from `init` are merged, and only messages from
//!   those nodes are accepted as gossip: a client cannot forge a node's entry.
//! - The tick is read once at init: `--gossip-ms MS` on the node's command
//!   line (Maelstrom and the bench forward arguments after `--`).
//!
//! # Measured
//!
//! The guide's command with partitions (`glomers test -w pn-counter
//! --node-count 3 --rate 100 --time-limit 20 --nemesis partition`, seed 1,
//! process mode): valid, 64 server messages, **0.032 msgs-per-op**;
//! Maelstrom's Ruby demo on the same command and seed: valid, 72 messages,
//! 0.036, with staleness up to 5 s against our 2 s. In-process, seeds 1–3,
//! `--gossip-ms` 1000 / 2000 / 5000: 124 / 64 / 28 messages (0.061 / 0.032 /
//! 0.014 per op); at the demo's 5 s staleness we send 39 % of its messages.
//! 100 in-process seeds with partitions: all valid. Commands and details in
//! `maelstrom-runs/records/pn-counter.md`. Seeds 1–3 side by side in one
//! session (`maelstrom-runs/records/guide-solvers.md`): 0.032 on each
//! against the demo's 0.032–0.035.

use crate::runtime::storage::disk_error;
use crate::runtime::{Ctx, Error, ErrorCode, Init, Node, NodeId, Request};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The default gossip tick in milliseconds (see the cost section).
pub const DEFAULT_GOSSIP_MS: u64 = 2000;

/// One node's entry: the totals of its positive and (magnitudes of its)
/// negative deltas. Serialised as a pair `[up, down]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entry(pub u64, pub u64);

impl Entry {
    fn join(self, other: Entry) -> Entry {
        Entry(self.0.max(other.0), self.1.max(other.1))
    }

    fn le(self, other: Entry) -> bool {
        self.0 <= other.0 && self.1 <= other.1
    }
}

/// A counter state: every node's entry (absent = zero).
pub type Counts = BTreeMap<NodeId, Entry>;

/// Messages of the pn-counter workload, and the node-to-node gossip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client adds `delta` (possibly negative).
    Add {
        /// The amount to add.
        delta: i64,
    },
    /// A client reads the counter.
    Read,
    /// A node's whole state (sent without `msg_id`; never replied to).
    PnState {
        /// The sender's entries.
        counts: Counts,
        /// Whether, and how urgently, the sender wants our state back.
        mode: Mode,
    },
}

/// What a `pn_state` asks of its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The sender does not know that we hold its state: answer, unless our
    /// last message to it already covered the state.
    Push,
    /// As a push, sent again: always answer.
    Retry,
    /// An answer: no reply wanted.
    Ack,
}

/// The answer to `read`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk {
    /// The counter's value.
    value: i64,
}

/// The node's tuning, read from its arguments at init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The gossip tick.
    pub gossip: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gossip: Duration::from_millis(DEFAULT_GOSSIP_MS),
        }
    }
}

impl Config {
    /// Parse `--gossip-ms N` (or `--gossip-ms=N`); other arguments are
    /// ignored, so one test command can carry knobs for other nodes.
    pub fn from_args(args: &[String]) -> anyhow::Result<Config> {
        let mut config = Config::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let value = if a == "--gossip-ms" {
                it.next().map(String::as_str)
            } else if let Some(v) = a.strip_prefix("--gossip-ms=") {
                Some(v)
            } else {
                continue;
            };
            let v = value.ok_or_else(|| anyhow::anyhow!("--gossip-ms needs a value"))?;
            let ms: u64 = v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--gossip-ms expects milliseconds, got {v:?}"))?;
            anyhow::ensure!(
                (1..=60_000).contains(&ms),
                "--gossip-ms must be 1…60000, got {ms}"
            );
            config.gossip = Duration::from_millis(ms);
        }
        Ok(config)
    }
}

/// The pn-counter node.
#[derive(Debug)]
pub struct PnCounter {
    /// This node's id.
    me: NodeId,
    /// Every other node, in Maelstrom's order (the gossip targets).
    peers: Vec<NodeId>,
    /// Every node id from init: entries of other ids are never merged.
    members: HashSet<NodeId>,
    /// Our state.
    counts: Counts,
    /// Per peer, the join of every state it sent us: what it is known to
    /// hold, so we know when to stop pushing.
    shown: BTreeMap<NodeId, Counts>,
    /// Per peer, the last state we sent it (states only grow, so the last
    /// is the largest).
    sent: BTreeMap<NodeId, Counts>,
    /// Peers that pushed to us since our last message to them and may not
    /// know that we hold what they pushed.
    owe_ack: HashSet<NodeId>,
    /// Records on disk since the last snapshot.
    records: usize,
}

/// Records (whole states) after which the log becomes a snapshot.
pub const COMPACT_AFTER: usize = 256;

/// True if every entry of `a` is at or below the same entry of `b`.
fn below(a: &Counts, b: &Counts) -> bool {
    a.iter()
        .all(|(k, e)| e.le(b.get(k).copied().unwrap_or_default()))
}

impl PnCounter {
    /// The counter's value as this node knows it, if it fits an `i64`.
    pub fn value(&self) -> Option<i64> {
        let (up, down) = self.counts.values().fold((0i128, 0i128), |(u, d), e| {
            (u + i128::from(e.0), d + i128::from(e.1))
        });
        i64::try_from(up - down).ok()
    }

    /// Our state (for tests).
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Join `other` into `into`, keeping only entries of members.
    fn join_into(members: &HashSet<NodeId>, into: &mut Counts, other: &Counts) {
        for (k, e) in other {
            if members.contains(k) {
                let slot = into.entry(k.clone()).or_default();
                *slot = slot.join(*e);
            }
        }
    }

    /// Record the state on disk (durable before our next output).
    fn save(&mut self, ctx: &mut Ctx<'_, Self>) -> std::io::Result<()> {
        if self.records >= COMPACT_AFTER {
            ctx.disk().snapshot_json(&self.counts)?;
            self.records = 0;
        } else {
            ctx.disk().append_json(&self.counts)?;
            self.records += 1;
        }
        Ok(())
    }

    /// The join of every state an earlier incarnation recorded.
    fn recover(&mut self, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<()> {
        let rec = ctx.disk().load()?;
        for bytes in rec.snapshot.iter().chain(&rec.records) {
            let counts: Counts = serde_json::from_slice(bytes)
                .map_err(|e| anyhow::anyhow!("unreadable pn-counter state on disk: {e}"))?;
            Self::join_into(&self.members, &mut self.counts, &counts);
        }
        self.records = rec.records.len();
        Ok(())
    }

    fn add(&mut self, delta: i64, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let before = self.counts.get(&self.me).copied();
        self.bump(delta)?;
        if let Err(e) = self.save(ctx) {
            match before {
                Some(b) => self.counts.insert(self.me.clone(), b),
                None => self.counts.remove(&self.me),
            };
            return Err(disk_error(e));
        }
        Ok(())
    }

    fn bump(&mut self, delta: i64) -> Result<(), Error> {
        let entry = self.counts.entry(self.me.clone()).or_default();
        let overflow = || Error::new(ErrorCode::Abort, "the counter would overflow");
        if delta >= 0 {
            entry.0 = entry
                .0
                .checked_add(delta.unsigned_abs())
                .ok_or_else(overflow)?;
        } else {
            entry.1 = entry
                .1
                .checked_add(delta.unsigned_abs())
                .ok_or_else(overflow)?;
        }
        Ok(())
    }

    fn gossip(&mut self, ctx: &mut Ctx<'_, Self>) {
        for peer in &self.peers {
            let shown = self.shown.get(peer).is_some_and(|s| below(&self.counts, s));
            let sent = self.sent.get(peer).is_some_and(|s| below(&self.counts, s));
            let mode = match (shown, sent) {
                (false, false) => Mode::Push,
                (false, true) => Mode::Retry,
                (true, _) if self.owe_ack.contains(peer) => Mode::Ack,
                (true, _) => continue,
            };
            let msg = Payload::PnState {
                counts: self.counts.clone(),
                mode,
            };
            ctx.send(peer, &msg);
            self.sent.insert(peer.clone(), self.counts.clone());
        }
        self.owe_ack.clear();
    }

    fn on_state(&mut self, src: NodeId, counts: Counts, mode: Mode, ctx: &mut Ctx<'_, Self>) {
        if src == self.me || !self.members.contains(&src) {
            ctx.log(format_args!("ignoring pn_state from non-peer {src}"));
            return;
        }
        let before = self.counts.clone();
        Self::join_into(&self.members, &mut self.counts, &counts);
        if self.counts != before {
            if let Err(e) = self.save(ctx) {
                // Not held, so never shown: the sender pushes again.
                ctx.log(format_args!("disk: {e}; state from {src} dropped"));
                self.counts = before;
                return;
            }
        }
        let owe = match mode {
            Mode::Ack => false,
            Mode::Retry => true,
            Mode::Push => self.sent.get(&src).is_none_or(|s| !below(&counts, s)),
        };
        let shown = self.shown.entry(src.clone()).or_default();
        Self::join_into(&self.members, shown, &counts);
        if owe {
            self.owe_ack.insert(src);
        }
    }
}

impl Node for PnCounter {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let config = Config::from_args(ctx.args())?;
        let peers: Vec<NodeId> = init
            .node_ids
            .iter()
            .filter(|n| **n != init.node_id)
            .cloned()
            .collect();
        let mut members: HashSet<NodeId> = init.node_ids.iter().cloned().collect();
        members.insert(init.node_id.clone());
        // Every peer starts out "shown" the empty state: nothing to push
        // until something is added.
        let shown = peers.iter().map(|p| (p.clone(), Counts::new())).collect();
        ctx.every(config.gossip, |n, ctx| n.gossip(ctx));
        let mut node = PnCounter {
            me: init.node_id.clone(),
            peers,
            members,
            counts: Counts::new(),
            shown,
            sent: BTreeMap::new(),
            owe_ack: HashSet::new(),
            records: 0,
        };
        node.recover(ctx)?;
        Ok(node)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        match msg.payload {
            Payload::Add { delta } => {
                self.add(delta, ctx)?;
                ctx.ack(&msg, "add_ok");
            }
            Payload::Read => {
                let value = self.value().ok_or_else(|| {
                    Error::new(ErrorCode::Crash, "the counter does not fit an i64")
                })?;
                ctx.reply(&msg, &ReadOk { value });
            }
            Payload::PnState { counts, mode } => self.on_state(msg.from.src, counts, mode, ctx),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NodeHost;
    use serde_json::{json, Value};

    const TICK: Duration = Duration::from_millis(DEFAULT_GOSSIP_MS);

    fn host(id: &str) -> NodeHost<PnCounter> {
        let mut h = NodeHost::new(1);
        let init = json!({"src":"c0","dest":id,"body":{"type":"init","msg_id":1,
            "node_id":id,"node_ids":["n0","n1","n2"]}});
        h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    fn out(h: &mut NodeHost<PnCounter>) -> Vec<Value> {
        let buf = std::mem::take(h.output());
        String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn client(h: &mut NodeHost<PnCounter>, body: Value, now: Duration) -> Value {
        let line = json!({"src":"c1","dest":h.id().unwrap(),"body":body});
        h.handle_line(line.to_string().as_bytes(), now);
        out(h).pop().expect("a reply")["body"].clone()
    }

    /// Deliver every node-to-node message in `msgs` whose link is up
    /// (`cut` lists links that drop; one entry cuts its link both ways).
    fn deliver(
        hosts: &mut [NodeHost<PnCounter>],
        msgs: Vec<Value>,
        cut: &[(&str, &str)],
        now: Duration,
    ) {
        for m in msgs {
            let (src, dest) = (m["src"].as_str().unwrap(), m["dest"].as_str().unwrap());
            if cut
                .iter()
                .any(|&(a, b)| (a, b) == (src, dest) || (b, a) == (src, dest))
            {
                continue;
            }
            let i: usize = dest[1..].parse().unwrap();
            hosts[i].handle_line(m.to_string().as_bytes(), now);
        }
    }

    /// Advance every host to `now` and deliver what they send (one hop).
    fn step(hosts: &mut [NodeHost<PnCounter>], cut: &[(&str, &str)], now: Duration) -> usize {
        let mut sent = Vec::new();
        for h in hosts.iter_mut() {
            h.tick(now);
            sent.extend(out(h));
        }
        let n = sent.len();
        deliver(hosts, sent, cut, now);
        n
    }

    fn read(h: &mut NodeHost<PnCounter>, now: Duration) -> i64 {
        client(h, json!({"type":"read","msg_id":9}), now)["value"]
            .as_i64()
            .unwrap()
    }

    #[test]
    fn adds_converge_and_gossip_stops_when_nothing_changes() {
        let mut hosts: Vec<_> = ["n0", "n1", "n2"].iter().map(|n| host(n)).collect();
        let t0 = Duration::from_millis(1);
        assert_eq!(
            client(
                &mut hosts[0],
                json!({"type":"add","delta":5,"msg_id":2}),
                t0
            )["type"],
            "add_ok"
        );
        client(
            &mut hosts[1],
            json!({"type":"add","delta":-3,"msg_id":2}),
            t0,
        );
        client(
            &mut hosts[1],
            json!({"type":"add","delta":1,"msg_id":3}),
            t0,
        );
        assert_eq!(read(&mut hosts[0], t0), 5);
        assert_eq!(read(&mut hosts[1], t0), -2);
        // Tick 1: n0 and n1 push to both peers (4 messages).
        assert_eq!(step(&mut hosts, &[], TICK), 4);
        for h in hosts.iter_mut() {
            assert_eq!(read(h, TICK), 3);
        }
        // Tick 2: everyone holds everything but nobody has shown it yet, so
        // everyone pushes to everyone; the pushes cross and cover each
        // other, so no acks follow.
        assert_eq!(step(&mut hosts, &[], TICK * 2), 6);
        assert_eq!(step(&mut hosts, &[], TICK * 3), 0);
        assert_eq!(step(&mut hosts, &[], TICK * 4), 0);
    }

    #[test]
    fn a_partition_is_repaired_around_and_after_the_cut() {
        let mut hosts: Vec<_> = ["n0", "n1", "n2"].iter().map(|n| host(n)).collect();
        let t0 = Duration::from_millis(1);
        client(
            &mut hosts[0],
            json!({"type":"add","delta":-7,"msg_id":2}),
            t0,
        );
        // n0–n2 cut: n0's entry reaches n2 through n1.
        let cut = [("n0", "n2"), ("n2", "n0")];
        step(&mut hosts, &cut, TICK);
        assert_eq!(read(&mut hosts[1], TICK), -7);
        assert_eq!(read(&mut hosts[2], TICK), 0);
        step(&mut hosts, &cut, TICK * 2);
        assert_eq!(read(&mut hosts[2], TICK * 2), -7);
        // n0 keeps pushing to n2 (the cut link) until the heal, then stops.
        assert!(step(&mut hosts, &cut, TICK * 3) >= 1);
        step(&mut hosts, &[], TICK * 4);
        step(&mut hosts, &[], TICK * 5);
        assert_eq!(step(&mut hosts, &[], TICK * 6), 0);
        // n0 alone on one side: its adds wait for the heal.
        let alone = [("n0", "n1"), ("n1", "n0"), ("n0", "n2"), ("n2", "n0")];
        client(
            &mut hosts[0],
            json!({"type":"add","delta":4,"msg_id":3}),
            TICK * 6,
        );
        for k in 7..10 {
            assert_eq!(step(&mut hosts, &alone, TICK * k), 2, "n0 retries both");
        }
        assert_eq!(read(&mut hosts[2], TICK * 9), -7);
        for k in 10..13 {
            step(&mut hosts, &[], TICK * k);
        }
        for h in hosts.iter_mut() {
            assert_eq!(read(h, TICK * 13), -3);
        }
        assert_eq!(step(&mut hosts, &[], TICK * 14), 0);
    }

    #[test]
    fn a_lost_crossing_push_is_settled_by_a_retry() {
        let mut hosts: Vec<_> = ["n0", "n1", "n2"].iter().map(|n| host(n)).collect();
        let t0 = Duration::from_millis(1);
        client(
            &mut hosts[0],
            json!({"type":"add","delta":2,"msg_id":2}),
            t0,
        );
        client(
            &mut hosts[1],
            json!({"type":"add","delta":3,"msg_id":2}),
            t0,
        );
        assert_eq!(step(&mut hosts, &[], TICK), 4);
        // The crossing pushes of tick 2 cover each other, but n1's to n0 is
        // lost: n1 owes nothing, so n0 must retry, and n1 answers that.
        assert_eq!(step(&mut hosts, &[("n1", "n0")], TICK * 2), 6);
        let sent = |h: &mut NodeHost<PnCounter>, now| {
            h.tick(now);
            out(h)
        };
        let retry = sent(&mut hosts[0], TICK * 3);
        assert_eq!(retry.len(), 1, "{retry:?}");
        assert_eq!(retry[0]["dest"], "n1");
        assert_eq!(retry[0]["body"]["mode"], "retry");
        deliver(&mut hosts, retry, &[], TICK * 3);
        let ack = sent(&mut hosts[1], TICK * 3);
        assert_eq!(ack.len(), 1, "{ack:?}");
        assert_eq!(ack[0]["body"]["mode"], "ack");
        // The ack is lost too: n0 retries again (tick 4); n1's ack crosses
        // n0's next retry (tick 5), which n1 answers (tick 6); then quiet.
        let counts: Vec<usize> = (4..=8).map(|k| step(&mut hosts, &[], TICK * k)).collect();
        assert_eq!(counts, [1, 2, 1, 0, 0]);
        for h in hosts.iter_mut() {
            assert_eq!(read(h, TICK * 8), 5);
        }
    }

    #[test]
    fn a_restarted_node_keeps_its_acknowledged_adds_and_what_it_showed() {
        use crate::runtime::MemDisk;
        for seed in 0..5 {
            let disk = MemDisk::new(seed);
            let boot = || {
                let mut h = NodeHost::<PnCounter>::new(1);
                h.set_disk(Box::new(disk.clone()));
                let init = json!({"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,
                    "node_id":"n0","node_ids":["n0","n1","n2"]}});
                h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
                h.output().clear();
                h
            };
            let mut h = boot();
            // More adds than COMPACT_AFTER, so a snapshot is taken too.
            for i in 0..COMPACT_AFTER as i64 + 10 {
                let delta = if i % 3 == 0 { -2 } else { 5 };
                client(
                    &mut h,
                    json!({"type":"add","delta":delta,"msg_id":i + 10}),
                    TICK,
                );
            }
            let state = json!({"src":"n1","dest":"n0","body":{"type":"pn_state",
                "counts":{"n1":[7,1]},"mode":"push"}});
            h.handle_line(state.to_string().as_bytes(), TICK);
            h.tick(TICK * 2);
            let shown = out(&mut h);
            assert!(!shown.is_empty(), "seed {seed}");
            let before = h.node().unwrap().counts().clone();
            // An add whose add_ok never left may be lost; nothing else.
            let line = json!({"src":"c1","dest":"n0","body":{"type":"add","delta":100,"msg_id":3}});
            h.handle_line(line.to_string().as_bytes(), TICK * 2);
            drop(h);
            disk.crash();
            let mut h = boot();
            let after = h.node().unwrap().counts().clone();
            assert_eq!(after["n1"], Entry(7, 1), "seed {seed}");
            let own = after["n0"];
            assert!(
                own == before["n0"] || own.0 == before["n0"].0 + 100,
                "seed {seed}"
            );
            // It pushes its state to every peer again at the next tick.
            h.tick(TICK * 3);
            let pushed = out(&mut h);
            assert_eq!(pushed.len(), 2, "seed {seed}: {pushed:?}");
        }
    }

    #[test]
    fn forged_and_bad_input_is_refused() {
        let mut h = host("n0");
        let t = Duration::from_millis(1);
        // A client cannot inject gossip; an unknown node's entry is dropped.
        let forged = json!({"src":"c1","dest":"n0","body":{"type":"pn_state",
            "counts":{"n1":[100,0]},"mode":"push"}});
        h.handle_line(forged.to_string().as_bytes(), t);
        let foreign = json!({"src":"n1","dest":"n0","body":{"type":"pn_state",
            "counts":{"n9":[100,0],"n2":[0,2]},"mode":"ack"}});
        h.handle_line(foreign.to_string().as_bytes(), t);
        assert_eq!(read(&mut h, t), -2);
        // Overflow is a definite abort and changes nothing.
        client(&mut h, json!({"type":"add","delta":i64::MAX,"msg_id":4}), t);
        client(&mut h, json!({"type":"add","delta":i64::MAX,"msg_id":5}), t);
        let e = client(&mut h, json!({"type":"add","delta":i64::MAX,"msg_id":6}), t);
        assert_eq!(e["code"], 14, "{e}");
        assert_eq!(h.node().unwrap().counts()["n0"], Entry(u64::MAX - 1, 0));
        // The value no longer fits an i64: error 13, not a wrong number.
        let e = client(&mut h, json!({"type":"read","msg_id":7}), t);
        assert_eq!(e["code"], 13, "{e}");
        // A malformed add is error 12.
        let e = client(&mut h, json!({"type":"add","delta":"x","msg_id":8}), t);
        assert_eq!(e["code"], 12, "{e}");
    }

    #[test]
    fn the_tick_is_read_from_the_arguments() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Config::from_args(&args(&[])).unwrap(), Config::default());
        let c = Config::from_args(&args(&["--gossip-ms", "500"])).unwrap();
        assert_eq!(c.gossip, Duration::from_millis(500));
        let c = Config::from_args(&args(&["--other", "--gossip-ms=250"])).unwrap();
        assert_eq!(c.gossip, Duration::from_millis(250));
        assert!(Config::from_args(&args(&["--gossip-ms"])).is_err());
        assert!(Config::from_args(&args(&["--gossip-ms", "0"])).is_err());
        assert!(Config::from_args(&args(&["--gossip-ms", "soon"])).is_err());
    }
}
