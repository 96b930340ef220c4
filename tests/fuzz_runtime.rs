//! Robustness fuzzing of the runtime: random and mutated input lines fed to
//! a [`NodeHost`] running real handlers (echo and unique-ids; broadcast joins
//! once it lands). Properties, checked after every input:
//!
//! 1. nothing panics (a panic fails the test; a stack overflow would abort
//!    it);
//! 2. every output line is one complete JSON envelope from the node
//!    (`src` = the node, a string `dest`, an object `body` with a `type`);
//! 3. a valid request sent right after the garbage gets exactly its reply.
//!
//! Inputs: valid envelopes with random bodies (random types, ill-typed
//! reserved keys, random JSON values), mutations of valid lines (truncation,
//! byte flips, insertions, deletions, spliced invalid UTF-8, huge numbers),
//! deep nesting, random bytes. Short by default (CI); for a long run:
//!
//! ```text
//! FUZZ_ITERS=10000000 cargo test --release --test fuzz_runtime -- --nocapture
//! ```
//!
//! `FUZZ_SEED` replays a run (the seed is printed).

use glomers::challenges::echo::Echo;
use glomers::challenges::unique_ids::UniqueIds;
use glomers::runtime::{Driver, Node, NodeHost};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Cursor;
use std::time::{Duration, Instant};

const INIT: &str = r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1","n2"]}}"#;

fn iterations() -> u64 {
    std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random)
}

const TYPES: &[&str] = &[
    "echo",
    "echo_ok",
    "generate",
    "generate_ok",
    "init",
    "init_ok",
    "error",
    "read",
    "topology",
    "broadcast",
    "",
    "ECHO",
    "echo\u{0}",
    "\u{e9}cho",
];

