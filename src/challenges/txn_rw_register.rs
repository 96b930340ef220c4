//! Fly.io challenges 6a–6c: totally-available read-committed transactions
//! over registers.
//!
//! # Problem
//!
//! Clients send `txn` requests: lists of micro-ops `["r", k, null]` and
//! `["w", k, v]`, executed in order; the node answers `txn_ok` with the reads
//! filled in. Every request must be answered `txn_ok` even while the network
//! is partitioned ("total availability"), the history must be
//! read-committed (Adya's PL-2: no G0, G1a, G1b, G1c), and writes should
//! reach every node once the network heals.
//!
//! # Design
//!
//! Each node keeps a register map `key → (value, version)` and executes a
//! transaction entirely locally, within one handler call, so no other
//! transaction can interleave with it. Reads see the local map overlaid with
//! the transaction's own earlier writes. At the end, the *final* write of
//! each key is installed with the transaction's version, a Lamport
//! timestamp `(counter, node index)` that is larger than any version the node
//! has seen, and appended to the node's replication log.
//!
//! Replication is anti-entropy: every [`GOSSIP_INTERVAL`] the node sends each
//! peer the log entries that peer has not acknowledged (at most
//! [`BATCH_LIMIT`] at a time). The peer applies each write with
//! last-writer-wins on the version (so applying is idempotent and order-free)
//! and acknowledges the longest gap-free prefix it has received from that
//! origin. Lost or partitioned messages are simply sent again on the next
//! tick, so after a partition heals every write reaches every node and all
//! replicas converge to the same value per key. Entries every peer has
//! acknowledged are dropped from the log.
//!
//! Message flow: `txn` → `txn_ok` (client ↔ node, always immediate);
//! `replicate {entries}` → `replicate_ok {upto}` (node ↔ node, periodic).
//!
//! # Which anomalies are prevented, and how
//!
//! - **G1a (aborted read)**: no transaction ever aborts, so there are no
//!   aborted writes to observe.
//! - **G1b (intermediate read)**: a transaction's writes become visible to
//!   others only when it has finished, and only its final write of each key
//!   is installed or replicated; intermediate values never leave the
//!   handler call that produced them.
//! - **G0 and G1c (cycles of write-write / write-read dependencies)**: a
//!   transaction executes at one instant on one node and can only observe
//!   writes of transactions that finished before that instant (locally, or
//!   earlier elsewhere and then replicated). So every `wr` edge, and every
//!   `ww` edge (which comes from a transaction that read a value and then
//!   overwrote it), points forward in time, and no cycle can be made of
//!   them, whatever the partition schedule. The same argument rules out
//!   cyclic version orders.
//!
//! # What is deliberately not guaranteed
//!
//! Reads may be stale (a partitioned node does not see the other side's
//! writes), two nodes may overwrite the same value concurrently (lost
//! update), and a transaction may see part of another's writes on one key
//! and an older state on another (read skew, G-single), or two transactions
//! may each miss the other's write (write skew, G2-item). These are all
//! allowed by read committed.
//!
//! # Why total availability caps the model
//!
//! A node cut off from its peers must still commit. Two such nodes can then
//! both read `x = 1` and write `x`, neither seeing the other: a lost update,
//! which repeatable read, snapshot isolation and serializability forbid, and
//! a transaction that completes on one side cannot be seen by a later one on
//! the other, which rules out every real-time (strict / strong) model. The
//! highly-available models are read uncommitted, read committed, monotonic
//! atomic view and, with clients that stick to one node as Maelstrom's do,
//! session and causal guarantees; read committed is what 6c asks for.
//!
//! # Kill, restart and pause
//!
//! Maelstrom never restarts a node; our bench can, on the node's disk
//! ([`Ctx::disk`]). Each writing transaction is recorded there (its entry:
//! sequence number, version, final writes) and so is each batch of new
//! entries received from a peer. The runtime syncs the records before any
//! output leaves the node, so a `txn_ok`, any read that shows a write, a
//! `replicate` carrying it and a `replicate_ok` acknowledging it all follow
//! its record to disk. A restarted node replays the records: the registers
//! come back with every write it ever showed or acknowledged, the Lamport
//! clock at least as high as any version it ever issued (so new versions
//! still win over old ones, and no version is issued twice), and its own
//! log whole, so it resends its entries until each peer acknowledges them
//! again (applying is idempotent). Nothing acknowledged is lost, and both
//! arguments above still hold: every write that becomes visible is durable
//! first, and a transaction still runs at one instant on one node. A
//! transaction in flight at the kill gets no reply (indeterminate); if its
//! record was not synced it leaves no trace anywhere, as if it had never
//! run. A paused node answers late; availability of the nodes that are up
//! is untouched, as no transaction waits for another node.
//!
//! Cost: no message; one disk sync per batch of output that follows a
//! write (read-only transactions record nothing). The record log is never
//! compacted (one entry per writing transaction, read whole at start).
//! Measured: in-process figures unchanged; 6c on files 0.071 servers
//! msgs-per-op (0.039 without), see `maelstrom-runs/records/durability.md`.
//!
//! # Caveats
//!
//! Keys and values are integers (Maelstrom's generator only makes those);
//! other micro-ops are rejected with error 12. Logs grow while a peer is
//! unreachable (one entry per writing transaction) and shrink once it has
//! caught up.

