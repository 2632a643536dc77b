//! Rate limits (issue 14 item 1) and the client address every limiter, the request log and the
//! Activity page use. GCRA limiters from the `governor` crate, keyed, in memory, per node: a
//! restart or a second node starts with full buckets.
//!
//! - per integration: SCIM requests whose token was accepted;
//! - per client address and surface: failed authentications only (SCIM, verify, sign-in, setup
//!   link). A request is authenticated first and charged only when it fails, so a flood of bad
//!   tokens from one address never refuses the right token from the same address. Sign-in is
//!   the exception: an address over its limit is refused before its password is hashed (argon2
//!   is the costly step, and passwords, unlike 256-bit tokens, can be guessed);
//! - per verifier key and per user named in `/api/v1/verify`.
//!
//! Owns no HTTP responses: each surface renders its own 429 (SCIM error, JSON, page) with
//! the `Retry-After` of [`Refused`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::dev::ServiceRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{IpNet, Limits as LimitsConfig};

/// Where an authentication failed: each surface has its own bucket per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    Scim,
    Verify,
    SignIn,
    Setup,
}

/// A request over a limit: which limit, and the whole seconds (at least 1) until the bucket
/// has room again, for `Retry-After` (RFC 9110 §10.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub limit: &'static str,
    pub retry_after: u64,
}

/// The most addresses remembered as refused for sign-in before expired ones are swept.
const MAX_BLOCKED: usize = 10_000;

pub struct Limits {
    scim: DefaultKeyedRateLimiter<String>,
    failures: DefaultKeyedRateLimiter<(Surface, IpAddr)>,
    verify_key: DefaultKeyedRateLimiter<String>,
    verify_user: DefaultKeyedRateLimiter<String>,
    /// Sign-in only: until when an address over its failure limit is refused unheard.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    trusted: Vec<IpNet>,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn per_second(rate: u32, burst: u32) -> Quota {
    Quota::per_second(nz(rate)).allow_burst(nz(burst))
}

impl Limits {
    pub fn new(c: &LimitsConfig, trusted: &[IpNet]) -> Limits {
        Limits {
            scim: RateLimiter::keyed(per_second(c.scim_per_second, c.scim_burst)),
            failures: RateLimiter::keyed(
                Quota::per_minute(nz(c.auth_failures_per_minute))
                    .allow_burst(nz(c.auth_failures_burst)),
            ),
            verify_key: RateLimiter::keyed(per_second(
                c.verify_per_key_per_second,
                c.verify_per_key_burst,
            )),
            verify_user: RateLimiter::keyed(per_second(
                c.verify_per_user_per_second,
                c.verify_per_user_burst,
            )),
            blocked: Mutex::new(HashMap::new()),
            trusted: trusted.to_vec(),
        }
    }

    fn check<K>(
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        limit: &'static str,
    ) -> Result<(), Refused>
    where
        K: std::hash::Hash + Eq + Clone,
    {
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Refused {
                limit,
                retry_after: whole_seconds(wait),
            }
        })
    }

    /// A SCIM request of an authenticated integration.
    pub fn scim(&self, integration_id: &str) -> Result<(), Refused> {
        Self::check(
            &self.scim,
            &integration_id.to_owned(),
            "the integration's request rate (limits.scim_per_second)",
        )
    }

    /// Counts a failed authentication from `addr`; `Err` when that address is over its limit
    /// on this surface (the caller answers 429 instead of 401).
    pub fn failed(&self, surface: Surface, addr: IpAddr) -> Result<(), Refused> {
        let addr = bucket(addr);
        let r = Self::check(
            &self.failures,
            &(surface, addr),
            "failed authentications from this address (limits.auth_failures_per_minute)",
        );
        if let (Surface::SignIn, Err(refused)) = (surface, &r) {
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if blocked.len() >= MAX_BLOCKED {
                blocked.retain(|_, until| *until > now);
            }
            if blocked.len() < MAX_BLOCKED {
                blocked.insert(addr, now + Duration::from_secs(refused.retry_after));
            }
        }
        r
    }

    /// Sign-in only: whether `addr` is still refused after going over its failure limit.
    pub fn sign_in_blocked(&self, addr: IpAddr) -> Result<(), Refused> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(&bucket(addr)) {
            Some(until) if *until > Instant::now() => Err(Refused {
                limit: "failed sign-ins from this address (limits.auth_failures_per_minute)",
                retry_after: whole_seconds(until.saturating_duration_since(Instant::now())),
            }),
            _ => Ok(()),
        }
    }

    /// A verify request with an accepted key.
    pub fn verify_key(&self, key_id: &str) -> Result<(), Refused> {
        Self::check(
            &self.verify_key,
            &key_id.to_owned(),
            "the verifier key's request rate (limits.verify_per_key_per_second)",
        )
    }

    /// A verify request for `user` (compared case-insensitively, as userNames are).
    pub fn verify_user(&self, user: &str) -> Result<(), Refused> {
        Self::check(
            &self.verify_user,
            &user.trim().to_lowercase(),
            "the user's verification rate (limits.verify_per_user_per_second)",
        )
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded by the keys active
    /// in the last burst period. Called periodically.
    pub fn retain_recent(&self) {
        self.scim.retain_recent();
        self.failures.retain_recent();
        self.verify_key.retain_recent();
        self.verify_user.retain_recent();
        let now = Instant::now();
        self.blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
    }

    /// The client address of a request: the TCP peer, or, when the peer is one of
    /// `server.trusted_proxies`, the right-most `X-Forwarded-For` address that is not a
    /// trusted proxy (each proxy appends the address it saw; only the entries added by our
    /// own proxies are to be believed).
    pub fn client(&self, peer: Option<IpAddr>, forwarded: &[&str]) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded
            .iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop).map(canonical) else {
                return Some(client);
            };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        Some(client)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// [`Limits::client`] for a request.
    pub fn client_of(&self, req: &HttpRequest) -> IpAddr {
        let fwd: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        self.client(req.peer_addr().map(|a| a.ip()), &fwd)
            .unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    /// [`Limits::client_of`] for a request inside a middleware.
    pub fn client_of_service(&self, req: &ServiceRequest) -> IpAddr {
        self.client_of(req.request())
    }
}

