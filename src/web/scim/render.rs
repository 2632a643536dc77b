//! Resource documents as returned: the stored document plus what is derived at read time
//! (a user's `groups`, a group's `members`), then the projection.

use serde_json::{Value, json};

use crate::directory::groups::Group;
use crate::directory::users::User;
use crate::scim::project::Projection;
use crate::scim::resource::to_resource;
use crate::scim::schema;

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
    p.apply(rt, to_resource(rt, &u.meta, &doc, base))
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
    p.apply(rt, to_resource(rt, &g.meta, &doc, base))
}
