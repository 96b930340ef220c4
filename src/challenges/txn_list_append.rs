//! Maelstrom's `txn-list-append` (the guide's chapter 5, "Datomic"): a
//! strict-serializable transactional store of lists, built on Maelstrom's
//! `lin-kv` service with no node-to-node messages at all.
//!
//! # The problem
//!
//! Clients send `txn` requests: lists of micro-ops `["r", k, null]` (read
//! the whole list at key `k`) and `["append", k, v]` (append `v` to it),
//! executed in order; the node answers `txn_ok` with the reads filled in
//! (`null` for a key never appended to). The checker is Elle's list-append
//! checker with `strict-serializable` as the default model: the committed
//! transactions must be equivalent to some serial order that also respects
//! real time (a transaction that completed before another began comes
//! first). Any node may serve any transaction, and the nemesis may cut
//! node-to-node links at any time.
//!
//! # The design: a transactor per node, one root in lin-kv
//!
//! The database is a map `key → list`. Every list value ever committed is
//! stored once, **immutable**, in `lin-kv` under a fresh *thunk id*
//! (`n0.7f3a.12`: node, incarnation, counter). The current database is one
//! **root** value in `lin-kv` under the key [`ROOT`]: the sorted pairs
//! `[key, thunk id]`, one per key ever appended to. A commit is a `cas` of
//! the root from the map it read to a new map that points the changed keys
//! at fresh thunks, after those thunks are written. Nothing is ever
//! updated in place, so a node may cache every thunk it has seen forever,
//! and the root it last saw as a guess.
//!
//! Each node is a small *transactor* with one commit in flight:
//!
//! 1. **Batch.** Transactions that arrive while a commit is in flight
//!    queue; the next attempt takes every queued one (up to
//!    [`MAX_BATCH`]) and runs them in arrival order against one state.
//!    This is the guide's "batching" exercise: a node never conflicts
//!    with itself, and one `cas` commits many transactions.
//! 2. **Fetch.** Thunks of the keys the batch touches that are not cached
//!    are read from `lin-kv` in parallel (the guide's "read parallelism").
//! 3. **Execute** locally: each transaction sees the root's lists plus the
//!    appends of the batch's earlier transactions and its own earlier
//!    micro-ops.
//! 4. **Commit.** With appends: write each changed list as a fresh thunk
//!    (in parallel, create-only; below), then `cas` the root from the map
//!    executed against to the new map. With no append in the whole batch:
//!    no write, but the root must be *confirmed*: a `read` of the root sent
//!    after every transaction of the batch arrived; if it shows another
//!    map, the batch runs again against that one (no second read needed).
//! 5. **Retry.** A `cas` refused with code 22 (the root moved) means some
//!    other node committed: the node reads the root, waits a random
//!    [`BACKOFF`] slice times the attempt number, and runs the batch again
//!    against it, up to [`MAX_TRIES`] attempts, after which every
//!    transaction of the batch fails with `txn-conflict` (30, definite).
//!
//! The first attempt of a batch trusts the cached root: a writing batch
//! goes straight to the `cas`, which fails if the guess was stale. That is
//! the guide's "caching the root", and safe because the `cas` checks it.
//!
//! # Why this is strict serializable
//!
//! Each batch takes effect at one instant, its **commit point**, inside
//! the real-time interval of every transaction in it:
//!
//! - A writing batch commits at its successful `cas`. `lin-kv` is
//!   linearizable, so the `cas` took effect at one instant between its
//!   send and its reply; it was sent after every transaction of the batch
//!   arrived and the replies go out after it. At that instant the root
//!   held exactly the map the batch executed against (that is what `cas`
//!   checks), so every read saw the database as it was at the commit
//!   point, and the new map, with all the batch's appends, became current
//!   at that same point. Transactions within the batch are ordered by
//!   arrival; they are all concurrent with each other.
//! - A read-only batch commits at its confirming `read` of the root, by
//!   the same argument: the read was sent after every transaction of the
//!   batch arrived, and it returned the map that was current at its
//!   linearization point.
//! - A root value never repeats: every commit points at least one key at
//!   a thunk id never used before, and ids are never reused. So a `cas`
//!   from map `M` succeeds only if nobody committed since `M` was current
//!   (no ABA), and a cached thunk is the value its id was written with.
//!
//! Ordering transactions by commit point (and by arrival within a batch)
//! gives a serial order consistent with real time in which every read
//! returns what the order implies: strict serializability. The guide's
//! "stale reads" variant, which answers a read-only transaction from the
//! cached root without asking `lin-kv`, loses the real-time half; here the
//! confirming read is kept.
//!
//! # Message flow
//!
//! ```text
//!   client ──txn──▶ node                     (queued; one batch in flight)
//!   node ──read {key: t}──▶ lin-kv           (each uncached thunk, in parallel)
//!   node ──cas {key: t', from: null, to: list, create_if_not_exists}──▶ lin-kv
//!                                            (each changed list, in parallel)
//!   node ──cas {key: "root", from: M, to: M'}──▶ lin-kv
//!        └─ 22: read root, back off, run the batch again
//!   read-only batch: node ──read {key: "root"}──▶ lin-kv instead of the cas
//!   node ──txn_ok──▶ client                  (every transaction of the batch)
//! ```
//!
//! # Cost
//!
//! A writing batch with `c` changed keys and `f` uncached thunks costs
//! `2·(f + c + 1)` service messages when the cached root is current, plus
//! `2·(1 + f')` more per conflict (the root read and the thunks of the
//! winner's map); a read-only batch `2·(1 + f)`. `f` is usually zero on
//! one node and the keys the other node changed since on two. Latency is
//! two service round trips for a writing batch (thunks, then root), one for
//! a read-only one. Bytes grow with the number of keys ever appended to:
//! the root holds one pair per key (each `cas` carries two maps), and each
//! thunk a whole list.
//!
//! Measured on the guide's command (`--node-count 2 --time-limit 20 --rate
//! 100`, process mode, seeds 1–10, with and without partitions): every run
//! valid with every transaction `ok`, 7.5–8.0 servers msgs-per-op; the
//! guide's own best strict-serializable figure is 8.5
//! (`maelstrom: doc/05-datomic/04-optimization.md`). Records:
//! `maelstrom-runs/records/guide-solvers.md`.
//!
//! # Faults
//!
//! - **Partitions** cut node-to-node links only; Maelstrom never cuts a
//!   node from its services (`maelstrom: src/maelstrom/net.clj`, grudges
//!   name nodes only), and these nodes never talk to each other, so a
//!   partition changes nothing: strict serializability and availability
//!   both hold. Were a service cut off, the node would only stall: every
//!   decision above rests on a reply, never on a timeout.
//! - **A lost or late service reply** (an RPC timeout after [`RPC_TIMEOUT`]):
//!   before the root `cas` was sent nothing is visible, so the batch simply
//!   runs again (a definite failure, 11, once [`MAX_TRIES`] is reached); a
//!   `cas` that times out may still take effect later, so its
//!   transactions get an indefinite error (code 0, timeout) and the cached
//!   root is forgotten. A late `cas` can only succeed if the root is still
//!   what it read, so it never overwrites a newer commit.
//! - **Kill and restart** (not in Maelstrom; our bench's `kill` once it
//!   exists): the node keeps no state of its own, only caches. A restarted
//!   node reads the root before its first commit, and its thunk ids carry
//!   a new incarnation tag (from [`Ctx::boot_time`] and the RNG); thunks are
//!   written create-only (`cas` from `null`, which no list equals, with
//!   `create_if_not_exists`), so even a colliding id is refused with 22
//!   instead of overwriting a published value, and the batch runs again
//!   with new ids. Transactions in flight at the kill get no reply
//!   (indeterminate), whichever side of the `cas` they were on.
//! - **Pause**: the node answers late; other nodes commit meanwhile, and
//!   the paused node's next `cas` fails and retries against their root.
//!
//! # Why thunks in lin-kv, not seq-kv or lww-kv
//!
//! The guide moves thunks to an eventually consistent store, which in a
//! real system is cheaper than consensus. In Maelstrom every service costs
//! the same: one service thread, the same network latency, the same two
//! messages per call. An eventually consistent store only adds misses: a
//! `seq-kv` read may come from a state before the thunk's write, and
//! Maelstrom's `lww-kv` keeps two replicas that never converge (half the
//! reads of a thunk miss it forever after one write). Each miss is a retry.
//! In `lin-kv` a thunk published by a root the node has read is always
//! there on the first read. The design does not depend on the choice:
//! thunks are immutable, so any store that eventually returns a written
//! value would do, with a retry on "not found".
//!
//! # Caveats
//!
//! - The root grows by one pair per key ever appended to, and each commit
//!   sends it twice (`from` and `to`); a tree of immutable map nodes (the
//!   guide's "hash trees" exercise) would make that logarithmic. Elle's
//!   generator retires a key after 16 appends, so a 20 s run at rate 100
//!   ends with a root of a couple of hundred pairs.
//! - Thunks are never deleted from `lin-kv`, and the thunk cache is never
//!   trimmed: the node holds every list version it has seen.
//! - Two nodes committing at the same time conflict; one wins, the other
//!   retries. With `n` nodes all writing, a batch may lose up to `n − 1`
//!   races per commit; the random backoff spreads them out.
//! - Keys and elements are integers (Maelstrom's generator only makes
//!   those); other micro-ops are rejected with error 12.

