//! The alert state shared by every channel: per schedule and per channel, the failure episode
//! (when it opened, when the channel was last told, whether it recovered). It decides what a
//! channel hears on a run — one message when an episode opens, a reminder at most every
//! [`REMINDER`] while it lasts, one when it recovers — and records what was delivered. It is
//! kept in the KPI state committed to the repository, so it outlives the runner.
//!
//! A channel that was not reached is not marked as told: the next run tries again. A chaos
//! drill always sends and never changes the state. Pure: `now` is an argument.

use chrono::{DateTime, Duration, Utc};

pub use crate::kpi::{AlertState, Episode, EpisodeStatus};
use crate::report::rfc3339;

/// How often a channel is reminded that an episode is still going on.
pub const REMINDER: Duration = Duration::hours(24);

/// What a channel is to say on this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A failure: the episode opens (or it was never heard of yet).
    Failed,
    /// The episode goes on; the channel was last told at `last_sent`.
    StillFailing {
        since: DateTime<Utc>,
        last_sent: DateTime<Utc>,
    },
    /// The schedule passes again after failing since `since`.
    Recovered { since: DateTime<Utc> },
    /// A chaos drill's failure.
    Drill,
}

/// What a channel does on this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Send(Message),
    /// Still failing and told recently: nothing until `next`.
    Quiet {
        since: DateTime<Utc>,
        next: DateTime<Utc>,
    },
    /// Passing, and no episode to close.
    Nothing,
}

impl Plan {
    /// The line a channel's note ends with when it stays quiet.
    pub fn quiet_note(&self) -> Option<String> {
        match self {
            Plan::Quiet { since, next } => Some(format!(
                "still failing since {}, already told; next reminder after {}",
                rfc3339::format(since),
                rfc3339::format(next)
            )),
            Plan::Nothing => Some("nothing to report".to_string()),
            Plan::Send(_) => None,
        }
    }
}

/// What a channel does for a report (`ok`, `chaos`) given its episode.
pub fn plan(episode: Option<&Episode>, ok: bool, chaos: bool, now: DateTime<Utc>) -> Plan {
    if chaos {
        return Plan::Send(Message::Drill);
    }
    let failing = episode.filter(|e| e.status == EpisodeStatus::Failing);
    match (ok, failing) {
        (true, Some(e)) => Plan::Send(Message::Recovered { since: e.opened_at }),
        (true, None) => Plan::Nothing,
        (false, None) => Plan::Send(Message::Failed),
        (false, Some(e)) => match e.last_sent_at {
            None => Plan::Send(Message::Failed),
            Some(last) if now - last >= REMINDER => Plan::Send(Message::StillFailing {
                since: e.opened_at,
                last_sent: last,
            }),
            Some(last) => Plan::Quiet {
                since: e.opened_at,
                next: last + REMINDER,
            },
        },
    }
}

