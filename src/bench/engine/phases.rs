//! The test's phases as data, and the interpreter that runs them.
//!
//! Maelstrom's test is `phases(main, heal, log, sleep, final)` of Jepsen
//! generators (maelstrom: src/maelstrom/core.clj, `maelstrom-test`). Here
//! [`plan`] builds the same sequence as a list of [`Phase`] values, and the
//! engine's interpreter enters each one in turn ([`Engine::enter`]); a
//! phase ends when its work is done (every node answered, every op in
//! flight completed, a wait ran out), and the next one starts at that
//! instant. A new phase kind is a variant here, its `enter` arm, and the
//! condition that ends it.

use super::queue::Event;
use super::{BenchError, Engine};
use crate::bench::opts::TestOpts;
use crate::bench::workload::Workload;
use std::time::Duration;

/// One phase of a test.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Every node gets `init`; over when every node answered `init_ok`.
    Init,
    /// Every node gets the workload's setup request (if any); over when
    /// every node answered.
    Setup,
    /// Client ops on the stagger and the nemesis on its schedule, until the
    /// time limit; over when the ops in flight then have completed.
    Main {
        /// How long ops are emitted.
        time_limit: Duration,
    },
    /// The nemesis undoes every fault; over at once.
    Heal,
    /// Nothing happens for a while (Maelstrom's "Waiting for recovery...").
    Recover {
        /// How long.
        wait: Duration,
    },
    /// Each worker runs the workload's final steps; over when every worker
    /// is done or the limit (if any) cuts them short.
    Final {
        /// The workload's limit on the final phase.
        time_limit: Option<Duration>,
    },
}

/// The phases of a test with `opts` and `workload`: init, setup, main, and
/// for workloads with a final phase, heal, recover and final.
pub fn plan(opts: &TestOpts, workload: &dyn Workload) -> Vec<Phase> {
    let mut plan = vec![
        Phase::Init,
        Phase::Setup,
        Phase::Main {
            time_limit: Duration::from_secs_f64(opts.time_limit.max(0.0)),
        },
    ];
    if workload.has_final_phase() {
        plan.push(Phase::Heal);
        plan.push(Phase::Recover {
            wait: Duration::from_secs_f64(opts.recovery_wait.max(0.0)),
        });
        plan.push(Phase::Final {
            time_limit: workload.final_time_limit(),
        });
    }
    plan
}

/// Where the interpreter is.
pub(super) struct Phases {
    plan: Vec<Phase>,
    /// Index of the current phase; `plan.len()` once the test is over.
    at: usize,
    /// Setup replies still awaited.
    pub(super) pending_setup: usize,
    /// In the main phase: the time limit passed, ops in flight finish.
    pub(super) draining: bool,
    /// In the final phase: its time limit passed.
    pub(super) final_cut: bool,
}

impl Phases {
    pub(super) fn new(plan: Vec<Phase>) -> Self {
        Phases {
            plan,
            at: 0,
            pending_setup: 0,
            draining: false,
            final_cut: false,
        }
    }

    /// The current phase, None once the test is over.
    pub(super) fn current(&self) -> Option<&Phase> {
        self.plan.get(self.at)
    }

    pub(super) fn done(&self) -> bool {
        self.at >= self.plan.len()
    }

    /// Whether the current phase is `init`.
    pub(super) fn in_init(&self) -> bool {
        self.current() == Some(&Phase::Init)
    }

    /// Whether the main phase is emitting ops.
    pub(super) fn in_main(&self) -> bool {
        matches!(self.current(), Some(Phase::Main { .. })) && !self.draining
    }

    /// Whether the main phase waits for its last ops.
    pub(super) fn in_drain(&self) -> bool {
        matches!(self.current(), Some(Phase::Main { .. })) && self.draining
    }

    pub(super) fn in_final(&self) -> bool {
        matches!(self.current(), Some(Phase::Final { .. }))
    }

    /// For progress lines and errors.
    pub(super) fn name(&self) -> &'static str {
        match self.current() {
            None => "done",
            Some(Phase::Init) => "init",
            Some(Phase::Setup) => "setup",
            Some(Phase::Main { .. }) if self.draining => "main (draining)",
            Some(Phase::Main { .. }) => "main",
            Some(Phase::Heal) => "heal",
            Some(Phase::Recover { .. }) => "recover",
            Some(Phase::Final { .. }) => "final",
        }
    }
}

impl Engine<'_> {
    /// Enter the first phase.
    pub(super) fn start(&mut self) {
        self.enter();
    }

    /// The current phase is over: enter the next one.
    pub(super) fn next_phase(&mut self) {
        self.phases.at += 1;
        self.enter();
    }

    fn enter(&mut self) {
        let phase = self.phases.current().cloned();
        self.overload
            .set_active(matches!(phase, Some(Phase::Main { .. })));
        let Some(phase) = phase else {
            return;
        };
        match phase {
            Phase::Init => self.start_init(),
            Phase::Setup => self.start_setup(),
            Phase::Main { time_limit } => self.start_main(time_limit),
            Phase::Heal => {
                for op in self.nemesis.heal() {
                    self.apply_nemesis(op);
                }
                self.next_phase();
            }
            Phase::Recover { wait } => {
                if self.cfg.verbose {
                    eprintln!("glomers: Waiting for recovery...");
                }
                self.schedule(self.now + wait, Event::WaitOver);
            }
            Phase::Final { time_limit } => self.start_final(time_limit),
        }
    }

    fn start_main(&mut self, time_limit: Duration) {
        let end = self.now + time_limit;
        self.generator.main_end = end;
        self.schedule(end, Event::TimeLimit);
        if self.opts.rate > 0.0 {
            self.generator.next = self.now;
            self.schedule(self.now, Event::Generate);
        }
        for stream in self.nemesis.streams() {
            self.schedule(self.now, Event::Nemesis(stream));
        }
    }

    /// The main phase's time limit: stop emitting, let ops in flight finish.
    pub(super) fn time_limit(&mut self) {
        if self.phases.in_main() {
            self.phases.draining = true;
            self.check_main_done();
        }
    }

    /// Called when an op completes while draining.
    pub(super) fn check_main_done(&mut self) {
        if self.phases.in_drain() && self.workers.iter().all(|w| w.op.is_none()) {
            self.next_phase();
        }
    }

    /// The recovery wait is over.
    pub(super) fn wait_over(&mut self) {
        if matches!(self.phases.current(), Some(Phase::Recover { .. })) {
            self.next_phase();
        }
    }

    fn start_final(&mut self, time_limit: Option<Duration>) {
        if let Some(limit) = time_limit {
            self.schedule(self.now + limit, Event::FinalLimit);
        }
        for w in 0..self.workers.len() {
            if self.workers[w].op.is_none() && !self.workers[w].final_done {
                self.advance_final(w);
            }
        }
        self.check_final_done();
    }

    /// The final phase's limit: sleeping workers are done, the others
    /// finish their op and stop.
    pub(super) fn final_limit(&mut self) {
        self.phases.final_cut = true;
        for w in &mut self.workers {
            if w.sleeping {
                w.sleeping = false;
                w.final_done = true;
            }
        }
        self.check_final_done();
    }

    pub(super) fn check_final_done(&mut self) {
        let all_done = self
            .workers
            .iter()
            .all(|w| w.final_done && w.op.is_none() && !w.sleeping);
        if self.phases.in_final() && all_done {
            self.next_phase();
        }
    }

    /// Stop the test with `error` (the first one wins).
    pub(super) fn fail(&mut self, error: BenchError) {
        if self.fatal.is_none() {
            self.fatal = Some(error);
        }
    }
}
