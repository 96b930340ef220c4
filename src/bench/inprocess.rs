//! In-process nodes: any [`Node`] type, every node in one process, on a
//! virtual clock.
//!
//! # Why factories
//!
//! A node is built by a [`HostFactory`], a function from an RNG seed to a
//! fresh [`AnyHost`]. The backend does not know workloads: the registry
//! hands it our handler's factory for a `--in-process` run, and a test
//! hands it whatever it wants to run, a deliberately broken node included
//! ([`factory`] makes one for any `Node` type). Keeping the factory, not
//! just the host, is also what lets a node crash and come back: turmoil
//! keeps each host's constructor for the same reason, to rebuild the
//! software on `bounce` (`turmoil: src/sim.rs`, `src/rt.rs`).
//!
//! # Design
//!
//! [`InProcessBackend`] implements [`Backend`] over one slot per node.
//! Delivering a line calls the host's `handle_line` and turns what it
//! printed into [`NodeEvent::Line`]s at the same instant; waiting advances
//! the virtual clock to the earlier of the caller's next event and the
//! hosts' next timer, firing that one host's due timers. Node seeds come
//! from the caller (the engine derives them from the test seed), so a run
//! is a pure function of its options.
//!
//! # Crash and restart
//!
//! Each node has a simulated disk, a [`MemDisk`] kept in its [`Slot`] and
//! handed to every incarnation (the runtime's storage model,
//! [`crate::runtime::storage`]). [`InProcessBackend::crash`] drops the
//! node's host: its memory, timers and pending RPCs are gone, and lines
//! delivered to it are lost, as lines written to a dead process's stdin
//! are; the disk crashes with it ([`MemDisk::crash`]): records not yet
//! synced may be lost, a prefix of them drawn from the disk's own seeded
//! RNG, so a handler that acknowledges before its record is durable is
//! caught, and the same seed catches it again. (The runtime syncs before
//! any output leaves a node, so a handler that appends what it promises
//! loses nothing it acknowledged.)
//!
//! [`InProcessBackend::restart`] builds a new incarnation from the node's
//! factory with a new seed (a restarted process does not replay its
//! predecessor's random choices), the same disk, and a boot time equal to
//! the restart time, so `Ctx::boot_time() + Ctx::now()` is the test clock
//! for every incarnation while `Ctx::now()` counts from the node's own
//! start, as under the real driver. The new incarnation is uninitialised:
//! whoever restarts it sends `init` again, as Maelstrom's `db` setup does
//! for a started node (`maelstrom: src/maelstrom/db.clj`); the handler
//! reads its disk back in `init`.
//!
//! # Pause and resume
//!
//! A paused node handles nothing: lines delivered to it wait in its slot,
//! in order, and its timers do not fire, as a SIGSTOPped process reads
//! nothing from its stdin pipe and runs no code. On resume it handles the
//! waiting lines at the resume time, then its overdue timers fire at the
//! next wait, as a process woken by SIGCONT finds its pipe full and its
//! deadlines past. What it prints on resume is handed to the engine by the
//! next [`Backend::wait`], at the same instant.
//!
//! # Running any node under the engine
//!
//! [`with_hosts`] runs a closure in which every in-process backend built
//! by workload name ([`InProcessBackend::new`], what the engine calls)
//! runs the given factory instead of our handler, so a test can put a
//! deliberately broken node under the real engine, generator and checker.
//! It is a bridge: once the engine takes factories from the workload
//! registry, a test passes its factory to the engine directly and this
//! goes away.
//!
//! # Caveats
//!
//! Only the disk survives a crash; a handler that keeps its state in
//! memory alone starts from nothing, as it would as a process.

use super::backend::{Backend, NodeEvent};
use crate::runtime::{AnyHost, MemDisk, Node, NodeHost};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// Builds a fresh host for one node from the RNG seed of its incarnation.
pub type HostFactory = Rc<dyn Fn(u64) -> Box<dyn AnyHost>>;

/// A factory for handler type `N`.
pub fn factory<N: Node + 'static>() -> HostFactory {
    Rc::new(|seed| Box::new(NodeHost::<N>::new(seed)))
}

/// Our handler for `workload`, as a factory. None if we have none.
pub fn factory_for(workload: &str) -> Option<HostFactory> {
    let make = super::workloads::find(workload).ok()?.host?;
    Some(Rc::new(make))
}

thread_local! {
    /// The factory [`with_hosts`] installed on this thread, if any.
    static OVERRIDE: RefCell<Option<HostFactory>> = const { RefCell::new(None) };
}

