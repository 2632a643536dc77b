//! The user use-cases behind `/Users`: create, read, list, replace, patch, delete, each
//! applying the ownership rules of `policy` inside the same write job as the change, so that a
//! decision and the write it allows are one atomic step.

use serde_json::Value;

use crate::directory::outbox;
use crate::directory::policy::{self, Access, Owner, WriteDecision};
use crate::directory::{Directory, Error, Integration, Provenance, now};
use crate::scim::list::ListQuery;
use crate::scim::patch::{self, PatchOp};
use crate::scim::resource::{self, DocText, Document, Meta};
use crate::scim::schema;
use crate::store::Tx;
use crate::store::filter_sql::{compile, users_map};
use crate::store::provenance::{self, Kind};
use crate::store::users::{self, NewUser, UserRow};

/// A user as the directory hands it out; a list page leaves the document as its stored text
/// ([`DocText`]).
#[derive(Debug, Clone, PartialEq)]
pub struct User<D = Document> {
    pub meta: Meta,
    pub source: Option<String>,
    pub doc: D,
    /// The groups the user belongs to directly that the asking integration can see:
    /// (group id, displayName). `User.groups` is derived from memberships (RFC 7643 §4.1.2).
    pub groups: Vec<(String, String)>,
    pub provenance: Provenance,
}

impl User<DocText> {
    /// The userName, read from the stored text without building the document.
    pub fn user_name(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Name {
            #[serde(rename = "userName", default)]
            user_name: String,
        }
        serde_json::from_str::<Name>(self.doc.as_str())
            .map(|n| n.user_name)
            .unwrap_or_default()
    }
}

impl<D> From<UserRow<D>> for User<D> {
    fn from(r: UserRow<D>) -> Self {
        User {
            meta: Meta {
                id: r.id,
                created: r.created,
                last_modified: r.last_modified,
                version: r.version,
            },
            source: r.source,
            doc: r.doc,
            groups: Vec::new(),
            provenance: Provenance::default(),
        }
    }
}

/// The user with what is derived at read time: its `groups` as `me` may see them, and where
/// it comes from.
fn with_groups<D>(tx: &mut Tx<'_>, me: &Integration, row: UserRow<D>) -> Result<User<D>, Error> {
    let scope = policy::group_scope(me.settings, me.id.as_str());
    let groups = crate::store::groups::groups_of_user(tx, row.seq, &scope)?;
    let provenance = Provenance::load(tx, Kind::User, row.seq, row.source.as_deref())?;
    Ok(User {
        groups,
        provenance,
        ..User::from(row)
    })
}

/// [`with_groups`] for a page of users: three queries for the page instead of three per user.
fn with_groups_many<D>(
    tx: &mut Tx<'_>,
    me: &Integration,
    rows: Vec<UserRow<D>>,
) -> Result<Vec<User<D>>, Error> {
    use std::collections::HashMap;
    // An IdP lookup finds one user (or none): the plain queries cost less than the batched
    // ones' `json_each`.
    if rows.len() <= 1 {
        return rows.into_iter().map(|r| with_groups(tx, me, r)).collect();
    }
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let scope = policy::group_scope(me.settings, me.id.as_str());
    let mut groups: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (seq, id, name) in crate::store::groups::groups_of_users(tx, &seqs, &scope)? {
        groups.entry(seq).or_default().push((id, name));
    }
    let mut claims: HashMap<i64, crate::store::provenance::Claim> =
        crate::store::provenance::claims(tx, Kind::User, &seqs)?
            .into_iter()
            .collect();
    // A page usually has one or two sources.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let source = match row.source.as_deref() {
            Some(id) => {
                let name = match names.get(id) {
                    Some(n) => n.clone(),
                    None => {
                        let n =
                            crate::store::provenance::integration_name(tx, id)?.unwrap_or_default();
                        names.insert(id.to_owned(), n.clone());
                        n
                    }
                };
                Some((id.to_owned(), name))
            }
            None => None,
        };
        let provenance = Provenance {
            source,
            claim: claims.remove(&row.seq),
        };
        out.push(User {
            groups: groups.remove(&row.seq).unwrap_or_default(),
            provenance,
            ..User::from(row)
        });
    }
    Ok(out)
}

