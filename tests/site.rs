//! The status page: `demo` renders it, and headless Chromium (tests/site/check.mjs) loads every
//! page from disk at desktop and phone widths and finds no sideways scrolling, no clipped text,
//! no chart without an accessible name, no console error, no request leaving the page and no
//! serious or critical axe-core violation. The screenshots stay in the folder named below for a
//! reviewer; the structure of the pages is snapshotted (tags and classes, not pixels).

use std::path::{Path, PathBuf};

use crate::util::Dir;

fn pages_of(site: &Path) -> Vec<PathBuf> {
    let mut pages = vec![site.join("index.html")];
    let mut targets: Vec<PathBuf> = std::fs::read_dir(site.join("targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    targets.sort();
    pages.extend(targets);
    pages
}

/// Runs the browser checks on `pages`, screenshots into `shots`; panics with the findings.
fn browser_check(shots: &Path, pages: &[PathBuf]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/site/check.mjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(shots)
        .args(pages)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("node (scripts/setup-tools.sh installs puppeteer-core, axe-core and chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the browser checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_demo_site_passes_the_browser_checks_at_desktop_and_phone_width() {
    let dir = Dir::new();
    let run = dir.command().args(["demo"]).output().expect_code(0);
    let stdout = run.stdout();
    let site = dir.join("dr-demo/site");
    assert!(
        stdout.contains(&format!(
            "status page: {}",
            Path::new("dr-demo/site/index.html").display()
        )),
        "{stdout}"
    );
    let pages = pages_of(&site);
    assert_eq!(pages.len(), 2, "the index and the demo's one target");
    for p in &pages {
        let html = std::fs::read_to_string(p).unwrap();
        // Usable without JavaScript, and nothing to fetch: no script, no external address.
        assert!(!html.contains("<script"), "{}", p.display());
        assert!(!html.contains("src=\"http"), "{}", p.display());
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("site-screenshots");
    let report = browser_check(&shots, &pages);
    let lines: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "two pages at two widths:\n{report}");
    for l in &lines {
        assert_eq!(l["problems"], serde_json::json!([]), "{l}");
        // Every page has its charts, and every one of them is named.
        assert!(l["charts"].as_u64().unwrap() >= 2, "{l}");
        assert_eq!(l["charts"], l["named"], "{l}");
        assert!(Path::new(l["screenshot"].as_str().unwrap()).exists(), "{l}");
    }
    eprintln!("screenshots: {}", shots.display());
    insta::assert_snapshot!(
        "index_outline",
        std::fs::read_to_string(shots.join("index.outline.txt")).unwrap()
    );
    insta::assert_snapshot!(
        "target_outline",
        std::fs::read_to_string(shots.join("app-db-5b424a2d.outline.txt")).unwrap()
    );
}
