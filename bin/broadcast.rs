//! Maelstrom `broadcast` node (Fly.io challenges 3a–3e).
//!
//! Usage: `broadcast [--batch-ms MS] [--uplink now|slot]` (or
//! `GLOMERS_BATCH_MS=MS`; the argument wins): the round length that trades
//! messages for latency; see `glomers::challenges::broadcast`.
use glomers::challenges::broadcast::{Broadcast, Config, BATCH_ENV};

fn main() -> anyhow::Result<()> {
    // The environment's value goes first, so a command-line argument wins.
    let mut args: Vec<String> = Vec::new();
    if let Ok(v) = std::env::var(BATCH_ENV) {
        if !v.trim().is_empty() {
            args.extend(["--batch-ms".to_string(), v]);
        }
    }
    args.extend(std::env::args().skip(1));
    // Refuse bad arguments at start, before Maelstrom sends init.
    Config::from_args(args.iter().cloned(), None)?;
    glomers::runtime::Driver::new()
        .args(args)
        .run::<Broadcast>()
}
