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

/// `glomers serve --port 0` on a store, killed on drop.
pub struct Server {
    child: std::process::Child,
    /// The address it printed (`127.0.0.1:PORT`).
    pub addr: String,
}

impl Server {
    /// Start it and read the address from its first stderr line.
    pub fn start(store: &Path) -> Server {
        use std::io::Read;
        let mut child = glomers()
            .args(["serve", "--port", "0", "--store"])
            .arg(store)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start glomers serve");
        let mut err = child.stderr.take().expect("stderr");
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while err.read(&mut b).is_ok_and(|n| n == 1) && b[0] != b'\n' {
            line.push(b[0]);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_default()
            .to_string();
        assert!(!addr.is_empty(), "no address in {line:?}");
        Server { child, addr }
    }

    /// A raw `GET` (the path is sent as is: no client-side normalizing of
    /// `..`); the whole response.
    pub fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).expect("connect");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
