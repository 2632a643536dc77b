//! HMAC-SHA256 (RFC 2104): tamper evidence for values the server hands out and reads back,
//! such as list cursors (keyed from the secrets key, `SecretsKey::derive_mac_key`).

use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BLOCK: usize = 64;

/// A secret MAC key.
#[derive(Clone)]
pub struct MacKey([u8; 32]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(…)")
    }
}

impl MacKey {
    /// 256 random bits from the operating system.
    pub fn random() -> MacKey {
        let mut k = [0u8; 32];
        // The OS generator failing is not recoverable; fall back to a UUID v4 (also OS
        // randomness through another path) rather than a fixed key.
        if SysRng.try_fill_bytes(&mut k).is_err() {
            k[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            k[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        MacKey(k)
    }

    pub fn from_bytes(k: [u8; 32]) -> MacKey {
        MacKey(k)
    }

    /// HMAC-SHA256 of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 32] {
        let mut ipad = [0x36u8; BLOCK];
        let mut opad = [0x5cu8; BLOCK];
        for (i, b) in self.0.iter().enumerate() {
            ipad[i] ^= b;
            opad[i] ^= b;
        }
        let inner = Sha256::new()
            .chain_update(ipad)
            .chain_update(msg)
            .finalize();
        Sha256::new()
            .chain_update(opad)
            .chain_update(inner)
            .finalize()
            .into()
    }

    /// Whether `tag` is a prefix (at least 16 bytes) of the MAC of `msg`, in constant time.
    pub fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        tag.len() >= 16 && tag.len() <= 32 && bool::from(self.sign(msg)[..tag.len()].ct_eq(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2_shape() {
        // RFC 4231 test case 2 uses a 4-byte key "Jefe"; ours are 32 bytes, zero-padded the
        // same way HMAC pads, so the same vector applies.
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(b"Jefe");
        let mac = MacKey::from_bytes(k).sign(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = MacKey::from_bytes(k);
        assert!(key.verify(b"what do ya want for nothing?", &mac[..16]));
        assert!(!key.verify(b"what do ya want for nothing!", &mac[..16]));
        assert!(!key.verify(b"what do ya want for nothing?", &mac[..8]));
    }
}
