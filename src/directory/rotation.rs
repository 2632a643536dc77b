//! Token rotation without a gap, and expiry (issue 13 item 6).
//!
//! - *Regenerate token* can keep the replaced token working for a while (the overlap), so the
//!   identity provider can be given the new one without failed syncs. Duo, Atlassian and Druva
//!   expire tokens but have no overlap; rotating there means a gap.
//! - A token can have a lifetime (90, 180 or 365 days), counted from its issue time
//!   (`token_created`); an expired token gets `401` saying so. Every new token of the
//!   integration gets the same lifetime.
//!
//! Times are judged by the directory's [`Clock`](crate::directory::clock::Clock).

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::ApiToken;
use crate::directory::clock::Clock;
use crate::directory::integration::{Integration, IntegrationId};
use crate::directory::{Directory, Error, format_time};
use crate::store::Tx;
use crate::store::integrations::{self, IntegrationRow};

/// The overlaps *Regenerate token* offers, in hours (0: the old token stops at once).
pub const OVERLAP_CHOICES_HOURS: [u64; 4] = [0, 1, 24, 72];
/// The overlap when none is chosen.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// The longest overlap accepted (the command line takes any up to this): two live tokens for
/// longer than a week would be a second credential, not a rotation.
pub const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);
/// The token lifetimes offered, in days.
pub const LIFETIME_CHOICES_DAYS: [u16; 3] = [90, 180, 365];
/// How long before expiry the admin pages warn.
pub const EXPIRY_WARNING: time::Duration = time::Duration::days(14);

/// A token lifetime: never, or one of [`LIFETIME_CHOICES_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenLifetime(Option<u16>);

impl TokenLifetime {
    pub const NEVER: TokenLifetime = TokenLifetime(None);

    /// `never`, or a number of days from [`LIFETIME_CHOICES_DAYS`], written `90d` or `90`.
    pub fn parse(s: &str) -> Result<TokenLifetime, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("never") {
            return Ok(TokenLifetime::NEVER);
        }
        let digits = s.strip_suffix(['d', 'D']).unwrap_or(s);
        match digits.parse::<u16>() {
            Ok(d) if LIFETIME_CHOICES_DAYS.contains(&d) => Ok(TokenLifetime(Some(d))),
            _ => Err(format!(
                "'{s}' is not a token lifetime: use never, 90d, 180d or 365d"
            )),
        }
    }

    /// As stored: the days, or NULL for never. A stored value outside the choices (written by
    /// hand) is kept as it is: it is still a lifetime.
    pub(crate) fn from_stored(days: Option<i64>) -> TokenLifetime {
        TokenLifetime(days.and_then(|d| u16::try_from(d).ok()))
    }

    pub(crate) fn stored(self) -> Option<i64> {
        self.0.map(i64::from)
    }

    pub fn days(self) -> Option<u16> {
        self.0
    }

    /// `never` or `90d`: what `parse` reads.
    pub fn code(self) -> String {
        self.0
            .map_or_else(|| "never".to_owned(), |d| format!("{d}d"))
    }

    /// `never` or `90 days`.
    pub fn label(self) -> String {
        self.0
            .map_or_else(|| "never".to_owned(), |d| format!("{d} days"))
    }
}

/// An overlap: `0`, or a whole number of hours or days (`1h`, `24h`, `72h`, `3d`), at most
/// [`MAX_OVERLAP`].
pub fn parse_overlap(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "'{s}' is not an overlap: use 0 (the old token stops at once) or hours or days such as 1h, 24h, 72h, 3d"
        )
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let per = match unit {
        "h" | "H" => 3600,
        "d" | "D" => 24 * 3600,
        _ => return Err(bad()),
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let d = n
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .map(Duration::from_secs)
        .ok_or_else(bad)?;
    if d > MAX_OVERLAP {
        return Err(format!(
            "an overlap of '{s}' is too long: at most {} days",
            MAX_OVERLAP.as_secs() / 86400
        ));
    }
    Ok(d)
}