use crate::runtime::storage::{disk_error, Disk};
use crate::runtime::{Ctx, Error, Init, Node, NodeId, Request};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

/// How often unacknowledged log entries are sent to each peer.
pub const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);
/// The most log entries sent to one peer in one message.
pub const BATCH_LIMIT: usize = 1000;

/// A register key.
pub type Key = i64;
/// A register value.
pub type Val = i64;

/// A version: a Lamport counter, then the writing node's index as the tie
/// breaker. Larger wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version(pub u64, pub u32);

/// One micro-op of a transaction: on the wire, the triple `["r", k, v]` or
/// `["w", k, v]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicroOp {
    /// Read `key`; `value` is `None` in requests and for a never-written key.
    Read {
        /// The register read.
        key: Key,
        /// What was read.
        value: Option<Val>,
    },
    /// Write `value` to `key`.
    Write {
        /// The register written.
        key: Key,
        /// The value written.
        value: Val,
    },
}

impl Serialize for MicroOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            MicroOp::Read { key, value } => ("r", key, value).serialize(s),
            MicroOp::Write { key, value } => ("w", key, value).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MicroOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (f, key, value) = <(String, Key, Option<Val>)>::deserialize(d)?;
        match (f.as_str(), value) {
            ("r", value) => Ok(MicroOp::Read { key, value }),
            ("w", Some(value)) => Ok(MicroOp::Write { key, value }),
            ("w", None) => Err(D::Error::custom("a write needs a value")),
            (other, _) => Err(D::Error::custom(format!(
                "unknown micro-op {other:?} (expected \"r\" or \"w\")"
            ))),
        }
    }
}

/// One replicated transaction: its final writes, with its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the origin node's log, from 1.
    pub seq: u64,
    /// The transaction's version.
    pub version: Version,
    /// Final value per key written.
    pub writes: Vec<(Key, Val)>,
}

/// What the node records on its disk, in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "r", rename_all = "snake_case")]
enum Saved {
    /// One of our own transactions' writes.
    Own {
        /// The entry.
        e: Entry,
    },
    /// Entries received from `origin` that were new here.
    Peer {
        /// The peer.
        origin: NodeId,
        /// The entries.
        entries: Vec<Entry>,
    },
}

/// Messages of the txn-rw-register workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client's transaction.
    Txn {
        /// The micro-ops, in order.
        txn: Vec<MicroOp>,
    },
    /// Log entries from their origin node.
    Replicate {
        /// Entries in `seq` order.
        entries: Vec<Entry>,
    },
    /// The receiver has every entry of the sender's log up to `upto`.
    ReplicateOk {
        /// The longest gap-free prefix received.
        upto: u64,
    },
}