use crate::runtime::kv::{self, Cas, Kv, Read};
use crate::runtime::{Ctx, Error, ErrorCode, Init, Node, NodeId, ReplyTo, Request};
use rand::Rng;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

/// The `lin-kv` key of the root: the current map from keys to thunk ids.
pub const ROOT: &str = "root";
/// How long a service call may take before it counts as lost.
pub const RPC_TIMEOUT: Duration = Duration::from_millis(1000);
/// Attempts per batch before its transactions fail with a definite error.
pub const MAX_TRIES: u32 = 12;
/// The most transactions committed by one `cas`.
pub const MAX_BATCH: usize = 64;
/// The backoff slice after a lost race: a retry waits a random time up to
/// this times the attempt number.
pub const BACKOFF: Duration = Duration::from_millis(5);

/// A list's key.
pub type Key = i64;
/// An element of a list.
pub type Val = i64;
/// The `lin-kv` key of one immutable list value.
pub type ThunkId = String;
/// The database: per key, the thunk holding its current list.
pub type Root = BTreeMap<Key, ThunkId>;

/// One micro-op: on the wire `["r", k, null | [v, …]]` or
/// `["append", k, v]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicroOp {
    /// Read the list at `key`; `value` is `None` in requests and for a key
    /// never appended to.
    Read {
        /// The list read.
        key: Key,
        /// What was read.
        value: Option<Vec<Val>>,
    },
    /// Append `value` to the list at `key`.
    Append {
        /// The list appended to.
        key: Key,
        /// The element.
        value: Val,
    },
}

