//! Maelstrom's built-in services (maelstrom: `src/maelstrom/service.clj`,
//! `doc/services.md`): `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso`.
//!
//! # The problem
//!
//! Nodes under test lean on these services, and the Fly.io challenges are
//! tuned to their exact behaviour: the grow-only counter (challenge 4) only
//! works on `seq-kv` if the node defeats its stale reads, and it is *which*
//! reads are stale that decides whether a naive solution passes. So the bench
//! reproduces each service's semantics exactly as Maelstrom's
//! `src/maelstrom/service.clj` implements them, not as its documentation
//! describes them (with one deliberate exception, `lww-kv`, below).
//!
//! # Design
//!
//! Every service is a [`Service`]: the engine hands it one request body at a
//! time, in delivery order, and sends back whatever body it returns (adding
//! `in_reply_to`). The key/value semantics live in one pure function,
//! [`eval_kv`], that evaluates a request against a read-only state and says
//! what the reply is and what the update would be. The consistency models
//! differ only in *which state* a request is evaluated against:
//!
//! - **lin-kv** ([`LinKv`]): one state; every request sees the newest.
//! - **seq-kv** ([`SeqKv`]): the last 32 states and, per requester `src`, the
//!   index of the state it last interacted with. A request picks a state
//!   uniformly between that index and the newest (both inclusive); if the
//!   request leaves the state unchanged (reads, failed CAS, a write of the
//!   value already there) it is answered from that possibly stale state and
//!   the requester's index moves to it; otherwise the request is re-run on
//!   the newest state, the result is appended as a new state, and the
//!   requester's index moves to that. So reads are stale but never go
//!   backwards, a successful update always lands on the newest state, and a
//!   failed CAS may have been judged on a stale state (a spurious code 22 or
//!   20). The *write-something-unique-then-read* trick follows: a real update
//!   moves the requester to the newest state, so its next read is fresh
//!   (unless something else was appended in between).
//! - **lww-kv** ([`LwwKv`]): two replicas with Lamport clocks. Each request
//!   draws a random replica to gossip into another (last write wins by
//!   timestamp), then is applied to a random replica; as in Maelstrom the
//!   gossip is thrown away (below).
//! - **lin-tso** ([`LinTso`]): a counter from 0; `ts` returns and bumps it.
//!
//! Replies: `read_ok` with `value`, `write_ok`, `cas_ok`, `ts_ok` with `ts`;
//! errors are code 20 `"key does not exist"` and code 22
//! `"current value <cur> is not <from>"`, where the values are printed the
//! way Clojure's `pr-str` prints them (`nil`, `[1 2]`, `{"a" 1}`,
//! `"text"`), see [`clojure_repr`]. Keys and values are arbitrary JSON and
//! equality is structural with JSON's number kinds kept apart (`1`, `1.0`
//! and `"1"` are three different keys). A request whose `type` the service
//! does not know gets **no reply**, as in Maelstrom (its service thread
//! throws and logs); the caller times out.
//!
//! # Faithful quirks
//!
//! - seq-kv's ring buffer resolves an offset modulo its current length, so a
//!   requester more than 32 states behind reads a pseudo-random state among
//!   the last 32 (which can even be older than its previous read). This is
//!   reproduced exactly ([`SeqKv::state_for`]).
//! - seq-kv's "did the state change?" test is structural: a write of the
//!   value a stale state already holds, or a CAS whose `from` equals its
//!   `to`, is answered from the stale state and appends nothing.
//! - `create_if_not_exists` is honoured when it is anything but `false` or
//!   `null` (Clojure truthiness), by lin-kv and seq-kv only.
//! - In lww-kv's code-22 text the `from` value is printed with `str` rather
//!   than `pr-str` (a string shows without quotes, `null` as nothing).
//!
//! # Faithful quirk: lww-kv never converges
//!
//! Maelstrom's `lww-kv` computes a merge of two replicas and then discards
//! it (`maelstrom: src/maelstrom/service.clj`, `Eventual`: the second
//! `assoc` starts again from the pre-merge vector), so its two replicas
//! never converge: each request goes to one of two independent stores.
//! That is what [`LwwKv::default`] (and every run) does, so a node that
//! relies on convergence fails here as it fails on Maelstrom. The
//! documented intent, replicas that converge by last-write-wins as long as
//! requests keep flowing, is kept as [`LwwKv::converging`] for tests and
//! embedders (`engine::run_with`); timestamps are `(Lamport clock, replica
//! index)` pairs, so two writes never tie. Both draw the same random
//! numbers, so switching does not shift any other random choice.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

