//! Keyed compare-and-set registers: Jepsen's `linearizable-register` test
//! (`jepsen: jepsen/src/jepsen/tests/linearizable_register.clj`) as
//! Maelstrom's `lin-kv` records it, checked key by key.
//!
//! **History shape** (`maelstrom: src/maelstrom/workload/lin_kv.clj`):
//! every client value is a `[key, v]` tuple; `read` invokes with
//! `[k, null]` and completes `ok` with `[k, value]`; `write` is
//! `[k, value]`; `cas` is `[k, [from, to]]`. Nemesis entries carry no key
//! and are ignored, as in Jepsen's `independent/subhistory`.
//!
//! **Completion semantics** (Knossos's `history/complete` and
//! `without-failures`): `ok` operations happened, between their invocation
//! and completion; `fail` operations did not happen and are dropped;
//! `info` operations, and invocations that never completed, may have
//! happened at any time after their invocation, or never; an indeterminate
//! read carries no value and constrains nothing.
//!
//! **Values** are JSON, compared structurally (`1` ≠ `1.0`), interned per
//! key to small ids. Values that no operation of the key ever *observes*
//! (no read returned them, no cas expected them) are interned to one shared
//! id: registers holding two such values behave identically from then on,
//! so the search need not tell them apart. Reports name that id "a value no
//! operation observed".
//!
//! **Two readings of the history.** [`encode`] reads it once into integers
//! (what the check runs on: [`check_encoded`]); [`by_key`] and [`decode`]
//! read one key's operations from the JSON again, for failure reports (the
//! exact search without merged values) and for tests. Both group keys and
//! compare values the same way.

use super::model::{CasRegister, RegisterOp, ValueId, NIL};
use super::search::{self, Budget, Checker, Entry, Stats, Stuck, Verdict};
use crate::bench::check::Validity;
use crate::bench::history::{History, Op, OpType};
use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The shared id of values no operation observes.
pub const UNOBSERVED: ValueId = ValueId::MAX;
/// Operations listed in a failure's window at most.
const MAX_WINDOW: usize = 24;
/// Time and memory for the second, precise search behind a failure report.
const REPORT_TIME: Duration = Duration::from_millis(100);
const REPORT_BYTES: usize = 16 << 20;
/// Failing keys whose explanation is repeated at the top level.
const MAX_EXPLANATIONS: usize = 10;

/// One key's operations: (invocation index, completion index if any).
pub type KeyOps = Vec<(usize, Option<usize>)>;

/// Split a history into per-key operations, as Jepsen's
/// `independent/history-keys` + `subhistory` do: client invocations whose
/// value is a `[key, v]` pair, grouped by key (ordered by key).
///
/// Integer keys (Maelstrom's lin-kv draws them) are grouped through a hash
/// map on the integer; only other keys go through the ordered map. Ordering
/// JSON values once per operation was most of the whole check's time on a
/// Maelstrom-shaped history.
pub fn by_key(history: &History) -> BTreeMap<KeyOrder, KeyOps> {
    let partner = history.pairs();
    let mut ints: FxHashMap<i64, KeyOps> = FxHashMap::default();
    let mut keys: BTreeMap<KeyOrder, KeyOps> = BTreeMap::new();
    for op in &history.ops {
        if op.kind != OpType::Invoke || !op.is_client() {
            continue;
        }
        let Some([k, _]) = op.value.as_array().map(Vec::as_slice) else {
            continue;
        };
        let pair = (op.index, partner[op.index]);
        match k.as_i64() {
            Some(i) => ints.entry(i).or_default().push(pair),
            None => keys.entry(KeyOrder(k.clone())).or_default().push(pair),
        }
    }
    // An integer key never equals another key (KeyOrder breaks numeric
    // ties by the number's text), so these inserts add, never replace.
    keys.extend(
        ints.into_iter()
            .map(|(i, ops)| (KeyOrder(Value::from(i)), ops)),
    );
    keys
}

