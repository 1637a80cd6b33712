//! Whether the newest backup can be read now. S3 keeps objects of the GLACIER and DEEP_ARCHIVE
//! classes offline: a GET is refused (`InvalidObjectState`) until a restore (RestoreObject,
//! minutes to hours) makes a readable copy beside the archived object; an Azure blob in the
//! Archive tier must be rehydrated first. GLACIER_IR and the infrequent-access classes are read
//! directly.
//!
//! [`access`] decides from one HEAD (pure); [`restorable`] turns that into the `restorable` check
//! of the dry-run and the quarterly restore. [`prepare`] is the quarterly restore's way in: with
//! the target's `restore-request` it asks for a copy, then HEADs again with a growing wait
//! ([`Poll`]) until the copy is readable or the wait's limit (what is left of the rto) is spent.
//!
//! A store that reports no class (a local folder; S3, which leaves STANDARD unsaid) gets no
//! `restorable` check at all, so those reports are unchanged.

use std::time::Duration;

use crate::config::RestoreRequest;
use crate::report::Check;
use crate::store::{BackupStore, ObjectHead, RestoreRequested, RestoreStatus};
use crate::units::human_seconds;

pub const NAME: &str = "restorable";

/// How readable an object is, from its HEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The store reports no class: nothing to say.
    Unclassified,
    /// A class that is read directly (STANDARD_IA, GLACIER_IR, Azure Hot or Cool).
    Readable { class: String },
    /// Archived, with a restored copy that can be read (until `expires`).
    RestoredCopy {
        class: String,
        expires: Option<String>,
    },
    /// Archived, a restore asked for and still running.
    Restoring { class: String },
    /// Archived, and no restored copy.
    Archived { class: String },
}

impl Access {
    /// Whether a GET would be answered now.
    pub fn readable(&self) -> bool {
        matches!(
            self,
            Access::Unclassified | Access::Readable { .. } | Access::RestoredCopy { .. }
        )
    }
}

/// The classes whose objects cannot be read without a restore: S3's GLACIER (Flexible
/// Retrieval) and DEEP_ARCHIVE, Azure's Archive tier.
fn archive_class(class: &str) -> bool {
    matches!(class, "GLACIER" | "DEEP_ARCHIVE" | "Archive")
}

/// Azure names its tiers in mixed case; `Archive` is its only archive tier.
fn azure(class: &str) -> bool {
    class == "Archive"
}

pub fn access(head: &ObjectHead) -> Access {
    let Some(class) = head.storage_class.clone() else {
        return Access::Unclassified;
    };
    if !archive_class(&class) {
        return Access::Readable { class };
    }
    match &head.restore {
        Some(RestoreStatus::Readable { expires }) => Access::RestoredCopy {
            class,
            expires: expires.clone(),
        },
        Some(RestoreStatus::InProgress) => Access::Restoring { class },
        None => Access::Archived { class },
    }
}

/// What to do about an archived backup, for the detail of a failed check.
fn advice(class: &str) -> String {
    if azure(class) {
        return "rehydrate it (Set Blob Tier to Hot or Cool, hours), or keep the newest backups in a readable tier with a lifecycle rule (move blobs to Archive only once they are older than the restores need)".into();
    }
    "keep the newest backups in a readable class with a lifecycle rule (transition to GLACIER or DEEP_ARCHIVE only once they are older than the restores need, or use GLACIER_IR), or set `restore-request: { days: 1, tier: Standard }` on the target so the quarterly restore asks for a readable copy first and waits for it".into()
}

