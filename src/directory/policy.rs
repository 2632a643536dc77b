//! Who may see and change which user: the one place the ownership rules of DESIGN.md
//! (*Visibility and ownership*) are decided. A pure function of the integration's settings and
//! the user's source, table-tested below.

use crate::directory::integration::Settings;
use crate::store::users::Scope;

/// Who owns a user, as seen from the integration asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The asking integration.
    Me,
    /// Nobody: created by an administrator in the pages.
    Manual,
    /// Another integration.
    Other,
}

/// What the asking integration may do with a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// 404: the user does not exist as far as this integration can tell.
    Invisible,
    /// Read and write.
    Owner,
    /// Read; any write claims the user (Include Manually Provisioned Users).
    ClaimOnWrite,
    /// Read; a write that changes the user claims it, an unchanged write claims nothing
    /// (both settings on).
    ClaimOnChange,
    /// Read; writes are refused with 403 (Read All Users on a user it does not own).
    ReadOnly,
}

pub fn user_access(s: Settings, owner: Owner) -> Access {
    match (owner, s.include_manual, s.read_all_users) {
        (Owner::Me, _, _) => Access::Owner,
        (Owner::Manual, false, false) => Access::Invisible,
        (Owner::Manual, true, false) => Access::ClaimOnWrite,
        (Owner::Manual, false, true) => Access::ReadOnly,
        (Owner::Manual, true, true) => Access::ClaimOnChange,
        (Owner::Other, _, false) => Access::Invisible,
        (Owner::Other, _, true) => Access::ReadOnly,
    }
}

/// The users a list or filter may return: exactly those `user_access` does not hide.
pub fn user_scope(s: Settings, me: &str) -> Scope {
    match (s.include_manual, s.read_all_users) {
        (_, true) => Scope::All,
        (true, false) => Scope::SourceOrManual(me.to_owned()),
        (false, false) => Scope::Source(me.to_owned()),
    }
}

/// The outcome of a write the integration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteDecision {
    NotFound,
    Forbidden,
    /// Write; the user keeps its source.
    Write,
    /// Write and take ownership.
    WriteAndClaim,
    /// Nothing to write (an unchanged write to a user not owned): answer with the user as is.
    Unchanged,
}

pub fn user_write(s: Settings, owner: Owner, changed: bool) -> WriteDecision {
    match user_access(s, owner) {
        Access::Invisible => WriteDecision::NotFound,
        Access::ReadOnly => WriteDecision::Forbidden,
        Access::Owner => WriteDecision::Write,
        Access::ClaimOnWrite => WriteDecision::WriteAndClaim,
        Access::ClaimOnChange if changed => WriteDecision::WriteAndClaim,
        Access::ClaimOnChange => WriteDecision::Unchanged,
    }
}

/// Groups follow the user rules with *Read All Users* left out: that setting is about users.
fn group_settings(s: Settings) -> Settings {
    Settings {
        read_all_users: false,
        ..s
    }
}

pub fn group_access(s: Settings, owner: Owner) -> Access {
    user_access(group_settings(s), owner)
}

pub fn group_scope(s: Settings, me: &str) -> Scope {
    user_scope(group_settings(s), me)
}

pub fn group_write(s: Settings, owner: Owner, changed: bool) -> WriteDecision {
    user_write(group_settings(s), owner, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(include_manual: bool, read_all_users: bool) -> Settings {
        Settings {
            send_enrollment_emails: false,
            include_manual,
            read_all_users,
            ..Settings::default()
        }
    }

    #[test]
    fn the_whole_table() {
        use Owner::*;
        use WriteDecision::*;
        // (include_manual, read_all, owner, changed) -> decision
        let table = [
            (false, false, Me, true, Write),
            (false, false, Me, false, Write),
            (false, false, Manual, true, NotFound),
            (false, false, Other, true, NotFound),
            (true, false, Me, true, Write),
            (true, false, Manual, true, WriteAndClaim),
            (true, false, Manual, false, WriteAndClaim),
            (true, false, Other, true, NotFound),
            (false, true, Me, true, Write),
            (false, true, Manual, true, Forbidden),
            (false, true, Manual, false, Forbidden),
            (false, true, Other, true, Forbidden),
            (true, true, Me, false, Write),
            (true, true, Manual, true, WriteAndClaim),
            (true, true, Manual, false, Unchanged),
            (true, true, Other, true, Forbidden),
            (true, true, Other, false, Forbidden),
        ];
        for (im, ra, owner, changed, want) in table {
            assert_eq!(
                user_write(s(im, ra), owner, changed),
                want,
                "{im} {ra} {owner:?} {changed}"
            );
        }
    }

    #[test]
    fn groups_ignore_read_all_users() {
        use Owner::*;
        assert_eq!(
            group_write(s(false, true), Other, true),
            WriteDecision::NotFound
        );
        assert_eq!(
            group_write(s(false, true), Manual, true),
            WriteDecision::NotFound
        );
        assert_eq!(
            group_write(s(true, true), Manual, false),
            WriteDecision::WriteAndClaim
        );
        assert_eq!(
            group_write(s(true, false), Manual, true),
            WriteDecision::WriteAndClaim
        );
        assert_eq!(
            group_scope(s(false, true), "me"),
            Scope::Source("me".into())
        );
        assert_eq!(group_access(s(true, true), Other), Access::Invisible);
    }

    #[test]
    fn scope_matches_visibility() {
        for im in [false, true] {
            for ra in [false, true] {
                let scope = user_scope(s(im, ra), "me");
                for owner in [Owner::Me, Owner::Manual, Owner::Other] {
                    let visible = user_access(s(im, ra), owner) != Access::Invisible;
                    let in_scope = match (&scope, owner) {
                        (Scope::All, _) => true,
                        (Scope::SourceOrManual(_), o) => o != Owner::Other,
                        (Scope::Source(_), o) => o == Owner::Me,
                    };
                    assert_eq!(visible, in_scope, "{im} {ra} {owner:?}");
                }
            }
        }
    }
}