/// A JSON key ordered numbers first (numerically, ties such as `1` and
/// `1.0` broken by their text: they are different keys, as in Clojure),
/// then the rest by their JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOrder(pub Value);

impl Eq for KeyOrder {}

impl PartialOrd for KeyOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0.as_f64(), other.0.as_f64()) {
            (Some(a), Some(b)) => a
                .total_cmp(&b)
                .then_with(|| self.0.to_string().cmp(&other.0.to_string())),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => self.0.to_string().cmp(&other.0.to_string()),
        }
    }
}

/// One key's history decoded for the search.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// The search's input.
    pub entries: Vec<Entry<RegisterOp>>,
    /// For each entry, its (invocation, completion) history indices.
    pub sources: Vec<(usize, Option<usize>)>,
    /// Interned values: id → JSON (index = id; [`UNOBSERVED`] is not here).
    pub values: Vec<Value>,
}

impl Decoded {
    /// The JSON for a value id, or a description of the shared id.
    pub fn value(&self, id: ValueId) -> Value {
        if id == UNOBSERVED {
            Value::from("a value no operation observed")
        } else {
            self.values.get(id as usize).cloned().unwrap_or(Value::Null)
        }
    }
}

/// What one operation looks like before interning.
enum Raw<'a> {
    Read(&'a Value),
    Write(&'a Value),
    Cas(&'a Value, &'a Value),
}

/// The second element of a `[k, v]` tuple.
fn tuple_value(v: &Value) -> Option<&Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([_, x]) => Some(x),
        _ => None,
    }
}

/// Decode one operation, or say why it has an unexpected shape.
fn raw<'a>(inv: &'a Op, done: Option<&'a Op>) -> Result<Option<(Raw<'a>, bool)>, String> {
    let definite = match done.map(|d| d.kind) {
        Some(OpType::Fail) => return Ok(None),
        Some(OpType::Ok) => true,
        _ => false,
    };
    let bad = || {
        format!(
            "operation {} has an unexpected shape: {}",
            inv.index, inv.value
        )
    };
    let v = tuple_value(&inv.value).ok_or_else(bad)?;
    let op = match inv.f.as_str() {
        "read" if definite => {
            let got = done.and_then(|d| tuple_value(&d.value)).ok_or_else(bad)?;
            Raw::Read(got)
        }
        "read" => Raw::Read(&Value::Null),
        "write" => Raw::Write(v),
        "cas" => match v.as_array().map(Vec::as_slice) {
            Some([from, to]) => Raw::Cas(from, to),
            _ => return Err(bad()),
        },
        other => return Err(format!("operation {} has unknown f {other:?}", inv.index)),
    };
    Ok(Some((op, definite)))
}

/// Decode one key's operations for the search; with `merge_unobserved`,
/// values no operation observes share [`UNOBSERVED`].
pub fn decode(history: &History, ops: &KeyOps, merge_unobserved: bool) -> Result<Decoded, String> {
    let mut raws = Vec::new();
    for &(i, c) in ops {
        let inv = &history.ops[i];
        let done = c.map(|c| &history.ops[c]);
        if let Some((op, definite)) = raw(inv, done)? {
            raws.push((op, definite, i, c));
        }
    }
    // Observed values get their own ids; the rest share UNOBSERVED.
    let mut d = Decoded {
        values: vec![Value::Null],
        ..Decoded::default()
    };
    let mut ids: Vec<(Value, ValueId)> = Vec::new();
    let mut observe = |v: &Value, d: &mut Decoded| {
        if !v.is_null() && !ids.iter().any(|(x, _)| x == v) {
            ids.push((v.clone(), d.values.len() as ValueId));
            d.values.push(v.clone());
        }
    };
    for (op, _, _, _) in &raws {
        match op {
            Raw::Read(v) => observe(v, &mut d),
            Raw::Cas(from, to) => {
                observe(from, &mut d);
                if !merge_unobserved {
                    observe(to, &mut d);
                }
            }
            Raw::Write(v) if !merge_unobserved => observe(v, &mut d),
            Raw::Write(_) => {}
        }
    }
    let id = |v: &Value| -> ValueId {
        if v.is_null() {
            NIL
        } else {
            ids.iter()
                .find(|(x, _)| x == v)
                .map_or(UNOBSERVED, |(_, id)| *id)
        }
    };
    for (op, definite, i, c) in raws {
        let op = match op {
            Raw::Read(v) if v.is_null() => RegisterOp::Read(None),
            Raw::Read(v) => RegisterOp::Read(Some(id(v))),
            Raw::Write(v) => RegisterOp::Write(id(v)),
            Raw::Cas(from, to) => RegisterOp::Cas(id(from), id(to)),
        };
        d.entries.push(Entry {
            op,
            call: i as u64,
            ret: if definite { c.map(|c| c as u64) } else { None },
        });
        d.sources.push((i, c));
    }
    Ok(d)
}

