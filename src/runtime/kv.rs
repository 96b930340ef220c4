//! Clients for Maelstrom's services (`seq-kv`, `lin-kv`, `lww-kv`, `lin-tso`).
//! To be completed.
