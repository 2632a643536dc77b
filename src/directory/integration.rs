//! Integrations ("provisionings" in the admin pages): creation with a fresh API token,
//! listing, and authentication of SCIM requests by token.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::auth::{ApiToken, TokenDigest};
use crate::directory::rotation::{self, TokenLifetime};
use crate::directory::{Directory, Error, format_time, now};
use crate::store::integrations::{self, IntegrationRow};

hex_id!(
    /// An integration id: 32 lower-case hex digits. It appears in the Base URL, which Okta
    /// refuses when it contains `_` (Okta build guide), so ids never do.
    IntegrationId
);

/// What a successful group PATCH answers when the request does not say: no
/// `attributes`/`excludedAttributes` and no `Prefer: return=…` (RFC 7644 §3.5.2, RFC 7240).
/// Users always answer 200 with the user then: Okta's SCIM 2.0 reference shows PATCH
/// deactivate answered with the user (docs/api.md, *PATCH answers*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatchAnswer {
    /// `204 No Content` (the default): Okta's group push and Entra's member `Add`/`Remove`
    /// accept it, and the group's member list is not rendered for each membership change.
    #[default]
    NoContent,
    /// `200 OK` with the group.
    Resource,
}

impl PatchAnswer {
    /// Every value, in the order the admin page offers them.
    pub const ALL: [PatchAnswer; 2] = [PatchAnswer::NoContent, PatchAnswer::Resource];

    /// The stored (and form, and CLI) code.
    pub fn code(self) -> &'static str {
        match self {
            PatchAnswer::NoContent => "no_content",
            PatchAnswer::Resource => "resource",
        }
    }

    pub fn parse(code: &str) -> Option<PatchAnswer> {
        Self::ALL.into_iter().find(|a| a.code() == code.trim())
    }

    /// As the admin page shows it.
    pub fn label(self) -> &'static str {
        match self {
            PatchAnswer::NoContent => "No content (204)",
            PatchAnswer::Resource => "The resource (200)",
        }
    }
}

/// The three settings of the vendor guide, and what a group PATCH answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    /// Send enrollment emails to users this integration creates.
    pub send_enrollment_emails: bool,
    /// Include Manually Provisioned Users: see and claim manual users.
    pub include_manual: bool,
    /// Read All Users: read every user, whoever owns it.
    pub read_all_users: bool,
    /// The answer to a group PATCH that does not ask for one.
    pub group_patch_answer: PatchAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub name: String,
    pub kind: String,
    pub settings: Settings,
    pub created: String,
    pub token_created: String,
    pub token_last_used: Option<String>,
    /// The current token's lifetime, counted from `token_created`.
    pub token_lifetime: TokenLifetime,
    /// When the current token expires (`token_created` + lifetime); None: never.
    pub token_expires: Option<String>,
    /// When the token replaced by the latest regeneration stops working; None when there is
    /// none. It may lie in the past: see [`rotation::previous_token_active`].
    pub previous_token_until: Option<String>,
    pub users_owned: i64,
    /// Filled in by [`Directory::list_integrations`] (and so `integration`) only; 0 elsewhere.
    pub groups_owned: i64,
}

impl Integration {
    pub(crate) fn from_row(r: IntegrationRow, users_owned: i64) -> Integration {
        let token_lifetime = TokenLifetime::from_stored(r.token_lifetime_days);
        Integration {
            token_expires: rotation::expiry(&r.token_created, token_lifetime).map(format_time),
            token_lifetime,
            previous_token_until: r.previous_token_until,
            id: IntegrationId(r.id),
            name: r.name,
            kind: r.kind,
            settings: Settings {
                send_enrollment_emails: r.send_enrollment_emails,
                include_manual: r.include_manual,
                read_all_users: r.read_all_users,
                // The column's CHECK allows only the two codes.
                group_patch_answer: PatchAnswer::parse(&r.group_patch_answer).unwrap_or_default(),
            },
            created: r.created,
            token_created: r.token_created,
            token_last_used: r.token_last_used,
            users_owned,
            groups_owned: 0,
        }
    }
}

/// A new integration and its token, which exists only here and in the administrator's hands.
#[derive(Debug)]
pub struct Created {
    pub integration: Integration,
    pub token: ApiToken,
}

/// The longest integration name.
pub const MAX_NAME_CHARS: usize = 100;

