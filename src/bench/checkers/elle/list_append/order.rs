//! Version orders read off the lists themselves, and the two anomalies that
//! say the lists do not form one order: `incompatible-order` and
//! `duplicate-elements` (`elle: src/elle/list_append.clj` `sorted-values`,
//! `incompatible-orders`, `duplicates`, `append-index`).
//!
//! Every read of a key returns the key's whole list, so if appends work,
//! all the lists read from one key are prefixes of the longest. Sorting a
//! key's distinct non-empty lists by length, each must be a prefix of the
//! next; the first pair that is not is reported, once per key. The version
//! order of a key is then its longest list with repeated elements dropped,
//! whatever else was found: an element's position in it is its version.
//!
//! Ties in length are kept in the order the lists were first seen (Elle
//! keeps them in hash-set order), so which of two incompatible lists of the
//! same length becomes "the longest" is deterministic here.

use super::txns::{Mop, Txns};
use crate::bench::checkers::elle::txns::Id;
use crate::bench::checkers::elle::Case;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// Per key, its distinct non-empty lists, shortest first, in first-seen
/// order of keys.
pub type SortedValues = Vec<(Id, Vec<Vec<Id>>)>;

/// The distinct non-empty lists read from each key by the entries for
/// which `include` holds.
pub fn sorted_values(t: &Txns, include: impl Fn(usize) -> bool) -> SortedValues {
    let mut keys: Vec<Id> = Vec::new();
    let mut lists: HashMap<Id, Vec<Vec<Id>>> = HashMap::new();
    let mut seen: HashSet<(Id, &[Id])> = HashSet::new();
    for (i, x) in t.txns.iter().enumerate() {
        if !include(i) {
            continue;
        }
        for m in &x.mops {
            if let Mop::Read { key, list: Some(l) } = m {
                if l.is_empty() || !seen.insert((*key, l.as_slice())) {
                    continue;
                }
                lists
                    .entry(*key)
                    .or_insert_with(|| {
                        keys.push(*key);
                        Vec::new()
                    })
                    .push(l.clone());
            }
        }
    }
    keys.into_iter()
        .map(|k| {
            let mut ls = lists.remove(&k).unwrap_or_default();
            ls.sort_by_key(Vec::len);
            (k, ls)
        })
        .collect()
}

/// One key's version order: its elements in append order.
#[derive(Debug, Clone, Default)]
pub struct KeyOrder {
    /// The elements, first appended first.
    pub values: Vec<Id>,
    /// Each element's position in `values`.
    pub index: HashMap<Id, usize>,
}

/// Per key, its version order.
pub type AppendIndex = HashMap<Id, KeyOrder>;

/// Elle's `append-index`: each key's longest list, repeats dropped.
pub fn append_index(sorted: &SortedValues) -> AppendIndex {
    sorted
        .iter()
        .map(|(k, ls)| {
            let mut order = KeyOrder::default();
            for &e in ls.last().map(Vec::as_slice).unwrap_or_default() {
                if !order.index.contains_key(&e) {
                    order.index.insert(e, order.values.len());
                    order.values.push(e);
                }
            }
            (*k, order)
        })
        .collect()
}

/// `incompatible-order`: per key, the first pair of successive lists (by
/// length) where the shorter is not a prefix of the longer.
pub fn incompatible_orders(t: &Txns, sorted: &SortedValues) -> Vec<Case> {
    let show = |l: &[Id]| Value::from(l.iter().map(|&e| t.name(e)).collect::<Vec<_>>());
    sorted
        .iter()
        .filter_map(|(k, ls)| {
            let (a, b) = ls
                .windows(2)
                .map(|w| (&w[0], &w[1]))
                .find(|(a, b)| !b.starts_with(a))?;
            Some(Case {
                kind: "incompatible-order".into(),
                ops: vec![],
                explanation: format!(
                    "key {} was read as {} and as {}; neither is a prefix of the other, so no \
                     single order of appends explains both",
                    t.name(*k),
                    show(a),
                    show(b)
                ),
                detail: json!({"key": t.name(*k), "values": [show(a), show(b)]}),
            })
        })
        .collect()
}

/// `duplicate-elements`: a read (by an `ok` or `info` entry) that holds an
/// element more than once, although every element is appended once.
pub fn duplicates(t: &Txns) -> Vec<Case> {
    let mut cases = Vec::new();
    for x in t.txns.iter().filter(|x| x.possible()) {
        for m in &x.mops {
            let Mop::Read { list: Some(l), .. } = m else {
                continue;
            };
            let mut seen: HashMap<Id, usize> = HashMap::new();
            let mut counts: Vec<(Id, usize)> = Vec::new();
            for &e in l {
                let n = seen.entry(e).or_insert(0);
                *n += 1;
                if *n == 2 {
                    counts.push((e, 0));
                }
            }
            for c in &mut counts {
                c.1 = seen[&c.0];
            }
            if counts.is_empty() {
                continue;
            }
            let dups: Map<String, Value> = counts
                .iter()
                .map(|&(e, n)| (t.name(e).to_string(), json!(n)))
                .collect();
            cases.push(Case {
                kind: "duplicate-elements".into(),
                ops: vec![x.index],
                explanation: format!(
                    "history entry {} read {}, which holds an element more than once",
                    x.index,
                    t.mop_json(m)
                ),
                detail: json!({"op": x.index, "mop": t.mop_json(m), "duplicates": dups}),
            });
        }
    }
    cases
}
