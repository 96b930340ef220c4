//! The three plots Jepsen's `perf` checker draws for Maelstrom, as SVG.
//!
//! Maelstrom writes `latency-raw.png`, `latency-quantiles.png` and
//! `rate.png` through gnuplot (jepsen: `src/jepsen/checker/perf.clj`). We
//! draw the same pictures with `plotters`' SVG backend, so a run needs no
//! external tool and the files open in any browser:
//!
//! - **latency-raw**: one point per client operation at its invocation
//!   time, its latency on a log scale; colour by outcome (Jepsen's ok
//!   `#81BFFC`, info `#FFA400`, fail `#FF1E90`), marker shape by `f`.
//! - **latency-quantiles**: per `f`, the 0.5, 0.95, 0.99 and 1 quantiles of
//!   latency per time window (Jepsen's `floor(n·q)` pick), coloured by
//!   quantile (blue, purple, orange, red), marker by `f`.
//! - **rate**: completions per second per time window, by `f` and outcome.
//!
//! Nemesis periods are shaded (5 % black), as Jepsen does.
//!
//! # Differences
//!
//! - Windows: Jepsen uses 30 s for quantiles and 10 s for rates, which for
//!   the 10–30 s Fly.io runs leaves one to three points; we use those
//!   windows for runs longer than 5 minutes and a twentieth of the run
//!   (at least 1 s) below that.
//! - Log scale: an in-process run with zero latency has 0 ms operations,
//!   which a log scale cannot place (gnuplot drops them); we draw them on
//!   the axis floor ([`FLOOR_MS`]) so they are not silently missing.

use super::run::{Fault, OpPair};
use super::trace::outcome_name;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Where 0 ms latencies are drawn on the log axis.
pub const FLOOR_MS: f64 = 0.01;

const OK: RGBColor = RGBColor(0x81, 0xBF, 0xFC);
const INFO: RGBColor = RGBColor(0xFF, 0xA4, 0x00);
const FAIL: RGBColor = RGBColor(0xFF, 0x1E, 0x90);
const SIZE: (u32, u32) = (900, 400);
const QUANTILES: [(f64, RGBColor); 4] = [
    (0.5, RGBColor(0x00, 0x00, 0xFF)),
    (0.95, RGBColor(0xA0, 0x20, 0xF0)),
    (0.99, RGBColor(0xFF, 0xA5, 0x00)),
    (1.0, RGBColor(0xFF, 0x00, 0x00)),
];

/// The three plots as SVG text, by file name.
pub fn plots(title: &str, pairs: &[OpPair], faults: &[Fault]) -> Vec<(&'static str, String)> {
    let data = Data::new(pairs, faults);
    let mut out = Vec::new();
    for (name, draw) in [
        (
            "latency-raw.svg",
            raw as fn(&Data, &str, &mut String) -> Result<(), String>,
        ),
        ("latency-quantiles.svg", quantiles),
        ("rate.svg", rate),
    ] {
        let mut svg = String::new();
        if let Err(e) = draw(&data, title, &mut svg) {
            svg = error_svg(&e);
        }
        out.push((name, svg));
    }
    out
}

/// An SVG that says why a plot could not be drawn (never a missing file).
fn error_svg(why: &str) -> String {
    let why = why.replace('&', "&amp;").replace('<', "&lt;");
    format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"60\"><text x=\"10\" y=\"30\">plot failed: {why}</text></svg>\n")
}

/// What the plots share: completed ops in seconds and ms, the fs in order,
/// the run's length, the nemesis periods in seconds.
struct Data<'a> {
    pairs: Vec<&'a OpPair>,
    fs: Vec<&'a str>,
    t_max: f64,
    faults: Vec<(f64, f64)>,
}

impl<'a> Data<'a> {
    fn new(pairs: &'a [OpPair], faults: &[Fault]) -> Self {
        let done: Vec<&OpPair> = pairs.iter().filter(|p| p.end.is_some()).collect();
        let mut fs: Vec<&str> = done.iter().map(|p| p.f.as_str()).collect();
        fs.sort_unstable();
        fs.dedup();
        let t_max = done
            .iter()
            .filter_map(|p| p.end)
            .chain(faults.iter().filter_map(|f| f.end))
            .max()
            .unwrap_or(0) as f64
            / 1e9;
        let t_max = t_max.max(1.0);
        let faults = faults
            .iter()
            .map(|f| {
                (
                    f.start as f64 / 1e9,
                    f.end.map_or(t_max, |e| e as f64 / 1e9),
                )
            })
            .collect();
        Data {
            pairs: done,
            fs,
            t_max,
            faults,
        }
    }