/// A service: one request at a time, in delivery order.
pub trait Service: Send {
    /// Handle a request body from `src`. Returns the reply body (without
    /// `in_reply_to`, which the engine adds from the request's `msg_id`, or
    /// `null` when it had none), or None when Maelstrom sends no reply
    /// (an unknown `type`).
    fn handle(&mut self, src: &str, body: &Value, rng: &mut StdRng) -> Option<Value>;
}

/// A service's answer to a request's raw body: the reply body with
/// `in_reply_to` set from the request's `msg_id` (or `null`), or None when
/// the body is not JSON or the service sends no reply. The engine and the
/// test simulator both deliver service requests through it.
pub fn answer(service: &mut dyn Service, src: &str, raw: &str, rng: &mut StdRng) -> Option<Value> {
    let body = serde_json::from_str::<Value>(raw).ok()?;
    let mut reply = service.handle(src, &body, rng)?;
    if let Some(m) = reply.as_object_mut() {
        let irt = body.get("msg_id").cloned().unwrap_or(Value::Null);
        m.insert("in_reply_to".into(), irt);
        m.remove("msg_id");
    }
    Some(reply)
}

/// The services every test has, by id.
pub fn default_services() -> Vec<(&'static str, Box<dyn Service>)> {
    vec![
        ("lin-kv", Box::new(LinKv::default()) as Box<dyn Service>),
        ("seq-kv", Box::new(SeqKv::default())),
        ("lww-kv", Box::new(LwwKv::default())),
        ("lin-tso", Box::new(LinTso::default())),
    ]
}

/// How many states seq-kv keeps (Maelstrom's default buffer size).
pub const SEQ_KV_STATES: usize = 32;

/// How many replicas lww-kv simulates (Maelstrom's current default).
pub const LWW_KV_REPLICAS: usize = 2;

/// The text of error 20.
const NO_KEY: &str = "key does not exist";

/// A key's identity: its canonical JSON text. serde_json's objects keep their
/// keys sorted, so structurally equal keys have the same text, and numbers
/// keep their kind (`1` and `1.0` differ, as they do in Clojure).
fn key_id(key: &Value) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

/// A field of a request body; missing reads as `null`, as `(:k body)` reads
/// as `nil` in Clojure.
fn field<'a>(body: &'a Value, name: &str) -> &'a Value {
    body.get(name).unwrap_or(&Value::Null)
}

/// Clojure truthiness: everything but `nil` and `false`.
fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

fn error(code: u64, text: impl Into<String>) -> Value {
    crate::runtime::message::error_value(code, text)
}

/// One key/value state: key identity → value. Values are shared between the
/// states seq-kv keeps, so a new state costs one map of pointers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvState {
    map: BTreeMap<String, Arc<Value>>,
}

impl KvState {
    /// The value of `key`, if any.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.map.get(&key_id(key)).map(|v| v.as_ref())
    }

    fn apply(&mut self, update: Update) {
        self.map.insert(update.key, Arc::new(update.value));
    }
}

/// A change a request makes to a state: set one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    key: String,
    value: Value,
}

/// What a key/value request does to a given state.
#[derive(Debug, Clone, PartialEq)]
pub struct KvOutcome {
    /// The reply body.
    pub reply: Value,
    /// The change, or None when the resulting state equals the input state
    /// (reads, failed CAS, writing the value the key already holds).
    pub update: Option<Update>,
}

/// Which dialect of the key/value semantics to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// lin-kv and seq-kv.
    Persistent,
    /// lww-kv: no `create_if_not_exists`, `from` printed with `str`.
    Lww,
}

/// Evaluate a key/value request against `state` (maelstrom:
/// `src/maelstrom/service.clj`, `kv` ops). None for an unknown `type` (no
/// reply).
fn eval_kv(state: &KvState, body: &Value, dialect: Dialect) -> Option<KvOutcome> {
    let kind = body.get("type")?.as_str()?;
    let key = field(body, "key");
    let id = key_id(key);
    let current = state.map.get(&id).map(|v| v.as_ref());
    let set = |value: &Value, reply: Value| {
        let update = (current != Some(value)).then(|| Update {
            key: id.clone(),
            value: value.clone(),
        });
        KvOutcome { reply, update }
    };
    let unchanged = |reply: Value| KvOutcome {
        reply,
        update: None,
    };
    Some(match kind {
        "read" => match current {
            Some(v) => unchanged(json!({"type": "read_ok", "value": v})),
            None => unchanged(error(20, NO_KEY)),
        },
        "write" => set(field(body, "value"), json!({"type": "write_ok"})),
        "cas" => {
            let from = field(body, "from");
            let to = field(body, "to");
            match current {
                Some(cur) if cur == from => set(to, json!({"type": "cas_ok"})),
                Some(cur) => {
                    let from_text = match (dialect, from) {
                        (Dialect::Persistent, _) => clojure_repr(from),
                        (Dialect::Lww, Value::String(s)) => s.clone(),
                        (Dialect::Lww, Value::Null) => String::new(),
                        (Dialect::Lww, v) => clojure_repr(v),
                    };
                    let text = format!("current value {} is not {from_text}", clojure_repr(cur));
                    unchanged(error(22, text))
                }
                None if dialect == Dialect::Persistent
                    && truthy(field(body, "create_if_not_exists")) =>
                {
                    set(to, json!({"type": "cas_ok"}))
                }
                None => unchanged(error(20, NO_KEY)),
            }
        }
        _ => return None,
    })
}

