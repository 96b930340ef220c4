//! Maelstrom's `lin-kv` (the guide's Raft chapter): a linearizable
//! key/value store replicated by Raft, with no service.
//!
//! # The problem
//!
//! Clients send `read {key}`, `write {key, value}` and `cas {key, from, to}`
//! to any node; the history must be linearizable (Knossos, per key). Links
//! between nodes are partitioned by the nemesis. A definite error (`fail`)
//! is only allowed when the operation certainly did not and will not take
//! effect: error 20 (key does not exist), 22 (`from` differs), 11
//! (temporarily unavailable: refused before anything was logged); anything
//! uncertain must be a timeout or a crash (13).
//!
//! # The design: Raft, reads through the log
//!
//! - **Election.** A follower that hears no leader for a random
//!   [`ELECTION_MIN`]…2·[`ELECTION_MIN`] becomes a candidate: new term, votes
//!   for itself, asks every node. A vote is granted once per term, to a
//!   candidate whose log is at least as up to date (last term, then last
//!   index). A majority makes it leader; it appends a no-op entry of its
//!   term at once, so entries of earlier terms commit with it.
//! - **Replication.** The leader keeps, per follower, the next index to send
//!   and the highest index known to match. One `append_entries` per follower
//!   is in flight at a time and carries *everything* from the next index on
//!   (up to [`MAX_BATCH`]): requests that arrive while it is in flight ride
//!   together in the next one, so the batch grows with the load and
//!   throughput does not collapse (one round trip per batch, not per
//!   request). An idle follower gets a heartbeat every [`HEARTBEAT`]; an
//!   unanswered append is re-sent after [`RESEND_AFTER`].
//! - **Fast back-off.** A follower that cannot match `prev_index/prev_term`
//!   answers with a hint: the term of its conflicting entry and the first
//!   index of that term (or its log length if it is too short). The leader
//!   jumps past the whole conflicting term (to just after its own last
//!   entry of that term, if it has one), so a divergent suffix costs one
//!   round trip per term, not per entry.
//! - **Commit.** The leader commits index `i` once a majority match it *and*
//!   entry `i` is of the current term (Raft §5.4.2); followers learn the
//!   commit index on the next append. Every node applies committed entries
//!   in order to its map.
//! - **Linearizable reads go through the log** like writes: a read is
//!   answered when its entry is applied, which is after it was committed in
//!   the leader's current term, so no newer write can have been
//!   acknowledged before it. No leases, no clocks.
//! - **Clients at followers are proxied.** A follower that knows a leader
//!   forwards the request (`forward {proxy, op}`) and answers the client
//!   when the leader's `forward_ok` comes back; a node that knows no leader
//!   answers error 11 at once (nothing was logged, so it is definite). A
//!   leader answers only for entries of its own current term (it appended
//!   them); an entry that commits under a later leader goes unanswered and
//!   the client times out, which is indefinite and therefore safe.
//!
//! # Message flow
//!
//! ```text
//!   client ──write──▶ follower F ──forward {proxy, op}──▶ leader L
//!   L ──append_entries {term, prev, entries, commit}──▶ every follower
//!   followers ──append_res {term, ok, match | conflict hint}──▶ L
//!   L (majority matched, entry applied) ──forward_ok {proxy, result}──▶ F
//!   F ──write_ok──▶ client
//! ```
//!
//! # Cost
//!
//! With `N` nodes, `B` requests per batch and request rate `r`, a request
//! at a follower costs 2 proxy messages, and each batch `2(N−1)` replication
//! messages: `2·(N−1)/N · 2 + 2(N−1)/B` per request, plus `2(N−1)` per
//! [`HEARTBEAT`] while idle.
//!
//! Measured in process mode on the guide's two commands (seeds 1–3, side
//! by side with Maelstrom's `demo/python/raft.py` on the same bench; records:
//! `maelstrom-runs/records/guide-solvers.md`): valid every run, ok-fraction
//! 0.52–0.58 (final check, `--rate 30`) and 0.39–0.43 (chapter 6, `--rate
//! 100 --nemesis-interval 3`) against `raft.py`'s 0.23–0.46 and 0.05–0.17;
//! latency of ok operations p50 under 1 ms and p99 10–28 ms against
//! 240–460 ms and 955–990 ms; 3.6–5.0 servers msgs-per-op.
//!
//! # Faults
//!
//! - **Partitions.** A leader cut from a majority keeps its role but commits
//!   nothing; its clients time out (indefinite). The majority side elects a
//!   new leader within one or two election timeouts and serves. On the
//!   heal, the old leader sees the higher term and steps down; its
//!   uncommitted suffix is overwritten via the conflict hints.
//! - **Lost, duplicated, reordered messages.** Appends are idempotent
//!   (matching entries are kept, only a conflicting suffix is cut), stale
//!   answers are recognised by their term and match index, and an
//!   unanswered append is re-sent.
//! - **Restarts** (not in Maelstrom's lin-kv; our bench's `kill` once it
//!   exists). Term, vote and log are durable *before* a node acts on them
//!   (answers a vote, acknowledges an append, counts itself in a majority,
//!   sends a request for votes): each change is appended to the node's disk
//!   ([`Ctx::disk`]) as a [`Saved`] record in the same handler call that
//!   makes it, and the runtime syncs the disk before any output of that
//!   call leaves the node (group commit: one sync per batch of output). A
//!   restarted node replays the records in `init` and comes back as a
//!   follower with its term, vote and log; commit index and state machine
//!   are rebuilt from the log as the leader's commit index arrives. So a
//!   node never votes twice in a term and never forgets an entry it
//!   acknowledged. A record the crash tore is discarded on read; it was
//!   never synced, so no output depended on it. Entries keep their
//!   `origin`, but only a leader of the entry's own term answers one, and a
//!   restarted node's terms are all later, so no client is answered twice.
//! - **A failing disk.** If a record cannot be appended, the node stops
//!   taking part: it becomes a follower that never stands, ignores Raft
//!   messages and refuses clients with a definite error 11 (and any
//!   output of the failing call is dropped by the runtime's failed sync, or
//!   never produced). It is then as good as crashed, which Raft tolerates
//!   in a minority.
//!
//! # Caveats
//!
//! - The log is never compacted: memory grows with the number of requests
//!   (fine for Maelstrom's minute-long tests), and so do the records on
//!   disk (one per batch appended), all read back at restart.
//! - Keys and values are any JSON, compared structurally by their JSON text.
//! - No pipelining beyond one append in flight per follower: batching
//!   already amortises the round trip at the guide's rates.

