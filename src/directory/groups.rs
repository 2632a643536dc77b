//! The group use-cases behind `/Groups`: create, read, list, replace, patch, delete, with
//! memberships. Members are users of this directory; a member id that is not a user this
//! integration can see is a 400 `invalidValue`, never a silently created user
//! (litellm #17420). The ownership rules are the users' without *Read All Users*.

use serde_json::{Map, Value};

use crate::directory::policy::{self, Access, WriteDecision};
use crate::directory::users::{IfMatch, owner};
use crate::directory::{Directory, Error, Integration, now};
use crate::scim::filter::{self, AttrPath, CompareOp, Filter};

use crate::scim::list::ListQuery;
use crate::scim::patch::{self, OpKind, PatchOp};
use crate::scim::resource::{self, Document, Meta};
use crate::scim::{ScimError, schema};
use crate::store::Tx;
use crate::store::filter_sql::{compile, groups_map};
use crate::store::groups::{self, GroupRow};
pub use crate::store::groups::{Member, MemberList, MemberRef};
use crate::store::provenance::{self, Kind};

/// A group as the directory hands it out. `members` is None when the caller did not ask for
/// them (`excludedAttributes=members`, as Entra asks), which skips reading them.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub meta: Meta,
    pub source: Option<String>,
    pub doc: Document,
    pub members: Option<MemberList>,
    pub provenance: crate::directory::Provenance,
}

#[derive(Debug, Clone)]
pub struct GroupPage {
    pub total: u64,
    pub start_index: u64,
    pub groups: Vec<Group>,
    /// RFC 9865: the cursor of the next page, when paging by cursor and more follow.
    pub next_cursor: Option<String>,
}

fn to_group(r: GroupRow, members: Option<MemberList>) -> Group {
    Group {
        provenance: crate::directory::Provenance::default(),
        meta: Meta {
            id: r.id,
            created: r.created,
            last_modified: r.last_modified,
            version: r.version,
        },
        source: r.source,
        doc: r.doc,
        members,
    }
}

/// The member ids of a `members` value: objects with a `value`, of type User.
fn member_ids(value: &Value) -> Result<Vec<String>, Error> {
    let items = match value {
        Value::Array(a) => a.as_slice(),
        Value::Null => &[],
        single => std::slice::from_ref(single),
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = item else {
            return Err(ScimError::InvalidValue(
                "each member must be an object with a 'value'".into(),
            )
            .into());
        };
        let get = |k: &str| {
            m.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        if let Some(t) = get("type").and_then(Value::as_str)
            && !t.eq_ignore_ascii_case("User")
        {
            return Err(ScimError::InvalidValue(format!(
                "member type '{t}' is not supported: members are users (nested groups are not supported)"
            ))
            .into());
        }
        match get("value") {
            Some(Value::String(s)) if !s.is_empty() => ids.push(s.clone()),
            _ => {
                return Err(ScimError::InvalidValue(
                    "each member needs a 'value': the id of a user".into(),
                )
                .into());
            }
        }
    }
    Ok(ids)
}

/// Resolves member ids to user rows this integration can see; anything else is invalidValue.
fn resolve(tx: &mut Tx<'_>, me: &Integration, ids: &[String]) -> Result<Vec<i64>, Error> {
    let found = groups::resolve_users(tx, ids)?;
    let mut seqs = Vec::with_capacity(ids.len());
    for id in ids {
        let visible = found.iter().find(|c| &c.id == id).filter(|c| {
            policy::user_access(me.settings, owner(me, c.source.as_deref())) != Access::Invisible
        });
        match visible {
            Some(c) => seqs.push(c.seq),
            None => {
                return Err(ScimError::InvalidValue(format!(
                    "member '{id}' is not a user of this directory"
                ))
                .into());
            }
        }
    }
    Ok(seqs)
}

/// Ids of existing users among `ids` (for removals, where an unknown id is simply not a member).
fn existing(tx: &mut Tx<'_>, ids: &[String]) -> Result<Vec<i64>, Error> {
    Ok(groups::resolve_users(tx, ids)?
        .into_iter()
        .map(|c| c.seq)
        .collect())
}

fn is_members(p: &AttrPath) -> bool {
    p.name.eq_ignore_ascii_case("members")
        && p.urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(schema::GROUP_URN))
}