    fn latency_ms(p: &OpPair) -> f64 {
        let ns = p.end.unwrap_or(p.start).saturating_sub(p.start);
        (ns as f64 / 1e6).max(FLOOR_MS)
    }

    /// Window length in seconds for a Jepsen window of `jepsen_dt`.
    fn window(&self, jepsen_dt: f64) -> f64 {
        if self.t_max > 300.0 {
            jepsen_dt
        } else {
            (self.t_max / 20.0).max(1.0).round()
        }
    }

    fn f_index(&self, f: &str) -> usize {
        self.fs.iter().position(|x| *x == f).unwrap_or(0)
    }
}

fn color(outcome: &str) -> RGBColor {
    match outcome {
        "ok" => OK,
        "info" => INFO,
        _ => FAIL,
    }
}

macro_rules! try_plot {
    ($e:expr) => {
        $e.map_err(|e| e.to_string())?
    };
}

/// Draw one series of points with the i-th `f`'s marker (gnuplot's point
/// types differ per `f`): circle, triangle, cross, square.
macro_rules! series {
    ($chart:expr, $pts:expr, $fi:expr, $c:expr, $label:expr) => {{
        let c: RGBColor = $c;
        let style = c.filled();
        match $fi % 4 {
            0 => try_plot!($chart.draw_series($pts.map(|p| Circle::new(p, 2, style))))
                .label($label)
                .legend(move |p| Circle::new(p, 3, style)),
            1 => try_plot!($chart.draw_series($pts.map(|p| TriangleMarker::new(p, 3, style))))
                .label($label)
                .legend(move |p| TriangleMarker::new(p, 4, style)),
            2 => try_plot!($chart.draw_series($pts.map(|p| Cross::new(p, 3, c.stroke_width(1)))))
                .label($label)
                .legend(move |p| Cross::new(p, 4, c.stroke_width(1))),
            _ => try_plot!($chart.draw_series(
                $pts.map(|p| EmptyElement::at(p) + Rectangle::new([(-2, -2), (2, 2)], style))
            ))
            .label($label)
            .legend(move |p| EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], style)),
        };
    }};
}

/// The latency plots' frame: white page, time against log latency from
/// [`FLOOR_MS`] to `y_max`, nemesis periods shaded.
type LatencyChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, LogCoord<f64>>,
>;

fn latency_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: String,
    d: &Data,
    y_max: f64,
) -> Result<LatencyChart<'a, 'b>, String> {
    try_plot!(root.fill(&WHITE));
    let mut chart = try_plot!(ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..d.t_max, (FLOOR_MS..y_max).log_scale()));
    try_plot!(chart
        .configure_mesh()
        .x_desc("Time (s)")
        .y_desc("Latency (ms)")
        .draw());
    try_plot!(chart.draw_series(
        d.faults
            .iter()
            .map(|&(s, e)| Rectangle::new([(s, FLOOR_MS), (e, y_max)], BLACK.mix(0.05).filled()))
    ));
    Ok(chart)
}

fn raw(d: &Data, title: &str, svg: &mut String) -> Result<(), String> {
    let lat: Vec<f64> = d.pairs.iter().map(|p| Data::latency_ms(p)).collect();
    let y_max = lat.iter().copied().fold(FLOOR_MS * 10.0, f64::max) * 2.0;
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    let mut chart = latency_axes(&root, format!("{title} latency"), d, y_max)?;
    for (fi, f) in d.fs.iter().enumerate() {
        for t in ["ok", "info", "fail"] {
            let pts: Vec<(f64, f64)> = d
                .pairs
                .iter()
                .zip(&lat)
                .filter(|(p, _)| p.f == *f && outcome_name(p) == t)
                .map(|(p, &l)| (p.start as f64 / 1e9, l))
                .collect();
            if pts.is_empty() {
                continue;
            }
            series!(chart, pts.into_iter(), fi, color(t), format!("{f} {t}"));
        }
    }
    legend(&mut chart)?;
    try_plot!(root.present());
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    try_plot!(chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw());
    Ok(())
}

/// Jepsen's quantile pick: the `floor(n·q)`-th of the sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).floor() as usize).min(sorted.len() - 1);
    sorted[i]
}

/// Window midpoints: bucket `b` of width `dt` is drawn at `b·dt + dt/2`.
fn bucket(t: f64, dt: f64) -> i64 {
    (t / dt).floor() as i64
}

