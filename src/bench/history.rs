//! The history of a test: every invocation and completion, as Jepsen records
//! them (`index`, `time` in ns since the test started, `process`, `type`,
//! `f`, `value`, optional `error`, and `final?` for final-phase ops;
//! jepsen: src/jepsen/history.clj, and the interpreter that records them,
//! src/jepsen/generator/interpreter.clj). `history.jsonl` holds one op per
//! line, written and read back through the wire module's JSON-lines
//! functions.

use crate::runtime::message;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The type of a history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation started.
    Invoke,
    /// It definitely happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// It may or may not have happened.
    Info,
}

/// Who performed an operation: a client process, or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process (starts equal to its worker thread, and grows by the
    /// concurrency each time an op of that worker ends `info`).
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64().is_some() => {
                Ok(Process::Client(n.as_u64().unwrap_or(0)))
            }
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            v => Err(serde::de::Error::custom(format!("bad process {v}"))),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: usize,
    /// Nanoseconds since the test started.
    pub time: u64,
    /// Who performed it.
    pub process: Process,
    /// Invocation or completion type.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The operation's function (`read`, `broadcast`, `txn`, …).
    pub f: String,
    /// The operation's value (workload-specific JSON).
    pub value: Value,
    /// Why an operation failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Set on final-phase operations.
    #[serde(rename = "final?", default, skip_serializing_if = "is_false")]
    pub final_phase: bool,
}

impl Op {
    /// A client process's entry at `time` (ns), index 0 until pushed onto
    /// a [`History`], not in the final phase.
    pub fn client(time: u64, process: u64, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time,
            process: Process::Client(process),
            kind,
            f: f.into(),
            value,
            error: None,
            final_phase: false,
        }
    }

    /// True for client operations (not the nemesis).
    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }
}

/// A whole history, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Every entry, `ops[i].index == i`.
    pub ops: Vec<Op>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    /// Append an entry, assigning its index; returns the index.
    pub fn push(&mut self, mut op: Op) -> usize {
        op.index = self.ops.len();
        self.ops.push(op);
        self.ops.len() - 1
    }

    /// For each entry, the index of its partner: an invocation's completion
    /// (None if it never completed), a completion's invocation.
    /// Pairs are matched per process, as Jepsen does.
    pub fn pairs(&self) -> Vec<Option<usize>> {
        let mut partner = vec![None; self.ops.len()];
        // Fx, not SipHash: keys are our own process numbers, and this runs
        // once per entry for every checker.
        let mut open: rustc_hash::FxHashMap<Process, usize> = rustc_hash::FxHashMap::default();
        for op in &self.ops {
            match op.kind {
                OpType::Invoke => {
                    open.insert(op.process, op.index);
                }
                _ => {
                    if let Some(inv) = open.remove(&op.process) {
                        partner[inv] = Some(op.index);
                        partner[op.index] = Some(inv);
                    }
                }
            }
        }
        partner
    }

    /// Invocation/completion pairs of client operations, in invocation order.
    pub fn client_pairs(&self) -> Vec<(&Op, Option<&Op>)> {
        let partner = self.pairs();
        self.ops
            .iter()
            .filter(|op| op.kind == OpType::Invoke && op.is_client())
            .map(|op| (op, partner[op.index].map(|i| &self.ops[i])))
            .collect()
    }

    /// Serialize as JSON lines, one entry per line (through the wire
    /// module's [`message::write_jsonl`]).
    pub fn to_jsonl(&self) -> String {
        // An `Op` is plain data (strings, numbers, JSON values): it always
        // serializes.
        message::write_jsonl(&self.ops).unwrap_or_default()
    }

    /// Parse JSON lines written by [`History::to_jsonl`].
    pub fn from_jsonl(text: &str) -> anyhow::Result<Self> {
        Ok(History {
            ops: message::read_jsonl(text, "history")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(process: Process, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process,
            kind,
            f: f.into(),
            value,
            error: None,
            final_phase: false,
        }
    }

    #[test]
    fn pairs_match_per_process_and_roundtrip() {
        let mut h = History::new();
        h.push(op(Process::Client(0), OpType::Invoke, "read", Value::Null));
        h.push(op(Process::Client(1), OpType::Invoke, "read", Value::Null));
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "start-partition",
            json!("one"),
        ));
        h.push(op(Process::Client(1), OpType::Ok, "read", json!([1])));
        h.push(op(Process::Client(0), OpType::Info, "read", Value::Null));
        let p = h.pairs();
        assert_eq!(p[0], Some(4));
        assert_eq!(p[1], Some(3));
        assert_eq!(p[3], Some(1));
        let back = History::from_jsonl(&h.to_jsonl()).unwrap();
        assert_eq!(back, h);
        assert!(h.to_jsonl().contains("\"process\":\"nemesis\""));
    }
}
