//! RFC 9865 cursors: opaque, tamper-evident positions in a list. A cursor holds the sort key
//! and `seq` of the last resource of a page, its expiry, and an HMAC over those and what it
//! is bound to (integration, resource type, filter and sort), with a key derived from the
//! secrets key ([`KEY_LABEL`]): a forged or altered cursor, or one used with another query or
//! by another integration, is `invalidCursor`; one older than [`CURSOR_TIMEOUT_SECS`] is
//! `expiredCursor`. The key is the same after a restart and on every appliance sharing the
//! database (issue 18 item 4); a `secrets rotate-key` changes it, so cursors issued before a
//! rotation are `invalidCursor`.
//!
//! Index paging borrows the same positions ([`ResumePoints`]): where a `startIndex` page
//! ended, so that the next page of the walk seeks there instead of skipping its offset.

use crate::store::SqlValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::auth::mac::MacKey;
use crate::scim::ScimError;
use crate::store::listing::Position;

/// How long a cursor stays valid (advertised as `pagination.cursorTimeout`).
pub const CURSOR_TIMEOUT_SECS: i64 = 3600;
/// What the cursor MAC key is derived for (`SecretsKey::derive_mac_key`).
pub const KEY_LABEL: &str = "scimgate list cursor v1";
/// Longest cursor accepted.
const MAX_CURSOR_LEN: usize = 2048;

fn invalid() -> ScimError {
    ScimError::InvalidCursor(
        "the cursor is not a nextCursor this server issued for this query (or it was issued before the secrets key was rotated); send an empty 'cursor' to start again".into(),
    )
}

fn key_json(k: &SqlValue) -> Value {
    match k {
        SqlValue::Null | SqlValue::Blob(_) => Value::Null,
        SqlValue::Integer(i) => json!(["i", i]),
        SqlValue::Real(f) => json!(["r", f]),
        SqlValue::Text(t) => json!(["t", t]),
    }
}

