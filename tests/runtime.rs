//! The runtime, in-process: lines in, exact lines out, through the sans-IO
//! [`NodeHost`] and through the real driver on in-memory streams.

use glomers::challenges::echo::Echo;
use glomers::runtime::{Ctx, Driver, Error, ErrorCode, Init, Node, NodeHost, Request};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Cursor;
use std::time::{Duration, Instant};

const INIT: &str = r#"{"id":0,"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#;
const INIT_OK: &str = r#"{"src":"n0","dest":"c0","body":{"type":"init_ok","in_reply_to":1}}"#;

/// Feed `lines` to `host` at time `now` and return the output lines.
fn feed<N: Node>(host: &mut NodeHost<N>, lines: &[&str], now: Duration) -> Vec<String> {
    for l in lines {
        host.handle_line(l.as_bytes(), now);
    }
    drain(host)
}

fn drain<N: Node>(host: &mut NodeHost<N>) -> Vec<String> {
    let out = String::from_utf8(std::mem::take(host.output())).expect("output is UTF-8");
    out.lines().map(str::to_owned).collect()
}

fn logs<N: Node>(host: &mut NodeHost<N>) -> String {
    String::from_utf8(std::mem::take(host.logs())).expect("logs are UTF-8")
}

fn echo_host() -> NodeHost<Echo> {
    let mut host = NodeHost::new(7);
    assert_eq!(feed(&mut host, &[INIT], Duration::ZERO), vec![INIT_OK]);
    host
}

#[test]
fn init_is_answered_by_the_runtime() {
    let mut host: NodeHost<Echo> = NodeHost::new(1);
    assert_eq!(host.id(), None);
    assert_eq!(feed(&mut host, &[INIT], Duration::ZERO), vec![INIT_OK]);
    assert_eq!(host.id(), Some("n0"));
}

#[test]
fn requests_before_init_are_temporarily_unavailable() {
    let mut host: NodeHost<Echo> = NodeHost::new(1);
    let out = feed(
        &mut host,
        &[r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":4,"echo":1}}"#],
        Duration::ZERO,
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":11,"text":"node has not received init yet","in_reply_to":4}}"#
        ]
    );
    // It answered as the node the request was addressed to (an empty
    // `src` is no valid source: the bench would mute the node), and it
    // still has no id of its own.
    assert_eq!(host.id(), None);
}

#[test]
fn echo_returns_the_value_untouched() {
    let mut host = echo_host();
    let out = feed(
        &mut host,
        &[
            r#"{"id":3,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":2,"echo":"Please echo 35"}}"#,
            r#"{"src":"c1","dest":"n0","body":{"echo":{"a":[1,2.5,null]},"msg_id":3,"type":"echo"}}"#,
        ],
        Duration::ZERO,
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"c1","body":{"type":"echo_ok","echo":"Please echo 35","in_reply_to":2}}"#,
            r#"{"src":"n0","dest":"c1","body":{"type":"echo_ok","echo":{"a":[1,2.5,null]},"in_reply_to":3}}"#,
        ]
    );
}

#[test]
fn unknown_type_gets_error_10() {
    let mut host = echo_host();
    let out = feed(
        &mut host,
        &[r#"{"src":"c1","dest":"n0","body":{"type":"frobnicate","msg_id":9}}"#],
        Duration::ZERO,
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":10,"text":"message type \"frobnicate\" is not supported","in_reply_to":9}}"#
        ]
    );
}

