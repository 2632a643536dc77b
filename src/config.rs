//! Configuration: `config.toml` (every key optional, with the defaults documented in the
//! shipped file), then environment variables, which win. Unknown keys and bad values are
//! start-up errors that name the key.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::store::Synchronous;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub scim: Scim,
    pub admin: Admin,
    pub activity: Activity,
    pub log: Log,
    pub tls: Tls,
    pub smtp: Smtp,
    pub enrollment: Enrollment,
    pub secrets: Secrets,
    pub limits: Limits,
    pub backup: Backup,
    pub metrics: Metrics,
}

/// Backups made by the server itself on a schedule (issue 16 item 1).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    /// The directory backups are written to (created `0700`). Empty: no scheduled backups.
    pub dir: PathBuf,
    /// Hours between two backups; the first is made when the server starts.
    pub interval_hours: u64,
    /// How many scheduled backups are kept; older ones are removed after a good backup.
    pub keep: u32,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            dir: PathBuf::new(),
            interval_hours: 24,
            keep: 7,
        }
    }
}

/// The Prometheus endpoint (issue 16 item 2): `/metrics` on a listener of its own, so it can
/// stay on a private interface while `server.listen` faces the IdPs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Where `/metrics` is served (plain HTTP). Empty: no metrics listener.
    #[serde(deserialize_with = "empty_or_addr")]
    pub listen: Option<SocketAddr>,
}

/// The key that seals TOTP secrets in the database (issue 13 item 2).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Secrets {
    /// The secrets key file, created (256 random bits, mode 0600) at first start. Empty:
    /// `scimgate.key` beside the database file.
    pub key_file: PathBuf,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on localhost or a test sink).
    None,
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP server enrollment emails go through. Empty `host`: no email is sent (messages
/// stay queued in the outbox until it is set).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Empty: no authentication.
    pub username: String,
    /// The password; prefer `password_file` or the environment variable.
    pub password: String,
    /// A file holding the password (trailing newline ignored).
    pub password_file: PathBuf,
    /// The sender, e.g. `MFA <mfa@example.com>`.
    pub from: String,
    /// Seconds to connect and for each SMTP answer.
    pub timeout_secs: u64,
}

impl Smtp {
    /// The password: `password`, else the contents of `password_file`, else empty.
    pub fn password(&self) -> std::io::Result<String> {
        if !self.password.is_empty() || self.password_file.as_os_str().is_empty() {
            return Ok(self.password.clone());
        }
        let text = std::fs::read_to_string(&self.password_file)?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: String::new(),
            password_file: PathBuf::new(),
            from: String::new(),
            timeout_secs: 30,
        }
    }
}

/// Enrollment emails: how long their links live and how their delivery is retried.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Enrollment {
    /// Hours an enrollment link stays valid.
    pub link_lifetime_hours: u64,
    /// Delivery attempts before a message is marked failed.
    pub max_send_attempts: u32,
    /// Seconds before the first retry; each further retry waits twice as long (plus jitter),
    /// at most 6 hours.
    pub retry_base_secs: u64,
}

