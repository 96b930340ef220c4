//! Node processes that die with the bench, even when the bench is killed.
//!
//! # Why
//!
//! The process backend kills and reaps every node on a normal end, on an
//! error path (`Drop`) and on Ctrl-C. None of that runs when the bench
//! itself is killed with SIGKILL (or the OOM killer, or a crash in a
//! signal-unsafe place): its children are reparented and a node that
//! ignores SIGTERM and keeps running after its stdin closes — a buggy node,
//! or a deliberately stubborn test fixture — lives on, holding its working
//! directory and its CPU. Linux offers a kernel-side guarantee: a process
//! may ask for a signal when its parent dies (`PR_SET_PDEATHSIG`).
//!
//! # Design
//!
//! Setting the parent-death signal must happen in the child, between
//! `fork` and `exec`. Rust's `pre_exec` hook would do it but is `unsafe`,
//! which this crate forbids. So the child is first the bench itself:
//! [`command`] builds `glomers __launch-node <bench pid> <node binary>
//! <args…>`, and that process ([`main`]) asks for SIGKILL on its parent's
//! death (the `nix` crate's safe `prctl` wrapper, already in the tree
//! through `ctrlc`), checks that its parent is still the bench (if the
//! bench died before the request was made, no signal would ever come), and
//! then `exec`s the node binary in its own place with std's safe
//! `CommandExt::exec`. The signal request survives `exec`, the node keeps
//! the launcher's pid, stdio, working directory and environment, so to the
//! backend the launcher is invisible: it waits for, signals and kills the
//! node's pid as before.
//!
//! # Caveats
//!
//! - Linux only; elsewhere [`command`] runs the node directly (no
//!   guarantee, as before).
//! - The kernel sends the signal when the *thread* that spawned the child
//!   exits, not the process. The backend must spawn nodes from a thread
//!   that lives as long as they do (the engine's), never from a short-lived
//!   helper thread, or the node is killed when that thread ends.
//! - The signal is not sent to a set-user-id node binary, and a node that
//!   resets its own parent-death signal opts out; neither is ours.

use std::path::Path;
use std::process::Command;

/// The hidden subcommand of `glomers` that sets up a node and execs it.
pub const SUBCOMMAND: &str = "__launch-node";

/// A [`Command`] that runs `bin args…` so that it dies when this process
/// dies, through `launcher` (the `glomers` binary: `std::env::current_exe()`
/// in the bench). The caller adds stdio, working directory and environment
/// as for the node itself. On systems without a parent-death signal it is
/// `bin args…` itself.
pub fn command(launcher: &Path, bin: &Path, args: &[String]) -> Command {
    if cfg!(target_os = "linux") {
        let mut cmd = Command::new(launcher);
        cmd.arg(SUBCOMMAND)
            .arg(std::process::id().to_string())
            .arg(bin)
            .args(args);
        cmd
    } else {
        let _ = launcher;
        let mut cmd = Command::new(bin);
        cmd.args(args);
        cmd
    }
}

/// The launcher: `args` are what follows [`SUBCOMMAND`]: the parent's pid,
/// the node binary and its arguments. Only returns on failure, with the
/// exit code (127 when the node cannot be run, 2 on bad arguments; 0 when
/// the parent is already gone and there is nothing to run for).
pub fn main(args: &[String]) -> i32 {
    let (Some(parent), Some(bin)) = (args.first(), args.get(1)) else {
        eprintln!("usage: glomers {SUBCOMMAND} <parent pid> <node binary> [args…]");
        return 2;
    };
    let Ok(parent) = parent.parse::<u32>() else {
        eprintln!("glomers {SUBCOMMAND}: bad parent pid {parent:?}");
        return 2;
    };
    if let Err(e) = die_with_parent(parent) {
        eprintln!("glomers {SUBCOMMAND}: {e}");
        return if e.starts_with("the bench") { 0 } else { 127 };
    }
    exec(bin, &args[2..])
}

/// Ask for SIGKILL when the parent dies, then make sure the parent is
/// still `parent` (it may have died before the request).
#[cfg(target_os = "linux")]
fn die_with_parent(parent: u32) -> Result<(), String> {
    use nix::sys::prctl::set_pdeathsig;
    use nix::sys::signal::Signal;
    set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| format!("cannot set the parent-death signal: {e}"))?;
    let now = nix::unistd::getppid().as_raw();
    if u32::try_from(now).ok() != Some(parent) {
        return Err(format!(
            "the bench (pid {parent}) is already gone; not starting the node"
        ));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(parent: u32) -> Result<(), String> {
    let _ = parent;
    Ok(())
}

/// Replace this process with `bin args…`; returns only on failure.
#[cfg(unix)]
fn exec(bin: &str, args: &[String]) -> i32 {
    use std::os::unix::process::CommandExt;
    let e = Command::new(bin).args(args).exec();
    eprintln!("glomers {SUBCOMMAND}: cannot run {bin}: {e}");
    127
}

#[cfg(not(unix))]
fn exec(bin: &str, args: &[String]) -> i32 {
    match Command::new(bin).args(args).status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("glomers {SUBCOMMAND}: cannot run {bin}: {e}");
            127
        }
    }
}