/// A random JSON value, `depth` levels deep at most.
fn value(rng: &mut SmallRng, depth: u32) -> String {
    match rng.gen_range(0..if depth == 0 { 7 } else { 9 }) {
        0 => "null".into(),
        1 => ["true", "false"][rng.gen_range(0..2)].into(),
        2 => rng.gen::<i64>().to_string(),
        3 => number(rng),
        4 => format!("{:?}", rng.gen::<f64>() * 1e6),
        5 => string(rng),
        6 => format!(
            "\"{}\"",
            "é\\\"\\u0041\\n\\ud83d\\ude00".repeat(rng.gen_range(0..3))
        ),
        7 => {
            let n = rng.gen_range(0..4);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth - 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => {
            let n = rng.gen_range(0..4);
            let items: Vec<String> = (0..n)
                .map(|_| format!("{}:{}", string(rng), value(rng, depth - 1)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// Numbers that JSON allows but u64 / i64 / f64 may not hold.
fn number(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..8) {
        0 => "123456789012345678901234567890".into(),
        1 => "-1".into(),
        2 => "1e999".into(),
        3 => "-0".into(),
        4 => "1.5".into(),
        5 => "18446744073709551615".into(),
        6 => "18446744073709551616".into(),
        _ => format!("{}e{}", rng.gen::<u32>(), rng.gen_range(-400..400)),
    }
}

fn string(rng: &mut SmallRng) -> String {
    let n = rng.gen_range(0..12);
    let s: String = (0..n)
        .map(|_| match rng.gen_range(0..10) {
            0 => '"',
            1 => '\\',
            2 => char::from_u32(rng.gen_range(0..0x20)).unwrap_or('x'),
            3 => 'é',
            _ => rng.gen_range(b'a'..=b'z') as char,
        })
        .collect();
    serde_json::to_string(&s).expect("strings serialize")
}

/// A reserved key's value: usually well-typed, sometimes not.
fn reserved(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..6) {
        0..=2 => rng.gen_range(0..1000u64).to_string(),
        3 => number(rng),
        _ => value(rng, 1),
    }
}

/// An envelope with a random body.
fn envelope(rng: &mut SmallRng) -> String {
    let mut fields = Vec::new();
    if rng.gen_bool(0.9) {
        let t = if rng.gen_bool(0.8) {
            serde_json::to_string(TYPES[rng.gen_range(0..TYPES.len())]).unwrap()
        } else {
            value(rng, 1)
        };
        fields.push(format!("\"type\":{t}"));
    }
    if rng.gen_bool(0.7) {
        fields.push(format!("\"msg_id\":{}", reserved(rng)));
    }
    if rng.gen_bool(0.2) {
        fields.push(format!("\"in_reply_to\":{}", reserved(rng)));
    }
    for key in ["echo", "node_id", "node_ids", "code", "text", "id"] {
        if rng.gen_bool(0.25) {
            fields.push(format!("\"{key}\":{}", value(rng, 3)));
        }
    }
    if rng.gen_bool(0.2) {
        fields.push(format!("{}:{}", string(rng), value(rng, 3)));
    }
    // Shuffle the body's keys.
    for i in (1..fields.len()).rev() {
        fields.swap(i, rng.gen_range(0..=i));
    }
    let body = if rng.gen_bool(0.95) {
        format!("{{{}}}", fields.join(","))
    } else {
        value(rng, 2)
    };
    let src = if rng.gen_bool(0.9) {
        "\"c1\"".to_string()
    } else {
        value(rng, 1)
    };
    match rng.gen_range(0..10) {
        0 => format!("{{\"src\":{src},\"body\":{body}}}"),
        1 => format!(
            "{{\"body\":{body},\"dest\":\"n0\",\"src\":{src},\"id\":{}}}",
            number(rng)
        ),
        _ => format!("{{\"src\":{src},\"dest\":\"n0\",\"body\":{body}}}"),
    }
}

fn deep(rng: &mut SmallRng) -> Vec<u8> {
    // Mostly around serde_json's recursion limit (128); rarely very deep
    // (a 100,000-deep line is 600 kB, so it is kept rare to keep runs fast).
    let depth = match rng.gen_range(0..100) {
        0 => 100_000,
        1..=9 => 1_000,
        _ => rng.gen_range(120..136),
    };
    let (open, close) = if rng.gen_bool(0.5) {
        ("[", "]")
    } else {
        ("{\"a\":", "}")
    };
    let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
    let line = match rng.gen_range(0..3) {
        0 => nested,
        1 => format!(
            r#"{{"src":"c1","dest":"n0","body":{{"type":"echo","msg_id":3,"echo":{nested}}}}}"#
        ),
        _ => format!(r#"{{"src":"c1","dest":"n0","body":{nested}}}"#),
    };
    line.into_bytes()
}

/// Mutate a valid line at byte level.
fn mutate(rng: &mut SmallRng, mut line: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..4) {
        if line.is_empty() {
            break;
        }
        let at = rng.gen_range(0..line.len());
        match rng.gen_range(0..7) {
            0 => line.truncate(at),
            1 => line[at] = rng.gen(),
            2 => line.insert(at, rng.gen()),
            3 => {
                let end = (at + rng.gen_range(1..8)).min(line.len());
                line.drain(at..end);
            }
            4 => {
                let bad: &[u8] =
                    [&b"\xff"[..], b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9"][rng.gen_range(0..4)];
                line.splice(at..at, bad.iter().copied());
            }
            5 => {
                let end = (at + rng.gen_range(1..16)).min(line.len());
                let span = line[at..end].to_vec();
                line.splice(at..at, span);
            }
            _ => {
                let n = number(rng);
                line.splice(at..at, n.bytes());
            }
        }
    }
    line
}

fn garbage(rng: &mut SmallRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0..=3 => envelope(rng).into_bytes(),
        4..=7 => {
            let base = envelope(rng).into_bytes();
            mutate(rng, base)
        }
        8 => {
            let n = rng.gen_range(0..64);
            (0..n).map(|_| rng.gen()).collect()
        }
        _ => deep(rng),
    }
}

/// Property 2: every output line is one complete envelope from the node.
fn check_output(out: &[u8], input: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).unwrap_or_else(|e| {
        panic!(
            "output is not UTF-8 ({e}) after {:?}",
            String::from_utf8_lossy(input)
        )
    });
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "incomplete output line"
    );
    text.lines()
        .map(|l| {
            // The node may print an echo nested up to serde_json's limit
            // inside the envelope's own two levels: lift the limit here (the
            // node itself never accepts input deeper than the limit, so this
            // cannot recurse far).
            let mut de = serde_json::Deserializer::from_str(l);
            de.disable_recursion_limit();
            let v = Value::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
            let v: Value = v.unwrap_or_else(|e| {
                panic!(
                    "bad output line {l:?} ({e}) after {:?}",
                    String::from_utf8_lossy(input)
                )
            });
            assert_eq!(v["src"], "n0", "{l}");
            assert!(v["dest"].is_string(), "{l}");
            assert!(v["body"]["type"].is_string(), "{l}");
            v
        })
        .collect()
}

/// Run the fuzz loop against handler `N`; `probe(marker)` is a valid request
/// and `check(reply)` validates its reply body.
fn fuzz<N: Node>(name: &str, probe: impl Fn(u64) -> String, mut check: impl FnMut(&Value)) -> u64 {
    let seed = seed();
    let iters = iterations();
    println!("fuzz {name}: FUZZ_SEED={seed} FUZZ_ITERS={iters}");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut host: NodeHost<N> = NodeHost::new(seed);
    host.set_boot_time(Duration::from_secs(1_800_000_000));
    host.handle_line(INIT.as_bytes(), Duration::ZERO);
    host.output().clear();
    let start = Instant::now();
    let mut now = Duration::ZERO;
    for i in 0..iters {
        now += Duration::from_micros(rng.gen_range(0..3));
        let input = garbage(&mut rng);
        host.handle_line(&input, now);
        host.tick(now);
        let out = std::mem::take(host.output());
        check_output(&out, &input);
        host.logs().clear();
        // Property 3: the node still serves.
        let marker = 1_000_000_000 + i;
        host.handle_line(probe(marker).as_bytes(), now);
        let out = std::mem::take(host.output());
        let replies = check_output(&out, &input);
        assert_eq!(
            replies.len(),
            1,
            "{replies:?} after {:?}",
            String::from_utf8_lossy(&input)
        );
        let body = &replies[0]["body"];
        assert_eq!(body["in_reply_to"], marker, "{body}");
        check(body);
    }
    let took = start.elapsed();
    println!(
        "fuzz {name}: {iters} garbage inputs (+{iters} probes) in {took:.2?}, {:.0} inputs/s",
        iters as f64 / took.as_secs_f64()
    );
    iters
}

#[test]
fn fuzz_echo() {
    fuzz::<Echo>(
        "echo",
        |m| {
            format!(
                r#"{{"src":"c1","dest":"n0","body":{{"type":"echo","msg_id":{m},"echo":{m}}}}}"#
            )
        },
        |body| {
            assert_eq!(body["type"], "echo_ok", "{body}");
            assert_eq!(body["echo"], body["in_reply_to"], "{body}");
        },
    );
}

#[test]
fn fuzz_unique_ids() {
    let mut seen = HashSet::new();
    fuzz::<UniqueIds>(
        "unique-ids",
        |m| format!(r#"{{"src":"c1","dest":"n0","body":{{"type":"generate","msg_id":{m}}}}}"#),
        |body| {
            assert_eq!(body["type"], "generate_ok", "{body}");
            let id = body["id"].as_u64().expect("an integer id");
            assert!(seen.insert(id), "duplicate id {id}");
        },
    );
}

/// The same garbage through the real driver, in one stream split at random
/// points by newlines: the node ends cleanly at EOF and answers the final
/// request.
#[test]
fn fuzz_through_the_driver() {
    let mut rng = SmallRng::seed_from_u64(seed());
    let mut input = Vec::new();
    input.extend_from_slice(INIT.as_bytes());
    input.push(b'\n');
    for _ in 0..2_000 {
        input.extend_from_slice(&garbage(&mut rng));
        input.push(b'\n');
    }
    input.extend_from_slice(
        br#"{"src":"c7","dest":"n0","body":{"type":"echo","msg_id":424242,"echo":"last"}}"#,
    );
    input.push(b'\n');
    let mut out = Vec::new();
    Driver::new()
        .input(Cursor::new(input.clone()))
        .output(&mut out)
        .log(std::io::sink())
        .run::<Echo>()
        .expect("the driver ends cleanly");
    let lines = check_output(&out, b"(driver stream)");
    let last = lines.last().expect("some output");
    assert_eq!(last["dest"], "c7");
    assert_eq!(last["body"]["in_reply_to"], 424242);
    assert_eq!(last["body"]["echo"], "last");
}
