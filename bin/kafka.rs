//! Maelstrom `kafka` node (Fly.io challenges 5a, 5b and 5c).
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::kafka::Kafka>()
}