impl Serialize for MicroOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MicroOp::Read { key, value } => ("r", key, value).serialize(s),
            MicroOp::Append { key, value } => ("append", key, value).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MicroOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (f, key, value) = <(String, Key, serde_json::Value)>::deserialize(d)?;
        match f.as_str() {
            "r" => Ok(MicroOp::Read { key, value: None }),
            "append" => match value.as_i64() {
                Some(value) => Ok(MicroOp::Append { key, value }),
                None => Err(D::Error::custom("an append needs an integer element")),
            },
            other => Err(D::Error::custom(format!(
                "unknown micro-op {other:?} (expected \"r\" or \"append\")"
            ))),
        }
    }
}

/// Messages of the txn-list-append workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client's transaction.
    Txn {
        /// The micro-ops, in order.
        txn: Vec<MicroOp>,
    },
    /// The committed transaction.
    TxnOk {
        /// The micro-ops with reads filled in.
        txn: Vec<MicroOp>,
    },
}

/// A transaction waiting for its commit.
#[derive(Debug, Clone)]
struct Pending {
    /// The client and its request id.
    from: ReplyTo,
    /// Its micro-ops.
    txn: Vec<MicroOp>,
}

/// What the node believes the root to be.
#[derive(Debug, Clone, PartialEq)]
enum RootView {
    /// Nothing trustworthy (at start, and after a `cas` of unknown outcome):
    /// read it before committing.
    Unknown,
    /// The map last seen; `exists` is false while `lin-kv` has no root.
    Seen {
        /// The map.
        map: Root,
        /// Whether the root key exists.
        exists: bool,
    },
}

/// What one attempt is waiting for.
#[derive(Debug, Clone, PartialEq)]
enum Wait {
    /// `n` thunk reads.
    Fetches(usize),
    /// The root read.
    Root,
    /// `n` thunk writes, then the `cas` to `to`.
    Writes {
        /// Writes still outstanding.
        left: usize,
        /// The map to install.
        to: Root,
    },
    /// The root `cas` to `to`.
    Cas {
        /// The map being installed.
        to: Root,
    },
    /// The backoff timer.
    Backoff,
}

/// The batch being committed.
#[derive(Debug)]
struct Attempt {
    /// Its transactions, in arrival order.
    batch: Vec<Pending>,
    /// Attempts made so far (1 for the first).
    tries: u32,
    /// Whether the root was read after the batch was fixed (a read-only
    /// batch may answer only then).
    confirmed: bool,
    /// What it is waiting for.
    wait: Wait,
    /// The batch's results once executed: completed micro-ops per
    /// transaction.
    results: Vec<Vec<MicroOp>>,
}

/// The node's state: caches and the transactor.
#[derive(Debug)]
pub struct TxnListAppend {
    /// This node's id.
    me: NodeId,
    /// This incarnation's tag in thunk ids.
    incarnation: String,
    /// Thunk ids handed out so far by this incarnation.
    next_thunk: u64,
    /// The root as last seen.
    root: RootView,
    /// Every thunk seen or written: immutable, so always valid.
    thunks: HashMap<ThunkId, Rc<Vec<Val>>>,
    /// Transactions not yet in a batch.
    queue: VecDeque<Pending>,
    /// The batch in flight, if any.
    attempt: Option<Attempt>,
    /// The serial of the attempt's current stage.
    stage: u64,
}

/// The outcome of running a batch against the cached state.
enum Executed {
    /// These thunks are needed first.
    Missing(BTreeSet<ThunkId>),
    /// Completed micro-ops per transaction, and the new list of each
    /// changed key.
    Done(Vec<Vec<MicroOp>>, BTreeMap<Key, Vec<Val>>),
}

