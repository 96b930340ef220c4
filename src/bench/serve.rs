//! `glomers serve`: the store in a web browser.
//!
//! # Why
//!
//! `maelstrom serve` lets a learner browse every run's results and
//! pictures; ours does the same for our store: runs listed by workload and
//! time with their verdict and headline figures, each run's pictures,
//! results and node logs one click away, and two runs side by side.
//!
//! # Design
//!
//! A small `axum` router on a current-thread Tokio runtime (the stack the
//! bench already uses; axum with only `tokio` and `http1`, no TLS, no
//! HTTP/2, no JSON or query extractors: hand-written HTTP parsing is where
//! path-handling bugs live, and axum is the Tokio project's own). Pages
//! are rendered on each request from the files as they are, so a run being
//! written shows up as it goes; nothing is cached, nothing is written.
//!
//! - `/`: runs by workload, newest first, with figures and a compare form;
//! - `/run/<workload>/<run>`: one run: figures, plots, links;
//! - `/compare?a=<workload>/<run>&b=…`: two runs side by side;
//! - `/files/<path>`: a file or directory listing under the store.
//!
//! # Safety
//!
//! It binds 127.0.0.1 unless `--host` says otherwise (the pages show node
//! logs and whatever else is in the store). Every path from a request is
//! taken from the raw URI and resolved by [`resolve`]: a segment that is
//! `.` or `..` (plain or percent-encoded), or that decodes to a slash,
//! backslash or NUL, gets 404, and the resolved path (symlinks followed)
//! must stay under the store's own canonical path, so a symlink that
//! leads out gets 404 too. The store's `latest` links, which stay inside,
//! work. A half-written or malformed run shows as such, never as an error
//! page for the whole store.

use crate::bench::report::pages::esc;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The server's state: the store's canonical path.
#[derive(Debug)]
struct Store {
    /// Canonical, so a resolved path can be checked to stay under it.
    root: PathBuf,
}

/// `glomers serve`: exit 254 on a bad store or address, 255 when the
/// server stops with an error.
pub fn serve_command(store: &Path, host: &str, port: u16) -> i32 {
    let root = match std::fs::canonicalize(store) {
        Ok(r) if r.is_dir() => r,
        _ => {
            eprintln!(
                "glomers: {} is not a directory (run a test first, or pass --store DIR)",
                store.display()
            );
            return 254;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("glomers: cannot start the runtime: {e}");
            return 255;
        }
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind((host, port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("glomers: cannot listen on {host}:{port}: {e}");
                return 254;
            }
        };
        if let Ok(a) = listener.local_addr() {
            eprintln!(
                "glomers: serving {} on http://{a}/ (Ctrl-C stops)",
                root.display()
            );
        }
        match serve(listener, root).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("glomers: the server stopped: {e}");
                255
            }
        }
    })
}

/// Serve the store (a canonical directory path) on a bound listener until
/// the process ends.
pub async fn serve(listener: tokio::net::TcpListener, root: PathBuf) -> std::io::Result<()> {
    axum::serve(listener, router(root)).await
}

/// The routes (see the module docs).
pub fn router(root: PathBuf) -> Router {
    let st = Arc::new(Store { root });
    let s1 = st.clone();
    let s2 = st.clone();
    let s3 = st.clone();
    let s4 = st;
    Router::new()
        .route("/", get(move || async move { html(index_page(&s1.root)) }))
        .route(
            "/run/*rest",
            get(move |uri: Uri| async move { run_page(&s2.root, &uri) }),
        )
        .route(
            "/compare",
            get(move |uri: Uri| async move { compare_page(&s3.root, &uri) }),
        )
        .route(
            "/files/*rest",
            get(move |uri: Uri| async move { file(&s4.root, &uri).await }),
        )
        .fallback(|| async { not_found() })
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// Decode `%XX` escapes of one path segment; `None` if malformed or not
/// UTF-8.
fn percent_decode(seg: &str) -> Option<String> {
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Resolve a raw, still-encoded relative path under the store, or `None`
/// for anything that could leave it (see the module docs).
pub fn resolve(root: &Path, raw: &str) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        let dec = percent_decode(seg)?;
        if dec == "." || dec == ".." || dec.contains(['/', '\\', '\0']) {
            return None;
        }
        rel.push(dec);
    }
    let canon = std::fs::canonicalize(root.join(rel)).ok()?;
    canon.starts_with(root).then_some(canon)
}

