//! The JVM-free, Maelstrom-compatible bench.
//!
//! # Layout
//!
//! - [`opts`]: a test's options with Maelstrom's defaults.
//! - [`history`]: the operation history.
//! - [`workload`]: the generator / client / checker interface.
//! - [`workloads`]: the workloads, by `-w` name.
//! - [`services`]: lin-kv, seq-kv, lww-kv, lin-tso.
//! - [`check`]: validity and quantiles shared by checkers.
//! - [`engine`]: the discrete-event core shared by process and in-process runs.
//! - [`net`]: the simulated network and the message journal.
//! - [`nemesis`]: partition shapes.
//! - [`backend`]: node I/O; the process backend (one child per node).
//! - [`launcher`]: node processes that die with the bench (parent-death
//!   signal, Linux).
//! - [`inprocess`]: our handlers by workload name, on a virtual clock.
//! - [`results`]: stats and availability checkers, result map, run directories.
//! - [`elle`]: Elle's rw-register checker (txn-rw-register).
//! - [`cli`]: the `glomers` command line (`test`, `challenge`, `sweep`).
//!
//! # Adding a workload
//!
//! 1. Implement [`workload::Workload`] (generator, client, checker) in
//!    `workloads/<name>.rs` and add its arm to [`workloads::make`]. The
//!    engine does everything else: processes, clients, `msg_id`s, timeouts,
//!    the network, the nemesis, the history and the common checkers.
//! 2. For `--in-process` runs, add the handler's arm to
//!    [`inprocess::host_for`].
//! 3. `glomers challenge <id>` then runs the Fly.io page's command from
//!    `scripts/challenges.tsv`; [`engine::run_with`] runs a custom workload
//!    from a test.
pub mod backend;
pub mod check;
pub mod cli;
pub mod elle;
pub mod engine;
pub mod history;
pub mod inprocess;
pub mod launcher;
pub mod nemesis;
pub mod net;
pub mod opts;
pub mod results;
pub mod services;
pub mod workload;
pub mod workloads;
