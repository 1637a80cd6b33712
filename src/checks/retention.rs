//! Retention slots: the last N days, ISO weeks and calendar months a policy promises, and which
//! of them hold no backup. Slots end with the previous day / week / month, because the current
//! one may legitimately not have its backup yet; freshness covers the current one. Pure.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::config::Retention;
#[cfg(test)]
use crate::config::{MAX_DAILY, MAX_MONTHLY, MAX_WEEKLY};

/// The earliest day any slot of `policy` reaches back to, seen from `today`; the calendar's
/// first day when a slot would lie before it.
pub fn window_start(policy: &Retention, today: NaiveDate) -> NaiveDate {
    let starts = [
        (policy.daily > 0).then(|| days_back(today, policy.daily)),
        (policy.weekly > 0).then(|| week_start(today).and_then(|w| weeks_back(w, policy.weekly))),
        (policy.monthly > 0).then(|| months_back(month_start(today), policy.monthly)),
    ];
    starts
        .into_iter()
        .flatten()
        .map(|start| start.unwrap_or(NaiveDate::MIN))
        .min()
        .unwrap_or(today)
}

/// Missing slots, each described (`2026-11-19`, `2026-W45`, `2026-10`), given the days that
/// hold at least one backup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Missing {
    pub daily: Vec<String>,
    pub weekly: Vec<String>,
    pub monthly: Vec<String>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.daily.is_empty() && self.weekly.is_empty() && self.monthly.is_empty()
    }
}

/// The missing slots; an error when the policy asks for more slots than [`over_limit`] allows
/// or for slots outside the calendar.
pub fn missing_slots(
    policy: &Retention,
    today: NaiveDate,
    days: &BTreeSet<NaiveDate>,
) -> Result<Missing, String> {
    if let Some((kind, n, max)) = policy.over_limit() {
        return Err(format!(
            "retention.{kind} is {n}; at most {max} {kind} slots can be checked"
        ));
    }
    let off_calendar =
        |kind: &str| format!("the {kind} slots reach back before the calendar's first day");
    let any_in = |from: NaiveDate, until: NaiveDate| days.range(from..until).next().is_some();
    let daily = (1..=policy.daily)
        .map(|i| days_back(today, i).ok_or_else(|| off_calendar("daily")))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|d| !days.contains(d))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .rev()
        .collect();
    let this_week = week_start(today).ok_or_else(|| off_calendar("weekly"))?;
    let weekly = (1..=policy.weekly)
        .map(|i| weeks_back(this_week, i).ok_or_else(|| off_calendar("weekly")))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|w| {
            !any_in(
                *w,
                w.checked_add_days(Days::new(7)).unwrap_or(NaiveDate::MAX),
            )
        })
        .map(|w| {
            let iso = w.iso_week();
            format!("{}-W{:02}", iso.year(), iso.week())
        })
        .rev()
        .collect();
    let this_month = month_start(today);
    let monthly = (1..=policy.monthly)
        .map(|i| months_back(this_month, i).ok_or_else(|| off_calendar("monthly")))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|m| !any_in(*m, m.checked_add_months(Months::new(1)).unwrap_or(*m)))
        .map(|m| m.format("%Y-%m").to_string())
        .rev()
        .collect();
    Ok(Missing {
        daily,
        weekly,
        monthly,
    })
}

fn days_back(day: NaiveDate, n: u32) -> Option<NaiveDate> {
    day.checked_sub_days(Days::new(u64::from(n)))
}

fn weeks_back(monday: NaiveDate, n: u32) -> Option<NaiveDate> {
    monday.checked_sub_days(Days::new(7 * u64::from(n)))
}

