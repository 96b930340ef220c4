//! The `kafka` workload (spec §5.5): string-keyed append-only logs with
//! `send`, `poll`, `commit_offsets` and `list_committed_offsets`.
//!
//! # Generator
//!
//! Operations are one-micro-op transactions, as Maelstrom builds them from
//! Elle's list-append generator: half `[["poll"]]`, half
//! `[["send", key, value]]`. Keys come from a pool of `--key-count` (10)
//! integer keys picked with an exponential distribution (base 2: the last
//! key of the pool is chosen about half the time); values count up per key
//! from 1, and a key that would exceed `--max-writes-per-key` (16) is
//! replaced in the pool by a fresh key, one above the largest. Keys travel
//! as decimal strings.
//!
//! Now and then an `assign` of the key the next operation would use is
//! emitted instead of it (that operation is kept for the next call); a third
//! of the assigns are widened with every key that has acknowledged sends no
//! `ok` poll has reached yet. `crash` ops come about every 30 s per client
//! (one every `U(0, 2·30/concurrency)` s overall). The engine applies the
//! global `--rate` stagger.
//!
//! **Assign probability.** Maelstrom 0.2.3, the release the Fly.io pages were
//! tested with, runs Jepsen 0.3.1, whose `subscribe-ratio` is 1/8
//! (`jepsen/tests/kafka.clj`); Jepsen 0.3.7 lowered it to 1/64 (`:sub-p`),
//! which is what the spec and issue #6 quote. The bench follows 0.2.3 so that
//! its op counts, and hence msgs-per-op, match the Maelstrom learners run.
//!
//! # Client
//!
//! Per worker: a map of assigned key → next offset to poll. `assign` sets it
//! from `list_committed_offsets` (keeping offsets the client already has,
//! else the committed offset, else 0), or to 0 for every key in the final
//! phase (Maelstrom's `seek-to-beginning?`, which our [`Invocation`] has no
//! field for: a final-phase assign *is* a seek to the beginning). `poll`
//! sends the map, advances it past what came back, then commits the highest
//! offset polled per key, all in one operation. `crash` completes `info` at
//! once, so the engine gives the worker a fresh client. Only `assign` is
//! idempotent.
//!
//! # Final phase
//!
//! After the heal and the recovery wait, each worker crashes, assigns every
//! key any `ok` operation touched (seeking to the beginning), and polls,
//! `U(0, 0.4 s)` apart, until its own polls have reached, for every key, the
//! highest offset any `ok` operation had seen when the final phase began.
//! The whole phase is clipped at 10 s.
//!
//! # Checker
//!
//! See [`crate::bench::checkers::kafka`].

use crate::bench::checkers::kafka::key_text;
use crate::bench::checkers::{self, Checker};
use crate::bench::history::OpType;
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, ClientStep, Completion, FinalStep, GenCtx,
    Invocation, RpcOutcome, Workload, WorkloadClient,
};
use crate::bench::workloads::keys::KeyPool;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Probability that an operation is replaced by an `assign` (Jepsen 0.3.1's
/// `subscribe-ratio`, as in Maelstrom 0.2.3; see the module docs).
pub const ASSIGN_PROBABILITY: f64 = 1.0 / 8.0;
/// Probability that an assign is widened with the keys that have unpolled
/// sends.
pub const WIDEN_PROBABILITY: f64 = 1.0 / 3.0;
/// Seconds between crashes of any one client, on average.
pub const CRASH_INTERVAL: f64 = 30.0;
/// Mean spacing of final-phase polls is half of this.
pub const FINAL_POLL_SPACING: f64 = 0.4;
/// The final phase is clipped to this.
pub const FINAL_TIME_LIMIT: Duration = Duration::from_secs(10);

/// The workload, configured by `opts`.
pub fn new(opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(Kafka::new(opts)))
}

/// A main-phase operation drawn from the key pool but not yet emitted.
#[derive(Debug, Clone)]
struct Drawn {
    inv: Invocation,
    key: String,
}

/// Where a worker is in the final phase.
#[derive(Debug, Clone, PartialEq)]
enum FinalStage {
    Crash,
    Assign,
    Poll { slept: bool },
}

/// One worker's final-phase state.
#[derive(Debug, Clone)]
struct FinalWorker {
    stage: FinalStage,
    /// Keys this worker still has to poll up to, with the target offset.
    targets: BTreeMap<String, i64>,
}

