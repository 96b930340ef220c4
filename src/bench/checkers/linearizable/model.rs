//! Sequential models: what a single object does when operations are applied
//! to it one at a time. The search in [`super::search`] only needs
//! [`Model::init`] and [`Model::step`]; everything else is for reports.
//!
//! A model is pure and deterministic, as Knossos's (`knossos:
//! src/knossos/model.clj`, `Model/step`) and Porcupine's (`porcupine:
//! model.go`, `Model.Step`) are: the same state and operation always give
//! the same answer. Operations carry their *observed* result (a read carries
//! the value it returned), so `step` both checks the result and computes the
//! next state, and answers `None` when the operation could not have returned
//! what it did from that state.
//!
//! States must be cheap to clone, compare and hash: the search memoises
//! (linearized set, state) pairs, so a model for a whole key/value map (the
//! `seq-kv`/`lin-kv` services) should keep one key per search, as the
//! checker's per-key decomposition does, and intern values to small ids as
//! [`CasRegister`] does.

use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    /// The object's state (a register's value id, a counter's total, …).
    type State: Clone + Eq + Hash + Debug;
    /// One operation with its observed result.
    type Op: Clone + Eq + Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after `op` from `state`, or `None` if `op` could not have
    /// happened (with its observed result) in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// What `op` can ever do, so the checker can drop operations that
    /// cannot matter. The default, [`Effect::Mutating`], is always safe.
    fn effect(&self, op: &Self::Op) -> Effect {
        let _ = op;
        Effect::Mutating
    }
}

/// What an operation can ever do, whatever the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Legal in every state and never changes it (a read that returned
    /// nothing). Such an operation constrains nothing and is dropped.
    Inert,
    /// Never changes the state, but may be illegal in some (a read that
    /// returned a value). When indeterminate it is dropped: it may simply
    /// not have happened, and happening would change nothing.
    ReadOnly,
    /// May change the state.
    Mutating,
}

/// A register value, interned: [`NIL`] is Knossos's `nil` (the initial
/// value, JSON `null`); other ids are given out by whoever builds the
/// operations (see `super::register`).
pub type ValueId = u32;

/// The interned `nil`.
pub const NIL: ValueId = 0;

/// An operation on a compare-and-set register, with its observed result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A read that returned this value; `None` for a read that returned
    /// `nil`, which Knossos's register accepts in every state.
    Read(Option<ValueId>),
    /// A write of this value.
    Write(ValueId),
    /// A compare-and-set that succeeded: from the first value to the second.
    Cas(ValueId, ValueId),
}

/// Knossos's `cas-register` (`knossos: src/knossos/model.clj`,
/// `CASRegister`): starts at `nil`; a write sets the value; a cas succeeds
/// only from its expected value; a read must return the current value,
/// except that a read of `nil` is accepted in any state (Knossos's
/// `(or (nil? v) (= v value))`), which is what an indeterminate read
/// carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct CasRegister;

impl Model for CasRegister {
    type State = ValueId;
    type Op = RegisterOp;

    fn init(&self) -> ValueId {
        NIL
    }

    fn step(&self, state: &ValueId, op: &RegisterOp) -> Option<ValueId> {
        match *op {
            RegisterOp::Read(None) => Some(*state),
            RegisterOp::Read(Some(v)) => (v == *state).then_some(v),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas(from, to) => (from == *state).then_some(to),
        }
    }

    fn effect(&self, op: &RegisterOp) -> Effect {
        match op {
            RegisterOp::Read(None) => Effect::Inert,
            RegisterOp::Read(Some(_)) => Effect::ReadOnly,
            RegisterOp::Write(_) | RegisterOp::Cas(..) => Effect::Mutating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_register_follows_knossos() {
        let m = CasRegister;
        assert_eq!(m.init(), NIL);
        assert_eq!(m.step(&NIL, &RegisterOp::Read(None)), Some(NIL));
        assert_eq!(m.step(&3, &RegisterOp::Read(None)), Some(3));
        assert_eq!(m.step(&3, &RegisterOp::Read(Some(3))), Some(3));
        assert_eq!(m.step(&3, &RegisterOp::Read(Some(4))), None);
        assert_eq!(m.step(&NIL, &RegisterOp::Write(2)), Some(2));
        assert_eq!(m.step(&2, &RegisterOp::Cas(2, 5)), Some(5));
        assert_eq!(m.step(&2, &RegisterOp::Cas(1, 5)), None);
        assert_eq!(m.step(&NIL, &RegisterOp::Cas(NIL, 5)), Some(5));
        assert_eq!(m.effect(&RegisterOp::Read(None)), Effect::Inert);
        assert_eq!(m.effect(&RegisterOp::Read(Some(1))), Effect::ReadOnly);
        assert_eq!(m.effect(&RegisterOp::Cas(1, 1)), Effect::Mutating);
    }
}