fn week_start(day: NaiveDate) -> Option<NaiveDate> {
    days_back(day, day.weekday().num_days_from_monday())
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn months_back(first_of_month: NaiveDate, n: u32) -> Option<NaiveDate> {
    first_of_month.checked_sub_months(Months::new(n))
}

/// A one-line summary of a check: counts kept, and the missing slots listed.
pub fn describe(policy: &Retention, missing: &Missing) -> String {
    let part = |kind: &str, want: u32, miss: &[String]| {
        format!(
            "{}/{want} {kind}",
            (want as usize).saturating_sub(miss.len())
        )
    };
    let counts = [
        (policy.daily > 0).then(|| part("daily", policy.daily, &missing.daily)),
        (policy.weekly > 0).then(|| part("weekly", policy.weekly, &missing.weekly)),
        (policy.monthly > 0).then(|| part("monthly", policy.monthly, &missing.monthly)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    if missing.is_empty() {
        return format!("{counts} slots hold a backup");
    }
    let mut lists = Vec::new();
    for (kind, miss) in [
        ("daily", &missing.daily),
        ("weekly", &missing.weekly),
        ("monthly", &missing.monthly),
    ] {
        if !miss.is_empty() {
            lists.push(format!("{kind} {}", abbreviate(miss)));
        }
    }
    format!(
        "{counts} slots hold a backup; missing: {}",
        lists.join("; ")
    )
}

/// At most ten names, then a count, so a long gap stays one readable line.
fn abbreviate(names: &[String]) -> String {
    if names.len() <= 10 {
        return names.join(", ");
    }
    format!("{} and {} more", names[..10].join(", "), names.len() - 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn every_day(from: &str, to: &str) -> BTreeSet<NaiveDate> {
        d(from).iter_days().take_while(|x| *x <= d(to)).collect()
    }

    #[test]
    fn complete_history_has_no_missing_slots() {
        let policy = Retention {
            daily: 30,
            weekly: 4,
            monthly: 1,
        };
        // Sunday 2026-11-22; 40 days back reaches 2026-10-14.
        let days = every_day("2026-10-14", "2026-11-22");
        let missing = missing_slots(&policy, d("2026-11-22"), &days).unwrap();
        assert!(missing.is_empty(), "{missing:?}");
        assert_eq!(
            describe(&policy, &missing),
            "30/30 daily, 4/4 weekly, 1/1 monthly slots hold a backup"
        );
    }

    #[test]
    fn gaps_are_listed_by_slot() {
        let policy = Retention {
            daily: 7,
            weekly: 3,
            monthly: 2,
        };
        let mut days = every_day("2026-10-20", "2026-11-22");
        days.remove(&d("2026-11-19"));
        days.remove(&d("2026-11-20"));
        let missing = missing_slots(&policy, d("2026-11-22"), &days).unwrap();
        assert_eq!(missing.daily, ["2026-11-19", "2026-11-20"]);
        assert!(missing.weekly.is_empty());
        // September holds nothing: the history starts in October.
        assert_eq!(missing.monthly, ["2026-09"]);
        let text = describe(&policy, &missing);
        assert_eq!(
            text,
            "5/7 daily, 3/3 weekly, 1/2 monthly slots hold a backup; missing: daily 2026-11-19, 2026-11-20; monthly 2026-09"
        );
    }

    #[test]
    fn a_week_without_backups_is_named_by_iso_week() {
        let policy = Retention {
            daily: 0,
            weekly: 3,
            monthly: 0,
        };
        // Week 46 of 2026 is Mon 2026-11-09 .. Sun 2026-11-15.
        let mut days = every_day("2026-10-01", "2026-11-22");
        for day in every_day("2026-11-09", "2026-11-15") {
            days.remove(&day);
        }
        let missing = missing_slots(&policy, d("2026-11-22"), &days).unwrap();
        assert_eq!(missing.weekly, ["2026-W46"]);
    }

    #[test]
    fn the_window_reaches_the_oldest_slot() {
        let policy = Retention {
            daily: 30,
            weekly: 12,
            monthly: 12,
        };
        assert_eq!(window_start(&policy, d("2026-11-22")), d("2025-11-01"));
        let policy = Retention {
            daily: 3,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(window_start(&policy, d("2026-11-22")), d("2026-11-19"));
    }

    #[test]
    fn long_gaps_are_abbreviated() {
        let policy = Retention {
            daily: 30,
            weekly: 0,
            monthly: 0,
        };
        let missing = missing_slots(&policy, d("2026-11-22"), &BTreeSet::new()).unwrap();
        let text = describe(&policy, &missing);
        assert!(text.ends_with("and 20 more"), "{text}");
        assert!(text.starts_with("0/30 daily"), "{text}");
    }

    #[test]
    fn huge_retention_counts_are_an_error_not_a_panic() {
        let today = d("2026-11-22");
        for policy in [
            Retention {
                daily: 100_000_000,
                weekly: 0,
                monthly: 0,
            },
            Retention {
                daily: 0,
                weekly: 20_000_000,
                monthly: 0,
            },
            Retention {
                daily: 0,
                weekly: 0,
                monthly: u32::MAX,
            },
            Retention {
                daily: u32::MAX,
                weekly: u32::MAX,
                monthly: u32::MAX,
            },
        ] {
            // The window reaches the calendar's start instead of overflowing.
            assert!(
                window_start(&policy, today) <= d("1900-01-01"),
                "{policy:?}"
            );
            let err = missing_slots(&policy, today, &BTreeSet::new()).unwrap_err();
            assert!(err.contains("at most"), "{err}");
        }
        // Within the limits, but before the calendar's first day: an error as well.
        let policy = Retention {
            daily: MAX_DAILY,
            weekly: MAX_WEEKLY,
            monthly: MAX_MONTHLY,
        };
        let early = NaiveDate::MIN.checked_add_days(Days::new(10)).unwrap();
        let err = missing_slots(&policy, early, &BTreeSet::new()).unwrap_err();
        assert!(err.contains("before the calendar's first day"), "{err}");
        assert_eq!(window_start(&policy, early), NaiveDate::MIN);
        // The largest allowed policy is checked in full.
        let missing = missing_slots(&policy, today, &BTreeSet::new()).unwrap();
        assert_eq!(missing.daily.len(), MAX_DAILY as usize);
        assert_eq!(missing.monthly.len(), MAX_MONTHLY as usize);
    }
}
