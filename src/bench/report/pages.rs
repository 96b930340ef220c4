//! The two pages, `messages.html` and `timeline.html`: a template each
//! (`assets/`), with the run's data embedded as JSON.
//!
//! The data sits in a `<script type="application/json">` element and is
//! parsed once by the page's script, so the page needs no server and no
//! network. The only escaping needed is `</` (which would close the
//! script element early); JSON allows `\/` for `/`.
//!
//! Both pages record script errors into the DOM (`#errors`) and their own
//! timings into `#perf` (as JSON), so a headless browser test can read
//! them from a DOM dump.

use super::trace::{Diagram, FaultView, OpView};
use serde::Serialize;
use serde_json::Value;

const STYLE: &str = include_str!("assets/style.css");
const MESSAGES_HTML: &str = include_str!("assets/messages.html");
const MESSAGES_JS: &str = include_str!("assets/messages.js");
const TIMELINE_HTML: &str = include_str!("assets/timeline.html");
const TIMELINE_JS: &str = include_str!("assets/timeline.js");
const COMMON_JS: &str = include_str!("assets/common.js");

/// JSON safe to place inside a `<script>` element.
pub fn script_json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace("</", "<\\/")
        .replace("<!--", "<\\u0021--")
}

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fill(template: &str, title: &str, data: &str, script: &str) -> String {
    template
        .replace("{{STYLE}}", STYLE)
        .replace("{{TITLE}}", &esc(title))
        .replace("{{COMMON}}", COMMON_JS)
        .replace("{{SCRIPT}}", script)
        // last: the data may contain any of the markers above
        .replace("{{DATA}}", data)
}

/// The Lamport diagram page.
pub fn messages_html(data: &Diagram) -> String {
    fill(MESSAGES_HTML, &data.title, &script_json(data), MESSAGES_JS)
}

/// What the timeline needs of the diagram's data.
#[derive(Serialize)]
struct Timeline<'d, 'a> {
    title: &'d str,
    valid: &'a Value,
    ops: Vec<OpView<'a>>,
    faults: &'d [FaultView],
    end: u64,
}

/// The timeline page, from the same data (its ops without their message
/// lists, and its nemesis periods).
pub fn timeline_html(data: &Diagram) -> String {
    let ops = data
        .ops
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o.m = None;
            o
        })
        .collect();
    let t = Timeline {
        title: &data.title,
        valid: data.valid,
        ops,
        faults: &data.faults,
        end: data.end,
    };
    fill(TIMELINE_HTML, &data.title, &script_json(&t), TIMELINE_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let v = json!({"title": "x", "body": "</script><script>alert(1)</script> <!-- {{DATA}}"});
        let page = fill(MESSAGES_HTML, "x", &script_json(&v), MESSAGES_JS);
        // Only the template's own closing tags remain: the data's is escaped.
        assert_eq!(
            page.matches("</script").count(),
            MESSAGES_HTML.matches("</script").count()
        );
        assert!(
            !page.contains("{{DATA}}<"),
            "markers inside the data are left alone"
        );
        let s = script_json(&v);
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v, "escaping keeps the JSON's meaning");
    }
}