/// The executed transaction: the micro-ops with reads filled in.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "txn_ok")]
pub struct TxnOk {
    /// The micro-ops with reads filled in.
    pub txn: Vec<MicroOp>,
}

/// A register's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Register {
    value: Val,
    version: Version,
}

/// The node's state.
#[derive(Debug)]
pub struct TxnRwRegister {
    /// This node's position in `node_ids`, the version tie breaker.
    index: u32,
    /// Every other node.
    peers: Vec<NodeId>,
    /// The registers; absent keys were never written.
    store: HashMap<Key, Register>,
    /// Lamport counter: at least the counter of every version seen.
    clock: u64,
    /// This node's transactions not yet acknowledged by every peer.
    log: VecDeque<Entry>,
    /// The `seq` of the next local entry.
    next_seq: u64,
    /// Per peer, the highest `seq` of ours it has acknowledged.
    acked: HashMap<NodeId, u64>,
    /// Per origin, the gap-free prefix of its log we have received, and the
    /// `seq`s received beyond it.
    received: HashMap<NodeId, (u64, BTreeSet<u64>)>,
}

impl TxnRwRegister {
    /// The value of `key`, if it was ever written here.
    pub fn value(&self, key: Key) -> Option<Val> {
        self.store.get(&key).map(|r| r.value)
    }

    /// Every register, for convergence checks.
    pub fn snapshot(&self) -> BTreeMap<Key, Val> {
        self.store.iter().map(|(k, r)| (*k, r.value)).collect()
    }

    /// Entries still waiting for some peer's acknowledgement.
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// Install `value` at `key` unless the register holds a newer version.
    fn apply(&mut self, key: Key, value: Val, version: Version) {
        self.clock = self.clock.max(version.0);
        match self.store.get(&key) {
            Some(r) if r.version >= version => {}
            _ => {
                self.store.insert(key, Register { value, version });
            }
        }
    }

    /// Execute a transaction locally and return it with reads filled in;
    /// its writes are recorded on `disk` before they are installed.
    fn execute(&mut self, txn: Vec<MicroOp>, disk: &mut dyn Disk) -> std::io::Result<Vec<MicroOp>> {
        let mut own: BTreeMap<Key, Val> = BTreeMap::new();
        let done: Vec<MicroOp> = txn
            .into_iter()
            .map(|op| match op {
                MicroOp::Read { key, .. } => MicroOp::Read {
                    key,
                    value: own.get(&key).copied().or_else(|| self.value(key)),
                },
                MicroOp::Write { key, value } => {
                    own.insert(key, value);
                    op
                }
            })
            .collect();
        if !own.is_empty() {
            let entry = Entry {
                seq: self.next_seq,
                version: Version(self.clock + 1, self.index),
                writes: own.into_iter().collect(),
            };
            disk.append_json(&Saved::Own { e: entry.clone() })?;
            self.install_own(entry);
        }
        Ok(done)
    }

    /// Install one of our own entries (new, or read back from the disk).
    fn install_own(&mut self, entry: Entry) {
        for &(k, v) in &entry.writes {
            self.apply(k, v, entry.version);
        }
        self.clock = self.clock.max(entry.version.0);
        self.next_seq = self.next_seq.max(entry.seq + 1);
        if !self.peers.is_empty() {
            self.log.push_back(entry);
        }
    }

    /// Record on `disk` the entries from `origin` that are new here, then
    /// apply them all and return the acknowledgement.
    fn receive_durably(
        &mut self,
        origin: &str,
        entries: Vec<Entry>,
        disk: &mut dyn Disk,
    ) -> std::io::Result<u64> {
        let fresh: Vec<Entry> = match self.received.get(origin) {
            Some((upto, beyond)) => entries
                .iter()
                .filter(|e| e.seq > *upto && !beyond.contains(&e.seq))
                .cloned()
                .collect(),
            None => entries.clone(),
        };
        if !fresh.is_empty() {
            disk.append_json(&Saved::Peer {
                origin: origin.to_string(),
                entries: fresh,
            })?;
        }
        Ok(self.receive(origin, entries))
    }

