//! Maelstrom `lin-kv` node: a linearizable key/value store replicated by
//! Raft; see `glomers::challenges::lin_kv`.
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::lin_kv::LinKv>()
}
