//! Resource documents as returned: the stored document plus what is derived at read time
//! (a user's `groups`, a group's `members`), then the projection.

use serde_json::{Value, json};

use crate::directory::Provenance;
use crate::directory::groups::Group;
use crate::directory::users::User;
use crate::scim::project::Projection;
use crate::scim::resource::Document;
use crate::scim::resource::to_resource_owned;
use crate::scim::schema::{self, PROVISIONING_URN};

/// The read-only provisioning extension: source and claim.
fn provenance(doc: &mut Document, p: &Provenance) {
    let source = match &p.source {
        Some((id, name)) => json!({"type": "integration", "value": id, "display": name}),
        None => json!({"type": "manual"}),
    };
    let mut ext = json!({"source": source});
    if let Some(c) = &p.claim {
        ext["claimed"] =
            json!({"value": c.integration_id, "display": c.integration_name, "at": c.at});
    }
    doc.insert(PROVISIONING_URN.into(), ext);
}

pub fn user(base: &str, u: &User, p: &Projection) -> Value {
    let rt = schema::user();
    let mut doc = u.doc.clone();
    if !u.groups.is_empty() {
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|(id, name)| json!({"value": id, "$ref": format!("{base}/Groups/{id}"), "display": name, "type": "direct"}))
            .collect();
        doc.insert("groups".into(), Value::Array(groups));
    }
    provenance(&mut doc, &u.provenance);
    p.apply(rt, to_resource_owned(rt, &u.meta, doc, base))
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
    provenance(&mut doc, &g.provenance);
    p.apply(rt, to_resource_owned(rt, &g.meta, doc, base))
}