/// The kafka workload's generator state.
#[derive(Debug)]
pub struct Kafka {
    /// Elle's key pool (integer keys, sent as strings).
    keys: KeyPool,
    /// An operation held back by an assign.
    pending: Option<Drawn>,
    /// When the next crash op is due.
    next_crash: Option<f64>,
    /// Mean seconds between crash ops overall.
    crash_dt: f64,
    /// Key → highest offset of an `ok` send not yet reached by an `ok` poll.
    sent: BTreeMap<String, i64>,
    /// Key → highest offset an `ok` poll reached (only for keys in `sent`).
    polled: BTreeMap<String, i64>,
    /// Key → highest offset any `ok` send or poll saw.
    max_offsets: BTreeMap<String, i64>,
    /// The final phase's targets, fixed when the first worker enters it.
    final_targets: Option<BTreeMap<String, i64>>,
    /// Final-phase state per worker.
    final_workers: HashMap<usize, FinalWorker>,
}

impl Kafka {
    /// A generator configured by `opts`.
    pub fn new(opts: &TestOpts) -> Self {
        Kafka {
            keys: KeyPool::new(opts.key_count.unwrap_or(10), opts.max_writes_per_key),
            pending: None,
            next_crash: None,
            crash_dt: CRASH_INTERVAL / opts.concurrency.max(1) as f64,
            sent: BTreeMap::new(),
            polled: BTreeMap::new(),
            max_offsets: BTreeMap::new(),
            final_targets: None,
            final_workers: HashMap::new(),
        }
    }

    /// Draw the next poll or send from the key pool.
    fn draw(&mut self, rng: &mut StdRng) -> Drawn {
        loop {
            let write = rng.gen_bool(0.5);
            let i = self.keys.key_index(rng);
            if !write {
                return Drawn {
                    inv: Invocation::new("poll", json!([["poll"]])),
                    key: self.keys.key(i).to_string(),
                };
            }
            // A retired key is replaced in its slot; draw again.
            if let Some((k, v)) = self.keys.next_write(i) {
                return Drawn {
                    inv: Invocation::new("send", json!([["send", k.to_string(), v]])),
                    key: k.to_string(),
                };
            }
        }
    }

    /// Fold an `ok` completion into the poll-unseen and max-offset trackers.
    fn track(&mut self, done: &Completion, f: &str) {
        let (sends, polls) = max_offsets(f, &done.value);
        for (k, o) in &sends {
            merge_max(&mut self.sent, k, *o);
            merge_max(&mut self.max_offsets, k, *o);
        }
        for (k, o) in &polls {
            merge_max(&mut self.polled, k, *o);
            merge_max(&mut self.max_offsets, k, *o);
        }
        let keys: Vec<String> = self
            .sent
            .keys()
            .chain(self.polled.keys())
            .cloned()
            .collect();
        for k in keys {
            let s = self.sent.get(&k).copied().unwrap_or(-1);
            let p = self.polled.get(&k).copied().unwrap_or(-1);
            if p >= s {
                self.sent.remove(&k);
                self.polled.remove(&k);
            }
        }
    }
}

fn merge_max(m: &mut BTreeMap<String, i64>, k: &str, o: i64) {
    let e = m.entry(k.to_string()).or_insert(o);
    *e = (*e).max(o);
}