/// One operation of an [`Encoded`] history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyedOp {
    /// The key's id (index into [`Encoded::keys`]).
    pub key: u32,
    /// The operation; its values are ids into [`Encoded::values`].
    pub op: RegisterOp,
    /// History index of the invocation.
    pub call: usize,
    /// History index of the completion, if any.
    pub done: Option<usize>,
    /// Whether it completed `ok` (else it is indeterminate).
    pub definite: bool,
}

/// A `lin-kv` history reduced to integers in one pass: keys and values
/// interned (integers through a hash map, anything else by JSON equality),
/// `fail`ed operations left out. This is the in-memory form the search
/// works from, what Porcupine's `[]Operation` is to its checker; the JSON
/// is only looked at again to report a failure.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// Key id → the key.
    pub keys: Vec<Value>,
    /// Value id → the value; id 0 ([`NIL`]) is `null`.
    pub values: Vec<Value>,
    /// The operations that may have happened, in invocation order.
    pub ops: Vec<KeyedOp>,
    /// Per key id, the first operation of an unexpected shape, if any: the
    /// key's verdict is then `unknown` with this cause.
    pub errors: Vec<Option<String>>,
}

/// Interns JSON values to dense ids (JSON equality, as [`decode`]).
#[derive(Default)]
struct Interner {
    ints: FxHashMap<i64, u32>,
    /// Non-integer values, compared by JSON equality (rare in `lin-kv`).
    others: Vec<(Value, u32)>,
}

impl Interner {
    /// The id of `v`, adding it to `table` if new.
    fn id(&mut self, v: &Value, table: &mut Vec<Value>) -> u32 {
        let fresh = table.len() as u32;
        let id = match v.as_i64() {
            Some(i) => *self.ints.entry(i).or_insert(fresh),
            None => match self.others.iter().find(|(x, _)| x == v) {
                Some(&(_, id)) => id,
                None => {
                    self.others.push((v.clone(), fresh));
                    fresh
                }
            },
        };
        if id == fresh {
            table.push(v.clone());
        }
        id
    }
}

/// Encode a history for [`check_encoded`]: client invocations whose value
/// is a `[key, v]` pair (Jepsen's `independent` tuples), as [`by_key`]
/// and [`decode`] read them.
pub fn encode(history: &History) -> Encoded {
    let partner = history.pairs();
    let mut e = Encoded {
        values: vec![Value::Null],
        ..Encoded::default()
    };
    // Keys group as in `by_key`: integers by value, others by KeyOrder.
    let mut int_keys: FxHashMap<i64, u32> = FxHashMap::default();
    let mut other_keys: BTreeMap<KeyOrder, u32> = BTreeMap::new();
    let mut values = Interner::default();
    values.others.push((Value::Null, NIL));
    for inv in &history.ops {
        if inv.kind != OpType::Invoke || !inv.is_client() {
            continue;
        }
        let Some([k, _]) = inv.value.as_array().map(Vec::as_slice) else {
            continue;
        };
        let fresh = e.keys.len() as u32;
        let key = match k.as_i64() {
            Some(i) => *int_keys.entry(i).or_insert(fresh),
            None => *other_keys.entry(KeyOrder(k.clone())).or_insert(fresh),
        };
        if key == fresh {
            e.keys.push(k.clone());
            e.errors.push(None);
        }
        let done = partner[inv.index];
        let (raw, definite) = match raw(inv, done.map(|c| &history.ops[c])) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(why) => {
                e.errors[key as usize].get_or_insert(why);
                continue;
            }
        };
        let mut id = |v: &Value| values.id(v, &mut e.values);
        let op = match raw {
            Raw::Read(v) if v.is_null() => RegisterOp::Read(None),
            Raw::Read(v) => RegisterOp::Read(Some(id(v))),
            Raw::Write(v) => RegisterOp::Write(id(v)),
            Raw::Cas(from, to) => RegisterOp::Cas(id(from), id(to)),
        };
        e.ops.push(KeyedOp {
            key,
            op,
            call: inv.index,
            done,
            definite,
        });
    }
    e
}