impl TxnListAppend {
    /// Run `batch` against `root` and the thunk cache.
    fn execute(&self, root: &Root, batch: &[Pending]) -> Executed {
        let missing: BTreeSet<ThunkId> = batch
            .iter()
            .flat_map(|p| &p.txn)
            .filter_map(|m| match m {
                MicroOp::Read { key, .. } | MicroOp::Append { key, .. } => root.get(key),
            })
            .filter(|id| !self.thunks.contains_key(*id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Executed::Missing(missing);
        }
        let mut changed: BTreeMap<Key, Vec<Val>> = BTreeMap::new();
        let current = |changed: &BTreeMap<Key, Vec<Val>>, key: &Key| -> Option<Vec<Val>> {
            changed
                .get(key)
                .cloned()
                .or_else(|| root.get(key).map(|id| self.thunks[id].as_ref().clone()))
        };
        let results = batch
            .iter()
            .map(|p| {
                p.txn
                    .iter()
                    .map(|m| match m {
                        MicroOp::Read { key, .. } => MicroOp::Read {
                            key: *key,
                            value: current(&changed, key),
                        },
                        MicroOp::Append { key, value } => {
                            let mut list = current(&changed, key).unwrap_or_default();
                            list.push(*value);
                            changed.insert(*key, list);
                            m.clone()
                        }
                    })
                    .collect()
            })
            .collect();
        Executed::Done(results, changed)
    }

    /// Start a batch from the queue, if none is in flight.
    fn start_batch(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.attempt.is_some() || self.queue.is_empty() {
            return;
        }
        let n = self.queue.len().min(MAX_BATCH);
        self.attempt = Some(Attempt {
            batch: self.queue.drain(..n).collect(),
            tries: 1,
            confirmed: false,
            wait: Wait::Root,
            results: Vec::new(),
        });
        self.advance(ctx);
    }

    /// Whether a reply or timer from `stage` still matters: the node has
    /// not left that stage and a batch is in flight.
    fn current(&self, stage: u64) -> bool {
        stage == self.stage && self.attempt.is_some()
    }

    /// A fresh stage: replies to earlier ones are ignored from now on.
    fn next_stage(&mut self) -> u64 {
        self.stage += 1;
        self.stage
    }

    /// Move the attempt forward from what the node knows now.
    fn advance(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(attempt) = self.attempt.as_ref() else {
            return;
        };
        let RootView::Seen { map, exists } = self.root.clone() else {
            return self.read_root(ctx);
        };
        match self.execute(&map, &attempt.batch) {
            Executed::Missing(ids) => self.fetch(ids, ctx),
            Executed::Done(results, changed) if changed.is_empty() => {
                if attempt.confirmed {
                    self.finish(Ok(results), ctx);
                } else {
                    self.read_root(ctx);
                }
            }
            Executed::Done(results, changed) => self.write(map, exists, results, changed, ctx),
        }
    }

    /// Read every thunk in `ids`.
    fn fetch(&mut self, ids: BTreeSet<ThunkId>, ctx: &mut Ctx<'_, Self>) {
        let stage = self.next_stage();
        if let Some(a) = self.attempt.as_mut() {
            a.wait = Wait::Fetches(ids.len());
        }
        for id in ids {
            let read = Read { key: id.clone() };
            Kv::LIN.rpc(ctx, read, RPC_TIMEOUT, move |n, reply, ctx| {
                if n.current(stage) {
                    n.on_fetch(id, reply, ctx);
                }
            });
        }
    }

    /// Read the root.
    fn read_root(&mut self, ctx: &mut Ctx<'_, Self>) {
        let stage = self.next_stage();
        if let Some(a) = self.attempt.as_mut() {
            a.wait = Wait::Root;
        }
        Kv::LIN.rpc(
            ctx,
            Read { key: ROOT },
            RPC_TIMEOUT,
            move |n, reply, ctx| {
                if n.current(stage) {
                    n.on_root(reply, ctx);
                }
            },
        );
    }

    /// Write each changed list as a fresh thunk, create-only; the root
    /// `cas` follows once all are written.
    fn write(
        &mut self,
        mut map: Root,
        exists: bool,
        results: Vec<Vec<MicroOp>>,
        changed: BTreeMap<Key, Vec<Val>>,
        ctx: &mut Ctx<'_, Self>,
    ) {
        let stage = self.next_stage();
        let from = map.clone();
        let n = changed.len();
        for (key, list) in changed {
            self.next_thunk += 1;
            let id = format!("{}.{}.{}", self.me, self.incarnation, self.next_thunk);
            // `from: null`, which no list equals: create-only.
            let cas = Cas {
                key: &id,
                from: None,
                to: Some(&list),
                create_if_missing: true,
            };
            Kv::LIN.rpc(ctx, cas, RPC_TIMEOUT, move |n, reply, ctx| {
                if n.current(stage) {
                    n.on_write(reply, ctx);
                }
            });
            self.thunks.insert(id.clone(), Rc::new(list));
            map.insert(key, id);
        }
        if let Some(a) = self.attempt.as_mut() {
            a.results = results;
            a.wait = Wait::Writes { left: n, to: map };
        }
        // The root to swap from is fixed now: if the cache changes before
        // the writes return (it cannot, with one batch in flight), the
        // cas still names the map these results were computed on.
        self.root = RootView::Seen { map: from, exists };
    }

    /// Swap the root from the map executed against to `to`.
    fn cas_root(&mut self, to: Root, ctx: &mut Ctx<'_, Self>) {
        let stage = self.next_stage();
        let (from, create) = match &self.root {
            RootView::Seen { map, exists } => (pairs(map), !*exists),
            RootView::Unknown => return self.read_root(ctx),
        };
        let from = if create { Vec::new() } else { from };
        let cas = Cas {
            key: ROOT,
            from,
            to: pairs(&to),
            create_if_missing: create,
        };
        Kv::LIN.rpc(ctx, cas, RPC_TIMEOUT, move |n, reply, ctx| {
            if n.current(stage) {
                n.on_cas(reply, ctx);
            }
        });
        if let Some(a) = self.attempt.as_mut() {
            a.wait = Wait::Cas { to };
        }
    }

    /// A race was lost or a call failed before anything became visible:
    /// back off and run the batch again, or fail it with `why` (definite)
    /// once out of attempts.
    fn retry(&mut self, why: Error, ctx: &mut Ctx<'_, Self>) {
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        if a.tries >= MAX_TRIES {
            return self.finish(Err(why), ctx);
        }
        a.tries += 1;
        a.wait = Wait::Backoff;
        let slice = BACKOFF.as_micros() as u64 * u64::from(a.tries - 1);
        let wait = Duration::from_micros(ctx.rng().gen_range(0..=slice));
        let stage = self.next_stage();
        ctx.after(wait, move |n, ctx| {
            if stage == n.stage {
                n.read_root(ctx);
            }
        });
    }

    /// Answer every transaction of the batch and start the next one.
    fn finish(&mut self, outcome: Result<Vec<Vec<MicroOp>>, Error>, ctx: &mut Ctx<'_, Self>) {
        self.next_stage();
        let Some(a) = self.attempt.take() else {
            return;
        };
        match outcome {
            Ok(results) => {
                for (p, txn) in a.batch.iter().zip(results) {
                    ctx.reply(&p.from, &Payload::TxnOk { txn });
                }
            }
            Err(e) => {
                for p in &a.batch {
                    ctx.reply_err(&p.from, &e);
                }
            }
        }
        self.start_batch(ctx);
    }

    /// The root read came back.
    fn on_root(&mut self, reply: Result<serde_json::Value, Error>, ctx: &mut Ctx<'_, Self>) {
        let seen = match reply.and_then(kv::decode::<Vec<(Key, ThunkId)>>) {
            Ok(pairs) => RootView::Seen {
                map: pairs.into_iter().collect(),
                exists: true,
            },
            Err(e) if e.code == ErrorCode::KeyDoesNotExist => RootView::Seen {
                map: Root::new(),
                exists: false,
            },
            Err(e) => return self.retry(unavailable("reading the root", &e), ctx),
        };
        self.root = seen;
        if let Some(a) = self.attempt.as_mut() {
            a.confirmed = true;
        }
        self.advance(ctx);
    }

    /// A thunk read came back.
    fn on_fetch(
        &mut self,
        id: ThunkId,
        reply: Result<serde_json::Value, Error>,
        ctx: &mut Ctx<'_, Self>,
    ) {
        match reply.and_then(kv::decode::<Vec<Val>>) {
            Ok(list) => {
                self.thunks.insert(id, Rc::new(list));
            }
            Err(e) => {
                // A published thunk always exists in lin-kv; a miss or a
                // timeout costs an attempt, with the root read again.
                self.root = RootView::Unknown;
                return self.retry(unavailable(&format!("reading thunk {id}"), &e), ctx);
            }
        }
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        if let Wait::Fetches(left) = &mut a.wait {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.advance(ctx);
            }
        }
    }

