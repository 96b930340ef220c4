//! Fly.io challenge 4: a grow-only counter on `seq-kv`.
//!
//! # The problem
//!
//! Clients send `add {delta}` and `read` to any of the nodes; every node's
//! read must eventually return the sum of every delta added anywhere, and
//! the checker holds each node's *final* read (after partitions heal and a
//! 10 s quiet period) to that sum exactly. Nodes keep their state in
//! Maelstrom's sequentially consistent key/value store, `seq-kv`, which is
//! never partitioned; node↔node links are. The bench also asks for few
//! messages (≤ 0.5 server messages per client operation, counting every
//! request and reply to `seq-kv`) and fresh reads: absent partitions, a read
//! reflects every add acknowledged anywhere at least 1 s earlier.
//!
//! # Why not one shared key
//!
//! The obvious design keeps the total under one key and, on `add`, reads it
//! and writes back `total + delta`. Two nodes that read the same total
//! concurrently both write `total + their delta`, and one delta is lost.
//! `seq-kv` makes it worse: its reads may return any state between the
//! reader's last one and the newest, so even a lone node reads stale totals.
//! A compare-and-set (`cas from: total, to: total + delta`) makes the
//! check-and-write atomic, but it fails whenever another node got there
//! first, and on `seq-kv` also *spuriously*, when the CAS is judged against
//! a stale state; every failure costs a re-read (itself possibly stale) and
//! a retry. Under contention that is several round trips per add, unbounded
//! in the worst case, and each add must wait for them before it may be
//! acknowledged.
//!
//! # The design
//!
//! - **One key per node, one writer per key.** Node `n` owns key
//!   `g-counter/n` and stores `{version, total, stamp}` there: its own
//!   running total, a version that grows with every local change, and a
//!   stamp that grows with every write. Only `n` writes that key, so a
//!   plain `write` can never lose an update and no CAS is needed. The
//!   counter is the sum of every node's own total. (Totals are versioned
//!   rather than compared, so the same node works for pn-counter, whose
//!   per-node totals may go down.)
//! - **Adds are batched locally.** An `add` bumps the local total and is
//!   acknowledged at once; nothing is sent per add.
//! - **Peers' totals are cached**, merged by version (a higher version
//!   replaces a lower one, whichever path it came by).
//! - **Push for freshness.** When its total has changed, a node sends it
//!   directly to every peer (`counter_state`, no reply), at most once every
//!   [`PUSH_EVERY`]. This is the cheap fast path.
//! - **Refresh through seq-kv for safety.** Every [`REFRESH_EVERY`], while
//!   the node is serving clients or has unwritten changes, it runs a
//!   *refresh*: write its own key (this is also how its total reaches the
//!   store), wait for `write_ok`, then read every peer's key. This repairs
//!   whatever pushes a partition dropped.
//!
//! # How staleness is defeated
//!
//! `seq-kv` serves a read from a state chosen uniformly between the
//! requester's last-seen state and the newest one. A write that really
//! changes the store, however, is always applied to the newest state and
//! moves the writer to it. The refresh's write carries a stamp that was
//! never written before, so it is always such a real update; the reads that
//! follow it therefore see at least every write the store had applied before
//! it, i.e. every peer total written before the refresh began. (Writing a
//! value the key already holds would not do: `seq-kv` answers such a no-op
//! from a stale state and moves nobody.)
//!
//! # Freshness and exactness
//!
//! - *Reads during the run, absent partitions.* An add acknowledged by node
//!   A at time `a` is pushed by A no later than `a + PUSH_EVERY +
//!   TICK` (0.6 s) and reaches every peer one network latency later, so any
//!   read at or after `a + 1 s` includes it as long as the latency is below
//!   0.4 s and the link was up. Local adds are visible at once.
//! - *During partitions* pushes are lost and reads may lag; the next refresh
//!   (≤ [`REFRESH_EVERY`] later, through the never-partitioned store) or the
//!   peer's next push after the heal brings the cache up to date.
//! - *Reads never answer from an old cache.* If the last completed refresh
//!   began more than [`STALE_AFTER`] ago (the node was idle), a read waits
//!   for a fresh refresh before answering.
//! - *Final reads are exact.* When clients stop, every node's changes reach
//!   its key within one refresh (a node with unwritten changes keeps
//!   refreshing until they are written), and then, idle, it stops. The final
//!   read comes after Maelstrom's 10 s recovery wait, so the node's cache is
//!   older than [`STALE_AFTER`]: the read triggers a refresh whose reads
//!   follow a real update, and therefore see every peer's final write.
//!
//! # Cost
//!
//! With `N` nodes, `T` seconds of client activity, and every node's total
//! changing more often than every `PUSH_EVERY` (true at 100 ops/s), the
//! server messages are about
//!
//! ```text
//! N·T·( (N−1)/PUSH_EVERY + 2N/REFRESH_EVERY ) + 2N·N
//! ```
//!
//! (pushes to each peer; a refresh is one write and `N−1` reads, each a
//! request and a reply; plus one refresh per final read). For the Fly.io
//! run (N = 3, T ≈ 21 s, 2 000 client ops) that is about
//! 3·21·(4 + 3) + 18 ≈ 460 messages, ≈ 0.23 per operation.
//!
//! # Caveats
//!
//! - The freshness bound assumes latencies well under 0.4 s; with
//!   `--latency 100` it still holds, with much more it degrades gracefully.
//! - Exactness of final reads relies on a quiet period longer than one
//!   refresh before them, which Maelstrom's recovery wait provides.
//! - A node's total lives in its memory (and its key); nodes are never
//!   restarted in Maelstrom, so nothing is recovered from the store on start.

