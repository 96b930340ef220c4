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
//! - [`elle`]: Elle's rw-register checker (txn-rw-register).
pub mod check;
pub mod elle;
pub mod history;
pub mod opts;
pub mod services;
pub mod workload;
pub mod workloads;
