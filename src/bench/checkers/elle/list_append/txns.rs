//! From history entries to list-append transactions: micro-ops with
//! interned keys and elements, and the invocation each completion belongs
//! to. Also the two input guards Elle applies before any analysis
//! (`elle: src/elle/list_append.clj` `verify-mop-types`,
//! `verify-unique-appends`).

use crate::bench::checkers::elle::txns::{Id, Interner};
use crate::bench::history::{History, OpType, Process};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// One micro-op of a list-append transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mop {
    /// `["append", key, element]`.
    Append {
        /// The list's key.
        key: Id,
        /// The appended element.
        elem: Id,
    },
    /// `["r", key, list]`; `None` is `null` (a request, or a key that was
    /// never appended to).
    Read {
        /// The list's key.
        key: Id,
        /// The list read, if any.
        list: Option<Vec<Id>>,
    },
}

impl Mop {
    /// The micro-op's key.
    pub fn key(&self) -> Id {
        match self {
            Mop::Append { key, .. } | Mop::Read { key, .. } => *key,
        }
    }
}

/// One `txn` entry of the history (an invocation or a completion).
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
    /// For an invocation, the position in `txns` of its completion.
    pub completion: Option<usize>,
    /// The micro-ops, in order.
    pub mops: Vec<Mop>,
}

impl Txn {
    /// Elle's `possible` ops: those whose effects may have happened.
    pub fn possible(&self) -> bool {
        matches!(self.kind, OpType::Ok | OpType::Info)
    }
}

/// The transactions of a history, with the JSON behind every id.
#[derive(Debug, Default)]
pub struct Txns {
    /// Client `txn` entries, in history order.
    pub txns: Vec<Txn>,
    /// JSON of each interned key or element, by id.
    pub names: Vec<Value>,
}

impl Txns {
    /// The JSON of an interned id.
    pub fn name(&self, id: Id) -> Value {
        self.names.get(id as usize).cloned().unwrap_or(Value::Null)
    }

    /// A micro-op as it appeared in the history.
    pub fn mop_json(&self, m: &Mop) -> Value {
        match m {
            Mop::Append { key, elem } => json!(["append", self.name(*key), self.name(*elem)]),
            Mop::Read { key, list } => json!([
                "r",
                self.name(*key),
                list.as_ref()
                    .map(|l| l.iter().map(|&e| self.name(e)).collect::<Vec<_>>())
            ]),
        }
    }

    /// The position in `txns` of the transaction that owns entry `i`: its
    /// invocation for a completion, itself otherwise.
    pub fn owner(&self, i: usize) -> usize {
        self.txns[i].invocation.unwrap_or(i)
    }
}

/// Parse a transaction value: a list of `["r", k, null | [...]]` and
/// `["append", k, v]` triples.
fn parse_mops(value: &Value, interner: &mut Interner) -> Result<Vec<Mop>, String> {
    let mops = match value {
        Value::Array(mops) => mops,
        // A `txn_ok` whose txn is null (Maelstrom's schema admits it):
        // Elle sees no micro-op.
        Value::Null => return Ok(Vec::new()),
        _ => return Err(format!("transaction is not a list: {value}")),
    };
    mops.iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([f, k, v]) if f == "append" => Ok(Mop::Append {
                key: interner.id(k),
                elem: interner.id(v),
            }),
            Some([f, k, v]) if f == "r" => {
                let list = match v {
                    Value::Null => None,
                    Value::Array(es) => Some(es.iter().map(|e| interner.id(e)).collect()),
                    other => return Err(format!("read {m} returned {other}, not a list or null")),
                };
                Ok(Mop::Read {
                    key: interner.id(k),
                    list,
                })
            }
            _ => Err(format!(
                "micro-op {m} is not [\"r\", key, list] or [\"append\", key, element]"
            )),
        })
        .collect()
}

/// The client `txn` entries of `history`, or why they cannot be checked
/// (Elle: `unexpected-txn-micro-op-types`, which it reports as unknown).
pub fn parse(history: &History) -> Result<Txns, String> {
    let mut interner = Interner::default();
    let mut txns: Vec<Txn> = Vec::new();
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
        let invocation = if op.kind == OpType::Invoke {
            pending.insert(process, txns.len());
            None
        } else {
            pending.remove(&process)
        };
        if let Some(inv) = invocation {
            txns[inv].completion = Some(txns.len());
        }
        txns.push(Txn {
            index: op.index,
            kind: op.kind,
            process,
            invocation,
            completion: None,
            mops,
        });
    }
    Ok(Txns {
        txns,
        names: interner.names,
    })
}

/// Elle's `verify-unique-appends`: every invocation must append a value
/// that no earlier invocation appended to the same key, or the version
/// order cannot be read off the lists.
pub fn unique_appends(t: &Txns) -> Result<(), String> {
    let mut seen: HashSet<(Id, Id)> = HashSet::new();
    for x in t.txns.iter().filter(|x| x.kind == OpType::Invoke) {
        for m in &x.mops {
            if let Mop::Append { key, elem } = *m {
                if !seen.insert((key, elem)) {
                    return Err(format!(
                        "value {} was appended to key {} more than once (history entry {} \
                         repeats it); list-append inference needs unique appends",
                        t.name(elem),
                        t.name(key),
                        x.index
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_ops_must_be_reads_of_lists_or_appends() {
        let mut i = Interner::default();
        assert!(parse_mops(
            &json!([["r", 1, null], ["append", 1, 2], ["r", 1, [2]]]),
            &mut i
        )
        .is_ok());
        assert_eq!(parse_mops(&Value::Null, &mut i), Ok(vec![]));
        for bad in [
            json!([["w", 1, 2]]),
            json!([["r", 1, 5]]),
            json!([["append", 1]]),
            json!({"r": 1}),
        ] {
            assert!(parse_mops(&bad, &mut i).is_err(), "{bad}");
        }
    }
}