use crate::runtime::kv::{ok_result, read_result, Kv};
use crate::runtime::{Ctx, Error, ErrorCode, Init, MsgId, Node, NodeId, Reply, Request};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// How often the node looks at its pushes and refreshes.
pub const TICK: Duration = Duration::from_millis(100);
/// Minimum spacing of pushes of the local total to peers.
pub const PUSH_EVERY: Duration = Duration::from_millis(500);
/// Spacing of refreshes through seq-kv while the node is busy or dirty.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// A node counts as busy this long after its last client request.
pub const BUSY_FOR: Duration = Duration::from_secs(1);
/// A read waits for a refresh if the last one began longer ago than this.
pub const STALE_AFTER: Duration = Duration::from_millis(2500);
/// Deadline of each seq-kv request.
pub const KV_TIMEOUT: Duration = Duration::from_secs(1);

/// The seq-kv key that holds `node`'s own total.
pub fn key_for(node: &str) -> String {
    format!("g-counter/{node}")
}

/// Messages of the counter workload, and the node-to-node push.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client adds `delta`.
    Add {
        /// The amount to add.
        delta: i64,
    },
    /// The answer to `add`.
    AddOk,
    /// A client reads the counter.
    Read,
    /// The answer to `read`.
    ReadOk {
        /// The counter's value.
        value: i64,
    },
    /// A peer's own total (sent without `msg_id`; no reply).
    CounterState {
        /// The sender's version of its total.
        version: u64,
        /// The sender's own total.
        total: i64,
    },
}

/// One node's contribution, as cached and as stored under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Share {
    /// Grows with every change of `total`.
    pub version: u64,
    /// The node's own running total.
    pub total: i64,
}

/// What is stored under a node's key: its share plus a write stamp that
/// makes every write a real update (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The share.
    #[serde(flatten)]
    pub share: Share,
    /// Grows with every write.
    pub stamp: u64,
}

/// The timer.
#[derive(Debug)]
pub enum Timer {
    /// Periodic housekeeping: pushes and refreshes.
    Tick,
}

/// Why a seq-kv request was sent.
#[derive(Debug)]
pub enum Call {
    /// The refresh numbered `round` wrote our own key with `version`.
    Write {
        /// The refresh it belongs to.
        round: u64,
        /// The version it wrote.
        version: u64,
    },
    /// The refresh numbered `round` read `peer`'s key.
    ReadPeer {
        /// The refresh it belongs to.
        round: u64,
        /// Whose key.
        peer: NodeId,
    },
}

