//! Node I/O for the engine: the [`Backend`] trait and the process backend.
//!
//! The engine is one discrete-event loop; a backend supplies the clock and
//! the nodes. [`ProcessBackend`] spawns one child per node with piped stdio,
//! as Maelstrom does (maelstrom: src/maelstrom/process.clj,
//! src/maelstrom/db.clj): a reader thread per child stdout and stderr feeds one channel,
//! a writer thread per child stdin takes delivered lines, and the clock is
//! the real one. The in-process backend ([`super::inprocess`]) runs our own
//! handlers on a virtual clock instead. Either way, every line a node prints
//! reaches the engine as a [`NodeEvent::Line`] and goes through the same
//! parse-and-validate path.
//!
//! Each node runs in its own working directory, `<run>/nodes/<node>/`
//! (under the temporary directory when nothing is stored), created before
//! its first start and kept across restarts: it is the node's disk. When
//! the nemesis may kill nodes, the backend also sets [`DISK_ENV`] to that
//! directory, so a node on our runtime keeps its log and snapshot there
//! ([`crate::runtime::storage`]) and finds them when it is started again.
//! Without kills the variable is not set: a node that is never restarted
//! needs no disk, and its fsyncs would only add latency to figures meant to
//! compare with Maelstrom's (Maelstrom runs every node in `/tmp`, and our
//! runtime then keeps the disk in memory).
//!
//! No child outlives the bench: [`ProcessBackend::shutdown`] kills and reaps
//! every child, and `Drop` does the same on error paths and panics. Ctrl-C
//! (and SIGTERM, SIGHUP) is turned into a [`NodeEvent::Interrupted`] so the
//! engine can stop and clean up (a signal handler cannot safely kill
//! children itself; the `ctrlc` crate, with its `termination` feature, gives
//! us a portable handler on a thread without `unsafe`).
//!
//! # Per-node lifecycle
//!
//! For the nemesis, a backend can kill, start, pause and resume one node;
//! the trait's defaults refuse with a clear "not supported" error. The
//! process backend kills with SIGKILL (`std::process::Child::kill`), starts
//! the same binary with the same arguments and node name (its stderr is
//! appended to the same log; the engine then sends `init` again), and
//! pauses and resumes with SIGSTOP and SIGCONT through the `nix` crate
//! (already built for `ctrlc`, so no new code is compiled, and no `unsafe`
//! here). `nix` rather than the `kill` command: a signal is one system call
//! on the pid we hold, with its error returned, instead of a process spawned
//! per signal whose failure would arrive as an exit status to parse, and
//! whose startup would stretch the instant a pause takes effect. The pid is
//! the node's own: the launcher execs the node in place. Each process of a node carries a generation number, so the end of
//! a killed process's output is never taken for a crash of its successor,
//! and a node the nemesis killed is not reported as crashed.

use crate::runtime::storage::DISK_ENV;
use nix::sys::signal::Signal;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How many lines of a node's stdout and stderr a crash report quotes.
const TAIL_LINES: usize = 32;

/// Something a node did.
#[derive(Debug)]
pub enum NodeEvent {
    /// The node printed this stdout line (without the newline).
    Line {
        /// Node index.
        node: usize,
        /// The line.
        line: String,
    },
    /// The node's process ended (or closed stdout); the report says how.
    Exited {
        /// Node index.
        node: usize,
        /// Maelstrom-style crash report.
        report: String,
    },
    /// The user pressed Ctrl-C.
    Interrupted,
}

/// Node I/O and the clock.
pub trait Backend {
    /// The current time since the test started.
    fn now(&self) -> Duration;
    /// Hand `line` to node `node` at `now`. Output the node produces at
    /// once (in-process) is appended to `out`.
    fn deliver(&mut self, node: usize, line: &str, now: Duration, out: &mut Vec<NodeEvent>);
    /// Wait until `until` (or forever if None) or until a node does
    /// something; append what happened to `out` and return the new time.
    fn wait(&mut self, until: Option<Duration>, out: &mut Vec<NodeEvent>) -> Duration;
    /// Stop every node. Err names a node that had already exited.
    fn shutdown(&mut self) -> Result<(), String>;
    /// Whether the clock is virtual (then waiting never blocks).
    fn is_virtual(&self) -> bool;
    /// Write any buffered node logs into `dir` (`<node>.log`).
    fn write_logs(&mut self, dir: &Path) -> std::io::Result<()> {
        let _ = dir;
        Ok(())
    }

