//! What the admin pages do beyond SCIM: change an integration's settings (its token: `rotation`),
//! delete it (its users become manually provisioned), and search, read and add users.

use serde_json::{Value, json};

use crate::directory::integration::{Integration, IntegrationId, Settings};
use crate::directory::users::User;
use crate::directory::{Directory, Error, now};
use crate::scim::resource;
use crate::scim::schema;
use crate::store::integrations;
use crate::store::users::{self, NewUser, Search};

/// The longest userName, alias or name part accepted from the Add user form.
pub const MAX_FIELD_CHARS: usize = 256;
/// The most aliases the Add user form takes.
pub const MAX_ALIASES: usize = 50;

/// A manually provisioned user, as an administrator types it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManualUser {
    pub user_name: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    /// One alias per entry (the form takes one per line).
    pub aliases: Vec<String>,
}

/// A problem with one field of a form: (field name, message).
pub type FieldError = (&'static str, String);

impl ManualUser {
    /// Every problem, field by field (empty when the user can be created).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut check = |field: &'static str, v: &str, required: bool| {
            let v = v.trim();
            if required && v.is_empty() {
                errs.push((field, "Required.".to_owned()));
            } else if v.chars().count() > MAX_FIELD_CHARS {
                errs.push((field, format!("At most {MAX_FIELD_CHARS} characters.")));
            } else if v.chars().any(char::is_control) {
                errs.push((field, "Must not contain control characters.".to_owned()));
            }
        };
        check("user_name", &self.user_name, true);
        check("given_name", &self.given_name, false);
        check("family_name", &self.family_name, false);
        check("email", &self.email, false);
        let email = self.email.trim();
        if !email.is_empty()
            && !errs.iter().any(|(f, _)| *f == "email")
            && !email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !email.contains(' '))
        {
            errs.push((
                "email",
                "Not an email address (name@example.com).".to_owned(),
            ));
        }
        if self.aliases.len() > MAX_ALIASES {
            errs.push(("aliases", format!("At most {MAX_ALIASES} aliases.")));
        }
        for a in &self.aliases {
            if a.chars().count() > MAX_FIELD_CHARS || a.chars().any(char::is_control) {
                errs.push((
                    "aliases",
                    format!("Each alias must be at most {MAX_FIELD_CHARS} plain characters."),
                ));
                break;
            }
        }
        errs
    }

    /// The SCIM document of this user.
    fn to_scim(&self) -> Value {
        let (given, family) = (self.given_name.trim(), self.family_name.trim());
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": self.user_name.trim(),
            "active": true,
        });
        if !given.is_empty() || !family.is_empty() {
            let formatted = format!("{given} {family}").trim().to_owned();
            body["name"] = json!({"formatted": formatted});
            if !given.is_empty() {
                body["name"]["givenName"] = json!(given);
            }
            if !family.is_empty() {
                body["name"]["familyName"] = json!(family);
            }
            body["displayName"] = json!(formatted);
        }
        if !self.email.trim().is_empty() {
            body["emails"] = json!([{"value": self.email.trim(), "type": "work", "primary": true}]);
        }
        if !self.aliases.is_empty() {
            body["aliases"] = Value::Array(
                self.aliases
                    .iter()
                    .map(|a| json!({"value": a.trim(), "type": "email"}))
                    .collect(),
            );
        }
        body
    }
}

fn parse_id(id: &str) -> Result<IntegrationId, Error> {
    IntegrationId::parse(id).ok_or(Error::NotFound)
}

impl Directory {
    /// One integration, with the number of users it owns.
    pub async fn integration(&self, id: &str) -> Result<Integration, Error> {
        let id = parse_id(id)?;
        self.list_integrations()
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or(Error::NotFound)
    }

    /// Save and Deploy: the settings take effect with the next SCIM request.
    pub async fn save_integration_settings(&self, id: &str, s: Settings) -> Result<(), Error> {
        let id = parse_id(id)?;
        let iid = id.clone();
        self.store
            .write(move |c| {
                integrations::update_settings(
                    c,
                    iid.as_str(),
                    s.send_enrollment_emails,
                    s.include_manual,
                    s.read_all_users,
                    s.group_patch_answer.code(),
                )
                .map_err(Error::from)
            })
            .await?;
        self.forget_integration(id.as_str());
        tracing::info!(integration = %id, ?s, "integration settings saved");
        Ok(())
    }