/// The episode after this run: `delivered` says whether the channel accepted the message the
/// plan asked for.
pub fn after(
    episode: Option<&Episode>,
    plan: &Plan,
    delivered: bool,
    now: DateTime<Utc>,
) -> Option<Episode> {
    let Plan::Send(message) = plan else {
        return episode.cloned();
    };
    let sent = delivered.then_some(now);
    match message {
        Message::Drill => episode.cloned(),
        Message::Failed => {
            // An episode that was never heard of keeps the time it opened.
            let going_on = episode.filter(|e| e.status == EpisodeStatus::Failing);
            Some(Episode {
                status: EpisodeStatus::Failing,
                opened_at: going_on.map_or(now, |e| e.opened_at),
                last_sent_at: sent,
                url: going_on.and_then(|e| e.url.clone()),
            })
        }
        Message::StillFailing { .. } if delivered => episode.cloned().map(|e| Episode {
            last_sent_at: sent,
            ..e
        }),
        Message::Recovered { .. } if delivered => episode.cloned().map(|e| Episode {
            status: EpisodeStatus::Recovered,
            last_sent_at: sent,
            ..e
        }),
        // Not delivered: unchanged, so the next run tries again.
        Message::StillFailing { .. } | Message::Recovered { .. } => episode.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(hours)
    }

    /// Runs a sequence of (ok, delivered) at the given hours; returns the plans.
    fn replay(runs: &[(i64, bool, bool)]) -> (Vec<Plan>, Option<Episode>) {
        let mut ep: Option<Episode> = None;
        let mut plans = Vec::new();
        for &(h, ok, delivered) in runs {
            let p = plan(ep.as_ref(), ok, false, at(h));
            ep = after(ep.as_ref(), &p, delivered, at(h));
            plans.push(p);
        }
        (plans, ep)
    }

    #[test]
    fn one_message_per_episode_a_daily_reminder_and_the_recovery() {
        let (plans, ep) = replay(&[
            (0, false, true),
            (1, false, true),
            (23, false, true),
            (24, false, true),
            (30, true, true),
            (31, true, true),
        ]);
        assert_eq!(plans[0], Plan::Send(Message::Failed));
        assert_eq!(
            plans[1],
            Plan::Quiet {
                since: at(0),
                next: at(24)
            }
        );
        assert!(matches!(plans[2], Plan::Quiet { .. }));
        assert_eq!(
            plans[3],
            Plan::Send(Message::StillFailing {
                since: at(0),
                last_sent: at(0)
            })
        );
        assert_eq!(plans[4], Plan::Send(Message::Recovered { since: at(0) }));
        assert_eq!(plans[5], Plan::Nothing);
        let ep = ep.unwrap();
        assert_eq!(ep.status, EpisodeStatus::Recovered);
        assert_eq!(ep.last_sent_at, Some(at(30)));
    }

    #[test]
    fn an_undelivered_message_is_tried_again_on_the_next_run() {
        let (plans, _) = replay(&[(0, false, false), (1, false, true), (2, false, true)]);
        assert_eq!(plans[0], Plan::Send(Message::Failed));
        assert_eq!(
            plans[1],
            Plan::Send(Message::Failed),
            "never told: told now"
        );
        assert!(matches!(plans[2], Plan::Quiet { since, .. } if since == at(0)));
        let (plans, ep) = replay(&[(0, false, true), (5, true, false), (6, true, true)]);
        assert_eq!(plans[1], Plan::Send(Message::Recovered { since: at(0) }));
        assert_eq!(plans[2], plans[1], "the recovery is sent until it arrives");
        assert_eq!(ep.unwrap().status, EpisodeStatus::Recovered);
    }

    #[test]
    fn a_new_failure_after_a_recovery_opens_a_new_episode() {
        let (plans, ep) = replay(&[(0, false, true), (2, true, true), (3, false, true)]);
        assert_eq!(plans[2], Plan::Send(Message::Failed));
        assert_eq!(ep.unwrap().opened_at, at(3));
    }

    #[test]
    fn a_drill_always_sends_and_leaves_the_episode_alone() {
        let ep = Episode {
            status: EpisodeStatus::Failing,
            opened_at: at(0),
            last_sent_at: Some(at(0)),
            url: None,
        };
        let p = plan(Some(&ep), false, true, at(1));
        assert_eq!(p, Plan::Send(Message::Drill));
        assert_eq!(after(Some(&ep), &p, true, at(1)), Some(ep.clone()));
        assert_eq!(after(None, &p, true, at(1)), None);
    }

    #[test]
    fn the_state_round_trips_as_json() {
        let mut state = AlertState::new();
        state.entry("weekly".into()).or_default().insert(
            "slack".into(),
            Episode {
                status: EpisodeStatus::Failing,
                opened_at: at(0),
                last_sent_at: None,
                url: Some("https://github.com/acme/app/issues/7".into()),
            },
        );
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains(r#""status":"failing""#), "{text}");
        assert!(
            text.contains(r#""opened-at":"2023-11-14T22:13:20Z""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<AlertState>(&text).unwrap(), state);
    }
}
