//! The core Group schema (RFC 7643 §4.2, §8.7.1).

use super::{Attribute as A, Schema, Uniqueness};

pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

pub(super) fn core_group() -> Schema {
    Schema {
        id: GROUP_URN,
        name: "Group",
        description: "Group",
        attributes: vec![
            A::string("displayName", "A human-readable name for the Group. Unique across the appliance, compared case-insensitively.")
                .required()
                .unique(Uniqueness::Server),
            A::complex(
                "members",
                "The members of the Group: users of this directory.",
                vec![
                    A::string("value", "The id of the member user.").immutable(),
                    A::reference("$ref", &["User"], "The URI of the member user.").immutable(),
                    A::string("display", "A human-readable name of the member: its displayName, else its userName.").read_only(),
                    A::string("type", "The type of the member; only \"User\" is supported.")
                        .canonical(&["User"])
                        .immutable(),
                ],
            )
            .multi(),
        ],
    }
}