/// The highest offsets an operation's value shows per key: `(sent, polled)`.
/// A polled key with no pairs counts as -1, as in Jepsen.
pub fn max_offsets(f: &str, value: &Value) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let mut sends = BTreeMap::new();
    let mut polls = BTreeMap::new();
    let Some(mops) = value.as_array() else {
        return (sends, polls);
    };
    if f != "send" && f != "poll" {
        return (sends, polls);
    }
    for mop in mops {
        let Some(mop) = mop.as_array() else { continue };
        match mop.first().and_then(Value::as_str) {
            Some("send") => {
                let k = mop.get(1).map(key_text);
                let o = mop
                    .get(2)
                    .and_then(Value::as_array)
                    .and_then(|p| p.first())
                    .and_then(Value::as_i64);
                if let (Some(k), Some(o)) = (k, o) {
                    merge_max(&mut sends, &k, o);
                }
            }
            Some("poll") => {
                let Some(msgs) = mop.get(1).and_then(Value::as_object) else {
                    continue;
                };
                for (k, pairs) in msgs {
                    let top = pairs
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_array().and_then(|p| p.first()?.as_i64()))
                        .fold(-1, i64::max);
                    merge_max(&mut polls, k, top);
                }
            }
            _ => {}
        }
    }
    (sends, polls)
}

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn next_op(&mut self, ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        let now = ctx.time.as_secs_f64();
        let due = *self
            .next_crash
            .get_or_insert_with(|| now + rng.gen_range(0.0..2.0 * self.crash_dt));
        if now >= due {
            self.next_crash = Some(due.max(now) + rng.gen_range(0.0..2.0 * self.crash_dt));
            return Some(Invocation::new("crash", Value::Null));
        }
        let drawn = match self.pending.take() {
            Some(d) => d,
            None => self.draw(rng),
        };
        if rng.gen_bool(ASSIGN_PROBABILITY) {
            let mut keys = vec![drawn.key.clone()];
            if rng.gen_bool(WIDEN_PROBABILITY) {
                for k in self.sent.keys() {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
            self.pending = Some(drawn);
            return Some(Invocation::new("assign", json!(keys)));
        }
        Some(drawn.inv)
    }

    fn on_complete(&mut self, ctx: &GenCtx<'_>, inv: &Invocation, done: &Completion) {
        if done.kind != OpType::Ok {
            return;
        }
        self.track(done, &inv.f);
        if inv.final_phase && inv.f == "poll" {
            if let Some(w) = self.final_workers.get_mut(&ctx.worker) {
                let (_, polls) = max_offsets("poll", &done.value);
                for (k, seen) in polls {
                    if matches!(w.targets.get(&k), Some(t) if *t <= seen) {
                        w.targets.remove(&k);
                    }
                }
            }
        }
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_step(&mut self, ctx: &GenCtx<'_>, rng: &mut StdRng) -> FinalStep {
        let targets = self
            .final_targets
            .get_or_insert_with(|| self.max_offsets.clone())
            .clone();
        let w = self
            .final_workers
            .entry(ctx.worker)
            .or_insert_with(|| FinalWorker {
                stage: FinalStage::Crash,
                targets,
            });
        if w.targets.is_empty() {
            return FinalStep::Done;
        }
        let final_op = |f: &str, value: Value| Invocation {
            f: f.into(),
            value,
            final_phase: true,
        };
        match w.stage {
            FinalStage::Crash => {
                w.stage = FinalStage::Assign;
                FinalStep::Op(final_op("crash", Value::Null))
            }
            FinalStage::Assign => {
                w.stage = FinalStage::Poll { slept: true };
                // Maelstrom's keys are integers until sent: numeric order.
                let mut keys: Vec<&String> = self
                    .final_targets
                    .as_ref()
                    .map(|t| t.keys().collect())
                    .unwrap_or_default();
                keys.sort_by_key(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k.as_str()));
                FinalStep::Op(final_op("assign", json!(keys)))
            }
            FinalStage::Poll { slept: false } => {
                w.stage = FinalStage::Poll { slept: true };
                FinalStep::Sleep(Duration::from_secs_f64(
                    rng.gen_range(0.0..FINAL_POLL_SPACING),
                ))
            }
            FinalStage::Poll { slept: true } => {
                w.stage = FinalStage::Poll { slept: false };
                FinalStep::Op(final_op("poll", json!([["poll"]])))
            }
        }
    }

    fn final_time_limit(&self) -> Option<Duration> {
        Some(FINAL_TIME_LIMIT)
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(KafkaClient::default())
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(checkers::kafka::Kafka)
    }
}

/// What a client waits for.
#[derive(Debug, Clone, Default)]
enum Awaiting {
    #[default]
    Nothing,
    /// `list_committed_offsets_ok` for these assigned keys.
    Committed(Vec<String>),
    /// `poll_ok`.
    Poll,
    /// `commit_offsets_ok`, after a poll that returned `msgs`.
    Commit(Value),
    /// `send_ok` for this key and message.
    Send(Value, Value),
}

/// One worker's kafka client: its assigned keys and next offsets.
#[derive(Debug, Default)]
pub struct KafkaClient {
    /// Assigned key → next offset to poll.
    offsets: BTreeMap<String, i64>,
    awaiting: Awaiting,
}

/// Idempotent operations (Maelstrom's kafka client: only `assign`).
const IDEMPOTENT: &[&str] = &["assign"];

fn done(c: Completion) -> ClientStep {
    ClientStep::Done(c)
}

fn fail(inv: &Invocation, why: &str) -> ClientStep {
    done(Completion {
        kind: OpType::Fail,
        value: inv.value.clone(),
        error: Some(json!(["invalid-op", why])),
    })
}

/// A JSON map of string → integer, or None.
fn int_map(v: Option<&Value>) -> Option<BTreeMap<String, i64>> {
    v?.as_object()?
        .iter()
        .map(|(k, o)| Some((k.clone(), o.as_i64()?)))
        .collect()
}

/// Validate a `poll_ok`'s `msgs`: key → array of `[integer, any]`.
fn valid_msgs(msgs: &Value) -> bool {
    msgs.as_object().is_some_and(|m| {
        m.values().all(|pairs| {
            pairs.as_array().is_some_and(|ps| {
                ps.iter().all(|p| {
                    p.as_array()
                        .is_some_and(|p| p.len() == 2 && p[0].as_i64().is_some())
                })
            })
        })
    })
}

impl KafkaClient {
    /// The client's assigned keys and next offsets (for tests).
    pub fn offsets(&self) -> &BTreeMap<String, i64> {
        &self.offsets
    }

    fn after_poll(&mut self, inv: &Invocation, body: &Value) -> ClientStep {
        if let Err(why) = check_closed_body(body, "poll_ok", &["msgs"]) {
            return done(malformed_reply(&inv.value, body, &why));
        }
        let msgs = body.get("msgs").cloned().unwrap_or(Value::Null);
        if !valid_msgs(&msgs) {
            return done(malformed_reply(
                &inv.value,
                body,
                "msgs is not a map of keys to [offset, msg] pairs",
            ));
        }
        let mut commits = Map::new();
        for (k, pairs) in msgs.as_object().into_iter().flatten() {
            let top = pairs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.get(0).and_then(Value::as_i64))
                .max();
            let next = top.map_or(0, |t| t.saturating_add(1));
            merge_max(&mut self.offsets, k, next);
            if let Some(t) = top {
                commits.insert(k.clone(), json!(t));
            }
        }
        if commits.is_empty() {
            return done(Completion::ok(json!([["poll", msgs]])));
        }
        self.awaiting = Awaiting::Commit(msgs);
        ClientStep::Call(json!({"type": "commit_offsets", "offsets": commits}))
    }
}

