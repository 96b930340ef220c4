//! [`EventQueue`]: things due at a time, taken earliest first and, at equal
//! times, in the order they were scheduled.
//!
//! Every discrete-event loop in this crate needs the same structure: the
//! host's timers and RPC deadlines, each network endpoint's waiting
//! messages, the bench engine's events and the simulator's deliveries. Each
//! used to carry its own `BinaryHeap<Reverse<…>>` with a hand-written `Ord`
//! on `(time, seq)`; one type keeps the tie rule in one place, and the tie
//! rule is what makes a seeded run replay byte for byte (a heap alone
//! breaks ties arbitrarily).
//!
//! # Design
//!
//! A binary min-heap keyed by `(time, seq)`, where `seq` counts calls to
//! [`EventQueue::schedule`]. The payload takes no part in the order, so it
//! needs no `Ord`. It is the rule of the simulators we follow: turmoil keeps in-flight messages in per-link queues in send
//! order (`turmoil: src/top.rs`), and Maelstrom's network delivers each
//! destination's messages in deadline order (`maelstrom:
//! src/maelstrom/net.clj`); where two deadlines tie, we fix the order to
//! the order of sending, so that nothing depends on a heap's internals.
//!
//! # Caveats
//!
//! Nothing is ever removed except from the front: a cancelled item stays
//! queued and the owner skips it when it comes up (the host does this for
//! answered RPCs). `seq` is a `u64` and never wraps in practice.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

/// One queued item with its key.
struct Entry<T> {
    time: Duration,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// Items due at times, taken in `(time, insertion order)` order.
pub struct EventQueue<T> {
    /// The items, earliest on top.
    heap: BinaryHeap<Reverse<Entry<T>>>,
    /// How many items were ever scheduled: the tie-break, so two items due
    /// at the same time come out in the order they went in.
    seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue `item`, due at `time`.
    pub fn schedule(&mut self, time: Duration, item: T) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            time,
            seq: self.seq,
            item,
        }));
    }

    /// When the earliest item is due.
    pub fn peek_time(&self) -> Option<Duration> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    /// The earliest item and when it is due, without taking it.
    pub fn peek(&self) -> Option<(Duration, &T)> {
        self.heap.peek().map(|Reverse(e)| (e.time, &e.item))
    }

    /// Take the earliest item, whenever it is due.
    pub fn pop(&mut self) -> Option<(Duration, T)> {
        self.heap.pop().map(|Reverse(e)| (e.time, e.item))
    }

    /// Take the earliest item if it is due at or before `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<(Duration, T)> {
        if self.peek_time()? <= now {
            self.pop()
        } else {
            None
        }
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Drop every item (the insertion counter keeps counting).
    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

impl<T> std::fmt::Debug for EventQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.heap.len())
            .field("next", &self.peek_time())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    #[test]
    fn earliest_first_then_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(ms(5), "late");
        q.schedule(ms(1), "first at 1");
        q.schedule(ms(1), "second at 1");
        q.schedule(ms(0), "now");
        q.schedule(ms(1), "third at 1");
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(ms(0)));
        assert_eq!(q.peek(), Some((ms(0), &"now")));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, x)| x)).collect();
        assert_eq!(
            order,
            ["now", "first at 1", "second at 1", "third at 1", "late"]
        );
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn pop_due_leaves_future_items() {
        let mut q = EventQueue::new();
        q.schedule(ms(10), 1);
        q.schedule(ms(20), 2);
        assert_eq!(q.pop_due(ms(9)), None);
        assert_eq!(q.pop_due(ms(10)), Some((ms(10), 1)));
        assert_eq!(q.pop_due(ms(15)), None);
        assert_eq!(q.len(), 1);
        q.clear();
        assert_eq!(q.pop_due(ms(100)), None);
        // After a clear, ties still follow insertion order.
        q.schedule(ms(1), 7);
        q.schedule(ms(1), 8);
        assert_eq!(q.pop(), Some((ms(1), 7)));
        assert!(format!("{q:?}").contains("len: 1"));
    }
}