/// `value eq "a"` or `value eq "a" or value eq "b"`: the ids, for the indexed fast path.
fn value_eq_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare(p, CompareOp::Eq, Value::String(s))
            if p.name.eq_ignore_ascii_case("value") && p.sub.is_none() =>
        {
            Some(vec![s.clone()])
        }
        Filter::Or(parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(value_eq_ids(p)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// Removes the members a value filter selects (`members[value eq "…"]`, or any filter on
/// `value`, `display`, `type`, `$ref`).
fn remove_matching(tx: &mut Tx<'_>, group: &GroupRow, f: &Filter) -> Result<usize, Error> {
    if let Some(ids) = value_eq_ids(f) {
        let seqs = existing(tx, &ids)?;
        return Ok(groups::remove_members(tx, group.seq, &seqs)?);
    }
    let rt = schema::group();
    let selector = Filter::ValuePath {
        attr: AttrPath {
            urn: None,
            name: "members".into(),
            sub: None,
        },
        filter: Box::new(f.clone()),
    };
    let mut gone = Vec::new();
    for m in groups::members(tx, group.seq)? {
        let probe =
            serde_json::json!({"members": [{"value": m.id, "display": m.display, "type": "User"}]});
        if filter::matches(&selector, &probe, rt) {
            gone.push(m.user_seq);
        }
    }
    Ok(groups::remove_members(tx, group.seq, &gone)?)
}

/// Applies one operation that targets `members`; returns how many memberships changed.
fn member_op(
    tx: &mut Tx<'_>,
    me: &Integration,
    group: &GroupRow,
    kind: OpKind,
    filter: Option<&Filter>,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<usize, Error> {
    if let Some(s) = sub {
        return Err(ScimError::InvalidPath(format!(
            "members.{s} cannot be changed: add, remove or replace whole members"
        ))
        .into());
    }
    match (kind, filter) {
        (OpKind::Remove, Some(f)) => remove_matching(tx, group, f),
        (_, Some(_)) => Err(ScimError::InvalidPath(
            "a value filter on members is supported with 'remove' only; use 'add' or 'replace' with a list of members".into(),
        )
        .into()),
        (OpKind::Add, None) => {
            let seqs = resolve(tx, me, &member_ids(value.unwrap_or(&Value::Null))?)?;
            Ok(groups::add_members(tx, group.seq, &seqs)?)
        }
        // RFC 7644 §3.5.2.3: replace sets the members to exactly these; `[]` empties the group
        // (Okta's push of an empty group, SCIM-SDK #757).
        (OpKind::Replace, None) => {
            let seqs = resolve(tx, me, &member_ids(value.unwrap_or(&Value::Null))?)?;
            let before: std::collections::BTreeSet<i64> = groups::members(tx, group.seq)?.iter().map(|m| m.user_seq).collect();
            let after: std::collections::BTreeSet<i64> = seqs.iter().copied().collect();
            let gone: Vec<i64> = before.difference(&after).copied().collect();
            let new: Vec<i64> = after.difference(&before).copied().collect();
            Ok(groups::remove_members(tx, group.seq, &gone)? + groups::add_members(tx, group.seq, &new)?)
        }
        // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes just those.
        (OpKind::Remove, None) => match value {
            Some(v) if !v.is_null() => {
                let seqs = existing(tx, &member_ids(v)?)?;
                Ok(groups::remove_members(tx, group.seq, &seqs)?)
            }
            _ => Ok(groups::clear_members(tx, group.seq)?),
        },
    }
}

/// Loads a group for a write: visible to `me`, and matching `If-Match`.
fn load(
    tx: &mut Tx<'_>,
    me: &Integration,
    id: &str,
    if_match: Option<&IfMatch>,
) -> Result<GroupRow, Error> {
    let row = groups::find_by_id(tx, id)?.ok_or(Error::NotFound)?;
    if policy::group_access(me.settings, owner(me, row.source.as_deref())) == Access::Invisible {
        return Err(Error::NotFound);
    }
    if let Some(m) = if_match {
        m.check(row.version)?;
    }
    Ok(row)
}

/// Finishes a write: the policy decides, then the document and version are written.
fn finish(
    tx: &mut Tx<'_>,
    me: &Integration,
    row: GroupRow,
    doc: Document,
    members_changed: usize,
) -> Result<GroupRow, Error> {
    let doc_changed = doc != row.doc;
    let changed = doc_changed || members_changed > 0;
    let source = match policy::group_write(me.settings, owner(me, row.source.as_deref()), changed) {
        WriteDecision::NotFound => return Err(Error::NotFound),
        WriteDecision::Forbidden => {
            return Err(Error::Forbidden(format!(
                "integration '{}' may not change this group",
                me.name
            )));
        }
        WriteDecision::Unchanged => return Ok(row),
        WriteDecision::Write if !changed => return Ok(row),
        WriteDecision::Write => row.source.clone(),
        WriteDecision::WriteAndClaim => {
            tracing::info!(group = %row.id, integration = %me.id, "integration claimed a group");
            provenance::record_claim(tx, Kind::Group, row.seq, me.id.as_str(), &me.name, &now())?;
            Some(me.id.as_str().to_owned())
        }
    };
    let now = now();
    Ok(if doc_changed {
        groups::update(tx, &row, source.as_deref(), doc, &now)?
    } else {
        groups::touch(tx, &row, source.as_deref(), &now)?
    })
}

fn split_members(doc: &mut Document) -> Option<Value> {
    let key = doc
        .keys()
        .find(|k| k.eq_ignore_ascii_case("members"))
        .cloned()?;
    doc.remove(&key)
}

fn load_members(
    tx: &mut Tx<'_>,
    row: &GroupRow,
    with_members: bool,
) -> Result<Option<MemberList>, Error> {
    Ok(if with_members {
        Some(groups::member_list(tx, row.seq)?)
    } else {
        None
    })
}

/// The group as handed out: members if asked for, and where it comes from.
fn full(tx: &mut Tx<'_>, row: GroupRow, with_members: bool) -> Result<Group, Error> {
    let members = load_members(tx, &row, with_members)?;
    let provenance =
        crate::directory::Provenance::load(tx, Kind::Group, row.seq, row.source.as_deref())?;
    Ok(Group {
        provenance,
        ..to_group(row, members)
    })
}

impl Directory {
    pub async fn create_group(
        &self,
        me: &Integration,
        body: &Value,
        with_members: bool,
    ) -> Result<Group, Error> {
        let mut doc = resource::normalize(schema::group(), body)?;
        let members = split_members(&mut doc);
        self.limits.check(&doc)?;
        let me = me.clone();
        self.store
            .write(move |tx| {
                let id = uuid::Uuid::now_v7().to_string();
                let row = groups::insert(tx, &id, Some(me.id.as_str()), &now(), &doc)?;
                if let Some(m) = members {
                    let seqs = resolve(tx, &me, &member_ids(&m)?)?;
                    groups::add_members(tx, row.seq, &seqs)?;
                }
                full(tx, row, with_members)
            })
            .await
    }

    pub async fn get_group(
        &self,
        me: &Integration,
        id: &str,
        with_members: bool,
    ) -> Result<Group, Error> {
        let (me, id) = (me.clone(), id.to_owned());
        self.store
            .read(move |tx| {
                let row = groups::find_by_id(tx, &id)?.ok_or(Error::NotFound)?;
                if policy::group_access(me.settings, owner(&me, row.source.as_deref()))
                    == Access::Invisible
                {
                    return Err(Error::NotFound);
                }
                full(tx, row, with_members)
            })
            .await
    }

    /// A page of the groups this integration may see that match the query (filter, sort,
    /// startIndex or cursor paging: the users' query engine over `groups_map`).
    pub async fn list_groups(
        &self,
        me: &Integration,
        q: &ListQuery,
        base_url: &str,
        with_members: bool,
    ) -> Result<GroupPage, Error> {
        let map = groups_map();
        let location = format!("{base_url}{}/", map.rt.endpoint);
        let compiled = compile(
            map,
            &location,
            q.filter.as_ref(),
            q.sort.as_ref().map(|(p, d)| (p, *d)),
        )?;
        let scope = policy::group_scope(me.settings, me.id.as_str());
        let (walk, paging) = self.walk(me, "Groups", q)?;
        let limit = q.count;
        let (page, out) = self
            .store
            .read(move |tx| {
                let mut page = groups::list(tx, &scope, &compiled, &paging, limit)?;
                let rows = std::mem::take(&mut page.rows);
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push(full(tx, r, with_members)?);
                }
                Ok::<_, Error>((page, out))
            })
            .await?;
        let next_cursor = self.walk_on(&walk, q, &page, out.len());
        Ok(GroupPage {
            total: page.total,
            start_index: q.start_index(),
            groups: out,
            next_cursor,
        })
    }

    /// PUT: replaces the document and, when `members` is given, the members. A PUT without
    /// `members` empties the group (a full replace, RFC 7644 §3.5.1).
    pub async fn replace_group(
        &self,
        me: &Integration,
        id: &str,
        body: &Value,
        if_match: Option<IfMatch>,
        with_members: bool,
    ) -> Result<Group, Error> {
        let mut doc = resource::normalize(schema::group(), body)?;
        let members = split_members(&mut doc).unwrap_or(Value::Array(Vec::new()));
        self.limits.check(&doc)?;
        let (me, id) = (me.clone(), id.to_owned());
        self.store
            .write(move |tx| {
                let row = load(tx, &me, &id, if_match.as_ref())?;
                let changed =
                    member_op(tx, &me, &row, OpKind::Replace, None, None, Some(&members))?;
                let row = finish(tx, &me, row, doc, changed)?;
                full(tx, row, with_members)
            })
            .await
    }

    /// PATCH: operations on `members` change memberships row by row; the others go through the
    /// PATCH engine on the document. All apply, or none (one savepoint).
    pub async fn patch_group(
        &self,
        me: &Integration,
        id: &str,
        ops: Vec<PatchOp>,
        if_match: Option<IfMatch>,
        with_members: bool,
    ) -> Result<Group, Error> {
        let (me, id, limits) = (me.clone(), id.to_owned(), self.limits);
        self.store
            .write(move |tx| {
                let row = load(tx, &me, &id, if_match.as_ref())?;
                let rt = schema::group();
                let mut doc = row.doc.clone();
                let mut changed = 0;
                for op in &ops {
                    match &op.path {
                        Some(p) if is_members(&p.attr) => {
                            let sub = p.attr.sub.as_deref().or(p.sub.as_deref());
                            changed += member_op(
                                tx,
                                &me,
                                &row,
                                op.kind,
                                p.filter.as_ref(),
                                sub,
                                op.value.as_ref(),
                            )?;
                        }
                        None => {
                            // Path-less: `members` inside the value is a member operation; the
                            // rest (Okta's rename sends {id, displayName}) never touches members.
                            let mut rest: Map<String, Value> = match &op.value {
                                Some(Value::Object(m)) => m.clone(),
                                _ => {
                                    return Err(ScimError::InvalidValue(
                                        "an operation without a 'path' needs an object 'value'"
                                            .into(),
                                    )
                                    .into());
                                }
                            };
                            if let Some(m) = split_members(&mut rest) {
                                changed += member_op(tx, &me, &row, op.kind, None, None, Some(&m))?;
                            }
                            let rest_op = PatchOp {
                                kind: op.kind,
                                path: None,
                                value: Some(Value::Object(rest)),
                            };
                            patch::apply(rt, &mut doc, std::slice::from_ref(&rest_op))?;
                        }
                        Some(_) => patch::apply(rt, &mut doc, std::slice::from_ref(op))?,
                    }
                }
                let doc = resource::normalize(rt, &Value::Object(doc))?;
                limits.check(&doc)?;
                let row = finish(tx, &me, row, doc, changed)?;
                full(tx, row, with_members)
            })
            .await
    }

    /// DELETE: the group goes; its users stay.
    pub async fn delete_group(
        &self,
        me: &Integration,
        id: &str,
        if_match: Option<IfMatch>,
    ) -> Result<(), Error> {
        let (me, id) = (me.clone(), id.to_owned());
        self.store
            .write(move |tx| {
                let row = load(tx, &me, &id, if_match.as_ref())?;
                match policy::group_write(me.settings, owner(&me, row.source.as_deref()), true) {
                    WriteDecision::NotFound => Err(Error::NotFound),
                    WriteDecision::Forbidden => Err(Error::Forbidden(format!(
                        "integration '{}' may not delete this group",
                        me.name
                    ))),
                    _ => Ok(groups::delete(tx, row.seq)?),
                }
            })
            .await
    }
}

impl Directory {
    /// The admin Groups page: a page of groups whose name contains `text`, with member counts.
    pub async fn search_groups(
        &self,
        text: String,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<(Group, i64)>), Error> {
        self.store
            .read(move |tx| {
                let (total, rows) = groups::search(tx, &text, offset, limit)?;
                let mut out = Vec::with_capacity(rows.len());
                for (r, n) in rows {
                    out.push((full(tx, r, false)?, n));
                }
                Ok((total, out))
            })
            .await
    }

    /// Any group with its members, whoever owns it (the admin pages see everything).
    pub async fn group_for_admin(&self, id: &str) -> Result<Group, Error> {
        let id = id.to_owned();
        self.store
            .read(move |tx| {
                let row = groups::find_by_id(tx, &id)?.ok_or(Error::NotFound)?;
                full(tx, row, true)
            })
            .await
    }
}
