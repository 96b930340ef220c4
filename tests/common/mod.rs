//! Helpers shared by the bench's integration tests. Each test binary uses
//! some of them, hence the `dead_code` allowance.
#![allow(dead_code)]

use glomers::bench::engine::EngineConfig;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `glomers` binary.
pub fn glomers() -> Command {
    Command::new(env!("CARGO_BIN_EXE_glomers"))
}

/// The path of a python fixture node under tests/fixtures/.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A fresh store directory for one test (`tag` keeps test binaries apart).
pub fn store(tag: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glomers-{tag}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `glomers test <args> --store <store>`.
pub fn run(args: &[&str], store: &Path) -> Output {
    glomers()
        .arg("test")
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .expect("run glomers")
}

/// The latest run's results.json under `store`.
pub fn results(store: &Path) -> Value {
    let text = std::fs::read_to_string(store.join("latest/results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// A run's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An engine configuration for tests: no run directory, no console output.
pub fn quiet() -> EngineConfig {
    EngineConfig {
        write_store: false,
        verbose: false,
        ..EngineConfig::default()
    }
}
