//! Gossip Glomers in Rust.
//!
//! # Layout
//!
//! - [`runtime`]: Maelstrom's protocol and the node runtime (sans-IO host plus
//!   the real stdin/stdout driver).
//! - [`challenges`]: one handler per Maelstrom workload.
//! - [`bench`]: the JVM-free, Maelstrom-compatible test bench.
pub mod bench;
pub mod challenges;
pub mod runtime;
