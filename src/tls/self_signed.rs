//! `scimgate tls self-signed`: a certificate and key for trying HTTPS out (rcgen, ECDSA
//! P-256). No public CA vouches for it, so Okta and Entra refuse it; curl takes it with
//! `--cacert`.

use std::io::Write;
use std::path::Path;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use super::TlsError;

/// The longest validity `generate` accepts, in days.
pub const MAX_DAYS: u32 = 3650;

/// (certificate PEM, private key PEM) for `hosts` (DNS names or IP addresses), valid from a
/// minute ago for `days` days.
pub fn generate(hosts: &[String], days: u32) -> Result<(String, String), TlsError> {
    if days == 0 || days > MAX_DAYS {
        return Err(TlsError::Config(format!(
            "--days must be between 1 and {MAX_DAYS}"
        )));
    }
    let now = OffsetDateTime::now_utc();
    generate_with_validity(
        hosts,
        now - Duration::minutes(1),
        now + Duration::days(i64::from(days)),
    )
}

/// As [`generate`], with an explicit validity period (tests make expired certificates).
pub fn generate_with_validity(
    hosts: &[String],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<(String, String), TlsError> {
    let first = hosts
        .first()
        .ok_or_else(|| TlsError::Config("give at least one --host".into()))?;
    for h in hosts {
        let name_ok = !h.is_empty()
            && h.len() <= 253
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.*".contains(&b));
        if h.parse::<std::net::IpAddr>().is_err() && !name_ok {
            return Err(TlsError::Config(format!(
                "--host '{h}' is not a DNS name (letters, digits, '-', '.', a leading '*.') or an IP address"
            )));
        }
    }
    let mut params = CertificateParams::new(hosts.to_vec())
        .map_err(|e| TlsError::Config(format!("host names {hosts:?}: {e}")))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, first.as_str());
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_after;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(|e| TlsError::Config(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reload never reads
/// half a file; `mode` is the Unix permission of the new file. Without `overwrite` an
/// existing file is an error.
pub fn write_file(path: &Path, contents: &str, mode: u32, overwrite: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if !overwrite && path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists (use --force to replace it)", path.display()),
        ));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_days_are_checked() {
        assert!(
            generate(
                &["mfa.example.com".into(), "10.0.0.5".into(), "::1".into()],
                90
            )
            .is_ok()
        );
        let e = generate(&["bad name".into()], 90).unwrap_err().to_string();
        assert!(e.contains("bad name"), "{e}");
        assert!(generate(&[], 90).is_err());
        assert!(generate(&["x.test".into()], 0).is_err());
        assert!(generate(&["x.test".into()], MAX_DAYS + 1).is_err());
    }
}
