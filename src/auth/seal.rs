//! Sealing secrets at rest (issue 13 item 2): XChaCha20-Poly1305 (RustCrypto
//! `chacha20poly1305`) under a 256-bit [`SecretsKey`] kept outside the database. A sealed
//! value is `v1:` followed by base64url (no padding) of the 24-byte random nonce and the
//! ciphertext with its 16-byte tag. The associated data is the identity of the row that holds
//! the value ([`aad`]), so a sealed value copied to another row, or to another purpose, does
//! not open. Base32 secrets never contain `:`, so the `v1:` prefix tells sealed from plaintext.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::aead::Payload;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};

/// The prefix of a value sealed by this version.
pub const PREFIX: &str = "v1:";

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Associated-data purposes: what kind of row a sealed value belongs to.
pub mod purpose {
    /// A user's registered TOTP authenticator (`authenticators.secret`), by user id.
    pub const TOTP: &str = "totp";
    /// The TOTP secret shown during enrollment, before a code confirms it
    /// (`enrollment_links.pending_secret`), by user id.
    pub const ENROLL_PENDING: &str = "enroll-pending";
    /// An administrator's own TOTP authenticator, by admin id.
    pub const ADMIN_TOTP: &str = "admin-totp";
}

/// The associated data binding a sealed value to its row: `scimgate/v1/{purpose}/{id}`.
pub fn aad(purpose: &str, id: &str) -> Vec<u8> {
    format!("scimgate/v1/{purpose}/{id}").into_bytes()
}

/// Whether a stored value is sealed (rather than a plaintext value from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the value is not sealed (no 'v1:' prefix)")]
    NotSealed,
    #[error("the sealed value is malformed")]
    Malformed,
    /// Wrong key, wrong row (associated data) or a tampered value: AEAD cannot tell which.
    #[error("the sealed value does not open with this key for this row")]
    Rejected,
    #[error("the opened value is not UTF-8")]
    NotText,
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// The key secrets are sealed with. `Debug` prints only its id.
#[derive(Clone)]
pub struct SecretsKey([u8; 32]);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretsKey(id {})", self.id())
    }
}

impl SecretsKey {
    /// 256 random bits from the operating system.
    pub fn generate() -> Result<SecretsKey, SealError> {
        let mut k = [0u8; 32];
        SysRng
            .try_fill_bytes(&mut k)
            .map_err(|e| SealError::Random(e.to_string()))?;
        Ok(SecretsKey(k))
    }

    pub fn from_bytes(k: [u8; 32]) -> SecretsKey {
        SecretsKey(k)
    }

    /// The raw key, for writing the key file.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Names the key without revealing it: the first 8 bytes of SHA-256 of a label and the
    /// key, in hex. The database records it, so a start with another key is refused.
    pub fn id(&self) -> String {
        let d = Sha256::new()
            .chain_update(b"scimgate secrets key id\0")
            .chain_update(self.0)
            .finalize();
        hex::encode(&d[..8])
    }