    /// Deletes an integration; its users stay, as manually provisioned users. Returns how many.
    pub async fn delete_integration(&self, id: &str) -> Result<i64, Error> {
        let id = parse_id(id)?;
        let iid = id.clone();
        let released = self
            .store
            .write(move |c| integrations::delete(c, iid.as_str()).map_err(Error::from))
            .await?;
        self.forget_integration(id.as_str());
        tracing::info!(integration = %id, released, "integration deleted; its users are now manual");
        Ok(released)
    }

    /// The Users page: a page of users matching `search`, newest first.
    pub async fn search_users(
        &self,
        search: Search,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<User>), Error> {
        let (total, rows) = self
            .store
            .read(move |c| users::search(c, &search, offset, limit).map_err(Error::from))
            .await?;
        Ok((total, rows.into_iter().map(User::from).collect()))
    }

    /// Any user, whoever owns it (the admin pages see everything).
    pub async fn user_for_admin(&self, id: &str) -> Result<User, Error> {
        let id = id.to_owned();
        self.store
            .read(move |c| {
                let row = users::find_by_id(c, &id)?.ok_or(Error::NotFound)?;
                let provenance = crate::directory::Provenance::load(
                    c,
                    crate::store::provenance::Kind::User,
                    row.seq,
                    row.source.as_deref(),
                )?;
                Ok(User {
                    provenance,
                    ..User::from(row)
                })
            })
            .await
    }

    /// The groups a user belongs to, from every source, for the user page: (id, displayName),
    /// oldest group first.
    pub async fn user_groups_for_admin(&self, id: &str) -> Result<Vec<(String, String)>, Error> {
        let id = id.to_owned();
        self.store
            .read(move |c| {
                let row = users::find_by_id(c, &id)?.ok_or(Error::NotFound)?;
                Ok(crate::store::groups::groups_of_user(
                    c,
                    row.seq,
                    &users::Scope::All,
                )?)
            })
            .await
    }

    /// Add user: a manually provisioned user (no source). Run [`ManualUser::validate`] first;
    /// a taken userName or alias is `Conflict` naming it.
    pub async fn create_manual_user(&self, u: &ManualUser) -> Result<User, Error> {
        let doc = crate::directory::users::tidy_aliases(resource::normalize(
            schema::user(),
            &u.to_scim(),
        )?);
        let row = self
            .store
            .write(move |tx| {
                let id = uuid::Uuid::now_v7().to_string();
                Ok::<_, Error>(users::insert(
                    tx,
                    NewUser {
                        id: &id,
                        source: None,
                        now: &now(),
                        doc: &doc,
                    },
                )?)
            })
            .await?;
        tracing::info!(user = %row.id, "manually provisioned user created");
        Ok(row.into())
    }
}

/// Refuses changes to a user an integration owns: its identity provider is the source of truth.
fn manual_only(row: &users::UserRow) -> Result<(), Error> {
    match &row.source {
        None => Ok(()),
        Some(_) => Err(Error::Forbidden(
            "This user is provisioned by an integration: change it in its identity provider, which is the source of truth.".into(),
        )),
    }
}

impl Directory {
    /// Deactivates or reactivates a manually provisioned user.
    pub async fn set_manual_user_active(&self, id: &str, active: bool) -> Result<User, Error> {
        let id = id.to_owned();
        let row = self
            .store
            .write(move |c| {
                let row = users::find_by_id(c, &id)?.ok_or(Error::NotFound)?;
                manual_only(&row)?;
                let mut doc = row.doc.clone();
                doc.insert("active".into(), Value::Bool(active));
                if doc == row.doc {
                    return Ok(row);
                }
                Ok::<_, Error>(users::update(c, &row, None, doc, &now())?)
            })
            .await?;
        tracing::info!(user = %row.id, active, "manual user status changed");
        Ok(row.into())
    }

    /// Edit user: replaces the name, email and aliases of a manually provisioned user, keeping
    /// its userName, status and every other attribute. Run [`ManualUser::validate`] first (with
    /// the current userName); a taken alias is `Conflict` naming it.
    pub async fn update_manual_user(&self, id: &str, u: &ManualUser) -> Result<User, Error> {
        let id = id.to_owned();
        let Value::Object(fields) = u.to_scim() else {
            return Err(Error::Invalid("not a user".into()));
        };
        let row = self
            .store
            .write(move |c| {
                let row = users::find_by_id(c, &id)?.ok_or(Error::NotFound)?;
                manual_only(&row)?;
                let mut doc = row.doc.clone();
                for k in ["name", "displayName", "emails", "aliases"] {
                    doc.remove(k);
                }
                for (k, v) in fields {
                    if k != "active" && k != "userName" {
                        doc.insert(k, v);
                    }
                }
                let doc = crate::directory::users::tidy_aliases(resource::normalize(
                    schema::user(),
                    &Value::Object(doc),
                )?);
                if doc == row.doc {
                    return Ok(row);
                }
                Ok::<_, Error>(users::update(c, &row, None, doc, &now())?)
            })
            .await?;
        tracing::info!(user = %row.id, "manual user edited");
        Ok(row.into())
    }