use crate::runtime::{Ctx, Error, ErrorCode, Init, MsgId, Node, NodeId, ReplyTo, Request};
use anyhow::Context as _;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The node's timer period.
pub const TICK: Duration = Duration::from_millis(10);
/// The shortest election timeout (the longest is twice this).
pub const ELECTION_MIN: Duration = Duration::from_millis(300);
/// How often a leader sends an idle follower an empty append.
pub const HEARTBEAT: Duration = Duration::from_millis(100);
/// How long a leader waits for an append's answer before re-sending.
pub const RESEND_AFTER: Duration = Duration::from_millis(250);
/// The most entries one append carries.
pub const MAX_BATCH: usize = 1000;
/// How long a follower keeps a proxied request waiting for the leader.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(5);

/// A key/value operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Read a key.
    Read {
        /// The key.
        key: Value,
    },
    /// Write a key.
    Write {
        /// The key.
        key: Value,
        /// The new value.
        value: Value,
    },
    /// Compare-and-set a key.
    Cas {
        /// The key.
        key: Value,
        /// The expected value.
        from: Value,
        /// The new value.
        to: Value,
    },
    /// A new leader's first entry.
    Noop,
}

/// The outcome of an applied operation: the reply payload, or the error.
pub type Outcome = Result<Value, Error>;

/// Who waits for an entry's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A client of the leader itself: `(client, msg_id)`.
    Client(NodeId, MsgId),
    /// A follower's proxied request: `(node, proxy id)`.
    Proxy(NodeId, u64),
}

/// One log entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The term in which the leader appended it.
    pub term: u64,
    /// The operation.
    pub op: Op,
    /// Who to answer (meaningful to the leader that appended it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// What the node records on its disk, in order; replayed in `init`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Saved {
    /// The term or the vote changed.
    Hard {
        /// The current term.
        term: u64,
        /// Whom we voted for in it.
        vote: Option<NodeId>,
    },
    /// The log from index `from` on is `entries`; anything after is cut.
    Log {
        /// The first index written.
        from: u64,
        /// The entries at `from`, `from + 1`, ….
        entries: Vec<Entry>,
    },
}

/// Messages: the lin-kv workload's, and Raft's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Client: read.
    Read {
        /// The key.
        key: Value,
    },
    /// Client: write.
    Write {
        /// The key.
        key: Value,
        /// The value.
        value: Value,
    },
    /// Client: compare-and-set.
    Cas {
        /// The key.
        key: Value,
        /// Expected value.
        from: Value,
        /// New value.
        to: Value,
    },
    /// A candidate asks for a vote.
    RequestVote {
        /// Its term.
        term: u64,
        /// Its last log index.
        last_index: u64,
        /// The term of its last entry.
        last_term: u64,
    },
    /// The answer to `request_vote`.
    VoteRes {
        /// The voter's term.
        term: u64,
        /// Whether the vote is granted.
        granted: bool,
    },
    /// The leader replicates entries (or beats).
    AppendEntries {
        /// Its term.
        term: u64,
        /// The index before the first entry.
        prev_index: u64,
        /// The term of that entry.
        prev_term: u64,
        /// The entries.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
    },
    /// The answer to `append_entries`.
    AppendRes {
        /// The follower's term.
        term: u64,
        /// Whether the entries now match.
        ok: bool,
        /// On success, the last index known to match.
        match_index: u64,
        /// On failure, the term of the conflicting entry (if any).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conflict_term: Option<u64>,
        /// On failure, where the leader should resume.
        conflict_index: u64,
    },
    /// A follower forwards a client request to the leader.
    Forward {
        /// The follower's id for the request.
        proxy: u64,
        /// The operation.
        op: Op,
    },
    /// The leader's answer to a forwarded request.
    ForwardRes {
        /// The follower's id for the request.
        proxy: u64,
        /// The reply body for the client (`read_ok` …, or an `error`).
        body: Value,
    },
}

/// A node's role.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    Follower,
    Candidate { votes: usize },
    Leader,
}

/// A leader's view of one follower.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// The next index to send.
    next: u64,
    /// The highest index known to match.
    matched: u64,
    /// When the append in flight was sent, if one is.
    in_flight: Option<Duration>,
    /// When anything was last sent.
    last_sent: Duration,
}

/// The Raft lin-kv node.
#[derive(Debug)]
pub struct LinKv {
    me: NodeId,
    peers: Vec<NodeId>,
    /// Current term (persistent).
    term: u64,
    /// Whom we voted for in `term` (persistent).
    voted_for: Option<NodeId>,
    /// The log, index `i` at `log[i - 1]` (persistent).
    log: Vec<Entry>,
    /// Highest index known committed.
    commit: u64,
    /// Highest index applied to `data`.
    applied: u64,
    /// The state machine: JSON text of a key → value.
    data: HashMap<String, Value>,
    role: Role,
    /// The leader of `term`, if known.
    leader: Option<NodeId>,
    /// When we stop waiting for a leader and stand.
    election_at: Duration,
    /// Per follower, while leader.
    progress: HashMap<NodeId, Progress>,
    /// Proxied requests waiting for the leader: proxy id → (client, msg_id,
    /// deadline).
    proxied: HashMap<u64, (NodeId, MsgId, Duration)>,
    next_proxy: u64,
    /// Set when a record could not be written: the node no longer takes
    /// part (see the module docs).
    halted: bool,
}

