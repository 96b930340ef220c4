//! The challenge handlers, one module per Maelstrom workload. Each is a
//! [`crate::runtime::Node`] and opens with an essay on its design.

pub mod broadcast;
pub mod echo;
pub mod g_counter;
pub mod g_set;
pub mod kafka;
pub mod lin_kv;
pub mod pn_counter;
pub mod txn_list_append;
pub mod txn_rw_register;
pub mod unique_ids;
