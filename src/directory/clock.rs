//! The directory's clock for token times (issue time, overlap end, expiry). It is the system
//! clock plus an offset that only tests move ([`Clock::advance`]), so that a test can show a
//! token working before and failing after a time hours or days away, without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

#[derive(Debug, Default)]
pub struct Clock {
    /// Seconds added to the system clock.
    offset_secs: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Moves this clock forward (tests only: nothing in the appliance calls it). Every later
    /// authentication sees the new time at once, whatever the authentication cache holds.
    #[doc(hidden)]
    pub fn advance(&self, by: std::time::Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances() {
        let c = Clock::default();
        let before = c.now();
        c.advance(std::time::Duration::from_secs(3600));
        assert!(c.now() - before >= time::Duration::hours(1));
    }
}
