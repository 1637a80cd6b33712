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

/// A history of `runs` runs over `targets` targets, each run covering 20 of them in turn, one
/// run every 3 hours up to now (10,000 runs reach back over three years); every 50th run is a
/// quarterly full restore with restore times, every 97th fails, every 501st is a chaos drill.
/// A few target names are hostile. Written as the kept files under `dir`.
fn long_history(dir: &Dir, runs: usize, targets: usize) -> Vec<String> {
    use dr_action::history::HistoryEntry;
    use dr_action::history::{Entry, TargetOutcome};
    use dr_action::kpi::KpiStatus;
    use dr_action::report::Operator;
    use dr_action::report::Schedule;
    let now = chrono::Utc::now();
    let mut names: Vec<String> = (0..targets).map(|i| format!("db-{i:03}")).collect();
    names[0] = "<script>alert('x')</script>".into();
    names[1] = format!(
        "\"quoted\" & {}",
        "averyveryverylongnamewithoutanyspaces".repeat(4)
    );
    let mut yaml = String::from("version: 1\nstorage: { local: ./backups }\ntargets:\n");
    for n in &names {
        yaml.push_str(&format!(
            "  - {{ name: {}, format: file, rpo: 24h, rto: 1h }}\n",
            serde_json::to_string(n).unwrap()
        ));
    }
    let config = dir.write("dr.yml", yaml);
    let loaded = dr_action::config::load(&config).unwrap();
    let entries: Vec<Entry> = (0..runs)
        .map(|i| {
            let at = now - chrono::Duration::hours(3 * (runs - i) as i64);
            let restore = i % 50 == 0;
            let ok = i % 97 != 0;
            let first = (i * 20) % targets;
            Entry {
                run: HistoryEntry {
                    at,
                    schedule: if restore {
                        Schedule::Quarterly
                    } else if i % 2 == 0 {
                        Schedule::Weekly
                    } else {
                        Schedule::Monthly
                    },
                    kind: if restore { "full-restore" } else { "dry-run" }.into(),
                    ok,
                    status: KpiStatus::Green,
                    run_url: Some(format!("https://github.example/acme/app/actions/runs/{i}")),
                    total_seconds: restore.then_some(600.0 + (i % 7) as f64 * 300.0),
                    rto_seconds: restore.then_some(3600),
                },
                action: if i % 501 == 0 {
                    "chaos-drill"
                } else if restore {
                    "full-restore"
                } else {
                    "dry-run"
                }
                .into(),
                operator: Operator::default(),
                targets: (0..20)
                    .map(|k| {
                        let mut metrics = serde_json::Map::new();
                        if restore {
                            metrics.insert(
                                "total_seconds".into(),
                                (600.0 + ((i + k) % 7) as f64 * 300.0).into(),
                            );
                        }
                        let shrink = i % 389 == 0;
                        TargetOutcome {
                            name: names[(first + k) % targets].clone(),
                            ok,
                            failed: if shrink { vec!["size".into()] } else { vec![] },
                            age_seconds: Some(3600),
                            objects: Some(30),
                            bytes: Some(if shrink {
                                1 << 20
                            } else {
                                (1 << 30) + (i as u64) * 4096
                            }),
                            retention_slots: Some(30),
                            retention_filled: Some(30),
                            health: Some(100),
                            metrics,
                        }
                    })
                    .collect(),
                report_sha256: dr_action::history::sha256_hex(i.to_string().as_bytes()),
            }
        })
        .collect();
    let history = dr_action::history::append_all("", &entries, now).unwrap();
    let matrix = dr_action::matrix::build(&loaded.config.targets, &entries, now, 80);
    dir.write("badges/dr_history.jsonl", &history);
    dir.write(
        "badges/dr_matrix.json",
        serde_json::to_string(&matrix).unwrap(),
    );
    names
}

#[test]
fn ten_thousand_runs_over_two_hundred_targets_render_in_under_two_seconds_and_two_megabytes() {
    let dir = Dir::new();
    let names = long_history(&dir, 10_000, 200);
    // Kept for measuring another build of the binary on the same files by hand.
    if let Some(keep) = std::env::var_os("DR_SITE_KEEP_HISTORY") {
        let keep = Path::new(&keep).join("badges");
        std::fs::create_dir_all(&keep).unwrap();
        for f in ["dr_history.jsonl", "dr_matrix.json"] {
            std::fs::copy(dir.join("badges").join(f), keep.join(f)).unwrap();
        }
    }
    let started = std::time::Instant::now();
    let run = dir
        .command()
        .args(["site", "--out", "site"])
        .output()
        .expect_code(0);
    let took = started.elapsed();
    assert!(run.stdout().contains("(201 pages,"), "{}", run.stdout());
    let pages = pages_of(&dir.join("site"));
    let sizes: Vec<u64> = pages
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    let largest = sizes.iter().max().unwrap();
    let history = std::fs::metadata(dir.join("badges/dr_history.jsonl"))
        .unwrap()
        .len();
    eprintln!(
        "10,000 runs x 200 targets (history {history} bytes): {} pages in {took:?}; index {} bytes, \
         largest page {largest} bytes, all pages {} bytes",
        pages.len(),
        sizes[0],
        sizes.iter().sum::<u64>()
    );
    assert!(*largest < 2 * 1024 * 1024, "a page of {largest} bytes");
    // The bound is the optimised build's (`cargo test --release`): an unoptimised build spends
    // most of its time hashing and parsing the 30 MB history, many times slower.
    if !cfg!(debug_assertions) {
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }
    // Hostile names are text, never markup, and their pages are found by their digest.
    let index = std::fs::read_to_string(&pages[0]).unwrap();
    assert!(!index.contains("<script>"), "a target name became markup");
    assert!(index.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    // The index and the hostile targets' pages in the browser, at both widths.
    let hostile: Vec<PathBuf> = names[..2]
        .iter()
        .map(|n| dir.join("site").join(dr_action::site::target_path(n)))
        .collect();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("site-screenshots-10k");
    let mut check = vec![pages[0].clone()];
    check.extend(hostile);
    browser_check(&shots, &check);
}