/// The `restorable` check of `key`: `None` when the store reports no class.
pub fn restorable(key: &str, access: &Access) -> Option<Check> {
    Some(match access {
        Access::Unclassified => return None,
        Access::Readable { class } => {
            Check::pass(NAME, format!("{class}: read directly, no restore needed"))
        }
        Access::RestoredCopy { class, expires } => Check::pass(
            NAME,
            format!(
                "{class}, with a restored copy readable{}",
                expires
                    .as_deref()
                    .map(|e| format!(" until {e}"))
                    .unwrap_or_default()
            ),
        ),
        Access::Restoring { class } => Check::fail(
            NAME,
            format!(
                "{key} is in {class} and a restore of it is still running: it cannot be read until the copy is ready; {}",
                advice(class)
            ),
        ),
        Access::Archived { class } => Check::fail(
            NAME,
            format!(
                "{key} is in {} and has no restored copy: it cannot be read without a restore (hours); {}",
                if azure(class) {
                    "the Azure Archive tier".to_string()
                } else {
                    class.clone()
                },
                advice(class)
            ),
        ),
    })
}

/// How the wait for a restored copy HEADs again: after `first`, then twice as long each time,
/// never more than `max` between two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poll {
    pub first: Duration,
    pub max: Duration,
}

/// A restore takes from minutes (Expedited) to hours; a HEAD every five minutes at most
/// notices the copy soon enough, and costs next to nothing.
pub const POLL: Poll = Poll {
    first: Duration::from_secs(1),
    max: Duration::from_secs(300),
};

impl Poll {
    /// The wait before the HEAD after the `n`th (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(n.min(31)))
            .min(self.max)
    }
}

/// What the quarterly restore learned before reading: the `restorable` check, whether the
/// object can be read, and how long the wait for a restored copy took when one was asked for.
#[derive(Debug)]
pub struct Prepared {
    pub check: Check,
    pub readable: bool,
    pub waited: Option<Duration>,
}

/// HEADs `key`; when it is archived and `request` is given, asks for a restored copy and waits
/// for it, at most `limit`. `None` when there is nothing to say (no class, or no HEAD: the read
/// reports its own error).
pub async fn prepare(
    store: &dyn BackupStore,
    key: &str,
    request: Option<&RestoreRequest>,
    limit: Duration,
    poll: Poll,
) -> Option<Prepared> {
    let head = store.head(key).await.ok().flatten()?;
    let found = access(&head);
    let check = restorable(key, &found)?;
    let (Some(request), Access::Archived { class } | Access::Restoring { class }) =
        (request, &found)
    else {
        return Some(Prepared {
            readable: check.ok,
            check,
            waited: None,
        });
    };
    if azure(class) {
        return Some(Prepared {
            readable: false,
            check,
            waited: None,
        });
    }
    let asked = format!(
        "asked for a restored copy ({}, kept {})",
        request.tier.as_str(),
        crate::units::count(u64::from(request.days), "day")
    );
    let already = match &found {
        Access::Restoring { .. } => RestoreRequested::AlreadyInProgress,
        _ => match store.request_restore(key, request).await {
            Ok(r) => r,
            Err(e) => {
                return Some(Prepared {
                    check: Check::fail(
                        NAME,
                        format!("{key} is in {class}; the restore request failed: {e}"),
                    ),
                    readable: false,
                    waited: None,
                });
            }
        },
    };
    let asked = match already {
        RestoreRequested::Started => asked,
        RestoreRequested::AlreadyInProgress => {
            format!("{asked}; one asked for earlier was still running")
        }
    };
    let (check, readable, waited) = wait_for_copy(store, key, class, &asked, limit, poll).await;
    Some(Prepared {
        check,
        readable,
        waited: Some(waited),
    })
}