/// One key's verdict from [`check_encoded`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeyVerdict {
    /// The verdict; `Unknown` with the decoding error for a key with an
    /// operation of an unexpected shape.
    pub verdict: Verdict<ValueId>,
    /// What the search did.
    pub stats: Stats,
    /// The entries searched (only kept for a key found not linearizable,
    /// for its report; empty otherwise). Values no operation of the key
    /// observes are [`UNOBSERVED`].
    pub entries: Vec<Entry<RegisterOp>>,
    /// Their (invocation, completion) history indices, same condition.
    pub sources: Vec<(usize, Option<usize>)>,
}

/// Partition an encoded history by key (a counting sort, keeping
/// invocation order) and search each key: the whole check from the
/// in-memory history to the verdicts, one per key id.
pub fn check_encoded(e: &Encoded, budget: &Budget) -> Vec<KeyVerdict> {
    let nkeys = e.keys.len();
    let mut start = vec![0usize; nkeys + 1];
    for o in &e.ops {
        start[o.key as usize + 1] += 1;
    }
    for k in 0..nkeys {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; e.ops.len()];
    for (i, o) in e.ops.iter().enumerate() {
        order[fill[o.key as usize]] = i as u32;
        fill[o.key as usize] += 1;
    }
    let mut checker = Checker::new(&CasRegister);
    // observed[v] == key + 1 when some operation of that key observes v.
    let mut observed = vec![0u32; e.values.len()];
    let mut entries = Vec::new();
    let mut out = Vec::with_capacity(nkeys);
    for k in 0..nkeys {
        if let Some(why) = &e.errors[k] {
            out.push(KeyVerdict {
                verdict: Verdict::Unknown(why.clone()),
                stats: Stats::default(),
                entries: Vec::new(),
                sources: Vec::new(),
            });
            continue;
        }
        let ops = &order[start[k]..start[k + 1]];
        let stamp = k as u32 + 1;
        for &i in ops {
            match e.ops[i as usize].op {
                RegisterOp::Read(Some(v)) | RegisterOp::Cas(v, _) => observed[v as usize] = stamp,
                _ => {}
            }
        }
        let merge = |v: ValueId| {
            if v == NIL || observed[v as usize] == stamp {
                v
            } else {
                UNOBSERVED
            }
        };
        entries.clear();
        entries.extend(ops.iter().map(|&i| {
            let o = &e.ops[i as usize];
            Entry {
                op: match o.op {
                    RegisterOp::Write(v) => RegisterOp::Write(merge(v)),
                    RegisterOp::Cas(a, b) => RegisterOp::Cas(a, merge(b)),
                    read => read,
                },
                call: o.call as u64,
                ret: if o.definite {
                    o.done.map(|c| c as u64)
                } else {
                    None
                },
            }
        }));
        let (verdict, stats) = checker.check(&entries, budget, true);
        let failed = matches!(verdict, Verdict::NotLinearizable(_));
        out.push(KeyVerdict {
            verdict,
            stats,
            entries: if failed { entries.clone() } else { Vec::new() },
            sources: if failed {
                ops.iter()
                    .map(|&i| (e.ops[i as usize].call, e.ops[i as usize].done))
                    .collect()
            } else {
                Vec::new()
            },
        });
    }
    out
}

