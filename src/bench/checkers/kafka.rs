//! The kafka checker: Jepsen's Kafka analysis as Maelstrom 0.2.3 (Jepsen
//! 0.3.1) runs it (`jepsen: jepsen/src/jepsen/tests/kafka.clj`, `checker`),
//! rewritten from its behaviour.
//!
//! # What it builds
//!
//! * **Version orders.** Per key, offset → set of messages, from every
//!   completion that *must have committed*: `ok` sends and polls, and `info`
//!   sends one of whose messages an `ok` poll returned. A message's *index*
//!   is its offset's position among the non-empty offsets (offsets may be
//!   sparse).
//! * `writer-of` (key, message) → the last completion that sent it (any
//!   type), and `readers-of` (key, message) → every completion that polled
//!   it.
//!
//! # Anomalies
//!
//! | error type | meaning |
//! |---|---|
//! | `inconsistent-offsets` | an offset holds two or more messages |
//! | `duplicate` | a message sits at two or more offsets |
//! | `lost-write` | below the highest index an `ok` poll reached, a committed message no `ok` poll returned |
//! | `unseen` | at the end, an `ok` send's message no `ok` poll returned |
//! | `poll-skip` / `nonmonotonic-poll` | between two successive polls of a key by one process, the index jumps by more than one / fails to advance (an `ok` assign keeps tracking only the keys it assigns) |
//! | `int-poll-skip` / `int-nonmonotonic-poll` | the same between neighbours inside one poll |
//! | `nonmonotonic-send` | a process's successive sends to a key do not advance |
//! | `int-send-skip` / `int-nonmonotonic-send` | within one multi-send transaction (never happens with one micro-op; kept for completeness) |
//! | `G1a` | an `ok` poll returned a message whose send failed |
//! | `G1c` / `G1c-realtime` | a cycle of write→read edges, with real-time edges for the second |
//!
//! Allowed (reported, not invalidating): `int-send-skip`, `G0`,
//! `G0-process`, `G0-realtime`, `PL-1-cycle-exists`,
//! `strong-PL-1-cycle-exists`.
//!
//! # Cycles
//!
//! Jepsen hands Elle a graph of write→read edges (a send → every poll that
//! returned its message; no write→write edges, since `ww-deps` is off) plus
//! real-time edges for `strict-serializable`. Without write→write or
//! read→write edges, and with sends that never read, the only possible
//! cycles pass through real-time edges: a poll that returned a message whose
//! send began only after the poll had finished, directly or through a chain.
//! We search exactly that graph: every send/poll completion is a vertex; the
//! real-time order is a chain of history positions (an `ok` operation links
//! to the position of its completion, each position to the next, and each
//! position to the operation invoked there), which keeps the graph linear in
//! the history. Strongly connected components with two or more operations
//! are cycles; one cycle per component is reported, as `G1c-realtime` if it
//! uses a real-time edge, else `G1c`. As in Elle's real-time graph, only
//! `ok` operations have outgoing real-time edges (`info` ones may complete
//! at any time, `fail` ones did not happen); edges go into every operation
//! invoked later, whatever its outcome. G-single, G2 and the `-process`
//! variants need read→write edges, which this graph never has.
//!
//! # Differences from Jepsen 0.3.7 (Maelstrom 0.2.4+), where 0.2.3 is followed
//!
//! * Version orders use only completions that must have committed; 0.3.7
//!   also uses `info` and `fail` polls. Maelstrom records no reads in those,
//!   so verdicts agree on Maelstrom histories.
//! * `duplicate` counts the first message of each offset; 0.3.7 counts every
//!   message seen at each offset (it also reports their offsets).
//! * No `precommitted-read` (0.3.7, transactional mode only).
//! * `PL-1-cycle-exists` and `strong-PL-1-cycle-exists` are allowed, as in
//!   0.3.7; this search never produces them.
//!
//! # Where Jepsen 0.3.1 throws
//!
//! Jepsen's checker throws, and Maelstrom reports `valid? unknown`, when a
//! poll returns a message nobody sent (no writer for the write→read graph),
//! and when there is no realtime-lag sample at all. We report those the same
//! way (`unknown`, with `error`) unless some invalidating anomaly was found,
//! in which case we say `false`: stricter, never more lenient. Negative
//! offsets (which would make Jepsen's vector-backed logs throw) are also
//! `unknown`.

use super::{graph, Checker, Input};
use crate::bench::history::{History, Op, OpType, Process};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A message, identified by its JSON text (messages may be any JSON).
type Msg = String;
/// A key.
type Key = String;
/// Write→read edges of the cycle graph: (writer, reader) → the key and
/// message read.
type WrEdges = HashMap<(usize, usize), (Key, Msg)>;

/// Error types that do not invalidate a test.
pub const ALLOWED: &[&str] = &[
    "int-send-skip",
    "G0",
    "G0-process",
    "G0-realtime",
    "PL-1-cycle-exists",
    "strong-PL-1-cycle-exists",
];

/// Which operation a completion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Send,
    Poll,
    Assign,
    Other,
}

/// One client completion, parsed.
#[derive(Debug)]
struct Txn<'a> {
    /// The completion entry.
    op: &'a Op,
    /// History index of its invocation.
    invoke_index: Option<usize>,
    /// Time of its invocation.
    invoke_time: u64,
    f: F,
    /// `(key, offset, message)` per send micro-op.
    writes: Vec<(Key, Option<i64>, Msg)>,
    /// Key → `(offset, message)` pairs, per poll micro-op, in order.
    reads: BTreeMap<Key, Vec<(Option<i64>, Msg)>>,
    /// Keys of an assign.
    assigned: Vec<Key>,
}

impl Txn<'_> {
    fn read_values(&self, k: &str) -> Option<Vec<&Msg>> {
        self.reads
            .get(k)
            .map(|ps| ps.iter().map(|(_, v)| v).collect())
    }

    fn write_values(&self, k: &str) -> Vec<&Msg> {
        self.writes
            .iter()
            .filter(|(wk, _, _)| wk == k)
            .map(|(_, _, v)| v)
            .collect()
    }

    /// Keys written, in first-write order.
    fn write_keys(&self) -> Vec<&Key> {
        let mut ks: Vec<&Key> = Vec::new();
        for (k, _, _) in &self.writes {
            if !ks.contains(&k) {
                ks.push(k);
            }
        }
        ks
    }
}