impl WorkloadClient for KafkaClient {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        self.awaiting = Awaiting::Nothing;
        match inv.f.as_str() {
            "crash" => done(Completion {
                kind: OpType::Info,
                value: inv.value.clone(),
                error: None,
            }),
            "assign" => {
                let Some(keys) = inv.value.as_array() else {
                    return fail(inv, "assign value is not a list of keys");
                };
                let keys: Vec<String> = keys.iter().map(key_text).collect();
                if inv.final_phase {
                    self.offsets = keys.into_iter().map(|k| (k, 0)).collect();
                    return done(Completion::ok(inv.value.clone()));
                }
                self.awaiting = Awaiting::Committed(keys.clone());
                ClientStep::Call(json!({"type": "list_committed_offsets", "keys": keys}))
            }
            "poll" => {
                self.awaiting = Awaiting::Poll;
                ClientStep::Call(json!({"type": "poll", "offsets": self.offsets}))
            }
            "send" => {
                let mop = inv.value.get(0).and_then(Value::as_array);
                let (Some(k), Some(v)) = (mop.and_then(|m| m.get(1)), mop.and_then(|m| m.get(2)))
                else {
                    return fail(inv, "send value is not [[\"send\", key, msg]]");
                };
                let key = Value::String(key_text(k));
                self.awaiting = Awaiting::Send(key.clone(), v.clone());
                ClientStep::Call(json!({"type": "send", "key": key, "msg": v}))
            }
            _ => fail(inv, "unknown operation"),
        }
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        let awaiting = std::mem::take(&mut self.awaiting);
        let body = match outcome {
            Ok(body) => body,
            Err(failure) => return done(map_failure(&inv.f, IDEMPOTENT, &inv.value, &failure)),
        };
        match awaiting {
            Awaiting::Nothing => done(malformed_reply(&inv.value, &body, "unexpected reply")),
            Awaiting::Committed(keys) => {
                if let Err(why) =
                    check_closed_body(&body, "list_committed_offsets_ok", &["offsets"])
                {
                    return done(malformed_reply(&inv.value, &body, &why));
                }
                let Some(committed) = int_map(body.get("offsets")) else {
                    return done(malformed_reply(&inv.value, &body, "offsets is not a map"));
                };
                self.offsets = keys
                    .into_iter()
                    .map(|k| {
                        let o = self
                            .offsets
                            .get(&k)
                            .or(committed.get(&k))
                            .copied()
                            .unwrap_or(0);
                        (k, o)
                    })
                    .collect();
                done(Completion::ok(inv.value.clone()))
            }
            Awaiting::Poll => self.after_poll(inv, &body),
            Awaiting::Commit(msgs) => {
                if let Err(why) = check_closed_body(&body, "commit_offsets_ok", &[]) {
                    return done(malformed_reply(&inv.value, &body, &why));
                }
                done(Completion::ok(json!([["poll", msgs]])))
            }
            Awaiting::Send(key, msg) => {
                if let Err(why) = check_closed_body(&body, "send_ok", &["offset"]) {
                    return done(malformed_reply(&inv.value, &body, &why));
                }
                let Some(offset) = body.get("offset").and_then(Value::as_i64) else {
                    return done(malformed_reply(
                        &inv.value,
                        &body,
                        "offset is not an integer",
                    ));
                };
                done(Completion::ok(json!([["send", key, [offset, msg]]])))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::RpcFailure;
    use rand::SeedableRng;

    fn reply(mut body: Value) -> RpcOutcome {
        body["in_reply_to"] = json!(1);
        Ok(body)
    }

    fn call(step: ClientStep) -> Value {
        match step {
            ClientStep::Call(v) => v,
            other => panic!("expected a call, got {other:?}"),
        }
    }

    fn finished(step: ClientStep) -> Completion {
        match step {
            ClientStep::Done(c) => c,
            other => panic!("expected a completion, got {other:?}"),
        }
    }

    #[test]
    fn client_assigns_polls_commits_and_resumes() {
        let mut c = KafkaClient::default();
        let assign = Invocation::new("assign", json!(["1", "2"]));
        let req = call(c.invoke(&assign));
        assert_eq!(
            req,
            json!({"type": "list_committed_offsets", "keys": ["1", "2"]})
        );
        let done = finished(c.on_reply(
            &assign,
            reply(json!({"type": "list_committed_offsets_ok", "offsets": {"2": 7}})),
        ));
        assert_eq!(done, Completion::ok(json!(["1", "2"])));
        assert_eq!(
            c.offsets(),
            &BTreeMap::from([("1".into(), 0), ("2".into(), 7)])
        );

        let poll = Invocation::new("poll", json!([["poll"]]));
        assert_eq!(call(c.invoke(&poll))["offsets"], json!({"1": 0, "2": 7}));
        let msgs = json!({"1": [[0, 5], [3, 6]], "2": []});
        let commit = call(c.on_reply(&poll, reply(json!({"type": "poll_ok", "msgs": msgs}))));
        assert_eq!(
            commit,
            json!({"type": "commit_offsets", "offsets": {"1": 3}})
        );
        let done = finished(c.on_reply(&poll, reply(json!({"type": "commit_offsets_ok"}))));
        assert_eq!(done, Completion::ok(json!([["poll", msgs]])));
        assert_eq!(c.offsets()["1"], 4);
        assert_eq!(c.offsets()["2"], 7);

        // A later assign keeps local offsets, takes committed ones for new
        // keys, and drops keys it no longer names.
        let assign = Invocation::new("assign", json!(["1", "3"]));
        call(c.invoke(&assign));
        let resp = json!({"type": "list_committed_offsets_ok", "offsets": {"1": 1, "3": 9}});
        finished(c.on_reply(&assign, reply(resp)));
        assert_eq!(
            c.offsets(),
            &BTreeMap::from([("1".into(), 4), ("3".into(), 9)])
        );

        // A poll that returns nothing commits nothing.
        call(c.invoke(&poll));
        let done = finished(c.on_reply(&poll, reply(json!({"type": "poll_ok", "msgs": {}}))));
        assert_eq!(done, Completion::ok(json!([["poll", {}]])));
    }

    #[test]
    fn client_sends_crashes_and_maps_errors() {
        let mut c = KafkaClient::default();
        let send = Invocation::new("send", json!([["send", "4", 2]]));
        assert_eq!(
            call(c.invoke(&send)),
            json!({"type": "send", "key": "4", "msg": 2})
        );
        let done = finished(c.on_reply(&send, reply(json!({"type": "send_ok", "offset": 10}))));
        assert_eq!(done, Completion::ok(json!([["send", "4", [10, 2]]])));

        call(c.invoke(&send));
        let done = finished(c.on_reply(&send, Err(RpcFailure::Timeout)));
        assert_eq!(done.kind, OpType::Info);
        call(c.invoke(&send));
        let err = RpcFailure::Error {
            code: 11,
            text: "no".into(),
            body: Value::Null,
        };
        assert_eq!(finished(c.on_reply(&send, Err(err))).kind, OpType::Fail);
        let assign = Invocation::new("assign", json!(["1"]));
        call(c.invoke(&assign));
        let done = finished(c.on_reply(&assign, Err(RpcFailure::Timeout)));
        assert_eq!(done.kind, OpType::Fail, "assign is idempotent");

        // Malformed replies are indeterminate.
        call(c.invoke(&send));
        let bad = reply(json!({"type": "send_ok", "offset": "ten"}));
        assert_eq!(finished(c.on_reply(&send, bad)).kind, OpType::Info);
        let poll = Invocation::new("poll", json!([["poll"]]));
        call(c.invoke(&poll));
        let bad = reply(json!({"type": "poll_ok", "msgs": {"1": [[0]]}}));
        assert_eq!(finished(c.on_reply(&poll, bad)).kind, OpType::Info);
        call(c.invoke(&poll));
        let bad = reply(json!({"type": "poll_ok", "msgs": {}, "extra": 1}));
        assert_eq!(finished(c.on_reply(&poll, bad)).kind, OpType::Info);

        let crash = Invocation::new("crash", Value::Null);
        assert_eq!(finished(c.invoke(&crash)).kind, OpType::Info);

        // A final-phase assign seeks to the beginning without an RPC.
        let mut seek = Invocation::new("assign", json!(["1", "2"]));
        seek.final_phase = true;
        assert_eq!(finished(c.invoke(&seek)), Completion::ok(json!(["1", "2"])));
        assert_eq!(
            c.offsets(),
            &BTreeMap::from([("1".into(), 0), ("2".into(), 0)])
        );
    }

    fn ctx<'a>(opts: &'a TestOpts, worker: usize, secs: f64) -> GenCtx<'a> {
        GenCtx {
            worker,
            process: worker as u64,
            node: "n0",
            time: Duration::from_secs_f64(secs),
            opts,
        }
    }

