//! The Wing–Gong–Lowe search for one object's history, with memoisation of
//! (linearized set, state) and a budget. See the module essay in
//! [`super`] for the algorithm; this file is its implementation.
//!
//! Data layout, chosen so that one step of the search costs a few word
//! operations and no allocation:
//!
//! - operations sorted by invocation, in a doubly linked list that the
//!   search *lifts* an operation out of when it linearizes it and puts back
//!   when it backtracks (Lowe's trick, also Porcupine's `lift`/`unlift` in
//!   `porcupine: checker.go`), so scanning the candidates never visits a
//!   linearized operation;
//! - the definite (`ok`) operations in a second list sorted by completion:
//!   its head is the earliest completion still to linearize, which bounds
//!   the candidates (an operation can go next only if it was invoked before
//!   that completion);
//! - the linearized set as a bitset with an incremental Zobrist hash, and a
//!   flat open-addressing table of visited configurations whose bitsets sit
//!   in one arena, compared exactly (a hash collision can cost time, never a
//!   wrong verdict).

use super::model::{Effect, Model};
use rustc_hash::FxHashSet;
use std::hash::{Hash, Hasher};
use std::time::Instant;

/// One operation of one object's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<O> {
    /// The operation with its observed result.
    pub op: O,
    /// When it was invoked (any monotonic clock; the bench uses history
    /// indices, which are unique).
    pub call: u64,
    /// When it completed `ok`; `None` when indeterminate (`info`, or no
    /// completion): it may have taken effect at any time after `call`, or
    /// never.
    pub ret: Option<u64>,
}

/// When to give up and answer [`Verdict::Unknown`].
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Wall-clock deadline for the whole check.
    pub deadline: Option<Instant>,
    /// Bytes the table of visited configurations may hold.
    pub max_bytes: usize,
}

impl Default for Budget {
    /// No deadline, 1 GiB of configurations.
    fn default() -> Self {
        Budget {
            deadline: None,
            max_bytes: 1 << 30,
        }
    }
}

/// Where the search got stuck, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Stuck<S> {
    /// Index (into the caller's entries) of the `ok` operation that could
    /// not be linearized: the earliest completion that no order of the
    /// operations before it could reach.
    pub op: usize,
    /// The states the object could be in while that operation was pending
    /// (up to [`MAX_REPORTED_STATES`]), in the order the search met them.
    pub states: Vec<S>,
    /// True when the search found it; false when the static pre-check did,
    /// and `states` are then every state the object could ever reach.
    pub searched: bool,
}

/// How many frontier states a [`Stuck`] keeps.
pub const MAX_REPORTED_STATES: usize = 16;

/// The verdict on one object's history.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<S> {
    /// Some order of the operations explains every result.
    Linearizable,
    /// No order does.
    NotLinearizable(Stuck<S>),
    /// The budget ran out first; the reason says which part.
    Unknown(String),
}

/// What the search did, for reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations the search considered after dropping inert ones.
    pub ops: usize,
    /// Distinct configurations visited.
    pub configs: usize,
    /// Linearization steps taken (including forced ones).
    pub steps: u64,
}

/// "No operation" in the linked lists.
const NONE: usize = usize::MAX;
/// How often (in rounds of the search loop) the deadline is read.
const CLOCK_EVERY: u64 = 1 << 12;

/// Check one object's history against `model`.
pub fn check<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    budget: &Budget,
) -> (Verdict<M::State>, Stats) {
    check_with(model, entries, budget, true)
}

/// [`check`], with or without the static pre-check ([`Search::unreachable`]
/// decides some invalid histories at once, but reports every state the
/// object could ever hold rather than those it could hold when it got
/// stuck; a report may want the search's more precise frontier).
pub fn check_with<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    budget: &Budget,
    precheck: bool,
) -> (Verdict<M::State>, Stats) {
    Checker::new(model).check(entries, budget, precheck)
}

