//! A report as JUnit XML: one `<testsuite>` per target, one `<testcase>` per check of it
//! (classname = the target, name = the check), a failed check as a `<failure>` carrying its
//! detail. Test reporters (dorny/test-reporter, mikepenz/action-junit-report) read this shape.

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use crate::report::Report;

/// The XML for `report`.
pub fn render(report: &Report) -> Result<String> {
    let mut junit = quick_junit::Report::new(format!(
        "dr-action {} {}",
        report.schedule,
        report.kind.as_str()
    ));
    junit.set_timestamp(report.started_at.fixed_offset());
    junit.set_time(elapsed(report));
    for target in &report.targets {
        let mut suite = TestSuite::new(target.name.as_str());
        suite.set_timestamp(report.started_at.fixed_offset());
        suite.add_properties([
            Property::new("schedule", report.schedule.as_str()),
            Property::new("mode", report.kind.as_str()),
            Property::new("chaos", report.chaos.to_string()),
            Property::new("critical", target.critical.to_string()),
        ]);
        if let Some(run) = &report.run {
            suite.add_property(Property::new("run", run.url.as_str()));
        }
        if let Some(latest) = &target.latest {
            suite.add_property(Property::new("backup", latest.key.as_str()));
        }
        for check in &target.checks {
            let status = if check.ok {
                TestCaseStatus::success()
            } else {
                let mut failed = TestCaseStatus::non_success(NonSuccessKind::Failure);
                failed
                    .set_message(check.detail.as_str())
                    .set_type(if target.critical {
                        "failed check"
                    } else {
                        "failed check (target not critical: a warning)"
                    })
                    .set_description(format!("{} {}: {}", target.name, check.name, check.detail));
                failed
            };
            let mut case = TestCase::new(check.name.as_str(), status);
            case.set_classname(target.name.as_str());
            if check.ok {
                case.set_system_out(check.detail.as_str());
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().context("writing the JUnit XML")
}

fn elapsed(report: &Report) -> std::time::Duration {
    (report.finished_at - report.started_at)
        .to_std()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Mode, Schedule, TargetReport, sample};

    #[test]
    fn each_check_is_a_case_and_a_failure_carries_its_detail() {
        let report = sample(
            Mode::DryRun,
            Schedule::Weekly,
            false,
            vec![TargetReport::new(
                "orders <db> & \"eu\"",
                None,
                vec![
                    Check::pass("listing", "3 backups"),
                    Check::fail("freshness", "newest is 3d old (rpo 24h) <late>"),
                ],
            )],
        );
        let xml = render(&report).unwrap();
        assert!(
            xml.contains(r#"tests="2""#) && xml.contains(r#"failures="1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"classname="orders &lt;db&gt; &amp; &quot;eu&quot;""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"message="newest is 3d old (rpo 24h) &lt;late&gt;""#),
            "{xml}"
        );
    }
}
