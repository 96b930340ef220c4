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

use super::model::{CasRegister, RegisterOp, ValueId, NIL};
use super::search::{self, Budget, Entry, Stats, Stuck, Verdict};
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

/// Check every key's register; returns Maelstrom's `workload` result map
/// (Jepsen's `independent/checker` over Knossos's `linearizable`): `valid?`,
/// per-key `results`, `failures`, plus our `explanations`.
pub fn check_history(history: &History, budget: &Budget) -> Value {
    let mut results = Map::new();
    let mut failures = Vec::new();
    let mut explanations = Vec::new();
    let mut valid = Validity::Valid;
    let mut totals = Stats::default();
    for (key, ops) in by_key(history) {
        let result = check_key(history, &key.0, &ops, budget, &mut totals);
        let v = Validity::of(&result);
        valid = valid.merge(v);
        if v == Validity::Invalid {
            failures.push(key.0.clone());
            if explanations.len() < MAX_EXPLANATIONS {
                if let Some(t) = result.pointer("/linearizable/explanation/text") {
                    explanations.push(t.clone());
                }
            }
        }
        results.insert(key_name(&key.0), result);
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
fn check_key(
    history: &History,
    key: &Value,
    ops: &KeyOps,
    budget: &Budget,
    totals: &mut Stats,
) -> Value {
    let lin = match decode(history, ops, true) {
        Err(why) => json!({"valid?": "unknown", "cause": why}),
        Ok(d) => {
            let (verdict, stats) = search::check(&CasRegister, &d.entries, budget);
            totals.ops += stats.ops;
            totals.configs += stats.configs;
            totals.steps += stats.steps;
            match verdict {
                Verdict::Linearizable => json!({
                    "valid?": true,
                    "analyzer": "glomers-wgl",
                    "op-count": stats.ops,
                    "configs": stats.configs,
                }),
                Verdict::Unknown(why) => json!({
                    "valid?": "unknown",
                    "analyzer": "glomers-wgl",
                    "cause": why,
                }),
                Verdict::NotLinearizable(stuck)
                    if stuck.searched && !stuck.states.contains(&UNOBSERVED) =>
                {
                    invalid(history, key, &d, &stuck)
                }
                Verdict::NotLinearizable(stuck) => {
                    // Report real values and the precise frontier: search
                    // again without merging unobserved values and without
                    // the static pre-check (same verdict), within a small
                    // budget. If that runs out, keep the first report.
                    let now = Instant::now();
                    let small = Budget {
                        deadline: Some(
                            budget
                                .deadline
                                .map_or(now + REPORT_TIME, |d| d.min(now + REPORT_TIME)),
                        ),
                        max_bytes: budget.max_bytes.min(REPORT_BYTES),
                    };
                    let exact = decode(history, ops, false).ok().and_then(|e| {
                        match search::check_with(&CasRegister, &e.entries, &small, false).0 {
                            Verdict::NotLinearizable(s) => Some((e, s)),
                            _ => None,
                        }
                    });
                    match exact {
                        Some((e, s)) => invalid(history, key, &e, &s),
                        None => invalid(history, key, &d, &stuck),
                    }
                }
            }
        }
    };
    json!({"valid?": lin["valid?"].clone(), "linearizable": lin})
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
    }
}
