//! The workloads the bench can run, by Maelstrom `-w` name.

use super::opts::TestOpts;
use super::workload::Workload;

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod kafka;
pub mod keys;
pub mod lin_kv;
pub mod txn_rw_register;
pub mod unique_ids;

/// Every workload name the bench knows.
pub const NAMES: &[&str] = &[
    "echo",
    "unique-ids",
    "broadcast",
    "g-counter",
    "pn-counter",
    "kafka",
    "txn-rw-register",
    "lin-kv",
];

/// The workload called `name`, configured by `opts`.
pub fn make(name: &str, opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    match name {
        "echo" => echo::new(opts),
        "unique-ids" => unique_ids::new(opts),
        "broadcast" => broadcast::new(opts),
        "g-counter" => counter::new(opts, false),
        "pn-counter" => counter::new(opts, true),
        "kafka" => kafka::new(opts),
        "txn-rw-register" => txn_rw_register::new(opts),
        "lin-kv" => lin_kv::new(opts),
        other => anyhow::bail!(
            "unknown workload {other:?}; known workloads: {}",
            NAMES.join(", ")
        ),
    }
}