/// How long the database's [`Store::data_version`](crate::store::Store::data_version) is
/// trusted once asked, by the authentication cache. A change to an integration made in this
/// process drops its entry at once (`forget_integration`); one committed by another process
/// (the `scimgate integration` commands while `serve` runs) is seen within this time, and
/// those commands wait this long after such a change before they return (see
/// [`Directory::settle`]), so it applies to the next request sent after them (issue 15 item 3).
/// Asking on every request serialised the SCIM requests on the one connection that asks, and
/// every commit of the writer (the activity log's too) emptied the cache (issue 17 item 3).
pub const AUTH_RECHECK: Duration = Duration::from_millis(20);

/// The authentication cache: the entries, and the database's `data_version` when last asked.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    entries: std::collections::HashMap<String, CachedAuth>,
    /// `data_version` and when it was asked (before the asking began).
    version: Option<(Instant, i64)>,
}

impl AuthCache {
    /// The database's `data_version`, asked again when the last answer is [`AUTH_RECHECK`] old.
    fn version(&mut self, store: &crate::store::Store) -> Result<i64, Error> {
        let now = Instant::now();
        match self.version {
            Some((at, v)) if now.duration_since(at) < AUTH_RECHECK => Ok(v),
            _ => {
                let v = store.data_version()?;
                self.version = Some((now, v));
                Ok(v)
            }
        }
    }
}

/// A cached authentication: the integration and what its tokens are judged by, as read when
/// the database's [`Store::data_version`](crate::store::Store::data_version) was `version`.
/// Every SCIM request authenticates, and the cache saves a database read on each; it holds
/// while `data_version` has not moved (asked at most every [`AUTH_RECHECK`]), and a change to
/// an integration made in this process drops its entry at once. The token times are compared
/// with the directory's clock on every request, so a token stops at its overlap end or expiry.
#[derive(Debug, Clone)]
pub(crate) struct CachedAuth {
    integration: Integration,
    credentials: Credentials,
    version: i64,
}

/// The tokens an integration accepts, and until when.
#[derive(Debug, Clone)]
struct Credentials {
    digest: TokenDigest,
    expires: Option<OffsetDateTime>,
    /// The replaced token, while it keeps working: (digest, end of the overlap).
    previous: Option<(TokenDigest, OffsetDateTime)>,
}

impl Credentials {
    fn of(row: &IntegrationRow) -> Option<Credentials> {
        let previous = match (&row.previous_token_digest, &row.previous_token_until) {
            (Some(d), Some(until)) => Some((
                TokenDigest::from_bytes(d)?,
                rotation::parse_time(until).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            )),
            _ => None,
        };
        Some(Credentials {
            digest: TokenDigest::from_bytes(&row.token_digest)?,
            expires: rotation::expiry(
                &row.token_created,
                TokenLifetime::from_stored(row.token_lifetime_days),
            ),
            previous,
        })
    }

    /// Whether `presented` opens the integration at `now`: the current token until it expires,
    /// the previous one until its overlap ends. Each stored digest is compared every time.
    fn check(&self, presented: &str, now: OffsetDateTime) -> Result<(), Error> {
        let current = self.digest.matches(presented);
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|(d, until)| d.matches(presented) && now < *until);
        if current {
            return match self.expires {
                Some(at) if now >= at => Err(Error::TokenExpired {
                    at: format_time(at),
                }),
                _ => Ok(()),
            };
        }
        if previous {
            Ok(())
        } else {
            Err(Error::Unauthorized)
        }
    }
}