    // ---- per-node lifecycle, for the nemesis ---------------------------
    //
    // Each returns Err with a clear reason when the backend cannot do it;
    // the defaults say so for backends without lifecycle support.

    /// Kill node `node` at once (SIGKILL for a process). Its exit is then
    /// expected: the backend does not report it as a crash.
    fn kill(&mut self, node: usize) -> Result<(), String> {
        Err(unsupported("kill", node))
    }

    /// Start a killed node again: the same binary with the same node id.
    /// The engine then sends it `init` again (re-init), as Maelstrom's
    /// `db/start!` does for a fresh node.
    fn start(&mut self, node: usize) -> Result<(), String> {
        Err(unsupported("start", node))
    }

    /// Pause node `node` (SIGSTOP for a process): it neither reads nor
    /// prints until resumed.
    fn pause(&mut self, node: usize) -> Result<(), String> {
        Err(unsupported("pause", node))
    }

    /// Resume a paused node (SIGCONT for a process).
    fn resume(&mut self, node: usize) -> Result<(), String> {
        Err(unsupported("resume", node))
    }
}

/// The error of a lifecycle operation a backend does not support.
fn unsupported(op: &str, node: usize) -> String {
    format!("this backend does not support {op} (node {node}); only the process backend does")
}

/// Where Ctrl-C goes: the channel of the running process backend.
fn interrupt_slot() -> &'static Mutex<Option<Sender<NodeEvent>>> {
    static SLOT: OnceLock<Mutex<Option<Sender<NodeEvent>>>> = OnceLock::new();
    SLOT.get_or_init(|| Mutex::new(None))
}

/// Install the Ctrl-C handler once: with a process test running it tells
/// the engine to stop (which kills the children); otherwise it exits.
pub fn install_interrupt_handler() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = ctrlc::set_handler(|| {
            let sent = interrupt_slot()
                .lock()
                .ok()
                .and_then(|s| s.as_ref().map(|tx| tx.send(NodeEvent::Interrupted).is_ok()))
                .unwrap_or(false);
            if !sent {
                std::process::exit(130);
            }
        });
    });
}

/// A bounded tail of lines.
#[derive(Default)]
struct Tail(VecDeque<String>);

impl Tail {
    fn push(&mut self, line: &str) {
        if self.0.len() == TAIL_LINES {
            self.0.pop_front();
        }
        self.0.push_back(line.to_string());
    }
    fn render(&self) -> String {
        self.0.iter().map(|l| format!("    {l}\n")).collect()
    }
}

/// One node's process and the threads around it.
struct ProcNode {
    name: String,
    child: Child,
    /// Lines for the stdin writer thread; None once the node is gone.
    stdin: Option<Sender<String>>,
    stdout_tail: Tail,
    stderr_tail: Arc<Mutex<Tail>>,
    stderr_done: Arc<Mutex<bool>>,
    log_path: PathBuf,
    /// Its exit was seen (or is expected): no crash report from here on.
    exited: bool,
    /// Which process of this node this is (0, then +1 per restart), so an
    /// old process's end of output is not taken for the new one's.
    generation: u64,
    /// The nemesis killed it.
    killed: bool,
}

/// How to start a node's process (again).
struct SpawnSpec {
    bin: PathBuf,
    args: Vec<String>,
    /// The `glomers` binary, which starts each node through its hidden
    /// launcher so the node dies with the bench even when the bench is
    /// SIGKILLed ([`super::launcher`]); None when this process is not
    /// `glomers` (a test binary driving the engine), and nodes are then
    /// spawned directly.
    launcher: Option<PathBuf>,
    log_dir: PathBuf,
    log_stderr: bool,
    /// Each node's working directory is `<node_dirs>/<node>/`.
    node_dirs: PathBuf,
    /// Whether nodes get [`DISK_ENV`] pointing at their directory.
    disk: bool,
    /// Remove `node_dirs` on drop.
    temporary: bool,
}

