//! The JVM-free, Maelstrom-compatible bench.
//!
//! A test is Maelstrom's (maelstrom: src/maelstrom/core.clj,
//! `maelstrom-test`): nodes behind a simulated network, a workload's
//! generator driving clients, a nemesis injecting faults, services, and a
//! composed checker over the history and the message journal. Each part
//! has its own module, and the engine composes them.
//!
//! # Layout
//!
//! - [`opts`]: a test's options with Maelstrom's defaults.
//! - [`history`]: the operation history.
//! - [`workload`]: the generator / client / checker interface.
//! - [`workloads`]: the workloads, and the registry that names them.
//! - [`services`]: lin-kv, seq-kv, lww-kv, lin-tso.
//! - [`check`]: validity and quantiles shared by checkers.
//! - [`checkers`]: every checker behind one interface, and the list each
//!   test runs (stats, availability, net, the workload's).
//! - [`engine`]: the test as phases, run by one discrete-event interpreter
//!   shared by process and in-process runs.
//! - [`net`]: the simulated network and the message journal.
//! - [`nemesis`]: faults, their schedule and operations, partition shapes.
//! - [`backend`]: node I/O and per-node lifecycle; the process backend.
//! - [`launcher`]: node processes that die with the bench (parent-death
//!   signal, Linux).
//! - [`inprocess`]: nodes built from factories (any `Node`), on a virtual clock.
//! - [`sim`]: a simulated cluster for tests (builder, faults, `call`).
//! - [`results`]: verdict lines and exit codes.
//! - [`store`]: the run directory.
//! - [`report`]: pictures of a run (plots, Lamport diagram, timeline).
//! - [`serve`]: `glomers serve`, the store in a browser.
//! - [`cli`]: the `glomers` command line (`test`, `report`, `serve`), with
//!   [`challenge`] (`challenge`, its failed figures explained by [`hints`]),
//!   [`sweep`] (`sweep`, in-process or [`parallel`] child runs of any
//!   binary) and [`repeat`] (`test --test-count`).
//!
//! # Adding a workload
//!
//! 1. Implement [`workload::Workload`] (generator, client, checker) in
//!    `workloads/<name>.rs` (its checker is one of [`checkers`], or a new
//!    file there), the solver in `src/challenges/<name>.rs`, its
//!    binary in `bin/<name>.rs`, and add one [`workloads::Entry`] to
//!    [`workloads::REGISTRY`]. The engine does everything else: processes
//!    or in-process hosts, clients, `msg_id`s, timeouts, the network, the
//!    nemesis, the history and the common checkers; `-w`, its help and
//!    `--in-process` follow from the registry.
//! 2. For a Fly.io sub-challenge, add its row (command and targets) to
//!    `scripts/challenges.tsv`; [`engine::run_with`] runs a custom
//!    workload from a test.
//!
//! # Adding a fault
//!
//! Its name in [`nemesis::Fault`] and its schedule in [`nemesis::Nemesis`];
//! the operations it emits ([`nemesis::NemesisOp`]) are carried out by the
//! engine through the network or the [`backend::Backend`] lifecycle.
pub mod backend;
pub mod challenge;
pub mod check;
pub mod checkers;
pub mod cli;
pub mod engine;
pub mod hints;
pub mod history;
pub mod inprocess;
pub mod launcher;
pub mod nemesis;
pub mod net;
pub mod opts;
pub mod parallel;
pub mod repeat;
pub mod report;
pub mod results;
pub mod serve;
pub mod services;
pub mod sim;
pub mod store;
pub mod sweep;
pub mod workload;
pub mod workloads;
