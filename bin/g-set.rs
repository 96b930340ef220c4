//! Maelstrom `g-set` node: a delta CRDT grow-only set with no service.
//!
//! Usage: `g-set [--gossip-ms MS]` (0, the default, pushes each new
//! element at once); see `glomers::challenges::g_set`.
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::g_set::GSet>()
}