/// Where the current refresh is.
#[derive(Debug, Clone, PartialEq)]
enum Refresh {
    /// None running.
    Idle,
    /// Waiting for the `write_ok` of our own key.
    Writing,
    /// Waiting for `outstanding` peer reads; `failed` if any went wrong.
    Reading { outstanding: usize, failed: bool },
}

/// The grow-only counter node.
#[derive(Debug)]
pub struct GCounter {
    /// This node's id.
    me: NodeId,
    /// Every other node.
    peers: Vec<NodeId>,
    /// Our own share.
    own: Share,
    /// The last stamp written to our key.
    stamp: u64,
    /// The highest version of our share that seq-kv has acknowledged.
    stored_version: u64,
    /// The version of our share last pushed to peers.
    pushed_version: u64,
    /// When we last pushed.
    last_push: Option<Duration>,
    /// Peers' shares, merged by version.
    cache: HashMap<NodeId, Share>,
    /// The refresh in progress.
    refresh: Refresh,
    /// Number of the current (or last) refresh.
    round: u64,
    /// When the current refresh began.
    round_started: Duration,
    /// When the last refresh began (successful or not).
    last_attempt: Option<Duration>,
    /// When the last *successful* refresh began: the cache reflects every
    /// write seq-kv had applied by then.
    fresh_as_of: Option<Duration>,
    /// When the last client request arrived.
    last_client: Option<Duration>,
    /// Reads waiting for a refresh: `(client, msg_id)`.
    waiting: Vec<(NodeId, MsgId)>,
}

impl GCounter {
    /// The counter as this node knows it.
    pub fn value(&self) -> i64 {
        self.cache
            .values()
            .fold(self.own.total, |acc, s| acc.saturating_add(s.total))
    }

    /// Our own share.
    pub fn own(&self) -> Share {
        self.own
    }

    fn merge(&mut self, peer: &str, share: Share) {
        if peer == self.me || !self.peers.iter().any(|p| p == peer) {
            return;
        }
        let entry = self.cache.entry(peer.to_string()).or_default();
        if share.version > entry.version {
            *entry = share;
        }
    }

    fn busy(&self, now: Duration) -> bool {
        self.last_client
            .is_some_and(|t| now.saturating_sub(t) < BUSY_FOR)
    }

    fn dirty(&self) -> bool {
        self.own.version > self.stored_version
    }

    fn cache_is_fresh(&self, now: Duration) -> bool {
        self.fresh_as_of
            .is_some_and(|t| now.saturating_sub(t) <= STALE_AFTER)
    }

    fn maybe_push(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let due = self
            .last_push
            .is_none_or(|t| now.saturating_sub(t) >= PUSH_EVERY);
        if self.own.version > self.pushed_version && due {
            let msg = Payload::CounterState {
                version: self.own.version,
                total: self.own.total,
            };
            for p in &self.peers {
                ctx.send(p, &msg);
            }
            self.pushed_version = self.own.version;
            self.last_push = Some(now);
        }
    }

    fn maybe_refresh(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.refresh != Refresh::Idle {
            return;
        }
        let now = ctx.now();
        let periodic = (self.busy(now) || self.dirty())
            && self
                .last_attempt
                .is_none_or(|t| now.saturating_sub(t) >= REFRESH_EVERY);
        if periodic || !self.waiting.is_empty() {
            self.start_refresh(ctx);
        }
    }

    /// Write our own key with a new stamp; the peer reads follow its
    /// `write_ok`.
    fn start_refresh(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        self.round += 1;
        self.round_started = now;
        self.last_attempt = Some(now);
        self.stamp += 1;
        let record = Record {
            share: self.own,
            stamp: self.stamp,
        };
        let call = Call::Write {
            round: self.round,
            version: self.own.version,
        };
        Kv::SEQ.write(ctx, &key_for(&self.me), &record, KV_TIMEOUT, call);
        self.refresh = Refresh::Writing;
    }

    fn finish_refresh(&mut self, failed: bool, ctx: &mut Ctx<'_, Self>) {
        self.refresh = Refresh::Idle;
        if failed {
            // Waiting reads stay queued; the next tick tries again.
            return;
        }
        self.fresh_as_of = Some(self.round_started);
        let value = self.value();
        for (src, msg_id) in std::mem::take(&mut self.waiting) {
            ctx.reply_to(&src, msg_id, &Payload::ReadOk { value });
        }
    }
}

