//! The Activity log: one entry per SCIM request (time, integration, method, path, status,
//! latency and a one-line account of what it changed).
//!
//! Entries are buffered in memory and written in batches (one write job per flush, at most once
//! a second or every [`FLUSH_AT`] entries), so recording never adds an fsync of its own to a
//! request. A crash loses at most the last second of activity; the changes themselves were
//! committed by their own requests. Each flush also prunes rows older than the retention period
//! and beyond the row limit (`activity.retention_days`, `activity.max_entries`).

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::directory::{Directory, Error, format_time};
use crate::scim::redact::{self, Kept};
use crate::store::Store;
use crate::store::activity::{self, ActivityFilter, ActivityRow};

/// Entries buffered before a flush is due regardless of the clock.
pub const FLUSH_AT: usize = 256;
/// The most entries held in memory; beyond it new entries are dropped (and counted in the log),
/// so a database that cannot be written cannot exhaust memory.
pub const MAX_BUFFERED: usize = 20_000;
/// How often the background task flushes.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    pub max_entries: u64,
    /// The most bytes of a request body kept (after redaction); 0 keeps none.
    pub max_body_bytes: usize,
}

/// The most bytes of request bodies held in memory while waiting for a flush; beyond it the
/// bodies of further requests are not kept (their entries are).
pub const MAX_BUFFERED_BODY_BYTES: usize = 16 * 1024 * 1024;

/// One SCIM request, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub integration_id: Option<String>,
    pub integration_name: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub latency_ms: u64,
    pub summary: String,
    pub user_id: Option<String>,
    /// The request body as received (redacted before it is written).
    pub body: Option<Vec<u8>>,
}

#[derive(Default)]
struct Buffer {
    rows: Vec<(ActivityRow, Option<Vec<u8>>)>,
    body_bytes: usize,
}

pub struct ActivityLog {
    buffer: Mutex<Buffer>,
    retention: Retention,
}

impl ActivityLog {
    pub fn new(retention: Retention) -> ActivityLog {
        ActivityLog {
            buffer: Mutex::new(Buffer::default()),
            retention,
        }
    }

    /// Buffers an entry; returns true when a flush is due.
    pub fn record(&self, e: Entry) -> bool {
        let mut buf = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if buf.rows.len() >= MAX_BUFFERED {
            tracing::warn!("activity buffer full; an activity entry was dropped");
            return true;
        }
        let body_bytes = e
            .body
            .as_ref()
            .map(|b| i64::try_from(b.len()).unwrap_or(i64::MAX));
        let (raw, body_note) = match e.body {
            None => (None, None),
            Some(_) if self.retention.max_body_bytes == 0 => (
                None,
                Some("not kept: activity.max_body_bytes is 0".to_owned()),
            ),
            Some(b) if buf.body_bytes + b.len() > MAX_BUFFERED_BODY_BYTES => (
                None,
                Some("not kept: too many requests were waiting to be recorded".to_owned()),
            ),
            Some(b) => {
                buf.body_bytes += b.len();
                (Some(b), None)
            }
        };
        let row = ActivityRow {
            seq: 0,
            at: format_time(OffsetDateTime::now_utc()),
            integration_id: e.integration_id,
            integration_name: e.integration_name,
            method: e.method,
            path: e.path,
            status: i64::from(e.status),
            latency_ms: i64::try_from(e.latency_ms).unwrap_or(i64::MAX),
            summary: e.summary,
            user_id: e.user_id,
            body: None,
            body_bytes,
            body_note,
        };
        buf.rows.push((row, raw));
        buf.rows.len() >= FLUSH_AT
    }

    /// Writes the buffered entries in one write job and prunes old ones.
    pub async fn flush(&self, store: &Store) -> Result<usize, Error> {
        let buffered = std::mem::take(&mut *self.buffer.lock().unwrap_or_else(|p| p.into_inner()));
        let n = buffered.rows.len();
        if n == 0 {
            return Ok(0);
        }
        // Secrets are removed here, before anything reaches the database.
        let max = self.retention.max_body_bytes;
        let rows: Vec<ActivityRow> = buffered
            .rows
            .into_iter()
            .map(|(mut row, raw)| {
                if let Some(raw) = raw {
                    match redact::keep(&raw, max) {
                        Kept::Json { text, cut } => {
                            row.body = Some(text);
                            if cut {
                                row.body_note = Some(format!(
                                    "cut to the first {max} bytes (activity.max_body_bytes), secrets redacted"
                                ));
                            }
                        }
                        Kept::NotJson => {
                            row.body_note = Some(
                                "not kept: it is not valid JSON, so secrets in it could not be redacted"
                                    .to_owned(),
                            );
                        }
                    }
                }
                row
            })
            .collect();
        let before = format_time(
            OffsetDateTime::now_utc()
                - Duration::from_secs(u64::from(self.retention.days) * 86_400),
        );
        let keep = i64::try_from(self.retention.max_entries).unwrap_or(i64::MAX);
        store
            .write(move |c| {
                for r in &rows {
                    activity::insert(c, r)?;
                }
                activity::prune(c, &before, keep)?;
                Ok::<_, Error>(())
            })
            .await?;
        Ok(n)
    }
}

/// A page of the Activity page.
#[derive(Debug, Clone)]
pub struct ActivityPage {
    pub total: u64,
    pub rows: Vec<ActivityRow>,
}

impl Directory {
    pub async fn activity(
        &self,
        filter: ActivityFilter,
        offset: u64,
        limit: u64,
    ) -> Result<ActivityPage, Error> {
        let (total, rows) = self
            .store
            .read(move |c| activity::list(c, &filter, offset, limit).map_err(Error::from))
            .await?;
        Ok(ActivityPage { total, rows })
    }

    /// One recorded request with its (redacted) body.
    pub async fn activity_entry(&self, seq: i64) -> Result<Option<ActivityRow>, Error> {
        self.store
            .read(move |c| activity::get(c, seq).map_err(Error::from))
            .await
    }

    /// The latest SCIM request of each integration: (integration id, time, status).
    pub async fn latest_requests(&self) -> Result<Vec<(String, String, i64)>, Error> {
        self.store
            .read(|c| activity::latest_per_integration(c).map_err(Error::from))
            .await
    }
}