/// A stored time (RFC 3339).
pub(crate) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// When a token issued at `issued` with `lifetime` expires. An unreadable issue time counts as
/// long ago: the token is expired rather than valid for ever.
pub(crate) fn expiry(issued: &str, lifetime: TokenLifetime) -> Option<OffsetDateTime> {
    let days = lifetime.days()?;
    let from = parse_time(issued).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Some(from + time::Duration::days(i64::from(days)))
}

/// When the replaced token stops working, if it still works at `now`.
pub fn previous_token_active(i: &Integration, now: OffsetDateTime) -> Option<&str> {
    i.previous_token_until
        .as_deref()
        .filter(|u| parse_time(u).is_some_and(|u| now < u))
}

/// A token that expires soon, or has expired, for the admin pages' banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryWarning {
    pub at: String,
    pub expired: bool,
    /// Whole days left (0 in the last day, and when expired).
    pub days_left: i64,
}

/// Whether the integration's current token expires within [`EXPIRY_WARNING`] of `now`.
pub fn expiry_warning(i: &Integration, now: OffsetDateTime) -> Option<ExpiryWarning> {
    let at = parse_time(i.token_expires.as_deref()?)?;
    let left = at - now;
    (left <= EXPIRY_WARNING).then(|| ExpiryWarning {
        at: format_time(at),
        expired: left <= time::Duration::ZERO,
        days_left: left.whole_days().max(0),
    })
}

/// Which integration: by id (the admin pages), or by name or id (the command line, as
/// `integration set`).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Id(&'a str),
    NameOrId(&'a str),
}

fn find(tx: &mut Tx<'_>, target: &Target<'_>) -> Result<IntegrationRow, Error> {
    match *target {
        Target::Id(id) => {
            let id = IntegrationId::parse(id).ok_or(Error::NotFound)?;
            integrations::find(tx, id.as_str())?.ok_or(Error::NotFound)
        }
        Target::NameOrId(name) => {
            let name = name.trim();
            match integrations::find_by_name(tx, name)? {
                Some(r) => Ok(r),
                None => integrations::find(tx, name)?.ok_or_else(|| {
                    Error::Invalid(format!("there is no integration named '{name}'"))
                }),
            }
        }
    }
}

/// A regenerated token, which exists only here and in the administrator's hands.
#[derive(Debug)]
pub struct Regenerated {
    /// The integration after the change (`users_owned` and `groups_owned` not filled in).
    pub integration: Integration,
    pub token: ApiToken,
    /// When the replaced token stops working; None: it already has.
    pub previous_valid_until: Option<String>,
}

impl Directory {
    /// The clock token times are judged by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A new token. The replaced one keeps working for `keep_old_for` (at most
    /// [`MAX_OVERLAP`]), but not past its own expiry; a token replaced before and still in its
    /// overlap stops now. The change applies to the next request, whatever is cached.
    pub async fn regenerate_token(
        &self,
        target: Target<'_>,
        keep_old_for: Duration,
    ) -> Result<Regenerated, Error> {
        if keep_old_for > MAX_OVERLAP {
            return Err(Error::Invalid(format!(
                "the old token can be kept for at most {} days",
                MAX_OVERLAP.as_secs() / 86400
            )));
        }
        let token =
            ApiToken::generate().map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let digest = token.digest().as_bytes().to_vec();
        let now = self.clock.now();
        let keep = time::Duration::try_from(keep_old_for)
            .map_err(|e| Error::Invalid(format!("overlap: {e}")))?;
        let target = owned(target);
        let row = self
            .store
            .write(move |c| {
                let row = find(c, &target.as_ref())?;
                let lifetime = TokenLifetime::from_stored(row.token_lifetime_days);
                // The replaced token never outlives its own expiry: an expired one gets no
                // overlap, one about to expire keeps working until its expiry at most.
                let end = match expiry(&row.token_created, lifetime) {
                    Some(e) => e.min(now + keep),
                    None => now + keep,
                };
                let until = (end > now).then(|| format_time(end));
                integrations::replace_token(
                    c,
                    &row.id,
                    &digest,
                    &format_time(now),
                    until.as_deref(),
                )?;
                integrations::find(c, &row.id)?.ok_or(Error::NotFound)
            })
            .await?;
        let integration = Integration::from_row(row, 0);
        self.forget_token_touch(&integration.id);
        self.forget_integration(integration.id.as_str());
        tracing::info!(integration = %integration.id, previous_valid_until = ?integration.previous_token_until, "API token regenerated");
        Ok(Regenerated {
            previous_valid_until: integration.previous_token_until.clone(),
            integration,
            token,
        })
    }