    #[test]
    fn generator_mix_keys_values_and_crashes() {
        let opts = TestOpts {
            concurrency: 4,
            ..TestOpts::with_nodes(2)
        };
        let mut w = Kafka::new(&opts);
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut per_key: HashMap<String, Vec<i64>> = HashMap::new();
        let n = 20_000;
        let mut crashes = 0;
        for i in 0..n {
            // 20 s at 1000 ops/s.
            let inv = w
                .next_op(&ctx(&opts, i % 4, i as f64 / 1000.0), &mut rng)
                .unwrap();
            *counts.entry(inv.f.clone()).or_default() += 1;
            if inv.f == "send" {
                let k = inv.value[0][1].as_str().unwrap().to_string();
                per_key
                    .entry(k)
                    .or_default()
                    .push(inv.value[0][2].as_i64().unwrap());
            }
            if inv.f == "crash" {
                crashes += 1;
            }
        }
        let frac = |f: &str| counts.get(f).copied().unwrap_or(0) as f64 / n as f64;
        assert!((frac("send") - frac("poll")).abs() < 0.03, "{counts:?}");
        assert!(
            (frac("assign") - ASSIGN_PROBABILITY).abs() < 0.01,
            "{counts:?}"
        );
        // 20 s, 4 clients, one crash per client per ~30 s: about 2.7.
        assert!((1..=8).contains(&crashes), "{crashes}");
        // Values count 1, 2, … per key, at most 16 of them.
        for vs in per_key.values() {
            let want: Vec<i64> = (1..=vs.len() as i64).collect();
            assert_eq!(vs, &want);
            assert!(vs.len() <= 16);
        }
        assert!(per_key.len() > 10, "keys are retired and replaced");
    }