/// How often the token's "last used" time is written at most, per integration.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl Directory {
    pub async fn create_integration(&self, name: &str) -> Result<Created, Error> {
        self.create_integration_with(name, TokenLifetime::NEVER)
            .await
    }

    /// Save and Deploy with a token lifetime (issue 13 item 6).
    pub async fn create_integration_with(
        &self,
        name: &str,
        lifetime: TokenLifetime,
    ) -> Result<Created, Error> {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(Error::Invalid("the name must not be empty".into()));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::Invalid(format!(
                "the name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "the name must not contain control characters".into(),
            ));
        }
        let token =
            ApiToken::generate().map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let now = now();
        let issued = format_time(self.clock().now());
        let row = IntegrationRow {
            id: IntegrationId::generate().0,
            name,
            kind: "scim2".into(),
            token_digest: token.digest().as_bytes().to_vec(),
            send_enrollment_emails: false,
            include_manual: false,
            read_all_users: false,
            created: now,
            token_created: issued,
            token_last_used: None,
            previous_token_digest: None,
            previous_token_until: None,
            token_lifetime_days: lifetime.stored(),
            group_patch_answer: PatchAnswer::default().code().to_owned(),
        };
        let stored = row.clone();
        self.store
            .write(move |tx| integrations::insert(tx, &stored).map_err(Error::from))
            .await
            .map_err(|e| match e {
                Error::Conflict { value, .. } => Error::Invalid(format!(
                    "the name '{value}' is already taken by another provisioning"
                )),
                e => e,
            })?;
        Ok(Created {
            integration: Integration::from_row(row, 0),
            token,
        })
    }

    pub async fn list_integrations(&self) -> Result<Vec<Integration>, Error> {
        self.store
            .read(|tx| {
                let counts = integrations::user_counts(tx)?;
                let group_counts = integrations::group_counts(tx)?;
                let rows = integrations::list(tx)?;
                Ok::<_, Error>(
                    rows.into_iter()
                        .map(|r| {
                            let n = counts
                                .iter()
                                .find(|(id, _)| *id == r.id)
                                .map_or(0, |(_, n)| *n);
                            let g = group_counts
                                .iter()
                                .find(|(id, _)| *id == r.id)
                                .map_or(0, |(_, n)| *n);
                            Integration {
                                groups_owned: g,
                                ..Integration::from_row(r, n)
                            }
                        })
                        .collect(),
                )
            })
            .await
    }

    /// Whether an integration has the Base URL id `id` (for the Activity page's account of a
    /// refused request: an unknown Base URL or a bad token). Never told to the client.
    pub async fn integration_exists(&self, id: &str) -> Result<bool, Error> {
        let Some(id) = IntegrationId::parse(id) else {
            return Ok(false);
        };
        // A flood of bad tokens at a real Base URL costs no read: `authenticate` cached it,
        // and the entry holds while nothing has been committed since.
        let cached = {
            let mut cache = self.auth_cache.lock().unwrap_or_else(|p| p.into_inner());
            let version = cache.version(&self.store)?;
            cache
                .entries
                .get(id.as_str())
                .is_some_and(|c| c.version == version)
        };
        if cached {
            return Ok(true);
        }
        self.store
            .read(move |tx| Ok::<_, Error>(integrations::find(tx, id.as_str())?.is_some()))
            .await
    }

    /// The integration whose Base URL carries `id`, if `presented` is its token.
    /// Every failure is the same `Unauthorized`, and costs the same digest comparison, except
    /// the integration's current token after its expiry: `TokenExpired`, saying when, so the
    /// administrator reading the Activity page knows what to do (issue 13 item 6).
    pub async fn authenticate(&self, id: &str, presented: &str) -> Result<Integration, Error> {
        let Some(id) = IntegrationId::parse(id) else {
            let _ = TokenDigest::of("").matches(presented);
            return Err(Error::Unauthorized);
        };
        // Asked before the read below: a commit that lands after it moves the version, and
        // a later request reads again.
        let (version, cached) = {
            let mut cache = self.auth_cache.lock().unwrap_or_else(|p| p.into_inner());
            let version = cache.version(&self.store)?;
            let cached = cache
                .entries
                .get(id.as_str())
                .filter(|c| c.version == version)
                .map(|c| (c.integration.clone(), c.credentials.clone()));
            (version, cached)
        };
        if let Some((integration, credentials)) = cached {
            credentials.check(presented, self.clock().now())?;
            self.touch_token(&id).await;
            return Ok(integration);
        }
        let generation = self.auth_generation.load(Ordering::SeqCst);
        let lookup = id.0.clone();
        let row = self
            .store
            .read_now(move |tx| integrations::find(tx, &lookup).map_err(Error::from))
            .await?;
        let Some(row) = row else {
            let _ = TokenDigest::of("").matches(presented);
            return Err(Error::Unauthorized);
        };
        let Some(credentials) = Credentials::of(&row) else {
            return Err(Error::Unauthorized);
        };
        let integration = Integration::from_row(row, 0);
        {
            let mut cache = self.auth_cache.lock().unwrap_or_else(|p| p.into_inner());
            // Cache only what no in-process change has overtaken since the read began.
            if self.auth_generation.load(Ordering::SeqCst) == generation {
                cache.entries.insert(
                    id.as_str().to_owned(),
                    CachedAuth {
                        integration: integration.clone(),
                        credentials: credentials.clone(),
                        version,
                    },
                );
            }
        }
        credentials.check(presented, self.clock().now())?;
        self.touch_token(&id).await;
        Ok(integration)
    }

    /// Drops an integration from the authentication cache: called by every change to an
    /// integration made in this process (settings, token, deletion), so those take effect on
    /// the next request.
    pub(crate) fn forget_integration(&self, id: &str) {
        let mut cache = self.auth_cache.lock().unwrap_or_else(|p| p.into_inner());
        self.auth_generation.fetch_add(1, Ordering::SeqCst);
        cache.entries.remove(id);
        *self
            .integration_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// Waits until a server running on the same database has seen the changes to integrations
    /// this process made: [`AUTH_RECHECK`] after the last one (none: returns at once). The
    /// operator commands call it before they return, so that their change applies to the
    /// next request sent after them.
    pub async fn settle(&self) {
        let last = *self
            .integration_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(at) = last {
            // One interval after the commit suffices (a server's answer asked before the commit
            // is asked again by then); the second is a margin.
            let until = at + 2 * AUTH_RECHECK;
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Forgets when the token was last recorded as used (after a regeneration).
    pub(crate) fn forget_token_touch(&self, id: &IntegrationId) {
        let mut seen = self.token_touched.lock().unwrap_or_else(|p| p.into_inner());
        seen.remove(id.as_str());
    }

    async fn touch_token(&self, id: &IntegrationId) {
        let due = {
            let mut seen = self.token_touched.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            match seen.get(id.as_str()) {
                Some(t) if now.duration_since(*t) < TOUCH_EVERY => false,
                _ => {
                    seen.insert(id.as_str().to_owned(), now);
                    true
                }
            }
        };
        if due {
            let id = id.0.clone();
            let at = now();
            let r: Result<(), Error> = self
                .store
                .write(move |c| integrations::touch(c, &id, &at).map_err(Error::from))
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not record the token's last use");
            }
        }
    }
}

/// A change to an integration's settings: `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub send_enrollment_emails: Option<bool>,
    pub include_manual: Option<bool>,
    pub read_all_users: Option<bool>,
    pub group_patch_answer: Option<PatchAnswer>,
}

