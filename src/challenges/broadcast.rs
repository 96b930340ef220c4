//! Fly.io challenge 3 (3a–3e): broadcast.
//!
//! # The problem
//!
//! Clients `broadcast` integers to any node and `read` the set a node has
//! seen. Every acknowledged value must eventually be in every node's reads,
//! despite partitions (3c); at 25 nodes with 100 ms links (3d, 3e) the
//! figures that matter are `msgs-per-op` (every node↔node message divided by
//! *all* client operations, half of which are reads) and the *stable
//! latency* of a value (from its acknowledgement to the last read that
//! missed it).
//!
//! # The approach: a clocked star
//!
//! The suggested topology is ignored (`topology` is acknowledged and
//! dropped): two hops through one relay is the fewest messages per value
//! that still keeps every value within two link latencies. The first node of
//! `node_ids` is the **hub**; every other node is a **leaf**. Time is cut
//! into **rounds** of `batch` (the knob, default 200 ms):
//!
//! - A client value is acknowledged at once and stored in the receiving
//!   node's own log as `(origin, seq)`; reads answer from local state.
//! - **Downlink.** At every round tick the hub sends each leaf one `round`
//!   message with everything new that did not come from that leaf, plus its
//!   *have* vector (per origin, how many values it holds without gaps).
//!   Leaves with nothing new get nothing.
//! - **Uplink.** A leaf sends its new values to the hub in an `up` message.
//!   With short rounds (below 400 ms) it sends each value at once: at a few
//!   values per second per leaf there is little to batch, and an uplink
//!   never waits for anything but the hub's tick. With long rounds it
//!   batches into **slots**: each `up` echoes the last round the leaf heard
//!   and how long it waited, the hub derives that leaf's round-trip time and
//!   tells it (in every `round`) at what offset after a round's arrival to
//!   send, so that uplinks land just before the hub's next tick (a 20 ms
//!   margin plus twice the RTT deviation). A leaf value then waits for the
//!   leaf's slot but not, in addition, for a hub tick. Leaves anchor the
//!   slot grid on the earliest arrivals they see, so a round delayed by a
//!   busy host does not drag the grid; slotted uplinks that still miss a
//!   tick by less than a quarter round earn an extra *catch-up* round.
//!   `--uplink now|slot` overrides the choice.
//!
//! # Message flow
//!
//! ```text
//!   client ──broadcast──▶ leaf L (broadcast_ok at once)
//!   L ──up {vals, have, echo, wait}──▶ hub     (at once, or once per slot)
//!   hub ──round {runs, have, slot}──▶ each leaf (once per tick, only if
//!                                                something is new for it)
//! ```
//!
//! # Cost and latency (the 3e trade-off)
//!
//! With N nodes, round length T, one-way latency d, per-leaf broadcast rate
//! λ, B broadcasts in all and an active period D, the messages are
//!
//! ```text
//!   downlink   (N−1) · D/T                       one per leaf per round
//!   uplink     ≈ B·(N−1)/N                       at once: one per value
//!              (N−1) · D/T · (1 − e^(−λ·T))      slotted: one per slot with news
//!   msgs-per-op = (downlink + uplink) / ops
//! ```
//!
//! plus about N−1 end-of-activity reports and nothing else unless a message
//! is lost. Latency: d up, up to T at the hub, d down, so a leaf's value is
//! everywhere after U(0, T) + 2d (slotted: it waits U(0, T) at the leaf and
//! a margin at the hub instead); median ≈ T/2 + 2d, max ≈ T + 2d.
//!
//! For 3d/3e (N = 25, d = 100 ms, D = 20 s, 100 ops/s → ops ≈ 2025, B ≈
//! 1000, λ = 2/s):
//!
//! | `--batch-ms` | uplink | messages | msgs-per-op | median | max |
//! |---|---|---|---|---|---|
//! | 200 (default) | at once | 2400 + 960 | ≈ 1.7 | ≈ 300 ms | ≈ 400 ms |
//! | 800 | slotted | 600 + 480 | ≈ 0.55 | ≈ 600 ms | ≈ 1 s |
//!
//! The knob is `--batch-ms MS` on the binary's command line (Maelstrom and
//! the bench forward trailing arguments: `… -- --batch-ms 800`) or the
//! environment variable `GLOMERS_BATCH_MS`; the argument wins.