    #[test]
    fn exponential_key_choice_favours_the_last_key() {
        let opts = TestOpts::with_nodes(1);
        let w = Kafka::new(&opts);
        let mut rng = StdRng::seed_from_u64(1);
        let mut hits = [0usize; 10];
        for _ in 0..100_000 {
            hits[w.keys.key_index(&mut rng)] += 1;
        }
        let last = hits[9] as f64 / 100_000.0;
        assert!((last - 0.5).abs() < 0.01, "{hits:?}");
        assert!(hits[8] > hits[7] && hits[7] > hits[6], "{hits:?}");
    }

    #[test]
    fn assigns_are_widened_with_unpolled_keys() {
        let opts = TestOpts::with_nodes(1);
        let mut w = Kafka::new(&opts);
        let c = ctx(&opts, 0, 0.0);
        let send = Invocation::new("send", json!([["send", "77", 1]]));
        w.on_complete(&c, &send, &Completion::ok(json!([["send", "77", [3, 1]]])));
        let mut rng = StdRng::seed_from_u64(3);
        let mut widened = 0;
        let mut assigns = 0;
        w.next_crash = Some(1e9);
        for _ in 0..20_000 {
            let inv = w.next_op(&c, &mut rng).unwrap();
            if inv.f == "assign" {
                assigns += 1;
                if inv.value.as_array().unwrap().contains(&json!("77")) {
                    widened += 1;
                }
            }
        }
        let share = widened as f64 / assigns as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.1, "{widened}/{assigns}");
        // Once polled, the key is no longer unseen.
        let poll = Invocation::new("poll", json!([["poll"]]));
        w.on_complete(
            &c,
            &poll,
            &Completion::ok(json!([["poll", {"77": [[3, 1]]}]])),
        );
        assert!(w.sent.is_empty());
    }

    #[test]
    fn final_phase_crashes_seeks_and_polls_until_caught_up() {
        let opts = TestOpts::with_nodes(1);
        let mut w = Kafka::new(&opts);
        let c = ctx(&opts, 0, 30.0);
        let send = Invocation::new("send", json!([["send", "1", 1]]));
        w.on_complete(&c, &send, &Completion::ok(json!([["send", "1", [4, 1]]])));
        let other = Invocation::new("send", json!([["send", "10", 1]]));
        w.on_complete(&c, &other, &Completion::ok(json!([["send", "10", [0, 1]]])));
        let two = Invocation::new("send", json!([["send", "2", 1]]));
        w.on_complete(&c, &two, &Completion::ok(json!([["send", "2", [0, 1]]])));
        let mut rng = StdRng::seed_from_u64(3);
        let FinalStep::Op(crash) = w.final_step(&c, &mut rng) else {
            panic!("crash first")
        };
        assert_eq!((crash.f.as_str(), crash.final_phase), ("crash", true));
        let FinalStep::Op(assign) = w.final_step(&c, &mut rng) else {
            panic!("then assign")
        };
        assert_eq!(assign.value, json!(["1", "2", "10"]));
        let FinalStep::Op(poll) = w.final_step(&c, &mut rng) else {
            panic!("then poll")
        };
        assert_eq!(poll.f, "poll");
        w.on_complete(
            &c,
            &poll,
            &Completion::ok(json!([["poll", {"1": [[1, 9]]}]])),
        );
        let FinalStep::Sleep(d) = w.final_step(&c, &mut rng) else {
            panic!("polls are spaced")
        };
        assert!(d < Duration::from_millis(400));
        assert!(matches!(w.final_step(&c, &mut rng), FinalStep::Op(_)));
        let caught_up = json!([["poll", {"1": [[4, 1]], "2": [[0, 1]], "10": [[0, 1]]}]]);
        w.on_complete(&c, &poll, &Completion::ok(caught_up));
        assert_eq!(w.final_step(&c, &mut rng), FinalStep::Done);
        // Another worker still has to catch up by itself.
        let c1 = ctx(&opts, 1, 30.0);
        assert!(matches!(w.final_step(&c1, &mut rng), FinalStep::Op(i) if i.f == "crash"));
        assert_eq!(w.final_time_limit(), Some(Duration::from_secs(10)));
    }
}
