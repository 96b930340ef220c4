//! Elle's key pool, shared by the kafka and txn-rw-register generators:
//! `--key-count` active keys chosen with an exponential distribution, write
//! values counting up from 1 per key, and a key retired (replaced in its
//! pool slot by one more than the largest active key) once it has had
//! `--max-writes-per-key` writes, so every written value is unique per key.

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;

/// Base of the exponential key distribution.
const BASE: f64 = 2.0;

/// The active keys and each key's next write value.
#[derive(Debug, Clone)]
pub struct KeyPool {
    /// Keys that may be chosen now, in pool order.
    active: Vec<u64>,
    /// Next value to write per key (absent = 1).
    next_value: HashMap<u64, u64>,
    /// Writes per key before it is retired.
    max_writes: u64,
}

impl KeyPool {
    /// Keys `0 … key_count-1` (at least one), `max_writes` writes each.
    pub fn new(key_count: usize, max_writes: usize) -> Self {
        KeyPool {
            active: (0..key_count.max(1) as u64).collect(),
            next_value: HashMap::new(),
            max_writes: max_writes.max(1) as u64,
        }
    }

    /// Elle's exponential choice of a pool slot: slot `i` is `2^i` times as
    /// likely as slot 0.
    pub fn key_index(&self, rng: &mut StdRng) -> usize {
        let n = self.active.len() as i32;
        let scale = (BASE.powi(n) - 1.0) * BASE / (BASE - 1.0);
        let x: f64 = rng.gen::<f64>() * scale;
        let i = ((x + BASE).ln() / BASE.ln() - 1.0).floor();
        (i.max(0.0) as usize).min(self.active.len() - 1)
    }

    /// The key in pool slot `i`.
    pub fn key(&self, i: usize) -> u64 {
        self.active[i]
    }

    /// The next write to the key in slot `i`: `(key, value)`, or None if
    /// that key had all its writes, in which case it is retired and the
    /// caller draws again.
    pub fn next_write(&mut self, i: usize) -> Option<(u64, u64)> {
        let k = self.active[i];
        let v = self.next_value.get(&k).copied().unwrap_or(1);
        if v > self.max_writes {
            let fresh = self.active.iter().copied().max().unwrap_or(0) + 1;
            self.active[i] = fresh;
            return None;
        }
        self.next_value.insert(k, v + 1);
        Some((k, v))
    }
}