    /// A thunk write came back.
    fn on_write(&mut self, reply: Result<(), Error>, ctx: &mut Ctx<'_, Self>) {
        if let Err(e) = reply {
            // Nothing points at the thunk yet: the batch runs again with
            // new ids (a 22 here is an id collision, refused, not written).
            return self.retry(unavailable("writing a thunk", &e), ctx);
        }
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        if let Wait::Writes { left, to } = &mut a.wait {
            *left = left.saturating_sub(1);
            if *left == 0 {
                let to = std::mem::take(to);
                self.cas_root(to, ctx);
            }
        }
    }

    /// The root `cas` came back.
    fn on_cas(&mut self, reply: Result<(), Error>, ctx: &mut Ctx<'_, Self>) {
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        let Wait::Cas { to } = std::mem::replace(&mut a.wait, Wait::Backoff) else {
            return;
        };
        match reply {
            Ok(()) => {
                self.root = RootView::Seen {
                    map: to,
                    exists: true,
                };
                let results = std::mem::take(&mut a.results);
                self.finish(Ok(results), ctx);
            }
            Err(e) if e.is_definite() => {
                // 22 (the root moved) or 20: the cas did nothing.
                self.root = RootView::Unknown;
                let why = Error::new(
                    ErrorCode::TxnConflict,
                    format!("lost {MAX_TRIES} commit races in a row (last: {})", e.text),
                );
                self.retry(why, ctx);
            }
            Err(e) => {
                // The cas may still take effect: the outcome is unknown.
                self.root = RootView::Unknown;
                let why = Error::new(
                    ErrorCode::Timeout,
                    format!("commit outcome unknown: {}", e.text),
                );
                self.finish(Err(why), ctx);
            }
        }
    }
}

