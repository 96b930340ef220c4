//! `glomers serve` over raw HTTP: it serves only files under the store
//! (a path climbing out by `..`, plain or encoded, an encoded slash, or a
//! symlink leading out gets 404), the store's own `latest` links work, and
//! a malformed or half-written run does not take it down.

mod common;

fn status(resp: &str) -> &str {
    resp.split(' ').nth(1).unwrap_or("")
}

#[test]
fn serves_only_the_store_and_survives_bad_runs() {
    let base = common::store("serve", "paths");
    let store = base.join("store");
    std::fs::create_dir_all(store.join("w/r1/node-logs")).unwrap();
    std::fs::write(base.join("secret.txt"), "SECRET").unwrap();
    std::fs::write(
        store.join("w/r1/results.json"),
        "{\"valid?\": true, \"stats\": {\"count\": 3}}",
    )
    .unwrap();
    std::fs::write(store.join("w/r1/node-logs/n0.log"), "hello from n0").unwrap();
    std::fs::create_dir_all(store.join("w/r2-malformed")).unwrap();
    std::fs::write(store.join("w/r2-malformed/results.json"), "{\"valid?\": tr").unwrap();
    std::fs::create_dir_all(store.join("w/r3-half")).unwrap();
    std::fs::write(store.join("w/r3-half/history.jsonl"), "{\"index\":").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("r1", store.join("w/latest")).unwrap();
        std::os::unix::fs::symlink(&base, store.join("out")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), store.join("w/r1/leak.txt")).unwrap();
    }
    let server = common::Server::start(&store);
    assert!(
        server.addr.starts_with("127.0.0.1:"),
        "binds 127.0.0.1 by default"
    );

    let ok = server.get("/files/w/r1/results.json");
    assert_eq!(status(&ok), "200", "{ok}");
    assert!(ok.contains("application/json"));
    assert_eq!(status(&server.get("/files/w/r1/node-logs/n0.log")), "200");
    assert!(
        server.get("/files/w/r1/node-logs").contains("n0.log"),
        "directory listing"
    );
    #[cfg(unix)]
    assert_eq!(
        status(&server.get("/files/w/latest/results.json")),
        "200",
        "in-store link"
    );

    for bad in [
        "/files/../secret.txt",
        "/files/w/../../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/w/%2E%2E/%2e%2e/secret.txt",
        "/files/w%2Fr1/results.json",
        "/files/w/r1%2fresults.json",
        "/files/w%5cr1/results.json",
        "/files/out/secret.txt",
        "/files/w/r1/leak.txt",
        "/files/w/r1/%00",
        "/files/nope",
        "/run/../secret.txt",
        "/run/%2e%2e",
        "/run/out",
        "/nowhere",
    ] {
        let resp = server.get(bad);
        assert_eq!(status(&resp), "404", "{bad}: {resp:.300}");
        assert!(!resp.contains("SECRET"), "{bad} leaked the file");
    }

    let index = server.get("/");
    assert_eq!(status(&index), "200", "{index:.300}");
    assert!(
        index.contains("unreadable") && index.contains("incomplete"),
        "bad runs listed as such"
    );
    assert_eq!(status(&server.get("/run/w/r2-malformed")), "200");
    assert_eq!(status(&server.get("/run/w/r3-half")), "200");
    let cmp = server.get("/compare?a=w/r1&b=w/r2-malformed");
    assert!(
        cmp.contains("A: w/r1") && cmp.contains("unreadable"),
        "{cmp:.2000}"
    );
    assert_eq!(
        status(&server.get("/compare?a=../..&b=w/r1")),
        "200",
        "a bad pick shows the form"
    );
    assert!(!server.get("/compare?a=../..&b=w/r1").contains("SECRET"));
    assert_eq!(status(&server.get("/")), "200", "still up");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_missing_store_is_a_clear_error() {
    let out = common::glomers()
        .args([
            "serve",
            "--port",
            "0",
            "--store",
            "/nonexistent/glomers-store",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(254));
    assert!(common::stderr(&out).contains("is not a directory"));
}
