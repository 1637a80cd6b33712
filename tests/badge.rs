//! `dr-action badge`: SVG, PNG and endpoint files from a KPI file.

use crate::util::Dir;

#[test]
fn renders_svg_png_and_endpoint_from_the_kpi() {
    let dir = Dir::new();
    dir.write("out/backup_kpi.json", r#"{"status": "red"}"#);
    let run = dir
        .command()
        .args([
            "badge",
            "--png",
            "b.png",
            "--endpoint-json",
            "b.json",
            "--label",
            "Backups <prod>",
        ])
        .output()
        .expect_code(0);
    assert!(
        run.stdout().contains("badge red: badges/backup_status.svg"),
        "{}",
        run.stdout()
    );
    let svg = dir.read("badges/backup_status.svg");
    assert!(
        svg.contains(r#"aria-label="Backups &lt;prod&gt;: red""#),
        "{svg}"
    );
    assert!(svg.contains(r##"fill="#e05d44""##));
    let png = std::fs::read(dir.join("b.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(dir.json("b.json")["color"], "red");
    assert_eq!(dir.json("b.json")["label"], "Backups <prod>");
}

#[test]
fn the_config_label_and_path_are_used() {
    let dir = Dir::new();
    let config =
        crate::fixtures::CONFIG.to_string() + "badge:\n  path: status/dr.svg\n  label: Restores\n";
    dir.write("dr.yml", config);
    dir.write("k.json", r#"{"status": "amber"}"#);
    dir.command()
        .args(["badge", "--in", "k.json", "--style", "flat-square"])
        .output()
        .expect_code(0);
    let svg = dir.read("status/dr.svg");
    assert!(
        svg.contains("<title>Restores: amber</title>") && svg.contains(r#"rx="0""#),
        "{svg}"
    );
}

#[test]
fn a_kpi_without_a_status_exits_2() {
    let dir = Dir::new();
    dir.write("k.json", r#"{"status": "purple"}"#);
    let run = dir
        .command()
        .args(["badge", "--in", "k.json"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr().contains("k.json: not a KPI file"),
        "{}",
        run.stderr()
    );
    assert!(!dir.join("badges/backup_status.svg").exists());
}

#[test]
fn a_label_with_characters_xml_forbids_still_makes_a_well_formed_svg() {
    let dir = Dir::new();
    dir.write("out/backup_kpi.json", r#"{"status": "green"}"#);
    dir.command()
        .args(["badge", "--label", "Backup\u{ffff}\u{1}", "--png", "b.png"])
        .output()
        .expect_code(0);
    let svg = dir.read("badges/backup_status.svg");
    resvg::usvg::roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert!(svg.contains("<title>Backup: green</title>"), "{svg}");
}

#[test]
fn a_label_or_message_of_10000_characters_exits_2_quickly() {
    let dir = Dir::new();
    dir.write("out/backup_kpi.json", r#"{"status": "green"}"#);
    let long = "x".repeat(10_000);
    for flag in ["--label", "--message"] {
        let started = std::time::Instant::now();
        let run = dir
            .command()
            .args(["badge", flag, &long, "--png", "b.png"])
            .output()
            .expect_code(2);
        assert!(
            run.stderr()
                .contains(&format!("{flag} is 10000 characters; at most 200")),
            "{}",
            run.stderr()
        );
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
        assert!(!dir.join("badges/backup_status.svg").exists());
        assert!(!dir.join("b.png").exists());
    }
}
