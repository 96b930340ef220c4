//! Fly.io challenge 2: unique ID generation.
//!
//! # The problem
//!
//! Clients ask any node for an id (`generate` → `generate_ok {id}`); every id
//! handed out, by any node, at any time, must differ from every other. The
//! test partitions the network and demands *total availability*: every
//! request must succeed, so a node may not wait for, or even talk to, any
//! other node. On top of Maelstrom's test, this project asks that ids stay
//! unique when a node's process is restarted under the same node id, so an
//! in-memory counter that starts from zero on every start is not enough.
//!
//! # The approach
//!
//! An id is a JSON integer below 2^63 made of two fields:
//!
//! ```text
//!   bit 63   62 ................................ 10   9 ........ 0
//!   [ 0 ] [ tick: 53 bits, microseconds since 2024 ] [ node: 10 bits ]
//! ```
//!
//! * `node` is the node's position in `node_ids`, which is identical on every
//!   node, so no two nodes share it: **ids from different nodes differ in
//!   their low bits**. No message is ever exchanged.
//! * `tick` is a per-node counter that starts at the incarnation's wall-clock
//!   time and never falls behind the clock: each `generate` takes
//!   `tick = max(previous tick + 1, now)`, with `now` the wall-clock time in
//!   microseconds since 2024-01-01 (from [`Ctx::boot_time`] plus
//!   [`Ctx::now`]; the handler never reads the clock itself). Within one
//!   incarnation ticks strictly increase, so **one node never repeats itself**.
//!
//! # Why a restart cannot repeat an id: a reserved block on disk
//!
//! Before it hands out a tick at or beyond its *reservation mark*, a node
//! moves the mark [`BLOCK`] ticks further and writes it to its disk as a
//! snapshot, which is durable when the call returns ([`Ctx::disk`]). Every
//! id it ever issued therefore has a tick below the mark on disk. A new
//! incarnation reads the mark in `init` and starts its ticks at
//! `max(mark, clock)`, so it can never repeat an id, whatever the clock did
//! between the two incarnations (an NTP step back included), and however
//! many ids the old one borrowed from the future in a burst.
//!
//! Cost: one durable write per block, not per id. With `BLOCK` = 2^24 µs
//! (about 17 s of clock), a node serving without pause writes once every
//! 17 s, and a burst of 16 million ids costs one write; a node killed at
//! any point skips at most one block of ticks, which the 53-bit field
//! affords (it lasts until the year 2309).
//!
//! Without a disk that survives the process (a driver with no
//! `GLOMERS_DISK`, as under Maelstrom, which never restarts a node) the
//! mark is lost with the process and the clock alone keeps a restart fresh,
//! as long as (1) the wall clock did not step back across the restart by
//! more than the time between the last id and the restart, and (2) the old
//! incarnation did not borrow ticks (more than one id per microsecond on
//! average) beyond that time either. Both hold in practice: a node behind a
//! pipe serves well under a million requests per second, and a restart
//! takes milliseconds.
//!
//! # Caveats
//!
//! Ids are unique, not dense, and only roughly ordered by time across nodes.
//! The 10-bit node field allows 1024 nodes (init fails beyond that).
//! A simulator that never sets a boot time gets ticks counted from the start
//! of its virtual clock: unique within a run, and across a simulated crash
//! as long as the rebuilt host is given the crashed host's disk.
//!
//! Under a kill the node loses nothing it acknowledged (there is nothing to
//! lose but the mark); a `generate` in flight at the kill is never
//! answered, and its id, if one was drawn, is simply never used. A paused
//! node answers late, with ids no other node can make.

use crate::runtime::storage::disk_error;
use crate::runtime::{Ctx, Error, ErrorCode, Init, Node, Request};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The epoch of the tick field: 2024-01-01T00:00:00Z, in Unix seconds.
const EPOCH_UNIX_SECS: u64 = 1_704_067_200;
/// Width of the node field.
const NODE_BITS: u32 = 10;
/// Width of the tick field (so that ids stay below 2^63).
const TICK_BITS: u32 = 63 - NODE_BITS;
/// How many ticks one durable reservation covers (about 17 s of clock).
pub const BLOCK: u64 = 1 << 24;

