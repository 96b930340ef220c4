//! Maelstrom `g-counter` node (Fly.io challenge 4): a grow-only counter on
//! `seq-kv`. The same node also serves `pn-counter`.
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::g_counter::GCounter>()
}
