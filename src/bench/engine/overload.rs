//! How late the run ran against its own schedule, and the warning when that
//! is enough to distort the latency figures.
//!
//! # Why
//!
//! A process-mode run shares the machine with its nodes and with whatever
//! else runs there. On a busy 2-core machine a public 3d solution measured
//! a 19.8 s median stable latency where a quiet run measured 379 ms, and
//! nothing said so: the figures were the machine's, not the solution's.
//! Maelstrom has no such check (its figures are as exposed to the machine,
//! through the JVM's threads, `Thread/sleep` in `maelstrom:
//! src/maelstrom/net.clj` `recv!`, and the generator's sleeps in `jepsen:
//! src/jepsen/generator/interpreter.clj`).
//!
//! # What is measured (process mode, main phase only)
//!
//! - **Generator lateness**: for each generator tick, how long after its
//!   due time the engine got to it (the real clock at handling minus the
//!   scheduled time). The bench's own timers: when they are late, ops start
//!   late and the measured rate drops.
//! - **Delivery lateness**: the same for each message delivery: a message
//!   handed to its destination after its deadline adds that much to every
//!   latency it is part of.
//! - **Reply delay**: for each message with a `msg_id` delivered to a node,
//!   the time from handing it to the node's stdin to the node's first line
//!   that answers it (same peers reversed, `in_reply_to` equal). This is
//!   the node's own turnaround, pipes and scheduler included. A healthy
//!   node answers most messages (acks, client replies, internal RPC
//!   replies) within a millisecond; a few legitimately wait (a leader that
//!   replies after a quorum), which is why the warning looks at the
//!   median, not the tail.
//!
//! Init and setup are left out (a node's start-up time is not overload),
//! as are deliveries nobody answers. In-process runs are on a virtual
//! clock where nothing is ever late: nothing is measured and the warning
//! never fires; `results.json` says `"clock": "virtual"`.
//!
//! # The warning
//!
//! The run is flagged `overloaded` when the 99th percentile of generator or
//! delivery lateness (over at least [`MIN_TAIL_SAMPLES`] samples), or the
//! median reply delay, reaches [`WARN_AT`] (50 ms). Why these:
//!
//! - Measured on the 3d preset in process mode (2 cores, seed 1,
//!   `maelstrom-runs/records/overload.md`): with the machine only shared
//!   (load average 12) every p99 was under 8 ms and the figures were the
//!   quiet ones; with 8 busy loops the p99s were about 25 ms and the
//!   latency figures moved by up to 12 % (max 334 ms against 297 ms); with
//!   48 busy loops the p99s were 70 to 160 ms and the max stable latency
//!   went from 297 ms to 668 ms, failing 3d's 600 ms target. 50 ms sits
//!   between the last two, more than six times the quiet tail.
//! - The tail, not the median, because the figure that fails first is the
//!   max stable latency (3d: under 600 ms with 100 ms of network latency),
//!   and it moves with the slowest hops; 50 ms of lateness is already more
//!   than 8 % of that budget per hop.
//! - The median for reply delay, because some replies legitimately wait
//!   (a leader answering after a quorum), while a starved node is slow on
//!   all of them.
//!
//! # Caveats
//!
//! Reply delay includes the time the engine took to read the reply, so it
//! also grows when the engine, not the node, is starved; the lateness
//! figures separate the two. A design whose replies mostly wait on other
//! messages (say, every reply after a round trip) has a large median reply
//! delay on any machine: the warning then says so, and names the figure,
//! so the reader can judge.

use crate::bench::net::Ep;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// The lateness (or median reply delay) from which a run is flagged.
pub const WARN_AT: Duration = Duration::from_millis(50);

/// Fewer samples than this and a 99th percentile is one sample: the tail
/// criteria are skipped.
const MIN_TAIL_SAMPLES: usize = 100;

