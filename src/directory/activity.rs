//! The Activity log: one entry per SCIM request (time, integration, method, path, status,
//! latency and a one-line account of what it changed).
//!
//! Entries are buffered in memory and written in batches (one write job per flush, at most once
//! a second or every [`FLUSH_AT`] entries), so recording never adds an fsync of its own to a
//! request. A crash loses at most the last second of activity; the changes themselves were
//! committed by their own requests. Each flush also prunes rows older than the retention period
//! and beyond the row limit (`activity.retention_days`, `activity.max_entries`).
//!
//! Requests refused before authentication (no token, bad token, unknown Base URL, over a rate
//! limit) are counted, not stored one by one (issue 14 item 2): one row per minute per (Base
//! URL or path, reason, client address), written at the first flush after its first request
//! and updated with the count at later flushes, so a tokenless flood adds a handful of rows
//! and cannot push the real history out past `activity.max_entries`.

use std::collections::HashMap;
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
    /// The client address (`web::limits`).
    pub client: Option<String>,
}

/// A request refused before authentication, to be counted in its minute's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The Base URL path (`/scim/v2/{id}`) or, outside one, the path.
    pub path: String,
    /// The integration the Base URL names, when it is one.
    pub integration_id: Option<String>,
    pub method: String,
    pub reason: String,
    pub client: String,
    pub status: u16,
}

/// The most (minute, path, reason, address) counters held; beyond it new combinations are
/// counted together under [`VARIOUS`], so a flood from many addresses or paths stays bounded.
pub const MAX_REFUSED_KEYS: usize = 10_000;
/// The path and address of the counter that takes what [`MAX_REFUSED_KEYS`] leaves out.
pub const VARIOUS: &str = "(various)";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RefusedKey {
    /// `YYYY-MM-DDTHH:MM`, UTC.
    minute: String,
    path: String,
    reason: String,
    client: String,
}

#[derive(Debug)]
struct RefusedCount {
    at: String,
    integration_id: Option<String>,
    method: String,
    status: u16,
    count: i64,
    /// The row written for it, once written.
    seq: Option<i64>,
    /// Counted since the last write.
    dirty: bool,
    /// A flush is writing it now (another flush leaves it alone).
    writing: bool,
}

/// The one-line account of a counted row, as the Activity page shows it.
pub fn refused_summary(count: i64, reason: &str, client: &str) -> String {
    let what = if count == 1 {
        "refused request"
    } else {
        "refused requests"
    };
    format!("{count} {what}: {reason}, from {client}")
}

#[derive(Default)]
struct Buffer {
    rows: Vec<(ActivityRow, Option<Vec<u8>>)>,
    body_bytes: usize,
}

pub struct ActivityLog {
    buffer: Mutex<Buffer>,
    refused: Mutex<HashMap<RefusedKey, RefusedCount>>,
    retention: Retention,
}

impl ActivityLog {
    pub fn new(retention: Retention) -> ActivityLog {
        ActivityLog {
            buffer: Mutex::new(Buffer::default()),
            refused: Mutex::new(HashMap::new()),
            retention,
        }
    }

    /// Counts a request refused before authentication in its minute's row.
    pub fn record_refused(&self, r: Refused) {
        let now = OffsetDateTime::now_utc();
        let at = format_time(now);
        let minute = at.get(..16).unwrap_or(&at).to_owned();
        let mut map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = RefusedKey {
            minute,
            path: r.path,
            reason: r.reason,
            client: r.client,
        };
        let mut integration_id = r.integration_id;
        if map.len() >= MAX_REFUSED_KEYS && !map.contains_key(&key) {
            key.path = VARIOUS.to_owned();
            key.client = VARIOUS.to_owned();
            integration_id = None;
        }
        let c = map.entry(key).or_insert_with(|| RefusedCount {
            at,
            integration_id,
            method: r.method,
            status: r.status,
            count: 0,
            seq: None,
            dirty: false,
            writing: false,
        });
        c.count += 1;
        c.status = r.status;
        c.dirty = true;
    }