fn error_body(e: &Error) -> Value {
    serde_json::json!({"type": "error", "code": e.code, "text": e.text})
}

impl LinKv {
    fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    fn term_at(&self, index: u64) -> u64 {
        if index == 0 {
            0
        } else {
            self.log.get(index as usize - 1).map_or(0, |e| e.term)
        }
    }

    fn majority(&self) -> usize {
        let nodes = self.peers.len() + 1;
        nodes / 2 + 1
    }

    /// The role, for tests.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// The current term, for tests.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// The log, for tests.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// The commit index, for tests.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// Whether the node stopped taking part after a disk failure.
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// Record `rec` on the disk; it is synced before any output of this
    /// call leaves the node. False (and the node halted) if it failed.
    fn persist(&mut self, rec: &Saved, ctx: &mut Ctx<'_, Self>) -> bool {
        if self.halted {
            return false;
        }
        if let Err(e) = ctx.disk().append_json(rec) {
            ctx.log(format_args!("disk append failed ({e}): halting"));
            self.halted = true;
            self.role = Role::Follower;
            self.leader = None;
            self.progress.clear();
            return false;
        }
        true
    }

    /// Record the term and vote.
    fn persist_hard(&mut self, ctx: &mut Ctx<'_, Self>) -> bool {
        let rec = Saved::Hard {
            term: self.term,
            vote: self.voted_for.clone(),
        };
        self.persist(&rec, ctx)
    }

    /// Record the log from index `from` to its end.
    fn persist_log(&mut self, from: u64, ctx: &mut Ctx<'_, Self>) -> bool {
        let rec = Saved::Log {
            from,
            entries: self.log[from as usize - 1..].to_vec(),
        };
        self.persist(&rec, ctx)
    }

    /// Apply the records of an earlier incarnation, oldest first.
    fn replay(&mut self, records: &[Vec<u8>]) -> anyhow::Result<()> {
        for (i, bytes) in records.iter().enumerate() {
            let rec: Saved = serde_json::from_slice(bytes)
                .with_context(|| format!("unreadable record {i} on disk"))?;
            match rec {
                Saved::Hard { term, vote } => {
                    self.term = term;
                    self.voted_for = vote;
                }
                Saved::Log { from, entries } => {
                    anyhow::ensure!(
                        from >= 1 && from <= self.last_index() + 1,
                        "record {i} writes the log from {from}, past its end"
                    );
                    self.log.truncate(from as usize - 1);
                    self.log.extend(entries);
                }
            }
        }
        Ok(())
    }

