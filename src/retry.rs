//! The one retry policy of the tool's own HTTP calls (GitHub, Slack, the OIDC token, STS), run
//! by `backon`. A [`RetryPolicy`] says how many attempts are made in all, how the wait between
//! them grows (doubling from the first, capped), and optionally a deadline past which no wait
//! may end; [`run`] makes the calls and asks the caller's [`Verdict`] of each failure whether to
//! give up, retry after the policy's wait, or retry after a wait the server asked for
//! (`Retry-After`). The failure it hands back says how many attempts were made and how long
//! they took, for the caller's message.
//!
//! The S3 client is not retried here: the AWS SDK has its own bounded retry, set in
//! [`crate::aws`].

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// How often and how long a call is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub attempts: u32,
    /// The wait before the second attempt; each later wait doubles it.
    pub first_backoff: Duration,
    /// No wait grows past this.
    pub max_backoff: Option<Duration>,
    /// Counted from the first attempt: a retry whose wait would end after it is not made.
    pub deadline: Option<Duration>,
}

impl RetryPolicy {
    /// The time an attempt started `started` after the first may still take: what is left of
    /// the deadline, at least a second (a slow server must not outlive the budget).
    pub fn remaining(&self, started: std::time::Instant) -> Duration {
        self.deadline
            .unwrap_or(Duration::MAX)
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1))
    }

    /// `attempts` in all, waiting `first_backoff`, then twice that, and so on, without bound.
    pub const fn new(attempts: u32, first_backoff: Duration) -> Self {
        RetryPolicy {
            attempts,
            first_backoff,
            max_backoff: None,
            deadline: None,
        }
    }

    pub const fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = Some(max);
        self
    }

    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The same policy with `attempts` in all.
    pub const fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(self.first_backoff)
            .with_max_times(self.attempts.saturating_sub(1) as usize);
        match self.max_backoff {
            Some(max) => builder.with_max_delay(max),
            None => builder.without_max_delay(),
        }
    }

    /// The policy's waits, before the second attempt, the third, and so on (without the
    /// deadline, which depends on how long the attempts take).
    pub fn waits(&self) -> impl Iterator<Item = Duration> + use<> {
        self.backoff().build()
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The failure is final: no other attempt.
    GiveUp,
    /// Retry after the policy's wait.
    Retry,
    /// Retry after this wait (the server's `Retry-After`) instead of the policy's.
    RetryAfter(Duration),
}

/// The last failure, and how the attempts went.
#[derive(Debug)]
pub struct Failure<E> {
    pub error: E,
    /// Attempts made, the failed last one included.
    pub attempts: u32,
    /// From the start of the first attempt to the end of the last.
    pub elapsed: Duration,
}

