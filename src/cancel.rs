//! Stopping a run on SIGINT or SIGTERM without leaving anything behind. A cancelled Actions job
//! sends SIGINT, then SIGTERM, then kills; a person presses Ctrl-C. Either way the run must
//! still stop its programs, drop its scratch database, delete its temporary folders and write
//! its report, so the signal is not allowed to end the process: it cancels a [`Cancel`] that
//! the checks carry, every stage of a restore stops at its next await, and the ordinary cleanup
//! paths run. Further signals while that happens are noted and ignored, so they cannot cut the
//! cleanup or the report short.

use std::sync::{Arc, OnceLock};

use nix::sys::signal::Signal;
use tokio_util::sync::CancellationToken;

/// A run's cancellation: a token every stage can wait on, and the signal that cancelled it.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    token: CancellationToken,
    signal: Arc<OnceLock<Signal>>,
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the run because of `signal`; the first signal is the one remembered.
    pub fn cancel(&self, signal: Signal) {
        let _ = self.signal.set(signal);
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the run is cancelled (at once when it already is).
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// The signal that cancelled the run.
    pub fn signal(&self) -> Option<Signal> {
        self.signal.get().copied()
    }

    /// `SIGINT`, for details; `a signal` when cancelled some other way.
    pub fn signal_name(&self) -> &'static str {
        self.signal().map_or("a signal", |s| s.as_str())
    }

    /// The exit code of a run this cancelled, 128 + the signal's number (130 for SIGINT, 143
    /// for SIGTERM), as a shell reports a program a signal ended.
    pub fn exit_code(&self) -> Option<u8> {
        self.signal().map(|s| 128u8.saturating_add(s as i32 as u8))
    }
}

/// Turns SIGINT and SIGTERM into `cancel` for the rest of the process, from the runtime this
/// is called in. The handlers are in place when this returns; a signal before then still ends
/// the process the default way.
pub fn on_signals(cancel: &Cancel) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let cancel = cancel.clone();
    tokio::spawn(async move {
        loop {
            let got = tokio::select! {
                Some(()) = int.recv() => Signal::SIGINT,
                Some(()) = term.recv() => Signal::SIGTERM,
                else => return,
            };
            if cancel.is_cancelled() {
                tracing::warn!(
                    signal = got.as_str(),
                    "already stopping: cleaning up and writing the report first"
                );
            } else {
                tracing::warn!(
                    signal = got.as_str(),
                    "cancelled: stopping the checks, cleaning up, writing the report"
                );
                cancel.cancel(got);
            }
        }
    });
    Ok(())
}

/// From here on SIGINT and SIGTERM cancel the checks instead of ending the process, so the
/// cleanup runs and the report is written. Without the handlers (which should not happen) the
/// run goes on as before: a signal then ends it the default way.
pub fn listen_for_signals(cancel: &Cancel) {
    if let Err(e) = on_signals(cancel) {
        tracing::warn!("cannot handle SIGINT/SIGTERM: {e}; a signal will end the run at once");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_names_the_cancellation_and_its_exit_code() {
        let cancel = Cancel::new();
        assert!(!cancel.is_cancelled());
        assert_eq!(cancel.exit_code(), None);
        cancel.cancel(Signal::SIGINT);
        cancel.cancel(Signal::SIGTERM);
        assert!(cancel.is_cancelled());
        assert_eq!(cancel.signal_name(), "SIGINT");
        assert_eq!(cancel.exit_code(), Some(130));
        let term = Cancel::new();
        term.cancel(Signal::SIGTERM);
        assert_eq!(term.exit_code(), Some(143));
    }

    #[tokio::test]
    async fn a_clone_sees_the_cancellation() {
        let cancel = Cancel::new();
        let seen = cancel.clone();
        let waiter = tokio::spawn(async move {
            seen.cancelled().await;
            seen.signal_name()
        });
        cancel.cancel(Signal::SIGTERM);
        assert_eq!(waiter.await.unwrap(), "SIGTERM");
    }
}