    /// Deletes a manually provisioned user.
    pub async fn delete_manual_user(&self, id: &str) -> Result<(), Error> {
        let id = id.to_owned();
        self.store
            .write(move |c| {
                let row = users::find_by_id(c, &id)?.ok_or(Error::NotFound)?;
                manual_only(&row)?;
                users::delete(c, row.seq)?;
                tracing::info!(user = %row.id, "manual user deleted");
                Ok::<_, Error>(())
            })
            .await
    }
}

/// Refuses changes to a group an integration owns: its identity provider is the source of truth.
fn manual_group_only(row: &crate::store::groups::GroupRow) -> Result<(), Error> {
    match &row.source {
        None => Ok(()),
        Some(_) => Err(Error::Forbidden(
            "This group is provisioned by an integration: change it in its identity provider, which is the source of truth.".into(),
        )),
    }
}

/// A group name's problem, for the field (None when it can be used).
pub fn group_name_error(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        Some("Required.".to_owned())
    } else if name.chars().count() > MAX_FIELD_CHARS {
        Some(format!("At most {MAX_FIELD_CHARS} characters."))
    } else if name.chars().any(char::is_control) {
        Some("Must not contain control characters.".to_owned())
    } else {
        None
    }
}

impl Directory {
    /// Add group: a manually provisioned group (no source, no members). Check
    /// [`group_name_error`] first; a taken displayName (ignoring case) is `Conflict`.
    /// Returns the new group's id.
    pub async fn create_manual_group(&self, name: &str) -> Result<String, Error> {
        let doc = resource::normalize(
            schema::group(),
            &json!({"schemas": [crate::scim::schema::GROUP_URN], "displayName": name.trim()}),
        )?;
        let id = self
            .store
            .write(move |tx| {
                let id = uuid::Uuid::now_v7().to_string();
                crate::store::groups::insert(tx, &id, None, &now(), &doc)?;
                Ok::<_, Error>(id)
            })
            .await?;
        tracing::info!(group = %id, "manually provisioned group created");
        Ok(id)
    }

    /// Adds the user holding `login` (a userName or an alias) to a manual group. An unknown
    /// login is `Invalid`; a user already in the group changes nothing.
    pub async fn add_manual_group_member(&self, group_id: &str, login: &str) -> Result<(), Error> {
        let (group_id, login) = (group_id.to_owned(), login.trim().to_owned());
        self.store
            .write(move |c| {
                let row = crate::store::groups::find_by_id(c, &group_id)?.ok_or(Error::NotFound)?;
                manual_group_only(&row)?;
                let user = users::seq_by_login(c, &login)?.ok_or_else(|| {
                    Error::Invalid(format!("No user has the username or alias \"{login}\"."))
                })?;
                if crate::store::groups::add_members(c, row.seq, &[user])? > 0 {
                    crate::store::groups::touch(c, &row, None, &now())?;
                }
                Ok::<_, Error>(())
            })
            .await
    }

    /// Removes a user (by id) from a manual group; one not in it changes nothing.
    pub async fn remove_manual_group_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<(), Error> {
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        self.store
            .write(move |c| {
                let row = crate::store::groups::find_by_id(c, &group_id)?.ok_or(Error::NotFound)?;
                manual_group_only(&row)?;
                let Some(user) = users::find_by_id(c, &user_id)? else {
                    return Ok(());
                };
                if crate::store::groups::remove_members(c, row.seq, &[user.seq])? > 0 {
                    crate::store::groups::touch(c, &row, None, &now())?;
                }
                Ok::<_, Error>(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_user_validation() {
        let ok = ManualUser {
            user_name: "ann@example.com".into(),
            email: "ann@example.com".into(),
            ..Default::default()
        };
        assert!(ok.validate().is_empty());
        let bad = ManualUser {
            user_name: " ".into(),
            email: "nope".into(),
            ..Default::default()
        };
        let errs = bad.validate();
        assert!(errs.iter().any(|(f, _)| *f == "user_name"));
        assert!(errs.iter().any(|(f, _)| *f == "email"));
    }
}