/// Check every key's register; returns Maelstrom's `workload` result map
/// (Jepsen's `independent/checker` over Knossos's `linearizable`): `valid?`,
/// per-key `results`, `failures`, plus our `explanations`.
pub fn check_history(history: &History, budget: &Budget) -> Value {
    let encoded = encode(history);
    let verdicts = check_encoded(&encoded, budget);
    // Keys in Jepsen's order (numbers first), as `by_key` gives them.
    let mut order: Vec<usize> = (0..encoded.keys.len()).collect();
    order.sort_by(|&a, &b| {
        KeyOrder(encoded.keys[a].clone()).cmp(&KeyOrder(encoded.keys[b].clone()))
    });
    let mut results = Map::new();
    let mut failures = Vec::new();
    let mut explanations = Vec::new();
    let mut valid = Validity::Valid;
    let mut totals = Stats::default();
    for k in order {
        let key = &encoded.keys[k];
        let kv = &verdicts[k];
        totals.ops += kv.stats.ops;
        totals.configs += kv.stats.configs;
        totals.steps += kv.stats.steps;
        let result = key_result(history, key, &encoded, kv, budget);
        let v = Validity::of(&result);
        valid = valid.merge(v);
        if v == Validity::Invalid {
            failures.push(key.clone());
            if explanations.len() < MAX_EXPLANATIONS {
                if let Some(t) = result.pointer("/linearizable/explanation/text") {
                    explanations.push(t.clone());
                }
            }
        }
        results.insert(key_name(key), result);
    }
    json!({
        "valid?": valid,
        "results": results,
        "failures": failures,
        "explanations": explanations,
        "checker": {
            "ops": totals.ops,
            "configs": totals.configs,
            "steps": totals.steps,
        },
    })
}

/// A key as a JSON object key (strings unquoted, like EDN map keys).
fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One key's result: `{"valid?", "linearizable": {…}}`.
fn key_result(
    history: &History,
    key: &Value,
    encoded: &Encoded,
    kv: &KeyVerdict,
    budget: &Budget,
) -> Value {
    let lin = match &kv.verdict {
        Verdict::Linearizable => json!({
            "valid?": true,
            "analyzer": "glomers-wgl",
            "op-count": kv.stats.ops,
            "configs": kv.stats.configs,
        }),
        // A key with an operation of an unexpected shape is never searched.
        Verdict::Unknown(why) if kv.stats == Stats::default() => {
            json!({"valid?": "unknown", "cause": why})
        }
        Verdict::Unknown(why) => json!({
            "valid?": "unknown",
            "analyzer": "glomers-wgl",
            "cause": why,
        }),
        Verdict::NotLinearizable(stuck) => {
            let d = Decoded {
                entries: kv.entries.clone(),
                sources: kv.sources.clone(),
                values: encoded.values.clone(),
            };
            report(history, key, &d, stuck, budget)
        }
    };
    json!({"valid?": lin["valid?"].clone(), "linearizable": lin})
}

/// The failure report for a key the search found not linearizable.
fn report(
    history: &History,
    key: &Value,
    d: &Decoded,
    stuck: &Stuck<ValueId>,
    budget: &Budget,
) -> Value {
    if stuck.searched && !stuck.states.contains(&UNOBSERVED) {
        return invalid(history, key, d, stuck);
    }
    // Report real values and the precise frontier: search again without
    // merging unobserved values and without the static pre-check (same
    // verdict), within a small budget. If that runs out, keep the first
    // report.
    let now = Instant::now();
    let small = Budget {
        deadline: Some(
            budget
                .deadline
                .map_or(now + REPORT_TIME, |d| d.min(now + REPORT_TIME)),
        ),
        max_bytes: budget.max_bytes.min(REPORT_BYTES),
    };
    let exact = decode(history, &d.sources, false).ok().and_then(|e| {
        match search::check_with(&CasRegister, &e.entries, &small, false).0 {
            Verdict::NotLinearizable(s) => Some((e, s)),
            _ => None,
        }
    });
    match exact {
        Some((e, s)) => invalid(history, key, &e, &s),
        None => invalid(history, key, d, stuck),
    }
}

