//! Node I/O for the engine: the [`Backend`] trait and the process backend.
//!
//! The engine is one discrete-event loop; a backend supplies the clock and
//! the nodes. [`ProcessBackend`] spawns one child per node with piped stdio
//! (spec §2): a reader thread per child stdout and stderr feeds one channel,
//! a writer thread per child stdin takes delivered lines, and the clock is
//! the real one. The in-process backend ([`super::inprocess`]) runs our own
//! handlers on a virtual clock instead. Either way, every line a node prints
//! reaches the engine as a [`NodeEvent::Line`] and goes through the same
//! parse-and-validate path.
//!
//! No child outlives the bench: [`ProcessBackend::shutdown`] kills and reaps
//! every child, and `Drop` does the same on error paths and panics. Ctrl-C
//! (and SIGTERM, SIGHUP) is turned into a [`NodeEvent::Interrupted`] so the
//! engine can stop and clean up (a signal handler cannot safely kill
//! children itself; the `ctrlc` crate, with its `termination` feature, gives
//! us a portable handler on a thread without `unsafe`).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
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

struct ProcNode {
    name: String,
    child: Child,
    stdin: Option<Sender<String>>,
    stdout_tail: Tail,
    stderr_tail: Arc<Mutex<Tail>>,
    stderr_done: Arc<Mutex<bool>>,
    log_path: PathBuf,
    exited: bool,
}

/// One child process per node.
pub struct ProcessBackend {
    start: Instant,
    nodes: Vec<ProcNode>,
    rx: Receiver<(Instant, NodeEvent)>,
    /// Kept so the channel stays open after every reader thread has ended
    /// (waiting then times out instead of failing at once).
    _tx: Sender<(Instant, NodeEvent)>,
    /// Forwards Ctrl-C from the handler's channel into ours.
    _interrupt_forwarder: Option<std::thread::JoinHandle<()>>,
    shut: bool,
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

impl ProcessBackend {
    /// Spawn `bin args…` once per node name, stderr to `log_dir/<node>.log`
    /// (and to our stderr when `log_stderr`).
    pub fn spawn(
        bin: &Path,
        args: &[String],
        names: &[String],
        log_dir: &Path,
        log_stderr: bool,
    ) -> Result<Self, SpawnError> {
        let canon = check_binary(bin).map_err(SpawnError::BadBinary)?;
        std::fs::create_dir_all(log_dir)
            .map_err(|e| SpawnError::Other(format!("cannot create {}: {e}", log_dir.display())))?;
        let (tx, rx) = channel::<(Instant, NodeEvent)>();
        let start = Instant::now();
        let mut backend = ProcessBackend {
            start,
            nodes: Vec::new(),
            rx,
            _tx: tx.clone(),
            _interrupt_forwarder: None,
            shut: false,
        };
        // Ctrl-C: forward into our channel with a timestamp.
        let (itx, irx) = channel::<NodeEvent>();
        if let Ok(mut slot) = interrupt_slot().lock() {
            *slot = Some(itx);
        }
        let fwd = tx.clone();
        backend._interrupt_forwarder = std::thread::Builder::new()
            .name("interrupt".into())
            .spawn(move || {
                while let Ok(ev) = irx.recv() {
                    if fwd.send((Instant::now(), ev)).is_err() {
                        break;
                    }
                }
            })
            .ok();
        for (i, name) in names.iter().enumerate() {
            let mut cmd = Command::new(&canon);
            cmd.args(args)
                .current_dir(std::env::temp_dir())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().map_err(|e| {
                SpawnError::BadBinary(format!("--bin {}: cannot run it: {e}", bin.display()))
            })?;
            let log_path = log_dir.join(format!("{name}.log"));
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            let stdin = child.stdin.take();
            let stderr_tail = Arc::new(Mutex::new(Tail::default()));
            let stderr_done = Arc::new(Mutex::new(false));
            let node = ProcNode {
                name: name.clone(),
                child,
                stdin: None,
                stdout_tail: Tail::default(),
                stderr_tail: stderr_tail.clone(),
                stderr_done: stderr_done.clone(),
                log_path: log_path.clone(),
                exited: false,
            };
            backend.nodes.push(node);
            if let Some(out) = stdout {
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name(format!("{name}-stdout"))
                    .spawn(move || {
                        let open = for_each_line(out, |raw| {
                            let line = String::from_utf8_lossy(trim_newline(raw)).into_owned();
                            tx.send((Instant::now(), NodeEvent::Line { node: i, line }))
                                .is_ok()
                        });
                        if !open {
                            return;
                        }
                        let _ = tx.send((
                            Instant::now(),
                            NodeEvent::Exited {
                                node: i,
                                report: String::new(),
                            },
                        ));
                    });
            }
            if let Some(err) = stderr {
                let mut file = File::create(&log_path).map_err(|e| {
                    SpawnError::Other(format!("cannot create {}: {e}", log_path.display()))
                })?;
                let tail = stderr_tail;
                let done = stderr_done;
                let name = name.clone();
                let _ = std::thread::Builder::new()
                    .name(format!("{name}-stderr"))
                    .spawn(move || {
                        for_each_line(err, |raw| {
                            let _ = file.write_all(raw);
                            let _ = file.flush();
                            let line = String::from_utf8_lossy(trim_newline(raw)).into_owned();
                            if log_stderr {
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
            if let Some(mut input) = stdin {
                let (ltx, lrx) = channel::<String>();
                let _ = std::thread::Builder::new()
                    .name(format!("{name}-stdin"))
                    .spawn(move || write_lines(&mut input, lrx));
                backend.nodes[i].stdin = Some(ltx);
            }
        }
        Ok(backend)
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
        let mut batch: Vec<NodeEvent> = Vec::new();
        if let Some((_, ev)) = first {
            batch.push(ev);
            while let Ok((_, ev)) = self.rx.try_recv() {
                batch.push(ev);
                if batch.len() >= 4096 {
                    break;
                }
            }
        }
        for ev in batch {
            match ev {
                NodeEvent::Line { node, line } => {
                    self.nodes[node].stdout_tail.push(&line);
                    out.push(NodeEvent::Line { node, line });
                }
                NodeEvent::Exited { node, .. } => {
                    if !self.nodes[node].exited && !self.shut {
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
}

impl Drop for ProcessBackend {
    fn drop(&mut self) {
        if let Ok(mut slot) = interrupt_slot().lock() {
            *slot = None;
        }
        self.kill_all();
    }
}
