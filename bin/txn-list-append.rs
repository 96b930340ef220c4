//! Maelstrom `txn-list-append` node: strict-serializable list-append
//! transactions over one root in `lin-kv`, Datomic style; see
//! `glomers::challenges::txn_list_append`.
fn main() -> anyhow::Result<()> {
    glomers::runtime::run::<glomers::challenges::txn_list_append::TxnListAppend>()
}
