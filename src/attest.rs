//! The in-toto Statement (v1) of a report: its subjects are the backups the run checked, named
//! by their store URI with the SHA-256 the run verified, and the report file itself; its
//! predicate is the report. Signed in the workflow (`actions/attest`), it lets anyone prove
//! later which backup was checked or restored and what the result was.
//!
//! A backup whose digest the run did not verify is not a subject (a subject needs a digest);
//! it is still in the predicate, with its checks. Pure but for [`write`], which puts both files
//! beside the report.

use serde::Serialize;

use crate::report::Report;

/// The statement type of in-toto attestations v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// What the predicate is: a dr-action report, as written by `check` and `run`.
pub const PREDICATE_TYPE: &str = "https://dr-action.dev/attestation/report/v1";

/// One subject: a name and its digests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub name: String,
    pub digest: Digest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub sha256: String,
}

/// An in-toto Statement v1 whose predicate is a report.
#[derive(Debug, Serialize)]
pub struct Statement<'a> {
    #[serde(rename = "_type")]
    pub kind: &'static str,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: &'static str,
    pub predicate: &'a Report,
}

/// The subjects of a report: each verified backup (by URI), then the report file by `name`.
pub fn subjects(report: &Report, report_name: &str, report_sha256: &str) -> Vec<Subject> {
    let mut out: Vec<Subject> = Vec::new();
    for t in &report.targets {
        if let (Some(uri), Some(sha)) = (&t.evidence.uri, &t.evidence.sha256)
            && !out.iter().any(|s| s.name == *uri)
        {
            out.push(Subject {
                name: uri.clone(),
                digest: Digest {
                    sha256: sha.clone(),
                },
            });
        }
    }
    out.push(Subject {
        name: report_name.to_string(),
        digest: Digest {
            sha256: report_sha256.to_string(),
        },
    });
    out
}

/// The statement of `report`, whose file is `report_name` with bytes hashing to `report_sha256`.
pub fn statement<'a>(report: &'a Report, report_name: &str, report_sha256: &str) -> Statement<'a> {
    Statement {
        kind: STATEMENT_TYPE,
        subject: subjects(report, report_name, report_sha256),
        predicate_type: PREDICATE_TYPE,
        predicate: report,
    }
}

/// The subjects as `sha256sum` lines (`<hex>  <name>`), the form `actions/attest` reads from
/// `subject-checksums`. A name with a line break could forge a second subject: such a subject
/// is left out of this file (it stays in the statement).
pub fn checksum_lines(subjects: &[Subject]) -> String {
    subjects
        .iter()
        .filter(|s| !s.name.contains(['\n', '\r']))
        .map(|s| format!("{}  {}\n", s.digest.sha256, s.name))
        .collect()
}

/// Where the statement of the report at `report` goes: beside it, `<stem>.intoto.json`.
pub fn statement_path(report: &std::path::Path) -> std::path::PathBuf {
    let stem = report
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    report.with_file_name(format!("{stem}.intoto.json"))
}

/// Where the subjects' checksum lines go: `<stem>.intoto.sha256`.
pub fn checksums_path(report: &std::path::Path) -> std::path::PathBuf {
    statement_path(report).with_extension("sha256")
}

/// Where a report's in-toto statement and its subjects' checksum lines were written.
pub struct Written {
    pub statement: std::path::PathBuf,
    pub checksums: std::path::PathBuf,
}

/// Writes the in-toto statement of the report at `path` beside it, with the subjects as
/// `sha256sum` lines for `actions/attest`.
pub fn write(report: &Report, path: &std::path::Path, sha256: &str) -> anyhow::Result<Written> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let st = statement(report, &name, sha256);
    let written = Written {
        statement: statement_path(path),
        checksums: checksums_path(path),
    };
    crate::atomic::write_json(&written.statement, &st)?;
    crate::atomic::write(&written.checksums, checksum_lines(&st.subject).as_bytes())?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Mode, Schedule, TargetReport};

    #[test]
    fn verified_backups_and_the_report_are_the_subjects() {
        let mut verified = TargetReport::new("db", None, vec![Check::pass("checksum", "ok")]);
        verified.evidence.uri = Some("s3://bucket/db/2026-11-22.dump.gz".into());
        verified.evidence.sha256 = Some("ab".repeat(32));
        let mut unverified = TargetReport::new("files", None, vec![Check::pass("listing", "1")]);
        unverified.evidence.uri = Some("s3://bucket/files/x.tar.gz".into());
        let report = crate::report::sample(
            Mode::DryRun,
            Schedule::Monthly,
            false,
            vec![verified, unverified],
        );
        let st = statement(&report, "dr_dryrun_result.json", &"cd".repeat(32));
        let names: Vec<&str> = st.subject.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["s3://bucket/db/2026-11-22.dump.gz", "dr_dryrun_result.json"]
        );
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(json["_type"], STATEMENT_TYPE);
        assert_eq!(json["predicateType"], PREDICATE_TYPE);
        assert_eq!(json["predicate"]["schedule"], "monthly");
        assert_eq!(
            checksum_lines(&st.subject),
            format!(
                "{}  s3://bucket/db/2026-11-22.dump.gz\n{}  dr_dryrun_result.json\n",
                "ab".repeat(32),
                "cd".repeat(32)
            )
        );
        assert_eq!(
            statement_path(std::path::Path::new("out/dr_dryrun_result.json")),
            std::path::Path::new("out/dr_dryrun_result.intoto.json")
        );
        assert_eq!(
            checksums_path(std::path::Path::new("out/dr_dryrun_result.json")),
            std::path::Path::new("out/dr_dryrun_result.intoto.sha256")
        );
    }
}