/// The part of the request path after a route prefix.
fn tail<'u>(uri: &'u Uri, prefix: &str) -> &'u str {
    uri.path().strip_prefix(prefix).unwrap_or("")
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "css" => "text/css",
        "js" => "text/javascript",
        _ => "text/plain; charset=utf-8",
    }
}

async fn file(root: &Path, uri: &Uri) -> Response {
    let Some(path) = resolve(root, tail(uri, "/files/")) else {
        return not_found();
    };
    if path.is_dir() {
        return html(dir_listing(root, &path));
    }
    // A blocking read: run files are a few MB at most and this server has
    // one user.
    match std::fs::read(&path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        Err(_) => not_found(),
    }
}

/// The path relative to the store, `/`-separated, for links.
fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encode a relative path for a URL (segments kept).
fn url_path(rel: &str) -> String {
    let mut out = String::new();
    for (i, seg) in rel.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{t}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}} table{{border-collapse:collapse}}\
         td,th{{border-bottom:1px solid #e3e3e3;padding:3px 8px;text-align:left;vertical-align:top}}\
         .valid-true{{color:#0a7a2f;font-weight:bold}} .valid-false{{color:#c0122c;font-weight:bold}}\
         .valid-unknown,.incomplete{{color:#b36b00;font-weight:bold}} img{{max-width:100%}}\
         .pair{{display:flex;gap:12px}} .pair>div{{flex:1;min-width:0}} a{{color:#1c5fb8}}</style></head>\
         <body><p><a href=\"/\">all runs</a></p><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

fn dir_listing(root: &Path, dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let base = rel(root, dir);
    let items: String = names
        .iter()
        .map(|n| {
            format!(
                "<li><a href=\"/files/{}\">{}</a></li>",
                url_path(&format!("{base}/{n}")),
                esc(n)
            )
        })
        .collect();
    page(&base, &format!("<ul>{items}</ul>"))
}

/// One run as listed: where it is and what its results say.
#[derive(Debug)]
pub struct RunSummary {
    /// `<workload>/<run>`, relative to the store.
    pub path: String,
    /// The workload (directory) name.
    pub workload: String,
    /// The run's directory name (its start time).
    pub name: String,
    /// `true`, `false`, `unknown`, or why there is none (`incomplete`:
    /// no results.json yet; `unreadable: …`).
    pub verdict: String,
    /// Headline figures, in display order.
    pub figures: Vec<(String, String)>,
}

/// Read a run's summary; never fails (a bad run says so in `verdict`).
pub fn summarize(root: &Path, dir: &Path) -> RunSummary {
    let workload = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (verdict, figures) = match std::fs::read_to_string(dir.join("results.json")) {
        Err(_) => ("incomplete".to_string(), Vec::new()),
        Ok(t) => match serde_json::from_str::<Value>(&t) {
            Err(e) => (format!("unreadable: {e}"), Vec::new()),
            Ok(r) => (
                match &r["valid?"] {
                    Value::Bool(b) => b.to_string(),
                    Value::String(s) => s.clone(),
                    _ => "unknown".into(),
                },
                headline(&r),
            ),
        },
    };
    RunSummary {
        path: rel(root, dir),
        workload,
        name,
        verdict,
        figures,
    }
}

/// The figures a learner compares runs by (Maelstrom's key names).
pub fn headline(r: &Value) -> Vec<(String, String)> {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64().map(|x| {
            if x.fract() == 0.0 {
                format!("{x}")
            } else {
                format!("{x:.4}")
            }
        }),
        _ => None,
    };
    let fields = [
        ("ops", "/stats/count"),
        ("ok-fraction", "/availability/ok-fraction"),
        ("servers msgs-per-op", "/net/servers/msgs-per-op"),
        (
            "stable latency median (ms)",
            "/workload/stable-latencies/0.5",
        ),
        ("stable latency max (ms)", "/workload/stable-latencies/1"),
        ("lost-count", "/workload/lost-count"),
        ("duplicated-count", "/workload/duplicated-count"),
        ("anomaly-types", "/workload/anomaly-types"),
        ("bad-error-types", "/workload/bad-error-types"),
    ];
    fields
        .iter()
        .filter_map(|(label, ptr)| {
            let v = r.pointer(ptr)?;
            let s = num(v).unwrap_or_else(|| v.to_string());
            Some((label.to_string(), s))
        })
        .collect()
}

/// Every run directory, by workload, newest first.
fn runs(root: &Path) -> Vec<RunSummary> {
    let mut out = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| {
                        e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != "latest"
                    })
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for w in dirs(root) {
        for r in dirs(&w).into_iter().rev() {
            if r.join("history.jsonl").exists()
                || r.join("results.json").exists()
                || r.join("node-logs").exists()
            {
                out.push(summarize(root, &r));
            }
        }
    }
    out
}

fn verdict_html(v: &str) -> String {
    let class = match v {
        "true" | "false" | "unknown" => format!("valid-{v}"),
        _ => "incomplete".into(),
    };
    format!("<span class=\"{class}\">{}</span>", esc(v))
}

fn figures_html(f: &[(String, String)]) -> String {
    f.iter()
        .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn index_page(root: &Path) -> String {
    let all = runs(root);
    let mut body = format!(
        "<p>{} runs in <code>{}</code>. Pick A and B to compare two runs.</p><form action=\"/compare\">\
         <p><button>compare A and B</button></p><table id=runs><tr><th>A</th><th>B</th><th>workload</th><th>run</th><th>valid?</th><th>figures</th><th>pictures</th></tr>",
        all.len(),
        esc(&root.display().to_string())
    );
    for r in &all {
        let u = url_path(&r.path);
        body.push_str(&format!(
            "<tr><td><input type=radio name=a value=\"{p}\"></td><td><input type=radio name=b value=\"{p}\"></td>\
             <td>{w}</td><td><a href=\"/run/{u}\">{n}</a></td><td>{v}</td><td>{f}</td>\
             <td><a href=\"/files/{u}/messages.html\">messages</a> <a href=\"/files/{u}/timeline.html\">timeline</a></td></tr>",
            p = esc(&r.path),
            w = esc(&r.workload),
            n = esc(&r.name),
            v = verdict_html(&r.verdict),
            f = figures_html(&r.figures),
        ));
    }
    body.push_str("</table></form>");
    page("glomers runs", &body)
}

const PLOTS: [&str; 3] = ["latency-raw.svg", "latency-quantiles.svg", "rate.svg"];

fn run_page(root: &Path, uri: &Uri) -> Response {
    let Some(dir) = resolve(root, tail(uri, "/run/")).filter(|d| d.is_dir()) else {
        return not_found();
    };
    let s = summarize(root, &dir);
    let u = url_path(&s.path);
    let mut body = format!(
        "<p>valid? {}</p><p>{}</p><p>",
        verdict_html(&s.verdict),
        figures_html(&s.figures)
    );
    for f in [
        "messages.html",
        "timeline.html",
        "results.json",
        "history.jsonl",
        "messages.jsonl",
        "node-logs",
    ] {
        if dir.join(f).exists() {
            body.push_str(&format!("<a href=\"/files/{u}/{f}\">{f}</a> · "));
        }
    }
    body.push_str("</p>");
    if !dir.join("messages.html").exists() {
        body.push_str(&format!(
            "<p>No pictures yet: <code>glomers report {}</code> draws them.</p>",
            esc(&dir.display().to_string())
        ));
    }
    for p in PLOTS {
        if dir.join(p).exists() {
            body.push_str(&format!("<p><img alt=\"{p}\" src=\"/files/{u}/{p}\"></p>"));
        }
    }
    html(page(&format!("{} {}", s.workload, s.name), &body))
}

/// A query parameter's raw value, percent-decoded (`+` is a space).
fn query_param(uri: &Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(&v.replace('+', " ")))?
    })
}

fn compare_page(root: &Path, uri: &Uri) -> Response {
    let pick = |k: &str| {
        query_param(uri, k)
            .and_then(|p| {
                // The value is already decoded: re-split it into segments.
                let enc: Vec<String> = p.split('/').map(url_path).collect();
                resolve(root, &enc.join("/"))
            })
            .filter(|d| d.is_dir())
    };
    let (Some(a), Some(b)) = (pick("a"), pick("b")) else {
        return html(page(
            "compare",
            "<p>Pick two runs (A and B) on <a href=\"/\">the list</a>.</p>",
        ));
    };
    let (sa, sb) = (summarize(root, &a), summarize(root, &b));
    let mut keys: Vec<&String> = sa
        .figures
        .iter()
        .chain(&sb.figures)
        .map(|(k, _)| k)
        .collect();
    keys.dedup();
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(*k));
    let get = |s: &RunSummary, k: &str| {
        s.figures
            .iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| esc(v))
            .unwrap_or_default()
    };
    let mut body = format!(
        "<table><tr><th></th><th><a href=\"/run/{ua}\">A: {pa}</a></th><th><a href=\"/run/{ub}\">B: {pb}</a></th></tr>\
         <tr><td>valid?</td><td>{va}</td><td>{vb}</td></tr>",
        ua = url_path(&sa.path),
        ub = url_path(&sb.path),
        pa = esc(&sa.path),
        pb = esc(&sb.path),
        va = verdict_html(&sa.verdict),
        vb = verdict_html(&sb.verdict)
    );
    for k in keys {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(k),
            get(&sa, k),
            get(&sb, k)
        ));
    }
    body.push_str("</table>");
    for p in PLOTS {
        body.push_str("<div class=pair>");
        for s in [&sa, &sb] {
            body.push_str(&format!(
                "<div><img alt=\"{p}\" src=\"/files/{}/{p}\"></div>",
                url_path(&s.path)
            ));
        }
        body.push_str("</div>");
    }
    html(page("compare two runs", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_every_way_out() {
        let d = std::env::temp_dir().join(format!("glomers-serve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("store/w/r1")).unwrap();
        std::fs::write(d.join("secret"), "x").unwrap();
        std::fs::write(d.join("store/w/r1/results.json"), "{}").unwrap();
        let root = std::fs::canonicalize(d.join("store")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("r1", root.join("w/latest")).unwrap();
            std::os::unix::fs::symlink(&d, root.join("out")).unwrap();
            assert!(
                resolve(&root, "w/latest/results.json").is_some(),
                "in-store links work"
            );
            assert_eq!(
                resolve(&root, "out/secret"),
                None,
                "a symlink out of the store"
            );
        }
        assert!(resolve(&root, "w/r1/results.json").is_some());
        assert!(
            resolve(&root, "w/r1%2Fresults.json").is_none(),
            "encoded slash"
        );
        assert!(
            resolve(&root, "w/r1%5cresults.json").is_none(),
            "encoded backslash"
        );
        assert!(resolve(&root, "../secret").is_none());
        assert!(resolve(&root, "w/../../secret").is_none());
        assert!(resolve(&root, "%2e%2e/secret").is_none(), "encoded ..");
        assert!(resolve(&root, "w/%2E/r1").is_none(), "encoded .");
        assert!(resolve(&root, "w/%zz").is_none(), "bad escape");
        assert!(resolve(&root, "w/r1/%00").is_none(), "NUL");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_malformed_or_half_written_run_is_summarized_not_fatal() {
        let d = std::env::temp_dir().join(format!("glomers-serve-sum-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("w/bad")).unwrap();
        std::fs::create_dir_all(d.join("w/half")).unwrap();
        std::fs::write(d.join("w/bad/results.json"), "{\"valid?\": tr").unwrap();
        std::fs::write(d.join("w/half/history.jsonl"), "{").unwrap();
        let root = std::fs::canonicalize(&d).unwrap();
        let all = runs(&root);
        let v: Vec<(&str, &str)> = all
            .iter()
            .map(|r| (r.name.as_str(), r.verdict.as_str()))
            .collect();
        assert_eq!(v.len(), 2);
        assert!(v.contains(&("half", "incomplete")));
        assert!(v
            .iter()
            .any(|(n, s)| *n == "bad" && s.starts_with("unreadable")));
        assert!(index_page(&root).contains("unreadable"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn headline_figures_use_maelstrom_names() {
        let r = serde_json::json!({"stats": {"count": 10}, "net": {"servers": {"msgs-per-op": 1.5}},
                                   "workload": {"stable-latencies": {"0.5": 3, "1": 9}}});
        let h = headline(&r);
        assert_eq!(h[0], ("ops".to_string(), "10".to_string()));
        assert!(h.contains(&("servers msgs-per-op".to_string(), "1.5000".to_string())));
        assert!(h.contains(&("stable latency max (ms)".to_string(), "9".to_string())));
    }
}