/// `lin-kv`: a linearizable key/value store (maelstrom:
/// `src/maelstrom/service.clj`, `lin-kv`).
#[derive(Debug, Default)]
pub struct LinKv {
    state: KvState,
}

impl Service for LinKv {
    fn handle(&mut self, _src: &str, body: &Value, _rng: &mut StdRng) -> Option<Value> {
        let out = eval_kv(&self.state, body, Dialect::Persistent)?;
        if let Some(u) = out.update {
            self.state.apply(u);
        }
        Some(out.reply)
    }
}

/// `seq-kv`: a sequentially consistent key/value store with Maelstrom's
/// exact staleness model (maelstrom: `src/maelstrom/service.clj`, `seq-kv`,
/// on `amalloy/ring-buffer`; see the module docs).
#[derive(Debug)]
pub struct SeqKv {
    /// The last [`SEQ_KV_STATES`] states, oldest first; never empty.
    states: VecDeque<Arc<KvState>>,
    /// The index of the newest state (0 for the initial empty state).
    last_index: u64,
    /// Per requester (`src`), the index of the state it last interacted
    /// with; absent means 0.
    seen: HashMap<String, u64>,
}

impl Default for SeqKv {
    fn default() -> Self {
        SeqKv {
            states: VecDeque::from([Arc::new(KvState::default())]),
            last_index: 0,
            seen: HashMap::new(),
        }
    }
}

impl SeqKv {
    /// The state a request that picked index `i` (≤ the newest index)
    /// interacts with: buffer offset `i − last − 1` (−1 is the newest),
    /// resolved modulo the buffer's current length, as the ring buffer
    /// Maelstrom uses does. Exact for the last 32 indices; older indices wrap
    /// around (the quirk in the module docs).
    fn state_for(&self, i: u64) -> &Arc<KvState> {
        let len = self.states.len() as i128;
        let offset = i as i128 - self.last_index as i128 - 1;
        let pos = offset.rem_euclid(len) as usize;
        &self.states[pos]
    }

    /// The newest index.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// The index a requester last interacted with.
    pub fn seen_by(&self, src: &str) -> u64 {
        self.seen.get(src).copied().unwrap_or(0)
    }
}

impl Service for SeqKv {
    fn handle(&mut self, src: &str, body: &Value, rng: &mut StdRng) -> Option<Value> {
        let from = self.seen_by(src);
        let last = self.last_index;
        let i = rng.gen_range(from..=last);
        let chosen = self.state_for(i);
        let out = eval_kv(chosen, body, Dialect::Persistent)?;
        if out.update.is_none() {
            self.seen.insert(src.to_string(), i);
            return Some(out.reply);
        }
        // A real update on the chosen state: run it again on the newest one
        // and append the result, even if it changes nothing there.
        let newest = self.states.back().cloned().unwrap_or_default();
        let again = eval_kv(&newest, body, Dialect::Persistent)?;
        let mut next = KvState::clone(&newest);
        if let Some(u) = again.update {
            next.apply(u);
        }
        if self.states.len() == SEQ_KV_STATES {
            self.states.pop_front();
        }
        self.states.push_back(Arc::new(next));
        self.last_index = last + 1;
        self.seen.insert(src.to_string(), last + 1);
        Some(again.reply)
    }
}

/// A value in an lww-kv replica, with its write timestamp.
#[derive(Debug, Clone, PartialEq)]
struct Stamped {
    /// `(Lamport clock, replica index)`: unique per write.
    ts: (u64, usize),
    value: Arc<Value>,
}

/// One lww-kv replica.
#[derive(Debug, Clone, Default, PartialEq)]
struct Replica {
    /// Lamport clock: bumped by every write, max-ed on merge.
    clock: u64,
    map: BTreeMap<String, Stamped>,
}

impl Replica {
    /// Merge `other` into `self`: per key the later timestamp wins.
    fn merge_from(&mut self, other: &Replica) {
        self.clock = self.clock.max(other.clock);
        for (k, theirs) in &other.map {
            match self.map.get(k) {
                Some(mine) if mine.ts >= theirs.ts => {}
                _ => {
                    self.map.insert(k.clone(), theirs.clone());
                }
            }
        }
    }

