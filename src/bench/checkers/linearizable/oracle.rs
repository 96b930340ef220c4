//! A brute-force linearizability oracle for small histories, the reference
//! the search is cross-checked against (see the tests in
//! `super::register` and `tests/linearizable.rs`).
//!
//! It shares nothing with the search but the [`Model`] and [`Entry`] types:
//! no dropped operations, no forced moves, no memo, no twins. It builds
//! every sequence of distinct operations that respects real time (an
//! operation may follow another only if it was not completed before the
//! other was invoked) and the model, extending prefixes one operation at a
//! time, and accepts when a sequence holds every definite operation;
//! indeterminate operations may appear or not. That is the definition of
//! linearizability with Jepsen's `info` semantics, enumerated. Exponential:
//! for histories of up to about eight operations.

use super::model::Model;
use super::search::Entry;

/// Whether some order of `entries` explains every definite result.
pub fn linearizable<M: Model>(model: &M, entries: &[Entry<M::Op>]) -> bool {
    let mut used = vec![false; entries.len()];
    extend(model, entries, &mut used, &model.init())
}

/// Try every next operation after the prefix marked in `used`.
fn extend<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    used: &mut [bool],
    state: &M::State,
) -> bool {
    let all_definite_done = entries
        .iter()
        .zip(used.iter())
        .all(|(e, &u)| u || e.ret.is_none());
    if all_definite_done {
        return true;
    }
    for i in 0..entries.len() {
        if used[i] {
            continue;
        }
        // Real time: no unused operation may have completed before i began.
        let blocked = entries
            .iter()
            .zip(used.iter())
            .enumerate()
            .any(|(j, (e, &u))| j != i && !u && matches!(e.ret, Some(r) if r < entries[i].call));
        if blocked {
            continue;
        }
        if let Some(next) = model.step(state, &entries[i].op) {
            used[i] = true;
            let found = extend(model, entries, used, &next);
            used[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}