#[test]
fn malformed_lines_are_logged_and_skipped() {
    let mut host = echo_host();
    let garbage: &[&str] = &[
        "this is not JSON",
        r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":2"#,
        "[1,2,3]",
        r#"{"src":"c1","body":{"type":"echo","msg_id":2,"echo":1}}"#,
        r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":"two","echo":1}}"#,
        "",
        "   ",
    ];
    assert!(feed(&mut host, garbage, Duration::ZERO).is_empty());
    let log = logs(&mut host);
    assert_eq!(log.lines().count(), 5, "{log}");
    assert!(log.contains("this is not JSON"), "{log}");
    // The node still serves.
    let out = feed(
        &mut host,
        &[r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":5,"echo":5}}"#],
        Duration::ZERO,
    );
    assert_eq!(
        out,
        vec![r#"{"src":"n0","dest":"c1","body":{"type":"echo_ok","echo":5,"in_reply_to":5}}"#]
    );
}

#[test]
fn bad_body_gets_error_12() {
    let mut host = echo_host();
    let out = feed(
        &mut host,
        &[
            // A known type without its field.
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":6}}"#,
            // A type that is not a string.
            r#"{"src":"c1","dest":"n0","body":{"type":5,"msg_id":7}}"#,
            // No type at all.
            r#"{"src":"c1","dest":"n0","body":{"msg_id":8}}"#,
        ],
        Duration::ZERO,
    );
    assert_eq!(out.len(), 3, "{out:?}");
    for (line, id) in out.iter().zip([6, 7, 8]) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["dest"], "c1");
        assert_eq!(v["body"]["type"], "error", "{line}");
        assert_eq!(v["body"]["code"], 12, "{line}");
        assert_eq!(v["body"]["in_reply_to"], id, "{line}");
    }
}

// ---------------------------------------------------------------------------
// A node that makes RPCs, fails on request, and panics on request.

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ProbePayload {
    /// Ask `to` for a `ping` with a deadline; report the outcome to the
    /// client as `done` (or as the RPC's error).
    Probe {
        to: String,
        timeout_ms: u64,
    },
    Ping {},
    Done {
        outcome: Value,
    },
    /// Fail with this code.
    Fail {
        code: u64,
    },
    /// Fail with an unexpected (anyhow) error.
    Oops {},
    /// Panic.
    Panic {},
    /// Reply, then panic.
    ReplyThenPanic {},
    /// Set a timer that sends `tock` to c9.
    Tick {
        after_ms: u64,
    },
    Tock {},
}

#[derive(Debug)]
struct Prober {
    replies_heard: usize,
}

impl Node for Prober {
    type Payload = ProbePayload;

    fn init(_init: &Init, _ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(Prober { replies_heard: 0 })
    }