    /// Rebuild the state an earlier incarnation left on the disk.
    fn recover(&mut self, disk: &mut dyn Disk) -> anyhow::Result<()> {
        for bytes in disk.load()?.records {
            let saved: Saved = serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("unreadable txn record on disk: {e}"))?;
            match saved {
                Saved::Own { e } => self.install_own(e),
                Saved::Peer { origin, entries } => {
                    self.receive(&origin, entries);
                }
            }
        }
        Ok(())
    }

    /// Apply entries from `origin` and return the acknowledgement.
    fn receive(&mut self, origin: &str, entries: Vec<Entry>) -> u64 {
        for e in &entries {
            for &(k, v) in &e.writes {
                self.apply(k, v, e.version);
            }
        }
        let (upto, beyond) = self.received.entry(origin.to_string()).or_default();
        for e in &entries {
            if e.seq > *upto {
                beyond.insert(e.seq);
            }
        }
        while beyond.remove(&(*upto + 1)) {
            *upto += 1;
        }
        *upto
    }

    /// Drop entries every peer has acknowledged.
    fn compact(&mut self) {
        let min = self
            .peers
            .iter()
            .map(|p| self.acked.get(p).copied().unwrap_or(0))
            .min();
        let min = min.unwrap_or(0);
        while self.log.front().is_some_and(|e| e.seq <= min) {
            self.log.pop_front();
        }
    }

    /// Send each peer what it has not acknowledged yet.
    fn gossip(&mut self, ctx: &mut Ctx<'_, Self>) {
        for peer in &self.peers {
            let acked = self.acked.get(peer).copied().unwrap_or(0);
            let entries: Vec<Entry> = self
                .log
                .iter()
                .filter(|e| e.seq > acked)
                .take(BATCH_LIMIT)
                .cloned()
                .collect();
            if !entries.is_empty() {
                ctx.send(peer, &Payload::Replicate { entries });
            }
        }
    }
}