/// Whether a list is one of the identity providers' lookups — `userName eq`, `externalId eq`,
/// `id eq`, `emails[type eq "work"].value eq` (Entra), `emails.value eq` — with no sort: an
/// index finds its few users, so it runs without a thread hand-off (`Store::read_now`).
fn is_lookup(q: &ListQuery) -> bool {
    use crate::scim::filter::{CompareOp, Filter};
    fn indexed_eq(f: &Filter) -> bool {
        match f {
            Filter::Compare(p, CompareOp::Eq, v) if v.is_string() => {
                let name = p.name.to_ascii_lowercase();
                match p.sub.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None => matches!(name.as_str(), "username" | "externalid" | "id"),
                    Some("value") => name == "emails",
                    Some(_) => false,
                }
            }
            Filter::ValuePath { attr, filter } if attr.name.eq_ignore_ascii_case("emails") => {
                match filter.as_ref() {
                    Filter::And(parts) => parts.iter().any(|p| {
                        matches!(p, Filter::Compare(sp, CompareOp::Eq, v)
                            if v.is_string() && sp.name.eq_ignore_ascii_case("value"))
                    }),
                    _ => false,
                }
            }
            // An AND narrows: one indexed equality is enough.
            Filter::And(parts) => parts.iter().any(indexed_eq),
            _ => false,
        }
    }
    q.sort.is_none() && q.filter.as_ref().is_some_and(indexed_eq)
}

/// Aliases are second login names of the account (DESIGN.md, *Aliases*): an alias equal to
/// the user's own userName, a repeated alias, or an empty one says nothing more and is dropped
/// rather than refused (an IdP "removes" an alias by sending it empty).
pub(crate) fn tidy_aliases(mut doc: Document) -> Document {
    use crate::store::fold::fold;
    let user_name = doc.get("userName").and_then(Value::as_str).map(fold);
    let Some(Value::Array(aliases)) = doc.get_mut("aliases") else {
        return doc;
    };
    let mut seen: Vec<String> = user_name.into_iter().collect();
    aliases.retain(|a| {
        let Some(v) = a
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
        else {
            return false;
        };
        let f = fold(v);
        if seen.contains(&f) {
            return false;
        }
        seen.push(f);
        true
    });
    if aliases.is_empty() {
        doc.remove("aliases");
    }
    doc
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub total: u64,
    pub start_index: u64,
    pub users: Vec<User<DocText>>,
    /// Cursor paging: the `nextCursor` when another page follows (RFC 9865).
    pub next_cursor: Option<String>,
}

/// An `If-Match` precondition (RFC 7644 §3.14, RFC 7232 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    /// The versions named by the header's entity tags.
    Versions(Vec<i64>),
}

impl IfMatch {
    /// Parses an `If-Match` header value: `*`, or a list of (weak or strong) entity tags.
    pub fn parse(header: &str) -> IfMatch {
        if header.trim() == "*" {
            return IfMatch::Any;
        }
        IfMatch::Versions(
            header
                .split(',')
                .filter_map(|t| {
                    let t = t.trim();
                    let t = t.strip_prefix("W/").unwrap_or(t);
                    t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
                })
                .collect(),
        )
    }

    pub(crate) fn check(&self, version: i64) -> Result<(), Error> {
        match self {
            IfMatch::Any => Ok(()),
            IfMatch::Versions(v) if v.contains(&version) => Ok(()),
            IfMatch::Versions(_) => Err(Error::PreconditionFailed {
                current: format!("W/\"{version}\""),
            }),
        }
    }
}

pub(crate) fn owner(me: &Integration, source: Option<&str>) -> Owner {
    match source {
        None => Owner::Manual,
        Some(s) if s == me.id.as_str() => Owner::Me,
        Some(_) => Owner::Other,
    }
}

fn forbidden(me: &Integration) -> Error {
    Error::Forbidden(format!(
        "integration '{}' may read this user but not change it: it is owned by another provisioning source",
        me.name
    ))
}