fn quantiles(d: &Data, title: &str, svg: &mut String) -> Result<(), String> {
    let dt = d.window(30.0);
    // f -> bucket -> latencies
    let mut by: BTreeMap<&str, BTreeMap<i64, Vec<f64>>> = BTreeMap::new();
    for p in &d.pairs {
        by.entry(p.f.as_str())
            .or_default()
            .entry(bucket(p.start as f64 / 1e9, dt))
            .or_default()
            .push(Data::latency_ms(p));
    }
    let y_max = d
        .pairs
        .iter()
        .map(|p| Data::latency_ms(p))
        .fold(FLOOR_MS * 10.0, f64::max)
        * 2.0;
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    let caption = format!("{title} latency quantiles ({dt} s windows)");
    let mut chart = latency_axes(&root, caption, d, y_max)?;
    for (f, buckets) in &mut by {
        let fi = d.f_index(f);
        for (q, c) in QUANTILES {
            let pts: Vec<(f64, f64)> = buckets
                .iter_mut()
                .map(|(b, lat)| {
                    lat.sort_by(f64::total_cmp);
                    (*b as f64 * dt + dt / 2.0, quantile(lat, q))
                })
                .collect();
            try_plot!(chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(1))));
            series!(chart, pts.into_iter(), fi, c, format!("{f} {q}"));
        }
    }
    legend(&mut chart)?;
    try_plot!(root.present());
    Ok(())
}

fn rate(d: &Data, title: &str, svg: &mut String) -> Result<(), String> {
    let dt = d.window(10.0);
    let n_buckets = bucket(d.t_max, dt) + 1;
    // (f, outcome) -> completions per bucket
    let mut by: BTreeMap<(usize, &str), Vec<f64>> = BTreeMap::new();
    for p in &d.pairs {
        let b = bucket(p.end.unwrap_or(p.start) as f64 / 1e9, dt).clamp(0, n_buckets - 1);
        by.entry((d.f_index(&p.f), outcome_name(p)))
            .or_insert_with(|| vec![0.0; n_buckets as usize])[b as usize] += 1.0 / dt;
    }
    let y_max = by.values().flatten().copied().fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    try_plot!(root.fill(&WHITE));
    let mut chart = try_plot!(ChartBuilder::on(&root)
        .caption(format!("{title} rate ({dt} s windows)"), ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..d.t_max, 0f64..y_max));
    try_plot!(chart
        .configure_mesh()
        .x_desc("Time (s)")
        .y_desc("Throughput (hz)")
        .draw());
    try_plot!(chart.draw_series(
        d.faults
            .iter()
            .map(|&(s, e)| Rectangle::new([(s, 0.0), (e, y_max)], BLACK.mix(0.05).filled()))
    ));
    for ((fi, t), counts) in by {
        let c = color(t);
        let pts: Vec<(f64, f64)> = counts
            .iter()
            .enumerate()
            .map(|(b, &r)| (b as f64 * dt + dt / 2.0, r))
            .collect();
        try_plot!(chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(1))));
        series!(chart, pts.into_iter(), fi, c, format!("{} {t}", d.fs[fi]));
    }
    legend(&mut chart)?;
    try_plot!(root.present());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::OpType;
    use serde_json::Value;

    fn pair(i: usize, f: &str, outcome: OpType, start_ms: u64, lat_ms: u64) -> OpPair {
        OpPair {
            invoke: i,
            complete: Some(i + 1),
            process: 0,
            f: f.into(),
            outcome: Some(outcome),
            start: start_ms * 1_000_000,
            end: Some((start_ms + lat_ms) * 1_000_000),
            value: Value::Null,
            result: Value::Null,
            error: None,
        }
    }

    #[test]
    fn draws_each_f_and_outcome_and_shades_faults() {
        let pairs = vec![
            pair(0, "read", OpType::Ok, 100, 5),
            pair(2, "read", OpType::Info, 2000, 5000),
            pair(4, "write", OpType::Fail, 3000, 0),
        ];
        let faults = vec![Fault {
            start: 1_000_000_000,
            end: Some(4_000_000_000),
            label: "partition".into(),
            detail: Value::Null,
        }];
        let out = plots("t", &pairs, &faults);
        let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["latency-raw.svg", "latency-quantiles.svg", "rate.svg"]
        );
        let raw = &out[0].1;
        assert!(raw.starts_with("<svg"), "{}", &raw[..100.min(raw.len())]);
        for label in ["read ok", "read info", "write fail"] {
            assert!(raw.contains(label), "legend lacks {label}");
        }
        assert!(
            raw.contains("#FFA400") || raw.contains("#ffa400"),
            "info colour"
        );
        assert!(out[1].1.contains("read 0.99"));
        assert!(out[2].1.contains("write fail"));
        assert!(!out.iter().any(|(_, s)| s.contains("plot failed")));
    }

    #[test]
    fn an_empty_history_still_gives_three_pictures() {
        let out = plots("empty", &[], &[]);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|(_, s)| s.starts_with("<svg")));
    }
}