/// Messages of the unique-ids workload.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client asks for a fresh id.
    Generate {},
}

/// The answer to `generate`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "generate_ok")]
struct GenerateOk {
    /// The id: unique across all nodes and restarts.
    id: u64,
}

/// The id generator of one node.
#[derive(Debug)]
pub struct UniqueIds {
    /// This node's position in `node_ids`: the low bits of every id it makes.
    node: u64,
    /// The tick of the last id handed out (0 before the first).
    last_tick: u64,
    /// Every tick below this is reserved on disk; a tick at or above it
    /// needs a new reservation first.
    mark: u64,
}

impl UniqueIds {
    /// The next id at wall-clock time `wall` (since the Unix epoch).
    fn next_id(&mut self, wall: Duration, ctx: &mut Ctx<'_, Self>) -> Result<u64, Error> {
        let clock = wall
            .saturating_sub(Duration::from_secs(EPOCH_UNIX_SECS))
            .as_micros();
        let clock = u64::try_from(clock).unwrap_or(u64::MAX);
        let tick = clock.max(self.last_tick.saturating_add(1));
        if tick >= 1 << TICK_BITS {
            return Err(Error::new(ErrorCode::Crash, "the id space is exhausted"));
        }
        if tick >= self.mark {
            let mark = tick.saturating_add(BLOCK);
            ctx.disk().snapshot_json(&mark).map_err(disk_error)?;
            self.mark = mark;
        }
        self.last_tick = tick;
        Ok(tick << NODE_BITS | self.node)
    }
}

impl Node for UniqueIds {
    type Payload = Payload;