/// HEADs `key` until its restored copy is readable or `limit` is spent.
async fn wait_for_copy(
    store: &dyn BackupStore,
    key: &str,
    class: &str,
    asked: &str,
    limit: Duration,
    poll: Poll,
) -> (Check, bool, Duration) {
    let started = tokio::time::Instant::now();
    let mut heads = 0u32;
    loop {
        let head = store.head(key).await;
        let waited = started.elapsed();
        match head {
            Ok(Some(h)) if access(&h).readable() => {
                let check = Check::pass(
                    NAME,
                    format!(
                        "{key} is in {class}: {asked}; readable after {}",
                        human_seconds(waited)
                    ),
                );
                return (check, true, waited);
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let check = Check::fail(
                    NAME,
                    format!("{key} vanished while its restored copy was awaited"),
                );
                return (check, false, waited);
            }
            Err(e) => {
                let check = Check::fail(
                    NAME,
                    format!("{key} is in {class}: {asked}; HEAD failed while waiting: {e}"),
                );
                return (check, false, waited);
            }
        }
        let left = limit.saturating_sub(waited);
        if left.is_zero() {
            let check = Check::fail(
                NAME,
                format!(
                    "{key} is in {class}: {asked}; still restoring after {} ({} HEADs), when the rto allowed no longer: run the restore again once the copy is ready, or ask for a faster tier",
                    human_seconds(waited),
                    heads + 1
                ),
            );
            return (check, false, waited);
        }
        tokio::time::sleep(poll.delay(heads).min(left)).await;
        heads += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use futures::stream::BoxStream;

    use super::*;
    use crate::config::RestoreTier;
    use crate::store::{ObjectMeta, ObjectReader, StoreError, StoreErrorKind, StoreKind};

    fn head(class: Option<&str>, restore: Option<RestoreStatus>) -> ObjectHead {
        ObjectHead {
            storage_class: class.map(Into::into),
            restore,
            ..ObjectHead::default()
        }
    }

    #[test]
    fn glacier_and_deep_archive_without_a_copy_cannot_be_read() {
        for class in ["GLACIER", "DEEP_ARCHIVE"] {
            let found = access(&head(Some(class), None));
            assert_eq!(
                found,
                Access::Archived {
                    class: class.into()
                }
            );
            let check = restorable("b/1.dump", &found).unwrap();
            assert!(!check.ok);
            assert!(check.detail.contains(class), "{}", check.detail);
            assert!(check.detail.contains("lifecycle rule"), "{}", check.detail);
            assert!(check.detail.contains("restore-request"), "{}", check.detail);
        }
    }

    #[test]
    fn glacier_instant_retrieval_and_standard_ia_are_read_directly() {
        for class in ["GLACIER_IR", "STANDARD_IA", "Hot", "Cool"] {
            let found = access(&head(Some(class), None));
            assert!(found.readable(), "{class}");
            assert!(restorable("k", &found).unwrap().ok, "{class}");
        }
    }

    #[test]
    fn a_store_that_reports_no_class_gets_no_check() {
        assert_eq!(access(&ObjectHead::default()), Access::Unclassified);
        assert_eq!(restorable("k", &Access::Unclassified), None);
    }

    #[test]
    fn a_restored_copy_is_readable_and_one_under_way_is_not() {
        let done = RestoreStatus::Readable {
            expires: Some("Fri, 21 Dec 2012 00:00:00 GMT".into()),
        };
        let found = access(&head(Some("DEEP_ARCHIVE"), Some(done)));
        assert!(found.readable());
        let check = restorable("k", &found).unwrap();
        assert!(check.ok);
        assert!(check.detail.contains("until Fri, 21 Dec 2012"));
        let running = access(&head(Some("GLACIER"), Some(RestoreStatus::InProgress)));
        assert!(!running.readable());
        assert!(!restorable("k", &running).unwrap().ok);
    }

    #[test]
    fn an_azure_archive_blob_is_told_to_rehydrate_not_to_restore_request() {
        let check = restorable("k", &access(&head(Some("Archive"), None))).unwrap();
        assert!(!check.ok);
        assert!(
            check.detail.contains("Azure Archive tier"),
            "{}",
            check.detail
        );
        assert!(check.detail.contains("rehydrate"), "{}", check.detail);
        assert!(
            !check.detail.contains("restore-request"),
            "{}",
            check.detail
        );
    }

    #[test]
    fn the_poll_doubles_up_to_its_cap() {
        let p = Poll {
            first: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let waits: Vec<u64> = (0..5).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(5));
    }

    /// An archived object whose restored copy is ready after `ready_after` HEADs that follow
    /// the request (never, for `None`).
    struct Thawing {
        ready_after: Option<u32>,
        heads: Mutex<u32>,
        requested: Mutex<u32>,
    }

    impl Thawing {
        fn new(ready_after: Option<u32>) -> Self {
            Thawing {
                ready_after,
                heads: Mutex::new(0),
                requested: Mutex::new(0),
            }
        }
    }

    #[async_trait]
    impl BackupStore for Thawing {
        fn kind(&self) -> StoreKind {
            StoreKind::S3
        }
        fn describe(&self) -> String {
            "s3://thawing".into()
        }
        fn uri(&self, key: &str) -> String {
            format!("s3://thawing/{key}")
        }
        fn list<'a>(&'a self, _: &'a str) -> BoxStream<'a, Result<ObjectMeta, StoreError>> {
            Box::pin(futures::stream::empty())
        }
        async fn head(&self, _: &str) -> Result<Option<ObjectHead>, StoreError> {
            let requested = *self.requested.lock().unwrap() > 0;
            let mut heads = self.heads.lock().unwrap();
            let restore = match (requested, self.ready_after) {
                (false, _) => None,
                (true, Some(n)) if *heads >= n => Some(RestoreStatus::Readable { expires: None }),
                (true, _) => Some(RestoreStatus::InProgress),
            };
            if requested {
                *heads += 1;
            }
            Ok(Some(head(Some("GLACIER"), restore)))
        }
        async fn read_range(&self, _: &str, _: u64, _: u64) -> Result<Vec<u8>, StoreError> {
            Err(StoreError::new(StoreErrorKind::Other, "archived"))
        }
        async fn read(&self, _: &str) -> Result<ObjectReader, StoreError> {
            Err(StoreError::new(StoreErrorKind::Other, "archived"))
        }
        async fn request_restore(
            &self,
            _: &str,
            _: &RestoreRequest,
        ) -> Result<RestoreRequested, StoreError> {
            *self.requested.lock().unwrap() += 1;
            Ok(RestoreRequested::Started)
        }
    }

    const REQUEST: RestoreRequest = RestoreRequest {
        days: 1,
        tier: RestoreTier::Standard,
    };

    #[tokio::test(start_paused = true)]
    async fn a_requested_copy_is_awaited_with_a_growing_wait_until_readable() {
        let store = Thawing::new(Some(3));
        let limit = Duration::from_secs(3600);
        let got = prepare(&store, "k", Some(&REQUEST), limit, POLL)
            .await
            .unwrap();
        assert!(got.readable, "{:?}", got.check);
        assert!(got.check.ok);
        assert!(
            got.check.detail.contains("Standard, kept 1 day"),
            "{}",
            got.check.detail
        );
        assert_eq!(*store.requested.lock().unwrap(), 1);
        // HEADs at 0s, 1s, 3s, 7s: the fourth sees the copy.
        assert_eq!(got.waited, Some(Duration::from_secs(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_for_a_copy_ends_when_the_limit_is_spent() {
        let store = Thawing::new(None);
        let limit = Duration::from_secs(10);
        let got = prepare(&store, "k", Some(&REQUEST), limit, POLL)
            .await
            .unwrap();
        assert!(!got.readable);
        assert!(!got.check.ok);
        assert!(
            got.check.detail.contains("still restoring after"),
            "{}",
            got.check.detail
        );
        assert_eq!(got.waited, Some(limit));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_restore_request_an_archived_backup_is_not_asked_for() {
        let store = Thawing::new(Some(0));
        let got = prepare(&store, "k", None, Duration::from_secs(60), POLL)
            .await
            .unwrap();
        assert!(!got.readable);
        assert!(got.check.detail.contains("restore-request"));
        assert_eq!(*store.requested.lock().unwrap(), 0);
    }
}