//! # Partitions and anti-entropy
//!
//! Nothing is acknowledged by a message, so loss is found by comparing
//! *have* vectors that ride on messages sent anyway:
//!
//! - **Uplink loss.** Every `round` carries the hub's count of the leaf's own
//!   values. A leaf resends from that count when its uplink is not covered
//!   after `rto` (max(3T, 1 s)). A data `up` always earns a `round` back,
//!   even an empty one, so the leaf learns its values arrived.
//! - **Downlink loss, busy.** After applying a `round`, a leaf that holds
//!   fewer values of some origin than the hub's vector says has a gap; its
//!   next `up` says `missing` with its own vector, and the hub rewinds what
//!   it believes it sent that leaf to the leaf's vector, resending the rest
//!   in the next round.
//! - **Downlink loss, quiet.** A leaf reports (an `up` with its vector) at
//!   most `ack_delay` (max(2T, 1 s)) after any `round` that carried values,
//!   unless an `up` went out meanwhile; in a busy test this is almost always
//!   a data `up`. A leaf silent for longer than `ack_delay + 2T + 1 s` after a
//!   `round` with values gets everything since its last report again.
//!
//! So when nothing is missing, anti-entropy costs one vector-only message
//! per leaf after activity stops; each loss costs one or two messages once
//! the network heals. A partition that cuts a leaf from the hub delays its
//! values until the heal, then the timers above repair both directions
//! within a few seconds, well inside Maelstrom's 10 s recovery wait.
//!
//! # Caveats
//!
//! - The hub is a single point of delay, not of loss: while it is cut off,
//!   values stay at their leaves (still acknowledged and readable there).
//! - Reads return a node's values in arrival order; each value appears
//!   once, even if a client broadcasts it twice.
//! - The knob is read once, at `init`, from the node's arguments
//!   ([`Ctx::args`]): the binary passes its command line (after the
//!   environment variable's value, so the argument wins), the bench's
//!   in-process mode passes the test's trailing arguments.
//!
//! Measured figures (process mode, seeds listed) are in
//! `maelstrom-runs/records/broadcast.md`.
//!
//! # Kill, restart and pause
//!
//! Maelstrom never restarts a node; our bench can, on the node's disk
//! ([`Ctx::disk`]). Every value a node stores — a client's, or one that
//! arrived in an `up` or a `round` — is recorded there as `(origin, seq,
//! value)`, and the runtime syncs the records before any output leaves the
//! node. So a `broadcast_ok`, a `read_ok` that shows a value, and every
//! *have* vector a node reports (which is what lets others stop resending)
//! are all backed by the disk. A restarted node replays its records and
//! holds at least everything it ever acknowledged, showed or reported:
//!
//! - a restarted **hub** has forgotten what each leaf holds, so its first
//!   round sends every leaf everything (once); leaves keep what continues
//!   their logs. Leaves never resend what the hub once reported having,
//!   and need not: the hub recovered it.
//! - a restarted **leaf** resends its own values from the start and
//!   reports a gap, so the hub rewinds what it believes it sent to the
//!   leaf's recovered vector; anything the hub sent that the leaf had not
//!   yet made durable comes again in the next round.
//!
//! A broadcast in flight at the kill gets no reply (indeterminate). A
//! paused node delays its values and reads; the anti-entropy timers above
//! repair what was lost meanwhile, as after a partition. Cost: no message
//! without restarts, one record per message that brings new values, and
//! one disk sync per batch of output that follows one (the hub's once per
//! round). The record log is never compacted (one entry per value per
//! node, read whole at start). Measured in
//! `maelstrom-runs/records/durability.md`: in-process figures unchanged;
//! in process mode on files, msgs-per-op unchanged (1.70) and the 3d max
//! stable latency not yet measured on a quiet machine.

use crate::runtime::storage::disk_error;
use crate::runtime::{Ctx, Error, Init, Node, NodeId, Request, TimerId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

/// The default round length in milliseconds.
pub const DEFAULT_BATCH_MS: u64 = 200;

/// The environment variable read by the binary when `--batch-ms` is absent.
pub const BATCH_ENV: &str = "GLOMERS_BATCH_MS";

/// How early, beyond the measured round trip, a leaf aims its uplink before
/// the hub's tick (absorbs scheduling jitter).
const MARGIN: Duration = Duration::from_millis(20);

/// How long the hub gathers late uplinks before an extra round.
const CATCH_UP_DELAY: Duration = Duration::from_millis(3);

/// How many recent round send times the hub remembers for RTT samples.
const ROUND_HISTORY: usize = 256;

/// The node's tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Round length: the hub's tick (and each leaf's uplink period when
    /// uplinks are slotted).
    pub batch: Duration,
    /// Whether leaves hold values for a slot phase-locked to the hub's
    /// ticks (true) or send each value up at once (false).
    pub slotted: bool,
}

/// Rounds at least this long make leaves batch their uplinks into slots.
pub const SLOTTED_FROM_MS: u64 = 400;