fn msg_text(v: &Value) -> Msg {
    v.to_string()
}

fn msg_value(m: &str) -> Value {
    serde_json::from_str(m).unwrap_or_else(|_| Value::String(m.to_string()))
}

/// A key as text: strings as they are, anything else as JSON (the
/// workload's client sends keys this way too).
pub fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn key_of(v: &Value) -> Key {
    key_text(v)
}

/// Parse an offset: an integer, or null / absent (unknown). Anything else
/// is unknown too.
fn offset_of(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

fn parse_txn<'a>(op: &'a Op, invoke: Option<&'a Op>) -> Txn<'a> {
    let f = match op.f.as_str() {
        "send" => F::Send,
        "poll" => F::Poll,
        "assign" => F::Assign,
        _ => F::Other,
    };
    let mut t = Txn {
        op,
        invoke_index: invoke.map(|i| i.index),
        invoke_time: invoke.map_or(op.time, |i| i.time),
        f,
        writes: Vec::new(),
        reads: BTreeMap::new(),
        assigned: Vec::new(),
    };
    match f {
        F::Assign => {
            t.assigned = op
                .value
                .as_array()
                .map(|ks| ks.iter().map(key_of).collect())
                .unwrap_or_default();
        }
        F::Send | F::Poll => {
            for mop in op.value.as_array().into_iter().flatten() {
                let Some(mop) = mop.as_array() else { continue };
                match mop.first().and_then(Value::as_str) {
                    Some("send") if f == F::Send => {
                        let (Some(k), Some(v)) = (mop.get(1), mop.get(2)) else {
                            continue;
                        };
                        // `[offset, msg]` once acknowledged, the bare message
                        // before; Jepsen tells them apart by shape.
                        let (o, m) = match v.as_array() {
                            Some(pair) if pair.len() == 2 => {
                                (offset_of(pair.first()), msg_text(&pair[1]))
                            }
                            _ => (None, msg_text(v)),
                        };
                        t.writes.push((key_of(k), o, m));
                    }
                    Some("poll") if f == F::Poll => {
                        let Some(msgs) = mop.get(1).and_then(Value::as_object) else {
                            continue;
                        };
                        for (k, pairs) in msgs {
                            let e = t.reads.entry(k.clone()).or_default();
                            for p in pairs.as_array().into_iter().flatten() {
                                let Some(p) = p.as_array() else { continue };
                                let Some(m) = p.get(1) else { continue };
                                e.push((offset_of(p.first()), msg_text(m)));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        F::Other => {}
    }
    t
}

/// Per key: the log and its dense views.
#[derive(Debug, Default)]
struct VersionOrder {
    /// Non-empty offsets in order, with the messages seen there.
    log: Vec<(i64, BTreeSet<Msg>)>,
    /// Dense index → one message (the least, where several conflict).
    by_index: Vec<Msg>,
    /// Message → dense index (its last appearance).
    by_value: HashMap<Msg, usize>,
}

impl VersionOrder {
    fn index(&self, v: &str) -> Option<usize> {
        self.by_value.get(v).copied()
    }
}

/// Everything the checks share.
struct Analysis<'a> {
    txns: Vec<Txn<'a>>,
    ok_reads: HashMap<Key, HashSet<Msg>>,
    failed_writes: HashMap<Key, HashSet<Msg>>,
    orders: BTreeMap<Key, VersionOrder>,
    writer_of: HashMap<(Key, Msg), usize>,
    readers_of: BTreeMap<(Key, Msg), Vec<usize>>,
    /// Problems that make Jepsen's checker throw.
    crashes: Vec<String>,
}

impl<'a> Analysis<'a> {
    fn new(history: &'a History) -> Self {
        let partner = history.pairs();
        let mut txns = Vec::new();
        for op in &history.ops {
            if op.kind == OpType::Invoke || !op.is_client() {
                continue;
            }
            let invoke = partner[op.index].and_then(|i| history.ops.get(i));
            txns.push(parse_txn(op, invoke));
        }
        let mut ok_reads: HashMap<Key, HashSet<Msg>> = HashMap::new();
        let mut failed_writes: HashMap<Key, HashSet<Msg>> = HashMap::new();
        let mut writer_of = HashMap::new();
        let mut readers_of: BTreeMap<(Key, Msg), Vec<usize>> = BTreeMap::new();
        for (i, t) in txns.iter().enumerate() {
            for (k, pairs) in &t.reads {
                for (_, v) in pairs {
                    if t.op.kind == OpType::Ok {
                        ok_reads.entry(k.clone()).or_default().insert(v.clone());
                    }
                    readers_of
                        .entry((k.clone(), v.clone()))
                        .or_default()
                        .push(i);
                }
            }
            for (k, _, v) in &t.writes {
                if t.op.kind == OpType::Fail {
                    failed_writes
                        .entry(k.clone())
                        .or_default()
                        .insert(v.clone());
                }
                writer_of.insert((k.clone(), v.clone()), i);
            }
        }
        let mut a = Analysis {
            txns,
            ok_reads,
            failed_writes,
            orders: BTreeMap::new(),
            writer_of,
            readers_of,
            crashes: Vec::new(),
        };
        a.build_orders();
        a
    }

    /// Jepsen's `must-have-committed?`.
    fn committed(&self, t: &Txn<'_>) -> bool {
        match t.op.kind {
            OpType::Ok => true,
            OpType::Info => t
                .writes
                .iter()
                .any(|(k, _, v)| self.ok_reads.get(k).is_some_and(|s| s.contains(v))),
            _ => false,
        }
    }

    fn build_orders(&mut self) {
        let mut logs: BTreeMap<Key, BTreeMap<i64, BTreeSet<Msg>>> = BTreeMap::new();
        for t in &self.txns {
            if !matches!(t.f, F::Send | F::Poll) || !self.committed(t) {
                continue;
            }
            let pairs = t.writes.iter().map(|(k, o, v)| (k, *o, v)).chain(
                t.reads
                    .iter()
                    .flat_map(|(k, ps)| ps.iter().map(move |(o, v)| (k, *o, v))),
            );
            for (k, o, v) in pairs {
                let Some(o) = o else { continue };
                if o < 0 {
                    self.crashes
                        .push(format!("negative offset {o} for key {k}"));
                    continue;
                }
                logs.entry(k.clone())
                    .or_default()
                    .entry(o)
                    .or_default()
                    .insert(v.clone());
            }
        }
        for (k, log) in logs {
            let log: Vec<(i64, BTreeSet<Msg>)> = log.into_iter().collect();
            let by_index: Vec<Msg> = log
                .iter()
                .filter_map(|(_, vs)| vs.iter().next().cloned())
                .collect();
            let by_value = by_index
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i))
                .collect();
            self.orders.insert(
                k,
                VersionOrder {
                    log,
                    by_index,
                    by_value,
                },
            );
        }
    }

    fn op_json(&self, i: usize) -> Value {
        serde_json::to_value(self.txns[i].op).unwrap_or(Value::Null)
    }

    fn writer_json(&self, k: &str, v: &str) -> Value {
        match self.writer_of.get(&(k.to_string(), v.to_string())) {
            Some(&w) => self.op_json(w),
            None => Value::Null,
        }
    }

    fn inconsistent_offsets(&self) -> Vec<Value> {
        let mut errs = Vec::new();
        for (k, vo) in &self.orders {
            for (index, (offset, vs)) in vo.log.iter().enumerate() {
                if vs.len() > 1 {
                    errs.push(json!({
                        "key": k, "offset": offset, "index": index,
                        "values": vs.iter().map(|v| msg_value(v)).collect::<Vec<_>>(),
                    }));
                }
            }
        }
        errs
    }

    fn duplicates(&self) -> Vec<Value> {
        let mut errs = Vec::new();
        for (k, vo) in &self.orders {
            let mut freq: BTreeMap<&Msg, usize> = BTreeMap::new();
            for v in &vo.by_index {
                *freq.entry(v).or_default() += 1;
            }
            for (v, n) in freq {
                if n > 1 {
                    errs.push(json!({"key": k, "value": msg_value(v), "count": n}));
                }
            }
        }
        errs
    }

    fn g1a(&self) -> Vec<Value> {
        let mut errs = Vec::new();
        for (i, t) in self.txns.iter().enumerate() {
            if t.op.kind != OpType::Ok || t.f != F::Poll {
                continue;
            }
            for (k, pairs) in &t.reads {
                for (_, v) in pairs {
                    if self.failed_writes.get(k).is_some_and(|s| s.contains(v)) {
                        errs.push(json!({
                            "key": k, "value": msg_value(v),
                            "writer": self.writer_json(k, v), "reader": self.op_json(i),
                        }));
                    }
                }
            }
        }
        errs
    }

    fn lost_writes(&mut self) -> Vec<Value> {
        let mut errs = Vec::new();
        let mut crashes = Vec::new();
        let keys: BTreeSet<&Key> = self.ok_reads.keys().collect();
        for k in keys {
            let vs = &self.ok_reads[k];
            let Some(vo) = self.orders.get(k) else {
                continue;
            };
            let mut first_index: HashMap<&Msg, usize> = HashMap::new();
            let mut last_index: HashMap<&Msg, usize> = HashMap::new();
            for (i, (_, set)) in vo.log.iter().enumerate() {
                for v in set {
                    first_index.entry(v).or_insert(i);
                    last_index.insert(v, i);
                }
            }
            let Some(bound) = vs.iter().filter_map(|v| first_index.get(v)).max().copied() else {
                continue;
            };
            let mut by_last: BTreeMap<usize, BTreeSet<&Msg>> = BTreeMap::new();
            for (v, i) in &last_index {
                by_last.entry(*i).or_default().insert(v);
            }
            let max_read = by_last
                .get(&bound)
                .and_then(|s| s.iter().next())
                .and_then(|v| self.readers_of.get(&(k.clone(), (*v).clone())))
                .and_then(|r| r.first())
                .map_or(Value::Null, |&r| self.op_json(r));
            for (_, set) in by_last.range(..=bound) {
                for v in set {
                    if vs.contains(*v) {
                        continue;
                    }
                    let Some(&w) = self.writer_of.get(&(k.clone(), (*v).clone())) else {
                        crashes.push(format!("no writer of message {v} in key {k}"));
                        continue;
                    };
                    if !self.committed(&self.txns[w]) {
                        continue;
                    }
                    errs.push(json!({
                        "key": k, "value": msg_value(v), "index": first_index.get(*v),
                        "max-read-index": bound, "writer": self.op_json(w),
                        "max-read": max_read,
                    }));
                }
            }
        }
        self.crashes.extend(crashes);
        errs
    }

    /// `(skip, nonmonotonic)` between neighbours inside one poll (or, with
    /// `sends`, inside one transaction's sends).
    fn internal(&self, sends: bool) -> (Vec<Value>, Vec<Value>) {
        let (mut skips, mut nm) = (Vec::new(), Vec::new());
        for (i, t) in self.txns.iter().enumerate() {
            let seqs: Vec<(&Key, Vec<&Msg>)> = if sends {
                t.write_keys()
                    .into_iter()
                    .map(|k| (k, t.write_values(k)))
                    .collect()
            } else {
                t.reads
                    .iter()
                    .map(|(k, ps)| (k, ps.iter().map(|(_, v)| v).collect()))
                    .collect()
            };
            for (k, vs) in seqs {
                let Some(vo) = self.orders.get(k) else {
                    continue;
                };
                for w in vs.windows(2) {
                    let (i1, i2) = (vo.index(w[0]), vo.index(w[1]));
                    let delta = match (i1, i2) {
                        (Some(a), Some(b)) => b as i64 - a as i64,
                        _ => 1,
                    };
                    let values = json!([msg_value(w[0]), msg_value(w[1])]);
                    if delta > 1 {
                        let (a, b) = (i1.unwrap_or(0), i2.unwrap_or(0));
                        let skipped: Vec<Value> =
                            vo.by_index[a + 1..b].iter().map(|v| msg_value(v)).collect();
                        skips.push(json!({"key": k, "values": values, "delta": delta,
                            "skipped": skipped, "op": self.op_json(i)}));
                    } else if delta < 1 {
                        nm.push(json!({"key": k, "values": values, "delta": delta,
                            "op": self.op_json(i)}));
                    }
                }
            }
        }
        (skips, nm)
    }

    /// Completions grouped by process, in history order.
    fn by_process(&self) -> BTreeMap<Process, Vec<usize>> {
        let mut m: BTreeMap<Process, Vec<usize>> = BTreeMap::new();
        for (i, t) in self.txns.iter().enumerate() {
            m.entry(t.op.process).or_default().push(i);
        }
        m
    }

    /// `(poll-skip, nonmonotonic-poll)` between a process's successive polls.
    fn poll_skips(&self) -> (Vec<Value>, Vec<Value>) {
        let (mut skips, mut nm) = (Vec::new(), Vec::new());
        for ops in self.by_process().values() {
            let mut last: HashMap<&Key, usize> = HashMap::new();
            for &i in ops {
                let t = &self.txns[i];
                match t.f {
                    F::Assign if t.op.kind != OpType::Fail => {
                        last.retain(|k, _| t.assigned.contains(k));
                    }
                    F::Poll => {
                        for (k, pairs) in &t.reads {
                            let Some(&prev) = last.get(k) else { continue };
                            let Some(vo) = self.orders.get(k) else {
                                continue;
                            };
                            let v = self.txns[prev]
                                .read_values(k)
                                .and_then(|vs| vs.last().copied());
                            let v2 = pairs.first().map(|(_, v)| v);
                            let (i1, i2) =
                                (v.and_then(|v| vo.index(v)), v2.and_then(|v| vo.index(v)));
                            let delta = match (i1, i2) {
                                (Some(a), Some(b)) => b as i64 - a as i64,
                                _ => 1,
                            };
                            let pair = || [self.op_json(prev), self.op_json(i)];
                            if delta > 1 {
                                let (a, b) = (i1.unwrap_or(0), i2.unwrap_or(0));
                                let skipped: Vec<Value> =
                                    vo.by_index[a + 1..b].iter().map(|v| msg_value(v)).collect();
                                skips.push(json!({"key": k, "delta": delta,
                                    "skipped": skipped, "ops": pair()}));
                            } else if delta < 1 {
                                let values =
                                    json!([v.map(|v| msg_value(v)), v2.map(|v| msg_value(v))]);
                                nm.push(json!({"key": k, "values": values, "delta": delta,
                                    "ops": pair()}));
                            }
                        }
                        for k in t.reads.keys() {
                            last.insert(k, i);
                        }
                    }
                    _ => {}
                }
            }
        }
        (skips, nm)
    }

    fn nonmonotonic_sends(&self) -> Vec<Value> {
        let mut errs = Vec::new();
        for ops in self.by_process().values() {
            let mut last: HashMap<&Key, usize> = HashMap::new();
            for &i in ops {
                let t = &self.txns[i];
                if !matches!(t.op.kind, OpType::Ok | OpType::Info) {
                    continue;
                }
                match t.f {
                    F::Assign => last.retain(|k, _| t.assigned.contains(k)),
                    F::Send => {
                        for k in t.write_keys() {
                            if let Some(&prev) = last.get(k) {
                                if let Some(vo) = self.orders.get(k) {
                                    let v = self.txns[prev].write_values(k).last().copied();
                                    let v2 = t.write_values(k).first().copied();
                                    let i1 = v.and_then(|v| vo.index(v));
                                    let i2 = v2.and_then(|v| vo.index(v));
                                    if let (Some(a), Some(b)) = (i1, i2) {
                                        let delta = b as i64 - a as i64;
                                        if delta < 1 {
                                            errs.push(json!({
                                                "key": k,
                                                "values": [v.map(|v| msg_value(v)), v2.map(|v| msg_value(v))],
                                                "delta": delta,
                                                "ops": [self.op_json(prev), self.op_json(i)],
                                            }));
                                        }
                                    }
                                }
                            }
                        }
                        for k in t.write_keys() {
                            last.insert(k, i);
                        }
                    }
                    _ => {}
                }
            }
        }
        errs
    }

    /// The final unseen map: `(time, key → count, key → messages)`.
    fn unseen(&self) -> Option<(u64, BTreeMap<Key, BTreeSet<Msg>>)> {
        let mut sent: BTreeMap<Key, BTreeSet<Msg>> = BTreeMap::new();
        let mut polled: HashMap<Key, HashSet<Msg>> = HashMap::new();
        let mut time = None;
        for t in &self.txns {
            if t.op.kind != OpType::Ok || !matches!(t.f, F::Send | F::Poll) {
                continue;
            }
            time = Some(t.op.time);
            for (k, ps) in &t.reads {
                for (_, v) in ps {
                    polled.entry(k.clone()).or_default().insert(v.clone());
                    if let Some(s) = sent.get_mut(k) {
                        s.remove(v);
                    }
                }
            }
            for (k, _, v) in &t.writes {
                if !polled.get(k).is_some_and(|p| p.contains(v)) {
                    sent.entry(k.clone()).or_default().insert(v.clone());
                }
            }
        }
        sent.retain(|_, s| !s.is_empty());
        time.map(|t| (t, sent))
    }

    /// Every realtime-lag sample: `(invoke time, process, key, lag)`, ns.
    fn realtime_lags(&self) -> Vec<(u64, Process, Key, u64)> {
        // Per key, breakpoints (highest offset known, time first known): an
        // offset o was known to exist from the time of the first breakpoint
        // whose offset is ≥ o.
        let mut known: HashMap<&Key, Vec<(i64, u64)>> = HashMap::new();
        for t in &self.txns {
            if !matches!(t.op.kind, OpType::Ok | OpType::Info) {
                continue;
            }
            for (k, o) in self.max_offsets(t) {
                let bps = known.entry(k).or_default();
                if bps.last().is_none_or(|(top, _)| o > *top) {
                    bps.push((o, t.op.time));
                }
            }
        }
        let expired_at = |k: &Key, o: i64| -> Option<u64> {
            let bps = known.get(k)?;
            let i = bps.partition_point(|(top, _)| *top < o);
            bps.get(i).map(|(_, t)| *t)
        };
        let mut lags = Vec::new();
        let mut process_offsets: HashMap<Process, BTreeMap<&Key, i64>> = HashMap::new();
        for t in &self.txns {
            if t.op.kind != OpType::Ok {
                continue;
            }
            match t.f {
                F::Assign => {
                    let old = process_offsets.remove(&t.op.process).unwrap_or_default();
                    let new = t
                        .assigned
                        .iter()
                        .map(|k| (k, old.get(k).copied().unwrap_or(-1)))
                        .collect();
                    process_offsets.insert(t.op.process, new);
                }
                F::Poll => {
                    let offsets = process_offsets.entry(t.op.process).or_default();
                    for (k, o) in self.max_offsets(t) {
                        let e = offsets.entry(k).or_insert(o);
                        *e = (*e).max(o);
                    }
                    for (k, o) in offsets.iter() {
                        let lag = expired_at(k, o.saturating_add(1))
                            .map_or(0, |at| t.invoke_time.saturating_sub(at));
                        lags.push((t.invoke_time, t.op.process, (*k).clone(), lag));
                    }
                }
                _ => {}
            }
        }
        lags
    }

    /// Jepsen's `op->max-offsets`: per key, the highest offset sent or
    /// polled (-1 for a key polled with no pairs).
    fn max_offsets<'t>(&self, t: &'t Txn<'_>) -> BTreeMap<&'t Key, i64> {
        let mut m: BTreeMap<&Key, i64> = BTreeMap::new();
        for (k, ps) in &t.reads {
            let top = ps.iter().filter_map(|(o, _)| *o).fold(-1, i64::max);
            let e = m.entry(k).or_insert(top);
            *e = (*e).max(top);
        }
        for (k, o, _) in &t.writes {
            if let Some(o) = o {
                let e = m.entry(k).or_insert(*o);
                *e = (*e).max(*o);
            }
        }
        m
    }

    /// The write→read and real-time graph (see the module docs): vertex
    /// `i < n` is `txns[i]`, vertex `n + pos` is history position `pos`;
    /// with the key and message of each write→read edge. None when there
    /// is no write→read edge (so no cycle) or the graph is too large.
    fn cycle_graph(&mut self, history_len: usize) -> Option<(Vec<Vec<u32>>, WrEdges)> {
        let n = self.txns.len();
        let chain = |pos: usize| n + pos;
        let total = n + history_len + 1;
        if u32::try_from(total).is_err() {
            self.crashes.push(format!(
                "the history is too long to search for cycles ({total} vertices)"
            ));
            return None;
        }
        // Vertex numbers fit in u32 (checked above), as the graph kernel wants.
        let v32 = |v: usize| v as u32;
        let mut succ: Vec<Vec<u32>> = vec![Vec::new(); total];
        let mut wr: WrEdges = HashMap::new();
        let mut crashes = Vec::new();
        for ((k, v), readers) in &self.readers_of {
            let Some(&w) = self.writer_of.get(&(k.clone(), v.clone())) else {
                crashes.push(format!("no writer of message {v} in key {k}"));
                continue;
            };
            if !matches!(self.txns[w].f, F::Send | F::Poll) {
                continue;
            }
            for &r in readers {
                if r != w && matches!(self.txns[r].f, F::Send | F::Poll) {
                    if let std::collections::hash_map::Entry::Vacant(e) = wr.entry((w, r)) {
                        e.insert((k.clone(), v.clone()));
                        succ[w].push(v32(r));
                    }
                }
            }
        }
        self.crashes.extend(crashes);
        if wr.is_empty() {
            return None;
        }
        for pos in 0..history_len {
            succ[chain(pos)].push(v32(chain(pos + 1)));
        }
        for (i, t) in self.txns.iter().enumerate() {
            if !matches!(t.f, F::Send | F::Poll) {
                continue;
            }
            if t.op.kind == OpType::Ok && t.op.index < history_len {
                succ[i].push(v32(chain(t.op.index)));
            }
            if let Some(inv) = t.invoke_index.filter(|&p| p < history_len) {
                succ[chain(inv)].push(v32(i));
            }
        }
        Some((succ, wr))
    }

    /// A cycle `[start, …, start]` as Jepsen reports it: its operations and
    /// the step between each two (`wr` with key and message, or
    /// `realtime` for a run through history positions); named
    /// `G1c-realtime` if it has a real-time step, else `G1c`.
    fn explain_cycle(&self, path: &[usize], wr: &WrEdges) -> (&'static str, Value) {
        let n = self.txns.len();
        let mut steps = Vec::new();
        let mut cycle = Vec::new();
        let mut realtime = false;
        let mut prev = path[0];
        cycle.push(self.op_json(prev));
        let mut rt_pending = false;
        for &v in path.iter().skip(1) {
            if v >= n {
                rt_pending = true;
                continue;
            }
            if rt_pending {
                realtime = true;
                steps.push(json!({"type": "realtime"}));
            } else if let Some((k, msg)) = wr.get(&(prev, v)) {
                steps.push(json!({"type": "wr", "key": k, "value": msg_value(msg)}));
            }
            rt_pending = false;
            cycle.push(self.op_json(v));
            prev = v;
        }
        let name = if realtime { "G1c-realtime" } else { "G1c" };
        (name, json!({"cycle": cycle, "steps": steps}))
    }

    /// Cycles over write→read and real-time edges (see the module docs):
    /// one per strongly connected component with two or more operations,
    /// the shortest through its first operation.
    fn cycles(&mut self, history_len: usize) -> BTreeMap<&'static str, Vec<Value>> {
        let Some((succ, wr)) = self.cycle_graph(history_len) else {
            return BTreeMap::new();
        };
        let n = self.txns.len();
        let comp = graph::component_ids(&graph::sccs(&succ), succ.len());
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for (v, &c) in comp.iter().enumerate().take(n) {
            members.entry(c).or_default().push(v);
        }
        let mut out: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
        let mut comps: Vec<&Vec<usize>> = members.values().filter(|m| m.len() > 1).collect();
        comps.sort();
        for m in comps {
            let start = m[0];
            let (comp, succ) = (&comp, &succ);
            let same_component = move |v: u32| {
                let c = comp[v as usize];
                succ[v as usize]
                    .iter()
                    .copied()
                    .filter(move |&w| comp[w as usize] == c)
            };
            // `start` < n fits in u32: the whole graph does (cycle_graph).
            let Some(path) = graph::shortest_cycle(start as u32, same_component) else {
                continue;
            };
            let mut path: Vec<usize> = path.into_iter().map(|v| v as usize).collect();
            path.push(start);
            let (name, case) = self.explain_cycle(&path, &wr);
            out.entry(name).or_default().push(case);
        }
        out
    }
}

/// Sort key for messages: numbers numerically, then everything else by text.
fn msg_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.to_string().cmp(&b.to_string()),
    }
}

/// Jepsen's `condense-error`: how many, and a bounded, most telling sample.
fn condense(kind: &str, mut errs: Vec<Value>) -> Value {
    let count = errs.len();
    let num = |e: &Value, f: &str| e.get(f).and_then(Value::as_i64).unwrap_or(0);
    let len = |e: &Value, f: &str| e.get(f).and_then(Value::as_array).map_or(0, Vec::len);
    let (head, tail_n) = match kind {
        "duplicate" => {
            errs.sort_by_key(|e| num(e, "count"));
            (true, 32)
        }
        "G0" | "G0-process" | "G0-realtime" | "G1c" | "G1c-process" | "G1c-realtime" => {
            errs.sort_by_key(|e| len(e, "steps"));
            (true, 8)
        }
        "inconsistent-offsets" => {
            errs.sort_by_key(|e| len(e, "values"));
            (true, 32)
        }
        "int-nonmonotonic-poll"
        | "int-nonmonotonic-send"
        | "nonmonotonic-poll"
        | "nonmonotonic-send" => {
            errs.sort_by_key(|e| num(e, "delta"));
            (true, 8)
        }
        "int-poll-skip" | "int-send-skip" | "poll-skip" => {
            errs.sort_by_key(|e| num(e, "delta"));
            (false, 8)
        }
        _ => (true, usize::MAX),
    };
    let errs: Vec<Value> = if head {
        errs.into_iter().take(tail_n).collect()
    } else {
        let skip = errs.len().saturating_sub(tail_n);
        errs.into_iter().skip(skip).collect()
    };
    json!({"count": count, "errs": errs})
}

/// The `unseen` error: at the end, per key, how many acknowledged
/// messages no poll returned, and up to 32 of them.
fn unseen_error(a: &Analysis<'_>) -> Option<Value> {
    let (time, unseen) = a.unseen()?;
    if unseen.is_empty() {
        return None;
    }
    let counts: Map<String, Value> = unseen
        .iter()
        .map(|(k, s)| (k.clone(), json!(s.len())))
        .collect();
    let messages: Map<String, Value> = unseen
        .iter()
        .map(|(k, s)| {
            let mut vs: Vec<Value> = s.iter().map(|v| msg_value(v)).collect();
            vs.sort_by(msg_order);
            vs.truncate(32);
            (k.clone(), Value::Array(vs))
        })
        .collect();
    Some(json!({"time": time, "unseen": counts, "messages": messages}))
}

/// The worst realtime lag (the first of the largest), in seconds; None
/// when there is no sample.
fn worst_realtime_lag(a: &Analysis<'_>) -> Option<Value> {
    let lags = a.realtime_lags();
    let worst = lags
        .iter()
        .fold(None::<&(u64, Process, Key, u64)>, |best, l| match best {
            Some(b) if b.3 >= l.3 => Some(b),
            _ => Some(l),
        });
    worst.map(|(time, process, key, lag)| {
        json!({
            "time": *time as f64 / 1e9, "lag": *lag as f64 / 1e9,
            "process": process, "key": key,
        })
    })
}

/// The kafka checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kafka;

impl Checker for Kafka {
    fn check(&self, input: &Input<'_>) -> Value {
        check(input.history)
    }
}

/// Check a kafka history; returns the workload's result map.
pub fn check(history: &History) -> Value {
    let mut a = Analysis::new(history);
    let mut errors: BTreeMap<&'static str, Value> = BTreeMap::new();
    let mut add = |kind: &'static str, errs: Vec<Value>| {
        if !errs.is_empty() {
            errors.insert(kind, condense(kind, errs));
        }
    };
    add("inconsistent-offsets", a.inconsistent_offsets());
    add("duplicate", a.duplicates());
    add("G1a", a.g1a());
    add("lost-write", a.lost_writes());
    let (skip, nm) = a.internal(false);
    add("int-poll-skip", skip);
    add("int-nonmonotonic-poll", nm);
    let (skip, nm) = a.internal(true);
    add("int-send-skip", skip);
    add("int-nonmonotonic-send", nm);
    let (skip, nm) = a.poll_skips();
    add("poll-skip", skip);
    add("nonmonotonic-poll", nm);
    add("nonmonotonic-send", a.nonmonotonic_sends());
    for (kind, errs) in a.cycles(history.ops.len()) {
        add(kind, errs);
    }
    if let Some(unseen) = unseen_error(&a) {
        errors.insert("unseen", unseen);
    }
    let worst = worst_realtime_lag(&a);
    if worst.is_none() {
        a.crashes
            .push("no realtime-lag samples (no ok poll of an assigned key)".into());
    }
    let error_types: Vec<&str> = errors.keys().copied().collect();
    let bad: Vec<&str> = error_types
        .iter()
        .copied()
        .filter(|t| !ALLOWED.contains(t))
        .collect();
    let mut causes: Vec<Value> = Vec::new();
    for t in &a.txns {
        if t.op.kind == OpType::Info && matches!(t.f, F::Send | F::Poll) {
            let e = t.op.error.clone().unwrap_or(Value::Null);
            if !causes.contains(&e) {
                causes.push(e);
            }
        }
    }
    let valid = if !bad.is_empty() {
        json!(false)
    } else if !a.crashes.is_empty() {
        json!("unknown")
    } else {
        json!(true)
    };
    let mut out = Map::new();
    out.insert("valid?".into(), valid);
    out.insert("bad-error-types".into(), json!(bad));
    out.insert("error-types".into(), json!(error_types));
    out.insert(
        "worst-realtime-lag".into(),
        worst.unwrap_or_else(|| json!({"time": 0, "lag": 0})),
    );
    out.insert("info-txn-causes".into(), json!(causes));
    if !a.crashes.is_empty() {
        a.crashes.sort();
        a.crashes.dedup();
        out.insert(
            "error".into(),
            json!(format!(
                "Jepsen's checker would throw here: {}",
                a.crashes.join("; ")
            )),
        );
    }
    for (k, v) in errors {
        out.insert(k.into(), v);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Builds histories: each call appends an invocation and its completion
    /// (or only one of them), one millisecond apart.
    #[derive(Default)]
    struct H {
        h: History,
        t: u64,
    }

    impl H {
        fn entry(&mut self, p: u64, kind: OpType, f: &str, value: Value) -> &mut Self {
            self.t += 1_000_000;
            self.h.push(Op::client(self.t, p, kind, f, value));
            self
        }
        /// An `ok` send of `v` to `k` at offset `o`.
        fn send(&mut self, p: u64, k: &str, o: i64, v: i64) -> &mut Self {
            self.entry(p, OpType::Invoke, "send", json!([["send", k, v]]))
                .entry(p, OpType::Ok, "send", json!([["send", k, [o, v]]]))
        }
        /// A send that ended `kind` (fail or info): no offset.
        fn send_ended(&mut self, p: u64, kind: OpType, k: &str, v: i64) -> &mut Self {
            self.entry(p, OpType::Invoke, "send", json!([["send", k, v]]))
                .entry(p, kind, "send", json!([["send", k, v]]))
        }
        /// An `ok` poll returning `pairs` for `k`.
        fn poll(&mut self, p: u64, k: &str, pairs: Value) -> &mut Self {
            self.entry(p, OpType::Invoke, "poll", json!([["poll"]]))
                .entry(p, OpType::Ok, "poll", json!([["poll", {k: pairs}]]))
        }
        fn assign(&mut self, p: u64, keys: Value) -> &mut Self {
            self.entry(p, OpType::Invoke, "assign", keys.clone()).entry(
                p,
                OpType::Ok,
                "assign",
                keys,
            )
        }
        fn check(&self) -> Value {
            check(&self.h)
        }
    }

    fn types(r: &Value) -> Vec<String> {
        serde_json::from_value(r["error-types"].clone()).unwrap()
    }

    /// Three sends to "k" at offsets 0, 2, 4 (sparse), all polled in order.
    fn clean() -> H {
        let mut h = H::default();
        h.assign(0, json!(["k"]))
            .send(1, "k", 0, 1)
            .send(1, "k", 2, 2)
            .poll(0, "k", json!([[0, 1]]))
            .send(1, "k", 4, 3)
            .poll(0, "k", json!([[2, 2], [4, 3]]));
        h
    }

    #[test]
    fn clean_history_is_valid_with_sparse_offsets() {
        let r = clean().check();
        assert_eq!(r["valid?"], true, "{r:#}");
        assert_eq!(types(&r), Vec::<String>::new());
        assert_eq!(r["worst-realtime-lag"]["key"], "k");
        assert!(r.get("error").is_none());
    }

    #[test]
    fn inconsistent_offsets() {
        let mut h = clean();
        h.send(2, "k", 2, 9).poll(3, "k", json!([[0, 1], [2, 9]]));
        let r = h.check();
        assert_eq!(r["valid?"], false);
        assert!(types(&r).contains(&"inconsistent-offsets".into()), "{r:#}");
        let e = &r["inconsistent-offsets"]["errs"][0];
        assert_eq!(e["offset"], 2);
        assert_eq!(e["values"], json!([2, 9]));
    }

    #[test]
    fn duplicate() {
        let mut h = clean();
        h.poll(3, "k", json!([[0, 1], [2, 2], [4, 3], [6, 1]]));
        let r = h.check();
        assert!(types(&r).contains(&"duplicate".into()), "{r:#}");
        assert_eq!(r["duplicate"]["errs"][0]["value"], 1);
        assert_eq!(r["duplicate"]["errs"][0]["count"], 2);
        assert_eq!(r["valid?"], false);
    }

    #[test]
    fn lost_write() {
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .send(1, "k", 2, 3)
            .poll(0, "k", json!([[0, 1]]))
            .poll(2, "k", json!([[2, 3]]));
        let r = h.check();
        assert_eq!(r["valid?"], false);
        assert!(types(&r).contains(&"lost-write".into()), "{r:#}");
        assert_eq!(r["lost-write"]["count"], 1);
        assert_eq!(r["lost-write"]["errs"][0]["value"], 2);
        assert_eq!(r["lost-write"]["errs"][0]["max-read-index"], 2);
        // It was never read either.
        assert_eq!(r["unseen"]["unseen"]["k"], 1);
        assert!(!types(&r).contains(&"poll-skip".into()));
    }

    #[test]
    fn unseen_without_lost_write() {
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .poll(0, "k", json!([[0, 1]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["unseen".to_string()]);
        assert_eq!(r["unseen"]["messages"]["k"], json!([2]));
        assert_eq!(r["valid?"], false);
    }

    #[test]
    fn poll_skip_and_its_reset_by_assign() {
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .send(1, "k", 2, 3)
            .poll(2, "k", json!([[0, 1], [1, 2], [2, 3]]))
            .poll(0, "k", json!([[0, 1]]))
            .poll(0, "k", json!([[2, 3]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["poll-skip".to_string()], "{r:#}");
        assert_eq!(r["poll-skip"]["errs"][0]["skipped"], json!([2]));
        assert_eq!(r["poll-skip"]["errs"][0]["delta"], 2);

        // An ok assign of other keys forgets where process 0 was.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .send(1, "k", 2, 3)
            .poll(2, "k", json!([[0, 1], [1, 2], [2, 3]]))
            .poll(0, "k", json!([[0, 1]]))
            .assign(0, json!(["j"]))
            .poll(0, "k", json!([[2, 3]]));
        assert_eq!(h.check()["valid?"], true);

        // An assign that keeps the key keeps tracking it.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .send(1, "k", 2, 3)
            .poll(2, "k", json!([[0, 1], [1, 2], [2, 3]]))
            .poll(0, "k", json!([[0, 1]]))
            .assign(0, json!(["j", "k"]))
            .poll(0, "k", json!([[2, 3]]));
        assert_eq!(types(&h.check()), vec!["poll-skip".to_string()]);
    }

    #[test]
    fn nonmonotonic_poll() {
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .poll(0, "k", json!([[0, 1], [1, 2]]))
            .poll(0, "k", json!([[1, 2]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["nonmonotonic-poll".to_string()], "{r:#}");
        assert_eq!(r["nonmonotonic-poll"]["errs"][0]["delta"], 0);
        assert_eq!(r["valid?"], false);
    }

    #[test]
    fn internal_poll_skip_and_nonmonotonic() {
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .send(1, "k", 2, 3)
            .poll(2, "k", json!([[0, 1], [1, 2], [2, 3]]))
            .poll(0, "k", json!([[0, 1], [2, 3]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["int-poll-skip".to_string()], "{r:#}");
        assert_eq!(r["int-poll-skip"]["errs"][0]["skipped"], json!([2]));

        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send(1, "k", 1, 2)
            .poll(0, "k", json!([[1, 2], [0, 1]]));
        let r = h.check();
        assert_eq!(
            types(&r),
            vec!["int-nonmonotonic-poll".to_string()],
            "{r:#}"
        );
        assert_eq!(r["int-nonmonotonic-poll"]["errs"][0]["delta"], -1);
    }

    #[test]
    fn nonmonotonic_send() {
        let mut h = H::default();
        h.send(1, "k", 1, 1)
            .send(1, "k", 0, 2)
            .poll(0, "k", json!([[0, 2], [1, 1]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["nonmonotonic-send".to_string()], "{r:#}");
        assert_eq!(r["nonmonotonic-send"]["errs"][0]["values"], json!([1, 2]));
        // Different processes may interleave freely.
        let mut h = H::default();
        h.send(1, "k", 1, 1)
            .send(2, "k", 0, 2)
            .poll(0, "k", json!([[0, 2], [1, 1]]));
        assert_eq!(h.check()["valid?"], true);
    }

    #[test]
    fn g1a_aborted_read() {
        let mut h = H::default();
        h.send_ended(1, OpType::Fail, "k", 7)
            .poll(0, "k", json!([[0, 7]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["G1a".to_string()], "{r:#}");
        assert_eq!(r["G1a"]["errs"][0]["value"], 7);
        assert_eq!(r["valid?"], false);
    }

    #[test]
    fn info_sends_count_only_when_read() {
        // An info send that was read is committed: skipping it is lost.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send_ended(2, OpType::Info, "k", 2)
            .send(3, "k", 2, 3)
            .poll(4, "k", json!([[1, 2]]))
            .poll(0, "k", json!([[0, 1], [2, 3]]));
        let r = h.check();
        assert!(types(&r).contains(&"int-poll-skip".into()), "{r:#}");
        // An info send nobody read is neither lost nor unseen.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .send_ended(2, OpType::Info, "k", 2)
            .poll(0, "k", json!([[0, 1]]));
        assert_eq!(h.check()["valid?"], true);
    }

    #[test]
    fn realtime_cycle() {
        // A poll returns 5 before anyone tried to send it.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .poll(0, "k", json!([[0, 1], [1, 5]]))
            .send(1, "k", 1, 5);
        let r = h.check();
        assert_eq!(types(&r), vec!["G1c-realtime".to_string()], "{r:#}");
        let c = &r["G1c-realtime"]["errs"][0];
        assert_eq!(c["steps"].as_array().unwrap().len(), 2);
        assert_eq!(r["valid?"], false);
    }

    #[test]
    fn concurrent_reads_are_not_cycles() {
        // The send of 5 begins before the poll ends: no real-time order.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .entry(0, OpType::Invoke, "poll", json!([["poll"]]))
            .entry(1, OpType::Invoke, "send", json!([["send", "k", 5]]))
            .entry(
                0,
                OpType::Ok,
                "poll",
                json!([["poll", {"k": [[0, 1], [1, 5]]}]]),
            )
            .entry(1, OpType::Ok, "send", json!([["send", "k", [1, 5]]]));
        assert_eq!(h.check()["valid?"], true);
        // The same read with the send begun after the poll ended is one.
        let mut h = H::default();
        h.send(1, "k", 0, 1)
            .entry(0, OpType::Invoke, "poll", json!([["poll"]]))
            .entry(
                0,
                OpType::Ok,
                "poll",
                json!([["poll", {"k": [[0, 1], [1, 5]]}]]),
            )
            .entry(1, OpType::Invoke, "send", json!([["send", "k", 5]]))
            .entry(1, OpType::Info, "send", json!([["send", "k", 5]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["G1c-realtime".to_string()], "{r:#}");
    }

    #[test]
    fn int_send_skip_is_allowed() {
        let mut h = H::default();
        h.send(1, "k", 1, 2)
            .entry(
                2,
                OpType::Invoke,
                "send",
                json!([["send", "k", 1], ["send", "k", 3]]),
            )
            .entry(
                2,
                OpType::Ok,
                "send",
                json!([["send", "k", [0, 1]], ["send", "k", [2, 3]]]),
            )
            .poll(0, "k", json!([[0, 1], [1, 2], [2, 3]]));
        let r = h.check();
        assert_eq!(types(&r), vec!["int-send-skip".to_string()], "{r:#}");
        assert_eq!(r["bad-error-types"], json!([]));
        assert_eq!(r["valid?"], true);
    }

    #[test]
    fn int_nonmonotonic_send_is_not_allowed() {
        let mut h = H::default();
        h.entry(
            2,
            OpType::Invoke,
            "send",
            json!([["send", "k", 2], ["send", "k", 1]]),
        )
        .entry(
            2,
            OpType::Ok,
            "send",
            json!([["send", "k", [1, 2]], ["send", "k", [0, 1]]]),
        )
        .poll(0, "k", json!([[0, 1], [1, 2]]));
        let r = h.check();
        assert_eq!(
            types(&r),
            vec!["int-nonmonotonic-send".to_string()],
            "{r:#}"
        );
        assert_eq!(r["valid?"], false);
    }

    #[test]
    fn phantom_reads_make_the_verdict_unknown() {
        let mut h = clean();
        h.poll(3, "k", json!([[0, 1], [2, 2], [4, 3], [6, 42]]));
        let r = h.check();
        assert_eq!(r["valid?"], "unknown", "{r:#}");
        assert!(r["error"].as_str().unwrap().contains("no writer"));
        // With an invalidating anomaly as well, the verdict is false.
        h.poll(3, "k", json!([[4, 3], [2, 2]]));
        assert_eq!(h.check()["valid?"], false);
    }

    #[test]
    fn realtime_lag_measures_staleness() {
        let mut h = H::default();
        h.assign(0, json!(["k"]))
            .send(1, "k", 0, 1)
            .poll(0, "k", json!([]));
        let r = h.check();
        // Offset 0 existed from the send's completion (t = 5 ms); the poll
        // was invoked at 6 ms and saw nothing: 1 ms of lag.
        assert_eq!(r["worst-realtime-lag"]["lag"], 0.001, "{r:#}");
        assert_eq!(r["worst-realtime-lag"]["process"], 0);
    }
}
