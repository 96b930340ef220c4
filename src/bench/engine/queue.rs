//! The engine's event queue: events ordered by `(time, seq)`, so two events
//! due at the same instant run in the order they were scheduled and a run
//! is a pure function of its seed.

use super::super::net::Ep;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

/// Something the engine does at a given time.
#[derive(Debug, Clone, Copy)]
pub(super) enum Event {
    /// Deliver the head of this endpoint's queue.
    Deliver(Ep),
    /// A client's RPC ran out of time.
    RpcTimeout { client: usize, msg_id: u64 },
    /// The generator's next op is due.
    Generate,
    /// The nemesis's next op is due.
    Nemesis,
    /// The main phase's time limit.
    TimeLimit,
    /// A waiting phase (the recovery wait) is over.
    WaitOver,
    /// The final phase's time limit.
    FinalLimit,
    /// A worker's final-phase sleep is over.
    WorkerWake(usize),
}

struct Scheduled {
    time: Duration,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

/// Pending events, earliest first; ties in scheduling order.
#[derive(Default)]
pub(super) struct EventQueue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
}

impl EventQueue {
    /// Add `event` at `time`.
    pub(super) fn push(&mut self, time: Duration, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse(Scheduled {
            time,
            seq: self.seq,
            event,
        }));
    }

    /// When the next event is due.
    pub(super) fn next_time(&self) -> Option<Duration> {
        self.heap.peek().map(|Reverse(s)| s.time)
    }

    /// The next event if it is due at or before `now`.
    pub(super) fn pop_due(&mut self, now: Duration) -> Option<Event> {
        if self.next_time()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(s)| s.event)
    }
}