    fn reset_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        let jitter = ctx.rng().gen_range(0..=ELECTION_MIN.as_millis() as u64);
        self.election_at = ctx.now() + ELECTION_MIN + Duration::from_millis(jitter);
    }

    fn become_follower(&mut self, term: u64, ctx: &mut Ctx<'_, Self>) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.leader = None;
            self.persist_hard(ctx);
        }
        if self.role != Role::Follower {
            self.role = Role::Follower;
            self.progress.clear();
            self.reset_election(ctx);
        }
    }

    fn stand(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.term += 1;
        self.voted_for = Some(self.me.clone());
        self.leader = None;
        self.role = Role::Candidate { votes: 1 };
        if !self.persist_hard(ctx) {
            return;
        }
        self.reset_election(ctx);
        let msg = Payload::RequestVote {
            term: self.term,
            last_index: self.last_index(),
            last_term: self.term_at(self.last_index()),
        };
        for p in &self.peers {
            ctx.send(p, &msg);
        }
        self.maybe_win(ctx);
    }

    fn maybe_win(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Role::Candidate { votes } = self.role else {
            return;
        };
        if votes < self.majority() {
            return;
        }
        ctx.log(format_args!("leader of term {}", self.term));
        self.role = Role::Leader;
        self.leader = Some(self.me.clone());
        let next = self.last_index() + 1;
        self.progress = self
            .peers
            .iter()
            .map(|p| {
                let pr = Progress {
                    next,
                    ..Progress::default()
                };
                (p.clone(), pr)
            })
            .collect();
        self.append(Op::Noop, None, ctx);
    }

    /// Leader: append an entry of the current term and replicate it.
    fn append(&mut self, op: Op, origin: Option<Origin>, ctx: &mut Ctx<'_, Self>) {
        self.log.push(Entry {
            term: self.term,
            op,
            origin,
        });
        if !self.persist_log(self.last_index(), ctx) {
            return;
        }
        self.advance_commit(ctx);
        self.replicate(ctx, false);
    }

    /// Leader: send each follower without an append in flight what it lacks
    /// (or a heartbeat when due, or everything again when `resend` is due).
    fn replicate(&mut self, ctx: &mut Ctx<'_, Self>, tick: bool) {
        let now = ctx.now();
        let peers = self.peers.clone();
        for p in peers {
            let Some(pr) = self.progress.get(&p) else {
                continue;
            };
            let stale = pr
                .in_flight
                .is_some_and(|t| now.saturating_sub(t) >= RESEND_AFTER);
            let idle = pr.in_flight.is_none();
            let has_news = pr.next <= self.last_index();
            let beat = tick && now.saturating_sub(pr.last_sent) >= HEARTBEAT;
            if !(stale || (idle && (has_news || beat))) {
                continue;
            }
            let next = pr.next.max(1);
            let prev_index = next - 1;
            let from = prev_index as usize;
            let to = (from + MAX_BATCH).min(self.log.len());
            let msg = Payload::AppendEntries {
                term: self.term,
                prev_index,
                prev_term: self.term_at(prev_index),
                entries: self.log[from..to].to_vec(),
                commit: self.commit,
            };
            ctx.send(&p, &msg);
            if let Some(pr) = self.progress.get_mut(&p) {
                pr.in_flight = Some(now);
                pr.last_sent = now;
            }
        }
    }

    fn advance_commit(&mut self, ctx: &mut Ctx<'_, Self>) {
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.matched).collect();
        matched.push(self.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.majority() - 1];
        if candidate > self.commit && self.term_at(candidate) == self.term {
            self.commit = candidate;
        }
        self.apply(ctx);
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, Self>) {
        while self.applied < self.commit {
            self.applied += 1;
            let entry = self.log[self.applied as usize - 1].clone();
            let outcome = self.execute(&entry.op);
            if self.role == Role::Leader && entry.term == self.term {
                self.answer(entry.origin, outcome, ctx);
            }
        }
    }

    fn execute(&mut self, op: &Op) -> Outcome {
        use serde_json::json;
        let missing = || Error::new(ErrorCode::KeyDoesNotExist, "key does not exist");
        match op {
            Op::Noop => Ok(Value::Null),
            Op::Read { key } => match self.data.get(&key.to_string()) {
                Some(v) => Ok(json!({"type": "read_ok", "value": v})),
                None => Err(missing()),
            },
            Op::Write { key, value } => {
                self.data.insert(key.to_string(), value.clone());
                Ok(json!({"type": "write_ok"}))
            }
            Op::Cas { key, from, to } => match self.data.get_mut(&key.to_string()) {
                None => Err(missing()),
                Some(v) if v != from => Err(Error::new(
                    ErrorCode::PreconditionFailed,
                    format!("current value {v} is not {from}"),
                )),
                Some(v) => {
                    *v = to.clone();
                    Ok(json!({"type": "cas_ok"}))
                }
            },
        }
    }

    fn answer(&mut self, origin: Option<Origin>, outcome: Outcome, ctx: &mut Ctx<'_, Self>) {
        match origin {
            None => {}
            Some(Origin::Client(client, msg_id)) => match outcome {
                Ok(body) => ctx.reply_to(&client, msg_id, &body),
                Err(e) => ctx.reply_error(&client, msg_id, &e),
            },
            Some(Origin::Proxy(node, proxy)) => {
                let body = outcome.unwrap_or_else(|e| error_body(&e));
                ctx.send(&node, &Payload::ForwardRes { proxy, body });
            }
        }
    }

    /// A client request: append it (leader), forward it (follower that knows
    /// a leader), or refuse it with error 11.
    fn client_op(
        &mut self,
        src: NodeId,
        msg_id: Option<MsgId>,
        op: Op,
        ctx: &mut Ctx<'_, Self>,
    ) -> Result<(), Error> {
        let Some(msg_id) = msg_id else {
            return Ok(());
        };
        if self.role == Role::Leader {
            self.append(op, Some(Origin::Client(src, msg_id)), ctx);
            return Ok(());
        }
        let Some(leader) = self.leader.clone() else {
            return Err(Error::new(
                ErrorCode::TemporarilyUnavailable,
                "no leader known; try another node",
            ));
        };
        self.next_proxy += 1;
        let proxy = self.next_proxy;
        self.proxied
            .insert(proxy, (src, msg_id, ctx.now() + PROXY_TIMEOUT));
        ctx.send(&leader, &Payload::Forward { proxy, op });
        Ok(())
    }

    fn on_request_vote(
        &mut self,
        src: NodeId,
        term: u64,
        last_index: u64,
        last_term: u64,
        ctx: &mut Ctx<'_, Self>,
    ) {
        if term > self.term {
            self.become_follower(term, ctx);
        }
        if self.halted {
            return;
        }
        let my_last = self.term_at(self.last_index());
        let up_to_date = (last_term, last_index) >= (my_last, self.last_index());
        let free = self.voted_for.as_ref().is_none_or(|v| *v == src);
        let granted = term == self.term && free && up_to_date;
        if granted {
            self.voted_for = Some(src.clone());
            if !self.persist_hard(ctx) {
                return;
            }
            self.reset_election(ctx);
        }
        ctx.send(
            &src,
            &Payload::VoteRes {
                term: self.term,
                granted,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        src: NodeId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        ctx: &mut Ctx<'_, Self>,
    ) {
        if term < self.term {
            let res = Payload::AppendRes {
                term: self.term,
                ok: false,
                match_index: 0,
                conflict_term: None,
                conflict_index: 0,
            };
            ctx.send(&src, &res);
            return;
        }
        self.become_follower(term, ctx);
        if self.halted {
            return;
        }
        self.leader = Some(src.clone());
        self.reset_election(ctx);
        if prev_index > self.last_index() || self.term_at(prev_index) != prev_term {
            let (conflict_term, conflict_index) = if prev_index > self.last_index() {
                (None, self.last_index() + 1)
            } else {
                let t = self.term_at(prev_index);
                let mut first = prev_index;
                while first > 1 && self.term_at(first - 1) == t {
                    first -= 1;
                }
                (Some(t), first)
            };
            let res = Payload::AppendRes {
                term: self.term,
                ok: false,
                match_index: 0,
                conflict_term,
                conflict_index,
            };
            ctx.send(&src, &res);
            return;
        }
        let count = entries.len() as u64;
        let mut first_written = None;
        for (i, e) in entries.into_iter().enumerate() {
            let index = prev_index + 1 + i as u64;
            if index <= self.last_index() {
                if self.term_at(index) == e.term {
                    continue;
                }
                // A conflicting suffix is never committed: cut it.
                self.log.truncate(index as usize - 1);
            }
            first_written.get_or_insert(index);
            self.log.push(e);
        }
        if let Some(from) = first_written {
            if !self.persist_log(from, ctx) {
                return;
            }
        }
        let match_index = prev_index + count;
        if commit > self.commit {
            self.commit = commit.min(match_index);
            self.apply(ctx);
        }
        let res = Payload::AppendRes {
            term: self.term,
            ok: true,
            match_index,
            conflict_term: None,
            conflict_index: 0,
        };
        ctx.send(&src, &res);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_res(
        &mut self,
        src: NodeId,
        term: u64,
        ok: bool,
        match_index: u64,
        conflict_term: Option<u64>,
        conflict_index: u64,
        ctx: &mut Ctx<'_, Self>,
    ) {
        if term > self.term {
            self.become_follower(term, ctx);
            return;
        }
        if self.role != Role::Leader || term < self.term {
            return;
        }
        let last = self.last_index();
        let jump = conflict_term.and_then(|t| {
            (1..=last)
                .rev()
                .find(|&i| self.term_at(i) == t)
                .map(|i| i + 1)
        });
        let Some(pr) = self.progress.get_mut(&src) else {
            return;
        };
        pr.in_flight = None;
        if ok {
            pr.matched = pr.matched.max(match_index.min(last));
            pr.next = pr.next.max(pr.matched + 1);
            self.advance_commit(ctx);
        } else {
            let hint = jump.unwrap_or(conflict_index).max(1);
            pr.next = hint
                .min(pr.next.saturating_sub(1).max(1))
                .max(pr.matched + 1);
        }
        self.replicate(ctx, false);
    }
}

impl Node for LinKv {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let peers = init
            .node_ids
            .iter()
            .filter(|n| **n != init.node_id)
            .cloned()
            .collect();
        // Elections, heartbeats, re-sends.
        ctx.every(TICK, |n, ctx| n.tick(ctx));
        let mut node = LinKv {
            me: init.node_id.clone(),
            peers,
            term: 0,
            voted_for: None,
            log: Vec::new(),
            commit: 0,
            applied: 0,
            data: HashMap::new(),
            role: Role::Follower,
            leader: None,
            election_at: Duration::ZERO,
            progress: HashMap::new(),
            proxied: HashMap::new(),
            next_proxy: 0,
            halted: false,
        };
        let recovered = ctx.disk().load().context("reading the disk")?;
        node.replay(&recovered.records)?;
        node.reset_election(ctx);
        Ok(node)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let ReplyTo { src, msg_id } = msg.from;
        if self.halted {
            // Nothing was logged for it: a definite refusal, so the client
            // tries another node.
            return Err(Error::new(
                ErrorCode::TemporarilyUnavailable,
                "this node's disk failed; try another node",
            ));
        }
        match msg.payload {
            Payload::Read { key } => self.client_op(src, msg_id, Op::Read { key }, ctx)?,
            Payload::Write { key, value } => {
                self.client_op(src, msg_id, Op::Write { key, value }, ctx)?
            }
            Payload::Cas { key, from, to } => {
                self.client_op(src, msg_id, Op::Cas { key, from, to }, ctx)?
            }
            Payload::RequestVote {
                term,
                last_index,
                last_term,
            } => self.on_request_vote(src, term, last_index, last_term, ctx),
            Payload::VoteRes { term, granted } => {
                if term > self.term {
                    self.become_follower(term, ctx);
                } else if let Role::Candidate { votes } = &mut self.role {
                    if granted && term == self.term {
                        *votes += 1;
                        self.maybe_win(ctx);
                    }
                }
            }
            Payload::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append(src, term, prev_index, prev_term, entries, commit, ctx),
            Payload::AppendRes {
                term,
                ok,
                match_index,
                conflict_term,
                conflict_index,
            } => self.on_append_res(
                src,
                term,
                ok,
                match_index,
                conflict_term,
                conflict_index,
                ctx,
            ),
            Payload::Forward { proxy, op } => {
                if self.role == Role::Leader {
                    self.append(op, Some(Origin::Proxy(src, proxy)), ctx);
                } else {
                    // Nothing was logged here: a definite refusal.
                    let e = Error::new(ErrorCode::TemporarilyUnavailable, "not the leader");
                    ctx.send(
                        &src,
                        &Payload::ForwardRes {
                            proxy,
                            body: error_body(&e),
                        },
                    );
                }
            }
            Payload::ForwardRes { proxy, body } => {
                if let Some((client, msg_id, _)) = self.proxied.remove(&proxy) {
                    ctx.reply_to(&client, msg_id, &body);
                }
            }
        }
        Ok(())
    }
}

impl LinKv {
    /// The periodic tick: heartbeats and re-sends as leader, an election
    /// when one is due, and proxied requests past their deadline dropped.
    fn tick(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        if self.role == Role::Leader {
            self.replicate(ctx, true);
        } else if now >= self.election_at && !self.halted {
            self.stand(ctx);
        }
        self.proxied.retain(|_, (_, _, deadline)| *deadline > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NodeHost;
    use serde_json::json;
    use std::collections::VecDeque;

    const MS: Duration = Duration::from_millis(1);

    /// Three hosts, 1 ms links, a set of cut links, and the clients' inbox.
    struct Cluster {
        hosts: Vec<NodeHost<LinKv>>,
        now: Duration,
        cut: Vec<(usize, usize)>,
        queue: VecDeque<(Duration, usize, usize, String)>,
        /// Replies to clients, with the time they were sent.
        replies: Vec<(Duration, Value)>,
        next_msg: u64,
    }

    impl Cluster {
        fn new(seed: u64) -> Cluster {
            let hosts = (0..3)
                .map(|i| {
                    let mut h = NodeHost::new(seed + i);
                    let init = json!({"src":"c0","dest":format!("n{i}"),"body":{"type":"init",
                        "msg_id":1,"node_id":format!("n{i}"),"node_ids":["n0","n1","n2"]}});
                    h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
                    h.output().clear();
                    h
                })
                .collect();
            Cluster {
                hosts,
                now: Duration::ZERO,
                cut: Vec::new(),
                queue: VecDeque::new(),
                replies: Vec::new(),
                next_msg: 100,
            }
        }

        fn isolate(&mut self, i: usize) {
            for j in 0..3 {
                if j != i {
                    self.cut.push((i, j));
                    self.cut.push((j, i));
                }
            }
        }

        fn drain(&mut self, i: usize) {
            let buf = std::mem::take(self.hosts[i].output());
            for line in String::from_utf8(buf).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                let dest = v["dest"].as_str().unwrap();
                if let Some(j) = dest.strip_prefix('n') {
                    let j: usize = j.parse().unwrap();
                    if !self.cut.contains(&(i, j)) {
                        self.queue
                            .push_back((self.now + MS, i, j, line.to_string()));
                    }
                } else {
                    self.replies.push((self.now, v));
                }
            }
        }

        /// Run for `d` in 1 ms steps.
        fn run(&mut self, d: Duration) {
            let end = self.now + d;
            while self.now < end {
                self.now += MS;
                while self.queue.front().is_some_and(|m| m.0 <= self.now) {
                    let (_, from, to, line) = self.queue.pop_front().unwrap();
                    if !self.cut.contains(&(from, to)) {
                        self.hosts[to].handle_line(line.as_bytes(), self.now);
                        self.drain(to);
                    }
                }
                for i in 0..3 {
                    self.hosts[i].tick(self.now);
                    self.drain(i);
                }
            }
        }

        /// Send a client request to node `i`; returns its msg_id.
        fn call(&mut self, i: usize, body: Value) -> u64 {
            self.next_msg += 1;
            let mut body = body;
            body["msg_id"] = json!(self.next_msg);
            let line = json!({"src":"c1","dest":format!("n{i}"),"body":body});
            self.hosts[i].handle_line(line.to_string().as_bytes(), self.now);
            self.drain(i);
            self.next_msg
        }

        fn reply(&self, msg_id: u64) -> Option<&Value> {
            self.replies
                .iter()
                .find(|(_, r)| r["body"]["in_reply_to"] == msg_id)
                .map(|(_, r)| &r["body"])
        }

        fn leaders(&self) -> Vec<usize> {
            (0..3)
                .filter(|&i| self.hosts[i].node().unwrap().is_leader())
                .collect()
        }

        fn node(&self, i: usize) -> &LinKv {
            self.hosts[i].node().unwrap()
        }
    }

    #[test]
    fn a_leader_is_elected_and_serves_reads_writes_and_cas_from_any_node() {
        let mut c = Cluster::new(1);
        c.run(Duration::from_millis(1000));
        let leaders = c.leaders();
        assert_eq!(leaders.len(), 1, "{leaders:?}");
        let l = leaders[0];
        let f = (l + 1) % 3;
        let r0 = c.call(f, json!({"type":"read","key":1}));
        let w = c.call(f, json!({"type":"write","key":1,"value":10}));
        c.run(Duration::from_millis(50));
        assert_eq!(c.reply(r0).unwrap()["code"], 20);
        assert_eq!(c.reply(w).unwrap()["type"], "write_ok");
        let bad = c.call(l, json!({"type":"cas","key":1,"from":3,"to":4}));
        let good = c.call(f, json!({"type":"cas","key":1,"from":10,"to":11}));
        let missing = c.call(l, json!({"type":"cas","key":2,"from":1,"to":2}));
        let r = c.call((l + 2) % 3, json!({"type":"read","key":1}));
        c.run(Duration::from_millis(50));
        assert_eq!(c.reply(bad).unwrap()["code"], 22);
        assert_eq!(c.reply(good).unwrap()["type"], "cas_ok");
        assert_eq!(c.reply(missing).unwrap()["code"], 20);
        assert_eq!(c.reply(r).unwrap()["value"], 11);
        // Every node holds the same committed log.
        let commit = c.node(l).commit_index() as usize;
        for i in 0..3 {
            assert_eq!(c.node(i).log()[..commit], c.node(l).log()[..commit]);
        }
    }

    #[test]
    fn a_cut_off_leader_is_replaced_and_its_uncommitted_suffix_is_overwritten() {
        let mut c = Cluster::new(2);
        c.run(Duration::from_millis(1000));
        let old = c.leaders()[0];
        let w = c.call(old, json!({"type":"write","key":"k","value":1}));
        c.run(Duration::from_millis(50));
        assert_eq!(c.reply(w).unwrap()["type"], "write_ok");
        // Cut the leader off; what it accepts now cannot commit.
        c.isolate(old);
        let lost: Vec<u64> = (0..5)
            .map(|v| c.call(old, json!({"type":"write","key":"k","value":100 + v})))
            .collect();
        c.run(Duration::from_millis(1500));
        let new: Vec<usize> = c.leaders().into_iter().filter(|&i| i != old).collect();
        assert_eq!(new.len(), 1, "the majority elects a new leader");
        let new = new[0];
        assert!(c.node(new).term() > c.node(old).term());
        let w2 = c.call(new, json!({"type":"write","key":"k","value":2}));
        let r_old = c.call(old, json!({"type":"read","key":"k"}));
        c.run(Duration::from_millis(100));
        assert_eq!(c.reply(w2).unwrap()["type"], "write_ok");
        for id in lost.iter().chain([&r_old]) {
            assert!(
                c.reply(*id).is_none(),
                "no answer from a leader without a majority"
            );
        }
        // Heal: the old leader steps down and its suffix is replaced.
        c.cut.clear();
        c.run(Duration::from_millis(500));
        assert_eq!(c.leaders(), [new]);
        let r = c.call(old, json!({"type":"read","key":"k"}));
        c.run(Duration::from_millis(100));
        assert_eq!(c.reply(r).unwrap()["value"], 2);
        let commit = c.node(new).commit_index() as usize;
        assert_eq!(c.node(old).log()[..commit], c.node(new).log()[..commit]);
        assert!(c
            .node(old)
            .log()
            .iter()
            .all(|e| !matches!(&e.op, Op::Write { value, .. } if value.as_i64() >= Some(100))));
        for id in lost {
            assert!(
                c.reply(id).is_none(),
                "the lost writes are never acknowledged"
            );
        }
    }

    #[test]
    fn a_node_that_knows_no_leader_refuses_definitely() {
        let mut c = Cluster::new(3);
        let id = c.call(0, json!({"type":"write","key":1,"value":1}));
        let e = c.reply(id).unwrap();
        assert_eq!(e["code"], 11, "{e}");
    }

    /// What an operation did: kind, value written or read (or cas `from`),
    /// cas `to`.
    type Fun = (&'static str, Option<i64>, Option<i64>);

    /// One client operation on a single register: invocation and completion
    /// times, and what it did.
    #[derive(Debug, Clone)]
    struct HistOp {
        start: Duration,
        end: Duration,
        f: Fun,
        ok: bool,
    }

    /// Is the history linearizable for a register with initial value None?
    /// Depth-first search over orders that respect real time; `info` (no
    /// reply) ops may take effect or not.
    fn linearizable(ops: &[HistOp]) -> bool {
        fn go(
            ops: &[HistOp],
            done: u64,
            state: Option<i64>,
            memo: &mut HashMap<(u64, Option<i64>), bool>,
        ) -> bool {
            if ops
                .iter()
                .enumerate()
                .all(|(i, o)| done & (1 << i) != 0 || !o.ok)
            {
                return true;
            }
            if let Some(&r) = memo.get(&(done, state)) {
                return r;
            }
            // The earliest end among ok ops not yet linearized bounds which
            // ops may go next.
            let horizon = ops
                .iter()
                .enumerate()
                .filter(|(i, o)| done & (1 << i) == 0 && o.ok)
                .map(|(_, o)| o.end)
                .min()
                .unwrap();
            let mut found = false;
            for (i, o) in ops.iter().enumerate() {
                if done & (1 << i) != 0 || o.start > horizon {
                    continue;
                }
                let next = match o.f {
                    ("read", v, _) if o.ok => (v == state).then_some(state),
                    ("read", _, _) => Some(state),
                    ("write", v, _) => Some(v),
                    ("cas", from, to) if o.ok => (state == from).then_some(to),
                    ("cas", from, to) => Some(if state == from { to } else { state }),
                    _ => None,
                };
                if let Some(s) = next {
                    if go(ops, done | (1 << i), s, memo) {
                        found = true;
                        break;
                    }
                }
            }
            memo.insert((done, state), found);
            found
        }
        go(ops, 0, None, &mut HashMap::new())
    }

    #[test]
    fn the_checker_rejects_a_stale_read() {
        let t = |ms| Duration::from_millis(ms);
        let w = HistOp {
            start: t(0),
            end: t(1),
            f: ("write", Some(1), None),
            ok: true,
        };
        let r = HistOp {
            start: t(2),
            end: t(3),
            f: ("read", None, None),
            ok: true,
        };
        assert!(!linearizable(&[w.clone(), r]));
        let r = HistOp {
            start: t(2),
            end: t(3),
            f: ("read", Some(1), None),
            ok: true,
        };
        assert!(linearizable(&[w, r]));
    }

    #[test]
    fn concurrent_clients_across_a_leader_change_see_a_linearizable_register() {
        let mut c = Cluster::new(4);
        c.run(Duration::from_millis(1000));
        let mut calls: Vec<(u64, Duration, Fun)> = Vec::new();
        let mut value = 0;
        for round in 0..12 {
            if round == 4 {
                let l = c.leaders()[0];
                c.isolate(l);
            }
            if round == 8 {
                c.cut.clear();
            }
            for node in 0..3 {
                value += 1;
                let (body, f) = match (round + node) % 3 {
                    0 => (
                        json!({"type":"write","key":0,"value":value}),
                        ("write", Some(value), None),
                    ),
                    1 => (json!({"type":"read","key":0}), ("read", None, None)),
                    _ => (
                        json!({"type":"cas","key":0,"from":value - 2,"to":value}),
                        ("cas", Some(value - 2), Some(value)),
                    ),
                };
                let id = c.call(node, body);
                calls.push((id, c.now, f));
            }
            c.run(Duration::from_millis(150));
        }
        c.run(Duration::from_millis(3000));
        let end_of_time = c.now + Duration::from_secs(100);
        let mut oks = 0;
        let hist: Vec<HistOp> = calls
            .iter()
            .filter_map(|(id, start, f)| {
                let at = |id: &u64| {
                    c.replies
                        .iter()
                        .find(|(_, r)| r["body"]["in_reply_to"] == *id)
                        .map(|(t, _)| *t)
                };
                let reply = c.reply(*id);
                let mut f = *f;
                let ok = match reply {
                    None => false,
                    Some(b) if b["type"] == "error" => {
                        // Definite errors: the op did not happen at all.
                        assert!([11, 20, 22].contains(&b["code"].as_i64().unwrap()), "{b}");
                        return None;
                    }
                    Some(b) => {
                        if f.0 == "read" {
                            f.1 = b["value"].as_i64();
                        }
                        true
                    }
                };
                oks += usize::from(ok);
                // Unanswered ops may take effect at any later time.
                let end = if ok { at(id).unwrap() } else { end_of_time };
                Some(HistOp {
                    start: *start,
                    end,
                    f,
                    ok,
                })
            })
            .collect();
        assert!(
            oks >= 12,
            "most operations succeed: {oks} of {}",
            calls.len()
        );
        assert!(linearizable(&hist), "{hist:#?}");
    }

    /// One node `n0` of three on `disk`, initialised at time zero.
    fn node_on(disk: Box<dyn crate::runtime::Disk>) -> NodeHost<LinKv> {
        let mut h = NodeHost::new(3);
        h.set_disk(disk);
        let init = json!({"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,
            "node_id":"n0","node_ids":["n0","n1","n2"]}});
        h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    /// Deliver `body` from `src` to n0; the bodies it sent.
    fn to_n0(h: &mut NodeHost<LinKv>, src: &str, body: Value) -> Vec<Value> {
        let line = json!({"src": src, "dest": "n0", "body": body});
        h.handle_line(line.to_string().as_bytes(), MS);
        let out = String::from_utf8(std::mem::take(h.output())).unwrap();
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["body"].clone())
            .collect()
    }

    fn vote_request(term: u64) -> Value {
        json!({"type":"request_vote","term":term,"last_index":0,"last_term":0})
    }

    #[test]
    fn term_vote_and_log_survive_a_restart() {
        let disk = crate::runtime::MemDisk::new(5);
        let mut h = node_on(Box::new(disk.clone()));
        let out = to_n0(&mut h, "n1", vote_request(3));
        assert_eq!(out[0]["granted"], true, "{out:?}");
        let entries = json!([{"term":3,"op":{"type":"noop"}},{"term":3,"op":{"type":"write","key":1,"value":7}}]);
        let append = json!({"type":"append_entries","term":3,"prev_index":0,"prev_term":0,
            "entries":entries,"commit":0});
        let out = to_n0(&mut h, "n1", append);
        assert_eq!(
            (out[0]["ok"].clone(), out[0]["match_index"].clone()),
            (json!(true), json!(2))
        );
        // Everything acted on was synced before the output left: a crash
        // loses nothing of it.
        drop(h);
        assert_eq!(disk.crash(), 0);
        let mut h = node_on(Box::new(disk.clone()));
        let n = h.node().expect("initialised");
        assert_eq!((n.term(), n.log().len(), n.is_leader()), (3, 2, false));
        // The vote of term 3 went to n1: n2 cannot get it too.
        let out = to_n0(&mut h, "n2", vote_request(3));
        assert_eq!(out[0]["granted"], false, "{out:?}");
        // A conflicting suffix from a later leader replaces the old one,
        // and that too survives a restart.
        let append = json!({"type":"append_entries","term":4,"prev_index":1,"prev_term":3,
            "entries":[{"term":4,"op":{"type":"noop"}}],"commit":0});
        let out = to_n0(&mut h, "n2", append);
        assert_eq!(out[0]["match_index"], 2);
        drop(h);
        disk.crash();
        let h = node_on(Box::new(disk));
        let n = h.node().expect("initialised");
        assert_eq!(n.term(), 4);
        let terms: Vec<u64> = n.log().iter().map(|e| e.term).collect();
        assert_eq!(terms, [3, 4]);
    }

    /// A disk whose appends fail.
    struct BrokenDisk;

    impl crate::runtime::Disk for BrokenDisk {
        fn load(&mut self) -> std::io::Result<crate::runtime::Recovered> {
            Ok(crate::runtime::Recovered::default())
        }
        fn append(&mut self, _: &[u8]) -> std::io::Result<()> {
            Err(std::io::Error::other("no space left"))
        }
        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn snapshot(&mut self, _: &[u8]) -> std::io::Result<()> {
            Err(std::io::Error::other("no space left"))
        }
        fn dirty(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_node_whose_disk_fails_stops_taking_part() {
        let mut h = node_on(Box::new(BrokenDisk));
        // It cannot record the vote, so it must not grant it.
        let out = to_n0(&mut h, "n1", vote_request(1));
        assert!(out.is_empty(), "{out:?}");
        assert!(h.node().unwrap().is_halted());
        let out = to_n0(&mut h, "c1", json!({"type":"read","key":1,"msg_id":4}));
        assert_eq!(
            (out[0]["type"].as_str(), out[0]["code"].as_u64()),
            (Some("error"), Some(11))
        );
        // Its election timer never makes it stand.
        h.tick(Duration::from_secs(5));
        assert!(h.output().is_empty());
    }

    #[test]
    fn unreadable_records_refuse_init() {
        let disk = crate::runtime::MemDisk::new(1);
        let mut d: Box<dyn crate::runtime::Disk> = Box::new(disk.clone());
        d.append(b"not json").unwrap();
        d.sync().unwrap();
        let h = node_on(Box::new(disk.clone()));
        assert!(h.node().is_none(), "init refused");
        let bad = crate::runtime::MemDisk::new(2);
        let mut d: Box<dyn crate::runtime::Disk> = Box::new(bad.clone());
        d.append_json(&Saved::Log {
            from: 5,
            entries: Vec::new(),
        })
        .unwrap();
        d.sync().unwrap();
        assert!(node_on(Box::new(bad)).node().is_none(), "a gap in the log");
    }
}
