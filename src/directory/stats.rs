//! Figures for `/metrics` (issue 16 item 2), read in one go on a read connection when
//! Prometheus scrapes: the outbox by status and the directory's size per owner.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::directory::{Directory, Error};
use crate::store::{integrations, outbox};

/// What a scrape reads from the database.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub outbox_failed: i64,
    /// When the oldest pending message was queued; `None` with no pending message.
    pub oldest_pending: Option<OffsetDateTime>,
    /// (integration name, count); `None` for the manual users (or groups).
    pub users: Vec<(Option<String>, i64)>,
    pub groups: Vec<(Option<String>, i64)>,
}

impl Directory {
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.store
            .read(|tx| {
                let (outbox_pending, outbox_sent, outbox_failed, oldest) = outbox::stats(tx)?;
                Ok(Stats {
                    outbox_pending,
                    outbox_sent,
                    outbox_failed,
                    oldest_pending: oldest.and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok()),
                    users: integrations::owned_counts(tx, false)?,
                    groups: integrations::owned_counts(tx, true)?,
                })
            })
            .await
    }
}
