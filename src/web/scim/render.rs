//! Resource documents as returned: the stored document plus what is derived at read time
//! (a user's `groups`, a group's `members`), then the projection.

use serde_json::{Value, json};

use crate::directory::Provenance;
use crate::directory::groups::{Group, MemberList};
use crate::directory::users::User;
use crate::scim::ScimError;
use crate::scim::list::ListBody;
use crate::scim::project::Projection;
use crate::scim::resource::{
    DocText, Document, Meta, to_resource_owned, write_resource, write_resource_with,
};

use crate::scim::schema::{self, PROVISIONING_URN};

/// The read-only provisioning extension: source and claim.
pub(super) fn provenance(p: &Provenance) -> Value {
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

/// A group as a JSON value (the projection's path; [`group_into`] writes the same bytes).
pub fn group(base: &str, g: &Group, p: &Projection) -> Value {
    let rt = schema::group();
    let mut doc = g.doc.clone();
    if let Some(members) = &g.members {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": m.id, "$ref": format!("{base}/Users/{}", m.id), "display": m.display(), "type": "User"}))
            .collect();
        doc.insert("members".into(), Value::Array(members));
    }
    doc.insert(PROVISIONING_URN.into(), provenance(&g.provenance));
    p.apply(rt, to_resource_owned(rt, &g.meta, doc, base))
}

/// Writes a group. Without a projection its members are written from their rows as read
/// (each display name is the JSON text the store found), with no value built per member: a
/// group of 10,000 members is about 1.3 MB (issue 17 item 2). With one, as [`group`] renders.
pub fn group_into(
    out: &mut Vec<u8>,
    base: &str,
    g: &Group,
    p: &Projection,
) -> Result<(), ScimError> {
    let rt = schema::group();
    if p.is_identity() {
        let text = serde_json::to_string(&g.doc).map_err(|e| ScimError::Internal(e.to_string()))?;
        let doc = DocText::new(text);
        let names: &[&str] = if g.members.is_some() {
            &["members", PROVISIONING_URN]
        } else {
            &[PROVISIONING_URN]
        };
        let provenance = provenance(&g.provenance);
        let written = write_resource_with(out, rt, &g.meta, &doc, names, base, |out| {
            if let Some(m) = &g.members {
                out.extend_from_slice(b",\"members\":");
                write_members(out, base, m);
            }
            out.push(b',');
            let _ = serde_json::to_writer(&mut *out, PROVISIONING_URN);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, &provenance);
        });
        if written {
            return Ok(());
        }
    }
    serde_json::to_writer(out, &group(base, g, p)).map_err(|e| ScimError::Internal(e.to_string()))
}

/// The text of `s` inside a JSON string, without the quotes.
fn json_inner(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        out.extend_from_slice(s.as_bytes());
    } else {
        let quoted = serde_json::to_vec(s).unwrap_or_default();
        out.extend_from_slice(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(&[]));
    }
}

/// `[{"value":…,"$ref":…,"display":…,"type":"User"},…]`, as [`group`] renders each member.
fn write_members(out: &mut Vec<u8>, base: &str, members: &MemberList) {
    let mut users = Vec::with_capacity(base.len() + 8);
    json_inner(&mut users, &format!("{base}/Users/"));
    out.reserve(members.len() * (users.len() + 140));
    out.push(b'[');
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"value\":\"");
        json_inner(out, m.id);
        out.extend_from_slice(b"\",\"$ref\":\"");
        out.extend_from_slice(&users);
        json_inner(out, m.id);
        out.extend_from_slice(b"\",\"display\":");
        out.extend_from_slice(m.display_json.as_bytes());
        out.extend_from_slice(b",\"type\":\"User\"}");
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::directory::Provenance;

    fn group_with(members: Option<MemberList>) -> Group {
        let doc = json!({"displayName": "Eng \"core\"", "externalId": "e-1"});
        Group {
            meta: Meta {
                id: "g-1".into(),
                created: "2026-01-01T00:00:00Z".into(),
                last_modified: "2026-01-02T00:00:00Z".into(),
                version: 3,
            },
            source: None,
            doc: doc.as_object().unwrap().clone(),
            members,
            provenance: Provenance::default(),
        }
    }

    /// The fast path writes exactly the bytes the value path serialises.
    #[test]
    fn group_into_equals_the_rendered_value() {
        let mut m = MemberList::default();
        // Display tokens as serde_json wrote them into the stored documents.
        m.push(1, "u-1", Some(r#""Ann \"A\" Lée\n""#), "ann@example.com");
        m.push(2, "u-2", None, "bob@example.com");
        m.push(3, "u-3", Some(r#""Zoë""#), "zoe@example.com");
        let base = "https://mfa.example.com/scim/v2/abc";
        for g in [
            group_with(Some(m)),
            group_with(Some(MemberList::default())),
            group_with(None),
        ] {
            let p = Projection::default();
            assert!(p.is_identity());
            let mut fast = Vec::new();
            group_into(&mut fast, base, &g, &p).unwrap();
            let value = group(base, &g, &p);
            assert_eq!(
                String::from_utf8(fast.clone()).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
            let parsed: Value = serde_json::from_slice(&fast).unwrap();
            assert_eq!(parsed, value);
        }
    }
}