    fn init(init: &Init, ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        let Some(node) = init.node_ids.iter().position(|n| *n == init.node_id) else {
            anyhow::bail!("node id {:?} is not in node_ids", init.node_id);
        };
        if node >= 1 << NODE_BITS {
            anyhow::bail!("unique-ids supports at most {} nodes", 1 << NODE_BITS);
        }
        // The last reservation of an earlier incarnation, if any: every
        // tick below it may have been handed out.
        let mark: u64 = match ctx.disk().load()?.snapshot {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("unreadable reservation on disk: {e}"))?,
            None => 0,
        };
        Ok(UniqueIds {
            node: node as u64,
            last_tick: mark.saturating_sub(1),
            mark,
        })
    }

    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let Payload::Generate {} = msg.payload;
        let id = self.next_id(ctx.boot_time() + ctx.now(), ctx)?;
        ctx.reply(&msg.from, &GenerateOk { id });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{MemDisk, NodeHost};
    use std::collections::HashSet;

    fn init_line(node: &str) -> String {
        format!(
            r#"{{"src":"c0","dest":"{node}","body":{{"type":"init","msg_id":1,"node_id":"{node}","node_ids":["n0","n1","n2"]}}}}"#
        )
    }

    /// Ask `host` for `count` ids at virtual time `now`, all in one burst.
    fn generate(host: &mut NodeHost<UniqueIds>, count: u64, now: Duration) -> Vec<u64> {
        for i in 0..count {
            let line = format!(
                r#"{{"src":"c1","dest":"n0","body":{{"type":"generate","msg_id":{}}}}}"#,
                i + 2
            );
            host.handle_line(line.as_bytes(), now);
        }
        let out = std::mem::take(host.output());
        let text = String::from_utf8(out).unwrap();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["body"]["type"], "generate_ok", "{l}");
                v["body"]["id"].as_u64().expect("id is a JSON integer")
            })
            .collect()
    }

    fn host(node: &str, boot: Duration) -> NodeHost<UniqueIds> {
        host_on(node, boot, MemDisk::new(0))
    }

    fn host_on(node: &str, boot: Duration, disk: MemDisk) -> NodeHost<UniqueIds> {
        let mut h = NodeHost::new(0);
        h.set_boot_time(boot);
        h.set_disk(Box::new(disk));
        h.handle_line(init_line(node).as_bytes(), Duration::ZERO);
        h.output().clear();
        h
    }

    #[test]
    fn ids_are_unique_across_nodes_bursts_and_restarts() {
        let boot = Duration::from_secs(EPOCH_UNIX_SECS + 86_400);
        let mut seen = HashSet::new();
        for node in ["n0", "n1", "n2"] {
            let mut h = host(node, boot);
            // A burst far above one id per microsecond: ticks run ahead.
            for id in generate(&mut h, 5_000, Duration::from_micros(10)) {
                assert!(seen.insert(id), "duplicate {id}");
                assert!(id < 1 << 63);
            }
        }
        // n1 restarts 10 ms later: its ticks start at the new boot time,
        // beyond the 5,000 µs its previous incarnation borrowed.
        let mut h = host("n1", boot + Duration::from_millis(10));
        for id in generate(&mut h, 5_000, Duration::ZERO) {
            assert!(seen.insert(id), "duplicate after restart: {id}");
        }
        assert_eq!(seen.len(), 20_000);
    }

    #[test]
    fn the_clock_sets_the_tick() {
        let boot = Duration::from_secs(EPOCH_UNIX_SECS) + Duration::from_micros(1_000);
        let mut h = host("n2", boot);
        let ids = generate(&mut h, 2, Duration::from_micros(500));
        assert_eq!(ids, vec![1_500 << NODE_BITS | 2, 1_501 << NODE_BITS | 2]);
    }

    #[test]
    fn a_restart_with_the_clock_stepped_back_repeats_nothing() {
        let boot = Duration::from_secs(EPOCH_UNIX_SECS + 86_400);
        let disk = MemDisk::new(9);
        let mut seen = HashSet::new();
        let mut h = host_on("n0", boot, disk.clone());
        for id in generate(&mut h, 5_000, Duration::from_millis(1)) {
            assert!(seen.insert(id));
        }
        assert_eq!(disk.syncs(), 1, "one durable write per block, not per id");
        drop(h);
        disk.crash();
        // The new incarnation boots an hour *earlier* by the wall clock.
        let mut h = host_on("n0", boot - Duration::from_secs(3600), disk.clone());
        for id in generate(&mut h, 5_000, Duration::ZERO) {
            assert!(seen.insert(id), "duplicate after restart: {id}");
        }
        // Without the disk the clock alone would have repeated ids.
        let mut amnesiac = host("n0", boot);
        let again = generate(&mut amnesiac, 1, Duration::from_millis(1));
        assert!(seen.contains(&again[0]), "the test must be able to fail");
    }

    #[test]
    fn a_new_block_is_reserved_when_the_clock_passes_the_mark() {
        let boot = Duration::from_secs(EPOCH_UNIX_SECS);
        let disk = MemDisk::new(1);
        let mut h = host_on("n1", boot, disk.clone());
        generate(&mut h, 3, Duration::ZERO);
        generate(&mut h, 3, Duration::from_micros(BLOCK + 10));
        assert_eq!(disk.syncs(), 2);
    }

    #[test]
    fn a_failed_reservation_is_an_error_not_an_id() {
        let disk = MemDisk::new(1);
        let mut h = host_on("n1", Duration::from_secs(EPOCH_UNIX_SECS), disk.clone());
        disk.fail_next_sync();
        let line = r#"{"src":"c1","dest":"n1","body":{"type":"generate","msg_id":2}}"#;
        h.handle_line(line.as_bytes(), Duration::ZERO);
        let out = String::from_utf8(std::mem::take(h.output())).unwrap();
        assert!(out.contains(r#""code":13"#), "{out}");
        assert_eq!(generate(&mut h, 1, Duration::ZERO).len(), 1);
    }

    #[test]
    fn unknown_node_fails_init() {
        let mut h: NodeHost<UniqueIds> = NodeHost::new(0);
        let line = r#"{"src":"c0","dest":"x","body":{"type":"init","msg_id":1,"node_id":"x","node_ids":["n0"]}}"#;
        h.handle_line(line.as_bytes(), Duration::ZERO);
        let out = String::from_utf8(std::mem::take(h.output())).unwrap();
        assert!(out.contains(r#""type":"error""#), "{out}");
        assert!(out.contains(r#""code":13"#), "{out}");
    }
}
