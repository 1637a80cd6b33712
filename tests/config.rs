//! `dr-action config check` / `config schema`: broken configs exit 2 with the key and line.

use crate::util::Dir;

fn config_check(text: &str) -> crate::util::Run {
    let dir = Dir::new();
    dir.write(".github/dr.yml", text);
    dir.command().args(["config", "check"]).output()
}

#[test]
fn a_good_config_is_summarised() {
    let run = config_check(crate::fixtures::CONFIG).expect_code(0);
    assert!(
        run.stdout()
            .contains(".github/dr.yml: ok — 1 target(s) (db)"),
        "{}",
        run.stdout()
    );
}

#[test]
fn an_unknown_key_names_key_line_and_suggestion() {
    let text = crate::fixtures::CONFIG.replace("targets:", "targts:");
    let run = config_check(&text).expect_code(2);
    assert!(
        run.stderr()
            .contains("unknown key `targts` at line 4 column 1, did you mean `targets`?"),
        "{}",
        run.stderr()
    );
}

#[test]
fn malformed_yaml_exits_2_with_a_line() {
    let run = config_check("version: 1\nstorage:\n  local: x\n targets: [\n").expect_code(2);
    assert!(run.stderr().contains("line"), "{}", run.stderr());
}

#[test]
fn a_bad_duration_names_the_key_and_line() {
    let text = crate::fixtures::CONFIG.replace("rpo: 26h", "rpo: soon");
    let run = config_check(&text).expect_code(2);
    let err = run.stderr();
    assert!(err.contains("`targets[0].rpo` at line 9"), "{err}");
    assert!(err.contains("invalid duration `soon`"), "{err}");
}

#[test]
fn the_schema_command_prints_the_committed_schema() {
    let dir = Dir::new();
    let run = dir
        .command()
        .args(["config", "schema"])
        .output()
        .expect_code(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/dr.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(printed, committed);
}

#[test]
fn plan_prints_the_targets_as_a_matrix_and_writes_the_output() {
    let dir = Dir::new();
    dir.write("dr.yml", crate::fixtures::CONFIG);
    dir.write("gh_output", "");
    let run = dir
        .command()
        .args(["plan"])
        .env("GITHUB_OUTPUT", dir.join("gh_output"))
        .output()
        .expect_code(0);
    let matrix: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [{"target": "db", "critical": true}]})
    );
    assert_eq!(
        dir.read("gh_output"),
        format!("matrix={}\n", run.stdout().trim())
    );
}

#[test]
fn policy_render_fills_and_validates_the_templates() {
    let dir = Dir::new();
    let args = [
        "policy",
        "render",
        "--bucket",
        "acme-backups",
        "--prefix",
        "pwm/",
        "--kms-key-arn",
        "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234",
        "--account",
        "123456789012",
        "--repo",
        "acme/app",
    ];
    let run = dir.command().args(args).output().expect_code(0);
    assert_eq!(run.stdout().lines().count(), 3, "{}", run.stdout());
    let trust = dir.json("out/policies/oidc_trust_policy.json");
    let cond = &trust["Statement"][0]["Condition"]["StringEquals"];
    assert_eq!(
        cond["token.actions.githubusercontent.com:sub"],
        "repo:acme/app:ref:refs/heads/main"
    );
    assert_eq!(
        cond["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    let mut bad = args.to_vec();
    bad[5] = "pwm/*";
    let run = dir.command().args(&bad).output().expect_code(2);
    assert!(
        run.stderr().contains("--prefix `pwm/*`"),
        "{}",
        run.stderr()
    );
}

#[test]
fn huge_retention_counts_are_refused_with_key_line_and_limit() {
    for (given, key, limit) in [
        ("{ daily: 100000000 }", "targets[0].retention.daily", "3660"),
        ("{ weekly: 20000000 }", "targets[0].retention.weekly", "520"),
        (
            "{ monthly: 4294967295 }",
            "targets[0].retention.monthly",
            "1200",
        ),
    ] {
        let text = crate::fixtures::CONFIG.replace("{ daily: 7 }", given);
        let run = config_check(&text).expect_code(2);
        let err = run.stderr();
        assert!(err.contains(&format!("`{key}` at line 11")), "{err}");
        assert!(err.contains(&format!("more than the {limit}")), "{err}");
    }
    // At the limits the config is fine.
    let text = crate::fixtures::CONFIG.replace(
        "{ daily: 7 }",
        "{ daily: 3660, weekly: 520, monthly: 1200 }",
    );
    config_check(&text).expect_code(0);
}

#[test]
fn check_with_a_huge_retention_count_exits_2_instead_of_panicking() {
    let dir = crate::fixtures::healthy_store();
    let text = crate::fixtures::CONFIG.replace("{ daily: 7 }", "{ daily: 100000000 }");
    dir.write("dr.yml", text);
    let run = dir
        .command()
        .args(["check", "--schedule", "weekly", "--config", "dr.yml"])
        .output()
        .expect_code(2);
    assert!(run.stderr().contains("retention.daily"), "{}", run.stderr());
}

#[test]
fn a_config_saved_with_a_byte_order_mark_is_read() {
    let run = config_check(&format!("\u{feff}{}", crate::fixtures::CONFIG)).expect_code(0);
    assert!(
        run.stdout().contains("ok — 1 target(s)"),
        "{}",
        run.stdout()
    );
    // Line numbers are still those of the file.
    let text = format!("\u{feff}{}", crate::fixtures::CONFIG).replace("rpo: 26h", "rpo: soon");
    let run = config_check(&text).expect_code(2);
    assert!(
        run.stderr().contains("`targets[0].rpo` at line 9"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_badge_label_longer_than_200_characters_is_refused() {
    let text = format!(
        "{}badge:\n  label: {}\n",
        crate::fixtures::CONFIG,
        "x".repeat(10_000)
    );
    let run = config_check(&text).expect_code(2);
    assert!(
        run.stderr()
            .contains("`badge.label` at line 13: is 10000 characters; at most 200"),
        "{}",
        run.stderr()
    );
}
