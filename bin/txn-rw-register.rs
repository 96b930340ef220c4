//! Maelstrom `txn-rw-register` node (Fly.io challenges 6a–6c): totally
//! available, read-committed transactions.
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::txn_rw_register::TxnRwRegister>()
}
