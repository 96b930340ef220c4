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
//! - [`inprocess`]: our handlers by workload name, on a virtual clock.
//! - [`results`]: stats and availability checkers, result map, run directories.
//! - [`cli`]: the `glomers` command line (`test`, `challenge`, `sweep`).
pub mod backend;
pub mod check;
pub mod cli;
pub mod engine;
pub mod history;
pub mod inprocess;
pub mod nemesis;
pub mod net;
pub mod opts;
pub mod results;
pub mod services;
pub mod workload;
pub mod workloads;
