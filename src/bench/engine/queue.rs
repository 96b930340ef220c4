//! The engine's event queue: events ordered by `(time, seq)`, so two events
//! due at the same instant run in the order they were scheduled and a run
//! is a pure function of its seed.

use super::super::nemesis::Stream;
use super::super::net::Ep;
use std::time::Duration;

/// Something the engine does at a given time.
#[derive(Debug, Clone, Copy)]
pub(super) enum Event {
    /// Deliver the head of this endpoint's queue.
    Deliver(Ep),
    /// A client's RPC ran out of time.
    RpcTimeout { client: usize, msg_id: u64 },
    /// A worker's RPC to a killed node is refused.
    RpcRefused { client: usize, msg_id: u64 },
    /// The generator's next op is due.
    Generate,
    /// The next op of this nemesis stream is due.
    Nemesis(Stream),
    /// The main phase's time limit.
    TimeLimit,
    /// A waiting phase (the recovery wait) is over.
    WaitOver,
    /// The final phase's time limit.
    FinalLimit,
    /// A worker's final-phase sleep is over.
    WorkerWake(usize),
}

/// Pending events, earliest first; ties in scheduling order. A thin face
/// on the runtime's [`crate::runtime::EventQueue`], the one queue type
/// that also orders host timers and the network's per-destination queues.
#[derive(Default)]
pub(super) struct EventQueue(crate::runtime::EventQueue<Event>);

impl EventQueue {
    /// Add `event` at `time`.
    pub(super) fn push(&mut self, time: Duration, event: Event) {
        self.0.schedule(time, event);
    }

    /// When the next event is due.
    pub(super) fn next_time(&self) -> Option<Duration> {
        self.0.peek_time()
    }

    /// The next event, with its due time, if it is due at or before `now`.
    pub(super) fn pop_due(&mut self, now: Duration) -> Option<(Duration, Event)> {
        self.0.pop_due(now)
    }
}
