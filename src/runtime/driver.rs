//! The real driver: stdin lines in, stdout lines out, timers on Tokio.
//!
//! One thread reads stdin in large chunks (no line-length limit) and hands
//! them to the event loop; the loop feeds every complete line to the
//! [`NodeHost`], fires due timers, and writes all output produced by one
//! chunk as one write followed by a flush, so no complete message is ever
//! held back. End of input ends the node at once (timers stop).
//!
//! The node's disk is a [`FileDisk`] in the directory named by
//! [`DISK_ENV`] when that is set, else in memory (see `storage.rs` for
//! why). Every chunk already waiting is handled before the output is
//! taken, so the one sync the write-ahead rule makes before output covers
//! as many requests as arrived meanwhile (group commit).

use super::host::NodeHost;
use super::node::Node;
use super::storage::{FileDisk, DISK_ENV};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Environment variable that turns on per-message logging to stderr.
pub const TRACE_ENV: &str = "GLOMERS_LOG";

/// Run node `N` on stdin and stdout until stdin closes, with the process's
/// command-line arguments: `Driver::new().run::<N>()`.
pub fn run<N: Node>() -> anyhow::Result<()> {
    Driver::new().run::<N>()
}

/// How to run a node for real: its arguments, its streams, its logging and
/// its RNG seed, each with a default, then [`Driver::run`].
///
/// | setting | default |
/// |---|---|
/// | [`Driver::args`] | the process's arguments after the program name |
/// | [`Driver::input`] | stdin |
/// | [`Driver::output`] | stdout |
/// | [`Driver::log`] | stderr |
/// | [`Driver::trace`] | on when [`TRACE_ENV`] is set (not empty, not `0`) |
/// | [`Driver::seed`] | random |
/// | the disk | files in [`DISK_ENV`]'s directory when set, else memory |
///
/// ```no_run
/// # use glomers::runtime::Driver;
/// # use glomers::challenges::echo::Echo;
/// Driver::new()
///     .args(vec!["--verbose".into()])
///     .input(std::io::Cursor::new(Vec::<u8>::new()))
///     .output(Vec::<u8>::new())
///     .trace(true)
///     .run::<Echo>()?;
/// # anyhow::Ok(())
/// ```
pub struct Driver<I = std::io::Stdin, O = std::io::Stdout, L = std::io::Stderr> {
    /// What [`super::Ctx::args`] reports.
    args: Vec<String>,
    /// Where input lines come from; read on a thread of its own.
    input: I,
    /// Where messages go.
    output: O,
    /// Where the node's log lines go.
    log: L,
    /// Log every message received and sent.
    trace: bool,
    /// The node's RNG seed; random when `None`.
    seed: Option<u64>,
}

impl Driver {
    /// The defaults: the process's arguments, stdin, stdout and stderr.
    pub fn new() -> Self {
        Driver {
            args: std::env::args().skip(1).collect(),
            input: std::io::stdin(),
            output: std::io::stdout(),
            log: std::io::stderr(),
            trace: std::env::var_os(TRACE_ENV).is_some_and(|v| !v.is_empty() && v != "0"),
            seed: None,
        }
    }
}

impl Default for Driver {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Read + Send + 'static, O: Write, L: Write> Driver<I, O, L> {
    /// The node's arguments, as [`super::Ctx::args`] reports them.
    pub fn args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }

    /// Read input from `input` instead of stdin.
    pub fn input<I2: Read + Send + 'static>(self, input: I2) -> Driver<I2, O, L> {
        self.streams(|_, output, log| (input, output, log))
    }

    /// Write messages to `output` instead of stdout.
    pub fn output<O2: Write>(self, output: O2) -> Driver<I, O2, L> {
        self.streams(|input, _, log| (input, output, log))
    }

    /// Write the node's log to `log` instead of stderr.
    pub fn log<L2: Write>(self, log: L2) -> Driver<I, O, L2> {
        self.streams(|input, output, _| (input, output, log))
    }

    /// The same settings with other streams (changing a stream changes the
    /// driver's type, which struct update syntax cannot do on stable Rust).
    fn streams<I2, O2, L2>(self, swap: impl FnOnce(I, O, L) -> (I2, O2, L2)) -> Driver<I2, O2, L2> {
        let (input, output, log) = swap(self.input, self.output, self.log);
        Driver {
            args: self.args,
            input,
            output,
            log,
            trace: self.trace,
            seed: self.seed,
        }
    }

    /// Log every message received and sent (or not), whatever
    /// [`TRACE_ENV`] says.
    pub fn trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }

    /// Seed the node's RNG ([`super::Ctx::rng`]) instead of drawing a
    /// random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Run node `N` until the input closes.
    pub fn run<N: Node>(self) -> anyhow::Result<()> {
        drive::<N>(self)
    }
}