/// Where and how nodes run (see [`ProcessBackend::spawn`]).
#[derive(Debug, Clone)]
pub struct NodeDirs {
    /// The parent of every node's working directory.
    pub root: PathBuf,
    /// Set [`DISK_ENV`] to each node's directory, so our runtime keeps the
    /// node's disk there ([`crate::runtime::storage`]).
    pub disk: bool,
    /// Remove `root` when the backend is dropped (a run that stores
    /// nothing keeps nothing).
    pub temporary: bool,
}

impl NodeDirs {
    /// A fresh temporary root for a run that stores nothing: unique per
    /// run, so no run finds another's disk.
    pub fn temporary(disk: bool) -> NodeDirs {
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let k = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("glomers-nodes-{}-{k}", std::process::id());
        NodeDirs {
            root: std::env::temp_dir().join(name),
            disk,
            temporary: true,
        }
    }
}

/// What reader threads send: when, which process generation, what.
type Tagged = (Instant, u64, NodeEvent);

/// One child process per node.
pub struct ProcessBackend {
    start: Instant,
    nodes: Vec<ProcNode>,
    rx: Receiver<Tagged>,
    /// Cloned into each new node's reader threads; also keeps the channel
    /// open after every reader thread has ended (waiting then times out
    /// instead of failing at once).
    tx: Sender<Tagged>,
    /// Forwards Ctrl-C from the handler's channel into ours.
    _interrupt_forwarder: Option<std::thread::JoinHandle<()>>,
    shut: bool,
    spec: SpawnSpec,
}

/// Why the processes could not be started.
#[derive(Debug)]
pub enum SpawnError {
    /// The binary is missing or not runnable (bad arguments, exit 254).
    BadBinary(String),
    /// Anything else (exit 255).
    Other(String),
}

/// Check that `bin` exists and is an executable file.
pub fn check_binary(bin: &Path) -> Result<PathBuf, String> {
    let canon = bin.canonicalize().map_err(|e| {
        format!(
            "--bin {}: cannot use it as a node binary: {e}. Build it first (cargo build --release) or fix the path.",
            bin.display()
        )
    })?;
    let meta = std::fs::metadata(&canon).map_err(|e| format!("--bin {}: {e}", bin.display()))?;
    if !meta.is_file() {
        return Err(format!("--bin {}: not a file", bin.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "--bin {}: not executable (try chmod +x)",
                bin.display()
            ));
        }
    }
    Ok(canon)
}

/// This executable when it is the `glomers` binary (see
/// [`SpawnSpec::launcher`]).
fn launcher_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    (exe.file_stem()? == "glomers").then_some(exe)
}

impl ProcessBackend {
    /// Spawn `bin args…` once per node name, stderr to `log_dir/<node>.log`
    /// (and to our stderr when `log_stderr`), each in its own working
    /// directory under `dirs.root`.
    pub fn spawn(
        bin: &Path,
        args: &[String],
        names: &[String],
        log_dir: &Path,
        log_stderr: bool,
        dirs: &NodeDirs,
    ) -> Result<Self, SpawnError> {
        let canon = check_binary(bin).map_err(SpawnError::BadBinary)?;
        std::fs::create_dir_all(log_dir)
            .map_err(|e| SpawnError::Other(format!("cannot create {}: {e}", log_dir.display())))?;
        let node_dirs = std::fs::create_dir_all(&dirs.root)
            .and_then(|()| dirs.root.canonicalize())
            .map_err(|e| {
                SpawnError::Other(format!("cannot create {}: {e}", dirs.root.display()))
            })?;
        let (tx, rx) = channel::<Tagged>();
        let mut backend = ProcessBackend {
            start: Instant::now(),
            nodes: Vec::new(),
            rx,
            tx: tx.clone(),
            _interrupt_forwarder: forward_interrupts(tx),
            shut: false,
            spec: SpawnSpec {
                bin: canon,
                args: args.to_vec(),
                launcher: launcher_exe(),
                log_dir: log_dir.to_path_buf(),
                log_stderr,
                node_dirs,
                disk: dirs.disk,
                temporary: dirs.temporary,
            },
        };
        for (i, name) in names.iter().enumerate() {
            let node = backend.spawn_node(i, name, 0).map_err(|e| match e {
                e if e.kind() == std::io::ErrorKind::Other => SpawnError::Other(e.to_string()),
                e => SpawnError::BadBinary(format!("--bin {}: cannot run it: {e}", bin.display())),
            })?;
            backend.nodes.push(node);
        }
        Ok(backend)
    }