/// Calls `call` until it succeeds, `verdict` says a failure is final, the attempts are used up
/// or the next wait would end past the deadline. `what` names the call in the log.
pub async fn run<T, E, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut call: F,
    verdict: impl Fn(&E) -> Verdict,
) -> Result<T, Failure<E>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    // Atomic, not a `Cell`, so the retried future is `Send` (it runs on spawned tasks too).
    let attempts = AtomicU32::new(0);
    let result = (|| {
        attempts.fetch_add(1, Ordering::Relaxed);
        call()
    })
    .retry(policy.backoff())
    .sleep(tokio::time::sleep)
    // The policy's wait is `None` once the attempts are used up: no `Retry-After` may extend
    // them.
    .adjust(|err, wait| {
        let wait = match (verdict(err), wait?) {
            (Verdict::GiveUp, _) => return None,
            (Verdict::Retry, wait) => wait,
            (Verdict::RetryAfter(asked), _) => asked,
        };
        let past_deadline = policy
            .deadline
            .is_some_and(|deadline| started.elapsed() + wait > deadline);
        (!past_deadline).then_some(wait)
    })
    .notify(|err, wait| {
        tracing::warn!(
            what,
            attempt = attempts.load(Ordering::Relaxed),
            error = %err,
            "failed; retrying in {wait:?}"
        );
    })
    .await;
    result.map_err(|error| Failure {
        error,
        attempts: attempts.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: RetryPolicy = RetryPolicy::new(4, Duration::from_millis(1));

    /// Runs `policy` against a call that fails with the `n`th (1-based) of `errors`, and
    /// succeeds once they run out. Returns the outcome and the number of calls made.
    async fn against(
        policy: &RetryPolicy,
        errors: &[Verdict],
    ) -> (Result<u32, Failure<String>>, u32) {
        let calls = std::cell::Cell::new(0u32);
        let result = run(
            policy,
            "test",
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                let error = errors.get(n as usize - 1).copied();
                async move {
                    match error {
                        Some(v) => Err(format!("{v:?} #{n}")),
                        None => Ok(n),
                    }
                }
            },
            |e: &String| {
                let n: usize = e.rsplit('#').next().unwrap().parse().unwrap();
                errors[n - 1]
            },
        )
        .await;
        (result, calls.get())
    }

    #[tokio::test]
    async fn a_persistent_failure_is_tried_exactly_the_policys_attempts() {
        let (result, calls) = against(&FAST, &[Verdict::Retry; 10]).await;
        let failure = result.unwrap_err();
        assert_eq!((calls, failure.attempts), (4, 4));
        assert_eq!(failure.error, "Retry #4");
        let once = FAST.with_attempts(1);
        let (result, calls) = against(&once, &[Verdict::Retry; 10]).await;
        assert_eq!((calls, result.unwrap_err().attempts), (1, 1));
    }

    #[tokio::test]
    async fn a_final_failure_stops_at_once_and_a_success_ends_the_retries() {
        let (result, calls) = against(&FAST, &[Verdict::Retry, Verdict::GiveUp]).await;
        assert_eq!(calls, 2);
        assert_eq!(result.unwrap_err().error, "GiveUp #2");
        let (result, calls) = against(&FAST, &[Verdict::Retry, Verdict::Retry]).await;
        assert_eq!((result.unwrap(), calls), (3, 3));
    }

    #[tokio::test]
    async fn retry_after_replaces_the_wait_but_not_the_attempt_count() {
        let asked = Verdict::RetryAfter(Duration::from_millis(60));
        let started = Instant::now();
        let (result, calls) = against(&FAST, &[asked; 10]).await;
        assert_eq!(calls, 4);
        assert_eq!(result.unwrap_err().attempts, 4);
        assert!(started.elapsed() >= Duration::from_millis(180));
    }

    #[tokio::test]
    async fn no_wait_may_end_past_the_deadline() {
        let policy = RetryPolicy::new(10, Duration::from_millis(40))
            .with_deadline(Duration::from_millis(100));
        // Waits of 40 ms then 80 ms: the second would end at about 120 ms, past 100.
        let (result, calls) = against(&policy, &[Verdict::Retry; 10]).await;
        assert_eq!(calls, 2);
        assert!(result.unwrap_err().elapsed < Duration::from_millis(100));
        let asked = Verdict::RetryAfter(Duration::from_millis(150));
        let (_, calls) = against(&policy, &[asked; 10]).await;
        assert_eq!(
            calls, 1,
            "a Retry-After past the deadline is not waited for"
        );
    }

    #[test]
    fn waits_double_from_the_first_and_stop_at_the_cap() {
        let secs = |p: RetryPolicy| p.waits().map(|d| d.as_millis()).collect::<Vec<_>>();
        let capped =
            RetryPolicy::new(7, Duration::from_secs(1)).with_max_backoff(Duration::from_secs(8));
        assert_eq!(secs(capped), [1000, 2000, 4000, 8000, 8000, 8000]);
        let uncapped = RetryPolicy::new(4, Duration::from_millis(500));
        assert_eq!(secs(uncapped), [500, 1000, 2000]);
        assert_eq!(secs(uncapped.with_attempts(1)), Vec::<u128>::new());
    }
}