    /// Writes the counters counted since the last flush (a new row, or the row of that minute
    /// updated), then forgets those of minutes that have closed.
    async fn flush_refused(&self, store: &Store) -> Result<(), Error> {
        let batch: Vec<(RefusedKey, ActivityRow, Option<i64>)> = {
            let mut map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            map.iter_mut()
                .filter(|(_, c)| c.dirty && !c.writing)
                .map(|(k, c)| {
                    c.dirty = false;
                    c.writing = true;
                    let row = ActivityRow {
                        seq: 0,
                        at: c.at.clone(),
                        integration_id: c.integration_id.clone(),
                        integration_name: None,
                        method: c.method.clone(),
                        path: k.path.clone(),
                        status: i64::from(c.status),
                        latency_ms: 0,
                        summary: refused_summary(c.count, &k.reason, &k.client),
                        user_id: None,
                        body: None,
                        body_bytes: None,
                        body_note: None,
                        client: Some(k.client.clone()),
                        refused: Some(c.count),
                    };
                    (k.clone(), row, c.seq)
                })
                .collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        let rows: Vec<(ActivityRow, Option<i64>)> =
            batch.iter().map(|(_, r, s)| (r.clone(), *s)).collect();
        let written = store
            .write(move |c| {
                let mut seqs = Vec::with_capacity(rows.len());
                for (row, seq) in &rows {
                    let updated = match seq {
                        Some(seq) => activity::update_refused(
                            c,
                            *seq,
                            row.refused.unwrap_or(0),
                            row.status,
                            &row.summary,
                        )?
                        .then_some(*seq),
                        None => None,
                    };
                    seqs.push(match updated {
                        Some(seq) => seq,
                        None => activity::insert(c, row)?,
                    });
                }
                Ok::<_, Error>(seqs)
            })
            .await;
        let this_minute = {
            let at = format_time(OffsetDateTime::now_utc());
            at.get(..16).unwrap_or(&at).to_owned()
        };
        let mut map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        match &written {
            Ok(seqs) => {
                for ((k, _, _), seq) in batch.iter().zip(seqs) {
                    if let Some(c) = map.get_mut(k) {
                        c.seq = Some(*seq);
                        c.writing = false;
                    }
                }
            }
            Err(_) => {
                for (k, _, _) in &batch {
                    if let Some(c) = map.get_mut(k) {
                        c.writing = false;
                        c.dirty = true;
                    }
                }
            }
        }
        map.retain(|k, c| k.minute >= this_minute || c.dirty || c.writing);
        written.map(|_| ())
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
            client: e.client,
            refused: None,
        };
        buf.rows.push((row, raw));
        buf.rows.len() >= FLUSH_AT
    }

    /// Writes the buffered entries in one write job and prunes old ones.
    pub async fn flush(&self, store: &Store) -> Result<usize, Error> {
        self.flush_refused(store).await?;
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
                // Counted rows were written by `flush_refused` and are pruned alike.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &str, client: &str) -> Refused {
        Refused {
            path: path.to_owned(),
            integration_id: None,
            method: "GET".to_owned(),
            reason: "bad token".to_owned(),
            client: client.to_owned(),
            status: 401,
        }
    }

    #[test]
    fn refused_requests_are_counted_per_key_and_bounded() {
        let log = ActivityLog::new(Retention {
            days: 1,
            max_entries: 1000,
            max_body_bytes: 0,
        });
        for _ in 0..3 {
            log.record_refused(refused("/scim/v2/a", "192.0.2.1"));
        }
        log.record_refused(refused("/scim/v2/a", "192.0.2.2"));
        {
            let map = log.refused.lock().unwrap_or_else(|p| p.into_inner());
            let mut counts: Vec<i64> = map.values().map(|c| c.count).collect();
            counts.sort();
            // Two addresses; a minute boundary during the test may split one of them.
            assert!(counts == vec![1, 3] || map.len() == 3, "{counts:?}");
        }
        // A flood from ever-new paths and addresses stays within the bound.
        for i in 0..MAX_REFUSED_KEYS + 500 {
            log.record_refused(refused(&format!("/scim/v2/{i}"), &format!("x{i}")));
        }
        let map = log.refused.lock().unwrap_or_else(|p| p.into_inner());
        assert!(map.len() <= MAX_REFUSED_KEYS + 2, "{}", map.len());
        let various: i64 = map
            .iter()
            .filter(|(k, _)| k.client == VARIOUS && k.path == VARIOUS)
            .map(|(_, c)| c.count)
            .sum();
        assert!(various >= 500, "{various}");
    }

    #[test]
    fn summary_reads_as_one_line() {
        assert_eq!(
            refused_summary(412, "bad token", "203.0.113.9"),
            "412 refused requests: bad token, from 203.0.113.9"
        );
        assert_eq!(
            refused_summary(1, "no token", "::1"),
            "1 refused request: no token, from ::1"
        );
    }
}
