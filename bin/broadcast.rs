//! Maelstrom `broadcast` node (Fly.io challenges 3a–3e).
//!
//! Usage: `broadcast [--batch-ms MS]` (or `GLOMERS_BATCH_MS=MS`): the round
//! length that trades messages for latency; see
//! `glomers::challenges::broadcast`.
use glomers::challenges::broadcast::{set_config, Broadcast, Config, BATCH_ENV};

fn main() -> anyhow::Result<()> {
    let cfg = Config::from_args(std::env::args().skip(1), std::env::var(BATCH_ENV).ok())?;
    set_config(cfg);
    glomers::runtime::run::<Broadcast>()
}