    fn view(&self) -> KvState {
        KvState {
            map: self
                .map
                .iter()
                .map(|(k, s)| (k.clone(), s.value.clone()))
                .collect(),
        }
    }
}

/// `lww-kv`: a last-write-wins store of [`LWW_KV_REPLICAS`] replicas
/// (maelstrom: `src/maelstrom/service.clj`, `lww-kv`, `eventual`): by
/// default Maelstrom's, whose replicas never merge; see the module docs.
#[derive(Debug)]
pub struct LwwKv {
    replicas: Vec<Replica>,
    /// Keep the gossip's merge (the documented intent), unlike Maelstrom.
    converge: bool,
}

impl Default for LwwKv {
    fn default() -> Self {
        LwwKv {
            replicas: vec![Replica::default(); LWW_KV_REPLICAS],
            converge: false,
        }
    }
}

impl LwwKv {
    /// The documented intent: replicas that converge by last-write-wins.
    pub fn converging() -> Self {
        LwwKv {
            converge: true,
            ..LwwKv::default()
        }
    }
}

impl Service for LwwKv {
    fn handle(&mut self, _src: &str, body: &Value, rng: &mut StdRng) -> Option<Value> {
        let n = self.replicas.len();
        // Gossip: merge one random replica into another (Maelstrom draws
        // both and throws the merge away).
        let source = rng.gen_range(0..n);
        let dest = rng.gen_range(0..n);
        if self.converge && source != dest {
            let s = self.replicas[source].clone();
            self.replicas[dest].merge_from(&s);
        }
        // Apply the request to a random replica.
        let r = rng.gen_range(0..n);
        let replica = &mut self.replicas[r];
        let out = eval_kv(&replica.view(), body, Dialect::Lww)?;
        if let Some(u) = out.update {
            let ts = (replica.clock, r);
            replica.clock += 1;
            replica.map.insert(
                u.key,
                Stamped {
                    ts,
                    value: Arc::new(u.value),
                },
            );
        }
        Some(out.reply)
    }
}

/// `lin-tso`: a linearizable timestamp oracle, 0, 1, 2, … (maelstrom:
/// `src/maelstrom/service.clj`, `lin-tso`).
#[derive(Debug, Default)]
pub struct LinTso {
    next: u64,
}

impl Service for LinTso {
    fn handle(&mut self, _src: &str, body: &Value, _rng: &mut StdRng) -> Option<Value> {
        match body.get("type")?.as_str()? {
            "ts" => {
                let ts = self.next;
                self.next += 1;
                Some(json!({"type": "ts_ok", "ts": ts}))
            }
            _ => None,
        }
    }
}

/// Print a JSON value the way Clojure's `pr-str` prints the value Maelstrom
/// parsed it into: `nil`, `true`, `42`, `1.0`, `1.0E-4`, `"text"`,
/// `[1 2]`, `{"a" 1, "b" 2}`.
pub fn clojure_repr(v: &Value) -> String {
    let mut s = String::new();
    write_repr(v, &mut s);
    s
}

