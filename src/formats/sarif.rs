//! A bucket audit as SARIF 2.1.0, for code scanning (`github/codeql-action/upload-sarif`):
//! one rule per requirement with its help text, one result per finding. A finding that falls
//! short is an `error` of kind `fail`; one that holds is kind `pass` (level `none`), so the log
//! shows what was checked, not only what broke. Every result points at the config file that
//! names the bucket (code scanning needs a location in the repository) and names the bucket
//! as its logical location.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, ReportingConfiguration, ReportingDescriptor, Result as Finding,
    ResultKind, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use crate::policy::audit::AuditReport;

/// The schema the log declares: the OASIS standard's.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The short description and the help of a requirement, by finding name.
fn rule_text(name: &str) -> (String, String) {
    let (short, help) = match name {
        "encryption" => (
            "Backups are encrypted by default with SSE-KMS",
            "The bucket's default encryption must be SSE-KMS (with storage.kms-key-arn's key \
             when set), so every backup written without encryption headers is still encrypted \
             with a key whose use is logged and can be revoked.",
        ),
        "bucket-key" => (
            "S3 Bucket Keys are enabled for SSE-KMS",
            "Informational: a bucket key cuts the KMS requests (and their cost) of reading and \
             writing backups; it does not change who can read them.",
        ),
        "versioning" => (
            "Versioning is enabled",
            "With versioning on, an overwritten or deleted backup can be recovered; without it \
             one mistaken or malicious write destroys the backup.",
        ),
        "public-access-block" => (
            "Public access is blocked",
            "All four public access block flags must be on, so no ACL or policy can ever make a \
             backup public.",
        ),
        _ => match name.strip_prefix("policy:") {
            Some(sid) => {
                return (
                    format!("The bucket policy has statement {sid} of s3_enforce_sse_kms.json"),
                    format!(
                        "The bucket policy must deny what statement {sid} of \
                         policies/s3_enforce_sse_kms.json denies, for every target's prefix. \
                         Render it with `dr-action policy render` and apply it with \
                         `aws s3api put-bucket-policy`."
                    ),
                );
            }
            None => ("A requirement of policies/", "See the finding's message."),
        },
    };
    (short.to_string(), help.to_string())
}

fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

/// The SARIF log for `report`; `config` is the config file's path relative to the repository
/// root, the location every result points at.
pub fn render(report: &AuditReport, config: &str) -> Result<String> {
    let mut rules: Vec<ReportingDescriptor> = Vec::new();
    let mut index: BTreeMap<&str, i64> = BTreeMap::new();
    for finding in &report.findings {
        if index.contains_key(finding.name.as_str()) {
            continue;
        }
        index.insert(&finding.name, rules.len() as i64);
        let (short, help) = rule_text(&finding.name);
        rules.push(
            ReportingDescriptor::builder()
                .id(finding.name.clone())
                .short_description(text(short))
                .help(text(help))
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(serde_json::json!("error"))
                        .build(),
                )
                .build(),
        );
    }
    let bucket_arn = format!("arn:aws:s3:::{}", report.bucket);
    let results: Vec<Finding> = report
        .findings
        .iter()
        .map(|f| {
            let location = Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(ArtifactLocation::builder().uri(config).build())
                        .build(),
                )
                .logical_locations(vec![
                    LogicalLocation::builder()
                        .name(report.bucket.clone())
                        .fully_qualified_name(bucket_arn.clone())
                        .kind("resource")
                        .build(),
                ])
                .build();
            Finding::builder()
                .rule_id(f.name.clone())
                .rule_index(index[f.name.as_str()])
                .kind(if f.ok {
                    ResultKind::Pass
                } else {
                    ResultKind::Fail
                })
                .level(if f.ok {
                    ResultLevel::None
                } else {
                    ResultLevel::Error
                })
                .message(
                    Message::builder()
                        .text(format!("s3://{}: {}", report.bucket, f.detail))
                        .build(),
                )
                .locations(vec![location])
                // Stable across runs, so code scanning keeps one alert per bucket and rule.
                .partial_fingerprints(BTreeMap::from([(
                    "drActionFinding/v1".to_string(),
                    format!("{}:{}", report.bucket, f.name),
                )]))
                .build()
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("dr-action")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .short_description(text(
            "Audits a backup bucket against the policies of dr-action",
        ))
        .rules(rules)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .properties(
            PropertyBag::builder()
                .additional_properties(BTreeMap::from([
                    ("bucket".to_string(), serde_json::json!(report.bucket)),
                    ("ok".to_string(), serde_json::json!(report.ok)),
                ]))
                .build(),
        )
        .build();
    let log = Sarif::builder()
        .schema(SCHEMA_URI)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build();
    let mut out = serde_json::to_string_pretty(&log).context("serialising the SARIF log")?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Check;

    #[test]
    fn every_finding_is_a_result_under_its_rule() {
        let report = AuditReport {
            schema: 1,
            bucket: "acme-backups".into(),
            ok: false,
            findings: vec![
                Check::fail("versioning", "versioning was never enabled: aws s3api …"),
                Check::pass("public-access-block", "all four flags on"),
                Check::fail("policy:DenyInsecureTransport", "no statement denies it"),
            ],
        };
        let log: serde_json::Value =
            serde_json::from_str(&render(&report, ".github/dr.yml").unwrap()).unwrap();
        let run = &log["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["ruleId"], "versioning");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["kind"], "pass");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules[2]["id"], "policy:DenyInsecureTransport");
        assert!(
            rules[2]["help"]["text"]
                .as_str()
                .unwrap()
                .contains("DenyInsecureTransport")
        );
        assert_eq!(
            results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            ".github/dr.yml"
        );
    }
}
