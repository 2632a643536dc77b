//! Resource documents as returned: the stored document plus what is derived at read time
//! (a user's `groups`, a group's `members`), then the projection.

use serde_json::{Value, json};

use crate::directory::Provenance;
use crate::directory::groups::Group;
use crate::directory::users::User;
use crate::scim::ScimError;
use crate::scim::list::ListBody;
use crate::scim::project::Projection;
use crate::scim::resource::{DocText, Document, Meta, to_resource_owned, write_resource};
use crate::scim::schema::{self, PROVISIONING_URN};

/// The read-only provisioning extension: source and claim.
fn provenance(p: &Provenance) -> Value {
    let source = match &p.source {
        Some((id, name)) => json!({"type": "integration", "value": id, "display": name}),
        None => json!({"type": "manual"}),
    };
    let mut ext = json!({"source": source});
    if let Some(c) = &p.claim {
        ext["claimed"] =
            json!({"value": c.integration_id, "display": c.integration_name, "at": c.at});
    }
    ext
}

/// What a user resource has beyond its stored document, in the order it is appended: its
/// `groups` (when it has any) and the provisioning extension.
fn user_derived<D>(base: &str, u: &User<D>) -> Vec<(&'static str, Value)> {
    let mut out = Vec::with_capacity(2);
    if !u.groups.is_empty() {
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|(id, name)| json!({"value": id, "$ref": format!("{base}/Groups/{id}"), "display": name, "type": "direct"}))
            .collect();
        out.push(("groups", Value::Array(groups)));
    }
    out.push((PROVISIONING_URN, provenance(&u.provenance)));
    out
}

pub fn user(base: &str, u: &User, p: &Projection) -> Value {
    user_parsed(base, &u.meta, u.doc.clone(), user_derived(base, u), p)
}

/// A user resource from its parsed document and what is derived at read time.
fn user_parsed(
    base: &str,
    meta: &Meta,
    mut doc: Document,
    derived: Vec<(&'static str, Value)>,
    p: &Projection,
) -> Value {
    let rt = schema::user();
    for (k, v) in derived {
        doc.insert(k.to_owned(), v);
    }
    p.apply(rt, to_resource_owned(rt, meta, doc, base))
}

/// Writes a user whose document is its stored text. Without a projection the text is copied
/// as it is (`write_resource`); with one, or should a stored text not allow that, it is parsed
/// and rendered as [`user`] does.
pub fn user_text(
    out: &mut Vec<u8>,
    base: &str,
    u: &User<DocText>,
    p: &Projection,
) -> Result<(), ScimError> {
    let rt = schema::user();
    let derived = user_derived(base, u);
    if p.is_identity() && write_resource(out, rt, &u.meta, &u.doc, &derived, base) {
        return Ok(());
    }
    let Some(doc) = u.doc.parse() else {
        return Err(ScimError::Internal(format!(
            "user {} has a stored document that is not a JSON object",
            u.meta.id
        )));
    };
    let resource = user_parsed(base, &u.meta, doc, derived, p);
    serde_json::to_writer(out, &resource).map_err(|e| ScimError::Internal(e.to_string()))
}

/// Appends a page of users to a list body ([`user_text`] each).
pub fn users_into(
    body: &mut ListBody,
    base: &str,
    users: &[User<DocText>],
    p: &Projection,
) -> Result<(), ScimError> {
    for u in users {
        body.push_with(|out| user_text(out, base, u, p))?;
    }
    Ok(())
}

pub fn group(base: &str, g: &Group, p: &Projection) -> Value {
    let rt = schema::group();
    let mut doc = g.doc.clone();
    if let Some(members) = &g.members {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": m.id, "$ref": format!("{base}/Users/{}", m.id), "display": m.display, "type": "User"}))
            .collect();
        doc.insert("members".into(), Value::Array(members));
    }
    doc.insert(PROVISIONING_URN.into(), provenance(&g.provenance));
    p.apply(rt, to_resource_owned(rt, &g.meta, doc, base))
}