    /// Start process `generation` of node `i`: its log file (appended to
    /// on a restart), the child, and its stdout, stderr and stdin threads.
    /// A log file that cannot be opened is an `Other` error.
    fn spawn_node(&self, i: usize, name: &str, generation: u64) -> std::io::Result<ProcNode> {
        let log_path = self.spec.log_dir.join(format!("{name}.log"));
        let file = File::options()
            .create(true)
            .append(generation > 0)
            .write(true)
            .truncate(generation == 0)
            .open(&log_path)
            .map_err(|e| {
                std::io::Error::other(format!("cannot create {}: {e}", log_path.display()))
            })?;
        let mut cmd = match &self.spec.launcher {
            Some(launcher) => super::launcher::command(launcher, &self.spec.bin, &self.spec.args),
            None => {
                let mut cmd = Command::new(&self.spec.bin);
                cmd.args(&self.spec.args);
                cmd
            }
        };
        // The node's directory is its disk: it outlives the process, so a
        // restarted node finds what its predecessor wrote.
        let dir = self.spec.node_dirs.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| std::io::Error::other(format!("cannot create {}: {e}", dir.display())))?;
        if self.spec.disk {
            cmd.env(DISK_ENV, &dir);
        }
        let mut child = cmd
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr_tail = Arc::new(Mutex::new(Tail::default()));
        let stderr_done = Arc::new(Mutex::new(false));
        if let Some(out) = child.stdout.take() {
            read_stdout(out, name, i, generation, self.tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            let echo = self.spec.log_stderr.then(|| name.to_string());
            read_stderr(err, file, echo, stderr_tail.clone(), stderr_done.clone());
        }
        let stdin = child.stdin.take().map(|mut input| {
            let (ltx, lrx) = channel::<String>();
            let _ = std::thread::Builder::new()
                .name(format!("{name}-stdin"))
                .spawn(move || write_lines(&mut input, lrx));
            ltx
        });
        Ok(ProcNode {
            name: name.to_string(),
            child,
            stdin,
            stdout_tail: Tail::default(),
            stderr_tail,
            stderr_done,
            log_path,
            exited: false,
            generation,
            killed: false,
        })
    }

    /// Send `signal` to node `node`'s process (pause and resume).
    fn signal(&mut self, node: usize, signal: Signal) -> Result<(), String> {
        let n = self.node_mut(node)?;
        if n.killed {
            return Err(format!("node {} is not running (killed)", n.name));
        }
        let pid = i32::try_from(n.child.id()).map_err(|e| format!("node {}: pid: {e}", n.name))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
            .map_err(|e| format!("cannot send {signal} to node {}: {e}", n.name))
    }

    fn node_mut(&mut self, node: usize) -> Result<&mut ProcNode, String> {
        self.nodes
            .get_mut(node)
            .ok_or_else(|| format!("no node {node}"))
    }

    /// The crash report for node `i`, Maelstrom's wording.
    fn crash_report(&mut self, i: usize) -> String {
        // Give the node a moment to finish exiting and its stderr to drain.
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.nodes[i].child.try_wait() {
                status = Some(s);
                let done = self.nodes[i].stderr_done.lock().map(|d| *d).unwrap_or(true);
                if done {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let n = &self.nodes[i];
        let status = match status {
            Some(s) => match s.code() {
                Some(c) => format!("crashed with exit status {c}"),
                None => format!("crashed ({s})"),
            },
            None => "closed its STDOUT while still running".to_string(),
        };
        let err = n.stderr_tail.lock().map(|t| t.render()).unwrap_or_default();
        format!(
            "Node {} {}. Before crashing, it wrote to STDOUT:\n\n{}\nAnd to STDERR:\n\n{}\nFull STDERR logs are available in {}",
            n.name,
            status,
            n.stdout_tail.render(),
            err,
            n.log_path.display()
        )
    }

    fn kill_all(&mut self) {
        for n in &mut self.nodes {
            n.stdin = None;
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }
}

/// Call `f` with each line `input` yields (newline included, if any) until
/// the stream ends or `f` returns false. Returns false if `f` stopped it.
fn for_each_line(input: impl std::io::Read, mut f: impl FnMut(&[u8]) -> bool) -> bool {
    let mut r = BufReader::new(input);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => {
                if !f(&buf) {
                    return false;
                }
            }
        }
    }
}

/// A line without its trailing newline.
fn trim_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Forward Ctrl-C from the handler's channel into ours, with a timestamp.
fn forward_interrupts(tx: Sender<Tagged>) -> Option<std::thread::JoinHandle<()>> {
    let (itx, irx) = channel::<NodeEvent>();
    if let Ok(mut slot) = interrupt_slot().lock() {
        *slot = Some(itx);
    }
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            while let Ok(ev) = irx.recv() {
                if tx.send((Instant::now(), 0, ev)).is_err() {
                    break;
                }
            }
        })
        .ok()
}