/// A definite error for a batch that could not commit because of `e`.
fn unavailable(what: &str, e: &Error) -> Error {
    Error::new(
        ErrorCode::TemporarilyUnavailable,
        format!("{what} failed {MAX_TRIES} times (last: {})", e.text),
    )
}

/// A map as the root's wire form: `[key, thunk id]` pairs in key order.
fn pairs(map: &Root) -> Vec<(Key, &ThunkId)> {
    map.iter().map(|(k, id)| (*k, id)).collect()
}

impl Node for TxnListAppend {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        // A tag that differs between incarnations of one node id: the boot
        // time in milliseconds and a random word (either alone would do
        // unless the clock stepped back and the RNG repeated its seed).
        let word: u16 = ctx.rng().gen();
        let incarnation = format!("{:x}{word:04x}", ctx.boot_time().as_millis());
        Ok(TxnListAppend {
            me: init.node_id.clone(),
            incarnation,
            next_thunk: 0,
            root: RootView::Unknown,
            thunks: HashMap::new(),
            queue: VecDeque::new(),
            attempt: None,
            stage: 0,
        })
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        match msg.payload {
            Payload::Txn { txn } => {
                if msg.from.msg_id.is_none() {
                    ctx.log("txn without msg_id: nobody to answer, ignored");
                    return Ok(());
                }
                self.queue.push_back(Pending {
                    from: msg.from,
                    txn,
                });
                self.start_batch(ctx);
                Ok(())
            }
            Payload::TxnOk { .. } => Err(Error::new(
                ErrorCode::NotSupported,
                "txn_ok is a reply, not a request",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NodeHost;
    use serde_json::{json, Value};

    /// Two nodes and a linearizable key/value store played by the test:
    /// service requests wait in `pending` until the test serves them.
    struct World {
        hosts: Vec<NodeHost<TxnListAppend>>,
        now: Duration,
        kv: BTreeMap<String, Value>,
        /// Requests to lin-kv not yet served: (node, body).
        pending: VecDeque<(usize, Value)>,
        /// Replies to clients: (node, body).
        replies: Vec<(usize, Value)>,
        /// Every request served, in order.
        served: Vec<Value>,
        next_msg: u64,
    }

    impl World {
        fn new(n: usize) -> World {
            let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
            let hosts = (0..n)
                .map(|i| {
                    let mut h = NodeHost::new(7 + i as u64);
                    let init = json!({"src":"c0","dest":names[i],"body":{"type":"init",
                        "msg_id":1,"node_id":names[i],"node_ids":names}});
                    h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
                    h.output().clear();
                    h
                })
                .collect();
            World {
                hosts,
                now: Duration::ZERO,
                kv: BTreeMap::new(),
                pending: VecDeque::new(),
                replies: Vec::new(),
                served: Vec::new(),
                next_msg: 100,
            }
        }

        fn collect(&mut self, i: usize) {
            let buf = std::mem::take(self.hosts[i].output());
            for line in String::from_utf8(buf).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                if v["dest"] == "lin-kv" {
                    self.pending.push_back((i, v["body"].clone()));
                } else {
                    self.replies.push((i, v["body"].clone()));
                }
            }
        }

        /// A client sends `txn` to node `i`; returns its msg_id.
        fn txn(&mut self, i: usize, txn: Value) -> u64 {
            self.next_msg += 1;
            let line = json!({"src":"c9","dest":format!("n{i}"),
                "body":{"type":"txn","msg_id":self.next_msg,"txn":txn}});
            self.hosts[i].handle_line(line.to_string().as_bytes(), self.now);
            self.collect(i);
            self.next_msg
        }

        /// lin-kv's answer to `body`, applied to the store.
        fn answer(&mut self, body: &Value) -> Value {
            let key = body["key"].to_string();
            let cur = self.kv.get(&key).cloned();
            match (body["type"].as_str().unwrap(), cur) {
                ("read", Some(v)) => json!({"type":"read_ok","value":v}),
                ("read", None) => json!({"type":"error","code":20,"text":"key does not exist"}),
                ("cas", None) if body["create_if_not_exists"] == true => {
                    self.kv.insert(key, body["to"].clone());
                    json!({"type":"cas_ok"})
                }
                ("cas", None) => json!({"type":"error","code":20,"text":"key does not exist"}),
                ("cas", Some(v)) if v == body["from"] => {
                    self.kv.insert(key, body["to"].clone());
                    json!({"type":"cas_ok"})
                }
                ("cas", Some(_)) => json!({"type":"error","code":22,"text":"mismatch"}),
                (t, _) => panic!("unexpected lin-kv request {t}"),
            }
        }

        /// Serve the oldest pending request with `reply` (or lin-kv's own
        /// answer when None).
        fn serve_one(&mut self, reply: Option<Value>) -> Value {
            let (i, body) = self.pending.pop_front().expect("a pending request");
            let mut r = reply.unwrap_or_else(|| self.answer(&body));
            r["in_reply_to"] = body["msg_id"].clone();
            let line = json!({"src":"lin-kv","dest":format!("n{i}"),"body":r});
            self.hosts[i].handle_line(line.to_string().as_bytes(), self.now);
            self.collect(i);
            self.served.push(body.clone());
            body
        }

        /// Serve requests (firing due timers when none is pending) until
        /// the next one matches `f`; returns it.
        fn serve_until(&mut self, f: impl Fn(&Value) -> bool) -> Value {
            loop {
                let Some((_, body)) = self.pending.front() else {
                    assert!(self.fire_timers(), "nothing pending and no timer");
                    continue;
                };
                let body = body.clone();
                if f(&body) {
                    return body;
                }
                self.serve_one(None);
            }
        }

        /// Fire the earliest due timers; false if there are none.
        fn fire_timers(&mut self) -> bool {
            let due = self.hosts.iter().filter_map(|h| h.next_deadline()).min();
            let Some(t) = due else { return false };
            self.now = self.now.max(t);
            for i in 0..self.hosts.len() {
                self.hosts[i].tick(self.now);
                self.collect(i);
            }
            true
        }

        /// Serve everything and fire due timers until nothing is left.
        fn settle(&mut self) {
            for _ in 0..10_000 {
                if !self.pending.is_empty() {
                    self.serve_one(None);
                } else if !self.fire_timers() {
                    return;
                }
            }
            panic!("never settled");
        }

        /// The reply to request `msg_id`.
        fn reply(&self, msg_id: u64) -> Value {
            self.replies
                .iter()
                .find(|(_, b)| b["in_reply_to"] == msg_id)
                .map(|(_, b)| b.clone())
                .unwrap_or_else(|| panic!("no reply to {msg_id}: {:?}", self.replies))
        }
    }

    #[test]
    fn appends_commit_and_are_read_on_the_other_node() {
        let mut w = World::new(2);
        let a = w.txn(
            0,
            json!([["append", 1, 10], ["r", 1, null], ["append", 2, 20]]),
        );
        w.settle();
        assert_eq!(
            w.reply(a)["txn"],
            json!([["append", 1, 10], ["r", 1, [10]], ["append", 2, 20]])
        );
        let b = w.txn(1, json!([["r", 1, null], ["r", 2, null], ["r", 3, null]]));
        w.settle();
        assert_eq!(
            w.reply(b)["txn"],
            json!([["r", 1, [10]], ["r", 2, [20]], ["r", 3, null]])
        );
        // One root, two thunks.
        assert_eq!(w.kv.len(), 3, "{:?}", w.kv);
    }

    #[test]
    fn a_stale_cached_root_loses_the_cas_and_runs_again() {
        let mut w = World::new(2);
        let a = w.txn(0, json!([["append", 1, 1]]));
        w.settle();
        let b = w.txn(1, json!([["append", 1, 2]]));
        w.settle();
        // n0 still caches the root of its own commit: its cas must fail,
        // and the retry must build on n1's append.
        let c = w.txn(0, json!([["append", 1, 3], ["r", 1, null]]));
        w.settle();
        assert_eq!(w.reply(a)["type"], "txn_ok");
        assert_eq!(w.reply(b)["type"], "txn_ok");
        assert_eq!(
            w.reply(c)["txn"],
            json!([["append", 1, 3], ["r", 1, [1, 2, 3]]])
        );
    }

    #[test]
    fn a_read_only_txn_confirms_the_root_even_when_cached() {
        let mut w = World::new(2);
        w.txn(0, json!([["append", 5, 1]]));
        w.settle();
        w.txn(1, json!([["append", 5, 2]]));
        w.settle();
        // n0's cache says [1]; the confirming read must show [1, 2].
        let r = w.txn(0, json!([["r", 5, null]]));
        let first = w.pending.front().expect("a service call").1.clone();
        assert_eq!(first["type"], "read");
        assert_eq!(first["key"], ROOT);
        w.settle();
        assert_eq!(w.reply(r)["txn"], json!([["r", 5, [1, 2]]]));
    }

    #[test]
    fn txns_arriving_during_a_commit_share_the_next_cas() {
        let mut w = World::new(1);
        let a = w.txn(0, json!([["append", 1, 1]]));
        // While the first batch is in flight, three more arrive.
        let later: Vec<u64> = (2..5)
            .map(|v| w.txn(0, json!([["append", 1, v]])))
            .collect();
        w.settle();
        assert_eq!(w.replies.len(), 4);
        assert_eq!(w.reply(a)["type"], "txn_ok");
        let root_cases = |w: &World| {
            w.served
                .iter()
                .filter(|b| b["type"] == "cas" && b["key"] == ROOT)
                .count()
        };
        // Root created by the first batch, then swapped once for the three.
        assert_eq!(root_cases(&w), 2);
        let r = w.txn(0, json!([["r", 1, null]]));
        w.settle();
        assert_eq!(w.reply(r)["txn"], json!([["r", 1, [1, 2, 3, 4]]]));
        for m in later {
            assert_eq!(w.reply(m)["type"], "txn_ok");
        }
        assert_eq!(root_cases(&w), 2, "a read-only batch swaps nothing");
    }

    #[test]
    fn a_cas_that_times_out_is_indefinite_and_the_root_is_read_again() {
        let mut w = World::new(1);
        let a = w.txn(0, json!([["append", 1, 1]]));
        w.serve_until(|b| b["key"] == ROOT && b["type"] == "cas");
        let cas = w.serve_one(Some(json!({"type":"error","code":0,"text":"timed out"})));
        assert_eq!(cas["type"], "cas");
        let e = w.reply(a);
        assert_eq!(
            (e["type"].as_str(), e["code"].as_u64()),
            (Some("error"), Some(0))
        );
        // The next batch does not trust the cache: it reads the root.
        let b = w.txn(0, json!([["append", 1, 2]]));
        assert_eq!(w.pending.front().unwrap().1["type"], "read");
        w.settle();
        assert_eq!(w.reply(b)["type"], "txn_ok");
    }

    #[test]
    fn a_thunk_id_collision_is_refused_and_retried_with_new_ids() {
        let mut w = World::new(1);
        let a = w.txn(0, json!([["append", 1, 1]]));
        let write = w.serve_until(|b| b["type"] == "cas");
        assert_ne!(write["key"], ROOT);
        // Someone already wrote that id: create-only refuses with 22.
        w.kv.insert(write["key"].to_string(), json!([99]));
        w.settle();
        assert_eq!(w.reply(a)["type"], "txn_ok");
        assert_eq!(
            w.kv[&write["key"].to_string()],
            json!([99]),
            "not overwritten"
        );
        let r = w.txn(0, json!([["r", 1, null]]));
        w.settle();
        assert_eq!(w.reply(r)["txn"], json!([["r", 1, [1]]]));
    }

    #[test]
    fn endless_conflicts_fail_the_batch_definitely() {
        let mut w = World::new(1);
        let a = w.txn(0, json!([["append", 1, 1]]));
        let mut cases = 0;
        for _ in 0..1000 {
            if let Some((_, body)) = w.pending.front() {
                let conflict = body["type"] == "cas" && body["key"] == ROOT;
                let reply = conflict.then(|| json!({"type":"error","code":22,"text":"moved"}));
                cases += usize::from(conflict);
                w.serve_one(reply);
            } else if let Some(t) = w.hosts[0].next_deadline() {
                w.now = t;
                w.hosts[0].tick(t);
                w.collect(0);
            } else {
                break;
            }
        }
        assert_eq!(cases, MAX_TRIES as usize);
        let e = w.reply(a);
        assert_eq!(
            (e["type"].as_str(), e["code"].as_u64()),
            (Some("error"), Some(30))
        );
        assert!(!w.kv.contains_key(&json!(ROOT).to_string()));
    }

    #[test]
    fn failed_reads_retry_until_they_succeed() {
        let mut w = World::new(2);
        w.txn(0, json!([["append", 1, 1]]));
        w.settle();
        let r = w.txn(1, json!([["r", 1, null]]));
        // n1 has no cache: its root read times out and is retried, then
        // its thunk read times out and the attempt starts over.
        w.serve_one(Some(json!({"type":"error","code":0,"text":"timed out"})));
        let fetch = w.serve_until(|b| b["type"] == "read" && b["key"] != ROOT);
        w.serve_one(Some(json!({"type":"error","code":0,"text":"timed out"})));
        assert!(
            w.replies.iter().all(|(i, _)| *i == 0),
            "n1 has not answered yet"
        );
        w.settle();
        assert!(w.served.iter().filter(|b| b["key"] == fetch["key"]).count() >= 2);
        assert_eq!(w.reply(r)["txn"], json!([["r", 1, [1]]]));
        assert_eq!(w.replies.iter().filter(|(i, _)| *i == 1).count(), 1);
    }

    #[test]
    fn bad_micro_ops_are_refused_with_code_12() {
        let mut w = World::new(1);
        for bad in [
            json!([["w", 1, 2]]),
            json!([["append", 1, "x"]]),
            json!([["r"]]),
        ] {
            let m = w.txn(0, bad.clone());
            let e = w.reply(m);
            assert_eq!(e["code"], 12, "{bad}: {e}");
        }
        assert!(w.pending.is_empty());
    }
}