    fn on_message(
        &mut self,
        msg: Request<ProbePayload>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Result<(), Error> {
        match msg.payload {
            ProbePayload::Probe { ref to, timeout_ms } => {
                let client = msg.from.clone();
                let timeout = Duration::from_millis(timeout_ms);
                ctx.rpc(
                    to,
                    &ProbePayload::Ping {},
                    timeout,
                    move |node, reply, ctx| {
                        node.replies_heard += 1;
                        match reply {
                            Ok(r) => ctx.reply(&client, &ProbePayload::Done { outcome: r.value() }),
                            Err(e) => ctx.reply_err(&client, &e),
                        }
                    },
                );
                Ok(())
            }
            ProbePayload::Fail { code } => Err(Error::new(ErrorCode::from_code(code), "asked to")),
            ProbePayload::Oops {} => Err(anyhow::anyhow!("something broke").into()),
            ProbePayload::Panic {} => panic!("asked to panic"),
            ProbePayload::ReplyThenPanic {} => {
                ctx.reply(&msg, &ProbePayload::Tock {});
                panic!("asked to panic after replying")
            }
            ProbePayload::Tick { after_ms } => {
                ctx.after(Duration::from_millis(after_ms), |_, ctx| {
                    ctx.send("c9", &ProbePayload::Tock {})
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn prober() -> NodeHost<Prober> {
    let mut host = NodeHost::new(3);
    assert_eq!(feed(&mut host, &[INIT], Duration::ZERO), vec![INIT_OK]);
    host
}

#[test]
fn rpc_replies_are_matched_by_in_reply_to() {
    let mut host = prober();
    let t0 = Duration::from_secs(1);
    let out = feed(
        &mut host,
        &[
            r#"{"src":"c1","dest":"n0","body":{"type":"probe","msg_id":10,"to":"n1","timeout_ms":1000}}"#,
            r#"{"src":"c2","dest":"n0","body":{"type":"probe","msg_id":20,"to":"lin-kv","timeout_ms":1000}}"#,
        ],
        t0,
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"n1","body":{"type":"ping","msg_id":1}}"#,
            r#"{"src":"n0","dest":"lin-kv","body":{"type":"ping","msg_id":2}}"#,
        ]
    );
    assert_eq!(host.next_deadline(), Some(t0 + Duration::from_secs(1)));
    // Replies arrive out of order; each goes to its own call.
    let out = feed(
        &mut host,
        &[
            r#"{"src":"lin-kv","dest":"n0","body":{"type":"error","code":20,"text":"not found","in_reply_to":2}}"#,
            r#"{"src":"n1","dest":"n0","body":{"type":"pong","in_reply_to":1}}"#,
            // A reply nobody asked for is dropped.
            r#"{"src":"n1","dest":"n0","body":{"type":"pong","in_reply_to":77}}"#,
        ],
        t0 + Duration::from_millis(5),
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"c2","body":{"type":"error","code":20,"text":"not found","in_reply_to":20}}"#,
            r#"{"src":"n0","dest":"c1","body":{"type":"done","outcome":{"in_reply_to":1,"type":"pong"},"in_reply_to":10}}"#,
        ]
    );
    assert_eq!(host.node().unwrap().replies_heard, 2);
    // The answered RPCs' deadlines pass without effect.
    host.tick(t0 + Duration::from_secs(5));
    assert!(drain(&mut host).is_empty());
    assert_eq!(host.node().unwrap().replies_heard, 2);
    assert_eq!(host.next_deadline(), None);
}

#[test]
fn rpc_timeout_then_late_reply() {
    let mut host = prober();
    let t0 = Duration::from_secs(2);
    let out = feed(
        &mut host,
        &[
            r#"{"src":"c1","dest":"n0","body":{"type":"probe","msg_id":10,"to":"n1","timeout_ms":100}}"#,
        ],
        t0,
    );
    assert_eq!(out.len(), 1);
    // Not yet due.
    host.tick(t0 + Duration::from_millis(99));
    assert!(drain(&mut host).is_empty());
    // Due: the handler hears an indefinite timeout.
    host.tick(t0 + Duration::from_millis(100));
    assert_eq!(
        drain(&mut host),
        vec![
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":0,"text":"RPC timed out","in_reply_to":10}}"#
        ]
    );
    assert_eq!(host.node().unwrap().replies_heard, 1);
    // The late reply is dropped silently: no output, no handler call.
    let out = feed(
        &mut host,
        &[r#"{"src":"n1","dest":"n0","body":{"type":"pong","in_reply_to":1}}"#],
        t0 + Duration::from_millis(150),
    );
    assert!(out.is_empty());
    assert_eq!(host.node().unwrap().replies_heard, 1);
    assert_eq!(logs(&mut host), "");
}

#[test]
fn handler_errors_become_error_replies() {
    let mut host = prober();
    let out = feed(
        &mut host,
        &[
            r#"{"src":"c1","dest":"n0","body":{"type":"fail","msg_id":1,"code":22}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"oops","msg_id":2}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"fail","code":22}}"#,
        ],
        Duration::ZERO,
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":22,"text":"asked to","in_reply_to":1}}"#,
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":13,"text":"something broke","in_reply_to":2}}"#,
        ]
    );
}

#[test]
fn a_panicking_handler_answers_13_and_carries_on() {
    let mut host = prober();
    let out = feed(
        &mut host,
        &[
            r#"{"src":"c1","dest":"n0","body":{"type":"panic","msg_id":1}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"fail","msg_id":2,"code":14}}"#,
        ],
        Duration::ZERO,
    );
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].contains(r#""code":13"#), "{}", out[0]);
    assert!(out[0].contains(r#""in_reply_to":1"#), "{}", out[0]);
    assert!(out[1].contains(r#""code":14"#), "{}", out[1]);
    // What the handler emitted before it panicked is dropped: one answer.
    let out = feed(
        &mut host,
        &[r#"{"src":"c1","dest":"n0","body":{"type":"reply_then_panic","msg_id":3}}"#],
        Duration::ZERO,
    );
    assert_eq!(
        out,
        vec![
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":13,"text":"the handler panicked","in_reply_to":3}}"#
        ]
    );
    assert!(logs(&mut host).contains("panicked in on_message"));
}

#[test]
fn timers_fire_in_order_when_due() {
    let mut host = prober();
    feed(
        &mut host,
        &[r#"{"src":"c1","dest":"n0","body":{"type":"tick","after_ms":50}}"#],
        Duration::ZERO,
    );
    assert_eq!(host.next_deadline(), Some(Duration::from_millis(50)));
    host.tick(Duration::from_millis(49));
    assert!(drain(&mut host).is_empty());
    host.tick(Duration::from_millis(50));
    assert_eq!(
        drain(&mut host),
        vec![r#"{"src":"n0","dest":"c9","body":{"type":"tock"}}"#]
    );
    assert_eq!(host.next_deadline(), None);
}

// ---------------------------------------------------------------------------
// The real driver on in-memory streams.

fn run_lines<N: Node>(input: Vec<u8>) -> (Vec<String>, String, Duration) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let start = Instant::now();
    Driver::new()
        .args(Vec::new())
        .input(Cursor::new(input))
        .output(&mut out)
        .log(&mut err)
        .run::<N>()
        .expect("the driver ends cleanly");
    let took = start.elapsed();
    let out = String::from_utf8(out).expect("output is UTF-8");
    (
        out.lines().map(str::to_owned).collect(),
        String::from_utf8_lossy(&err).into_owned(),
        took,
    )
}

#[test]
fn driver_serves_until_eof() {
    let mut input = Vec::new();
    input.extend_from_slice(INIT.as_bytes());
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"not json\n");
    // A line without its final newline is still served at EOF.
    input.extend_from_slice(
        br#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":2,"echo":[true]}}"#,
    );
    let (out, err, _) = run_lines::<Echo>(input);
    assert_eq!(
        out,
        vec![
            INIT_OK,
            r#"{"src":"n0","dest":"c1","body":{"type":"echo_ok","echo":[true],"in_reply_to":2}}"#,
        ]
    );
    assert!(err.contains("not json"), "{err}");
}

#[test]
fn eof_stops_timers_and_pending_rpcs() {
    // A node waiting on an hour-long timer and an hour-long RPC still ends
    // as soon as its input does.
    let input = format!(
        "{INIT}\n{}\n{}\n",
        r#"{"src":"c1","dest":"n0","body":{"type":"tick","after_ms":3600000}}"#,
        r#"{"src":"c1","dest":"n0","body":{"type":"probe","msg_id":2,"to":"n1","timeout_ms":3600000}}"#,
    );
    let (out, _, took) = run_lines::<Prober>(input.into_bytes());
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn driver_fires_timers_and_rpc_timeouts_in_real_time() {
    // Input that stays open for a while: the timer and the RPC timeout fire
    // before EOF.
    struct SlowInput {
        data: Cursor<Vec<u8>>,
        wait: Option<Duration>,
    }
    impl std::io::Read for SlowInput {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.read(buf)?;
            if n == 0 {
                if let Some(w) = self.wait.take() {
                    std::thread::sleep(w);
                }
            }
            Ok(n)
        }
    }
    let input = format!(
        "{INIT}\n{}\n{}\n",
        r#"{"src":"c1","dest":"n0","body":{"type":"tick","after_ms":20}}"#,
        r#"{"src":"c1","dest":"n0","body":{"type":"probe","msg_id":2,"to":"n1","timeout_ms":30}}"#,
    );
    let slow = SlowInput {
        data: Cursor::new(input.into_bytes()),
        wait: Some(Duration::from_millis(300)),
    };
    let mut out = Vec::new();
    Driver::new()
        .input(slow)
        .output(&mut out)
        .log(std::io::sink())
        .run::<Prober>()
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            INIT_OK,
            r#"{"src":"n0","dest":"n1","body":{"type":"ping","msg_id":1}}"#,
            r#"{"src":"n0","dest":"c9","body":{"type":"tock"}}"#,
            r#"{"src":"n0","dest":"c1","body":{"type":"error","code":0,"text":"RPC timed out","in_reply_to":2}}"#,
        ]
    );
}

#[test]
fn driver_handles_a_line_longer_than_its_read_buffer() {
    let big = "x".repeat(3 << 20);
    let input = format!(
        "{INIT}\n{{\"src\":\"c1\",\"dest\":\"n0\",\"body\":{{\"type\":\"echo\",\"msg_id\":2,\"echo\":\"{big}\"}}}}\n"
    );
    let (out, _, _) = run_lines::<Echo>(input.into_bytes());
    assert_eq!(out.len(), 2);
    let v: Value = serde_json::from_str(&out[1]).unwrap();
    assert_eq!(v["body"]["echo"].as_str().map(str::len), Some(3 << 20));
    assert_eq!(v["body"]["in_reply_to"], 2);
}

// ---------------------------------------------------------------------------
// The service clients: request shapes on the wire, typed outcomes.

mod services {
    use super::*;
    use glomers::runtime::kv::{self, Cas, Kv, Read, Tso, Write};

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Go {
        Go {},
    }

    /// On `go`, issues one call of each kind; records what it heard.
    #[derive(Debug, Default)]
    struct Client {
        heard: Vec<String>,
    }

    impl Node for Client {
        type Payload = Go;

        fn init(_init: &Init, _ctx: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
            Ok(Client::default())
        }

        fn on_message(&mut self, _msg: Request<Go>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
            let t = Duration::from_secs(1);
            Kv::LIN.rpc(ctx, Read { key: "k" }, t, |n, v, _| {
                let v = v.and_then(kv::decode::<u64>);
                n.heard.push(format!("read {v:?}"))
            });
            let write = Write { key: "k", value: 3 };
            Kv::SEQ.rpc(ctx, write, t, |n, r, _| {
                n.heard.push(format!("write {r:?}"))
            });
            let cas = Cas {
                key: 7,
                from: 1,
                to: 2,
                create_if_missing: true,
            };
            Kv::LWW.rpc(ctx, cas, t, |n, r, _| {
                n.heard.push(format!("cas {:?}", r.map_err(|e| e.code)))
            });
            Tso.ts(ctx, t, |n, ts, _| n.heard.push(format!("ts {ts:?}")));
            Ok(())
        }
    }

    #[test]
    fn kv_and_tso_clients() {
        let mut host: NodeHost<Client> = NodeHost::new(0);
        feed(&mut host, &[INIT], Duration::ZERO);
        let out = feed(
            &mut host,
            &[r#"{"src":"c1","dest":"n0","body":{"type":"go"}}"#],
            Duration::ZERO,
        );
        assert_eq!(
            out,
            vec![
                r#"{"src":"n0","dest":"lin-kv","body":{"type":"read","key":"k","msg_id":1}}"#,
                r#"{"src":"n0","dest":"seq-kv","body":{"type":"write","key":"k","value":3,"msg_id":2}}"#,
                r#"{"src":"n0","dest":"lww-kv","body":{"type":"cas","key":7,"from":1,"to":2,"create_if_not_exists":true,"msg_id":3}}"#,
                r#"{"src":"n0","dest":"lin-tso","body":{"type":"ts","msg_id":4}}"#,
            ]
        );
        let out = feed(
            &mut host,
            &[
                r#"{"src":"lin-kv","dest":"n0","body":{"type":"error","code":20,"text":"key does not exist","in_reply_to":1}}"#,
                r#"{"src":"seq-kv","dest":"n0","body":{"type":"write_ok","in_reply_to":2}}"#,
                r#"{"src":"lww-kv","dest":"n0","body":{"type":"error","code":22,"in_reply_to":3}}"#,
                r#"{"src":"lin-tso","dest":"n0","body":{"type":"ts_ok","ts":41,"in_reply_to":4}}"#,
            ],
            Duration::from_millis(3),
        );
        assert!(out.is_empty());
        let heard = &host.node().unwrap().heard;
        assert_eq!(heard.len(), 4);
        assert!(
            heard[0].starts_with("read Err(Error { code: KeyDoesNotExist"),
            "{heard:?}"
        );
        assert_eq!(heard[1], "write Ok(())");
        assert_eq!(heard[2], "cas Err(PreconditionFailed)");
        assert_eq!(heard[3], "ts Ok(41)");
        // A read that succeeds.
        let mut host: NodeHost<Client> = NodeHost::new(0);
        feed(&mut host, &[INIT], Duration::ZERO);
        feed(
            &mut host,
            &[r#"{"src":"c1","dest":"n0","body":{"type":"go"}}"#],
            Duration::ZERO,
        );
        feed(
            &mut host,
            &[
                r#"{"src":"lin-kv","dest":"n0","body":{"type":"read_ok","value":9,"in_reply_to":1}}"#,
            ],
            Duration::ZERO,
        );
        assert_eq!(host.node().unwrap().heard, vec!["read Ok(9)"]);
        // The others time out: indefinite code 0.
        host.tick(Duration::from_secs(1));
        let heard = &host.node().unwrap().heard;
        assert_eq!(heard.len(), 4, "{heard:?}");
        assert!(heard[1].contains("Timeout"), "{heard:?}");
        assert_eq!(heard[2], "cas Err(Timeout)");
    }
}

// ---------------------------------------------------------------------------
// Timers: handles, cancel, repeat.

mod timers {
    use super::*;
    use glomers::runtime::TimerId;

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Cmd {
        /// Start a repeating timer that sends `tock` to c9 each period and
        /// cancels itself after `stop_after` runs (0: never).
        Every { ms: u64, stop_after: u64 },
        /// Start a one-shot timer that sends `once` to c9.
        After { ms: u64 },
        /// Cancel every timer started so far.
        CancelAll {},
        /// Start a repeating timer whose continuation panics on its second
        /// run.
        Flaky { ms: u64 },
    }

    #[derive(Debug, Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Out {
        Tock { timer: u64, run: u64 },
        Once {},
    }

    #[derive(Debug, Default)]
    struct Clock {
        started: Vec<TimerId>,
    }

    impl Node for Clock {
        type Payload = Cmd;
        fn init(_: &Init, _: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
            Ok(Clock::default())
        }
        fn on_message(&mut self, msg: Request<Cmd>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
            let ms = Duration::from_millis;
            match msg.payload {
                Cmd::Every { ms: p, stop_after } => {
                    let timer = self.started.len() as u64;
                    let mut run = 0;
                    let id = ctx.every(ms(p), move |node: &mut Clock, ctx| {
                        run += 1;
                        ctx.send("c9", &Out::Tock { timer, run });
                        if run == stop_after {
                            ctx.cancel(node.started[timer as usize]);
                        }
                    });
                    self.started.push(id);
                }
                Cmd::After { ms: p } => {
                    let id = ctx.after(ms(p), |_, ctx| ctx.send("c9", &Out::Once {}));
                    self.started.push(id);
                }
                Cmd::CancelAll {} => {
                    for id in &self.started {
                        ctx.cancel(*id);
                    }
                }
                Cmd::Flaky { ms: p } => {
                    let mut run = 0;
                    let id = ctx.every(ms(p), move |_, ctx| {
                        run += 1;
                        if run == 2 {
                            ctx.send("c9", &Out::Once {});
                            panic!("second run");
                        }
                        ctx.send("c9", &Out::Tock { timer: 0, run });
                    });
                    self.started.push(id);
                }
            }
            Ok(())
        }
    }

    fn clock() -> NodeHost<Clock> {
        let mut host = NodeHost::new(1);
        assert_eq!(feed(&mut host, &[INIT], Duration::ZERO), vec![INIT_OK]);
        host
    }

    fn cmd(host: &mut NodeHost<Clock>, body: &str, at: Duration) {
        let line = format!(r#"{{"src":"c1","dest":"n0","body":{body}}}"#);
        assert!(feed(host, &[&line], at).is_empty());
    }

    /// Tick at every deadline up to `until`; the bodies sent, with times.
    fn run_until(host: &mut NodeHost<Clock>, until: Duration) -> Vec<(u128, String)> {
        let mut heard = Vec::new();
        while let Some(at) = host.next_deadline().filter(|&t| t <= until) {
            host.tick(at);
            for line in drain(host) {
                let v: Value = serde_json::from_str(&line).unwrap();
                heard.push((at.as_millis(), v["body"].to_string()));
            }
        }
        heard
    }

    #[test]
    fn a_repeating_timer_runs_each_period_until_it_cancels_itself() {
        let mut host = clock();
        cmd(
            &mut host,
            r#"{"type":"every","ms":10,"stop_after":3}"#,
            Duration::ZERO,
        );
        let heard = run_until(&mut host, Duration::from_secs(1));
        let runs: Vec<(u128, &str)> = heard.iter().map(|(t, b)| (*t, b.as_str())).collect();
        assert_eq!(
            runs,
            vec![
                (10, r#"{"run":1,"timer":0,"type":"tock"}"#),
                (20, r#"{"run":2,"timer":0,"type":"tock"}"#),
                (30, r#"{"run":3,"timer":0,"type":"tock"}"#),
            ]
        );
        assert_eq!(host.next_deadline(), None, "nothing is left armed");
    }

    #[test]
    fn cancelled_timers_never_run_and_the_rest_keep_their_order() {
        let mut host = clock();
        cmd(&mut host, r#"{"type":"after","ms":5}"#, Duration::ZERO);
        cmd(
            &mut host,
            r#"{"type":"every","ms":5,"stop_after":0}"#,
            Duration::ZERO,
        );
        // Both due at 5 ms: the one set first runs first.
        let heard = run_until(&mut host, Duration::from_millis(5));
        assert_eq!(heard.len(), 2);
        assert!(heard[0].1.contains("once"), "{heard:?}");
        assert!(heard[1].1.contains("tock"), "{heard:?}");
        cmd(
            &mut host,
            r#"{"type":"after","ms":1}"#,
            Duration::from_millis(6),
        );
        cmd(
            &mut host,
            r#"{"type":"cancel_all"}"#,
            Duration::from_millis(6),
        );
        // Cancelling twice, or a timer that already ran, is harmless.
        cmd(
            &mut host,
            r#"{"type":"cancel_all"}"#,
            Duration::from_millis(6),
        );
        assert!(run_until(&mut host, Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn a_panicking_run_loses_its_output_but_not_the_timer() {
        let mut host = clock();
        cmd(&mut host, r#"{"type":"flaky","ms":10}"#, Duration::ZERO);
        let heard = run_until(&mut host, Duration::from_millis(30));
        let times: Vec<u128> = heard.iter().map(|(t, _)| *t).collect();
        // The run at 20 ms panicked: what it sent is dropped, the timer
        // carries on.
        assert_eq!(times, vec![10, 30], "{heard:?}");
        assert!(logs(&mut host).contains("panicked in a timer"));
    }
}