/// A thread that sends each stdout line of process `generation` of node
/// `i`, then its end.
fn read_stdout(out: ChildStdout, name: &str, i: usize, generation: u64, tx: Sender<Tagged>) {
    let _ = std::thread::Builder::new()
        .name(format!("{name}-stdout"))
        .spawn(move || {
            let open = for_each_line(out, |raw| {
                let line = String::from_utf8_lossy(trim_newline(raw)).into_owned();
                tx.send((
                    Instant::now(),
                    generation,
                    NodeEvent::Line { node: i, line },
                ))
                .is_ok()
            });
            if open {
                let report = String::new();
                let _ = tx.send((
                    Instant::now(),
                    generation,
                    NodeEvent::Exited { node: i, report },
                ));
            }
        });
}

/// A thread that copies a node's stderr into its log file (and to our
/// stderr, prefixed with the node's name, when `echo` names it), keeping a
/// tail for crash reports.
fn read_stderr(
    err: ChildStderr,
    mut file: File,
    echo: Option<String>,
    tail: Arc<Mutex<Tail>>,
    done: Arc<Mutex<bool>>,
) {
    let _ = std::thread::Builder::new()
        .name("node-stderr".into())
        .spawn(move || {
            for_each_line(err, |raw| {
                let _ = file.write_all(raw);
                let _ = file.flush();
                let line = String::from_utf8_lossy(trim_newline(raw)).into_owned();
                if let Some(name) = &echo {
                    eprintln!("[{name}] {line}");
                }
                if let Ok(mut t) = tail.lock() {
                    t.push(&line);
                }
                true
            });
            if let Ok(mut d) = done.lock() {
                *d = true;
            }
        });
}

fn write_lines(input: &mut ChildStdin, lines: Receiver<String>) {
    while let Ok(first) = lines.recv() {
        let mut batch = first;
        batch.push('\n');
        while let Ok(more) = lines.try_recv() {
            batch.push_str(&more);
            batch.push('\n');
        }
        if input.write_all(batch.as_bytes()).is_err() || input.flush().is_err() {
            // The node died; delivery failures are ignored as in Maelstrom,
            // the crash itself is reported when its stdout closes.
            while lines.recv().is_ok() {}
            return;
        }
    }
}

impl Backend for ProcessBackend {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn deliver(&mut self, node: usize, line: &str, _now: Duration, _out: &mut Vec<NodeEvent>) {
        if let Some(tx) = &self.nodes[node].stdin {
            let _ = tx.send(line.to_string());
        }
    }

