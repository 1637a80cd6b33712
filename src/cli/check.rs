//! `dr-action check` arguments.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;

use super::{Global, ModeArg, ScheduleArg};
use crate::checks::CheckRequest;
use crate::commands::check::Request;
use crate::env::Env;
use crate::report::Schedule;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Which schedule: weekly (dry-run), monthly (dry-run reading every byte), quarterly
    /// (full restore).
    #[arg(long, value_enum)]
    pub schedule: ScheduleArg,
    /// Override the schedule's mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Check only this target (repeatable).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Fail on purpose (every prefix replaced by one that cannot exist) to prove alerting
    /// works. Also on when DR_CHAOS is true/1/yes.
    #[arg(long)]
    pub chaos: bool,
    /// The report file (default: OUT_DIR/<the schedule's report name>; OUT_DIR/chaos/ for a
    /// chaos drill).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Full restore: restore this key instead of the newest backup (one target).
    #[arg(long, value_name = "KEY")]
    pub backup: Option<String>,
    /// Monthly: deep-verify this backup (repeatable), instead of the rolling selection.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Monthly: deep-verify every backup modified on or after this date (`2026-11-01` or an
    /// RFC 3339 time).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub files: super::ResultFileArgs,
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}` is not a date (2026-11-01) or an RFC 3339 time"))
}

impl CheckArgs {
    pub fn into_request(self, global: &Global, env: &Env) -> Request {
        let schedule = Schedule::from(self.schedule);
        let chaos = self.chaos || env.chaos;
        let out_dir = super::out_dir_for(global, chaos);
        let mut check = CheckRequest::for_schedule(
            schedule,
            self.out
                .unwrap_or_else(|| out_dir.join(schedule.default_report_name())),
        );
        check.mode = self.mode.map_or(schedule.default_mode(), Into::into);
        check.targets = self.targets;
        check.chaos = chaos;
        check.backup = self.backup;
        check.keys = self.keys;
        check.since = self.since;
        Request {
            config: global.config.clone(),
            check,
            files: self.files.into_files(),
        }
    }
}
