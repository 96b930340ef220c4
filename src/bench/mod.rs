//! The JVM-free, Maelstrom-compatible bench.
//!
//! # Layout
//!
//! - [`opts`]: a test's options with Maelstrom's defaults.
//! - [`history`]: the operation history.
//! - [`workload`]: the generator / client / checker interface.
//! - [`check`]: validity and quantiles shared by checkers.
pub mod check;
pub mod history;
pub mod opts;
pub mod workload;
