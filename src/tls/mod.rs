//! TLS for the appliance's own listener (rustls 0.23 with *ring*, no OpenSSL): the crypto
//! policy (TLS 1.2 and 1.3, ECDHE suites only), loading and checking the operator's PEM
//! certificate chain and private key, and the certificate that is served, which can be
//! swapped while the server runs (SIGHUP, or a button on the admin Settings page).
//!
//! Knows no HTTP and no SQL; imports no other module of this crate.
//!
//! For callers (the `serve` start-up, the SIGHUP handler, the admin Settings page):
//! [`Tls::load`] at start-up, [`Tls::reload`] to re-read the files (a bad file keeps the old
//! certificate), [`Tls::status`] for subject, names, `notAfter` and days left, and
//! [`CertStatus::expiry_warning`] for the "expires within 30 days" message.

mod cert;
pub mod self_signed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite};
use time::OffsetDateTime;

pub use cert::{CertStatus, EXPIRY_WARNING_DAYS};

/// Why a certificate or key could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what} {path}: cannot read it: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "certificate file {path}: no certificate in it (expected a PEM block \"-----BEGIN CERTIFICATE-----\")"
    )]
    NoCertificate { path: String },
    #[error(
        "private key file {path}: no private key in it (expected a PEM block \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\")"
    )]
    NoKey { path: String },
    #[error("{what} {path}: not valid PEM: {message}")]
    BadPem {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("certificate file {path}: the first certificate cannot be parsed: {message}")]
    BadCertificate { path: String, message: String },
    #[error("certificate file {path}: the certificate expired on {not_after}")]
    Expired { path: String, not_after: String },
    #[error("certificate file {path}: the certificate is not valid before {not_before}")]
    NotYetValid { path: String, not_before: String },
    #[error(
        "private key file {path}: the key cannot be used ({message}); use RSA (2048 bits or more), ECDSA P-256/P-384 or Ed25519"
    )]
    UnsupportedKey { path: String, message: String },
    #[error(
        "private key file {key} does not belong to the certificate in {cert} (the first certificate in the file must be the server's own, followed by its intermediates)"
    )]
    KeyMismatch { cert: String, key: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Installs *ring* as the process-wide rustls provider. Call first thing in `main`: if any
/// dependency ever enables rustls' default provider (aws-lc-rs) too, rustls can no longer
/// pick one by itself (crates.md, pitfall 2). The server's own config names its provider
/// explicitly, so it does not depend on this.
pub fn install_crypto_provider() {
    // Err means one is already installed; nothing to do then.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The *ring* provider restricted to our policy: TLS 1.3 suites and the TLS 1.2 suites with
/// ECDHE key exchange (forward secrecy; Microsoft Entra ID requires such suites). Key
/// exchange groups are X25519, P-256 and P-384, all ephemeral.
pub fn provider() -> CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.retain(is_allowed_suite);
    p
}

fn is_allowed_suite(s: &SupportedCipherSuite) -> bool {
    match s {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => format!("{:?}", s.suite()).starts_with("TLS_ECDHE_"),
    }
}

/// The protocol versions offered: TLS 1.3 and 1.2. rustls implements nothing older, so a
/// TLS 1.0/1.1 client gets a `protocol_version` alert.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The cipher suites the server accepts, for logs and tests.
pub fn cipher_suites() -> Vec<CipherSuite> {
    provider().cipher_suites.iter().map(|s| s.suite()).collect()
}

struct Loaded {
    key: Arc<CertifiedKey>,
    status: CertStatus,
}

/// The served certificate and where it comes from.
pub struct Tls {
    certificate: PathBuf,
    private_key: PathBuf,
    current: RwLock<Loaded>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("certificate", &self.certificate)
            .field("private_key", &self.private_key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads and checks both files (start-up). Logs what was loaded, and a warning when the
    /// certificate expires within [`EXPIRY_WARNING_DAYS`].
    pub fn load(certificate: &Path, private_key: &Path) -> Result<Arc<Tls>, TlsError> {
        let loaded = load_pair(certificate, private_key)?;
        log_loaded("TLS certificate loaded", &loaded.status);
        Ok(Arc::new(Tls {
            certificate: certificate.to_owned(),
            private_key: private_key.to_owned(),
            current: RwLock::new(loaded),
        }))
    }

    /// Re-reads both files and, if they pass every start-up check, serves the new certificate
    /// to new connections (open ones keep theirs). On error the previous certificate stays in
    /// service, and the error is logged and returned. Blocking file I/O: call it off the
    /// async threads (`web::block`, `spawn_blocking`).
    pub fn reload(&self) -> Result<CertStatus, TlsError> {
        match load_pair(&self.certificate, &self.private_key) {
            Ok(loaded) => {
                log_loaded("TLS certificate reloaded", &loaded.status);
                let status = loaded.status.clone();
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
                Ok(status)
            }
            Err(e) => {
                let old = self.status();
                tracing::error!(
                    error = %e,
                    serving = %old.subject,
                    not_after = %old.not_after_rfc3339(),
                    "TLS reload failed; still serving the previous certificate"
                );
                Err(e)
            }
        }
    }

    /// What is being served now.
    pub fn status(&self) -> CertStatus {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .status
            .clone()
    }

    pub fn certificate_path(&self) -> &Path {
        &self.certificate
    }

    pub fn private_key_path(&self) -> &Path {
        &self.private_key
    }

    fn current_key(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .key
            .clone()
    }

    /// A rustls server configuration that serves whatever this `Tls` holds at handshake time.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, TlsError> {
        let config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(PROTOCOL_VERSIONS)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        Ok(config)
    }

    /// Logs the expiry warning, if any; for a daily check while the server runs.
    pub fn log_expiry_warning(&self) {
        if let Some(w) = self.status().expiry_warning(OffsetDateTime::now_utc()) {
            tracing::warn!("{w}");
        }
    }
}

fn log_loaded(msg: &str, s: &CertStatus) {
    let now = OffsetDateTime::now_utc();
    tracing::info!(
        subject = %s.subject,
        names = %s.names.join(","),
        not_after = %s.not_after_rfc3339(),
        days_left = s.days_left(now),
        certificate = %s.certificate.display(),
        "{msg}"
    );
    if let Some(w) = s.expiry_warning(now) {
        tracing::warn!("{w}");
    }
    if s.is_ca {
        tracing::warn!(
            certificate = %s.certificate.display(),
            "the certificate is marked as a CA (basicConstraints CA:TRUE); clients built on rustls reject it as a server certificate"
        );
    }
}

fn load_pair(certificate: &Path, private_key: &Path) -> Result<Loaded, TlsError> {
    let now = OffsetDateTime::now_utc();
    let chain = cert::read_chain(certificate)?;
    let status = cert::inspect(&chain, certificate, private_key, now)?;
    let key = cert::read_key(private_key)?;
    let provider = provider();
    let signing =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::UnsupportedKey {
                path: private_key.display().to_string(),
                message: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        // Unknown: the key type cannot report its public key; rustls treats this as a match.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                cert: certificate.display().to_string(),
                key: private_key.display().to_string(),
            });
        }
        Err(e) => {
            return Err(TlsError::BadCertificate {
                path: certificate.display().to_string(),
                message: e.to_string(),
            });
        }
    }
    Ok(Loaded {
        key: Arc::new(certified),
        status,
    })
}

