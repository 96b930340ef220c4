//! In-process mode: our own handlers, every node in one process, on a
//! virtual clock.
//!
//! [`host_for`] is the registry from workload name to handler; each
//! challenge adds its arm here. [`InProcessBackend`] implements
//! [`Backend`] over one [`AnyHost`] per node: delivering a line calls
//! `handle_line` and turns the host's output into [`NodeEvent::Line`]s at the
//! same instant; waiting advances the virtual clock to the earlier of the
//! engine's next event and the hosts' next timer. Node RNG seeds are derived
//! from the test seed, so a run is a pure function of its options.

use super::backend::{Backend, NodeEvent};
use crate::challenges;
use crate::runtime::{AnyHost, NodeHost};
use std::path::Path;
use std::time::Duration;

/// Our handler for `workload`, as a fresh host seeded with `seed`.
pub fn host_for(workload: &str, seed: u64) -> Option<Box<dyn AnyHost>> {
    match workload {
        "echo" => Some(Box::new(NodeHost::<challenges::echo::Echo>::new(seed))),
        "unique-ids" => Some(Box::new(
            NodeHost::<challenges::unique_ids::UniqueIds>::new(seed),
        )),
        "kafka" => Some(Box::new(NodeHost::<challenges::kafka::Kafka>::new(seed))),
        "g-counter" => Some(Box::new(NodeHost::<challenges::g_counter::GCounter>::new(
            seed,
        ))),
        "pn-counter" => Some(Box::new(
            NodeHost::<challenges::pn_counter::PnCounter>::new(seed),
        )),
        "txn-rw-register" => Some(Box::new(NodeHost::<
            challenges::txn_rw_register::TxnRwRegister,
        >::new(seed))),
        "broadcast" => Some(Box::new(NodeHost::<challenges::broadcast::Broadcast>::new(
            seed,
        ))),
        _ => None,
    }
}

/// Every node as an [`AnyHost`] in this process.
pub struct InProcessBackend {
    now: Duration,
    hosts: Vec<Box<dyn AnyHost>>,
    names: Vec<String>,
    logs: Vec<Vec<u8>>,
    log_stderr: bool,
}

impl InProcessBackend {
    /// Hosts for `names`, node `i` seeded with `seeds[i]`, each given
    /// `args` as a node binary would get them. None if we have no handler
    /// for the workload.
    pub fn new(
        workload: &str,
        names: &[String],
        seeds: &[u64],
        args: &[String],
        log_stderr: bool,
    ) -> Option<Self> {
        let mut hosts = Vec::new();
        for &s in seeds {
            let mut host = host_for(workload, s)?;
            host.set_args(args.to_vec());
            hosts.push(host);
        }
        Some(InProcessBackend {
            now: Duration::ZERO,
            hosts,
            names: names.to_vec(),
            logs: vec![Vec::new(); names.len()],
            log_stderr,
        })
    }

    fn drain(&mut self, node: usize, out: &mut Vec<NodeEvent>) {
        let host = &mut self.hosts[node];
        let buf = std::mem::take(host.output());
        if !buf.is_empty() {
            for line in buf.split(|&b| b == b'\n') {
                if line.is_empty() {
                    continue;
                }
                out.push(NodeEvent::Line {
                    node,
                    line: String::from_utf8_lossy(line).into_owned(),
                });
            }
        }
        let logs = host.logs();
        if !logs.is_empty() {
            if self.log_stderr {
                for l in String::from_utf8_lossy(logs).lines() {
                    eprintln!("[{}] {l}", self.names[node]);
                }
            }
            self.logs[node].append(logs);
        }
    }
}

impl Backend for InProcessBackend {
    fn now(&self) -> Duration {
        self.now
    }

    fn deliver(&mut self, node: usize, line: &str, now: Duration, out: &mut Vec<NodeEvent>) {
        self.now = self.now.max(now);
        self.hosts[node].handle_line(line.as_bytes(), self.now);
        self.drain(node, out);
    }

    fn wait(&mut self, until: Option<Duration>, out: &mut Vec<NodeEvent>) -> Duration {
        let mut next: Option<(Duration, usize)> = None;
        for (i, h) in self.hosts.iter().enumerate() {
            if let Some(d) = h.next_deadline() {
                if next.is_none_or(|(t, _)| d < t) {
                    next = Some((d, i));
                }
            }
        }
        match (next, until) {
            (Some((t, i)), u) if u.is_none_or(|u| t <= u) => {
                self.now = self.now.max(t);
                let now = self.now;
                self.hosts[i].tick(now);
                self.drain(i, out);
            }
            (_, Some(u)) => self.now = self.now.max(u),
            (None, None) => {}
            (Some(_), None) => unreachable!("covered by the first arm"),
        }
        self.now
    }

    fn shutdown(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn is_virtual(&self) -> bool {
        true
    }

    fn write_logs(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (i, name) in self.names.iter().enumerate() {
            std::fs::write(dir.join(format!("{name}.log")), &self.logs[i])?;
        }
        Ok(())
    }
}
