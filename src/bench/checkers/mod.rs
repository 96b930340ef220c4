//! The checkers.

pub mod elle;
pub mod graph;
pub mod kafka;