fn key_sql(v: &Value) -> Option<SqlValue> {
    match v {
        Value::Null => Some(SqlValue::Null),
        Value::Array(a) if a.len() == 2 => match (a[0].as_str()?, &a[1]) {
            ("i", n) => n.as_i64().map(SqlValue::Integer),
            ("r", n) => n.as_f64().map(SqlValue::Real),
            ("t", Value::String(s)) => Some(SqlValue::Text(s.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn signed(binding: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(binding.len() + 1 + payload.len());
    m.extend_from_slice(binding.as_bytes());
    m.push(0);
    m.extend_from_slice(payload);
    m
}

/// The cursor for the position after (`key`, `seq`) of a walk whose first page counted
/// `total` matches, valid until `now + CURSOR_TIMEOUT_SECS`.
pub fn encode(
    mac: &MacKey,
    binding: &str,
    key: &SqlValue,
    seq: i64,
    total: u64,
    now: i64,
) -> String {
    let payload = json!({"k": key_json(key), "s": seq, "t": total, "x": now + CURSOR_TIMEOUT_SECS})
        .to_string();
    let tag = mac.sign(&signed(binding, payload.as_bytes()));
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(&tag[..16])
    )
}

/// The `nextCursor` of a page: present when the query pages by cursor and more follow.
fn next<T>(
    mac: &MacKey,
    binding: &str,
    paging: &crate::scim::list::Paging,
    page: &crate::store::listing::ListPage<T>,
    now: i64,
) -> Option<String> {
    match (paging, page.more, &page.last) {
        (crate::scim::list::Paging::Cursor(_), true, Some((key, seq))) => {
            Some(encode(mac, binding, key, *seq, page.total, now))
        }
        _ => None,
    }
}

/// Where a page starts: after a cursor's position, after the position where the previous
/// page of an index-paged walk ended ([`ResumePoints`]), or at an offset.
fn start(
    mac: &MacKey,
    resume: &ResumePoints,
    binding: &str,
    paging: &crate::scim::list::Paging,
    changes: u64,
    now: i64,
) -> Result<crate::store::listing::Paging, ScimError> {
    use crate::scim::list::Paging as Asked;
    use crate::store::listing::Paging;
    Ok(match paging {
        Asked::Index(start) => {
            let offset = start.saturating_sub(1);
            match resume.take(binding, offset, changes) {
                Some(p) => Paging::After(Some(p)),
                None => Paging::Offset(offset),
            }
        }
        Asked::Cursor(None) => Paging::After(None),
        Asked::Cursor(Some(c)) => Paging::After(Some(decode(mac, binding, c, now)?)),
    })
}

/// After an index page of `shown` resources that another page follows: remembers where it
/// ended, for the walk's next page.
fn remember<T>(
    resume: &ResumePoints,
    binding: &str,
    paging: &crate::scim::list::Paging,
    page: &crate::store::listing::ListPage<T>,
    shown: usize,
    changes: u64,
) {
    if let (crate::scim::list::Paging::Index(start), true, Some((key, seq))) =
        (paging, page.more, &page.last)
    {
        let position = Position {
            key: key.clone(),
            seq: *seq,
            total: Some(page.total),
        };
        let next = start.saturating_sub(1).saturating_add(shown as u64);
        resume.put(binding, next, position, changes);
    }
}

/// A list query's paging: what binds its cursors and resume points (integration, resource
/// type, filter and sort), and the change counter read before the read.
pub struct Walk {
    binding: String,
    changes: u64,
    now: i64,
}

impl crate::directory::Directory {
    /// Where a page of `q` over `resource` (`Users`, `Groups`) for `me` starts, and the walk
    /// it belongs to (for [`walk_on`](Self::walk_on) after the read).
    pub(crate) fn walk(
        &self,
        me: &crate::directory::Integration,
        resource: &str,
        q: &crate::scim::list::ListQuery,
    ) -> Result<(Walk, crate::store::listing::Paging), ScimError> {
        let binding = format!("{}\u{0}{resource}\u{0}{}", me.id.as_str(), q.fingerprint);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // Read before the read starts: a change during the read moves it (see `ResumePoints`).
        let changes = self.store.changes();
        let start = start(
            &self.cursor_key,
            &self.resume,
            &binding,
            &q.paging,
            changes,
            now,
        )?;
        Ok((
            Walk {
                binding,
                changes,
                now,
            },
            start,
        ))
    }

    /// After the page of `shown` resources: its `nextCursor` (cursor paging), and where it
    /// ended for the walk's next index page.
    pub(crate) fn walk_on<T>(
        &self,
        w: &Walk,
        q: &crate::scim::list::ListQuery,
        page: &crate::store::listing::ListPage<T>,
        shown: usize,
    ) -> Option<String> {
        remember(&self.resume, &w.binding, &q.paging, page, shown, w.changes);
        next(&self.cursor_key, &w.binding, &q.paging, page, w.now)
    }
}

/// The position a cursor holds, if it is genuine, bound to `binding` and not expired.
pub fn decode(mac: &MacKey, binding: &str, cursor: &str, now: i64) -> Result<Position, ScimError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let (p, t) = cursor.split_once('.').ok_or_else(invalid)?;
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| invalid())?;
    let tag = URL_SAFE_NO_PAD.decode(t).map_err(|_| invalid())?;
    if tag.len() != 16 || !mac.verify(&signed(binding, &payload), &tag) {
        return Err(invalid());
    }
    let v: Value = serde_json::from_slice(&payload).map_err(|_| invalid())?;
    let expires = v.get("x").and_then(Value::as_i64).ok_or_else(invalid)?;
    if expires < now {
        return Err(ScimError::ExpiredCursor(format!(
            "the cursor has expired (cursors last {CURSOR_TIMEOUT_SECS} seconds); send an empty 'cursor' to start again"
        )));
    }
    let seq = v.get("s").and_then(Value::as_i64).ok_or_else(invalid)?;
    let key = v.get("k").and_then(key_sql).ok_or_else(invalid)?;
    let total = v.get("t").and_then(Value::as_u64);
    Ok(Position { key, seq, total })
}

/// Where index-paged walks stopped. Identity providers import a directory by `startIndex`
/// (Okta asks for 1, 101, 201, … one page after the other), and `OFFSET n` reads and discards
/// n rows: a page deep in a million users costs tens of milliseconds, a whole walk grows with
/// the square of the directory. When a page of a query ends at offset n, its last position is
/// kept; a request for that query at offset n, while the directory has not changed
/// ([`Store::changes`](crate::store::Store::changes)), starts right after that position (as a
/// cursor does) with the total already counted. The answer is the one `OFFSET` would give.
#[derive(Debug, Default)]
pub struct ResumePoints {
    points: std::sync::Mutex<std::collections::HashMap<(String, u64), (Position, u64)>>,
}

/// Walks in progress worth remembering; beyond this the map starts afresh (a walk that loses
/// its point pays one `OFFSET` page and goes on).
const MAX_RESUME_POINTS: usize = 1024;

impl ResumePoints {
    /// The position a page of the query bound to `binding` at `offset` may start after, if the
    /// page before it ended there and nothing changed since (`changes` as read now).
    pub fn take(&self, binding: &str, offset: u64, changes: u64) -> Option<Position> {
        let mut m = self.points.lock().unwrap_or_else(|e| e.into_inner());
        match m.remove(&(binding.to_owned(), offset)) {
            Some((p, at)) if at == changes => Some(p),
            _ => None,
        }
    }

    /// Remembers that a page of the query ended at `offset` (the next page's start) at
    /// `position`, read when the changes counter was `changes`.
    pub fn put(&self, binding: &str, offset: u64, position: Position, changes: u64) {
        let mut m = self.points.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_RESUME_POINTS {
            m.clear();
        }
        m.insert((binding.to_owned(), offset), (position, changes));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let mac = MacKey::random();
        for key in [
            SqlValue::Null,
            SqlValue::Integer(-3),
            SqlValue::Real(1.5),
            SqlValue::Text("straße \"x\"".into()),
        ] {
            let c = encode(&mac, "b", &key, 42, 7, 1000);
            assert_eq!(
                decode(&mac, "b", &c, 1000).unwrap(),
                Position {
                    key,
                    seq: 42,
                    total: Some(7)
                }
            );
            // Another query or integration.
            assert_eq!(
                decode(&mac, "c", &c, 1000).unwrap_err().scim_type(),
                Some("invalidCursor")
            );
            // Expired.
            assert_eq!(
                decode(&mac, "b", &c, 1000 + CURSOR_TIMEOUT_SECS + 1)
                    .unwrap_err()
                    .scim_type(),
                Some("expiredCursor")
            );
            // Another server key (a rotated secrets key).
            assert!(decode(&MacKey::random(), "b", &c, 1000).is_err());
        }
        // A payload edited without the key.
        let c = encode(&mac, "b", &SqlValue::Integer(1), 7, 0, 1000);
        let (_, tag) = c.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"k":null,"s":1,"x":99999999999}"#);
        assert!(decode(&mac, "b", &format!("{forged}.{tag}"), 1000).is_err());
        for junk in ["", "abc", "a.b", "!!.!!", &"x".repeat(5000)] {
            assert_eq!(
                decode(&mac, "b", junk, 1000).unwrap_err().scim_type(),
                Some("invalidCursor"),
                "{junk}"
            );
        }
    }

    #[test]
    fn resume_points_hold_while_nothing_changes() {
        let r = ResumePoints::default();
        let at = |seq| Position {
            key: SqlValue::Null,
            seq,
            total: Some(250),
        };
        r.put("i\0Users\0", 100, at(117), 7);
        // Another query, another offset, or a change since: no point.
        assert_eq!(r.take("j\0Users\0", 100, 7), None);
        assert_eq!(r.take("i\0Users\0", 200, 7), None);
        assert_eq!(r.take("i\0Users\0", 100, 8), None);
        // The change also dropped it.
        r.put("i\0Users\0", 100, at(117), 7);
        assert_eq!(r.take("i\0Users\0", 100, 7), Some(at(117)));
        // A point is used once: the page that uses it leaves the next one.
        assert_eq!(r.take("i\0Users\0", 100, 7), None);
        // Bounded.
        for o in 0..(MAX_RESUME_POINTS as u64 + 5) {
            r.put("i", o, at(1), 7);
        }
        assert!(r.points.lock().unwrap().len() <= MAX_RESUME_POINTS);
    }
}