impl Directory {
    /// Changes the settings of the integration named `name` (or with id `name`) and returns it.
    /// Takes effect on the integration's next request: each request reads its settings afresh.
    pub async fn update_settings(
        &self,
        name: &str,
        change: SettingsChange,
    ) -> Result<Integration, Error> {
        let name = name.trim().to_owned();
        self.store
            .write(move |tx| {
                let row = match integrations::find_by_name(tx, &name)? {
                    Some(r) => r,
                    None => integrations::find(tx, &name)?.ok_or_else(|| {
                        Error::Invalid(format!("there is no integration named '{name}'"))
                    })?,
                };
                let mut row = row;
                row.send_enrollment_emails = change
                    .send_enrollment_emails
                    .unwrap_or(row.send_enrollment_emails);
                row.include_manual = change.include_manual.unwrap_or(row.include_manual);
                row.read_all_users = change.read_all_users.unwrap_or(row.read_all_users);
                if let Some(a) = change.group_patch_answer {
                    row.group_patch_answer = a.code().to_owned();
                }
                integrations::update_settings(
                    tx,
                    &row.id,
                    row.send_enrollment_emails,
                    row.include_manual,
                    row.read_all_users,
                    &row.group_patch_answer,
                )?;
                let owned = integrations::user_counts(tx)?
                    .into_iter()
                    .find(|(id, _)| *id == row.id)
                    .map_or(0, |(_, n)| n);
                Ok(Integration::from_row(row, owned))
            })
            .await
            .inspect(|i| self.forget_integration(i.id.as_str()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn current_until_expiry_previous_until_overlap_end() {
        let (current, old) = (ApiToken::generate().unwrap(), ApiToken::generate().unwrap());
        let t0 = time::macros::datetime!(2026-06-01 12:00 UTC);
        let c = Credentials {
            digest: current.digest(),
            expires: Some(t0 + time::Duration::days(90)),
            previous: Some((old.digest(), t0 + time::Duration::hours(24))),
        };
        let at = |h: i64| t0 + time::Duration::hours(h);
        assert!(c.check(current.expose(), at(0)).is_ok());
        assert!(c.check(old.expose(), at(23)).is_ok());
        assert!(matches!(
            c.check(old.expose(), at(24)),
            Err(Error::Unauthorized)
        ));
        assert!(matches!(
            c.check("scg_other", at(0)),
            Err(Error::Unauthorized)
        ));
        assert!(c.check(current.expose(), at(90 * 24 - 1)).is_ok());
        match c.check(current.expose(), at(90 * 24)) {
            Err(Error::TokenExpired { at }) => assert_eq!(at, "2026-08-30T12:00:00.000Z"),
            other => panic!("{other:?}"),
        }
        // Only the current token says it expired: others learn nothing.
        assert!(matches!(
            c.check("scg_other", at(90 * 24)),
            Err(Error::Unauthorized)
        ));
    }
}
