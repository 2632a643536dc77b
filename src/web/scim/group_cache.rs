//! Large groups' answers, kept ready (issue 17 item 2). A GET of a group of 10,000 members
//! reads 10,000 user rows, writes 1.3 MB and, for Okta (`Accept-Encoding: gzip,deflate`),
//! compresses it: about 7 ms of CPU uncompressed and 10 ms gzipped, every time. The answer
//! only changes when the group's version does, so a large group's rendered body (and its gzip
//! encoding, made once) is kept and served again while its version is unchanged.
//!
//! What makes this safe: a group's version moves with every change to what its answer shows
//! — its own attributes and membership (`store::groups::touch`/`update`), a member's display
//! name or a member's deletion (`store::users`, RFC 7644 §3.14) — and the version is read
//! from the database on every GET, so a change made by another process (the operator
//! commands) or another appliance is seen at once. The rest of the answer that can change
//! without the version (the Base URL, the owning integration's name in the provisioning
//! extension) is part of the entry's key.
//!
//! A group not yet known to be large is read and rendered in one read, as any resource; once
//! its answer is kept, each GET reads the group without its members first, and only a stale
//! answer is made again, by one request at a time ([`GroupAnswers::turn`]).
//!
//! Limits: only answers of at least [`MIN_BYTES`] are kept (a group of about 500 members;
//! smaller ones render in well under a millisecond), only the plain projection (no
//! `attributes`/`excludedAttributes`), and at most [`BUDGET_BYTES`] in all (plain and gzip
//! bytes), the least recently used entry going first.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use actix_web::HttpRequest;
use actix_web::http::header::{AcceptEncoding, ContentEncoding, Encoding, Header};
use actix_web::web::Bytes;

/// The smallest answer kept: 64 KiB.
pub const MIN_BYTES: usize = 64 * 1024;

/// The most kept in all: 64 MiB (about 45 groups of 10,000 members, or 4 of 100,000).
pub const BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// What an answer depends on besides the group's id and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub group_id: String,
    /// The integration's Base URL (members' `$ref`, `meta.location`).
    pub base: String,
}

/// The parts of an answer that are read anew on each GET and must match the kept entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub version: i64,
    /// The provisioning extension as rendered (the owner's name may change without the
    /// group's version).
    pub provenance: String,
}

#[derive(Debug)]
struct Entry {
    stamp: Stamp,
    plain: Bytes,
    gzip: Option<Bytes>,
    used: u64,
}

impl Entry {
    fn size(&self) -> usize {
        self.plain.len() + self.gzip.as_ref().map_or(0, Bytes::len)
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    bytes: usize,
    clock: u64,
}

/// The kept answers of large groups.
#[derive(Debug, Default)]
pub struct GroupAnswers {
    inner: Mutex<Inner>,
    /// Turns to make a missing answer, by a hash of its key ([`GroupAnswers::turn`]).
    turns: [tokio::sync::Mutex<()>; 16],
}

/// How an answer goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    /// As it is, or in an encoding left to the `Compress` middleware (deflate).
    Other,
}

/// The encoding `Compress` would choose for this request, among the ones this appliance
/// speaks (actix-web's negotiation: highest quality, then gzip before deflate).
pub fn coding(req: &HttpRequest) -> Coding {
    let supported = [Encoding::gzip(), Encoding::deflate(), Encoding::identity()];
    match AcceptEncoding::parse(req)
        .ok()
        .and_then(|a| a.negotiate(supported.iter()))
    {
        Some(e) if e == Encoding::gzip() => Coding::Gzip,
        _ => Coding::Other,
    }
}

/// A kept answer: its bytes and their `Content-Encoding` (None: plain).
#[derive(Debug, Clone)]
pub struct Kept {
    pub body: Bytes,
    pub encoding: Option<ContentEncoding>,
}

/// Gzip-compresses `body` at the level actix-web's `Compress` uses (fast).
pub fn gzip(body: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    Bytes::from(enc.finish().unwrap_or_default())
}

