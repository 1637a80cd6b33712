//! The listing of a target's prefix, folded once into what the checks need: the newest few
//! backups, the counts, and the days inside the retention window that hold one.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use futures::StreamExt;

use crate::store::{BackupStore, ObjectMeta, StoreError};

/// How many of the newest objects the listing keeps: the newest and the five before it.
const KEEP_NEWEST: usize = 6;

/// The listing, folded: what the checks need from it and nothing more.
#[derive(Debug, Default)]
pub struct ListingSummary {
    pub scanned: u64,
    pub matched: u64,
    /// The bytes of the matching objects together.
    pub matched_bytes: u64,
    /// Newest first, at most [`KEEP_NEWEST`].
    pub newest: Vec<ObjectMeta>,
    /// Days (UTC) inside the retention window that hold at least one backup.
    pub days: BTreeSet<NaiveDate>,
    /// Every matching object, when the caller asked for them (the monthly rolling reads).
    pub all: Option<Vec<ObjectMeta>>,
}

impl ListingSummary {
    fn add(&mut self, obj: ObjectMeta, window_start: Option<NaiveDate>) {
        self.matched += 1;
        self.matched_bytes = self.matched_bytes.saturating_add(obj.size);
        let day = obj.last_modified.date_naive();
        if window_start.is_some_and(|start| day >= start) {
            self.days.insert(day);
        }
        if let Some(all) = &mut self.all {
            all.push(obj.clone());
        }
        let rank = |o: &ObjectMeta| (o.last_modified, o.key.clone());
        let pos = self.newest.partition_point(|o| rank(o) > rank(&obj));
        if pos < KEEP_NEWEST {
            self.newest.insert(pos, obj);
            self.newest.truncate(KEEP_NEWEST);
        }
    }
}

/// Whether a key is a backup of the target: its last segment matches the glob, and it is not a
/// sidecar or a folder marker.
pub struct KeyFilter {
    matcher: globset::GlobMatcher,
    wants_sidecars: bool,
}

impl KeyFilter {
    pub fn new(pattern: &str) -> Result<Self, globset::Error> {
        Ok(KeyFilter {
            matcher: globset::Glob::new(pattern)?.compile_matcher(),
            wants_sidecars: pattern.ends_with(".sha256"),
        })
    }

    pub fn matches(&self, key: &str) -> bool {
        if key.ends_with('/') || (!self.wants_sidecars && key.ends_with(".sha256")) {
            return false;
        }
        let last = key.rsplit('/').next().unwrap_or(key);
        self.matcher.is_match(last)
    }
}

/// Lists `prefix` once and folds it.
pub async fn summarize_listing(
    store: &dyn BackupStore,
    prefix: &str,
    filter: &KeyFilter,
    window_start: Option<NaiveDate>,
) -> Result<ListingSummary, StoreError> {
    summarize_listing_keeping(store, prefix, filter, window_start, false).await
}

/// [`summarize_listing`], keeping every matching object in [`ListingSummary::all`] when
/// `keep_all` is set.
pub async fn summarize_listing_keeping(
    store: &dyn BackupStore,
    prefix: &str,
    filter: &KeyFilter,
    window_start: Option<NaiveDate>,
    keep_all: bool,
) -> Result<ListingSummary, StoreError> {
    let mut summary = ListingSummary {
        all: keep_all.then(Vec::new),
        ..ListingSummary::default()
    };
    let mut objects = store.list(prefix);
    while let Some(obj) = objects.next().await {
        let obj = obj?;
        summary.scanned += 1;
        if filter.matches(&obj.key) {
            summary.add(obj, window_start);
        }
    }
    Ok(summary)
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

    #[test]
    fn the_listing_keeps_only_the_six_newest() {
        let mut s = ListingSummary::default();
        for day in [3, 9, 1, 7, 5, 2, 8, 4, 6] {
            s.add(obj(&format!("k{day}"), 10, day), None);
        }
        let keys: Vec<_> = s.newest.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["k9", "k8", "k7", "k6", "k5", "k4"]);
        assert_eq!(s.matched, 9);
        assert!(s.days.is_empty());
    }

    #[test]
    fn key_filter_matches_the_last_segment_and_skips_sidecars() {
        let f = KeyFilter::new("*.dump.gz").unwrap();
        assert!(f.matches("pwm/orders/2026-11-22.dump.gz"));
        assert!(!f.matches("pwm/orders/2026-11-22.dump.gz.sha256"));
        assert!(!f.matches("pwm/orders.dump.gz/"));
        let all = KeyFilter::new("*").unwrap();
        assert!(!all.matches("a/b.sha256"));
        assert!(all.matches("a/b"));
    }
}