impl Node for GCounter {
    type Payload = Payload;
    type Timer = Timer;
    type Call = Call;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let peers = init
            .node_ids
            .iter()
            .filter(|n| **n != init.node_id)
            .cloned()
            .collect();
        ctx.set_timer(TICK, Timer::Tick);
        Ok(GCounter {
            me: init.node_id.clone(),
            peers,
            own: Share::default(),
            stamp: 0,
            stored_version: 0,
            pushed_version: 0,
            last_push: None,
            cache: HashMap::new(),
            refresh: Refresh::Idle,
            round: 0,
            round_started: Duration::ZERO,
            last_attempt: None,
            fresh_as_of: None,
            last_client: None,
            waiting: Vec::new(),
        })
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        match msg.payload {
            Payload::Add { delta } => {
                self.last_client = Some(ctx.now());
                if delta != 0 {
                    self.own.total = self.own.total.checked_add(delta).ok_or_else(|| {
                        Error::new(ErrorCode::Abort, "the counter would overflow")
                    })?;
                    self.own.version += 1;
                }
                ctx.reply(&msg, &Payload::AddOk);
                self.maybe_push(ctx);
                Ok(())
            }
            Payload::Read => {
                let now = ctx.now();
                self.last_client = Some(now);
                if self.cache_is_fresh(now) {
                    ctx.reply(
                        &msg,
                        &Payload::ReadOk {
                            value: self.value(),
                        },
                    );
                } else if let Some(id) = msg.msg_id {
                    self.waiting.push((msg.src, id));
                    self.maybe_refresh(ctx);
                }
                Ok(())
            }
            Payload::CounterState { version, total } => {
                self.merge(&msg.src, Share { version, total });
                Ok(())
            }
            Payload::AddOk | Payload::ReadOk { .. } => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<'_, Self>) {
        match timer {
            Timer::Tick => {
                self.maybe_push(ctx);
                self.maybe_refresh(ctx);
                ctx.set_timer(TICK, Timer::Tick);
            }
        }
    }

    fn on_reply(&mut self, call: Call, reply: Result<Reply, Error>, ctx: &mut Ctx<'_, Self>) {
        match call {
            Call::Write { round, version } => {
                if round != self.round || self.refresh != Refresh::Writing {
                    return;
                }
                if let Err(e) = ok_result(reply) {
                    ctx.log(format_args!("refresh {round}: writing our key failed: {e}"));
                    self.finish_refresh(true, ctx);
                    return;
                }
                self.stored_version = self.stored_version.max(version);
                if self.peers.is_empty() {
                    self.finish_refresh(false, ctx);
                    return;
                }
                let peers = self.peers.clone();
                for peer in peers {
                    let call = Call::ReadPeer {
                        round,
                        peer: peer.clone(),
                    };
                    Kv::SEQ.read(ctx, &key_for(&peer), KV_TIMEOUT, call);
                }
                self.refresh = Refresh::Reading {
                    outstanding: self.peers.len(),
                    failed: false,
                };
            }
            Call::ReadPeer { round, peer } => {
                if round != self.round {
                    return;
                }
                let Refresh::Reading {
                    mut outstanding,
                    mut failed,
                } = self.refresh
                else {
                    return;
                };
                match read_result::<Record>(reply) {
                    Ok(record) => self.merge(&peer, record.share),
                    // The peer has not written yet: it has nothing to add.
                    Err(e) if e.code == ErrorCode::KeyDoesNotExist => {}
                    Err(e) if e.code == ErrorCode::MalformedRequest => {
                        ctx.log(format_args!("ignoring {peer}'s unreadable record: {e}"));
                    }
                    Err(e) => {
                        ctx.log(format_args!("refresh {round}: reading {peer} failed: {e}"));
                        failed = true;
                    }
                }
                outstanding = outstanding.saturating_sub(1);
                if outstanding == 0 {
                    self.finish_refresh(failed, ctx);
                } else {
                    self.refresh = Refresh::Reading {
                        outstanding,
                        failed,
                    };
                }
            }
        }
    }
}
