//! Reading the PEM files and describing the certificate (x509-parser): subject, names,
//! validity, fingerprint.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::GeneralName;

use super::TlsError;

/// A certificate that expires within this many days is warned about (log, Settings page).
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What the served certificate is, for the log and the admin Settings page.
#[derive(Debug, Clone, PartialEq)]
pub struct CertStatus {
    /// The files it was read from.
    pub certificate: std::path::PathBuf,
    pub private_key: std::path::PathBuf,
    /// Distinguished names as RFC 4514-style text, e.g. `CN=mfa.example.com`.
    pub subject: String,
    pub issuer: String,
    /// The DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Issuer equals subject: no public CA vouches for it (Okta refuses such certificates).
    pub self_signed: bool,
    /// basicConstraints CA:TRUE (what `openssl req -x509` makes by default).
    pub is_ca: bool,
    /// SHA-256 of the DER certificate, hex with colons (as browsers show it).
    pub sha256_fingerprint: String,
    /// Certificates in the chain file, the server's own included.
    pub chain_len: usize,
    pub loaded_at: OffsetDateTime,
}

impl CertStatus {
    /// Whole days until `notAfter` (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// Whether a client asking for `host` accepts this certificate's names (subjectAltName;
    /// `*.example.com` covers one label, RFC 6125 §6.4.3). Case-insensitive.
    pub fn covers(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            match n.strip_prefix("*.") {
                Some(parent) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => n == host,
            }
        })
    }

    pub fn not_after_rfc3339(&self) -> String {
        self.not_after
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.not_after.to_string())
    }

    /// The warning to show when the certificate expires within [`EXPIRY_WARNING_DAYS`] (or
    /// has expired while the server kept running).
    pub fn expiry_warning(&self, now: OffsetDateTime) -> Option<String> {
        let days = self.days_left(now);
        if self.not_after <= now {
            Some(format!(
                "the TLS certificate {} expired on {}: clients refuse to connect; renew it and reload (SIGHUP)",
                self.certificate.display(),
                self.not_after_rfc3339()
            ))
        } else if days < EXPIRY_WARNING_DAYS {
            Some(format!(
                "the TLS certificate {} expires in {days} days ({}); renew it and reload (SIGHUP)",
                self.certificate.display(),
                self.not_after_rfc3339()
            ))
        } else {
            None
        }
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

/// The certificates of a PEM file, the server's own first.
pub(super) fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read("certificate file", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what: "certificate file",
            path: path.display().to_string(),
            message: pem_message(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(chain)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(super) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("private key file", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.display().to_string(),
        },
        e => TlsError::BadPem {
            what: "private key file",
            path: path.display().to_string(),
            message: pem_message(&e),
        },
    })
}

fn pem_message(e: &pem::Error) -> String {
    match e {
        pem::Error::Base64Decode(m) => format!("bad base64 inside a PEM block ({m})"),
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a PEM block is not closed (missing \"{}\")",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed PEM header line \"{}\"",
            String::from_utf8_lossy(line)
        ),
        other => format!("{other:?}"),
    }
}

/// Parses the server's certificate (the first of the chain) and checks its validity period.
pub(super) fn inspect(
    chain: &[CertificateDer<'static>],
    certificate: &Path,
    private_key: &Path,
    now: OffsetDateTime,
) -> Result<CertStatus, TlsError> {
    let bad = |message: String| TlsError::BadCertificate {
        path: certificate.display().to_string(),
        message,
    };
    let der = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: certificate.display().to_string(),
    })?;
    let (_, x) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
    let not_before = x.validity().not_before.to_datetime();
    let not_after = x.validity().not_after.to_datetime();
    let fmt = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
    if not_after <= now {
        return Err(TlsError::Expired {
            path: certificate.display().to_string(),
            not_after: fmt(not_after),
        });
    }
    if not_before > now {
        return Err(TlsError::NotYetValid {
            path: certificate.display().to_string(),
            not_before: fmt(not_before),
        });
    }
    let mut names = Vec::new();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        names.push(std::net::IpAddr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        names.push(std::net::IpAddr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let is_ca = matches!(x.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let digest: [u8; 32] = sha2::Sha256::digest(der.as_ref()).into();
    let sha256_fingerprint = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(CertStatus {
        certificate: certificate.to_owned(),
        private_key: private_key.to_owned(),
        subject: x.subject().to_string(),
        issuer: x.issuer().to_string(),
        names,
        not_before,
        not_after,
        self_signed: x.subject().as_raw() == x.issuer().as_raw(),
        is_ca,
        sha256_fingerprint,
        chain_len: chain.len(),
        loaded_at: now,
    })
}