impl Config {
    /// Round length `ms`, with uplinks slotted from [`SLOTTED_FROM_MS`] up.
    pub fn with_batch_ms(ms: u64) -> Config {
        Config {
            batch: Duration::from_millis(ms),
            slotted: ms >= SLOTTED_FROM_MS,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::with_batch_ms(DEFAULT_BATCH_MS)
    }
}

impl Config {
    /// Parse the binary's arguments (`--batch-ms N` or `--batch-ms=N`), with
    /// `env` (the value of [`BATCH_ENV`], if set) as the fallback.
    /// `--uplink now|slot` overrides the uplink mode the round length
    /// implies.
    pub fn from_args(
        args: impl IntoIterator<Item = String>,
        env: Option<String>,
    ) -> anyhow::Result<Config> {
        let parse = |s: &str| -> anyhow::Result<u64> {
            let ms: u64 = s
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--batch-ms expects milliseconds, got {s:?}"))?;
            anyhow::ensure!(
                (1..=60_000).contains(&ms),
                "--batch-ms must be 1…60000, got {ms}"
            );
            Ok(ms)
        };
        let mut ms = DEFAULT_BATCH_MS;
        if let Some(e) = env.filter(|e| !e.trim().is_empty()) {
            ms = parse(&e).map_err(|e| anyhow::anyhow!("{BATCH_ENV}: {e}"))?;
        }
        let mut uplink: Option<String> = None;
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            let (key, inline) = match a.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            if key != "--batch-ms" && key != "--uplink" {
                anyhow::bail!(
                    "unknown argument {a:?}; usage: broadcast [--batch-ms MS] [--uplink now|slot]"
                );
            }
            let v = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("{key} needs a value"))?,
            };
            if key == "--batch-ms" {
                ms = parse(&v)?;
            } else {
                uplink = Some(v);
            }
        }
        let mut cfg = Config::with_batch_ms(ms);
        match uplink.as_deref() {
            None => {}
            Some("now") => cfg.slotted = false,
            Some("slot") => cfg.slotted = true,
            Some(other) => anyhow::bail!("--uplink expects now or slot, got {other:?}"),
        }
        Ok(cfg)
    }

    /// How long a leaf waits for the hub to cover its uplink before resending.
    fn rto(&self) -> Duration {
        (self.batch * 3).max(Duration::from_secs(1))
    }

    /// How long after a `round` with values a leaf reports at the latest.
    fn ack_delay(&self) -> Duration {
        (self.batch * 2).max(Duration::from_secs(1))
    }

    /// How long the hub waits for a leaf's report before resending.
    fn hub_rto(&self) -> Duration {
        self.ack_delay() + self.batch * 2 + Duration::from_secs(1)
    }
}

/// Consecutive values of one origin: `v[i]` has sequence number `s + i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Origin node index (in `node_ids`).
    pub o: usize,
    /// Sequence number of the first value.
    pub s: usize,
    /// The values.
    pub v: Vec<Value>,
}

/// Hub → leaf, once per round when there is something for the leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundMsg {
    /// The hub's round number.
    pub round: u64,
    /// When to send uplinks: this many µs after a round arrives, then every
    /// round length; absent until the hub has measured the leaf's round
    /// trip, and then the leaf sends as soon as it has something.
    pub slot_us: Option<u64>,
    /// µs after the hub's last tick that this round went out (non-zero for
    /// an extra round), so that leaves anchor on the tick.
    #[serde(default)]
    pub late_us: u64,
    /// New values (or resent ones) for the leaf.
    pub runs: Vec<Run>,
    /// Per origin, how many values the hub holds without gaps.
    pub have: Vec<usize>,
}

/// Leaf → hub, at most once per round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpMsg {
    /// The last round the leaf received.
    pub echo: Option<u64>,
    /// µs between receiving that round and sending this.
    pub wait_us: u64,
    /// Sequence number of the first value in `vals` (leaf's own origin).
    pub start: usize,
    /// The leaf's own values from `start`.
    pub vals: Vec<Value>,
    /// Per origin, how many values the leaf holds without gaps.
    pub have: Vec<usize>,
    /// The leaf saw a gap: resend from `have`.
    pub missing: bool,
    /// Sent at a slot the hub assigned (so it was meant to arrive just
    /// before a tick).
    #[serde(default)]
    pub slotted: bool,
}

/// Messages of the broadcast workload and of this node's protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The suggested topology (ignored).
    Topology {
        /// Node → neighbours.
        #[serde(default)]
        topology: Value,
    },
    /// A client value to spread.
    Broadcast {
        /// The value.
        message: Value,
    },
    /// A client asks for every value this node has.
    Read,
    /// Hub → leaf.
    Round(RoundMsg),
    /// Leaf → hub.
    Up(UpMsg),
}

/// `read_ok` serialized from a borrowed slice.
#[derive(Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk<'a> {
    messages: &'a [Value],
}

/// A value as a hashable key, with JSON's structural equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    Int(i128),
    Other(String),
}

