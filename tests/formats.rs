//! `--junit`, `--metrics` and `policy audit --sarif` files, read back by the real parsers of
//! their formats from the repo's `.venv` (junitparser, prometheus_client's OpenMetrics parser,
//! check-jsonschema with the vendored SARIF 2.1.0 schema), and compared with the report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::fixtures::{CONFIG, DAY, dailies};
use crate::util::Dir;

fn venv_bin(name: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        bin.exists(),
        "{} missing: run scripts/setup-tools.sh",
        bin.display()
    );
    bin
}

/// Runs one of `tests/validate/*.py` on `file` and returns the JSON it prints.
pub fn validate(script: &str, file: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/validate")
        .join(script);
    let out = Command::new(venv_bin("python"))
        .arg(&script)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} refused {}:\n{}",
        script.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Validates a SARIF file against the vendored SARIF 2.1.0 schema.
pub fn check_sarif_schema(file: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/sarif-2.1.0.json");
    let out = Command::new(venv_bin("check-jsonschema"))
        .arg("--schemafile")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not SARIF 2.1.0:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two targets: `db` healthy, `logs` with a stale newest backup (freshness and retention fail).
fn store_with_a_failing_target(logs_name: &str) -> Dir {
    let dir = Dir::new();
    let config = format!(
        "{CONFIG}  - name: {logs_name}\n    prefix: logs/\n    match: \"*.sqlite.gz\"\n    format: sqlite\n    rpo: 26h\n    retention: {{ daily: 7 }}\n"
    );
    dir.write("dr.yml", config);
    dailies(&dir, 10, Duration::from_secs(3600));
    for d in 0..3u32 {
        let bytes = crate::fixtures::gzip(&crate::fixtures::sqlite_like(5_000, 100 + d));
        crate::fixtures::put_backup(
            &dir,
            &format!("logs/logs-{d:03}.sqlite.gz"),
            &bytes,
            DAY * (5 + d),
        );
    }
    dir
}

/// `(target, check, ok, detail)` of every check in a report.
fn report_checks(report: &serde_json::Value) -> Vec<(String, String, bool, String)> {
    let mut out = Vec::new();
    for t in report["targets"].as_array().unwrap() {
        for c in t["checks"].as_array().unwrap() {
            out.push((
                t["name"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
                c["ok"].as_bool().unwrap(),
                c["detail"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

#[test]
fn junit_has_a_case_per_check_and_its_failures_carry_the_details() {
    let dir = store_with_a_failing_target("logs");
    let run = dir
        .command()
        .args(["check", "--schedule", "weekly", "--junit", "out/junit.xml"])
        .output()
        .expect_code(1);
    assert!(
        run.stdout().contains("junit: out/junit.xml"),
        "{}",
        run.stdout()
    );
    let report = dir.json("out/dr_dryrun_weekly.json");
    let checks = report_checks(&report);
    let failed = checks.iter().filter(|c| !c.2).count();
    assert!(
        failed >= 2,
        "the fixture should fail some checks: {checks:?}"
    );

    let parsed = validate("junit.py", &dir.join("out/junit.xml"));
    assert_eq!(parsed["tests"], checks.len());
    assert_eq!(parsed["failures"], failed);
    let suites: Vec<&str> = parsed["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suites, ["db", "logs"]);
    let cases = parsed["cases"].as_array().unwrap();
    assert_eq!(cases.len(), checks.len());
    for (case, (target, check, ok, detail)) in cases.iter().zip(&checks) {
        assert_eq!(case["classname"], target.as_str());
        assert_eq!(case["name"], check.as_str());
        assert_eq!(case["failed"], !ok, "{case}");
        if !ok {
            assert_eq!(case["message"], detail.as_str());
            assert!(
                case["text"].as_str().unwrap().contains(detail.as_str()),
                "{case}"
            );
        }
    }
}

#[test]
fn metrics_parse_as_openmetrics_and_match_the_report_even_with_quotes_in_a_target_name() {
    // Target names come from the config: quotes, a backslash and a newline must be escaped.
    let hostile = "\"logs \\\"eu\\\" \\\\ \\nwest\"";
    let dir = store_with_a_failing_target(hostile);
    dir.command()
        .args(["check", "--schedule", "weekly", "--metrics", "out/dr.prom"])
        .output()
        .expect_code(1);
    let report = dir.json("out/dr_dryrun_weekly.json");
    let logs_name = report["targets"][1]["name"].as_str().unwrap().to_string();
    assert_eq!(logs_name, "logs \"eu\" \\ \nwest");

    let samples = validate("openmetrics.py", &dir.join("out/dr.prom"));
    let samples = samples.as_array().unwrap();
    let value = |name: &str, target: &str, check: Option<&str>| -> f64 {
        samples
            .iter()
            .find(|s| {
                s["name"] == name
                    && s["labels"]["target"] == target
                    && s["labels"]["schedule"] == "weekly"
                    && check.is_none_or(|c| s["labels"]["check"] == c)
            })
            .unwrap_or_else(|| panic!("no {name} for {target:?} {check:?} in {samples:#?}"))["value"]
            .as_f64()
            .unwrap()
    };
    for t in report["targets"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let latest = &t["latest"];
        assert_eq!(
            value("dr_backup_newest_age_seconds", name, None),
            latest["age_seconds"].as_f64().unwrap()
        );
        assert_eq!(
            value("dr_backup_newest_size_bytes", name, None),
            latest["size"].as_f64().unwrap()
        );
        assert_eq!(
            value("dr_target_ok", name, None),
            if t["ok"] == true { 1.0 } else { 0.0 }
        );
    }
    for (target, check, ok, _) in report_checks(&report) {
        assert_eq!(
            value("dr_check_ok", &target, Some(&check)),
            if ok { 1.0 } else { 0.0 },
            "{target} {check}"
        );
    }
    let run_ok = samples.iter().find(|s| s["name"] == "dr_run_ok").unwrap();
    assert_eq!(run_ok["value"], 0.0);
    let age = samples
        .iter()
        .find(|s| s["name"] == "dr_backup_newest_age_seconds")
        .unwrap();
    assert_eq!(age["unit"], "seconds");
}

#[test]
fn run_writes_junit_and_metrics_beside_the_report() {
    let dir = Dir::new();
    dir.write("dr.yml", CONFIG);
    dailies(&dir, 10, Duration::from_secs(3600));
    let run = dir
        .command()
        .args([
            "run",
            "--schedule",
            "weekly",
            "--junit",
            "out/junit.xml",
            "--metrics",
            "out/dr.prom",
        ])
        .output()
        .expect_code(0);
    assert!(
        run.stdout().contains("metrics: out/dr.prom"),
        "{}",
        run.stdout()
    );
    let junit = validate("junit.py", &dir.join("out/junit.xml"));
    let report = dir.json("out/dr_dryrun_weekly.json");
    assert_eq!(junit["tests"], report_checks(&report).len());
    assert_eq!(junit["failures"], 0);
    let samples = validate("openmetrics.py", &dir.join("out/dr.prom"));
    let run_ok = samples
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "dr_run_ok")
        .unwrap();
    assert_eq!(run_ok["value"], 1.0);
}
