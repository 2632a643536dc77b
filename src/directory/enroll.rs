//! Enrollment: one-time links (`{public_url}/enroll/{token}`: 256 random bits, only the
//! SHA-256 digest stored, expiring, a new link replacing the old, revoked by deactivation)
//! and the registration of a TOTP authenticator through them: show a secret, then confirm a
//! code from it, which registers the authenticator and uses the link up. Both secrets are
//! stored sealed (`secrets`), bound to the user's id.

use time::OffsetDateTime;

use crate::auth::TokenDigest;
use crate::auth::seal::purpose;
use crate::auth::totp::TotpSecret;
use crate::directory::{Directory, Error, format_time, now, open_totp, seal_totp};
use crate::store::Tx;
use crate::store::enrollment::{self, LinkRow};
use crate::store::users::{self, UserRow};

/// Issues a new enrollment link for a user (replacing any earlier one) inside a write job and
/// returns its token, which exists only in the email.
pub(crate) fn issue_link(
    tx: &mut Tx<'_>,
    user_seq: i64,
    lifetime: std::time::Duration,
) -> Result<String, Error> {
    let token = crate::auth::token::link_token()
        .map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let expires = format_time(OffsetDateTime::now_utc() + lifetime);
    enrollment::issue(
        tx,
        user_seq,
        TokenDigest::of(&token).as_bytes(),
        &expires,
        &now(),
    )?;
    Ok(token)
}

/// The live link of `token` and its (active) user; `NotFound` for an unknown, used, expired or
/// revoked link, or a deactivated user: the page says the same for all.
fn live_link(tx: &mut Tx<'_>, token: &str) -> Result<(LinkRow, UserRow), Error> {
    // Tokens are 43 base64url characters; anything else is not looked up.
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::NotFound);
    }
    let link = enrollment::find(tx, TokenDigest::of(token).as_bytes())?.ok_or(Error::NotFound)?;
    if link.expires < now() {
        return Err(Error::NotFound);
    }
    let user = users::find_by_seq(tx, link.user_seq)?.ok_or(Error::NotFound)?;
    if user.doc.get("active").and_then(serde_json::Value::as_bool) == Some(false) {
        return Err(Error::NotFound);
    }
    Ok((link, user))
}

fn user_name(u: &UserRow) -> String {
    u.doc
        .get("userName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The outcome of confirming a code.
#[derive(Debug)]
pub enum Confirm {
    /// The authenticator is registered and the link used up.
    Registered { user_name: String },
    /// The code does not match the secret shown: show it again.
    WrongCode {
        user_name: String,
        secret: TotpSecret,
    },
}

impl Directory {
    /// The userName behind a live enrollment link.
    pub async fn enrollment_link(&self, token: &str) -> Result<String, Error> {
        let token = token.to_owned();
        self.store
            .read(move |tx| live_link(tx, &token).map(|(_, u)| user_name(&u)))
            .await
    }

    /// Makes a new TOTP secret for the link's user and keeps it with the link until a code
    /// confirms it: (userName, secret).
    pub async fn start_enrollment(&self, token: &str) -> Result<(String, TotpSecret), Error> {
        let token = token.to_owned();
        let key = self.secrets.clone();
        self.store
            .write(move |tx| {
                let (link, user) = live_link(tx, &token)?;
                let secret = TotpSecret::generate();
                let sealed = seal_totp(&key, purpose::ENROLL_PENDING, &user.id, &secret)?;
                enrollment::set_pending_secret(tx, link.user_seq, &sealed)?;
                Ok((user_name(&user), secret))
            })
            .await
    }

    /// Checks `code` against the secret shown; on a match registers the authenticator
    /// (replacing an earlier one) and uses the link up, in one write.
    pub async fn confirm_enrollment(&self, token: &str, code: &str) -> Result<Confirm, Error> {
        let (token, code) = (token.to_owned(), code.to_owned());
        let t = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
        let key = self.secrets.clone();
        self.store
            .write(move |tx| {
                let (link, user) = live_link(tx, &token)?;
                let sealed = link.pending_secret.as_deref().ok_or(Error::NotFound)?;
                let secret = open_totp(&key, purpose::ENROLL_PENDING, &user.id, sealed)?;
                let name = user_name(&user);
                let Some(step) = secret.check(&code, t) else {
                    return Ok(Confirm::WrongCode {
                        user_name: name,
                        secret,
                    });
                };
                let sealed = seal_totp(&key, purpose::TOTP, &user.id, &secret)?;
                enrollment::register(tx, link.user_seq, &sealed, &now())?;
                enrollment::mark_step(tx, link.user_seq, step)?;
                enrollment::revoke(tx, link.user_seq)?;
                tracing::info!(user = %user.id, "authenticator registered");
                Ok(Confirm::Registered { user_name: name })
            })
            .await
    }

    /// Whether the user with id `user_id` has a registered authenticator (admin pages).
    pub async fn has_authenticator(&self, user_id: &str) -> Result<bool, Error> {
        let user_id = user_id.to_owned();
        self.store
            .read(move |tx| {
                let u = users::find_by_id(tx, &user_id)?.ok_or(Error::NotFound)?;
                Ok(enrollment::authenticator(tx, u.seq)?.is_some())
            })
            .await
    }
}