impl Default for Enrollment {
    fn default() -> Self {
        Enrollment {
            link_lifetime_hours: 72,
            max_send_attempts: 8,
            retry_base_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address and port to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The URL clients reach the appliance at, without a trailing slash. Empty: derived from
    /// the bound address (`http://localhost:PORT` for a wildcard address).
    pub public_url: String,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds that in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client.
    /// Empty: the TCP peer is the client and no header is trusted (issue 14 item 1).
    pub trusted_proxies: Vec<IpNet>,
}

/// An IPv4 or IPv6 address, or a block `address/prefix` (e.g. `10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        let bad = || format!("'{s}' is not an address or address/prefix such as 10.0.0.0/8");
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` lies in this block (an IPv4-mapped IPv6 address counts as its IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(n.to_bits()), u128::from(i.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (net >> shift) == (ip >> shift)
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let s = String::deserialize(d)?;
        IpNet::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Rate limits (issue 14 item 1), per node and in memory. Rates are sustained rates; a burst
/// is how many requests may come at once after a quiet spell (GCRA, the `governor` crate).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// SCIM requests per second per integration.
    pub scim_per_second: u32,
    pub scim_burst: u32,
    /// Failed authentications per minute per client address, on each surface (SCIM, verify,
    /// sign-in, setup link). Successful ones are not counted.
    pub auth_failures_per_minute: u32,
    pub auth_failures_burst: u32,
    /// `/api/v1/verify` requests per second per verifier key.
    pub verify_per_key_per_second: u32,
    pub verify_per_key_burst: u32,
    /// `/api/v1/verify` requests per second per user named in the body.
    pub verify_per_user_per_second: u32,
    pub verify_per_user_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            scim_per_second: 200,
            scim_burst: 400,
            auth_failures_per_minute: 10,
            auth_failures_burst: 30,
            verify_per_key_per_second: 100,
            verify_per_key_burst: 200,
            verify_per_user_per_second: 10,
            verify_per_user_burst: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// The SQLite file; created on first start. Relative paths are relative to the working directory.
    pub path: PathBuf,
    /// `full` (every acknowledged write survives power loss) or `normal`.
    pub synchronous: Synchronous,
    /// Read-only connections in the pool.
    pub read_connections: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Scim {
    /// The largest page a list returns (`count` above it is lowered) and the default page size.
    pub max_results: u64,
    /// The largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Characters in a name (userName, displayName, name parts, externalId, an alias).
    pub max_name_chars: usize,
    /// Characters in any other string attribute.
    pub max_string_chars: usize,
    /// Values of one multi-valued attribute other than a group's members.
    pub max_multi_values: usize,
    /// Aliases of one user.
    pub max_aliases: usize,
}

impl Scim {
    /// The per-attribute limits written documents are held to.
    pub fn limits(&self) -> crate::scim::limits::Limits {
        crate::scim::limits::Limits {
            name_chars: self.max_name_chars,
            string_chars: self.max_string_chars,
            multi_values: self.max_multi_values,
            aliases: self.max_aliases,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Minutes without a request after which an admin session ends.
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which an admin session ends, however busy.
    pub session_max_hours: u64,
    /// Minutes the first-admin setup link printed at start-up stays valid.
    pub setup_link_minutes: u64,
    /// Administrators must register an authenticator before any other admin page.
    pub require_second_factor: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Activity {
    /// Days the Activity page keeps SCIM requests.
    pub retention_days: u32,
    /// The most SCIM requests kept; the oldest go first.
    pub max_entries: u64,
    /// The most bytes of each request body kept (secrets redacted); 0 keeps none.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) or a tracing filter directive
    /// such as `info,scimgate=debug`.
    pub level: String,
    /// How each line is written.
    pub format: LogFormat,
}

/// The log's line format (issue 16 item 5).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `time LEVEL target: message field=value`, for people.
    #[default]
    Text,
    /// One JSON object a line (`timestamp`, `level`, `target`, `message` and the event's
    /// other fields beside them; `span.request_id` on lines written during a request), for
    /// log collectors.
    Json,
}

/// HTTPS from the binary itself. With `certificate` and `private_key` set, `server.listen`
/// serves HTTPS only.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM file with the certificate chain, the server's certificate first. Empty: no TLS.
    pub certificate: PathBuf,
    /// PEM file with the private key of that certificate (RSA 2048+, ECDSA or Ed25519).
    pub private_key: PathBuf,
    /// A plain-HTTP listener that answers every request with a redirect to HTTPS and serves
    /// nothing else. Empty: none.
    #[serde(deserialize_with = "empty_or_addr")]
    pub redirect_listen: Option<SocketAddr>,
}

impl Tls {
    /// Whether the appliance serves HTTPS itself.
    pub fn enabled(&self) -> bool {
        !self.certificate.as_os_str().is_empty()
    }
}

fn empty_or_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    parse_opt_addr(&s).map_err(serde::de::Error::custom)
}

fn parse_opt_addr(s: &str) -> Result<Option<SocketAddr>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("'{s}' is not an address:port such as 0.0.0.0:80 (or \"\" for none)"))
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            workers: 0,
            shutdown_timeout_secs: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Database {
            path: PathBuf::from("scimgate.db"),
            synchronous: Synchronous::Full,
            read_connections: 4,
        }
    }
}

impl Default for Scim {
    fn default() -> Self {
        Scim {
            max_results: 1000,
            max_body_bytes: 1024 * 1024,
            max_name_chars: 1024,
            max_string_chars: 8192,
            max_multi_values: 100,
            max_aliases: 100,
        }
    }
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            session_idle_minutes: 30,
            session_max_hours: 12,
            setup_link_minutes: 60,
            require_second_factor: true,
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            retention_days: 30,
            max_entries: 1_000_000,
            max_body_bytes: 16 * 1024,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl Limits {
    /// Each rate and burst between 1 and 1,000,000; a burst below its rate would refuse
    /// requests the rate allows.
    fn validate(&self) -> Result<(), ConfigError> {
        let pairs: [(&'static str, u32, &'static str, u32); 4] = [
            (
                "limits.scim_per_second",
                self.scim_per_second,
                "limits.scim_burst",
                self.scim_burst,
            ),
            (
                "limits.auth_failures_per_minute",
                self.auth_failures_per_minute,
                "limits.auth_failures_burst",
                self.auth_failures_burst,
            ),
            (
                "limits.verify_per_key_per_second",
                self.verify_per_key_per_second,
                "limits.verify_per_key_burst",
                self.verify_per_key_burst,
            ),
            (
                "limits.verify_per_user_per_second",
                self.verify_per_user_per_second,
                "limits.verify_per_user_burst",
                self.verify_per_user_burst,
            ),
        ];
        for (rate_key, rate, burst_key, burst) in pairs {
            for (key, v) in [(rate_key, rate), (burst_key, burst)] {
                if !(1..=1_000_000).contains(&v) {
                    return Err(ConfigError::Invalid {
                        key,
                        message: "must be between 1 and 1000000".into(),
                    });
                }
            }
            if burst < rate && rate_key.ends_with("per_second") {
                return Err(ConfigError::Invalid {
                    key: burst_key,
                    message: format!("must be at least {rate_key} ({rate})"),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// The environment variables that override keys, with the key each sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("SCIMGATE_LISTEN", "server.listen"),
    ("SCIMGATE_PUBLIC_URL", "server.public_url"),
    ("SCIMGATE_WORKERS", "server.workers"),
    (
        "SCIMGATE_SHUTDOWN_TIMEOUT_SECS",
        "server.shutdown_timeout_secs",
    ),
    ("SCIMGATE_TRUSTED_PROXIES", "server.trusted_proxies"),
    ("SCIMGATE_DATABASE", "database.path"),
    ("SCIMGATE_DATABASE_SYNCHRONOUS", "database.synchronous"),
    (
        "SCIMGATE_DATABASE_READ_CONNECTIONS",
        "database.read_connections",
    ),
    ("SCIMGATE_SCIM_MAX_RESULTS", "scim.max_results"),
    ("SCIMGATE_SCIM_MAX_BODY_BYTES", "scim.max_body_bytes"),
    ("SCIMGATE_SCIM_MAX_NAME_CHARS", "scim.max_name_chars"),
    ("SCIMGATE_SCIM_MAX_STRING_CHARS", "scim.max_string_chars"),
    ("SCIMGATE_SCIM_MAX_MULTI_VALUES", "scim.max_multi_values"),
    ("SCIMGATE_SCIM_MAX_ALIASES", "scim.max_aliases"),
    (
        "SCIMGATE_ADMIN_SESSION_IDLE_MINUTES",
        "admin.session_idle_minutes",
    ),
    (
        "SCIMGATE_ADMIN_SESSION_MAX_HOURS",
        "admin.session_max_hours",
    ),
    (
        "SCIMGATE_ADMIN_SETUP_LINK_MINUTES",
        "admin.setup_link_minutes",
    ),
    (
        "SCIMGATE_ADMIN_REQUIRE_SECOND_FACTOR",
        "admin.require_second_factor",
    ),
    (
        "SCIMGATE_ACTIVITY_RETENTION_DAYS",
        "activity.retention_days",
    ),
    ("SCIMGATE_ACTIVITY_MAX_ENTRIES", "activity.max_entries"),
    (
        "SCIMGATE_ACTIVITY_MAX_BODY_BYTES",
        "activity.max_body_bytes",
    ),
    ("SCIMGATE_LOG", "log.level"),
    ("SCIMGATE_LOG_FORMAT", "log.format"),
    ("SCIMGATE_TLS_CERTIFICATE", "tls.certificate"),
    ("SCIMGATE_TLS_PRIVATE_KEY", "tls.private_key"),
    ("SCIMGATE_TLS_REDIRECT_LISTEN", "tls.redirect_listen"),
    ("SCIMGATE_SMTP_HOST", "smtp.host"),
    ("SCIMGATE_SMTP_PORT", "smtp.port"),
    ("SCIMGATE_SMTP_TLS", "smtp.tls"),
    ("SCIMGATE_SMTP_USERNAME", "smtp.username"),
    ("SCIMGATE_SMTP_PASSWORD", "smtp.password"),
    ("SCIMGATE_SMTP_PASSWORD_FILE", "smtp.password_file"),
    ("SCIMGATE_SMTP_FROM", "smtp.from"),
    ("SCIMGATE_SMTP_TIMEOUT_SECS", "smtp.timeout_secs"),
    (
        "SCIMGATE_ENROLLMENT_LINK_LIFETIME_HOURS",
        "enrollment.link_lifetime_hours",
    ),
    (
        "SCIMGATE_ENROLLMENT_MAX_SEND_ATTEMPTS",
        "enrollment.max_send_attempts",
    ),
    (
        "SCIMGATE_ENROLLMENT_RETRY_BASE_SECS",
        "enrollment.retry_base_secs",
    ),
    ("SCIMGATE_SECRETS_KEY_FILE", "secrets.key_file"),
    ("SCIMGATE_BACKUP_DIR", "backup.dir"),
    ("SCIMGATE_BACKUP_INTERVAL_HOURS", "backup.interval_hours"),
    ("SCIMGATE_BACKUP_KEEP", "backup.keep"),
    ("SCIMGATE_METRICS_LISTEN", "metrics.listen"),
    ("SCIMGATE_LIMITS_SCIM_PER_SECOND", "limits.scim_per_second"),
    ("SCIMGATE_LIMITS_SCIM_BURST", "limits.scim_burst"),
    (
        "SCIMGATE_LIMITS_AUTH_FAILURES_PER_MINUTE",
        "limits.auth_failures_per_minute",
    ),
    (
        "SCIMGATE_LIMITS_AUTH_FAILURES_BURST",
        "limits.auth_failures_burst",
    ),
    (
        "SCIMGATE_LIMITS_VERIFY_PER_KEY_PER_SECOND",
        "limits.verify_per_key_per_second",
    ),
    (
        "SCIMGATE_LIMITS_VERIFY_PER_KEY_BURST",
        "limits.verify_per_key_burst",
    ),
    (
        "SCIMGATE_LIMITS_VERIFY_PER_USER_PER_SECOND",
        "limits.verify_per_user_per_second",
    ),
    (
        "SCIMGATE_LIMITS_VERIFY_PER_USER_BURST",
        "limits.verify_per_user_burst",
    ),
];

/// Variables the binary reads that are not configuration keys.
const OTHER_VARS: &[&str] = &["SCIMGATE_CONFIG"];

impl Config {
    /// Loads `path` (or `config.toml` in the working directory if it exists, else defaults),
    /// then applies `env`.
    pub fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut cfg = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("config.toml").exists() => Self::from_file(Path::new("config.toml"))?,
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses TOML text; the error names the key (toml reports the key path and line).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    pub fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        for (var, value) in env {
            if !var.starts_with("SCIMGATE_") || OTHER_VARS.contains(&var.as_str()) {
                continue;
            }
            let Some((_, key)) = ENV_VARS.iter().find(|(v, _)| v == var) else {
                let known: Vec<&str> = ENV_VARS.iter().map(|(v, _)| *v).collect();
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!("unknown variable; known ones are {}", known.join(", ")),
                });
            };
            let err = |m: String| ConfigError::Env {
                var: var.clone(),
                message: format!("{m} (sets {key})"),
            };
            let v = value.trim();
            match *key {
                "server.listen" => {
                    self.server.listen = v.parse().map_err(|_| {
                        err(format!(
                            "'{v}' is not an address:port such as 127.0.0.1:8080"
                        ))
                    })?
                }
                "server.public_url" => self.server.public_url = v.to_owned(),
                "server.workers" => self.server.workers = parse_num(v).map_err(err)?,
                "server.shutdown_timeout_secs" => {
                    self.server.shutdown_timeout_secs = parse_num(v).map_err(err)?
                }
                "server.trusted_proxies" => {
                    self.server.trusted_proxies = v
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(IpNet::parse)
                        .collect::<Result<_, _>>()
                        .map_err(err)?
                }
                "database.path" => self.database.path = PathBuf::from(v),
                "database.synchronous" => {
                    self.database.synchronous = match v.to_ascii_lowercase().as_str() {
                        "full" => Synchronous::Full,
                        "normal" => Synchronous::Normal,
                        _ => return Err(err(format!("'{v}' is not 'full' or 'normal'"))),
                    }
                }
                "database.read_connections" => {
                    self.database.read_connections = parse_num(v).map_err(err)?
                }
                "scim.max_results" => self.scim.max_results = parse_num(v).map_err(err)?,
                "scim.max_body_bytes" => self.scim.max_body_bytes = parse_num(v).map_err(err)?,
                "scim.max_name_chars" => self.scim.max_name_chars = parse_num(v).map_err(err)?,
                "scim.max_string_chars" => {
                    self.scim.max_string_chars = parse_num(v).map_err(err)?
                }
                "scim.max_multi_values" => {
                    self.scim.max_multi_values = parse_num(v).map_err(err)?
                }
                "scim.max_aliases" => self.scim.max_aliases = parse_num(v).map_err(err)?,
                "admin.session_idle_minutes" => {
                    self.admin.session_idle_minutes = parse_num(v).map_err(err)?
                }
                "admin.session_max_hours" => {
                    self.admin.session_max_hours = parse_num(v).map_err(err)?
                }
                "admin.setup_link_minutes" => {
                    self.admin.setup_link_minutes = parse_num(v).map_err(err)?
                }
                "admin.require_second_factor" => {
                    self.admin.require_second_factor = match v.to_ascii_lowercase().as_str() {
                        "true" | "1" | "yes" | "on" => true,
                        "false" | "0" | "no" | "off" => false,
                        _ => return Err(err(format!("'{v}' is not true or false"))),
                    }
                }
                "activity.retention_days" => {
                    self.activity.retention_days = parse_num(v).map_err(err)?
                }
                "activity.max_entries" => self.activity.max_entries = parse_num(v).map_err(err)?,
                "activity.max_body_bytes" => {
                    self.activity.max_body_bytes = parse_num(v).map_err(err)?
                }
                "log.level" => self.log.level = v.to_owned(),
                "log.format" => {
                    self.log.format = match v.to_ascii_lowercase().as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => return Err(err(format!("'{v}' is not text or json"))),
                    }
                }
                "tls.certificate" => self.tls.certificate = PathBuf::from(v),
                "tls.private_key" => self.tls.private_key = PathBuf::from(v),
                "tls.redirect_listen" => {
                    self.tls.redirect_listen = parse_opt_addr(v).map_err(err)?
                }
                "smtp.host" => self.smtp.host = v.to_owned(),
                "smtp.port" => self.smtp.port = parse_num(v).map_err(err)?,
                "smtp.tls" => {
                    self.smtp.tls = match v.to_ascii_lowercase().as_str() {
                        "none" => SmtpTls::None,
                        "starttls" => SmtpTls::Starttls,
                        "tls" => SmtpTls::Tls,
                        _ => return Err(err(format!("'{v}' is not none, starttls or tls"))),
                    }
                }
                "smtp.username" => self.smtp.username = v.to_owned(),
                "smtp.password" => self.smtp.password = value.clone(),
                "smtp.password_file" => self.smtp.password_file = PathBuf::from(v),
                "smtp.from" => self.smtp.from = v.to_owned(),
                "smtp.timeout_secs" => self.smtp.timeout_secs = parse_num(v).map_err(err)?,
                "enrollment.link_lifetime_hours" => {
                    self.enrollment.link_lifetime_hours = parse_num(v).map_err(err)?
                }
                "enrollment.max_send_attempts" => {
                    self.enrollment.max_send_attempts = parse_num(v).map_err(err)?
                }
                "enrollment.retry_base_secs" => {
                    self.enrollment.retry_base_secs = parse_num(v).map_err(err)?
                }
                "secrets.key_file" => self.secrets.key_file = PathBuf::from(v),
                "backup.dir" => self.backup.dir = PathBuf::from(v),
                "backup.interval_hours" => {
                    self.backup.interval_hours = parse_num(v).map_err(err)?
                }
                "backup.keep" => self.backup.keep = parse_num(v).map_err(err)?,
                "metrics.listen" => self.metrics.listen = parse_opt_addr(v).map_err(err)?,
                k if k.starts_with("limits.") => {
                    let n = parse_num(v).map_err(err)?;
                    let l = &mut self.limits;
                    *match k {
                        "limits.scim_per_second" => &mut l.scim_per_second,
                        "limits.scim_burst" => &mut l.scim_burst,
                        "limits.auth_failures_per_minute" => &mut l.auth_failures_per_minute,
                        "limits.auth_failures_burst" => &mut l.auth_failures_burst,
                        "limits.verify_per_key_per_second" => &mut l.verify_per_key_per_second,
                        "limits.verify_per_key_burst" => &mut l.verify_per_key_burst,
                        "limits.verify_per_user_per_second" => &mut l.verify_per_user_per_second,
                        _ => &mut l.verify_per_user_burst,
                    } = n;
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let url = self
            .server
            .public_url
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !url.is_empty() {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or_else(|| ConfigError::Invalid {
                    key: "server.public_url",
                    message: format!("'{url}' must start with http:// or https://"),
                })?;
            if rest.is_empty() || rest.contains(['?', '#', ' ']) {
                return Err(ConfigError::Invalid {
                    key: "server.public_url",
                    message: format!("'{url}' is not a base URL such as https://mfa.example.com"),
                });
            }
            // Okta refuses Base URLs containing '_' (Okta build guide).
            if url.contains('_') {
                return Err(ConfigError::Invalid {
                    key: "server.public_url",
                    message: format!("'{url}' contains '_', which Okta refuses in a Base URL"),
                });
            }
        }
        self.server.public_url = url;
        if self.backup.interval_hours == 0 || self.backup.interval_hours > 24 * 366 {
            return Err(ConfigError::Invalid {
                key: "backup.interval_hours",
                message: "must be between 1 and 8784 (a year)".into(),
            });
        }
        if self.backup.keep == 0 {
            return Err(ConfigError::Invalid {
                key: "backup.keep",
                message: "must be at least 1".into(),
            });
        }
        if self.database.path.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "database.path",
                message: "must not be empty".into(),
            });
        }
        if self.database.read_connections == 0 || self.database.read_connections > 64 {
            return Err(ConfigError::Invalid {
                key: "database.read_connections",
                message: "must be between 1 and 64".into(),
            });
        }
        if self.scim.max_results == 0 || self.scim.max_results > 10_000 {
            return Err(ConfigError::Invalid {
                key: "scim.max_results",
                message: "must be between 1 and 10000".into(),
            });
        }
        if self.scim.max_body_bytes < 1024 || self.scim.max_body_bytes > 64 * 1024 * 1024 {
            return Err(ConfigError::Invalid {
                key: "scim.max_body_bytes",
                message: "must be between 1024 and 67108864".into(),
            });
        }
        for (key, value, max) in [
            ("scim.max_name_chars", self.scim.max_name_chars, 1_000_000),
            (
                "scim.max_string_chars",
                self.scim.max_string_chars,
                1_000_000,
            ),
            ("scim.max_multi_values", self.scim.max_multi_values, 100_000),
            ("scim.max_aliases", self.scim.max_aliases, 100_000),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::Invalid {
                    key,
                    message: format!("must be between 1 and {max}"),
                });
            }
        }
        self.validate_tls()?;
        if !(1..=7 * 24 * 60).contains(&self.admin.session_idle_minutes) {
            return Err(ConfigError::Invalid {
                key: "admin.session_idle_minutes",
                message: "must be between 1 and 10080 (a week)".into(),
            });
        }
        if !(1..=24 * 30).contains(&self.admin.session_max_hours) {
            return Err(ConfigError::Invalid {
                key: "admin.session_max_hours",
                message: "must be between 1 and 720 (30 days)".into(),
            });
        }
        if !(1..=7 * 24 * 60).contains(&self.admin.setup_link_minutes) {
            return Err(ConfigError::Invalid {
                key: "admin.setup_link_minutes",
                message: "must be between 1 and 10080 (a week)".into(),
            });
        }
        if !(1..=3650).contains(&self.activity.retention_days) {
            return Err(ConfigError::Invalid {
                key: "activity.retention_days",
                message: "must be between 1 and 3650".into(),
            });
        }
        if !(1000..=100_000_000).contains(&self.activity.max_entries) {
            return Err(ConfigError::Invalid {
                key: "activity.max_entries",
                message: "must be between 1000 and 100000000".into(),
            });
        }
        if self.activity.max_body_bytes > 1024 * 1024 {
            return Err(ConfigError::Invalid {
                key: "activity.max_body_bytes",
                message: "must be between 0 (keep no bodies) and 1048576".into(),
            });
        }
        self.validate_mail()?;
        self.limits.validate()?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(ConfigError::Invalid {
                key: "log.level",
                message: format!("'{}' is not a level or filter directive", self.log.level),
            });
        }
        Ok(())
    }

    fn validate_mail(&mut self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        self.smtp.host = self.smtp.host.trim().to_owned();
        if !self.smtp.host.is_empty() {
            if self.smtp.from.trim().is_empty() {
                return Err(invalid(
                    "smtp.from",
                    "must be set when smtp.host is, e.g. \"MFA <mfa@example.com>\"",
                ));
            }
            if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return Err(ConfigError::Invalid {
                    key: "smtp.from",
                    message: format!("'{}' is not an email address", self.smtp.from),
                });
            }
            if self.smtp.port == 0 {
                return Err(invalid("smtp.port", "must be between 1 and 65535"));
            }
        }
        if !self.smtp.password.is_empty() && !self.smtp.password_file.as_os_str().is_empty() {
            return Err(invalid(
                "smtp.password_file",
                "set smtp.password or smtp.password_file, not both",
            ));
        }
        if self.smtp.timeout_secs == 0 || self.smtp.timeout_secs > 600 {
            return Err(invalid("smtp.timeout_secs", "must be between 1 and 600"));
        }
        let e = &self.enrollment;
        if e.link_lifetime_hours == 0 || e.link_lifetime_hours > 24 * 90 {
            return Err(invalid(
                "enrollment.link_lifetime_hours",
                "must be between 1 and 2160 (90 days)",
            ));
        }
        if e.max_send_attempts == 0 || e.max_send_attempts > 100 {
            return Err(invalid(
                "enrollment.max_send_attempts",
                "must be between 1 and 100",
            ));
        }
        if e.retry_base_secs == 0 || e.retry_base_secs > 3600 {
            return Err(invalid(
                "enrollment.retry_base_secs",
                "must be between 1 and 3600",
            ));
        }
        Ok(())
    }

    fn validate_tls(&self) -> Result<(), ConfigError> {
        let tls = &self.tls;
        match (
            tls.certificate.as_os_str().is_empty(),
            tls.private_key.as_os_str().is_empty(),
        ) {
            (true, false) => {
                return Err(ConfigError::Invalid {
                    key: "tls.certificate",
                    message: "tls.private_key is set but tls.certificate is not; set both, or neither for plain HTTP".into(),
                });
            }
            (false, true) => {
                return Err(ConfigError::Invalid {
                    key: "tls.private_key",
                    message: "tls.certificate is set but tls.private_key is not; set both, or neither for plain HTTP".into(),
                });
            }
            _ => {}
        }
        if let Some(r) = tls.redirect_listen {
            if !tls.enabled() {
                return Err(ConfigError::Invalid {
                    key: "tls.redirect_listen",
                    message: "redirects to HTTPS need tls.certificate and tls.private_key".into(),
                });
            }
            if r.port() != 0 && r.port() == self.server.listen.port() {
                return Err(ConfigError::Invalid {
                    key: "tls.redirect_listen",
                    message: format!(
                        "{r} uses the port of server.listen; pick another (usually 80)"
                    ),
                });
            }
        }
        if let Some(m) = self.metrics.listen
            && m.port() != 0
            && (m.port() == self.server.listen.port()
                || tls.redirect_listen.is_some_and(|r| r.port() == m.port()))
        {
            return Err(ConfigError::Invalid {
                key: "metrics.listen",
                message: format!(
                    "{m} uses the port of another listener; pick another (usually 9090)"
                ),
            });
        }
        if tls.enabled() && self.server.public_url.starts_with("http://") {
            return Err(ConfigError::Invalid {
                key: "server.public_url",
                message: format!(
                    "'{}' is http:// but [tls] is set, so the appliance serves HTTPS only; use https://",
                    self.server.public_url
                ),
            });
        }
        Ok(())
    }

    /// The public URL, or the one derived from the bound address (`https://` with TLS; the
    /// scheme's default port is left out).
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        if !self.server.public_url.is_empty() {
            return self.server.public_url.clone();
        }
        let host = if bound.ip().is_unspecified() || bound.ip().is_loopback() {
            "localhost".to_owned()
        } else if bound.is_ipv6() {
            format!("[{}]", bound.ip())
        } else {
            bound.ip().to_string()
        };
        let (scheme, default_port) = if self.tls.enabled() {
            ("https", 443)
        } else {
            ("http", 80)
        };
        if bound.port() == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", bound.port())
        }
    }

    /// The secrets key file: `secrets.key_file`, else `scimgate.key` in the database's
    /// directory.
    pub fn secrets_key_file(&self) -> PathBuf {
        if !self.secrets.key_file.as_os_str().is_empty() {
            return self.secrets.key_file.clone();
        }
        match self.database.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join("scimgate.key"),
            _ => PathBuf::from("scimgate.key"),
        }
    }

    /// Whether browsers reach the appliance over HTTPS: TLS served here, or an `https://`
    /// public URL (a reverse proxy terminating TLS). Cookies are `Secure` then.
    pub fn is_https(&self) -> bool {
        self.tls.enabled() || self.server.public_url.starts_with("https://")
    }
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("'{v}' is not a non-negative whole number"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn trusted_proxies_and_limits() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert_eq!(IpNet::parse("::1").unwrap().to_string(), "::1");
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.0/", "::/129"] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
        let mut c =
            Config::from_toml("[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]")
                .unwrap();
        assert_eq!(c.server.trusted_proxies.len(), 2);
        assert!(Config::from_toml("[server]\ntrusted_proxies = [\"nope\"]").is_err());
        c.apply_env(&env(&[
            ("SCIMGATE_TRUSTED_PROXIES", "192.0.2.1, 2001:db8::/32"),
            ("SCIMGATE_LIMITS_SCIM_BURST", "500"),
        ]))
        .unwrap();
        assert_eq!(c.server.trusted_proxies[1].to_string(), "2001:db8::/32");
        assert_eq!(c.limits.scim_burst, 500);
        c.validate().unwrap();
        c.limits.scim_burst = 100;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("limits.scim_burst"), "{e}");
        c.limits.scim_burst = 500;
        c.limits.verify_per_user_per_second = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("limits.verify_per_user_per_second"), "{e}");
    }

    #[test]
    fn shipped_config_toml_is_the_defaults() {
        let shipped = Config::from_toml(include_str!("../config.toml")).unwrap();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn admin_second_factor_is_required_unless_turned_off() {
        assert!(Config::default().admin.require_second_factor);
        let var = |v: &str| {
            vec![(
                "SCIMGATE_ADMIN_REQUIRE_SECOND_FACTOR".to_owned(),
                v.to_owned(),
            )]
        };
        let mut c = Config::default();
        c.apply_env(&var("false")).unwrap();
        assert!(!c.admin.require_second_factor);
        c.apply_env(&var("TRUE")).unwrap();
        assert!(c.admin.require_second_factor);
        let e = Config::default().apply_env(&var("maybe")).unwrap_err();
        assert!(e.to_string().contains("admin.require_second_factor"), "{e}");
        let c = Config::from_toml("[admin]\nrequire_second_factor = false\n").unwrap();
        assert!(!c.admin.require_second_factor);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Config::from_toml("[server]\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(e.contains("listen_addr"), "{e}");
        let e = Config::from_toml("[server]\nlisten = \"nope\"\n").unwrap_err();
        assert!(e.contains("listen"), "{e}");
        let e = Config::from_toml("[database]\nsynchronous = \"sometimes\"\n").unwrap_err();
        assert!(e.contains("synchronous"), "{e}");
        let e = Config::from_toml("[nope]\n").unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn smtp_and_enrollment_keys() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let mut c = Config::default();
        c.apply_env(&env(&[
            ("SCIMGATE_SMTP_HOST", "smtp.example.com"),
            ("SCIMGATE_SMTP_PORT", "465"),
            ("SCIMGATE_SMTP_TLS", "TLS"),
            ("SCIMGATE_SMTP_FROM", "MFA <mfa@example.com>"),
            ("SCIMGATE_ENROLLMENT_LINK_LIFETIME_HOURS", "24"),
        ]))
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.smtp.tls, SmtpTls::Tls);
        assert_eq!(c.log.format, LogFormat::Text);
        c.apply_env(&env(&[("SCIMGATE_LOG_FORMAT", "JSON")]))
            .unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert!(
            c.apply_env(&env(&[("SCIMGATE_LOG_FORMAT", "xml")]))
                .is_err()
        );
        assert_eq!(c.smtp.port, 465);
        assert_eq!(c.enrollment.link_lifetime_hours, 24);
        let e = Config::default()
            .apply_env(&env(&[("SCIMGATE_SMTP_TLS", "ssl")]))
            .unwrap_err();
        assert!(e.to_string().contains("starttls"), "{e}");
        // A host without a sender is refused, naming the key.
        let mut c = Config::default();
        c.smtp.host = "smtp.example.com".into();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().starts_with("smtp.from"), "{e}");
        c.smtp.from = "not an address".into();
        assert!(c.validate().unwrap_err().to_string().contains("smtp.from"));
        let mut c = Config::default();
        c.smtp.password = "x".into();
        c.smtp.password_file = "/etc/pw".into();
        assert!(c.validate().unwrap_err().to_string().contains("not both"));
        let mut c = Config::default();
        c.enrollment.max_send_attempts = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("enrollment.max_send_attempts")
        );
        let e = Config::from_toml("[smtp]\ntls = \"maybe\"\n").unwrap_err();
        assert!(e.contains("tls"), "{e}");
    }

    #[test]
    fn smtp_password_file_is_read_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        let smtp = Smtp {
            password_file: p,
            ..Smtp::default()
        };
        assert_eq!(smtp.password().unwrap(), "s3cret");
    }

    #[test]
    fn env_overrides() {
        let mut c = Config::default();
        c.apply_env(&env(&[
            ("SCIMGATE_LISTEN", "0.0.0.0:0"),
            ("SCIMGATE_DATABASE", "/tmp/x.db"),
            ("SCIMGATE_PUBLIC_URL", "https://mfa.example.com/"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.server.listen.port(), 0);
        assert_eq!(c.database.path, PathBuf::from("/tmp/x.db"));
        assert_eq!(c.server.public_url, "https://mfa.example.com");
        // metrics.listen: off by default, set by its variable, "" turns it off again.
        assert_eq!(c.metrics.listen, None);
        c.apply_env(&env(&[("SCIMGATE_METRICS_LISTEN", "127.0.0.1:9090")]))
            .unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9090".parse().unwrap()));
        c.apply_env(&env(&[("SCIMGATE_METRICS_LISTEN", "")]))
            .unwrap();
        assert_eq!(c.metrics.listen, None);
        let bad = Config::default()
            .apply_env(&env(&[("SCIMGATE_METRICS_LISTEN", "nine")]))
            .unwrap_err();
        assert!(bad.to_string().contains("metrics.listen"), "{bad}");
        let mut same_port = Config::default();
        same_port.metrics.listen = Some(same_port.server.listen);
        let e = same_port.validate().unwrap_err();
        assert!(e.to_string().contains("metrics.listen"), "{e}");
        let e = Config::default()
            .apply_env(&env(&[("SCIMGATE_LISTN", "x")]))
            .unwrap_err();
        assert!(e.to_string().contains("SCIMGATE_LISTN"));
        let e = Config::default()
            .apply_env(&env(&[("SCIMGATE_LISTEN", "x")]))
            .unwrap_err();
        assert!(e.to_string().contains("server.listen"));
        let mut c = Config::default();
        c.server.public_url = "ftp://x".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("server.public_url")
        );
    }

    #[test]
    fn secrets_key_file_defaults_beside_the_database() {
        let mut c = Config::default();
        assert_eq!(c.secrets_key_file(), PathBuf::from("scimgate.key"));
        c.database.path = "/var/lib/scimgate/scimgate.db".into();
        assert_eq!(
            c.secrets_key_file(),
            PathBuf::from("/var/lib/scimgate/scimgate.key")
        );
        c.apply_env(&env(&[(
            "SCIMGATE_SECRETS_KEY_FILE",
            "/etc/scimgate/db.key",
        )]))
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.secrets_key_file(), PathBuf::from("/etc/scimgate/db.key"));
        let c = Config::from_toml("[secrets]\nkey_file = \"k\"\n").unwrap();
        assert_eq!(c.secrets_key_file(), PathBuf::from("k"));
        assert!(Config::from_toml("[secrets]\nkey = \"k\"\n").is_err());
    }

    #[test]
    fn derived_public_url() {
        let c = Config::default();
        assert_eq!(
            c.public_url_for("0.0.0.0:8080".parse().unwrap()),
            "http://localhost:8080"
        );
        assert_eq!(
            c.public_url_for("10.1.2.3:9".parse().unwrap()),
            "http://10.1.2.3:9"
        );
        assert!(!c.is_https());
        let mut c = Config::default();
        c.tls.certificate = "c.pem".into();
        c.tls.private_key = "k.pem".into();
        assert_eq!(
            c.public_url_for("0.0.0.0:443".parse().unwrap()),
            "https://localhost"
        );
        assert_eq!(
            c.public_url_for("10.1.2.3:8443".parse().unwrap()),
            "https://10.1.2.3:8443"
        );
        assert!(c.is_https());
        let mut c = Config::default();
        c.server.public_url = "https://mfa.example.com".into();
        assert!(c.is_https());
    }

    #[test]
    fn tls_keys() {
        let c = Config::from_toml(
            "[tls]\ncertificate = \"/etc/scimgate/fullchain.pem\"\nprivate_key = \"/etc/scimgate/privkey.pem\"\nredirect_listen = \"0.0.0.0:80\"\n",
        )
        .unwrap();
        assert!(c.tls.enabled());
        assert_eq!(c.tls.redirect_listen, Some("0.0.0.0:80".parse().unwrap()));
        let e = Config::from_toml("[tls]\nredirect_listen = \"port 80\"\n").unwrap_err();
        assert!(e.contains("redirect_listen"), "{e}");

        let mut c = Config::default();
        c.tls.certificate = "c.pem".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("tls.private_key"), "{e}");

        let mut c = Config::default();
        c.apply_env(&env(&[("SCIMGATE_TLS_REDIRECT_LISTEN", "0.0.0.0:80")]))
            .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("tls.redirect_listen"), "{e}");

        let mut c = Config::default();
        c.apply_env(&env(&[
            ("SCIMGATE_TLS_CERTIFICATE", "c.pem"),
            ("SCIMGATE_TLS_PRIVATE_KEY", "k.pem"),
            ("SCIMGATE_TLS_REDIRECT_LISTEN", ""),
            ("SCIMGATE_PUBLIC_URL", "http://mfa.example.com"),
        ]))
        .unwrap();
        assert_eq!(c.tls.redirect_listen, None);
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("server.public_url") && e.contains("https"),
            "{e}"
        );
        c.server.public_url = "https://mfa.example.com".into();
        c.validate().unwrap();
        let e = Config::default()
            .apply_env(&env(&[("SCIMGATE_TLS_REDIRECT_LISTEN", "eighty")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SCIMGATE_TLS_REDIRECT_LISTEN"), "{e}");
    }
}
