//! The *Verifier keys* card of the Settings page: list (name, created, last used), create, and
//! revoke after a confirmation page.
//!
//! A new key is shown once, and not as the answer to the POST (a reload would post again and
//! make another key): the POST keeps the key in memory for the admin's session
//! (`reveal::Reveal`), redirects, and the next GET of the Settings page takes it out and shows it.
//! A reload after that shows that the key is no longer available. The key never appears in a
//! URL, so it reaches neither the request log nor the browser history.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::directory::Error;
use crate::directory::verifier_keys::MAX_NAME_CHARS;
use crate::web::AppState;
use crate::web::admin::CsrfOnly;
use crate::web::admin::provisioning::sentence;
use crate::web::admin::session::AdminSession;
use crate::web::admin::settings::page_with;
use crate::web::admin::{ConfirmPage, Nav, PageError, enc, redirect, render, show_time};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/verifier-keys", web::post().to(create))
        .route(
            "/settings/verifier-keys/{id}/revoke",
            web::get().to(revoke_confirm),
        )
        .route(
            "/settings/verifier-keys/{id}/revoke",
            web::post().to(revoke),
        );
}

/// One key as listed.
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// What the card shows besides the list.
#[derive(Default)]
pub struct CardInput {
    /// The name typed into the create form (kept when it is refused).
    pub name: String,
    /// Why the name was refused, shown next to the field.
    pub error: Option<String>,
    /// A key just created: (name, key), shown this once.
    pub created: Option<(String, String)>,
    /// A one-line outcome (revoked; already shown).
    pub notice: Option<(bool, String)>,
}

/// The card as the template renders it.
pub struct VerifierCard {
    pub keys: Vec<KeyView>,
    pub input: CardInput,
    pub max_name: usize,
}

pub async fn card(state: &AppState, input: CardInput) -> Result<VerifierCard, PageError> {
    let keys = state
        .directory
        .list_verifier_keys()
        .await?
        .into_iter()
        .map(|k| KeyView {
            id: k.id.as_str().to_owned(),
            created: show_time(&k.created),
            last_used: super::show_last_used(
                k.last_used.as_deref(),
                time::OffsetDateTime::now_utc(),
            ),
            name: k.name,
        })
        .collect();
    Ok(VerifierCard {
        keys,
        input,
        max_name: MAX_NAME_CHARS,
    })
}

/// The Settings page's query: what the verifier-key card reports after a redirect.
#[derive(Deserialize)]
pub struct CardQuery {
    /// Set by the redirect after a key was created.
    created: Option<String>,
    /// The name of a key just revoked.
    revoked: Option<String>,
}

impl CardQuery {
    /// The card's input for a GET of the Settings page: the new key if this session has one
    /// waiting (taken out, so it is shown once).
    pub fn input(&self, state: &AppState, me: &AdminSession) -> CardInput {
        let mut input = CardInput::default();
        if let Some(name) = &self.revoked {
            input.notice = Some((
                true,
                format!(
                    "Verifier key \"{name}\" was revoked: requests that present it get 401 from now on."
                ),
            ));
        }
        if self.created.is_some() {
            match state.key_reveals.take(&me.cookie, None) {
                Some((name, key)) => input.created = Some((name, key.expose().to_owned())),
                None => {
                    input.notice = Some((
                        false,
                        "The new key was shown once and is not shown again. If it was not copied, revoke it and create another.".to_owned(),
                    ));
                }
            }
        }
        input
    }
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    match state.directory.create_verifier_key(&form.name).await {
        Ok(created) => {
            let k = &created.key;
            tracing::info!(verifier_key = %k.id, name = %k.name, by = %me.session.username, "verifier key created");
            state.key_reveals.put(&me.cookie, &k.name, created.secret);
            Ok(redirect("/admin/settings?created=1#verifier-keys"))
        }
        Err(Error::Invalid(m)) => {
            let input = CardInput {
                name: form.name.clone(),
                error: Some(sentence(&m)),
                ..CardInput::default()
            };
            page_with(
                &state,
                &me,
                None,
                String::new(),
                input,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke_confirm(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let k = state.directory.verifier_key(&id).await?;
    render(
        StatusCode::OK,
        &ConfirmPage {
            c: me.chrome(Nav::Settings),
            crumb: ("/admin/settings", "Settings"),
            title: format!("Revoke verifier key \"{}\"?", k.name),
            lines: vec![
                "The MFA service that presents this key gets 401 from /api/v1/verify from its next request: give it a new key first.".into(),
                "A revoked key cannot be restored.".into(),
            ],
            action: format!("/admin/settings/verifier-keys/{}/revoke", k.id),
            button: "Revoke key".into(),
            cancel: "/admin/settings#verifier-keys".into(),
        },
    )
}

async fn revoke(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let k = state.directory.revoke_verifier_key_id(&id).await?;
    tracing::info!(verifier_key = %k.id, name = %k.name, by = %me.session.username, "verifier key revoked");
    Ok(redirect(&format!(
        "/admin/settings?revoked={}#verifier-keys",
        enc(&k.name)
    )))
}
