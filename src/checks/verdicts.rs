//! The verdicts over a backup's measurements: its age against the rpo, its size against its
//! history, the restore's time against the rto. Pure: figures in, a check out.

use std::time::Duration;

use crate::config::Target;
use crate::report::Check;
use crate::store::ObjectMeta;
use crate::units::{self, short_duration, short_size};

/// The age of a backup against the target's rpo; `name` is the check's name and `what` the
/// backup it speaks of ("newest" in a dry run, "the restored backup" after a restore).
pub fn rpo(name: &str, what: &str, age: u64, target: &Target) -> Check {
    let ok = age <= target.rpo.secs();
    let detail = if ok {
        format!("{what} is {} old (rpo {})", short_duration(age), target.rpo)
    } else {
        format!(
            "{what} is {} old, older than the rpo of {}",
            short_duration(age),
            target.rpo
        )
    };
    Check::new(name, ok, detail)
}

/// The newest must reach `min-size` and not fall below half the median of the previous five.
pub fn size(newest_first: &[ObjectMeta], target: &Target) -> Check {
    let newest = newest_first[0].size;
    if let Some(min) = &target.min_size
        && newest < min.bytes
    {
        return Check::fail(
            "size",
            format!("newest is {}, below min-size {min}", short_size(newest)),
        );
    }
    let mut previous: Vec<u64> = newest_first[1..].iter().map(|o| o.size).collect();
    if previous.is_empty() {
        return Check::pass(
            "size",
            format!(
                "newest is {} (no earlier backup to compare)",
                short_size(newest)
            ),
        );
    }
    previous.sort_unstable();
    let median = median(&previous);
    let n = previous.len();
    if (newest as f64) < median / 2.0 {
        return Check::fail(
            "size",
            format!(
                "newest is {}, less than half the median of the previous {n} ({}): a sudden shrink",
                short_size(newest),
                short_size(median as u64)
            ),
        );
    }
    Check::pass(
        "size",
        format!(
            "newest is {} (median of the previous {n}: {})",
            short_size(newest),
            short_size(median as u64)
        ),
    )
}

fn median(sorted: &[u64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    }
}

/// The time the restore and its validation took against the target's rto.
pub fn rto(total: Duration, target: &Target) -> Check {
    let took = units::human_seconds(total);
    match &target.rto {
        None => Check::pass(
            "rto",
            format!("restored and validated in {took} (no rto configured)"),
        ),
        Some(rto) if total <= rto.duration => Check::pass(
            "rto",
            format!("restored and validated in {took}, within the rto of {rto}"),
        ),
        Some(rto) => Check::fail(
            "rto",
            format!("restore exceeded rto {rto}: restoring and validating took {took}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn obj(key: &str, size: u64, day: u32) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            last_modified: Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).unwrap(),
        }
    }

    fn target(rto: Option<&str>) -> Target {
        let rto = rto.map(|r| format!("\nrto: {r}")).unwrap_or_default();
        serde_norway::from_str(&format!("name: t\nformat: file\nrpo: 1d{rto}")).unwrap()
    }

    #[test]
    fn a_sudden_shrink_fails_the_size_check() {
        let target: Target =
            serde_norway::from_str("name: t\nformat: file\nrpo: 1d\nmin-size: 1KiB").unwrap();
        let history = |newest: u64| {
            let mut v = vec![obj("new", newest, 9)];
            v.extend(
                [100_000, 110_000, 90_000, 105_000, 95_000]
                    .iter()
                    .enumerate()
                    .map(|(i, s)| obj("old", *s, 8 - i as u32)),
            );
            v
        };
        let c = size(&history(49_000), &target);
        assert!(!c.ok && c.detail.contains("sudden shrink"), "{c:?}");
        let c = size(&history(51_000), &target);
        assert!(c.ok, "{c:?}");
        let c = size(&[obj("only", 500, 9)], &target);
        assert!(!c.ok && c.detail.contains("below min-size 1KiB"), "{c:?}");
    }

    #[test]
    fn the_rto_check_quotes_both_figures() {
        let c = rto(Duration::from_secs(8040), &target(Some("2h")));
        assert!(!c.ok);
        assert_eq!(
            c.detail,
            "restore exceeded rto 2h: restoring and validating took 2h 14m"
        );
        let c = rto(Duration::from_millis(1500), &target(Some("15m")));
        assert!(
            c.ok && c.detail.contains("1.50s, within the rto of 15m"),
            "{c:?}"
        );
        assert!(rto(Duration::from_secs(1), &target(None)).ok);
    }
}
