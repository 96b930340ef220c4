//! `glomers report DIR` draws a run's pictures again from its files, for
//! runs recorded before the pictures existed too, and refuses a directory
//! that is not a run.

mod common;

const PICTURES: [&str; 5] = [
    "latency-raw.svg",
    "latency-quantiles.svg",
    "rate.svg",
    "messages.html",
    "timeline.html",
];

#[test]
fn report_redraws_a_run_recorded_without_pictures() {
    let store = common::store("report", "redraw");
    let out = common::run(
        &[
            "-w",
            "echo",
            "--in-process",
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--seed",
            "1",
        ],
        &store,
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let dir = std::fs::canonicalize(store.join("latest")).unwrap();
    for f in PICTURES {
        assert!(dir.join(f).is_file(), "the run drew {f}");
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let out = common::glomers()
        .arg("report")
        .arg(&dir)
        .output()
        .expect("glomers report");
    assert!(out.status.success(), "{}", common::stderr(&out));
    for f in PICTURES {
        assert!(dir.join(f).is_file(), "report drew {f} again");
    }
    let page = std::fs::read_to_string(dir.join("messages.html")).unwrap();
    assert!(
        page.contains("\"types\":[\"init\",\"init_ok\",\"echo\",\"echo_ok\"]"),
        "the journal's types are embedded"
    );
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn report_refuses_a_directory_that_is_not_a_run() {
    let dir = common::store("report", "not-a-run");
    std::fs::create_dir_all(&dir).unwrap();
    let out = common::glomers()
        .arg("report")
        .arg(&dir)
        .output()
        .expect("glomers report");
    assert_eq!(out.status.code(), Some(254));
    assert!(common::stderr(&out).contains("is not a run directory"));
    let _ = std::fs::remove_dir_all(&dir);
}