/// Hands every handshake the certificate current at that moment (SNI is not consulted:
/// the appliance has one name).
struct Resolver(Arc<Tls>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resolver").field(&self.0).finish()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current_key())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::Duration;

    fn write_pair(dir: &Path, name: &str, host: &str, days: i64) -> (PathBuf, PathBuf) {
        let now = OffsetDateTime::now_utc();
        let (c, k) = self_signed::generate_with_validity(
            &[host.to_owned()],
            now - Duration::days(1),
            now + Duration::days(days),
        )
        .unwrap();
        let (cp, kp) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cp, c).unwrap();
        std::fs::write(&kp, k).unwrap();
        (cp, kp)
    }

    #[test]
    fn only_tls12_and_13_with_ecdhe_suites() {
        let suites = cipher_suites();
        assert!(!suites.is_empty());
        for s in &suites {
            let n = format!("{s:?}");
            assert!(
                n.starts_with("TLS13_") || n.starts_with("TLS_ECDHE_"),
                "{n}"
            );
        }
        assert!(suites.contains(&CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256));
        assert!(suites.contains(&CipherSuite::TLS13_AES_128_GCM_SHA256));
        assert_eq!(PROTOCOL_VERSIONS.len(), 2);
    }

    #[test]
    fn loads_a_good_pair_and_reports_its_status() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = write_pair(dir.path(), "a", "mfa.example.test", 90);
        let tls = Tls::load(&c, &k).unwrap();
        let s = tls.status();
        assert_eq!(s.subject, "CN=mfa.example.test");
        assert_eq!(s.names, vec!["mfa.example.test".to_owned()]);
        assert!((88..=90).contains(&s.days_left(OffsetDateTime::now_utc())));
        assert!(s.expiry_warning(OffsetDateTime::now_utc()).is_none());
        assert!(s.self_signed);
        assert!(!s.is_ca);
        assert!(s.covers("MFA.example.test"));
        assert!(!s.covers("other.example.test"));
        let mut wild = s.clone();
        wild.names = vec!["*.example.test".into(), "::1".into()];
        assert!(wild.covers("mfa.example.test"));
        assert!(!wild.covers("a.mfa.example.test"));
        assert!(!wild.covers("example.test"));
        assert!(wild.covers("[::1]"));
        tls.server_config().unwrap();
    }

    #[test]
    fn start_up_errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = write_pair(dir.path(), "a", "x.test", 90);
        let (c2, k2) = write_pair(dir.path(), "b", "x.test", 90);
        let err = |c: &Path, k: &Path| Tls::load(c, k).unwrap_err().to_string();

        let missing = dir.path().join("missing.pem");
        let e = err(&missing, &k);
        assert!(
            e.contains("certificate file")
                && e.contains("missing.pem")
                && e.contains("cannot read"),
            "{e}"
        );
        let e = err(&c, &missing);
        assert!(
            e.contains("private key file") && e.contains("missing.pem"),
            "{e}"
        );
        // A directory cannot be read as a file (root ignores permission bits, so this is the
        // portable "unreadable" case).
        let e = err(dir.path(), &k);
        assert!(e.contains("cannot read"), "{e}");

        // Swapped files: no certificate in the key file, no key in the certificate file.
        let e = err(&k, &c);
        assert!(
            e.contains(&*k.display().to_string()) && e.contains("no certificate"),
            "{e}"
        );
        let e = err(&c, &c);
        assert!(
            e.contains(&*c.display().to_string()) && e.contains("no private key"),
            "{e}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = err(&garbage, &k);
        assert!(e.contains("garbage.pem"), "{e}");

        // The key of another certificate.
        let e = err(&c, &k2);
        assert!(
            e.contains("does not belong") && e.contains("b.key") && e.contains("a.crt"),
            "{e}"
        );
        let _ = c2;

        // Expired.
        let now = OffsetDateTime::now_utc();
        let (ec, ek) = self_signed::generate_with_validity(
            &["x.test".to_owned()],
            now - Duration::days(100),
            now - Duration::days(1),
        )
        .unwrap();
        let (ecp, ekp) = (dir.path().join("old.crt"), dir.path().join("old.key"));
        std::fs::write(&ecp, ec).unwrap();
        std::fs::write(&ekp, ek).unwrap();
        let e = err(&ecp, &ekp);
        assert!(e.contains("old.crt") && e.contains("expired"), "{e}");

        // Not valid yet.
        let (fc, fk) = self_signed::generate_with_validity(
            &["x.test".to_owned()],
            now + Duration::days(2),
            now + Duration::days(90),
        )
        .unwrap();
        std::fs::write(&ecp, fc).unwrap();
        std::fs::write(&ekp, fk).unwrap();
        let e = err(&ecp, &ekp);
        assert!(
            e.contains("old.crt") && e.contains("not valid before"),
            "{e}"
        );
    }

    #[test]
    fn expiring_within_30_days_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = write_pair(dir.path(), "a", "x.test", 10);
        let s = Tls::load(&c, &k).unwrap().status();
        let w = s.expiry_warning(OffsetDateTime::now_utc()).unwrap();
        assert!(
            w.contains("expires in 9 days") || w.contains("expires in 10 days"),
            "{w}"
        );
        assert!(w.contains("a.crt"), "{w}");
        // 31 days later the same certificate is expired and says so.
        let later = OffsetDateTime::now_utc() + Duration::days(31);
        assert!(s.expiry_warning(later).unwrap().contains("expired"));
    }

    #[test]
    fn reload_swaps_and_a_bad_file_keeps_the_old_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = write_pair(dir.path(), "a", "one.test", 90);
        let tls = Tls::load(&c, &k).unwrap();
        let first = tls.current_key();
        let (c2, k2) = write_pair(dir.path(), "b", "two.test", 90);
        std::fs::copy(&c2, &c).unwrap();
        std::fs::copy(&k2, &k).unwrap();
        assert_eq!(tls.reload().unwrap().subject, "CN=two.test");
        let second = tls.current_key();
        assert_ne!(first.cert[0], second.cert[0]);

        std::fs::write(&c, "nothing here").unwrap();
        let e = tls.reload().unwrap_err().to_string();
        assert!(e.contains("no certificate"), "{e}");
        assert_eq!(tls.status().subject, "CN=two.test");
        assert_eq!(tls.current_key().cert[0], second.cert[0]);
    }
}