/// The static pre-check alone (see [`Search::unreachable`]): `Some` when
/// some definite operation is accepted by no state any order of the
/// operations could reach, so the history is not linearizable; `None`
/// when it cannot tell. [`check`] runs it only once the search has taken
/// more than a few rounds per operation.
pub fn static_check<M: Model>(model: &M, entries: &[Entry<M::Op>]) -> Option<Stuck<M::State>> {
    let mut s = Search::new(model);
    s.load(entries);
    s.unreachable()
}

/// A search whose buffers (lists, bitset, memo) are kept from one history
/// to the next: checking many small objects one after the other (a
/// `lin-kv` history's keys) then allocates once, not a dozen times per key.
pub struct Checker<'a, M: Model> {
    search: Search<'a, M>,
}

impl<'a, M: Model> Checker<'a, M> {
    /// A checker for `model` with empty buffers.
    pub fn new(model: &'a M) -> Self {
        Checker {
            search: Search::new(model),
        }
    }

    /// [`check_with`] on `entries`, reusing this checker's buffers.
    pub fn check(
        &mut self,
        entries: &[Entry<M::Op>],
        budget: &Budget,
        precheck: bool,
    ) -> (Verdict<M::State>, Stats) {
        let s = &mut self.search;
        s.load(entries);
        let verdict = s.run(budget, precheck);
        s.stats.configs = s.memo.len();
        (verdict, s.stats)
    }
}

/// States the static pre-check enumerates at most before giving up on it.
const MAX_STATIC_STATES: usize = 1024;
/// Rounds of the search before the static pre-check runs, beyond two per
/// operation. A valid history of a few concurrent operations at a time is
/// decided within about two rounds per operation, and then the pre-check
/// (a closure over every state) would be most of the cost; an invalid one
/// the pre-check can decide pays at most these rounds first.
const PRECHECK_AFTER: u64 = 256;

/// What the search does next.
enum Mode {
    /// Just moved to a new configuration.
    Enter,
    /// Scanning candidates from `pos`; `pass` 0 tries definite operations,
    /// pass 1 indeterminate ones.
    Scan { pos: usize, pass: u8 },
    /// The current configuration has no way forward.
    Backtrack,
}

/// One linearized operation on the search path.
struct Frame<S> {
    /// The operation (search index).
    op: usize,
    /// The state before it.
    prev: S,
    /// Taken without branching (a read-only operation that was legal):
    /// if what follows fails, so does the configuration before it.
    forced: bool,
    /// The scan pass it was found in.
    pass: u8,
}

/// The search over one history.
struct Search<'a, M: Model> {
    model: &'a M,
    /// Operations in invocation order.
    ops: Vec<M::Op>,
    /// Invocation times, same order.
    call: Vec<u64>,
    /// Completion times (`u64::MAX` for indeterminate operations).
    ret: Vec<u64>,
    /// Whether each operation completed `ok` (must be linearized).
    required: Vec<bool>,
    /// Whether each operation can never change the state.
    read_only: Vec<bool>,
    /// For an indeterminate operation, the previous indeterminate one with
    /// the same operation (they are interchangeable), or [`NONE`].
    twin: Vec<usize>,
    /// The caller's index of each operation.
    origin: Vec<usize>,
    /// Zobrist keys, one per operation (kept and extended across loads:
    /// key `i` is the same for every history).
    zobrist: Vec<u64>,
    /// The SplitMix state after the last Zobrist key.
    zobrist_seed: u64,
    /// Scratch: definite operations by completion.
    by_ret: Vec<usize>,
    /// Invocation-order list of unlinearized operations; sentinel `n`.
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Completion-order list of unlinearized definite operations; sentinel
    /// `n`.
    rnext: Vec<usize>,
    rprev: Vec<usize>,
    /// The linearized set.
    bits: Vec<u64>,
    /// Its Zobrist hash.
    hash: u64,
    /// Definite operations still to linearize.
    required_left: usize,
    memo: Memo<M::State>,
    /// The furthest frontier (completion time of the blocking operation)
    /// reached, its blocking operation and the states seen there.
    best_ret: u64,
    best_op: usize,
    best_states: Vec<M::State>,
    stats: Stats,
}

