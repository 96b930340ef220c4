//! Jepsen's `unique-ids` checker (`jepsen: jepsen/src/jepsen/checker.clj`,
//! `unique-ids`, Jepsen 0.3.1 as Maelstrom 0.2.3 runs it on the unique-ids
//! workload).
//!
//! # What it computes
//!
//! Over the client operations with `f = generate`: `attempted-count` (the
//! invocations), `acknowledged-count` (the `ok` completions), and over the
//! `ok` values (the ids):
//!
//! - **Duplicates.** Jepsen counts the ids in a Clojure hash map
//!   (`tesser: core/src/tesser/core.clj`, `frequencies`), so two ids are the
//!   same when Clojure's `=` says so ([`clojure::key`]): `1`, `1.0` and
//!   `"1"` are three ids, `0.0` and `-0.0` one. Every id seen more than once
//!   is duplicated; the test is invalid iff there is one. `duplicated-count`
//!   is their number; `duplicated` shows up to 48 of them with their counts:
//!   Jepsen sorts the duplicates by id, stably by count, reverses, and takes
//!   48, so the most frequent come first and ties go to the largest ids.
//! - **Range.** `[lowest, highest]` under Clojure's `compare`
//!   ([`clojure::compare`]), computed as tesser's `range` fold does: nil ids
//!   are skipped, a tie keeps the later id, and the history is folded in
//!   chunks of 16 384 entries (`history: src/jepsen/history/core.clj`,
//!   `default-chunk-size`) whose results are then folded in order. So ids
//!   like `["n0", 12]` have a range (vectors compare by length, then
//!   element by element), and `[null, null]` when there is no id.
//!
//! # When Jepsen throws
//!
//! `compare` throws on ids of different kinds (a string and a number), on
//! maps, and on vectors whose first differing elements are of different
//! kinds. Jepsen's checker then throws too and Maelstrom reports `valid?
//! unknown`. That happens while folding the range, on exactly the pairs the
//! fold compares (each id against the current lowest and highest), and
//! while sorting the duplicates into a sorted map. We report `unknown` with
//! the failing comparison in `error`, and keep the counts (Jepsen's result
//! would hold only the error); `range` is left out when its fold threw.
//!
//! # Caveat
//!
//! Jepsen inserts the duplicates into its sorted map in Clojure's hash-map
//! order, which we do not reproduce; we insert them in order of first
//! acknowledgement, by binary search. The two agree whenever all duplicated
//! ids are comparable with each other or none of two kinds are (then every
//! order throws); they can differ only for same-length vectors among the
//! duplicates that some pairs order and others cannot, where the verdict
//! would be `false` in one order and `unknown` in the other.

use super::clojure::{self, Incomparable};
use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// How many duplicated ids the result lists.
const SHOW_DUPLICATES: usize = 48;

/// jepsen.history's chunk size: folds reduce each chunk of the history,
/// then combine the chunks' results.
const CHUNK: usize = 16_384;

/// The unique-ids checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniqueIds;

impl Checker for UniqueIds {
    fn check(&self, input: &Input<'_>) -> Value {
        check(input.history)
    }
}

/// tesser's `extremum` step: keep `m` or take `x` (ties take `x`); `want`
/// is `Less` for the minimum, `Greater` for the maximum.
fn extremum<'a>(
    m: Option<&'a Value>,
    x: Option<&'a Value>,
    want: Ordering,
) -> Result<Option<&'a Value>, Incomparable> {
    match (m, x) {
        (None, x) => Ok(x),
        (m, None) => Ok(m),
        (Some(m), Some(x)) => {
            let c = clojure::compare(x, m)?;
            Ok(Some(if c == want || c == Ordering::Equal {
                x
            } else {
                m
            }))
        }
    }
}

