//! Maelstrom `unique-ids` node (Fly.io challenge 2).
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::unique_ids::UniqueIds>()
}