impl<'a, M: Model> Search<'a, M> {
    /// An empty search; [`Search::load`] gives it a history.
    fn new(model: &'a M) -> Self {
        Search {
            model,
            ops: Vec::new(),
            call: Vec::new(),
            ret: Vec::new(),
            required: Vec::new(),
            read_only: Vec::new(),
            twin: Vec::new(),
            origin: Vec::new(),
            zobrist: Vec::new(),
            zobrist_seed: 0x9E37_79B9_7F4A_7C15,
            by_ret: Vec::new(),
            next: Vec::new(),
            prev: Vec::new(),
            rnext: Vec::new(),
            rprev: Vec::new(),
            bits: Vec::new(),
            hash: 0,
            required_left: 0,
            memo: Memo::new(1),
            best_ret: 0,
            best_op: NONE,
            best_states: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Drop what cannot matter, sort, and build the lists, in the buffers
    /// of the previous history.
    fn load(&mut self, entries: &[Entry<M::Op>]) {
        let model = self.model;
        self.origin.clear();
        self.origin.extend(
            (0..entries.len()).filter(|&i| match model.effect(&entries[i].op) {
                Effect::Inert => false,
                Effect::ReadOnly => entries[i].ret.is_some(),
                Effect::Mutating => true,
            }),
        );
        // Usually sorted already, which the stable sort detects in one pass.
        self.origin.sort_by_key(|&i| (entries[i].call, i));
        let n = self.origin.len();
        let keep = &self.origin;
        self.ops.clear();
        self.ops.extend(keep.iter().map(|&i| entries[i].op.clone()));
        self.call.clear();
        self.call.extend(keep.iter().map(|&i| entries[i].call));
        self.ret.clear();
        self.ret
            .extend(keep.iter().map(|&i| entries[i].ret.unwrap_or(u64::MAX)));
        self.required.clear();
        self.required
            .extend(keep.iter().map(|&i| entries[i].ret.is_some()));
        self.read_only.clear();
        self.read_only
            .extend(self.ops.iter().map(|o| model.effect(o) == Effect::ReadOnly));
        self.twin.clear();
        for i in 0..n {
            let twin = if self.required[i] {
                NONE
            } else {
                (0..i)
                    .rev()
                    .find(|&j| !self.required[j] && self.ops[j] == self.ops[i])
                    .unwrap_or(NONE)
            };
            self.twin.push(twin);
        }
        while self.zobrist.len() < n {
            self.zobrist.push(splitmix(&mut self.zobrist_seed));
        }
        self.link(n);
        let words = n.div_ceil(64).max(1);
        self.bits.clear();
        self.bits.resize(words, 0);
        self.hash = 0;
        self.memo.reset(words, n);
        self.best_ret = 0;
        self.best_op = NONE;
        self.best_states.clear();
        self.stats = Stats {
            ops: n,
            ..Stats::default()
        };
    }

    /// Build the invocation list (0 … n-1 in order, sentinel n) and the
    /// completion list over the definite operations.
    fn link(&mut self, n: usize) {
        self.next.clear();
        self.next
            .extend((0..=n).map(|i| if i == n { 0 } else { i + 1 }));
        self.prev.clear();
        self.prev
            .extend((0..=n).map(|i| if i == 0 { n } else { i - 1 }));
        self.by_ret.clear();
        self.by_ret.extend((0..n).filter(|&i| self.required[i]));
        let ret = &self.ret;
        self.by_ret.sort_by_key(|&i| (ret[i], i));
        self.rnext.clear();
        self.rnext.resize(n + 1, NONE);
        self.rprev.clear();
        self.rprev.resize(n + 1, NONE);
        let mut last = n;
        for &i in &self.by_ret {
            self.rnext[last] = i;
            self.rprev[i] = last;
            last = i;
        }
        self.rnext[last] = n;
        self.rprev[n] = last;
        self.required_left = self.by_ret.len();
    }

    fn n(&self) -> usize {
        self.ops.len()
    }

    /// Take operation `i` out of the lists and into the linearized set.
    fn lift(&mut self, i: usize) {
        let (p, q) = (self.prev[i], self.next[i]);
        self.next[p] = q;
        self.prev[q] = p;
        if self.required[i] {
            let (p, q) = (self.rprev[i], self.rnext[i]);
            self.rnext[p] = q;
            self.rprev[q] = p;
            self.required_left -= 1;
        }
        self.bits[i / 64] |= 1 << (i % 64);
        self.hash ^= self.zobrist[i];
        self.stats.steps += 1;
    }

    /// Undo [`Search::lift`] (in reverse order of lifting).
    fn unlift(&mut self, i: usize) {
        let (p, q) = (self.prev[i], self.next[i]);
        self.next[p] = i;
        self.prev[q] = i;
        if self.required[i] {
            let (p, q) = (self.rprev[i], self.rnext[i]);
            self.rnext[p] = i;
            self.rprev[q] = i;
            self.required_left += 1;
        }
        self.bits[i / 64] &= !(1 << (i % 64));
        self.hash ^= self.zobrist[i];
    }

    fn linearized(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// The earliest completion among unlinearized definite operations.
    fn min_ret(&self) -> u64 {
        let head = self.rnext[self.n()];
        if head == self.n() {
            u64::MAX
        } else {
            self.ret[head]
        }
    }

    /// Linearize `i` into `state'`, unless that configuration was seen.
    fn try_apply(&mut self, i: usize, next_state: &M::State) -> bool {
        self.lift(i);
        let h = self.hash ^ state_hash(next_state);
        if self.memo.insert(h, &self.bits, next_state) {
            true
        } else {
            self.unlift(i);
            false
        }
    }

    /// Remember the furthest frontier and the states seen there.
    fn note_frontier(&mut self, state: &M::State) {
        let r = self.min_ret();
        if r > self.best_ret || self.best_op == NONE {
            self.best_ret = r;
            self.best_op = self.rnext[self.n()];
            self.best_states.clear();
        }
        if r == self.best_ret
            && self.best_states.len() < MAX_REPORTED_STATES
            && !self.best_states.contains(state)
        {
            self.best_states.push(state.clone());
        }
    }

    /// Why the budget is exhausted, if it is.
    fn over_budget(&self, budget: &Budget, round: u64) -> Option<String> {
        if self.memo.bytes() > budget.max_bytes {
            return Some(format!(
                "memory budget of {} bytes exhausted after {} configurations",
                budget.max_bytes,
                self.memo.len()
            ));
        }
        if round.is_multiple_of(CLOCK_EVERY) {
            if let Some(d) = budget.deadline {
                if Instant::now() > d {
                    return Some(format!(
                        "time budget exhausted after {} configurations",
                        self.memo.len()
                    ));
                }
            }
        }
        None
    }

    /// A legal read-only definite candidate (taking it cannot hurt), if any.
    fn forced_candidate(&self, state: &M::State, min_ret: u64) -> Option<usize> {
        let mut pos = self.next[self.n()];
        while pos != self.n() && self.call[pos] < min_ret {
            if self.required[pos]
                && self.read_only[pos]
                && self.model.step(state, &self.ops[pos]).is_some()
            {
                return Some(pos);
            }
            pos = self.next[pos];
        }
        None
    }

    /// The next candidate from `pos` in `pass` and its new state.
    fn next_candidate(
        &self,
        mut pos: usize,
        pass: u8,
        state: &M::State,
        min_ret: u64,
    ) -> Option<(usize, M::State)> {
        while pos != self.n() && self.call[pos] < min_ret {
            let i = pos;
            pos = self.next[pos];
            if self.required[i] != (pass == 0) {
                continue;
            }
            if pass == 1 && self.twin[i] != NONE && !self.linearized(self.twin[i]) {
                continue; // its earlier twin is still available
            }
            if let Some(s2) = self.model.step(state, &self.ops[i]) {
                if pass == 1 && s2 == *state {
                    continue; // an optional operation that changes nothing
                }
                return Some((i, s2));
            }
        }
        None
    }

    /// The static pre-check: every state any order of any of the
    /// operations could reach from the initial one, ignoring real time and
    /// using each operation any number of times (an over-approximation of
    /// what a linearization can reach). A definite operation that no such
    /// state accepts can never be linearized: the history is invalid
    /// without any search. This decides at once the histories on which the
    /// search is slowest, those whose failing operation is impossible, whose
    /// frontier would otherwise have to be exhausted. Skipped (None) when
    /// the closure grows past [`MAX_STATIC_STATES`].
    fn unreachable(&self) -> Option<Stuck<M::State>> {
        let mut states = vec![self.model.init()];
        let mut seen: FxHashSet<M::State> = states.iter().cloned().collect();
        let mut i = 0;
        while i < states.len() {
            for op in &self.ops {
                if let Some(s2) = self.model.step(&states[i], op) {
                    if seen.insert(s2.clone()) {
                        if states.len() >= MAX_STATIC_STATES {
                            return None;
                        }
                        states.push(s2);
                    }
                }
            }
            i += 1;
        }
        let mut by_ret: Vec<usize> = (0..self.n()).filter(|&i| self.required[i]).collect();
        by_ret.sort_by_key(|&i| self.ret[i]);
        let op = by_ret.into_iter().find(|&i| {
            states
                .iter()
                .all(|s| self.model.step(s, &self.ops[i]).is_none())
        })?;
        states.truncate(MAX_REPORTED_STATES);
        Some(Stuck {
            op: self.origin[op],
            states,
            searched: false,
        })
    }

    /// The search as one explicit-stack state machine (enter, scan,
    /// backtrack). It stays one function past 80 lines on purpose: the
    /// three modes share `state` and `stack`, and splitting them would
    /// thread both through every step of the checker's hottest loop.
    fn run(&mut self, budget: &Budget, precheck: bool) -> Verdict<M::State> {
        let precheck_at = if precheck {
            2 * self.n() as u64 + PRECHECK_AFTER
        } else {
            u64::MAX
        };
        let mut state = self.model.init();
        self.memo.insert(state_hash(&state), &self.bits, &state);
        let mut stack: Vec<Frame<M::State>> = Vec::new();
        let mut mode = Mode::Enter;
        let mut round = 0u64;
        loop {
            round += 1;
            if let Some(why) = self.over_budget(budget, round) {
                return Verdict::Unknown(why);
            }
            if round == precheck_at {
                if let Some(stuck) = self.unreachable() {
                    return Verdict::NotLinearizable(stuck);
                }
            }
            mode = match mode {
                Mode::Enter => {
                    if self.required_left == 0 {
                        return Verdict::Linearizable;
                    }
                    self.note_frontier(&state);
                    match self.forced_candidate(&state, self.min_ret()) {
                        Some(i) => {
                            if self.try_apply(i, &state) {
                                stack.push(Frame {
                                    op: i,
                                    prev: state.clone(),
                                    forced: true,
                                    pass: 0,
                                });
                                Mode::Enter
                            } else {
                                Mode::Backtrack
                            }
                        }
                        None => Mode::Scan {
                            pos: self.next[self.n()],
                            pass: 0,
                        },
                    }
                }
                Mode::Scan { mut pos, pass } => {
                    let min_ret = self.min_ret();
                    let mut moved = None;
                    while let Some((i, s2)) = self.next_candidate(pos, pass, &state, min_ret) {
                        if self.try_apply(i, &s2) {
                            moved = Some((i, s2));
                            break;
                        }
                        pos = self.next[i];
                    }
                    match moved {
                        Some((i, s2)) => {
                            let prev = std::mem::replace(&mut state, s2);
                            stack.push(Frame {
                                op: i,
                                prev,
                                forced: false,
                                pass,
                            });
                            Mode::Enter
                        }
                        None if pass == 0 => Mode::Scan {
                            pos: self.next[self.n()],
                            pass: 1,
                        },
                        None => Mode::Backtrack,
                    }
                }
                Mode::Backtrack => loop {
                    let Some(f) = stack.pop() else {
                        return Verdict::NotLinearizable(Stuck {
                            op: self.origin.get(self.best_op).copied().unwrap_or(0),
                            states: std::mem::take(&mut self.best_states),
                            searched: true,
                        });
                    };
                    self.unlift(f.op);
                    state = f.prev;
                    if !f.forced {
                        break Mode::Scan {
                            pos: self.next[f.op],
                            pass: f.pass,
                        };
                    }
                },
            };
        }
    }
}

/// The visited configurations: an open-addressing table of ids into flat
/// arrays (bitsets in one arena, states, hashes).
struct Memo<S> {
    /// Words per bitset.
    words: usize,
    /// Every stored bitset, back to back.
    arena: Vec<u64>,
    states: Vec<S>,
    hashes: Vec<u64>,
    /// Slot → configuration id + 1 (0 = empty); a power of two long.
    slots: Vec<u32>,
}

impl<S: Clone + Eq> Memo<S> {
    fn new(words: usize) -> Self {
        Memo {
            words,
            arena: Vec::new(),
            states: Vec::new(),
            hashes: Vec::new(),
            slots: vec![0; 1024],
        }
    }

    /// Empty the table for a history of `n` operations, keeping the
    /// buffers. The table starts at twice the configurations a valid,
    /// mostly sequential history needs (about one per operation).
    fn reset(&mut self, words: usize, n: usize) {
        self.words = words;
        self.arena.clear();
        self.states.clear();
        self.hashes.clear();
        self.slots.clear();
        self.slots
            .resize((2 * n + 2).next_power_of_two().max(16), 0);
    }

    fn len(&self) -> usize {
        self.states.len()
    }

    /// An estimate of the bytes this history's configurations take (what
    /// is in use, not what earlier, larger histories left allocated).
    fn bytes(&self) -> usize {
        self.arena.len() * 8
            + self.states.len() * std::mem::size_of::<S>()
            + self.hashes.len() * 8
            + self.slots.len() * 4
    }

    /// Insert; false if an equal configuration is already there.
    fn insert(&mut self, hash: u64, bits: &[u64], state: &S) -> bool {
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            let id = self.slots[slot];
            if id == 0 {
                break;
            }
            let id = (id - 1) as usize;
            if self.hashes[id] == hash
                && self.states[id] == *state
                && self.arena[id * self.words..(id + 1) * self.words] == *bits
            {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        let id = self.states.len();
        self.slots[slot] = (id + 1) as u32;
        self.arena.extend_from_slice(bits);
        self.states.push(state.clone());
        self.hashes.push(hash);
        if self.states.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let mut slots = vec![0u32; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (id, &h) in self.hashes.iter().enumerate() {
            let mut slot = (h as usize) & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = (id + 1) as u32;
        }
        self.slots = slots;
    }
}

/// SplitMix64: the Zobrist keys (fixed seed, so runs are reproducible).
fn splitmix(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fast, fixed hash of a state (FxHash's multiply-rotate), mixed so the
/// low bits the table uses depend on every input bit.
fn state_hash<S: Hash>(s: &S) -> u64 {
    let mut h = Fx(0);
    s.hash(&mut h);
    let mut seed = h.0;
    splitmix(&mut seed)
}

/// FxHash's word hasher.
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{CasRegister, RegisterOp::*};
    use super::*;

    fn ok<O>(op: O, call: u64, ret: u64) -> Entry<O> {
        Entry {
            op,
            call,
            ret: Some(ret),
        }
    }

    fn info<O>(op: O, call: u64) -> Entry<O> {
        Entry {
            op,
            call,
            ret: None,
        }
    }

    fn verdict(entries: &[Entry<super::super::model::RegisterOp>]) -> Verdict<u32> {
        check(&CasRegister, entries, &Budget::default()).0
    }

    #[test]
    fn sequential_and_concurrent_cases() {
        // write 1; read 1: fine.
        assert_eq!(
            verdict(&[ok(Write(1), 0, 1), ok(Read(Some(1)), 2, 3)]),
            Verdict::Linearizable
        );
        // Stale read: write 1 completes, then a read sees nil's… no, 2.
        let v = verdict(&[
            ok(Write(2), 0, 1),
            ok(Write(1), 2, 3),
            ok(Read(Some(2)), 4, 5),
        ]);
        let Verdict::NotLinearizable(stuck) = v else {
            panic!("stale read accepted: {v:?}");
        };
        assert_eq!(stuck.op, 2);
        assert_eq!(stuck.states, vec![1]);
        // Concurrent writes: either order.
        assert_eq!(
            verdict(&[
                ok(Write(1), 0, 3),
                ok(Write(2), 1, 4),
                ok(Read(Some(1)), 5, 6)
            ]),
            Verdict::Linearizable
        );
    }

    #[test]
    fn indeterminate_ops_may_or_may_not_happen() {
        // An info write explains a later read…
        assert_eq!(
            verdict(&[info(Write(3), 0), ok(Read(Some(3)), 5, 6)]),
            Verdict::Linearizable
        );
        // …or may never have happened.
        assert_eq!(
            verdict(&[
                ok(Write(1), 0, 1),
                info(Write(3), 2),
                ok(Read(Some(1)), 5, 6)
            ]),
            Verdict::Linearizable
        );
        // But it cannot take effect before it was invoked.
        assert!(matches!(
            verdict(&[ok(Read(Some(3)), 0, 1), info(Write(3), 2)]),
            Verdict::NotLinearizable(_)
        ));
    }

    #[test]
    fn impossible_reads_are_decided_by_the_precheck_once_the_search_drags() {
        // 40 concurrent writes and a later read of a value none wrote: the
        // search alone would try orders of the writes until its memory
        // runs out; the pre-check, run after a few rounds, decides.
        let mut entries: Vec<_> = (0..40u64)
            .map(|i| ok(Write((i % 3) as u32 + 1), i, 1000 + i))
            .collect();
        entries.push(ok(Read(Some(9)), 2000, 2001));
        let budget = Budget {
            deadline: None,
            max_bytes: 1 << 16,
        };
        let (v, stats) = check(&CasRegister, &entries, &budget);
        let Verdict::NotLinearizable(stuck) = v else {
            panic!("not decided: {v:?}");
        };
        assert_eq!((stuck.op, stuck.searched), (40, false));
        assert!(stats.steps > 0, "the search ran first");
        assert!(static_check(&CasRegister, &entries).is_some());
        let (v, _) = check_with(&CasRegister, &entries, &budget, false);
        assert!(matches!(v, Verdict::Unknown(_)), "{v:?}");
    }

    #[test]
    fn a_reused_checker_gives_fresh_verdicts() {
        let long: Vec<_> = (0..100u64)
            .map(|i| ok(Write(i as u32 % 7 + 1), 2 * i, 2 * i + 1))
            .collect();
        let short = [ok(Write(2), 0, 1), ok(Read(Some(2)), 2, 3)];
        let bad = [ok(Write(2), 0, 1), ok(Read(Some(3)), 2, 3)];
        let mut c = Checker::new(&CasRegister);
        let b = Budget::default();
        for _ in 0..2 {
            for h in [&long[..], &short[..], &bad[..]] {
                assert_eq!(c.check(h, &b, true), check(&CasRegister, h, &b));
            }
        }
    }

    #[test]
    fn budget_gives_unknown() {
        let mut entries = Vec::new();
        for i in 0..40u64 {
            entries.push(ok(Write((i % 3) as u32 + 1), i, 1000 + i));
        }
        // A read of 3 after them: 3 can be written, but not last, so the
        // search must try every order of the writes (the static pre-check
        // cannot decide it).
        entries.push(ok(Write(3), 1500, 1501));
        entries.push(ok(Write(2), 1600, 1601));
        entries.push(ok(Read(Some(3)), 2000, 2001));
        let budget = Budget {
            deadline: None,
            max_bytes: 1 << 16,
        };
        let (v, _) = check(&CasRegister, &entries, &budget);
        assert!(
            matches!(v, Verdict::Unknown(ref why) if why.contains("memory")),
            "{v:?}"
        );
    }
}