/// tesser's `range` over `ids` (history index, id): the lowest and highest,
/// folded per chunk, then across chunks in order.
fn range<'a>(ids: &[(usize, &'a Value)]) -> Result<[Option<&'a Value>; 2], Incomparable> {
    let mut whole: [Option<&Value>; 2] = [None, None];
    let mut start = 0;
    while start < ids.len() {
        let chunk = ids[start].0 / CHUNK;
        let mut part: [Option<&Value>; 2] = [None, None];
        while start < ids.len() && ids[start].0 / CHUNK == chunk {
            let x = Some(ids[start].1).filter(|v| !v.is_null());
            part = [
                extremum(part[0], x, Ordering::Less)?,
                extremum(part[1], x, Ordering::Greater)?,
            ];
            start += 1;
        }
        whole = [
            extremum(whole[0], part[0], Ordering::Less)?,
            extremum(whole[1], part[1], Ordering::Greater)?,
        ];
    }
    Ok(whole)
}

/// Insert `values` into a sorted sequence one by one, as into Clojure's
/// `sorted-map` (see the module's caveat); the sorted result, or what
/// `compare` threw.
fn sorted<'a>(values: impl IntoIterator<Item = &'a Value>) -> Result<Vec<&'a Value>, Incomparable> {
    let mut out: Vec<&Value> = Vec::new();
    for v in values {
        let (mut lo, mut hi) = (0, out.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match clojure::compare(v, out[mid])? {
                Ordering::Less => hi = mid,
                _ => lo = mid + 1,
            }
        }
        out.insert(lo, v);
    }
    Ok(out)
}

/// A duplicated id's label under `duplicated`: strings as they are,
/// anything else as JSON text.
fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The duplicated ids, each with its count, in first-acknowledged order.
fn duplicates<'a>(ids: &[(usize, &'a Value)]) -> Vec<(&'a Value, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut first: Vec<(String, &Value)> = Vec::new();
    for &(_, v) in ids {
        let k = clojure::key(v);
        let n = counts.entry(k.clone()).or_insert(0);
        if *n == 0 {
            first.push((k, v));
        }
        *n += 1;
    }
    first
        .into_iter()
        .filter_map(|(k, v)| counts.get(&k).filter(|&&n| n > 1).map(|&n| (v, n)))
        .collect()
}

/// The `duplicated` map Jepsen shows: by count, most frequent first, ties
/// to the largest ids, at most [`SHOW_DUPLICATES`], re-sorted by id.
fn shown(dups: &[(&Value, usize)]) -> Result<Map<String, Value>, Incomparable> {
    let count: HashMap<String, usize> = dups.iter().map(|(v, n)| (clojure::key(v), *n)).collect();
    let mut by_id = sorted(dups.iter().map(|(v, _)| *v))?;
    by_id.sort_by_key(|v| count[&clojure::key(v)]);
    by_id.reverse();
    by_id.truncate(SHOW_DUPLICATES);
    Ok(sorted(by_id)?
        .into_iter()
        .map(|v| (label(v), Value::from(count[&clojure::key(v)])))
        .collect())
}

