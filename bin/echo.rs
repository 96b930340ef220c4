//! Maelstrom `echo` node (Fly.io challenge 1).
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::echo::Echo>()
}