/// Loads a user for a write and applies the policy; `None` body means a delete.
fn decide(
    tx: &mut Tx<'_>,
    me: &Integration,
    id: &str,
    if_match: Option<&IfMatch>,
) -> Result<UserRow, Error> {
    let row = users::find_by_id(tx, id)?.ok_or(Error::NotFound)?;
    if policy::user_access(me.settings, owner(me, row.source.as_deref())) == Access::Invisible {
        return Err(Error::NotFound);
    }
    if let Some(m) = if_match {
        m.check(row.version)?;
    }
    Ok(row)
}

/// Writes `doc` over `row` as the policy allows.
fn write(tx: &mut Tx<'_>, me: &Integration, row: UserRow, doc: Document) -> Result<UserRow, Error> {
    let changed = doc != row.doc;
    let deactivating = changed
        && row.doc.get("active").and_then(Value::as_bool) != Some(false)
        && doc.get("active").and_then(Value::as_bool) == Some(false);
    let decision = policy::user_write(me.settings, owner(me, row.source.as_deref()), changed);
    if deactivating
        && matches!(
            decision,
            WriteDecision::Write | WriteDecision::WriteAndClaim
        )
    {
        // A deactivated user gets no enrollment email that is still waiting to go out ...
        crate::store::outbox::cancel_pending_of_user(tx, row.seq)?;
        // ... and its enrollment link stops working.
        crate::store::enrollment::revoke(tx, row.seq)?;
    }
    match decision {
        WriteDecision::NotFound => Err(Error::NotFound),
        WriteDecision::Forbidden => Err(forbidden(me)),
        WriteDecision::Unchanged => Ok(row),
        WriteDecision::Write if !changed => Ok(row),
        WriteDecision::Write => {
            let source = row.source.clone();
            Ok(users::update(tx, &row, source.as_deref(), doc, &now())?)
        }
        WriteDecision::WriteAndClaim => {
            tracing::info!(user = %row.id, integration = %me.id, "integration claimed a user");
            let at = now();
            provenance::record_claim(tx, Kind::User, row.seq, me.id.as_str(), &me.name, &at)?;
            Ok(users::update(tx, &row, Some(me.id.as_str()), doc, &at)?)
        }
    }
}

impl Directory {
    pub async fn create_user(&self, me: &Integration, body: &Value) -> Result<User, Error> {
        let doc = tidy_aliases(resource::normalize(schema::user(), body)?);
        self.limits.check(&doc)?;
        let source = me.id.as_str().to_owned();
        let sends = me.settings.send_enrollment_emails;
        let (row, queued) = self
            .store
            .write(move |tx| {
                let id = uuid::Uuid::now_v7().to_string();
                let row = users::insert(
                    tx,
                    NewUser {
                        id: &id,
                        source: Some(&source),
                        now: &now(),
                        doc: &doc,
                    },
                )?;
                // The email is queued in the same job: committed together with the user, or not at all.
                let queued = outbox::enqueue_enrollment(tx, sends, row.seq, &row.doc)?;
                Ok::<_, Error>((row, queued))
            })
            .await?;
        if queued {
            self.wake_mail();
        }
        let provenance = Provenance {
            source: Some((me.id.as_str().to_owned(), me.name.clone())),
            claim: None,
        };
        Ok(User {
            provenance,
            ..User::from(row)
        })
    }

    /// The user whose userName or one of whose aliases is `name` (compared as the uniqueness
    /// rule compares them): the one resolver of login names, for `/api/v1/verify` and the
    /// admin search. Not scoped to an integration: callers are the appliance itself.
    pub async fn resolve_login(&self, name: &str) -> Result<Option<User>, Error> {
        let name = name.to_owned();
        self.store
            .read(move |tx| Ok(users::find_by_login(tx, &name)?.map(User::from)))
            .await
    }

    /// GET /Users/{id}: the user with its document as stored text (written out as it is).
    pub async fn get_user(&self, me: &Integration, id: &str) -> Result<User<DocText>, Error> {
        let (me, id) = (me.clone(), id.to_owned());
        self.store
            .read_now(move |tx| {
                let row = users::find_by_id_text(tx, &id)?.ok_or(Error::NotFound)?;
                if policy::user_access(me.settings, owner(&me, row.source.as_deref()))
                    == Access::Invisible
                {
                    return Err(Error::NotFound);
                }
                with_groups(tx, &me, row)
            })
            .await
    }