impl ValueKey {
    fn of(v: &Value) -> Self {
        match (v.as_i64(), v.as_u64()) {
            (Some(i), _) => ValueKey::Int(i128::from(i)),
            (None, Some(u)) => ValueKey::Int(i128::from(u)),
            _ => ValueKey::Other(v.to_string()),
        }
    }
}

/// One origin's values: a gap-free prefix plus whatever arrived beyond a gap.
#[derive(Debug, Default)]
struct OriginLog {
    vals: Vec<Value>,
    ahead: BTreeMap<usize, Value>,
}

impl OriginLog {
    fn prefix(&self) -> usize {
        self.vals.len()
    }

    /// Store `v` as value `seq`; true if it was new.
    fn insert(&mut self, seq: usize, v: &Value) -> bool {
        if seq < self.vals.len() || self.ahead.contains_key(&seq) {
            return false;
        }
        if seq == self.vals.len() {
            self.vals.push(v.clone());
            while let Some(next) = self.ahead.remove(&self.vals.len()) {
                self.vals.push(next);
            }
        } else {
            self.ahead.insert(seq, v.clone());
        }
        true
    }
}

/// What the hub knows about one leaf.
#[derive(Debug)]
struct LeafView {
    /// Per origin, how many values the hub has sent this leaf.
    sent: Vec<usize>,
    /// Per origin, the leaf's last reported gap-free counts.
    acked: Vec<usize>,
    /// Send a round even with nothing new (an ack or a repair is due).
    need_round: bool,
    /// When values went out that the leaf has not reported having yet.
    unconfirmed_since: Option<Duration>,
    /// Smoothed round-trip time and its mean deviation.
    srtt: Option<Duration>,
    rttvar: Duration,
}

#[derive(Debug)]
struct HubState {
    round: u64,
    /// When the last round on the grid went out.
    last_tick: Duration,
    /// An extra round is scheduled.
    catch_up_pending: bool,
    next_round_at: Duration,
    round_times: VecDeque<(u64, Duration)>,
    leaves: Vec<LeafView>,
}

impl LeafState {
    /// Drop the pending slot (its time is about to be recomputed).
    fn cancel_slot(&mut self, ctx: &mut Ctx<'_, Broadcast>) {
        self.next_slot = None;
        if let Some(t) = self.slot_timer.take() {
            ctx.cancel(t);
        }
    }
}

#[derive(Debug, Default)]
struct LeafState {
    /// Own values sent to the hub at least once.
    sent_up: usize,
    /// The hub's count of our own values.
    hub_has: usize,
    /// When own values last went up.
    last_data_up: Duration,
    /// The last round received and when.
    last_round: Option<(u64, Duration)>,
    /// Uplink offset after a round's arrival, once the hub has sent one.
    slot_offset: Option<Duration>,
    /// When the pending slot is due, and its timer.
    next_slot: Option<Duration>,
    slot_timer: Option<TimerId>,
    /// Since when a `round` with values awaits our report.
    unreported_since: Option<Duration>,
    /// We hold fewer values of some origin than the hub said it has.
    gap: bool,
    last_missing_report: Option<Duration>,
}

#[derive(Debug)]
enum Role {
    Hub(HubState),
    Leaf(LeafState),
}

/// The broadcast node (hub or leaf).
#[derive(Debug)]
pub struct Broadcast {
    cfg: Config,
    me: usize,
    hub: usize,
    index: HashMap<NodeId, usize>,
    logs: Vec<OriginLog>,
    /// Every distinct value, in arrival order, for reads.
    messages: Vec<Value>,
    seen: HashSet<ValueKey>,
    role: Role,
    /// Values stored since the last disk record: `(origin, seq, value)`.
    unsaved: Vec<(usize, usize, Value)>,
}

impl Broadcast {
    fn n(&self) -> usize {
        self.logs.len()
    }

    fn have(&self) -> Vec<usize> {
        self.logs.iter().map(OriginLog::prefix).collect()
    }

    /// Store value `seq` of `origin`; new distinct values become readable.
    /// Returns true if the value was new to this origin's log.
    fn store(&mut self, origin: usize, seq: usize, v: &Value) -> bool {
        let Some(log) = self.logs.get_mut(origin) else {
            return false;
        };
        if !log.insert(seq, v) {
            return false;
        }
        self.unsaved.push((origin, seq, v.clone()));
        if self.seen.insert(ValueKey::of(v)) {
            self.messages.push(v.clone());
        }
        true
    }