/// Samples of one figure, in microseconds.
#[derive(Debug, Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros() as u64);
    }

    /// The `q` quantile (nearest rank) in microseconds; 0 when empty.
    fn quantile(&self, sorted: &[u64], q: f64) -> u64 {
        if sorted.is_empty() {
            return 0;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// `count`, and p50, p90, p99 and max in milliseconds.
    fn summary(&self) -> (Value, [f64; 4]) {
        let mut s = self.0.clone();
        s.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let q = [
            ms(self.quantile(&s, 0.5)),
            ms(self.quantile(&s, 0.9)),
            ms(self.quantile(&s, 0.99)),
            ms(s.last().copied().unwrap_or(0)),
        ];
        (
            json!({"count": s.len(), "p50-ms": q[0], "p90-ms": q[1], "p99-ms": q[2], "max-ms": q[3]}),
            q,
        )
    }
}

/// The ids a body carries, read without parsing the rest.
#[derive(Deserialize)]
struct Ids {
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
}

/// The measurements of one run.
#[derive(Debug, Default)]
pub(super) struct Overload {
    /// Measuring at all: process mode, main phase.
    pub(super) active: bool,
    /// A real clock (false in-process, where nothing is measured).
    real_clock: bool,
    generator: Samples,
    deliveries: Samples,
    replies: Samples,
    /// Messages handed to a node and not answered yet: (node, sender,
    /// msg_id) → when.
    pending: HashMap<(Ep, Ep, u64), Duration>,
}

impl Overload {
    pub(super) fn new(real_clock: bool) -> Self {
        Overload {
            real_clock,
            ..Overload::default()
        }
    }

    /// Start or stop measuring (the engine's main phase).
    pub(super) fn set_active(&mut self, on: bool) {
        self.active = on && self.real_clock;
    }

    /// A generator tick due at `due` handled at `clock`.
    pub(super) fn on_generate(&mut self, due: Duration, clock: Duration) {
        if self.active {
            self.generator.push(clock.saturating_sub(due));
        }
    }

    /// A delivery due at `due` handled at `clock`.
    pub(super) fn on_deliver_event(&mut self, due: Duration, clock: Duration) {
        if self.active {
            self.deliveries.push(clock.saturating_sub(due));
        }
    }

    /// Message `body` from `src` handed to node endpoint `node` at `clock`.
    pub(super) fn on_delivered(&mut self, node: Ep, src: Ep, body: &str, clock: Duration) {
        if !self.active {
            return;
        }
        if let Ok(Ids {
            msg_id: Some(id), ..
        }) = serde_json::from_str::<Ids>(body)
        {
            self.pending.entry((node, src, id)).or_insert(clock);
        }
    }

    /// A node line from `src` to `dest` with `body`, read at `clock`: the
    /// first answer to a pending message gives a reply-delay sample.
    pub(super) fn on_node_line(&mut self, src: Ep, dest: Ep, body: &str, clock: Duration) {
        if self.pending.is_empty() {
            return;
        }
        if let Ok(Ids {
            in_reply_to: Some(irt),
            ..
        }) = serde_json::from_str::<Ids>(body)
        {
            if let Some(t) = self.pending.remove(&(src, dest, irt)) {
                self.replies.push(clock.saturating_sub(t));
            }
        }
    }

    /// The `schedule` entry of `results.json`, and the warning to print
    /// when the run was overloaded.
    pub(super) fn report(&self) -> (Value, Option<String>) {
        if !self.real_clock {
            return (
                json!({"clock": "virtual", "overloaded": false,
                       "note": "in-process runs are on a virtual clock: nothing runs late"}),
                None,
            );
        }
        let (generator, g) = self.generator.summary();
        let (deliveries, d) = self.deliveries.summary();
        let (replies, r) = self.replies.summary();
        let limit = WARN_AT.as_secs_f64() * 1000.0;
        let tail_counts = |n: usize| n >= MIN_TAIL_SAMPLES;
        let mut over = Vec::new();
        if tail_counts(self.generator.0.len()) && g[2] >= limit {
            over.push(format!("generator ticks ran late (p99 {:.0} ms)", g[2]));
        }
        if tail_counts(self.deliveries.0.len()) && d[2] >= limit {
            over.push(format!("message deliveries ran late (p99 {:.0} ms)", d[2]));
        }
        if r[0] >= limit {
            over.push(format!(
                "nodes answered slowly (median reply delay {:.0} ms)",
                r[0]
            ));
        }
        let warning = (!over.is_empty()).then(|| {
            format!(
                "this run fell behind its schedule: {}; latency figures include that delay and say more about this machine's load than about the nodes (threshold {limit:.0} ms; see `schedule` in results.json)",
                over.join(", ")
            )
        });
        let value = json!({
            "clock": "real",
            "overloaded": warning.is_some(),
            "threshold-ms": limit,
            "generator-lateness": generator,
            "delivery-lateness": deliveries,
            "reply-delay": replies,
            "warning": warning,
        });
        (value, warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    #[test]
    fn a_virtual_clock_never_measures_or_warns() {
        let mut o = Overload::new(false);
        o.set_active(true);
        o.on_generate(ms(0), ms(10_000));
        let (v, w) = o.report();
        assert!(w.is_none());
        assert_eq!(v["clock"], "virtual");
        assert_eq!(v["overloaded"], false);
    }

    #[test]
    fn late_ticks_warn_and_punctual_ones_do_not() {
        let mut o = Overload::new(true);
        o.set_active(true);
        for i in 0..100 {
            o.on_generate(ms(i * 10), ms(i * 10 + 1));
        }
        let (v, w) = o.report();
        assert!(w.is_none(), "{v}");
        assert_eq!(v["generator-lateness"]["count"], 100);
        assert_eq!(v["generator-lateness"]["p99-ms"], 1.0);
        // 3 late ticks in 103: past the 99th percentile.
        for i in 0..3 {
            o.on_generate(ms(i * 10), ms(i * 10 + 200));
        }
        let (v, w) = o.report();
        assert_eq!(v["overloaded"], true);
        assert!(w.unwrap().contains("generator ticks ran late"));
    }

    #[test]
    fn the_first_answer_gives_the_reply_delay() {
        let mut o = Overload::new(true);
        o.set_active(true);
        // Node 0 gets msg 7 from endpoint 1 at 1 s and answers at 1.3 s;
        // a second answer, and one to another peer, are not samples.
        o.on_delivered(0, 1, r#"{"type":"read","msg_id":7}"#, ms(1000));
        o.on_node_line(0, 2, r#"{"type":"x","in_reply_to":7}"#, ms(1100));
        o.on_node_line(0, 1, r#"{"type":"read_ok","in_reply_to":7}"#, ms(1300));
        o.on_node_line(0, 1, r#"{"type":"read_ok","in_reply_to":7}"#, ms(1400));
        let (v, w) = o.report();
        assert_eq!(v["reply-delay"]["count"], 1);
        assert_eq!(v["reply-delay"]["p50-ms"], 300.0);
        assert!(w.unwrap().contains("median reply delay 300 ms"));
    }

    #[test]
    fn nothing_is_measured_outside_the_main_phase() {
        let mut o = Overload::new(true);
        o.on_generate(ms(0), ms(5000));
        o.on_delivered(0, 1, r#"{"msg_id":1}"#, ms(0));
        o.on_node_line(1, 0, r#"{"in_reply_to":1}"#, ms(5000));
        o.set_active(true);
        o.set_active(false);
        o.on_deliver_event(ms(0), ms(5000));
        let (v, w) = o.report();
        assert!(w.is_none(), "{v}");
        assert_eq!(v["generator-lateness"]["count"], 0);
        assert_eq!(v["reply-delay"]["count"], 0);
    }

    #[test]
    fn a_few_late_ticks_in_a_short_run_do_not_warn() {
        let mut o = Overload::new(true);
        o.set_active(true);
        for i in 0..20 {
            o.on_generate(ms(i * 10), ms(i * 10 + if i == 0 { 300 } else { 0 }));
        }
        let (v, w) = o.report();
        assert!(w.is_none(), "{v}");
        assert_eq!(v["generator-lateness"]["max-ms"], 300.0);
    }
}