/// Run `f` with `factory` standing in for our handler in every backend
/// built by workload name on this thread (see the module docs). The
/// previous setting is restored afterwards, even if `f` panics.
pub fn with_hosts<R>(factory: HostFactory, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<HostFactory>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            OVERRIDE.with(|o| *o.borrow_mut() = old);
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.borrow_mut().replace(factory)));
    f()
}

/// Our handler for `workload`, as a fresh host seeded with `seed`.
pub fn host_for(workload: &str, seed: u64) -> Option<Box<dyn AnyHost>> {
    factory_for(workload).map(|f| f(seed))
}

/// The seed of a node's incarnation `k`: its first seed for `k = 0`, then
/// one golden-ratio step per restart (the increment of splitmix64), so
/// incarnations draw different numbers and a run stays a function of its
/// seed.
fn incarnation_seed(seed: u64, k: u64) -> u64 {
    seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// One node: how to build it, and its current incarnation if it is up.
struct Slot {
    /// Builds each incarnation.
    factory: HostFactory,
    /// The seed of incarnation 0, from which later ones are derived.
    seed: u64,
    /// How many times the node was restarted.
    incarnation: u64,
    /// The running incarnation; None while the node is crashed.
    host: Option<Box<dyn AnyHost>>,
    /// When this incarnation started, on the test clock: the host counts
    /// time from its own start, so the backend subtracts this on the way
    /// in and adds it on the way out.
    boot: Duration,
    /// The node's disk, handed to every incarnation.
    disk: MemDisk,
    /// Paused: lines wait in `held` and timers do not fire.
    paused: bool,
    /// Lines delivered while paused, oldest first.
    held: Vec<String>,
}

/// Mixed into a node's seed for its disk's crash draws.
const DISK_SEED: u64 = 0x00d1_5c5e_ed0f_0dd5;

/// Every node as an [`AnyHost`] in this process.
pub struct InProcessBackend {
    now: Duration,
    slots: Vec<Slot>,
    names: Vec<String>,
    /// The node arguments every incarnation gets.
    args: Vec<String>,
    logs: Vec<Vec<u8>>,
    log_stderr: bool,
    /// What resumed nodes printed, for the next [`Backend::wait`].
    resumed: Vec<NodeEvent>,
}

impl InProcessBackend {
    /// Our handler for `workload` on every node (or the factory of an
    /// enclosing [`with_hosts`]); see [`InProcessBackend::from_factories`].
    /// None if we have no handler.
    pub fn new(
        workload: &str,
        names: &[String],
        seeds: &[u64],
        args: &[String],
        log_stderr: bool,
    ) -> Option<Self> {
        let f = OVERRIDE
            .with(|o| o.borrow().clone())
            .or_else(|| factory_for(workload))?;
        let factories = vec![f; names.len()];
        Some(Self::from_factories(
            factories, names, seeds, args, log_stderr,
        ))
    }

    /// Node `i` called `names[i]`, built by `factories[i]` with seed
    /// `seeds[i]` and given `args` as a node binary would get them. Nodes
    /// past the shorter of the three lists are not created.
    pub fn from_factories(
        factories: Vec<HostFactory>,
        names: &[String],
        seeds: &[u64],
        args: &[String],
        log_stderr: bool,
    ) -> Self {
        let slots: Vec<Slot> = factories
            .into_iter()
            .zip(seeds)
            .zip(names)
            .map(|((factory, &seed), _)| {
                let disk = MemDisk::new(seed ^ DISK_SEED);
                let mut host = factory(seed);
                host.set_args(args.to_vec());
                host.set_disk(Box::new(disk.clone()));
                Slot {
                    factory,
                    seed,
                    incarnation: 0,
                    host: Some(host),
                    boot: Duration::ZERO,
                    disk,
                    paused: false,
                    held: Vec::new(),
                }
            })
            .collect();
        let n = slots.len();
        InProcessBackend {
            now: Duration::ZERO,
            slots,
            names: names[..n].to_vec(),
            args: args.to_vec(),
            logs: vec![Vec::new(); n],
            log_stderr,
            resumed: Vec::new(),
        }
    }

    /// How many nodes there are (up or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether node `node` is running.
    pub fn is_up(&self, node: usize) -> bool {
        self.slots.get(node).is_some_and(|s| s.host.is_some())
    }

    /// Node `node`'s running host (downcast it with `as_any` to read the
    /// handler's state). None while it is crashed.
    pub fn host(&self, node: usize) -> Option<&dyn AnyHost> {
        self.slots.get(node)?.host.as_deref()
    }

    /// What node `node` logged so far.
    pub fn log(&self, node: usize) -> &[u8] {
        self.logs.get(node).map_or(&[], |l| l.as_slice())
    }

    /// Crash node `node` at `now`: its host, with everything in memory, is
    /// dropped, and its disk loses some of what was not synced (a paused
    /// node crashes too, and forgets the lines it held). Returns false if
    /// it was already down (or does not exist).
    pub fn crash(&mut self, node: usize, now: Duration) -> bool {
        let Some(slot) = self.slots.get_mut(node) else {
            return false;
        };
        if slot.host.take().is_none() {
            return false;
        }
        slot.paused = false;
        slot.held.clear();
        let lost = slot.disk.crash();
        self.note(
            node,
            format_args!("crashed at {now:?} (unsynced records lost: {lost})"),
        );
        true
    }

    /// Pause running node `node`: it handles nothing until resumed.
    /// Returns false if it is down or already paused.
    pub fn pause_node(&mut self, node: usize, now: Duration) -> bool {
        let Some(slot) = self.slots.get_mut(node) else {
            return false;
        };
        if slot.host.is_none() || slot.paused {
            return false;
        }
        slot.paused = true;
        self.note(node, format_args!("paused at {now:?}"));
        true
    }

    /// Resume paused node `node` at `now`: it handles the lines it held, in
    /// order, appending what it printed to `out`. Returns false if it was
    /// not paused.
    pub fn resume_node(&mut self, node: usize, now: Duration, out: &mut Vec<NodeEvent>) -> bool {
        let Some(slot) = self.slots.get_mut(node) else {
            return false;
        };
        if !slot.paused {
            return false;
        }
        slot.paused = false;
        let held = std::mem::take(&mut slot.held);
        self.note(
            node,
            format_args!("resumed at {now:?} ({} lines held)", held.len()),
        );
        for line in held {
            self.deliver(node, &line, now, out);
        }
        true
    }

    /// Start a new incarnation of crashed node `node` at `now`, from its
    /// factory; it waits for `init`. Returns false if it was up (or does
    /// not exist).
    pub fn restart(&mut self, node: usize, now: Duration) -> bool {
        let Some(slot) = self.slots.get_mut(node) else {
            return false;
        };
        if slot.host.is_some() {
            return false;
        }
        slot.incarnation += 1;
        let mut host = (slot.factory)(incarnation_seed(slot.seed, slot.incarnation));
        host.set_args(self.args.clone());
        host.set_disk(Box::new(slot.disk.clone()));
        host.set_boot_time(now);
        slot.host = Some(host);
        slot.boot = now;
        let k = slot.incarnation;
        self.note(node, format_args!("restarted at {now:?} (incarnation {k})"));
        true
    }

    /// The earliest time (on the test clock) at which a running node has a
    /// timer or RPC timeout due, and that node (the lowest index on a tie).
    /// Paused nodes have none.
    pub fn next_deadline(&self) -> Option<(Duration, usize)> {
        let mut next: Option<(Duration, usize)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if s.paused {
                continue;
            }
            let Some(d) = s.host.as_ref().and_then(|h| h.next_deadline()) else {
                continue;
            };
            let d = d + s.boot;
            if next.is_none_or(|(t, _)| d < t) {
                next = Some((d, i));
            }
        }
        next
    }

    /// A line in a node's log from the backend itself.
    fn note(&mut self, node: usize, what: std::fmt::Arguments<'_>) {
        let line = format!("[glomers] {what}\n");
        if self.log_stderr {
            eprint!("[{}] {line}", self.names[node]);
        }
        self.logs[node].extend_from_slice(line.as_bytes());
    }

    fn drain(&mut self, node: usize, out: &mut Vec<NodeEvent>) {
        let Some(host) = self.slots[node].host.as_mut() else {
            return;
        };
        let buf = std::mem::take(host.output());
        for line in buf.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            out.push(NodeEvent::Line {
                node,
                line: String::from_utf8_lossy(line).into_owned(),
            });
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
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        let boot = slot.boot;
        if slot.paused {
            slot.held.push(line.to_string());
            return;
        }
        if let Some(host) = slot.host.as_mut() {
            host.handle_line(line.as_bytes(), self.now.saturating_sub(boot));
            self.drain(node, out);
        }
    }

    fn wait(&mut self, until: Option<Duration>, out: &mut Vec<NodeEvent>) -> Duration {
        if !self.resumed.is_empty() {
            out.append(&mut self.resumed);
            return self.now;
        }
        match (self.next_deadline(), until) {
            (Some((t, i)), u) if u.is_none_or(|u| t <= u) => {
                self.now = self.now.max(t);
                let slot = &mut self.slots[i];
                if let Some(host) = slot.host.as_mut() {
                    host.tick(self.now.saturating_sub(slot.boot));
                }
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

    /// The host and its memory are dropped; the disk loses what was not
    /// synced ([`InProcessBackend::crash`]).
    fn kill(&mut self, node: usize) -> Result<(), String> {
        let now = self.now;
        self.crash(node, now);
        Ok(())
    }

    /// A new incarnation on the same disk ([`InProcessBackend::restart`]).
    fn start(&mut self, node: usize) -> Result<(), String> {
        let now = self.now;
        if self.restart(node, now) {
            Ok(())
        } else {
            Err(format!(
                "node {node} is running; only a killed node can be started"
            ))
        }
    }

    fn pause(&mut self, node: usize) -> Result<(), String> {
        let now = self.now;
        if self.pause_node(node, now) {
            Ok(())
        } else {
            Err(format!("node {node} is down or already paused"))
        }
    }

    /// The lines it held are handled now; what it prints comes out of the
    /// next [`Backend::wait`].
    fn resume(&mut self, node: usize) -> Result<(), String> {
        let now = self.now;
        let mut out = std::mem::take(&mut self.resumed);
        let resumed = self.resume_node(node, now, &mut out);
        self.resumed = out;
        if resumed {
            Ok(())
        } else {
            Err(format!("node {node} is not paused"))
        }
    }

    fn write_logs(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (i, name) in self.names.iter().enumerate() {
            std::fs::write(dir.join(format!("{name}.log")), &self.logs[i])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Ctx, Error, Init, Request};
    use serde::{Deserialize, Serialize};

    /// Counts requests in memory and reports its clock readings.
    struct Counter {
        seen: u64,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Msg {
        Count,
        CountOk {
            seen: u64,
            now_ms: u64,
            wall_ms: u64,
        },
    }

    impl Node for Counter {
        type Payload = Msg;
        fn init(_: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
            ctx.after(Duration::from_secs(1), |_, _| {});
            Ok(Counter { seen: 0 })
        }
        fn on_message(&mut self, m: Request<Msg>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
            self.seen += 1;
            let now_ms = ctx.now().as_millis() as u64;
            let wall_ms = (ctx.boot_time() + ctx.now()).as_millis() as u64;
            ctx.reply(
                &m,
                &Msg::CountOk {
                    seen: self.seen,
                    now_ms,
                    wall_ms,
                },
            );
            Ok(())
        }
    }

    fn line(body: &str) -> String {
        format!(r#"{{"src":"c0","dest":"n0","body":{body}}}"#)
    }

    fn ask(b: &mut InProcessBackend, body: &str, at: Duration) -> Vec<String> {
        let mut out = Vec::new();
        b.deliver(0, &line(body), at, &mut out);
        out.into_iter()
            .map(|e| match e {
                NodeEvent::Line { line, .. } => line,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_crashed_node_forgets_and_a_restarted_one_starts_afresh() {
        let names = vec!["n0".to_string()];
        let mut b =
            InProcessBackend::from_factories(vec![factory::<Counter>()], &names, &[7], &[], false);
        let init = r#"{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}"#;
        let s = Duration::from_secs;
        assert_eq!(ask(&mut b, init, s(0)).len(), 1);
        ask(&mut b, r#"{"type":"count","msg_id":2}"#, s(0));
        assert_eq!(b.next_deadline(), Some((s(1), 0)));
        assert!(b.crash(0, s(2)) && !b.crash(0, s(2)) && !b.is_up(0));
        // Down: deliveries are lost, no timers, no host to read.
        assert!(ask(&mut b, r#"{"type":"count","msg_id":3}"#, s(3)).is_empty());
        assert_eq!(b.next_deadline(), None);
        assert!(b.host(0).is_none());
        assert!(b.restart(0, s(10)) && !b.restart(0, s(10)) && b.is_up(0));
        // Uninitialised until init comes again.
        let r = ask(&mut b, r#"{"type":"count","msg_id":4}"#, s(10));
        assert!(r[0].contains("\"code\":11"), "{r:?}");
        ask(&mut b, init, s(10));
        // Its timer is due 1 s after its own start, on the test clock.
        assert_eq!(b.next_deadline(), Some((s(11), 0)));
        let r = ask(&mut b, r#"{"type":"count","msg_id":5}"#, s(12));
        assert!(
            r[0].contains(r#""seen":1,"now_ms":2000,"wall_ms":12000"#),
            "{r:?}"
        );
        let log = String::from_utf8_lossy(b.log(0)).into_owned();
        assert!(
            log.contains("crashed at 2s") && log.contains("incarnation 1"),
            "{log}"
        );
        assert!(!b.crash(5, s(0)) && !b.restart(5, s(0)));
    }

    #[test]
    fn with_hosts_overrides_the_handler_by_name_and_restores_it() {
        let names = vec!["n0".to_string()];
        // Every registered workload has a handler of ours; an unknown name
        // has none, so only the override can build it.
        let build = || InProcessBackend::new("no-such-workload", &names, &[1], &[], false);
        assert!(
            build().is_none(),
            "no handler of ours for an unknown workload"
        );
        let counting = with_hosts(factory::<Counter>(), || {
            let mut b = build().expect("the override");
            let init = r#"{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}"#;
            ask(&mut b, init, Duration::ZERO);
            ask(&mut b, r#"{"type":"count","msg_id":2}"#, Duration::ZERO)
        });
        assert!(counting[0].contains("count_ok"), "{counting:?}");
        assert!(build().is_none(), "restored");
        let caught = std::panic::catch_unwind(|| with_hosts(factory::<Counter>(), || panic!()));
        assert!(caught.is_err());
        assert!(build().is_none(), "restored after a panic");
    }

    #[test]
    fn every_workload_with_a_handler_has_a_factory() {
        for w in [
            "echo",
            "unique-ids",
            "broadcast",
            "g-counter",
            "pn-counter",
            "kafka",
        ] {
            assert!(host_for(w, 1).is_some(), "{w}");
        }
        assert!(host_for("txn-rw-register", 1).is_some());
        assert!(host_for("lin-kv", 1).is_some());
        assert!(host_for("txn-list-append", 1).is_some());
        assert!(host_for("no-such-workload", 1).is_none());
        assert_ne!(incarnation_seed(5, 1), incarnation_seed(5, 2));
        assert_eq!(incarnation_seed(5, 0), 5);
    }

    /// Appends every count to its disk before replying: what it replied
    /// survives a crash, what it appended without syncing may not.
    struct Durable {
        seen: u64,
    }

    impl Node for Durable {
        type Payload = Msg;
        fn init(_: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
            let seen = ctx.disk().load()?.records.len() as u64;
            Ok(Durable { seen })
        }
        fn on_message(&mut self, m: Request<Msg>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
            self.seen += 1;
            ctx.disk()
                .append(b"count")
                .map_err(crate::runtime::storage::disk_error)?;
            let reply = Msg::CountOk {
                seen: self.seen,
                now_ms: 0,
                wall_ms: 0,
            };
            ctx.reply(&m, &reply);
            Ok(())
        }
    }

    #[test]
    fn a_killed_node_comes_back_from_its_disk_and_a_paused_one_holds_its_input() {
        let names = vec!["n0".to_string()];
        let mut b =
            InProcessBackend::from_factories(vec![factory::<Durable>()], &names, &[3], &[], false);
        let init = r#"{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}"#;
        let z = Duration::ZERO;
        ask(&mut b, init, z);
        ask(&mut b, r#"{"type":"count","msg_id":2}"#, z);
        ask(&mut b, r#"{"type":"count","msg_id":3}"#, z);
        Backend::kill(&mut b, 0).unwrap();
        Backend::start(&mut b, 0).unwrap();
        ask(&mut b, init, z);
        let r = ask(&mut b, r#"{"type":"count","msg_id":4}"#, z);
        assert!(
            r[0].contains(r#""seen":3"#),
            "both replied counts survived: {r:?}"
        );
        // Paused: lines wait, and come out of the next wait on resume.
        Backend::pause(&mut b, 0).unwrap();
        assert!(Backend::pause(&mut b, 0).is_err(), "already paused");
        assert!(ask(&mut b, r#"{"type":"count","msg_id":5}"#, z).is_empty());
        Backend::resume(&mut b, 0).unwrap();
        let mut out = Vec::new();
        b.wait(None, &mut out);
        assert!(
            matches!(&out[..], [NodeEvent::Line { line, .. }] if line.contains(r#""seen":4"#)),
            "{out:?}"
        );
        assert!(Backend::resume(&mut b, 0).is_err(), "not paused");
        assert!(Backend::start(&mut b, 0).is_err(), "running");
    }
}