    fn wait(&mut self, until: Option<Duration>, out: &mut Vec<NodeEvent>) -> Duration {
        let first = match until {
            Some(u) => {
                let now = self.now();
                if u <= now {
                    match self.rx.try_recv() {
                        Ok(ev) => Some(ev),
                        Err(_) => return now,
                    }
                } else {
                    match self.rx.recv_timeout(u - now) {
                        Ok(ev) => Some(ev),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => None,
                    }
                }
            }
            None => self.rx.recv_timeout(Duration::from_secs(1)).ok(),
        };
        let mut batch: Vec<(u64, NodeEvent)> = Vec::new();
        if let Some((_, generation, ev)) = first {
            batch.push((generation, ev));
            while let Ok((_, generation, ev)) = self.rx.try_recv() {
                batch.push((generation, ev));
                if batch.len() >= 4096 {
                    break;
                }
            }
        }
        for (generation, ev) in batch {
            match ev {
                NodeEvent::Line { node, line } => {
                    self.nodes[node].stdout_tail.push(&line);
                    out.push(NodeEvent::Line { node, line });
                }
                NodeEvent::Exited { node, .. } => {
                    let n = &self.nodes[node];
                    // An earlier process of a restarted node, or one the
                    // nemesis killed, is not a crash.
                    if generation == n.generation && !n.exited && !self.shut {
                        self.nodes[node].exited = true;
                        let report = self.crash_report(node);
                        out.push(NodeEvent::Exited { node, report });
                    }
                }
                NodeEvent::Interrupted => out.push(NodeEvent::Interrupted),
            }
        }
        self.now()
    }

    fn shutdown(&mut self) -> Result<(), String> {
        if self.shut {
            return Ok(());
        }
        self.shut = true;
        if let Ok(mut slot) = interrupt_slot().lock() {
            *slot = None;
        }
        let mut crashed = None;
        for i in 0..self.nodes.len() {
            if crashed.is_none() && !self.nodes[i].exited {
                if let Ok(Some(_)) = self.nodes[i].child.try_wait() {
                    self.nodes[i].exited = true;
                    crashed = Some(self.crash_report(i));
                }
            }
        }
        self.kill_all();
        match crashed {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    fn is_virtual(&self) -> bool {
        false
    }

    /// SIGKILL through `std::process::Child::kill`, then reap.
    fn kill(&mut self, node: usize) -> Result<(), String> {
        let n = self.node_mut(node)?;
        if n.killed {
            return Ok(());
        }
        n.killed = true;
        n.exited = true;
        n.stdin = None;
        n.child
            .kill()
            .and_then(|()| n.child.wait().map(|_| ()))
            .map_err(|e| format!("cannot kill node {}: {e}", n.name))
    }

    /// The same binary, arguments and node name as before; its stderr is
    /// appended to the same log.
    fn start(&mut self, node: usize) -> Result<(), String> {
        let n = self.node_mut(node)?;
        if !n.killed {
            return Err(format!(
                "node {} is running; only a killed node can be started",
                n.name
            ));
        }
        let (name, generation) = (n.name.clone(), n.generation + 1);
        let fresh = self
            .spawn_node(node, &name, generation)
            .map_err(|e| format!("cannot restart node {name}: {e}"))?;
        self.nodes[node] = fresh;
        Ok(())
    }

    /// SIGSTOP through the `nix` crate.
    fn pause(&mut self, node: usize) -> Result<(), String> {
        self.signal(node, Signal::SIGSTOP)
    }

    /// SIGCONT through the `nix` crate.
    fn resume(&mut self, node: usize) -> Result<(), String> {
        self.signal(node, Signal::SIGCONT)
    }
}

impl Drop for ProcessBackend {
    fn drop(&mut self) {
        if let Ok(mut slot) = interrupt_slot().lock() {
            *slot = None;
        }
        self.kill_all();
        if self.spec.temporary {
            let _ = std::fs::remove_dir_all(&self.spec.node_dirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend with no lifecycle support.
    struct Fixed;

    impl Backend for Fixed {
        fn now(&self) -> Duration {
            Duration::ZERO
        }
        fn deliver(&mut self, _: usize, _: &str, _: Duration, _: &mut Vec<NodeEvent>) {}
        fn wait(&mut self, _: Option<Duration>, _: &mut Vec<NodeEvent>) -> Duration {
            Duration::ZERO
        }
        fn shutdown(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn is_virtual(&self) -> bool {
            true
        }
    }

    #[test]
    fn lifecycle_defaults_say_not_supported() {
        let mut b = Fixed;
        for (op, r) in [
            ("kill", b.kill(1)),
            ("start", b.start(1)),
            ("pause", b.pause(1)),
            ("resume", b.resume(1)),
        ] {
            let e = r.expect_err(op);
            assert!(e.contains(op) && e.contains("does not support"), "{e}");
        }
    }
}