impl GroupAnswers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kept answer for `key` if it was made at `stamp`, in `coding`. `Err(plain)`: kept,
    /// but not yet in gzip; compress it and [`Self::add_gzip`].
    pub fn get(&self, key: &Key, stamp: &Stamp, coding: Coding) -> Option<Result<Kept, Bytes>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let e = inner.entries.get_mut(key)?;
        if &e.stamp != stamp {
            return None;
        }
        e.used = now;
        Some(match (coding, &e.gzip) {
            (Coding::Gzip, Some(g)) => Ok(Kept {
                body: g.clone(),
                encoding: Some(ContentEncoding::Gzip),
            }),
            (Coding::Gzip, None) => Err(e.plain.clone()),
            (Coding::Other, _) => Ok(Kept {
                body: e.plain.clone(),
                encoding: None,
            }),
        })
    }

    /// Keeps `plain` (and its gzip, when made) as the answer for `key` at `stamp`, when it is
    /// large enough to be worth keeping and fits the budget.
    pub fn put(&self, key: Key, stamp: Stamp, plain: Bytes, gzip: Option<Bytes>) {
        let mut inner = self.lock();
        if plain.len() < MIN_BYTES {
            // The group is small now: forget it, so that its GETs are plain reads again.
            if let Some(old) = inner.entries.remove(&key) {
                inner.bytes -= old.size();
            }
            return;
        }
        inner.clock += 1;
        let entry = Entry {
            stamp,
            plain,
            gzip,
            used: inner.clock,
        };
        let size = entry.size();
        if size > BUDGET_BYTES {
            return;
        }
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.size();
        }
        while inner.bytes + size > BUDGET_BYTES {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.size();
            }
        }
        inner.bytes += size;
        inner.entries.insert(key, entry);
    }

    /// Adds the gzip encoding to the entry for `key`, if it is still the one made at `stamp`.
    pub fn add_gzip(&self, key: &Key, stamp: &Stamp, gzip: Bytes) {
        let mut inner = self.lock();
        let Some(e) = inner.entries.get_mut(key) else {
            return;
        };
        if &e.stamp != stamp || e.gzip.is_some() {
            return;
        }
        let added = gzip.len();
        e.gzip = Some(gzip);
        inner.bytes += added;
    }

    /// Whether an answer is kept for `key`, at any version: the group is large (or was when it
    /// was last rendered).
    pub fn known(&self, key: &Key) -> bool {
        self.lock().entries.contains_key(key)
    }

    /// Waits for the turn to make the answer for `key`: of several requests that find it
    /// stale at once, one renders it and the others, when their turn comes, find it kept.
    /// Keys share 16 turns by hash; two groups rendered at once on the same turn wait for
    /// each other, which costs time, not CPU.
    pub async fn turn(&self, key: &Key) -> tokio::sync::MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(key, &mut h);
        let i = std::hash::Hasher::finish(&h) as usize % self.turns.len();
        self.turns[i].lock().await
    }

    /// How many answers are kept, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(id: &str) -> Key {
        Key {
            group_id: id.into(),
            base: "https://a/scim/v2/i".into(),
        }
    }

    fn stamp(v: i64) -> Stamp {
        Stamp {
            version: v,
            provenance: "{}".into(),
        }
    }

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn serves_only_the_same_version_and_provenance() {
        let c = GroupAnswers::default();
        c.put(key("g"), stamp(3), body(MIN_BYTES), None);
        assert!(c.get(&key("g"), &stamp(3), Coding::Other).is_some());
        assert!(c.get(&key("g"), &stamp(4), Coding::Other).is_none());
        let renamed = Stamp {
            provenance: "{\"x\":1}".into(),
            ..stamp(3)
        };
        assert!(c.get(&key("g"), &renamed, Coding::Other).is_none());
        assert!(c.get(&key("h"), &stamp(3), Coding::Other).is_none());
    }

    #[test]
    fn small_answers_are_not_kept() {
        let c = GroupAnswers::default();
        c.put(key("g"), stamp(1), body(MIN_BYTES - 1), None);
        assert_eq!(c.usage(), (0, 0));
        assert!(!c.known(&key("g")));
        // A large group that became small is forgotten.
        c.put(key("g"), stamp(2), body(MIN_BYTES), None);
        assert!(c.known(&key("g")));
        c.put(key("g"), stamp(3), body(MIN_BYTES - 1), None);
        assert!(!c.known(&key("g")));
        assert_eq!(c.usage(), (0, 0));
    }

    #[test]
    fn gzip_is_added_once_and_served() {
        let c = GroupAnswers::default();
        let plain = Bytes::from(br#"{"a":1}"#.repeat(MIN_BYTES / 7 + 1));
        c.put(key("g"), stamp(1), plain.clone(), None);
        let Some(Err(p)) = c.get(&key("g"), &stamp(1), Coding::Gzip) else {
            panic!("gzip should be missing");
        };
        assert_eq!(p, plain);
        let z = gzip(&p);
        c.add_gzip(&key("g"), &stamp(1), z.clone());
        let Some(Ok(k)) = c.get(&key("g"), &stamp(1), Coding::Gzip) else {
            panic!("gzip should be kept");
        };
        assert_eq!(k.body, z);
        assert_eq!(k.encoding, Some(ContentEncoding::Gzip));
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&k.body[..]), &mut out)
            .unwrap();
        assert_eq!(out, plain);
        assert_eq!(c.usage(), (1, plain.len() + z.len()));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used() {
        let c = GroupAnswers::default();
        let n = BUDGET_BYTES / 4;
        for id in ["a", "b", "c", "d"] {
            c.put(key(id), stamp(1), body(n), None);
        }
        assert_eq!(c.usage(), (4, BUDGET_BYTES));
        // "a" is used, so "b" is now the oldest.
        assert!(c.get(&key("a"), &stamp(1), Coding::Other).is_some());
        c.put(key("e"), stamp(1), body(n), None);
        assert!(c.get(&key("b"), &stamp(1), Coding::Other).is_none());
        assert!(c.get(&key("a"), &stamp(1), Coding::Other).is_some());
        assert_eq!(c.usage(), (4, BUDGET_BYTES));
        // Replacing an entry frees the old one first.
        c.put(key("a"), stamp(2), body(n), None);
        assert_eq!(c.usage(), (4, BUDGET_BYTES));
        // An answer larger than the whole budget is not kept.
        c.put(key("z"), stamp(1), body(BUDGET_BYTES + 1), None);
        assert!(c.get(&key("z"), &stamp(1), Coding::Other).is_none());
    }
}