/// A history entry, compactly.
fn entry_json(op: &Op) -> Value {
    let mut v = json!({
        "index": op.index,
        "process": op.process,
        "type": op.kind,
        "f": op.f,
        "value": op.value,
    });
    if let Some(e) = &op.error {
        v["error"] = e.clone();
    }
    v
}

/// The failure report: Knossos's `op`, `previous-ok` and `final-paths`,
/// plus our explanation with the window of concurrent operations.
fn invalid(history: &History, key: &Value, d: &Decoded, stuck: &Stuck<ValueId>) -> Value {
    let (inv_i, done_i) = d.sources[stuck.op];
    let done = done_i.map(|c| &history.ops[c]);
    let inv = &history.ops[inv_i];
    let ret = done_i.unwrap_or(usize::MAX);
    // Knossos's previous-ok: the last ok completion before this one.
    let previous_ok = history.ops[..ret.min(history.ops.len())]
        .iter()
        .rev()
        .find(|o| o.kind == OpType::Ok && o.is_client() && o.index != inv_i && same_key(o, key))
        .map(entry_json);
    let possible: Vec<Value> = stuck.states.iter().map(|&s| d.value(s)).collect();
    let window = window(history, d, stuck.op);
    let what = describe(inv, done);
    let text = format!(
        "key {}: {} (process {}, history indices {}–{}) cannot be linearized: \
         {} {}; {}",
        key_name(key),
        what,
        serde_json::to_string(&inv.process).unwrap_or_default(),
        inv.index,
        done.map_or("?".to_string(), |o| o.index.to_string()),
        if stuck.searched {
            "just before it, whatever the order of the operations before it, the register could only hold"
        } else {
            "no order of the operations ever lets the register hold what it needs; it can only ever hold"
        },
        join_values(&possible),
        match window.len().saturating_sub(1) {
            0 => "no other operation was concurrent with it".to_string(),
            n => format!("{n} other operation(s) were concurrent with it (see window)"),
        },
    );
    let final_paths: Vec<Value> = stuck
        .states
        .iter()
        .map(|&s| {
            json!([
                {"op": previous_ok.clone(), "model": {"value": d.value(s)}},
                {"op": done.map(entry_json), "model": {"inconsistent": format!("{what} from register {}", d.value(s))}},
            ])
        })
        .collect();
    json!({
        "valid?": false,
        "analyzer": "glomers-wgl",
        "op": done.map(entry_json),
        "previous-ok": previous_ok,
        "final-paths": final_paths,
        "explanation": {
            "key": key,
            "invoke": entry_json(inv),
            "complete": done.map(entry_json),
            "possible-values": possible,
            "window": window,
            "text": text,
        },
    })
}

/// Whether a history entry belongs to `key`.
fn same_key(op: &Op, key: &Value) -> bool {
    matches!(op.value.as_array().map(Vec::as_slice), Some([k, _]) if k == key)
}

/// "read returned 3", "cas 1→2 succeeded", …
fn describe(inv: &Op, done: Option<&Op>) -> String {
    let v = |o: &Op| tuple_value(&o.value).cloned().unwrap_or(Value::Null);
    match inv.f.as_str() {
        "read" => format!("read returned {}", done.map(v).unwrap_or(Value::Null)),
        "write" => format!("write {}", v(inv)),
        "cas" => match v(inv).as_array().map(Vec::as_slice) {
            Some([a, b]) => format!("cas {a}→{b}"),
            _ => format!("cas {}", v(inv)),
        },
        f => format!("{f} {}", v(inv)),
    }
}

fn join_values(vs: &[Value]) -> String {
    match vs {
        [] => "nothing".into(),
        [one] => one.to_string(),
        _ => {
            let parts: Vec<String> = vs.iter().map(Value::to_string).collect();
            format!("one of {}", parts.join(", "))
        }
    }
}

