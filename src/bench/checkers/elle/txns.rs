//! From history entries to transactions: micro-ops with interned keys and
//! values, external reads and writes, and the invocation each completion
//! belongs to.

use crate::bench::history::{History, OpType, Process};
use serde_json::Value;
use std::collections::HashMap;

/// An interned key or (non-null) value.
pub type Id = u32;

/// A (key, value) pair; the value `None` is `null`.
pub type KeyValue = (Id, Option<Id>);

/// One micro-op: a read (`value` is `None` for `null`) or a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mop {
    /// A write (`w`) rather than a read (`r`).
    pub write: bool,
    /// The key.
    pub key: Id,
    /// The value read or written (`None`: a read of `null`, or a write of
    /// `null`, which no read can tell from the initial state).
    pub value: Option<Id>,
}

/// One transaction entry of the history (an invocation or a completion).
#[derive(Debug, Clone)]
pub struct Txn {
    /// Position of the entry in the history (its `index`).
    pub index: usize,
    /// Invocation or completion type.
    pub kind: OpType,
    /// The client process.
    pub process: u64,
    /// For a completion, the position in `txns` of its invocation.
    pub invocation: Option<usize>,
    /// The micro-ops, in order.
    pub mops: Vec<Mop>,
    /// External reads: the first micro-op on a key, when it is a read.
    pub ext_reads: Vec<KeyValue>,
    /// External writes: the last write to each written key.
    pub ext_writes: Vec<KeyValue>,
}

impl Txn {
    /// The external read of `key`, if any.
    pub fn ext_read(&self, key: Id) -> Option<Option<Id>> {
        self.ext_reads
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// The external write of `key`, if any.
    pub fn ext_write(&self, key: Id) -> Option<Option<Id>> {
        self.ext_writes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

/// The transactions of a history, with the JSON behind every id.
#[derive(Debug, Default)]
pub struct Txns {
    /// Client `txn` entries, in history order.
    pub txns: Vec<Txn>,
    /// JSON of each interned key or value, by id.
    pub names: Vec<Value>,
}

/// Interns keys and values by their JSON text (serde_json prints objects
/// with sorted keys, so equal JSON gives equal text).
#[derive(Default)]
pub struct Interner {
    /// Id of each JSON text.
    ids: HashMap<String, Id>,
    /// JSON of each id.
    pub names: Vec<Value>,
}

impl Interner {
    /// The id of `v`, allocated on first sight.
    pub fn id(&mut self, v: &Value) -> Id {
        let text = v.to_string();
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = Id::try_from(self.names.len()).unwrap_or(Id::MAX);
        self.ids.insert(text, id);
        self.names.push(v.clone());
        id
    }
}

/// Parse a transaction value: a list of `["r"|"w", key, value]` triples.
fn parse_mops(value: &Value, interner: &mut Interner) -> Result<Vec<Mop>, String> {
    let Some(mops) = value.as_array() else {
        return Err(format!("transaction is not a list: {value}"));
    };
    mops.iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([f, k, v]) if f == "r" || f == "w" => Ok(Mop {
                write: f == "w",
                key: interner.id(k),
                value: (!v.is_null()).then(|| interner.id(v)),
            }),
            _ => Err(format!(
                "micro-op {m} is not [\"r\", key, value] or [\"w\", key, value]"
            )),
        })
        .collect()
}

/// External reads and writes of a micro-op list.
fn externals(mops: &[Mop]) -> (Vec<KeyValue>, Vec<KeyValue>) {
    let mut reads: Vec<KeyValue> = Vec::new();
    let mut writes: Vec<KeyValue> = Vec::new();
    let mut seen: Vec<Id> = Vec::new();
    for m in mops {
        if !seen.contains(&m.key) {
            seen.push(m.key);
            if !m.write {
                reads.push((m.key, m.value));
            }
        }
        if m.write {
            match writes.iter_mut().find(|(k, _)| *k == m.key) {
                Some(w) => w.1 = m.value,
                None => writes.push((m.key, m.value)),
            }
        }
    }
    (reads, writes)
}

/// The client `txn` entries of `history`, or why they cannot be checked.
pub fn parse(history: &History) -> Result<Txns, String> {
    let mut interner = Interner::default();
    let mut txns = Vec::new();
    let mut pending: HashMap<u64, usize> = HashMap::new();
    for op in &history.ops {
        let Process::Client(process) = op.process else {
            continue;
        };
        if op.f != "txn" {
            continue;
        }
        let mops = parse_mops(&op.value, &mut interner).map_err(|e| {
            format!(
                "history entry {} ({:?}) cannot be checked: {e}",
                op.index, op.kind
            )
        })?;
        let (ext_reads, ext_writes) = externals(&mops);
        let invocation = if op.kind == OpType::Invoke {
            pending.insert(process, txns.len());
            None
        } else {
            pending.remove(&process)
        };
        txns.push(Txn {
            index: op.index,
            kind: op.kind,
            process,
            invocation,
            mops,
            ext_reads,
            ext_writes,
        });
    }
    Ok(Txns {
        txns,
        names: interner.names,
    })
}

/// Two `ok` transactions that externally wrote the same value to the same
/// key make writes-follow-reads inference ambiguous; Elle refuses such
/// histories, and so do we.
pub fn duplicate_writes(t: &Txns) -> Result<(), String> {
    let mut writers: HashMap<(Id, Option<Id>), usize> = HashMap::new();
    for txn in t.txns.iter().filter(|x| x.kind == OpType::Ok) {
        for &(k, v) in &txn.ext_writes {
            if let Some(first) = writers.insert((k, v), txn.index) {
                let show = |id: Option<Id>| {
                    id.and_then(|i| t.names.get(i as usize))
                        .map_or("null".to_string(), Value::to_string)
                };
                return Err(format!(
                    "value {} was written to key {} by two ok transactions (history entries \
                     {first} and {}); rw-register inference needs unique writes",
                    show(v),
                    show(Some(k)),
                    txn.index
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn micro_ops_must_be_r_or_w_triples() {
        let mut i = Interner::default();
        assert!(parse_mops(&json!([["r", 1, null], ["w", 1, 2]]), &mut i).is_ok());
        assert!(parse_mops(&json!([["read", 1, null]]), &mut i).is_err());
        assert!(parse_mops(&json!([["r", 1]]), &mut i).is_err());
        assert!(parse_mops(&json!({"r": 1}), &mut i).is_err());
    }

    #[test]
    fn odd_values_never_equal_plain_ones() {
        let mut i = Interner::default();
        assert_ne!(i.id(&json!([1])), i.id(&json!("[1]")));
        assert_ne!(i.id(&json!(1)), i.id(&json!("1")));
        assert_eq!(i.id(&json!(3)), i.id(&json!(3)));
    }

    #[test]
    fn external_reads_and_writes() {
        let mut i = Interner::default();
        let mops = parse_mops(
            &json!([
                ["w", 1, 1],
                ["r", 1, 1],
                ["r", 2, 5],
                ["w", 2, 6],
                ["w", 1, 2]
            ]),
            &mut i,
        )
        .unwrap();
        let (r, w) = externals(&mops);
        let (k1, k2) = (i.id(&json!(1)), i.id(&json!(2)));
        assert_eq!(r, [(k2, Some(i.id(&json!(5))))]);
        assert_eq!(
            w,
            [(k1, Some(i.id(&json!(2)))), (k2, Some(i.id(&json!(6))))]
        );
    }
}