/// The unique-ids result over `history`.
pub fn check(history: &History) -> Value {
    let generate = history
        .ops
        .iter()
        .filter(|o| o.is_client() && o.f == "generate");
    let attempted = generate
        .clone()
        .filter(|o| o.kind == OpType::Invoke)
        .count();
    let ids: Vec<(usize, &Value)> = generate
        .filter(|o| o.kind == OpType::Ok)
        .map(|o| (o.index, &o.value))
        .collect();
    let dups = duplicates(&ids);
    let mut out = json!({
        "attempted-count": attempted,
        "acknowledged-count": ids.len(),
        "duplicated-count": dups.len(),
    });
    let mut thrown = None;
    match range(&ids) {
        Ok(r) => out["range"] = json!(r),
        Err(e) => thrown = Some(("the range", e)),
    }
    match shown(&dups) {
        Ok(m) => out["duplicated"] = Value::Object(m),
        Err(e) => {
            thrown.get_or_insert(("the duplicated ids", e));
        }
    }
    out["valid?"] = match &thrown {
        Some((what, e)) => {
            out["error"] = json!(format!(
                "Jepsen's checker would throw while sorting {what}: {e}"
            ));
            json!("unknown")
        }
        None => json!(dups.is_empty()),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::Op;

    fn push(h: &mut History, kind: OpType, value: Value) {
        h.push(Op::client(0, 0, kind, "generate", value));
    }

    #[test]
    fn duplicates_and_structural_equality() {
        let mut h = History::new();
        for v in [json!(1), json!(2), json!(3)] {
            push(&mut h, OpType::Invoke, Value::Null);
            push(&mut h, OpType::Ok, v);
        }
        let r = check(&h);
        assert_eq!(r["valid?"], true);
        assert_eq!(r["range"], json!([1, 3]));
        assert_eq!(r["attempted-count"], 3);
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(1.0));
        assert_eq!(check(&h)["valid?"], true, "1.0 is not 1");
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(2));
        let r = check(&h);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["duplicated"]["2"], 2);
        assert_eq!(r["duplicated-count"], 1);
        let mut m = History::new();
        push(&mut m, OpType::Invoke, Value::Null);
        push(&mut m, OpType::Ok, json!("a"));
        push(&mut m, OpType::Invoke, Value::Null);
        push(&mut m, OpType::Ok, json!(1));
        assert_eq!(check(&m)["valid?"], "unknown");
    }

    /// A history of one `ok` generate per id.
    fn acked(ids: &[Value]) -> History {
        let mut h = History::new();
        for v in ids {
            push(&mut h, OpType::Invoke, Value::Null);
            push(&mut h, OpType::Ok, v.clone());
        }
        h
    }

    #[test]
    fn composite_ids_have_a_range() {
        let r = check(&acked(&[
            json!(["n1", 0]),
            json!(["n0", 12]),
            json!(["n2", 6724]),
            json!(["n0", 3]),
        ]));
        assert_eq!(r["valid?"], true, "{r}");
        assert_eq!(r["range"], json!([["n0", 3], ["n2", 6724]]));
        // Length first: a shorter vector is lower whatever its elements.
        let r = check(&acked(&[json!([5, 5, 5]), json!(["z"]), json!([1, 1])]));
        assert_eq!(r["valid?"], true, "{r}");
        assert_eq!(r["range"], json!([["z"], [5, 5, 5]]));
        // Nested vectors, compared element by element.
        let r = check(&acked(&[
            json!([[1, 2], "b"]),
            json!([[1, 1], "z"]),
            json!([[2], "a"]),
        ]));
        assert_eq!(r["range"], json!([[[2], "a"], [[1, 2], "b"]]));
    }

    #[test]
    fn ints_and_floats_compare_as_numbers_but_count_apart() {
        let r = check(&acked(&[json!(2), json!(0.5), json!(3.5), json!(1)]));
        assert_eq!(r["valid?"], true);
        assert_eq!(r["range"], json!([0.5, 3.5]));
        // 1 and 1.0 are different ids; as a range they tie, and the later wins.
        let r = check(&acked(&[json!(1), json!(1.0)]));
        assert_eq!(r["valid?"], true);
        assert_eq!(r["range"], json!([1.0, 1.0]));
        // 0.0 and -0.0 are one id to Clojure's hash maps.
        let r = check(&acked(&[json!(0.0), json!(-0.0)]));
        assert_eq!(r["valid?"], false);
        assert_eq!(r["duplicated"], json!({"0.0": 2}));
    }

    #[test]
    fn mixed_kinds_are_unknown_exactly_where_compare_throws() {
        let r = check(&acked(&[json!("n0-1"), json!(7)]));
        assert_eq!(r["valid?"], "unknown");
        assert!(r.get("range").is_none());
        assert!(r["error"].as_str().unwrap().contains("ClassCastException"));
        // Vectors of different kinds inside: compared only up to the first
        // difference, so these three never meet a string against a number.
        let r = check(&acked(&[json!([1, "a"]), json!([2, 3]), json!([0, true])]));
        assert_eq!(r["valid?"], true, "{r}");
        assert_eq!(r["range"], json!([[0, true], [2, 3]]));
        // …but these do: [1, "a"] against the current lowest [1, 2].
        let r = check(&acked(&[json!([1, 2]), json!([1, "a"])]));
        assert_eq!(r["valid?"], "unknown");
        // One map alone is never compared; two are.
        let r = check(&acked(&[json!({"a": 1})]));
        assert_eq!(r["valid?"], true);
        assert_eq!(r["range"], json!([{"a": 1}, {"a": 1}]));
        assert_eq!(
            check(&acked(&[json!({"a": 1}), json!({"a": 2})]))["valid?"],
            "unknown"
        );
        // nil ids are skipped by the range, so they mix with anything.
        let r = check(&acked(&[json!(null), json!("x"), json!(null)]));
        assert_eq!(r["range"], json!(["x", "x"]));
        assert_eq!(r["valid?"], false, "null was acknowledged twice");
        assert_eq!(r["duplicated"], json!({"null": 2}));
        let r = check(&acked(&[json!(null)]));
        assert_eq!(r["range"], json!([null, null]));
    }

    #[test]
    fn duplicates_that_cannot_be_sorted_are_unknown() {
        let r = check(&acked(&[json!("a"), json!("a")]));
        assert_eq!(r["valid?"], false);
        assert_eq!(r["duplicated"], json!({"a": 2}));
        // With numbers among them, the range fold throws first.
        let r = check(&acked(&[json!("a"), json!("a"), json!(1), json!(1)]));
        assert_eq!(r["valid?"], "unknown", "{r}");
        assert!(r["error"].as_str().unwrap().contains("the range"), "{r}");
        // The fold compares each id only with the current lowest and highest
        // ([0, 0] and [2, 0]), but sorting the duplicates compares [1, 5]
        // with [1, "a"], which throws.
        let r = check(&acked(&[
            json!([0, 0]),
            json!([2, 0]),
            json!([1, "a"]),
            json!([1, "a"]),
            json!([1, 5]),
            json!([1, 5]),
        ]));
        assert_eq!(r["range"], json!([[0, 0], [2, 0]]), "{r}");
        assert_eq!(r["valid?"], "unknown", "{r}");
        assert!(r["error"].as_str().unwrap().contains("duplicated"), "{r}");
        assert_eq!(r["duplicated-count"], 2);
    }

    #[test]
    fn shown_duplicates_prefer_high_counts_then_high_ids() {
        let mut ids = Vec::new();
        for k in 0..60u64 {
            ids.push(json!(k));
            ids.push(json!(k));
        }
        ids.push(json!(3));
        let r = check(&acked(&ids));
        assert_eq!(r["duplicated-count"], 60);
        let shown = r["duplicated"].as_object().unwrap();
        assert_eq!(shown.len(), 48);
        assert_eq!(shown["3"], 3, "the most frequent is shown");
        // The other 47 are the largest of the ties: 13 … 59.
        assert!(shown.contains_key("13") && shown.contains_key("59"));
        assert!(!shown.contains_key("12") && !shown.contains_key("0"));
    }

    #[test]
    fn the_range_folds_chunks_of_the_history_in_order() {
        // Ids that tie (1 and 1.0) in different chunks: the later chunk's
        // wins, as in a single pass.
        let mut h = History::new();
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(1));
        while h.ops.len() < CHUNK + 5 {
            push(&mut h, OpType::Invoke, Value::Null);
            push(&mut h, OpType::Info, Value::Null);
        }
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(1.0));
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(2));
        let r = check(&h);
        assert_eq!(r["range"], json!([1.0, 2]));
        assert_eq!(r["acknowledged-count"], 3);
    }
}
