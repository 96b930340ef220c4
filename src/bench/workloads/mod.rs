//! The workloads the bench can run, by Maelstrom `-w` name.

use super::opts::TestOpts;
use super::workload::Workload;

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod g_set;
pub mod kafka;
pub mod keys;
pub mod txn_list_append;
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
    "g-set",
    "txn-list-append",
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
        "g-set" => g_set::new(opts),
        "txn-list-append" => txn_list_append::new(opts),
        other => anyhow::bail!(
            "unknown workload {other:?}; known workloads: {}",
            NAMES.join(", ")
        ),
    }
}
