//! A linearizability checker: is there one order of a history's operations,
//! consistent with real time, in which a sequential model explains every
//! result?
//!
//! # What is checked
//!
//! A history of invocations and completions (Jepsen's, as the bench records
//! it) is split by key, and each key's operations are checked against a
//! sequential [`model::Model`] — for `lin-kv`, Knossos's compare-and-set
//! register ([`model::CasRegister`], `knossos: src/knossos/model.clj`). A
//! key's history is *linearizable* if each operation can be given a point
//! between its invocation and its completion such that applying the
//! operations in the order of those points to the model gives every
//! observed result. Operations that completed `ok` must all get a point;
//! `fail` ones did not happen and are dropped; indeterminate ones (`info`,
//! or never completed) may get a point anywhere after their invocation, or
//! none. This is Knossos's reading of a history (`knossos:
//! src/knossos/history.clj`, `complete`; `src/knossos/wgl.clj`, `check`) and
//! what Porcupine checks when indeterminate operations are given an
//! infinite completion time (`porcupine: porcupine_test.go`, the etcd
//! model's `unknown` outputs).
//!
//! Linearizability is *local* (Herlihy and Wing; P-compositionality in
//! Horn and Kroening's terms): a history over independent objects is
//! linearizable iff each object's sub-history is. So each key is searched
//! on its own (like Jepsen's `independent/checker`,
//! `jepsen: jepsen/src/jepsen/independent.clj`), and the search space is
//! the product of small ones instead of one huge one. The history is first
//! reduced to integers in one pass ([`register::encode`]: keys and values
//! interned, `fail`ed operations dropped), then partitioned by key with a
//! counting sort and searched key by key ([`register::check_encoded`]);
//! the JSON is looked at again only to explain a failure.
//!
//! # The algorithm
//!
//! [`search`] is Wing and Gong's depth-first search with Lowe's
//! memoisation, as in Knossos's `wgl.clj` and Porcupine's `checker.go`: a
//! *configuration* is the set of operations linearized so far and the
//! model's state; from a configuration, any unlinearized operation invoked
//! before the earliest completion still pending may go next if the model
//! accepts it; the search succeeds when every `ok` operation is in the set,
//! and never visits a configuration twice (two paths to the same set and
//! state have the same future). On top of that:
//!
//! - **A static pre-check.** Once the search has taken more rounds than
//!   two per operation plus 256 (a valid history of a few concurrent
//!   operations at a time is decided before that, and then the pre-check
//!   would be most of the cost), the states any order of any operations
//!   could reach are enumerated (ignoring real time and multiplicity, an
//!   over-approximation; skipped past 1,024 states). A definite operation
//!   that none of them accepts — a read of a value nothing wrote, a cas
//!   from one — makes the history invalid at once. Those are the histories
//!   on which a search is slowest: it would have to exhaust every
//!   configuration before the impossible operation.
//! - **Dropping what cannot matter.** An operation the model accepts in
//!   every state without changing it (a read that returned `nil`, as every
//!   indeterminate read does) is removed; so is an indeterminate operation
//!   that never changes the state (it may simply not have happened).
//! - **Forced moves.** An `ok` read-only operation that the current state
//!   accepts is linearized at once, without branching: moving it to the
//!   front of any successful completion keeps that completion valid, so if
//!   the configuration after it fails, so does the one before. This covers
//!   most reads, which are half of `lin-kv`'s operations.
//! - **Definite operations first.** Candidates are tried `ok` ones first
//!   (in invocation order), indeterminate ones second, so the search
//!   reaches the configurations with the fewest optional operations first
//!   and the memo cuts the rest.
//! - **Interchangeable indeterminate operations.** Two indeterminate
//!   operations with the same effect are both available from the later
//!   one's invocation until the end: only the earlier one still
//!   unlinearized is tried.
//! - **Unobserved values are one value.** Per key, values no read returned
//!   and no cas expected are interned to one id ([`register`]), so writes
//!   of different never-read values lead to one state, not many.
//! - **No allocation per step, none per key.** Lowe's lift/unlift of
//!   operations from a linked list, an incrementally maintained Zobrist
//!   hash of the linearized bitset, and a flat open-addressing memo whose
//!   bitsets live in one arena and are compared exactly; a
//!   [`search::Checker`] keeps all of these buffers from one key to the
//!   next, so a history of a hundred keys allocates about as often as one
//!   of a single key.
//!
//! # Budget and verdicts
//!
//! The search is exponential in the worst case (checking linearizability is
//! NP-complete, Gibbons and Korach). [`search::Budget`] bounds wall-clock
//! time and the bytes of the memo; past either the verdict is `unknown`
//! with the reason, as Knossos's `:valid? :unknown` with a `:cause` after
//! an abort. A verdict of `true` or `false` is only given after the search
//! found a linearization or exhausted every configuration, so it is never
//! wrong for want of budget. [`oracle`] enumerates every order of small
//! histories and is the reference the search is tested against.
//!
//! # Reports
//!
//! [`register::check_history`] returns the shape of Maelstrom's `lin-kv`
//! result (`maelstrom: src/maelstrom/workload/lin_kv.clj` on
//! `jepsen: jepsen/src/jepsen/tests/linearizable_register.clj`): `valid?`,
//! per-key `results` whose `linearizable` map carries Knossos's `op` (the
//! `ok` operation that could not be linearized), `previous-ok` and
//! `final-paths`, and `failures` (the invalid keys). To that it adds an
//! `explanation` per failing key: the operation, the values the register
//! could hold just before it (every state the exhausted search reached with
//! all earlier completions linearized), the window of that key's operations
//! concurrent with it, and a sentence. When the pre-check or the merging
//! of unobserved values decided the verdict, the report comes from a second
//! search without either, bounded to 100 ms and 16 MiB; if that runs out,
//! the report names every state the register could ever hold instead, and
//! says so. Jepsen's `timeline.html` and
//! Knossos's `linear.svg` are not produced.
//!
//! # Cost
//!
//! Per key, time is proportional to the configurations visited times the
//! candidates scanned per configuration (at most the concurrency plus the
//! indeterminate operations pending); memory is one bitset of
//! `ops / 64` words plus a state per configuration. A valid `lin-kv` key
//! typically visits about one configuration per mutating operation. On a
//! Maelstrom-shaped history the search from the encoded history is a small
//! part of the whole check; most of it is reading the JSON values of the
//! history once ([`register::encode`]). The figures, and Porcupine's on
//! the same histories, are in `maelstrom-runs/records/linearizable.md`
//! (`benches/linearizable.rs`).
//!
//! # Layout
//!
//! - [`model`]: the [`model::Model`] trait and the compare-and-set register.
//! - [`search`]: the search for one object.
//! - [`oracle`]: brute force, for tests.
//! - [`register`]: keyed registers from a bench history (encoding,
//!   partition, per-key search); the result map and failure reports.

pub mod model;
pub mod oracle;
pub mod register;
pub mod search;

pub use search::{Budget, Entry, Verdict};