    /// Sets the token lifetime. The expiry counts from when the current token was issued, so
    /// shortening it can end the current token at once.
    pub async fn set_token_lifetime(
        &self,
        target: Target<'_>,
        lifetime: TokenLifetime,
    ) -> Result<Integration, Error> {
        let target = owned(target);
        let row = self
            .store
            .write(move |c| {
                let row = find(c, &target.as_ref())?;
                integrations::set_token_lifetime(c, &row.id, lifetime.stored())?;
                integrations::find(c, &row.id)?.ok_or(Error::NotFound)
            })
            .await?;
        let integration = Integration::from_row(row, 0);
        self.forget_integration(integration.id.as_str());
        tracing::info!(integration = %integration.id, lifetime = %lifetime.code(), "token lifetime set");
        Ok(integration)
    }
}

/// A [`Target`] that can move into the writer.
enum OwnedTarget {
    Id(String),
    NameOrId(String),
}

impl OwnedTarget {
    fn as_ref(&self) -> Target<'_> {
        match self {
            OwnedTarget::Id(s) => Target::Id(s),
            OwnedTarget::NameOrId(s) => Target::NameOrId(s),
        }
    }
}

fn owned(t: Target<'_>) -> OwnedTarget {
    match t {
        Target::Id(s) => OwnedTarget::Id(s.to_owned()),
        Target::NameOrId(s) => OwnedTarget::NameOrId(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn overlaps() {
        assert_eq!(parse_overlap("0"), Ok(Duration::ZERO));
        assert_eq!(parse_overlap("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_overlap(" 24h "), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_overlap("3d"), Ok(Duration::from_secs(3 * 86400)));
        for bad in [
            "",
            "h",
            "24",
            "-1h",
            "1.5h",
            "24 h",
            "1w",
            "forever",
            "8d",
            "99999999999999999999h",
        ] {
            assert!(parse_overlap(bad).is_err(), "{bad}");
        }
        for h in OVERLAP_CHOICES_HOURS {
            let text = if h == 0 {
                "0".to_owned()
            } else {
                format!("{h}h")
            };
            assert_eq!(parse_overlap(&text), Ok(Duration::from_secs(h * 3600)));
        }
    }

    #[test]
    fn lifetimes() {
        assert_eq!(TokenLifetime::parse("never"), Ok(TokenLifetime::NEVER));
        assert_eq!(TokenLifetime::parse("90d").unwrap().days(), Some(90));
        assert_eq!(TokenLifetime::parse("365").unwrap().days(), Some(365));
        for bad in ["", "30d", "0", "90h", "-90d", "always"] {
            assert!(TokenLifetime::parse(bad).is_err(), "{bad}");
        }
        let t = TokenLifetime::parse("180d").unwrap();
        assert_eq!(TokenLifetime::parse(&t.code()), Ok(t));
    }

    #[test]
    fn expiry_counts_from_issue_and_fails_closed() {
        let l = TokenLifetime::parse("90d").unwrap();
        let e = expiry("2026-01-01T00:00:00.000Z", l).unwrap();
        assert_eq!(format_time(e), "2026-04-01T00:00:00.000Z");
        assert_eq!(
            expiry("2026-01-01T00:00:00.000Z", TokenLifetime::NEVER),
            None
        );
        assert_eq!(
            expiry("garbage", l),
            Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(90))
        );
    }
}