    /// A MAC key for `label`, derived from this key: HMAC-SHA256(key, label), the one-block
    /// HKDF-Expand of RFC 5869 §2.3 with the secrets key as the pseudorandom key. Every
    /// appliance on one database holds the same secrets key (its TOTP secrets are sealed with
    /// it), so each derives the same MAC key, and keeps it across restarts: a list cursor made
    /// by one appliance is honoured by another, and after a restart (issue 18 item 4).
    pub fn derive_mac_key(&self, label: &str) -> crate::auth::mac::MacKey {
        let prk = crate::auth::mac::MacKey::from_bytes(self.0);
        crate::auth::mac::MacKey::from_bytes(prk.sign(label.as_bytes()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Seals `plaintext` for the row `aad` (see [`aad`]): `v1:` + base64url(nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| SealError::Random(e.to_string()))?;
        let ct = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Only a message beyond 256 GiB fails to encrypt.
            .map_err(|_| SealError::Malformed)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a value sealed for the row `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::NotSealed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        self.cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| SealError::Rejected)
    }

    /// Seals text (a base32 TOTP secret).
    pub fn seal_str(&self, plaintext: &str, aad: &[u8]) -> Result<String, SealError> {
        self.seal(plaintext.as_bytes(), aad)
    }

    /// Opens a value sealed by [`SecretsKey::seal_str`].
    pub fn open_str(&self, sealed: &str, aad: &[u8]) -> Result<String, SealError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|_| SealError::NotText)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn derived_mac_keys_are_stable_and_separate() {
        let k = SecretsKey::from_bytes([7; 32]);
        let again = SecretsKey::from_bytes([7; 32]);
        let other = SecretsKey::from_bytes([8; 32]);
        let tag = k.derive_mac_key("a").sign(b"msg");
        assert_eq!(again.derive_mac_key("a").sign(b"msg"), tag);
        assert_ne!(k.derive_mac_key("b").sign(b"msg"), tag);
        assert_ne!(other.derive_mac_key("a").sign(b"msg"), tag);
        // Not the secrets key itself used as the MAC key.
        assert_ne!(
            crate::auth::mac::MacKey::from_bytes([7; 32]).sign(b"msg"),
            tag
        );
    }

    #[test]
    fn round_trip() {
        let k = SecretsKey::generate().unwrap();
        let a = aad(purpose::TOTP, "user-1");
        let s = k.seal_str("JBSWY3DPEHPK3PXP", &a).unwrap();
        assert!(is_sealed(&s), "{s}");
        assert!(!s.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(k.open_str(&s, &a).unwrap(), "JBSWY3DPEHPK3PXP");
        // A fresh nonce each time: the same secret seals differently.
        assert_ne!(s, k.seal_str("JBSWY3DPEHPK3PXP", &a).unwrap());
        assert_eq!(k.open(&k.seal(b"", &a).unwrap(), &a).unwrap(), b"");
    }

    #[test]
    fn another_row_or_purpose_does_not_open() {
        let k = SecretsKey::generate().unwrap();
        let s = k
            .seal_str("JBSWY3DPEHPK3PXP", &aad(purpose::TOTP, "u1"))
            .unwrap();
        assert_eq!(
            k.open_str(&s, &aad(purpose::TOTP, "u2")),
            Err(SealError::Rejected)
        );
        assert_eq!(
            k.open_str(&s, &aad(purpose::ENROLL_PENDING, "u1")),
            Err(SealError::Rejected)
        );
    }

    #[test]
    fn another_key_does_not_open() {
        let (k1, k2) = (
            SecretsKey::generate().unwrap(),
            SecretsKey::generate().unwrap(),
        );
        assert_ne!(k1.id(), k2.id());
        let a = aad(purpose::TOTP, "u1");
        let s = k1.seal_str("JBSWY3DPEHPK3PXP", &a).unwrap();
        assert_eq!(k2.open_str(&s, &a), Err(SealError::Rejected));
    }

    #[test]
    fn tampered_or_malformed_does_not_open() {
        let k = SecretsKey::generate().unwrap();
        let a = aad(purpose::TOTP, "u1");
        let s = k.seal_str("JBSWY3DPEHPK3PXP", &a).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&s[3..]).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            let t = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(k.open_str(&t, &a), Err(SealError::Rejected), "byte {i}");
            raw[i] ^= 1;
        }
        assert_eq!(
            k.open_str("JBSWY3DPEHPK3PXP", &a),
            Err(SealError::NotSealed)
        );
        assert_eq!(k.open_str("v1:!!", &a), Err(SealError::Malformed));
        assert_eq!(k.open_str("v1:AAAA", &a), Err(SealError::Malformed));
    }

    #[test]
    fn debug_shows_the_id_not_the_key() {
        let k = SecretsKey::from_bytes([7u8; 32]);
        let d = format!("{k:?}");
        assert!(d.contains(&k.id()), "{d}");
        assert_eq!(k.id().len(), 16);
        assert!(!d.contains("7, 7"), "{d}");
        assert_eq!(k.id(), SecretsKey::from_bytes([7u8; 32]).id());
    }
}
