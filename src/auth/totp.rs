//! TOTP authenticators (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of clock
//! skew either way, which every authenticator app supports), and their QR codes as SVG.

use totp_rs::{Builder, Secret, Totp};

/// The name authenticator apps show above the code.
pub const ISSUER: &str = "scimgate MFA";

/// A TOTP secret, base32 (RFC 4648) as authenticator apps take it. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(String);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// 160 random bits (RFC 4226 §4 recommends 160).
    pub fn generate() -> TotpSecret {
        TotpSecret(Secret::generate().to_base32())
    }

    /// A stored secret; `None` if it is not base32.
    pub fn from_base32(s: &str) -> Option<TotpSecret> {
        Secret::try_from_base32(s)
            .ok()
            .map(|_| TotpSecret(s.to_owned()))
    }

    /// The base32 text, for storing and for typing into an app by hand.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn totp(&self, account: &str) -> Option<Totp> {
        let secret = Secret::try_from_base32(&self.0).ok()?;
        Builder::new()
            .with_secret(secret)
            .with_account_name(account)
            .with_issuer(Some(ISSUER))
            .build()
            .ok()
    }

    /// The time step `code` is valid for at `unix_time` (± one step), if it is.
    pub fn check(&self, code: &str, unix_time: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.totp("user")?.check(code, unix_time)
    }

    /// The code at `unix_time` (tests, and a self-check).
    pub fn code_at(&self, unix_time: u64) -> Option<String> {
        Some(self.totp("user")?.generate(unix_time).to_string())
    }

    /// The `otpauth://` URL and its QR code as an SVG document, for `account`.
    pub fn provisioning(&self, account: &str) -> Option<(String, String)> {
        let url = self.totp(account)?.to_url().ok()?;
        let svg = qrcode::QrCode::new(url.as_bytes())
            .ok()?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .build();
        Some((url, svg))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_check_within_one_step() {
        let s = TotpSecret::generate();
        let t = 1_800_000_000;
        let code = s.code_at(t).unwrap();
        assert_eq!(code.len(), 6);
        assert!(s.check(&code, t).is_some());
        assert!(s.check(&code, t + 30).is_some());
        assert!(s.check(&code, t + 95).is_none());
        assert!(s.check("12345", t).is_none());
        assert!(s.check("abcdef", t).is_none());
        let again = TotpSecret::from_base32(s.expose()).unwrap();
        assert_eq!(again.code_at(t), s.code_at(t));
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn qr_code_is_svg_of_the_otpauth_url() {
        let s = TotpSecret::generate();
        let (url, svg) = s.provisioning("ann@example.test").unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(s.expose()));
        assert!(svg.contains("<svg"));
    }
}
