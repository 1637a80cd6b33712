//! The validations of `restore.validate`, run on what the engine restored: `sql` (the first
//! column of the first row compared with `expect-min` / `expect-max` / `expect`) and `command`
//! (exit 0 passes). A command runs in the restore's context, with a cleared environment: only
//! what it inherits from dr-action's own (`env::INHERITED`), plus `DR_RESTORE_DATABASE_URL`, `DR_RESTORE_DATABASE`
//! and the `PG*` variables of the scratch database (its throwaway role, never the admin's),
//! `DR_RESTORE_SQLITE` (the restored SQLite file) or `DR_RESTORE_DIR` (the unpacked folder).
//! Each validation is one check.

use std::path::Path;

use super::engine::{Cell, Restored};
use crate::config::Validation;
use crate::process::{self, Program};
use crate::report::Check;

pub async fn run(
    name: &str,
    v: &Validation,
    restored: &dyn Restored,
    base_dir: &Path,
    inherited: &[(String, String)],
) -> Check {
    match (&v.sql, &v.command) {
        (Some(sql), None) => match restored.query_first(sql).await {
            Ok(cell) => {
                let (ok, detail) = judge(v, sql, &cell);
                Check::new(name, ok, detail)
            }
            Err(e) => Check::fail(name, format!("`{sql}` failed: {e}")),
        },
        (None, Some(argv)) => run_command(name, argv, restored, base_dir, inherited).await,
        (Some(_), Some(_)) => Check::fail(
            name,
            "give either `sql` or `command` in one validation, not both",
        ),
        (None, None) => Check::fail(name, "a validation needs `sql` or `command`"),
    }
}

/// The validation as a detail names it: `` `select …` `` or `` `./check.sh arg` ``.
pub fn shown(v: &Validation) -> String {
    match (&v.sql, &v.command) {
        (Some(sql), _) => format!("`{sql}`"),
        (None, Some(argv)) => format!("`{}`", argv.join(" ")),
        (None, None) => "the validation".to_string(),
    }
}

/// Compares a query's first cell with the expectations; with none, running is enough.
pub fn judge(v: &Validation, sql: &str, cell: &Cell) -> (bool, String) {
    let value = match cell {
        Cell::NoRows if v.expect_min.is_none() && v.expect_max.is_none() && v.expect.is_none() => {
            return (true, format!("`{sql}` ran (no rows)"));
        }
        Cell::NoRows => return (false, format!("`{sql}` returned no rows, {}", wanted(v))),
        Cell::Null => None,
        Cell::Value(s) => Some(s.trim()),
    };
    let shown = value.unwrap_or("NULL");
    if let Some(expect) = &v.expect
        && value != Some(expect.trim())
    {
        return (
            false,
            format!("`{sql}` returned {shown}, expected {expect}"),
        );
    }
    if v.expect_min.is_some() || v.expect_max.is_some() {
        let Some(number) = value.and_then(|s| s.parse::<f64>().ok()) else {
            return (
                false,
                format!(
                    "`{sql}` returned {shown}, which is not a number; {}",
                    wanted(v)
                ),
            );
        };
        if let Some(min) = v.expect_min
            && number < min as f64
        {
            return (
                false,
                format!("`{sql}` returned {shown}, expected at least {min}"),
            );
        }
        if let Some(max) = v.expect_max
            && number > max as f64
        {
            return (
                false,
                format!("`{sql}` returned {shown}, expected at most {max}"),
            );
        }
    }
    (true, format!("`{sql}` returned {shown} ({})", wanted(v)))
}

fn wanted(v: &Validation) -> String {
    let mut parts = Vec::new();
    if let Some(e) = &v.expect {
        parts.push(format!("expected {e}"));
    }
    match (v.expect_min, v.expect_max) {
        (Some(a), Some(b)) => parts.push(format!("expected {a}..={b}")),
        (Some(a), None) => parts.push(format!("expected at least {a}")),
        (None, Some(b)) => parts.push(format!("expected at most {b}")),
        (None, None) => {}
    }
    if parts.is_empty() {
        "no expectation".to_string()
    } else {
        parts.join(", ")
    }
}

async fn run_command(
    name: &str,
    argv: &[String],
    restored: &dyn Restored,
    base_dir: &Path,
    inherited: &[(String, String)],
) -> Check {
    let mut env = inherited.to_vec();
    env.extend(restored.command_env());
    let secrets = restored.secrets();
    let program = Program {
        cwd: Some(base_dir),
        ..Program::new(argv, env)
    };
    let shown = argv.join(" ");
    let check = match process::run(&program, None).await {
        Err(e) => Check::fail(name, e),
        Ok(ran) if ran.status.success() => Check::pass(name, format!("`{shown}` exited 0")),
        Ok(ran) => Check::fail(name, format!("`{shown}` failed: {}", ran.describe())),
    };
    Check {
        detail: process::redact(&check.detail, &secrets),
        ..check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(min: Option<i64>, max: Option<i64>, expect: Option<&str>) -> Validation {
        Validation {
            sql: Some("q".into()),
            command: None,
            expect_min: min,
            expect_max: max,
            expect: expect.map(Into::into),
        }
    }

    fn val(s: &str) -> Cell {
        Cell::Value(s.into())
    }

    #[test]
    fn too_few_rows_fail_with_both_figures() {
        let (ok, detail) = judge(&v(Some(1), None, None), "q", &val("0"));
        assert!(!ok);
        assert_eq!(detail, "`q` returned 0, expected at least 1");
        assert!(judge(&v(Some(1), None, None), "q", &val("12")).0);
    }

    #[test]
    fn bounds_and_exact_values_compare() {
        assert!(!judge(&v(None, Some(10), None), "q", &val("11")).0);
        assert!(judge(&v(Some(1), Some(10), None), "q", &val("10")).0);
        assert!(judge(&v(Some(1), None, None), "q", &val("1.5")).0);
        assert!(judge(&v(None, None, Some("ok")), "q", &val(" ok\n")).0);
        let (ok, detail) = judge(&v(None, None, Some("ok")), "q", &val("broken"));
        assert!(!ok && detail.contains("expected ok"), "{detail}");
    }

    #[test]
    fn no_rows_null_and_text_fail_numeric_expectations() {
        let (ok, detail) = judge(&v(Some(1), None, None), "q", &Cell::NoRows);
        assert!(!ok && detail.contains("no rows"), "{detail}");
        let (ok, detail) = judge(&v(Some(1), None, None), "q", &Cell::Null);
        assert!(!ok && detail.contains("NULL"), "{detail}");
        assert!(!judge(&v(Some(1), None, None), "q", &val("many")).0);
        assert!(judge(&v(None, None, None), "q", &Cell::NoRows).0);
    }
}
