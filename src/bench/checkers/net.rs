//! Maelstrom's `net` checker (`maelstrom: src/maelstrom/net/checker.clj`):
//! message counts from the network journal.
//!
//! Every message sent is journaled once when sent and once when delivered
//! (a dropped message only when sent). The checker counts sends,
//! deliveries and distinct messages, for all traffic, for the clients'
//! traffic (messages to or from an id starting with `c`) and for the
//! servers' (everything else: node to node and node to service), and
//! divides the distinct message count by the number of client invocations
//! to give `msgs-per-op` (omitted when there were none, and never given
//! for the clients' group). It is always valid: the figures are what the
//! Fly.io challenges' efficiency targets are stated in.

use super::{Checker, Input};
use crate::bench::net::{is_client_name, JournalEvent, Network};
use serde_json::Value;

/// The journal and, per message id, whether the message belongs to the
/// clients group and to the servers group.
#[derive(Debug, Clone, Default)]
pub struct Traffic<'a> {
    /// Every send and delivery, in order.
    pub journal: &'a [JournalEvent],
    /// Per message id: (clients group, servers group).
    pub groups: Vec<(bool, bool)>,
}

impl<'a> Traffic<'a> {
    /// The traffic of a finished run's network.
    pub fn of(net: &'a Network) -> Self {
        let groups = net
            .messages
            .iter()
            .map(|m| {
                let c = is_client_name(&net.endpoints[m.src].name)
                    || is_client_name(&net.endpoints[m.dest].name);
                (c, !c)
            })
            .collect();
        Traffic {
            journal: &net.journal,
            groups,
        }
    }
}

/// The `net` checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Net;

impl Checker for Net {
    fn check(&self, input: &Input<'_>) -> Value {
        let ops = super::availability::op_count(input.history);
        net_stats(input.traffic.journal, &input.traffic.groups, ops)
    }
}

/// The `net` result from journal events and, per message id, whether it
/// belongs to the clients group and the servers group; msgs-per-op divides
/// by `op_count` (client invocations) and is omitted when 0.
pub fn net_stats(journal: &[JournalEvent], groups: &[(bool, bool)], op_count: usize) -> Value {
    #[derive(Default)]
    struct G {
        send: u64,
        recv: u64,
        seen: std::collections::HashSet<u64>,
    }
    let mut all = G::default();
    let mut clients = G::default();
    let mut servers = G::default();
    for ev in journal {
        let (c, s) = groups
            .get(ev.msg as usize)
            .copied()
            .unwrap_or((false, true));
        let bump = |g: &mut G| {
            if ev.recv {
                g.recv += 1;
            } else {
                g.send += 1;
            }
            g.seen.insert(ev.msg);
        };
        bump(&mut all);
        if c {
            bump(&mut clients);
        }
        if s {
            bump(&mut servers);
        }
    }
    let render = |g: &G, per_op: bool| {
        let mut m = serde_json::Map::new();
        m.insert("send-count".into(), g.send.into());
        m.insert("recv-count".into(), g.recv.into());
        m.insert("msg-count".into(), (g.seen.len() as u64).into());
        if per_op && op_count > 0 {
            m.insert(
                "msgs-per-op".into(),
                (g.seen.len() as f64 / op_count as f64).into(),
            );
        }
        Value::Object(m)
    };
    serde_json::json!({
        "all": render(&all, true),
        "clients": render(&clients, false),
        "servers": render(&servers, true),
        "valid?": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ev(t: u64, recv: bool, msg: u64) -> JournalEvent {
        JournalEvent {
            time: Duration::from_millis(t),
            recv,
            msg,
        }
    }

    #[test]
    fn msgs_per_op_on_a_hand_built_journal() {
        // Messages: 0 c0→n0 (client), 1 n0→n1, 2 n1→n0, 3 n0→c0 (client),
        // 4 n0→lin-kv (server), 5 n0→n1 (dropped: sent, never received).
        let groups = vec![
            (true, false),
            (false, true),
            (false, true),
            (true, false),
            (false, true),
            (false, true),
        ];
        let journal = vec![
            ev(0, false, 0),
            ev(0, true, 0),
            ev(1, false, 1),
            ev(2, true, 1),
            ev(2, false, 2),
            ev(3, true, 2),
            ev(3, false, 3),
            ev(3, true, 3),
            ev(4, false, 4),
            ev(5, true, 4),
            ev(6, false, 5),
        ];
        let s = net_stats(&journal, &groups, 2);
        assert_eq!(s["all"]["send-count"], 6);
        assert_eq!(s["all"]["recv-count"], 5);
        assert_eq!(s["all"]["msg-count"], 6);
        assert_eq!(s["all"]["msgs-per-op"], 3.0);
        assert_eq!(s["servers"]["msg-count"], 4);
        assert_eq!(s["servers"]["send-count"], 4);
        assert_eq!(s["servers"]["recv-count"], 3);
        assert_eq!(s["servers"]["msgs-per-op"], 2.0);
        assert_eq!(s["clients"]["msg-count"], 2);
        assert!(s["clients"].get("msgs-per-op").is_none());
        assert_eq!(s["valid?"], true);
        let none = net_stats(&journal, &groups, 0);
        assert!(none["all"].get("msgs-per-op").is_none());
    }

    #[test]
    fn traffic_groups_messages_by_client_ends() {
        use crate::bench::net::EpKind;
        use crate::bench::opts::TestOpts;
        use rand::SeedableRng;
        let opts = TestOpts::with_nodes(2);
        let mut net = Network::new(&opts, rand::rngs::StdRng::seed_from_u64(1));
        let n0 = net.add("n0", EpKind::Node(0));
        let n1 = net.add("n1", EpKind::Node(1));
        let c0 = net.add("c0", EpKind::Client(0));
        net.send(Duration::ZERO, c0, n0, "{}".into());
        net.send(Duration::ZERO, n0, n1, "{}".into());
        net.send(Duration::ZERO, n1, c0, "{}".into());
        let t = Traffic::of(&net);
        assert_eq!(t.groups, vec![(true, false), (false, true), (true, false)]);
        assert_eq!(t.journal.len(), 3, "three sends, nothing delivered yet");
        let s = net_stats(t.journal, &t.groups, 1);
        assert_eq!(s["servers"]["msgs-per-op"], 1.0);
        assert_eq!(s["clients"]["send-count"], 2);
    }
}