    /// Record the values stored since the last record on the disk (synced
    /// before the node's next output).
    fn save(&mut self, ctx: &mut Ctx<'_, Self>) -> std::io::Result<()> {
        if self.unsaved.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.unsaved);
        ctx.disk().append_json(&batch)
    }

    /// Replay what an earlier incarnation recorded.
    fn recover(&mut self, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<bool> {
        let recovered = ctx.disk().load()?;
        for bytes in &recovered.records {
            let batch: Vec<(usize, usize, Value)> = serde_json::from_slice(bytes)
                .map_err(|e| anyhow::anyhow!("unreadable broadcast record on disk: {e}"))?;
            for (o, seq, v) in batch {
                self.store(o, seq, &v);
            }
        }
        self.unsaved.clear();
        Ok(!recovered.is_empty())
    }

    fn on_client_value(&mut self, v: Value, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        if self.seen.contains(&ValueKey::of(&v)) {
            return Ok(());
        }
        let seq = self.logs[self.me].prefix();
        self.store(self.me, seq, &v);
        if let Err(e) = self.save(ctx) {
            // Only a value over the disk's record limit gets here: it was
            // never acknowledged, so forget it.
            self.logs[self.me].vals.pop();
            self.seen.remove(&ValueKey::of(&v));
            self.messages.pop();
            return Err(disk_error(e));
        }
        if let Role::Leaf(leaf) = &mut self.role {
            if leaf.slot_offset.is_none() && leaf.next_slot.is_some_and(|at| at > ctx.now()) {
                // No grid yet: a new value goes up at once.
                leaf.cancel_slot(ctx);
            }
            self.ensure_slot(ctx, false);
        }
        Ok(())
    }

    // ---- hub ----

    /// A round on the grid (`catch_up` false) or an extra one for uplinks
    /// that arrived just after a tick.
    fn hub_round(&mut self, catch_up: bool, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let have = self.have();
        let batch = self.cfg.batch;
        let hub_rto = self.cfg.hub_rto();
        let Role::Hub(hub) = &mut self.role else {
            return;
        };
        hub.round += 1;
        let round = hub.round;
        if catch_up {
            hub.catch_up_pending = false;
        } else {
            hub.last_tick = now;
            while hub.next_round_at <= now {
                hub.next_round_at += batch;
            }
            ctx.after(hub.next_round_at - now, |n, ctx| n.hub_round(false, ctx));
        }
        // Leaves anchor their slots on the grid, so an extra round says how
        // far off the grid it is, and counts as sent at the grid tick.
        let late = now - hub.last_tick;
        hub.round_times.push_back((round, hub.last_tick));
        if hub.round_times.len() > ROUND_HISTORY {
            hub.round_times.pop_front();
        }
        for (l, view) in hub.leaves.iter_mut().enumerate() {
            if l == self.me {
                continue;
            }
            if view.unconfirmed_since.is_some_and(|t| now - t >= hub_rto) {
                for o in (0..have.len()).filter(|&o| o != l) {
                    view.sent[o] = view.sent[o].min(view.acked[o]);
                }
                view.unconfirmed_since = None;
                view.need_round = true;
            }
            let runs: Vec<Run> = (0..have.len())
                .filter(|&o| o != l && view.sent[o] < have[o])
                .map(|o| Run {
                    o,
                    s: view.sent[o],
                    v: self.logs[o].vals[view.sent[o]..have[o]].to_vec(),
                })
                .collect();
            if runs.is_empty() && !view.need_round {
                continue;
            }
            let slot = view.srtt.map(|srtt| {
                let target = srtt + view.rttvar * 2 + MARGIN;
                let early = target.as_nanos() % batch.as_nanos().max(1);
                batch.saturating_sub(Duration::from_nanos(early as u64))
            });
            if !runs.is_empty() {
                view.unconfirmed_since = Some(now);
            }
            for o in (0..have.len()).filter(|&o| o != l) {
                view.sent[o] = have[o];
            }
            view.need_round = false;
            let msg = Payload::Round(RoundMsg {
                round,
                slot_us: slot.map(|s| s.as_micros() as u64),
                late_us: late.as_micros() as u64,
                runs,
                have: have.clone(),
            });
            if let Some(dest) = ctx.node_ids().get(l).cloned() {
                ctx.send(&dest, &msg);
            }
        }
    }

    fn hub_on_up(&mut self, l: usize, up: UpMsg, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let mut fresh = false;
        for (i, v) in up.vals.iter().enumerate() {
            fresh |= self.store(l, up.start.saturating_add(i), v);
        }
        let n = self.n();
        let late_window = self.cfg.batch / 4;
        let Role::Hub(hub) = &mut self.role else {
            return;
        };
        if fresh && up.slotted && !hub.catch_up_pending && now - hub.last_tick < late_window {
            // New values from a phase-locked leaf just missed a tick (jitter):
            // rather than make them wait a whole round, send an extra one
            // after a short gathering delay. Leaves that have no slot yet
            // send at random times; their values simply wait for the tick.
            hub.catch_up_pending = true;
            ctx.after(CATCH_UP_DELAY, |n, ctx| n.hub_round(true, ctx));
        }
        if let Some(&(_, sent_at)) = up
            .echo
            .and_then(|e| hub.round_times.iter().find(|(r, _)| *r == e))
        {
            let sample = now
                .saturating_sub(sent_at)
                .saturating_sub(Duration::from_micros(up.wait_us));
            let Some(view) = hub.leaves.get_mut(l) else {
                return;
            };
            match view.srtt {
                None => view.srtt = Some(sample),
                Some(s) => {
                    let dev = s.abs_diff(sample);
                    view.rttvar = (view.rttvar * 3 + dev) / 4;
                    view.srtt = Some((s * 7 + sample) / 8);
                }
            }
        }
        let Some(view) = hub.leaves.get_mut(l) else {
            return;
        };
        for o in 0..n {
            let reported = up.have.get(o).copied().unwrap_or(0);
            view.acked[o] = view.acked[o].max(reported);
            if up.missing && o != l {
                view.sent[o] = view.sent[o].min(reported);
                view.need_round = true;
            }
        }
        if !up.vals.is_empty() {
            view.need_round = true;
        }
        if (0..n).all(|o| o == l || view.acked[o] >= view.sent[o]) {
            view.unconfirmed_since = None;
        }
    }

    // ---- leaf ----

    fn leaf_on_round(&mut self, msg: RoundMsg, ctx: &mut Ctx<'_, Self>) {
        for run in &msg.runs {
            for (i, v) in run.v.iter().enumerate() {
                self.store(run.o, run.s.saturating_add(i), v);
            }
        }
        let me = self.me;
        let have = self.have();
        let now = ctx.now();
        let Role::Leaf(leaf) = &mut self.role else {
            return;
        };
        leaf.hub_has = leaf.hub_has.max(msg.have.get(me).copied().unwrap_or(0));
        leaf.gap =
            (0..have.len()).any(|o| o != me && have[o] < msg.have.get(o).copied().unwrap_or(0));
        // Where the hub's tick would have landed here. Delays only ever add,
        // so an earlier-than-predicted arrival is believed at once and a
        // later one only a quarter of the way (a round delayed by a busy
        // host must not drag the grid).
        let arrived = now.saturating_sub(Duration::from_micros(msg.late_us));
        let anchor = match leaf.last_round {
            Some((_, prev)) if arrived >= prev => {
                let batch = self.cfg.batch.as_nanos().max(1);
                let k = ((arrived - prev).as_nanos() + batch / 2) / batch;
                let predicted = prev + Duration::from_nanos((k * batch) as u64);
                if arrived <= predicted || arrived - predicted > self.cfg.batch / 4 {
                    arrived
                } else {
                    predicted + (arrived - predicted) / 4
                }
            }
            _ => arrived,
        };
        leaf.last_round = Some((msg.round, anchor));
        leaf.slot_offset = msg
            .slot_us
            .filter(|_| self.cfg.slotted)
            .map(Duration::from_micros);
        if !msg.runs.is_empty() && leaf.unreported_since.is_none() {
            leaf.unreported_since = Some(now);
        }
        // Re-anchor the slot grid on this round, unless the pending slot is
        // already due (its timer is about to fire).
        if let Some(at) = leaf.next_slot.filter(|&at| at > now) {
            let want = next_slot_time(leaf, self.cfg.batch, now, false);
            if want.abs_diff(at) > Duration::from_millis(1) {
                leaf.cancel_slot(ctx);
            }
        }
        self.ensure_slot(ctx, false);
    }

    /// Whether a leaf has anything that needs a slot.
    fn leaf_pending(&self) -> bool {
        let own = self.logs[self.me].prefix();
        match &self.role {
            Role::Leaf(l) => {
                l.sent_up < own || l.hub_has < own || l.unreported_since.is_some() || l.gap
            }
            Role::Hub(_) => false,
        }
    }

    fn ensure_slot(&mut self, ctx: &mut Ctx<'_, Self>, fired: bool) {
        if !self.leaf_pending() {
            return;
        }
        let batch = self.cfg.batch;
        let now = ctx.now();
        let Role::Leaf(leaf) = &mut self.role else {
            return;
        };
        if leaf.next_slot.is_some() {
            return;
        }
        let at = next_slot_time(leaf, batch, now, fired);
        leaf.next_slot = Some(at);
        leaf.slot_timer = Some(ctx.after(at - now, |n, ctx| n.leaf_slot(ctx)));
    }

    fn leaf_slot(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let me = self.me;
        let have = self.have();
        let own = have[me];
        let (rto, ack_delay) = (self.cfg.rto(), self.cfg.ack_delay());
        let Role::Leaf(leaf) = &mut self.role else {
            return;
        };
        leaf.next_slot = None;
        leaf.slot_timer = None;
        let resend = leaf.hub_has < leaf.sent_up && now - leaf.last_data_up >= rto;
        let start = if resend { leaf.hub_has } else { leaf.sent_up };
        let missing = leaf.gap && leaf.last_missing_report.is_none_or(|t| now - t >= rto);
        let report = leaf.unreported_since.is_some_and(|t| now - t >= ack_delay);
        if start < own || missing || report {
            let vals = self.logs[me].vals[start.min(own)..].to_vec();
            if !vals.is_empty() {
                leaf.last_data_up = now;
                leaf.sent_up = own;
            }
            if missing {
                leaf.last_missing_report = Some(now);
            }
            leaf.unreported_since = None;
            let (echo, wait) = match leaf.last_round {
                Some((r, at)) => (Some(r), now.saturating_sub(at)),
                None => (None, Duration::ZERO),
            };
            let msg = Payload::Up(UpMsg {
                echo,
                wait_us: wait.as_micros() as u64,
                start,
                vals,
                have,
                missing,
                slotted: leaf.slot_offset.is_some(),
            });
            if let Some(dest) = ctx.node_ids().get(self.hub).cloned() {
                ctx.send(&dest, &msg);
            }
        }
        self.ensure_slot(ctx, true);
    }
}

