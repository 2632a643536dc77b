//! Bearer secrets (DESIGN.md, *API token*, *Credentials, each for one purpose*): a prefix + 256
//! random bits (base64url), shown once, stored only as a SHA-256 digest, compared in constant
//! time. Integration API tokens start `scg_`, verifier keys (`/api/v1/verify` only) `scv_`: the
//! prefix lets secret scanners recognise a leaked one and tells which kind it is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of integration API tokens.
pub const TOKEN_PREFIX: &str = "scg_";
/// The prefix of verifier keys.
pub const VERIFIER_KEY_PREFIX: &str = "scv_";

/// A freshly generated API token or verifier key. Its value is shown to the administrator once
/// and then only its digest exists; `Debug` prints its prefix only.
pub struct ApiToken {
    value: String,
    prefix: &'static str,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiToken({}…)", self.prefix)
    }
}

impl ApiToken {
    /// An integration API token (`scg_…`).
    pub fn generate() -> Result<ApiToken, rand::rngs::SysError> {
        ApiToken::with_prefix(TOKEN_PREFIX)
    }

    /// `prefix` + 32 bytes from the operating system's generator, base64url.
    pub fn with_prefix(prefix: &'static str) -> Result<ApiToken, rand::rngs::SysError> {
        let mut bytes = [0u8; 32];
        SysRng.try_fill_bytes(&mut bytes)?;
        Ok(ApiToken {
            value: format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)),
            prefix,
        })
    }

    /// The token, for showing once.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.value)
    }
}

/// A one-time link token (enrollment links): 256 random bits, base64url (43 characters).
/// Only its [`TokenDigest`] is stored.
pub fn link_token() -> Result<String, rand::rngs::SysError> {
    let mut bytes = [0u8; 32];
    SysRng.try_fill_bytes(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 digest of a token: what the database keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenDigest({}…)", hex::encode(&self.0[..4]))
    }
}

impl TokenDigest {
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<TokenDigest> {
        <[u8; 32]>::try_from(bytes).ok().map(TokenDigest)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison with a presented token.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(TokenDigest::of(presented).0.ct_eq(&self.0))
    }
}

/// The token in an `Authorization` header value: `Bearer <token>` (any case) or the bare token,
/// since Okta's Header Auth app sends exactly what the administrator pasted
/// (scim-field-notes.md §1.1).
pub fn from_authorization(header: &str) -> Option<&str> {
    let h = header.trim();
    let token = match h.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None if h.eq_ignore_ascii_case("bearer") => return None,
        None => h,
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_and_digests() {
        let t = ApiToken::generate().unwrap();
        assert!(t.expose().starts_with("scg_"));
        assert_eq!(t.expose().len(), 4 + 43);
        let d = t.digest();
        assert!(d.matches(t.expose()));
        assert!(!d.matches("scg_other"));
        assert!(!format!("{t:?}").contains(&t.expose()[4..]));
        assert_ne!(ApiToken::generate().unwrap().expose(), t.expose());
        let k = ApiToken::with_prefix(VERIFIER_KEY_PREFIX).unwrap();
        assert!(k.expose().starts_with("scv_"));
        assert_eq!(k.expose().len(), 4 + 43);
        assert_eq!(format!("{k:?}"), "ApiToken(scv_…)");
        assert!(k.digest().matches(k.expose()) && !k.digest().matches(t.expose()));
    }

    #[test]
    fn authorization_forms() {
        assert_eq!(from_authorization("Bearer scg_abc"), Some("scg_abc"));
        assert_eq!(from_authorization("bearer   scg_abc "), Some("scg_abc"));
        assert_eq!(from_authorization("scg_abc"), Some("scg_abc"));
        assert_eq!(from_authorization("Basic dXNlcjpwYXNz"), None);
        assert_eq!(from_authorization("Bearer "), None);
        assert_eq!(from_authorization(""), None);
    }
}
