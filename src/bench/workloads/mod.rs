//! The workloads the bench can run, and the one table that names them.
//!
//! # Why a registry
//!
//! A workload is known by its Maelstrom `-w` name in four places: the
//! command line (which names `-w` accepts, and its help text), the engine
//! (which generator and checker to build), in-process mode (which of our
//! handlers plays the nodes) and `glomers challenge` (which of our binaries
//! to run). They used to be four lists that could drift; now each workload
//! is one [`Entry`] in [`REGISTRY`], and everything else asks [`find`].
//! Adding a workload is its own module (generator, client, checker; see
//! [`super::workload`]), its solver under `src/challenges/`, its binary
//! under `bin/`, and one line here.
//!
//! The names and their generators follow Maelstrom's workload namespaces
//! (maelstrom: src/maelstrom/workload/*.clj, and the `workloads` map in
//! src/maelstrom/core.clj); all of them are here, `lin-kv` (Maelstrom's
//! default) first, and each has one of our solvers.

use super::opts::TestOpts;
use super::workload::Workload;
use crate::challenges;
use crate::runtime::{AnyHost, NodeHost};

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod g_set;
pub mod kafka;
pub mod keys;
pub mod lin_kv;
pub mod txn_list_append;
pub mod txn_rw_register;
pub mod unique_ids;

/// Builds a workload (generator, clients, checker) for a test's options.
pub type MakeWorkload = fn(&TestOpts) -> anyhow::Result<Box<dyn Workload>>;

/// Builds one in-process node: our handler for the workload, in a fresh
/// host whose RNG is seeded with the given seed.
pub type MakeHost = fn(u64) -> Box<dyn AnyHost>;

/// One workload: everything the bench needs to know by its name.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The Maelstrom `-w` name.
    pub name: &'static str,
    /// The generator, clients and checker.
    pub make: MakeWorkload,
    /// Our handler as an in-process node (`--in-process`, sweeps); None
    /// while the workload has no solver of ours.
    pub host: Option<MakeHost>,
    /// Our node binary's name under `target/release` (`glomers challenge`).
    pub binary: &'static str,
}

fn host<N: crate::runtime::Node + 'static>(seed: u64) -> Box<dyn AnyHost> {
    Box::new(NodeHost::<N>::new(seed))
}

/// Every workload the bench runs, in the order `-w`'s help lists them.
pub const REGISTRY: &[Entry] = &[
    Entry {
        name: "lin-kv",
        make: lin_kv::new,
        host: Some(host::<challenges::lin_kv::LinKv>),
        binary: "lin-kv",
    },
    Entry {
        name: "echo",
        make: echo::new,
        host: Some(host::<challenges::echo::Echo>),
        binary: "echo",
    },
    Entry {
        name: "unique-ids",
        make: unique_ids::new,
        host: Some(host::<challenges::unique_ids::UniqueIds>),
        binary: "unique-ids",
    },
    Entry {
        name: "broadcast",
        make: broadcast::new,
        host: Some(host::<challenges::broadcast::Broadcast>),
        binary: "broadcast",
    },
    Entry {
        name: "g-counter",
        make: |opts| counter::new(opts, false),
        host: Some(host::<challenges::g_counter::GCounter>),
        binary: "g-counter",
    },
    Entry {
        name: "pn-counter",
        make: |opts| counter::new(opts, true),
        host: Some(host::<challenges::pn_counter::PnCounter>),
        binary: "pn-counter",
    },
    Entry {
        name: "kafka",
        make: kafka::new,
        host: Some(host::<challenges::kafka::Kafka>),
        binary: "kafka",
    },
    Entry {
        name: "txn-rw-register",
        make: txn_rw_register::new,
        host: Some(host::<challenges::txn_rw_register::TxnRwRegister>),
        binary: "txn-rw-register",
    },
    Entry {
        name: "g-set",
        make: g_set::new,
        host: Some(host::<challenges::g_set::GSet>),
        binary: "g-set",
    },
    Entry {
        name: "txn-list-append",
        make: txn_list_append::new,
        host: Some(host::<challenges::txn_list_append::TxnListAppend>),
        binary: "txn-list-append",
    },
];

/// Every workload name, comma-separated (for help texts and errors).
pub fn names() -> String {
    REGISTRY
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The help text of `-w`.
pub fn help() -> String {
    format!("Workload to run: {}", names())
}

/// The workload called `name`; the error lists the known ones.
pub fn find(name: &str) -> anyhow::Result<&'static Entry> {
    REGISTRY
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| anyhow::anyhow!("unknown workload {name:?}; known workloads: {}", names()))
}

/// The workload called `name`, configured by `opts`.
pub fn make(name: &str, opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    (find(name)?.make)(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_builds_and_names_are_unique() {
        let mut opts = TestOpts::with_nodes(2);
        // lin-kv runs each key with 2n threads: a multiple of 4 here.
        opts.concurrency = 4;
        for (i, e) in REGISTRY.iter().enumerate() {
            let w = make(e.name, &opts).unwrap_or_else(|err| panic!("{}: {err}", e.name));
            assert_eq!(w.name(), e.name);
            assert!(REGISTRY[..i].iter().all(|o| o.name != e.name));
            let Some(make_host) = e.host else { continue };
            let mut h = make_host(1);
            h.handle_line(
                br#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#,
                std::time::Duration::ZERO,
            );
            let out = String::from_utf8_lossy(&*h.output()).into_owned();
            assert!(out.contains("init_ok"), "{}: {out}", e.name);
        }
        let err = make("no-such-workload", &opts)
            .err()
            .expect("unknown workload")
            .to_string();
        assert!(err.contains("lin-kv, echo, unique-ids"), "{err}");
        assert!(help().contains("txn-rw-register"));
    }
}