fn write_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                out.push_str(&java_double(f));
            }
        }
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(&Value::String(k.clone()), out);
                out.push(' ');
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString`: plain notation with at least one fractional
/// digit for magnitudes in [10⁻³, 10⁷), otherwise `d.dddE±n`.
fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let a = f.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    fn read(k: Value) -> Value {
        json!({"type": "read", "key": k})
    }

    fn write(k: Value, v: Value) -> Value {
        json!({"type": "write", "key": k, "value": v})
    }

    fn cas(k: Value, from: Value, to: Value) -> Value {
        json!({"type": "cas", "key": k, "from": from, "to": to})
    }

    /// The value a read returned, or None for error 20.
    fn read_value(reply: &Value) -> Option<i64> {
        match reply["type"].as_str() {
            Some("read_ok") => reply["value"].as_i64(),
            Some("error") => {
                assert_eq!(reply["code"], 20, "{reply}");
                None
            }
            _ => panic!("unexpected reply {reply}"),
        }
    }

    #[test]
    fn default_services_has_all_four() {
        let ids: Vec<_> = default_services().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["lin-kv", "seq-kv", "lww-kv", "lin-tso"]);
    }

    #[test]
    fn lin_kv_replies_and_error_texts() {
        let mut s = LinKv::default();
        let r = &mut rng(1);
        assert_eq!(
            s.handle("n0", &read(json!("k")), r),
            Some(json!({"type": "error", "code": 20, "text": "key does not exist"}))
        );
        assert_eq!(
            s.handle("n0", &cas(json!("k"), json!(1), json!(2)), r),
            Some(json!({"type": "error", "code": 20, "text": "key does not exist"}))
        );
        assert_eq!(
            s.handle("n0", &write(json!("k"), json!(1)), r),
            Some(json!({"type": "write_ok"}))
        );
        assert_eq!(
            s.handle("n1", &read(json!("k")), r),
            Some(json!({"type": "read_ok", "value": 1}))
        );
        assert_eq!(
            s.handle("n1", &cas(json!("k"), json!(3), json!(4)), r),
            Some(json!({"type": "error", "code": 22, "text": "current value 1 is not 3"}))
        );
        assert_eq!(
            s.handle("n1", &cas(json!("k"), json!(1), json!(4)), r),
            Some(json!({"type": "cas_ok"}))
        );
        assert_eq!(
            s.handle("n0", &read(json!("k")), r),
            Some(json!({"type": "read_ok", "value": 4}))
        );
        // Values in the 22 text are printed as Clojure prints them.
        s.handle("n0", &write(json!("s"), json!("a\"b")), r);
        assert_eq!(
            s.handle("n0", &cas(json!("s"), json!(null), json!(1)), r)
                .unwrap()["text"],
            "current value \"a\\\"b\" is not nil"
        );
        s.handle(
            "n0",
            &write(json!("m"), json!({"a": [1, 2.5], "b": true})),
            r,
        );
        assert_eq!(
            s.handle("n0", &cas(json!("m"), json!("x"), json!(1)), r)
                .unwrap()["text"],
            "current value {\"a\" [1 2.5], \"b\" true} is not \"x\""
        );
    }

    #[test]
    fn equality_is_structural_and_keeps_number_kinds() {
        let mut s = LinKv::default();
        let r = &mut rng(2);
        s.handle("n0", &write(json!(1), json!("int")), r);
        s.handle("n0", &write(json!(1.0), json!("float")), r);
        s.handle("n0", &write(json!("1"), json!("string")), r);
        s.handle("n0", &write(json!({"b": 1, "a": [1]}), json!("map")), r);
        assert_eq!(s.handle("n0", &read(json!(1)), r).unwrap()["value"], "int");
        assert_eq!(
            s.handle("n0", &read(json!(1.0)), r).unwrap()["value"],
            "float"
        );
        assert_eq!(
            s.handle("n0", &read(json!("1")), r).unwrap()["value"],
            "string"
        );
        // Same map, keys in another order.
        let k: Value = serde_json::from_str(r#"{"a":[1],"b":1}"#).unwrap();
        assert_eq!(s.handle("n0", &read(k), r).unwrap()["value"], "map");
        // CAS compares structurally: 1 is not 1.0.
        s.handle("n0", &write(json!("x"), json!([1, {"y": 2}])), r);
        let bad = s
            .handle("n0", &cas(json!("x"), json!([1.0, {"y": 2}]), json!(0)), r)
            .unwrap();
        assert_eq!(bad["code"], 22);
        assert_eq!(
            bad["text"],
            "current value [1 {\"y\" 2}] is not [1.0 {\"y\" 2}]"
        );
        let good = s
            .handle("n0", &cas(json!("x"), json!([1, {"y": 2}]), json!(0)), r)
            .unwrap();
        assert_eq!(good, json!({"type": "cas_ok"}));
    }

    #[test]
    fn create_if_not_exists_and_unknown_types() {
        let r = &mut rng(3);
        let mut s = LinKv::default();
        let req =
            json!({"type": "cas", "key": "k", "from": 0, "to": 7, "create_if_not_exists": true});
        assert_eq!(s.handle("n0", &req, r), Some(json!({"type": "cas_ok"})));
        assert_eq!(s.handle("n0", &read(json!("k")), r).unwrap()["value"], 7);
        // On an existing key the flag changes nothing.
        assert_eq!(s.handle("n0", &req, r).unwrap()["code"], 22);
        // `false` is not truthy.
        let no =
            json!({"type": "cas", "key": "j", "from": 0, "to": 7, "create_if_not_exists": false});
        assert_eq!(s.handle("n0", &no, r).unwrap()["code"], 20);
        // Unknown or missing types: no reply, no state change.
        assert_eq!(
            s.handle("n0", &json!({"type": "frobnicate", "key": "k"}), r),
            None
        );
        assert_eq!(s.handle("n0", &json!({"key": "k"}), r), None);
        assert_eq!(s.handle("n0", &json!("not an object"), r), None);
        assert_eq!(s.handle("n0", &json!({"type": 5}), r), None);
        let mut q = SeqKv::default();
        assert_eq!(q.handle("n0", &json!({"type": "ts"}), r), None);
        assert_eq!(q.handle("n0", &req, r), Some(json!({"type": "cas_ok"})));
        let mut t = LinTso::default();
        assert_eq!(t.handle("n0", &read(json!("k")), r), None);
        // lww-kv does not support create_if_not_exists.
        let mut l = LwwKv::default();
        assert_eq!(l.handle("n0", &req, r).unwrap()["code"], 20);
    }

    #[test]
    fn lin_tso_counts_from_zero() {
        let mut t = LinTso::default();
        let r = &mut rng(4);
        let got: Vec<_> = (0..4)
            .map(|i| {
                t.handle(
                    if i % 2 == 0 { "n0" } else { "n1" },
                    &json!({"type": "ts"}),
                    r,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            got,
            (0..4)
                .map(|n| json!({"type": "ts_ok", "ts": n}))
                .collect::<Vec<_>>()
        );
    }

    /// A seq-kv where n1 wrote `k` = 1, 2, …, `writes` (state i holds i).
    fn seq_with_writes(writes: i64) -> SeqKv {
        let mut s = SeqKv::default();
        let r = &mut rng(99);
        for v in 1..=writes {
            assert_eq!(
                s.handle("n1", &write(json!("k"), json!(v)), r),
                Some(json!({"type": "write_ok"}))
            );
        }
        assert_eq!(s.last_index(), writes as u64);
        s
    }

    #[test]
    fn seq_kv_reads_are_uniform_between_requester_index_and_newest() {
        // n0 has seen index 0 (the empty state); the newest is 10. Its first
        // read picks each of the 11 states with probability 1/11.
        let mut counts = [0u32; 11];
        let trials = 11_000;
        for seed in 0..trials {
            let mut s = seq_with_writes(10);
            let reply = s.handle("n0", &read(json!("k")), &mut rng(seed)).unwrap();
            let v = read_value(&reply).unwrap_or(0);
            counts[v as usize] += 1;
            assert_eq!(
                s.seen_by("n0"),
                v as u64,
                "the index moves to the state read"
            );
        }
        for (v, &c) in counts.iter().enumerate() {
            // Expected 1000 each; 5 standard deviations is about ±150.
            assert!(
                (850..=1150).contains(&c),
                "state {v} read {c} times: {counts:?}"
            );
        }
    }

    #[test]
    fn seq_kv_reads_never_go_backwards() {
        for seed in 0..50 {
            let mut s = seq_with_writes(20);
            let r = &mut rng(seed);
            let mut last = 0;
            let mut reached_newest = false;
            for _ in 0..200 {
                let v = read_value(&s.handle("n0", &read(json!("k")), r).unwrap()).unwrap_or(0);
                assert!(v >= last, "seed {seed}: read {v} after {last}");
                last = v;
                reached_newest |= v == 20;
            }
            assert!(reached_newest, "seed {seed}: reads never caught up");
        }
    }

    #[test]
    fn seq_kv_successful_cas_lands_on_newest() {
        for seed in 0..200 {
            let mut s = seq_with_writes(10);
            let r = &mut rng(seed);
            // n0 starts at index 0 and retries a CAS from the newest value;
            // failures (judged on stale states) move it forward, and the one
            // success is evaluated on the newest state.
            let mut tries = 0;
            loop {
                tries += 1;
                assert!(tries < 1000, "seed {seed}: CAS never succeeded");
                let reply = s
                    .handle("n0", &cas(json!("k"), json!(10), json!(11)), r)
                    .unwrap();
                if reply == json!({"type": "cas_ok"}) {
                    break;
                }
                assert_eq!(s.last_index(), 10, "a failed CAS appended a state");
            }
            // It appended one state and moved n0 to it: its next read is fresh.
            assert_eq!(s.last_index(), 11);
            assert_eq!(s.seen_by("n0"), 11);
            assert_eq!(
                read_value(&s.handle("n0", &read(json!("k")), r).unwrap()),
                Some(11)
            );
            // n1, which wrote 1..=10 and so sits at index 10, now CASes from
            // 10 (superseded): it can never succeed.
            for _ in 0..20 {
                let reply = s
                    .handle("n1", &cas(json!("k"), json!(10), json!(12)), r)
                    .unwrap();
                assert_eq!(reply["code"], 22, "seed {seed}: {reply}");
            }
        }
    }

    #[test]
    fn seq_kv_failed_cas_may_be_judged_on_a_stale_state() {
        // n1 wrote 1..=3. A CAS by n0 from an old value (2) never succeeds
        // (the re-run on the newest state fails), but a CAS from the newest
        // value (3) can fail spuriously when it picks a stale state.
        let (mut spurious_22, mut spurious_20, mut ok) = (0, 0, 0);
        for seed in 0..400 {
            let mut s = seq_with_writes(3);
            let reply = s
                .handle("n0", &cas(json!("k"), json!(3), json!(4)), &mut rng(seed))
                .unwrap();
            match (reply["type"].as_str(), reply["code"].as_u64()) {
                (Some("cas_ok"), _) => {
                    ok += 1;
                    assert_eq!(s.last_index(), 4);
                }
                (Some("error"), Some(22)) => {
                    spurious_22 += 1;
                    let text = reply["text"].as_str().unwrap_or_default();
                    assert!(
                        text == "current value 1 is not 3" || text == "current value 2 is not 3",
                        "{text}"
                    );
                    // Judged on a stale state: nothing appended, index moved there.
                    assert_eq!(s.last_index(), 3);
                    assert!(s.seen_by("n0") < 3);
                }
                (Some("error"), Some(20)) => {
                    spurious_20 += 1;
                    assert_eq!(s.seen_by("n0"), 0);
                }
                _ => panic!("unexpected {reply}"),
            }
            let mut s = seq_with_writes(3);
            let reply = s
                .handle("n0", &cas(json!("k"), json!(2), json!(4)), &mut rng(seed))
                .unwrap();
            assert_eq!(
                reply["type"], "error",
                "seed {seed}: CAS from a superseded value"
            );
        }
        // Uniform over 4 states: about 100 each of 20 (state 0), 22 (states
        // 1, 2) ×2, ok (state 3).
        assert!(
            ok > 50 && spurious_22 > 100 && spurious_20 > 50,
            "{ok} {spurious_22} {spurious_20}"
        );
    }

    #[test]
    fn seq_kv_keeps_32_states_and_wraps_for_far_behind_requesters() {
        let s = seq_with_writes(40);
        assert_eq!(s.states.len(), SEQ_KV_STATES);
        let value_at = |i: u64| s.state_for(i).get(&json!("k")).and_then(Value::as_i64);
        // The last 32 indices (9..=40) resolve exactly.
        for i in 9..=40 {
            assert_eq!(value_at(i), Some(i as i64));
        }
        // Older ones wrap modulo 32: index 0 → offset −41 → the state 23
        // places from the oldest (index 32); index 8 → offset −33 → newest.
        assert_eq!(value_at(0), Some(32));
        assert_eq!(value_at(8), Some(40));
        assert_eq!(value_at(1), Some(33));
        // So a requester at index 0 reads only retained states (never the
        // evicted empty state), possibly newer than a later read.
        let mut fresh = 0;
        for seed in 0..300 {
            let mut s = seq_with_writes(40);
            let v = read_value(&s.handle("n0", &read(json!("k")), &mut rng(seed)).unwrap());
            let v = v.expect("state 0 was evicted");
            assert!((9..=40).contains(&v), "{v}");
            fresh += (v == 40) as u32;
        }
        // 40 is chosen by i = 8 and i = 40: probability 2/41.
        assert!(fresh > 3 && fresh < 40, "{fresh}");
    }

    #[test]
    fn seq_kv_naive_read_after_another_nodes_write_can_be_stale() {
        // n0 reads the counter (moving to the newest state); n1 then writes a
        // new value; n0's next plain read may still see the old one.
        let mut stale = 0;
        for seed in 0..200 {
            let mut s = SeqKv::default();
            let r = &mut rng(seed);
            s.handle("n1", &write(json!("n1"), json!(1)), r);
            while read_value(&s.handle("n0", &read(json!("n1")), r).unwrap()) != Some(1) {}
            s.handle("n1", &write(json!("n1"), json!(2)), r);
            match read_value(&s.handle("n0", &read(json!("n1")), r).unwrap()) {
                Some(1) => stale += 1,
                Some(2) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(stale > 60 && stale < 140, "{stale} of 200 stale");
    }

    #[test]
    fn seq_kv_write_unique_then_read_is_fresh() {
        let mut stale_after_repeat = 0;
        for seed in 0..200 {
            let mut s = SeqKv::default();
            let r = &mut rng(seed);
            for v in 1..=5 {
                s.handle("n1", &write(json!("n1"), json!(v)), r);
            }
            // n0 writes something no state has yet (a real update), which
            // moves it to the newest state; its read is then fresh.
            s.handle("n0", &write(json!("probe-n0"), json!(seed)), r);
            assert_eq!(
                read_value(&s.handle("n0", &read(json!("n1")), r).unwrap()),
                Some(5)
            );
            // Writing the value the key already has is not a real update, so
            // it does not refresh: the trick needs a unique value.
            s.handle("n1", &write(json!("n1"), json!(6)), r);
            s.handle("n0", &write(json!("probe-n0"), json!(seed)), r);
            let v = read_value(&s.handle("n0", &read(json!("n1")), r).unwrap());
            assert!(v == Some(5) || v == Some(6), "{v:?}");
            stale_after_repeat += (v == Some(5)) as u32;
        }
        assert!(stale_after_repeat > 0);
    }

    #[test]
    fn seq_kv_noop_write_on_a_stale_state_appends_nothing() {
        // States: 0 empty, 1 k=1, 2 k=2. n0 writes k=1: on state 1 that is a
        // no-op, answered there; on states 0 or 2 it is a real update.
        let mut appended = 0;
        let mut noop = 0;
        for seed in 0..300 {
            let mut s = seq_with_writes(2);
            s.handle("n0", &write(json!("k"), json!(1)), &mut rng(seed));
            if s.last_index() == 3 {
                appended += 1;
                assert_eq!(s.state_for(3).get(&json!("k")), Some(&json!(1)));
            } else {
                noop += 1;
                assert_eq!(s.seen_by("n0"), 1);
                assert_eq!(s.state_for(2).get(&json!("k")), Some(&json!(2)));
            }
        }
        assert!(noop > 60 && appended > 140, "{noop} {appended}");
    }

    #[test]
    fn maelstroms_lww_kv_replicas_never_merge() {
        let mut split = 0;
        for seed in 0..50 {
            let mut s = LwwKv::default();
            let r = &mut rng(seed);
            for v in 0..20 {
                s.handle("n0", &write(json!("k"), json!(v)), r);
            }
            for _ in 0..100 {
                s.handle("n1", &read(json!("other")), r);
            }
            // No gossip survives: each replica holds only the writes it
            // was given itself, and keeps its own Lamport clock.
            let clocks: u64 = s.replicas.iter().map(|x| x.clock).sum();
            assert_eq!(clocks, 20, "seed {seed}");
            if s.replicas[0].map != s.replicas[1].map {
                split += 1;
            }
        }
        assert!(split >= 45, "{split}");
    }

    #[test]
    fn lww_kv_replicas_converge_by_last_write_wins() {
        for seed in 0..50 {
            let mut s = LwwKv::converging();
            let r = &mut rng(seed);
            for v in 0..20 {
                s.handle("n0", &write(json!("k"), json!(v)), r);
            }
            // Keep traffic flowing on another key; gossip spreads the last
            // write of k to both replicas.
            for _ in 0..100 {
                s.handle("n1", &read(json!("other")), r);
            }
            // Converged: the replicas agree, so every read agrees. (Which of
            // the writes won depends on the replicas' Lamport clocks: writes
            // to different replicas with no gossip in between are
            // concurrent, and last-write-wins picks the higher timestamp.)
            assert_eq!(s.replicas[0].map, s.replicas[1].map, "seed {seed}");
            let winner = read_value(&s.handle("n2", &read(json!("k")), r).unwrap());
            assert!(matches!(winner, Some(0..=19)));
            for _ in 0..10 {
                assert_eq!(
                    read_value(&s.handle("n2", &read(json!("k")), r).unwrap()),
                    winner
                );
            }
            // A write after convergence is later than everything: it wins.
            s.handle("n0", &write(json!("k"), json!(100)), r);
            for _ in 0..100 {
                s.handle("n1", &read(json!("other")), r);
            }
            for _ in 0..10 {
                assert_eq!(
                    read_value(&s.handle("n2", &read(json!("k")), r).unwrap()),
                    Some(100)
                );
            }
        }
    }

    #[test]
    fn lww_kv_reads_can_be_stale_and_cas_text_uses_str() {
        let mut stale = 0;
        for seed in 0..200 {
            let mut s = LwwKv::default();
            let r = &mut rng(seed);
            s.handle("n0", &write(json!("k"), json!("a")), r);
            s.handle("n0", &write(json!("k"), json!("b")), r);
            let reply = s.handle("n1", &read(json!("k")), r).unwrap();
            if reply != json!({"type": "read_ok", "value": "b"}) {
                stale += 1;
            }
            let mut s = LwwKv::default();
            s.handle("n0", &write(json!("j"), json!("x")), r);
            // Until gossip, one replica may not have j at all: 20 or 22.
            let reply = s
                .handle("n0", &cas(json!("j"), json!("y"), json!("z")), r)
                .unwrap();
            match reply["code"].as_u64() {
                Some(22) => assert_eq!(reply["text"], "current value \"x\" is not y"),
                Some(20) => assert_eq!(reply["text"], "key does not exist"),
                _ => panic!("{reply}"),
            }
        }
        assert!(stale > 0, "lww-kv is never stale");
    }

    #[test]
    fn java_double_printing() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(2.5), "2.5");
        assert_eq!(java_double(-0.001), "-0.001");
        assert_eq!(java_double(1e-4), "1.0E-4");
        assert_eq!(java_double(1.5e7), "1.5E7");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(0.0), "0.0");
    }
}