    /// A page of the users this integration may see that match the query. `base_url` is
    /// the integration's Base URL (a filter on `meta.location` compares what clients see).
    pub async fn list_users(
        &self,
        me: &Integration,
        q: &ListQuery,
        base_url: &str,
    ) -> Result<Page, Error> {
        let map = users_map();
        let location = format!("{base_url}{}/", map.rt.endpoint);
        let compiled = compile(
            map,
            &location,
            q.filter.as_ref(),
            q.sort.as_ref().map(|(p, d)| (p, *d)),
        )?;
        let scope = policy::user_scope(me.settings, me.id.as_str());
        let (walk, paging) = self.walk(me, "Users", q)?;
        let limit = q.count;
        let me = me.clone();
        let run = move |tx: &mut Tx<'_>| {
            let mut page = users::list(tx, &scope, &compiled, &paging, limit)?;
            let rows = std::mem::take(&mut page.rows);
            let users = with_groups_many(tx, &me, rows)?;
            Ok::<_, Error>((page, users))
        };
        let (page, users) = if is_lookup(q) {
            self.store.read_now(run).await?
        } else {
            self.store.read(run).await?
        };
        let next_cursor = self.walk_on(&walk, q, &page, users.len());
        Ok(Page {
            total: page.total,
            start_index: q.start_index(),
            users,
            next_cursor,
        })
    }

    /// PUT: a full replace (RFC 7644 §3.5.1). Okta sends back the whole object it read,
    /// with `id`, `meta` and `groups`: those are read-only and ignored.
    pub async fn replace_user(
        &self,
        me: &Integration,
        id: &str,
        body: &Value,
        if_match: Option<IfMatch>,
    ) -> Result<User, Error> {
        let doc = tidy_aliases(resource::normalize(schema::user(), body)?);
        self.limits.check(&doc)?;
        let (me, id) = (me.clone(), id.to_owned());
        let row = self
            .store
            .write(move |tx| {
                let row = decide(tx, &me, &id, if_match.as_ref())?;
                let row = write(tx, &me, row, doc)?;
                with_groups(tx, &me, row)
            })
            .await?;
        Ok(row)
    }

    /// PATCH (RFC 7644 §3.5.2): all operations apply, or none.
    pub async fn patch_user(
        &self,
        me: &Integration,
        id: &str,
        ops: Vec<PatchOp>,
        if_match: Option<IfMatch>,
    ) -> Result<User, Error> {
        let (me, id, limits) = (me.clone(), id.to_owned(), self.limits);
        let row = self
            .store
            .write(move |tx| {
                let row = decide(tx, &me, &id, if_match.as_ref())?;
                let rt = schema::user();
                let mut doc = row.doc.clone();
                patch::apply(rt, &mut doc, &ops)?;
                let doc = tidy_aliases(resource::normalize(rt, &Value::Object(doc))?);
                // The result is held to the limits, whatever the operations were.
                limits.check(&doc)?;
                let row = write(tx, &me, row, doc)?;
                with_groups(tx, &me, row)
            })
            .await?;
        Ok(row)
    }

    pub async fn delete_user(
        &self,
        me: &Integration,
        id: &str,
        if_match: Option<IfMatch>,
    ) -> Result<(), Error> {
        let (me, id) = (me.clone(), id.to_owned());
        self.store
            .write(move |tx| {
                let row = decide(tx, &me, &id, if_match.as_ref())?;
                match policy::user_write(me.settings, owner(&me, row.source.as_deref()), true) {
                    WriteDecision::NotFound => Err(Error::NotFound),
                    WriteDecision::Forbidden => Err(forbidden(&me)),
                    _ => Ok(users::delete(tx, row.seq)?),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_parsing() {
        assert_eq!(IfMatch::parse("*"), IfMatch::Any);
        assert_eq!(
            IfMatch::parse("W/\"3\", \"4\""),
            IfMatch::Versions(vec![3, 4])
        );
        assert_eq!(IfMatch::parse("garbage"), IfMatch::Versions(vec![]));
        assert!(IfMatch::parse("W/\"3\"").check(3).is_ok());
        assert!(IfMatch::parse("W/\"3\"").check(4).is_err());
    }
}
