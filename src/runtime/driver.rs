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
/// command-line arguments as [`super::Ctx::args`].
pub fn run<N: Node>() -> anyhow::Result<()> {
    run_args::<N>(std::env::args().skip(1).collect())
}

/// [`run`] with the given arguments as [`super::Ctx::args`].
pub fn run_args<N: Node>(args: Vec<String>) -> anyhow::Result<()> {
    drive::<N>(std::io::stdin(), std::io::stdout(), std::io::stderr(), args)
}

/// Run node `N` on the given streams until `input` closes (no arguments).
pub fn run_with<N: Node>(
    input: impl Read + Send + 'static,
    output: impl Write,
    log: impl Write,
) -> anyhow::Result<()> {
    drive::<N>(input, output, log, Vec::new())
}

fn drive<N: Node>(
    input: impl Read + Send + 'static,
    mut output: impl Write,
    mut log: impl Write,
    args: Vec<String>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(64);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_chunks(input, tx))?;
    let start = Instant::now();
    let mut host = NodeHost::<N>::new(rand::random());
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
    host.set_trace(std::env::var_os(TRACE_ENV).is_some_and(|v| !v.is_empty() && v != "0"));
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
