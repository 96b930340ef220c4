//! Maelstrom `pn-counter` node: a state-based CRDT counter with no service.
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::pn_counter::PnCounter>()
}