/// The next uplink slot: on the grid anchored at the last round's arrival,
/// the first slot at or after `now` (strictly after it when `fired`, i.e.
/// when called from the slot that is firing now). Before any round arrived
/// with an offset there is no grid: send now, or (to wait for an ack) one
/// round length after the slot that just fired.
fn next_slot_time(leaf: &LeafState, batch: Duration, now: Duration, fired: bool) -> Duration {
    let (Some((_, at)), Some(offset)) = (leaf.last_round, leaf.slot_offset) else {
        return if fired { now + batch } else { now };
    };
    let first = at + offset;
    if first > now || (first == now && !fired) {
        return first;
    }
    let behind = (now - first).as_nanos();
    let step = batch.as_nanos().max(1);
    let mut k = behind.div_ceil(step);
    if fired && first + Duration::from_nanos((k * step) as u64) <= now {
        k += 1;
    }
    first + Duration::from_nanos((k * step) as u64)
}

impl Node for Broadcast {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let cfg = Config::from_args(ctx.args().iter().cloned(), None)?;
        let index: HashMap<NodeId, usize> = init
            .node_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let me = *index
            .get(&init.node_id)
            .ok_or_else(|| anyhow::anyhow!("{} is not in node_ids", init.node_id))?;
        let n = init.node_ids.len();
        let hub = 0;
        let role = if me == hub {
            ctx.after(cfg.batch, |n, ctx| n.hub_round(false, ctx));
            Role::Hub(HubState {
                round: 0,
                last_tick: ctx.now(),
                catch_up_pending: false,
                next_round_at: ctx.now() + cfg.batch,
                round_times: VecDeque::new(),
                leaves: (0..n)
                    .map(|_| LeafView {
                        sent: vec![0; n],
                        acked: vec![0; n],
                        need_round: false,
                        unconfirmed_since: None,
                        srtt: None,
                        rttvar: Duration::ZERO,
                    })
                    .collect(),
            })
        } else {
            Role::Leaf(LeafState::default())
        };
        let mut node = Broadcast {
            cfg,
            me,
            hub,
            index,
            logs: (0..n).map(|_| OriginLog::default()).collect(),
            messages: Vec::new(),
            seen: HashSet::new(),
            role,
            unsaved: Vec::new(),
        };
        if node.recover(ctx)? {
            // A restarted leaf resends its own values and reports a gap, so
            // the hub rewinds to what this leaf really holds.
            if let Role::Leaf(leaf) = &mut node.role {
                leaf.gap = true;
                leaf.next_slot = Some(ctx.now());
                leaf.slot_timer = Some(ctx.after(Duration::ZERO, |n, ctx| n.leaf_slot(ctx)));
            }
        }
        Ok(node)
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let from = msg.from;
        let src = self.index.get(&from.src).copied();
        match msg.payload {
            Payload::Topology { .. } => ctx.ack(&from, "topology_ok"),
            Payload::Broadcast { message } => {
                self.on_client_value(message, ctx)?;
                ctx.ack(&from, "broadcast_ok");
            }
            Payload::Read => {
                let messages = &self.messages;
                ctx.reply(&from, &ReadOk { messages });
            }
            Payload::Round(round) => {
                if src == Some(self.hub) && self.me != self.hub {
                    self.leaf_on_round(round, ctx);
                }
            }
            Payload::Up(up) => {
                let is_hub = matches!(self.role, Role::Hub(_));
                if let Some(l) = src.filter(|&l| is_hub && l != self.me) {
                    self.hub_on_up(l, up, ctx);
                }
            }
        }
        // Values from a peer: recorded before anything this node says next
        // (its reads, its have vectors) can depend on them.
        if let Err(e) = self.save(ctx) {
            ctx.log(format_args!("cannot record values from {}: {e}", from.src));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{MemDisk, NodeHost};
    use serde_json::json;
    use std::collections::BTreeSet;

    /// Three nodes (hub n0, leaves n1 and n2) on disks that can crash; node
    /// messages are delivered at the next step, client replies collected.
    struct Cluster {
        hosts: Vec<NodeHost<Broadcast>>,
        disks: Vec<MemDisk>,
        wire: Vec<Value>,
        now: Duration,
        acked: BTreeSet<i64>,
    }

    const N: usize = 3;
    const STEP: Duration = Duration::from_millis(10);

    fn boot(i: usize, disk: &MemDisk) -> NodeHost<Broadcast> {
        let ids: Vec<String> = (0..N).map(|i| format!("n{i}")).collect();
        let mut h = NodeHost::<Broadcast>::new(i as u64);
        h.set_disk(Box::new(disk.clone()));
        let init = json!({"src": "c0", "dest": ids[i], "body":
            {"type": "init", "msg_id": 1, "node_id": ids[i], "node_ids": ids}});
        h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    impl Cluster {
        fn new(seed: u64) -> Self {
            let disks: Vec<MemDisk> = (0..N).map(|i| MemDisk::new(seed * 7 + i as u64)).collect();
            Cluster {
                hosts: (0..N).map(|i| boot(i, &disks[i])).collect(),
                disks,
                wire: Vec::new(),
                now: Duration::ZERO,
                acked: BTreeSet::new(),
            }
        }

        /// Take node `i`'s output: node messages onto the wire, client
        /// acknowledgements into `acked` (by msg_id, which is the value).
        fn drain(&mut self, i: usize) -> Vec<Value> {
            let out = String::from_utf8(std::mem::take(self.hosts[i].output())).unwrap();
            let mut replies = Vec::new();
            for l in out.lines() {
                let m: Value = serde_json::from_str(l).unwrap();
                if m["dest"].as_str().unwrap().starts_with('n') {
                    self.wire.push(m);
                } else {
                    if m["body"]["type"] == "broadcast_ok" {
                        self.acked
                            .insert(m["body"]["in_reply_to"].as_i64().unwrap());
                    }
                    replies.push(m);
                }
            }
            replies
        }

        fn broadcast(&mut self, i: usize, v: i64) {
            let line = json!({"src": "c1", "dest": format!("n{i}"),
                "body": {"type": "broadcast", "msg_id": v, "message": v}});
            self.hosts[i].handle_line(line.to_string().as_bytes(), self.now);
        }

        /// One step: deliver the wire, fire timers, take output.
        fn step(&mut self) {
            self.now += STEP;
            for m in std::mem::take(&mut self.wire) {
                let d: usize = m["dest"].as_str().unwrap()[1..].parse().unwrap();
                self.hosts[d].handle_line(m.to_string().as_bytes(), self.now);
            }
            for i in 0..N {
                self.hosts[i].tick(self.now);
                self.drain(i);
            }
        }

        fn read(&mut self, i: usize) -> BTreeSet<i64> {
            let line = json!({"src": "c2", "dest": format!("n{i}"),
                "body": {"type": "read", "msg_id": 1}});
            self.hosts[i].handle_line(line.to_string().as_bytes(), self.now);
            let replies = self.drain(i);
            replies[0]["body"]["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        }

        /// Crash node `i` (its unsynced records may be lost; messages it
        /// had on the wire are still delivered) and start it again.
        fn restart(&mut self, i: usize) {
            self.disks[i].crash();
            self.hosts[i] = boot(i, &self.disks[i]);
        }
    }

    #[test]
    fn no_acknowledged_value_is_lost_when_nodes_crash() {
        for seed in 0..12 {
            let mut c = Cluster::new(seed);
            let mut v = 100;
            for step in 0..400 {
                if step < 300 && step % 3 == 0 {
                    v += 1;
                    c.broadcast((v as usize) % N, v);
                    if step % 2 == 0 {
                        // Sometimes the crash comes before the reply leaves.
                        c.drain((v as usize) % N);
                    }
                }
                if step % 70 == 35 {
                    c.restart(((step / 70) + seed as usize) % N);
                }
                c.step();
            }
            for _ in 0..1000 {
                c.step();
            }
            assert!(c.acked.len() > 50, "seed {seed}");
            for i in 0..N {
                let got = c.read(i);
                let lost: Vec<_> = c.acked.difference(&got).collect();
                assert!(lost.is_empty(), "seed {seed}: n{i} lost {lost:?}");
            }
        }
    }
}