/// An IPv4 client of a dual-stack listener (`::ffff:192.0.2.1`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The bucket of an address for the failure limits: an IPv6 address by its /64, the
/// smallest block a site is given (RFC 6177), so that one host cannot use its 2^64
/// addresses as as many clients.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from_bits(
            v6.to_bits() & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// A wait in whole seconds, rounded up, at least 1 (`Retry-After: 0` would invite a retry
/// storm).
fn whole_seconds(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(trusted: &[&str]) -> Limits {
        let t: Vec<IpNet> = trusted.iter().map(|s| IpNet::parse(s).unwrap()).collect();
        Limits::new(
            &LimitsConfig {
                auth_failures_per_minute: 1,
                auth_failures_burst: 2,
                ..LimitsConfig::default()
            },
            &t,
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let none = limits(&[]);
        assert_eq!(
            none.client(Some(ip("10.0.0.1")), &["203.0.113.9"]),
            Some(ip("10.0.0.1"))
        );
        let l = limits(&["10.0.0.0/8", "::1"]);
        assert_eq!(
            l.client(Some(ip("10.0.0.1")), &["198.51.100.1, 203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        // Entries appended by our own proxies are skipped; a forged left part is not used.
        assert_eq!(
            l.client(Some(ip("10.0.0.1")), &["1.1.1.1, 203.0.113.9", "10.0.0.2"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            l.client(Some(ip("::1")), &["[2001:db8::7]:443"]),
            Some(ip("2001:db8::7"))
        );
        assert_eq!(
            l.client(Some(ip("10.0.0.1")), &["garbage"]),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(l.client(Some(ip("10.0.0.1")), &[]), Some(ip("10.0.0.1")));
        assert_eq!(
            none.client(Some(ip("::ffff:192.0.2.1")), &[]),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            l.client(Some(ip("192.0.2.1")), &["203.0.113.9"]),
            Some(ip("192.0.2.1"))
        );
    }

    #[test]
    fn failures_are_counted_per_surface_and_address() {
        let l = limits(&[]);
        let a = ip("192.0.2.1");
        assert!(l.failed(Surface::Scim, a).is_ok());
        assert!(l.failed(Surface::Scim, a).is_ok());
        let r = l.failed(Surface::Scim, a).unwrap_err();
        assert!(r.retry_after >= 1 && r.retry_after <= 60, "{r:?}");
        assert!(l.failed(Surface::Verify, a).is_ok());
        assert!(l.failed(Surface::Scim, ip("192.0.2.2")).is_ok());
        // IPv6: one /64 is one client.
        l.failed(Surface::Scim, ip("2001:db8::1")).unwrap();
        l.failed(Surface::Scim, ip("2001:db8::2")).unwrap();
        assert!(l.failed(Surface::Scim, ip("2001:db8::ffff:3")).is_err());
        assert!(l.failed(Surface::Scim, ip("2001:db8:0:1::1")).is_ok());
        // Only sign-in remembers a refusal for the unheard pre-check.
        assert!(l.sign_in_blocked(a).is_ok());
        l.failed(Surface::SignIn, a).unwrap();
        l.failed(Surface::SignIn, a).unwrap();
        assert!(l.failed(Surface::SignIn, a).is_err());
        assert!(l.sign_in_blocked(a).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(6)), 6);
    }
}