// One loop: read, feed, fire timers, flush. Its length is the select and
// its three input cases, kept together so the order of effects is visible.
fn drive<N: Node>(
    driver: Driver<impl Read + Send + 'static, impl Write, impl Write>,
) -> anyhow::Result<()> {
    let Driver {
        args,
        input,
        mut output,
        mut log,
        trace,
        seed,
    } = driver;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(64);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_chunks(input, tx))?;
    let start = Instant::now();
    let mut host = NodeHost::<N>::new(seed.unwrap_or_else(rand::random));
    // The incarnation's wall-clock start, read once here so handlers never
    // touch the clock themselves.
    let boot_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    host.set_boot_time(boot_time);
    host.set_args(args);
    if let Some(dir) = std::env::var_os(DISK_ENV).filter(|d| !d.is_empty()) {
        host.set_disk(Box::new(FileDisk::new(dir)));
    }
    host.set_trace(trace);
    let mut pending: Vec<u8> = Vec::new();
    rt.block_on(async {
        loop {
            let deadline = host.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until((start + d).into()).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                chunk = rx.recv() => match chunk {
                    Some(Ok(chunk)) => {
                        let now = start.elapsed();
                        feed(&mut host, &mut pending, &chunk, now);
                        // Take whatever else is already waiting, so one
                        // flush (and one disk sync) serves all of it.
                        while let Ok(Ok(more)) = rx.try_recv() {
                            feed(&mut host, &mut pending, &more, start.elapsed());
                        }
                    }
                    Some(Err(e)) => {
                        let _ = writeln!(log, "error reading stdin: {e}");
                        break;
                    }
                    None => {
                        if !pending.is_empty() {
                            let line = std::mem::take(&mut pending);
                            host.handle_line(&line, start.elapsed());
                        }
                        flush(&mut host, &mut output, &mut log)?;
                        break;
                    }
                },
                _ = sleep => host.tick(start.elapsed()),
            }
            flush(&mut host, &mut output, &mut log)?;
        }
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Feed every complete line of `chunk` (after what is left in `pending`) to
/// the host; keep the incomplete tail in `pending`.
fn feed<N: Node>(host: &mut NodeHost<N>, pending: &mut Vec<u8>, chunk: &[u8], now: Duration) {
    let mut rest = chunk;
    if !pending.is_empty() {
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                pending.extend_from_slice(&rest[..i]);
                let line = std::mem::take(pending);
                host.handle_line(&line, now);
                rest = &rest[i + 1..];
            }
            None => {
                pending.extend_from_slice(rest);
                return;
            }
        }
    }
    while let Some(i) = memchr::memchr(b'\n', rest) {
        host.handle_line(&rest[..i], now);
        rest = &rest[i + 1..];
    }
    pending.extend_from_slice(rest);
}

fn flush<N: Node>(
    host: &mut NodeHost<N>,
    output: &mut impl Write,
    log: &mut impl Write,
) -> anyhow::Result<()> {
    let logs = host.logs();
    if !logs.is_empty() {
        let _ = log.write_all(logs);
        let _ = log.flush();
        logs.clear();
    }
    let out = host.output();
    if !out.is_empty() {
        output.write_all(out)?;
        output.flush()?;
        out.clear();
    }
    Ok(())
}

fn read_chunks(mut input: impl Read, tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}