impl Node for TxnRwRegister {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let index = init
            .node_ids
            .iter()
            .position(|n| *n == init.node_id)
            .unwrap_or(init.node_ids.len());
        let peers: Vec<NodeId> = init
            .node_ids
            .iter()
            .filter(|n| **n != init.node_id)
            .cloned()
            .collect();
        if !peers.is_empty() {
            // Send unacknowledged entries to every peer.
            ctx.every(GOSSIP_INTERVAL, |n, ctx| n.gossip(ctx));
        }
        let mut node = TxnRwRegister {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            peers,
            store: HashMap::new(),
            clock: 0,
            log: VecDeque::new(),
            next_seq: 1,
            acked: HashMap::new(),
            received: HashMap::new(),
        };
        node.recover(ctx.disk())?;
        Ok(node)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        match msg.payload {
            Payload::Txn { ref txn } => {
                let done = self.execute(txn.clone(), ctx.disk()).map_err(disk_error)?;
                ctx.reply(&msg, &TxnOk { txn: done });
                Ok(())
            }
            Payload::Replicate { entries } => {
                let src = &msg.from.src;
                let upto = self
                    .receive_durably(src, entries, ctx.disk())
                    .map_err(disk_error)?;
                ctx.send(src, &Payload::ReplicateOk { upto });
                Ok(())
            }
            Payload::ReplicateOk { upto } => {
                let src = msg.from.src;
                if let Some(a) = self.acked.get_mut(&src) {
                    *a = (*a).max(upto);
                } else if self.peers.contains(&src) {
                    self.acked.insert(src, upto);
                }
                self.compact();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::runtime::{MemDisk, NodeHost};
    use serde_json::Value;

    fn boot(i: usize, disk: &MemDisk) -> NodeHost<TxnRwRegister> {
        let mut h = NodeHost::<TxnRwRegister>::new(i as u64);
        h.set_disk(Box::new(disk.clone()));
        let id = format!("n{i}");
        let init = json!({"src": "c0", "dest": id, "body": {"type": "init",
            "msg_id": 1, "node_id": id, "node_ids": ["n0", "n1"]}});
        h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    fn out(h: &mut NodeHost<TxnRwRegister>) -> Vec<Value> {
        String::from_utf8(std::mem::take(h.output()))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn txn(h: &mut NodeHost<TxnRwRegister>, id: u64, ops: Value) -> Value {
        let line =
            json!({"src": "c1", "dest": "n0", "body": {"type": "txn", "msg_id": id, "txn": ops}});
        h.handle_line(line.to_string().as_bytes(), Duration::ZERO);
        let replies: Vec<Value> = out(h).into_iter().filter(|m| m["dest"] == "c1").collect();
        replies[0]["body"].clone()
    }

    #[test]
    fn committed_and_acknowledged_writes_survive_a_crash() {
        for seed in 0..8 {
            let (d0, d1) = (MemDisk::new(seed), MemDisk::new(seed + 100));
            let mut n0 = boot(0, &d0);
            let mut n1 = boot(1, &d1);
            for k in 0..5 {
                let r = txn(
                    &mut n0,
                    k as u64 + 2,
                    json!([["w", k, k * 10], ["r", k, null]]),
                );
                assert_eq!(r["type"], "txn_ok");
            }
            // Gossip n0 → n1, and n1's acknowledgement back.
            n0.tick(GOSSIP_INTERVAL);
            for m in out(&mut n0) {
                n1.handle_line(m.to_string().as_bytes(), GOSSIP_INTERVAL);
            }
            for m in out(&mut n1) {
                n0.handle_line(m.to_string().as_bytes(), GOSSIP_INTERVAL);
            }
            assert_eq!(n0.node().unwrap().log_len(), 0, "n1 acknowledged all");
            // A write whose reply never left: it may be lost.
            let line = json!({"src": "c1", "dest": "n0", "body":
                {"type": "txn", "msg_id": 99, "txn": [["w", 0, 777]]}});
            n0.handle_line(line.to_string().as_bytes(), GOSSIP_INTERVAL);
            drop((n0, n1));
            d0.crash();
            d1.crash();
            let n0 = boot(0, &d0);
            let n1 = boot(1, &d1);
            for k in 0..5 {
                assert_eq!(n1.node().unwrap().value(k), Some(k * 10), "seed {seed}");
                if k > 0 {
                    assert_eq!(n0.node().unwrap().value(k), Some(k * 10), "seed {seed}");
                }
            }
            assert!(matches!(n0.node().unwrap().value(0), Some(0 | 777)));
            // Versions keep growing: a new write on n0 wins everywhere.
            let mut n0 = n0;
            txn(&mut n0, 200, json!([["w", 1, 4242]]));
            assert_eq!(n0.node().unwrap().value(1), Some(4242));
            assert!(
                n0.node().unwrap().log_len() >= 5,
                "unacknowledged again: resent"
            );
        }
    }

    #[test]
    fn micro_ops_are_typed_triples() {
        let ops: Vec<MicroOp> =
            serde_json::from_value(json!([["r", 1, null], ["w", 2, 3], ["r", 4, 5]])).unwrap();
        assert_eq!(
            ops,
            vec![
                MicroOp::Read {
                    key: 1,
                    value: None
                },
                MicroOp::Write { key: 2, value: 3 },
                MicroOp::Read {
                    key: 4,
                    value: Some(5)
                },
            ]
        );
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([["r", 1, null], ["w", 2, 3], ["r", 4, 5]])
        );
        for bad in [
            json!(["x", 1, 2]),
            json!(["w", 1, null]),
            json!(["r", 1]),
            json!(["r", "k", null]),
        ] {
            assert!(
                serde_json::from_value::<MicroOp>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