/// The failing operation and every operation of its key concurrent with it
/// (invoked before it completed, not completed before it was invoked),
/// in invocation order, at most [`MAX_WINDOW`].
fn window(history: &History, d: &Decoded, stuck: usize) -> Vec<Value> {
    let e = &d.entries[stuck];
    let end = e.ret.unwrap_or(u64::MAX);
    let mut rows: Vec<(u64, Value)> = Vec::new();
    for (j, o) in d.entries.iter().enumerate() {
        if o.call < end && o.ret.unwrap_or(u64::MAX) > e.call {
            let (i, c) = d.sources[j];
            let done = c.map(|c| &history.ops[c]);
            rows.push((
                o.call,
                json!({
                    "process": history.ops[i].process,
                    "f": history.ops[i].f,
                    "invoke": history.ops[i].value,
                    "type": done.map(|x| x.kind),
                    "result": done.map(|x| x.value.clone()),
                    "indices": [i, c],
                    "failing": j == stuck,
                }),
            ));
        }
    }
    rows.sort_by_key(|r| r.0);
    rows.into_iter().take(MAX_WINDOW).map(|r| r.1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_group_by_json_equality_and_sort_numbers_first() {
        let mut h = History::new();
        for (p, k) in [
            json!(2),
            json!(1.0),
            json!("a"),
            json!(1),
            json!(-3),
            json!(2),
        ]
        .into_iter()
        .enumerate()
        {
            h.push(Op::client(
                0,
                p as u64,
                OpType::Invoke,
                "read",
                json!([k, null]),
            ));
        }
        let keys: Vec<(String, usize)> = by_key(&h)
            .iter()
            .map(|(k, ops)| (k.0.to_string(), ops.len()))
            .collect();
        let want = [("-3", 1), ("1", 1), ("1.0", 1), ("2", 2), ("\"a\"", 1)];
        let want: Vec<(String, usize)> = want.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        assert_eq!(keys, want);
        // encode groups them the same way.
        let e = encode(&h);
        let mut encoded: Vec<(String, usize)> = e
            .keys
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let n = e.ops.iter().filter(|o| o.key as usize == k).count();
                (v.to_string(), n)
            })
            .collect();
        encoded.sort();
        let mut want = want;
        want.sort();
        assert_eq!(encoded, want);
    }

    #[test]
    fn encode_drops_failures_and_flags_bad_shapes_per_key() {
        let mut h = History::new();
        let rows = [
            (0, OpType::Invoke, "write", json!([1, 5])),
            (0, OpType::Ok, "write", json!([1, 5])),
            (1, OpType::Invoke, "cas", json!([1, [5, 6]])),
            (1, OpType::Fail, "cas", json!([1, [5, 6]])),
            (2, OpType::Invoke, "cas", json!([2, 7])),
            (2, OpType::Ok, "cas", json!([2, 7])),
            (3, OpType::Invoke, "read", json!([1, null])),
            (3, OpType::Info, "read", json!([1, null])),
        ];
        for (p, kind, f, v) in rows {
            h.push(Op::client(0, p, kind, f, v));
        }
        let e = encode(&h);
        assert_eq!(e.keys, vec![json!(1), json!(2)]);
        let ops: Vec<(u32, RegisterOp, bool)> =
            e.ops.iter().map(|o| (o.key, o.op, o.definite)).collect();
        let five = e.values.iter().position(|v| *v == json!(5)).unwrap() as ValueId;
        assert_eq!(
            ops,
            vec![
                (0, RegisterOp::Write(five), true),
                (0, RegisterOp::Read(None), false)
            ]
        );
        assert!(e.errors[0].is_none());
        assert!(e.errors[1]
            .as_deref()
            .unwrap_or("")
            .contains("unexpected shape"));
        let r = check_history(&h, &Budget::default());
        assert_eq!(r["results"]["1"]["valid?"], true);
        assert_eq!(r["results"]["2"]["valid?"], "unknown");
        assert_eq!(r["valid?"], "unknown");
    }
}
