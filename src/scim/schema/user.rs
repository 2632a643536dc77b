//! The core User schema (RFC 7643 §4.1, §8.7.1), with scimgate's `aliases`, and the enterprise
//! User extension (RFC 7643 §4.3).

use super::{Attribute as A, Returned, Schema, Uniqueness};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// `value`, `display`, `type`, `primary`: the shape of most multi-valued attributes.
fn plural(
    name: &'static str,
    description: &'static str,
    value: A,
    types: &'static [&'static str],
) -> A {
    A::complex(
        name,
        description,
        vec![
            value,
            A::string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            A::string("type", "A label indicating the attribute's function.").canonical(types),
            A::boolean(
                "primary",
                "Whether this is the primary or preferred value of the attribute.",
            ),
        ],
    )
    .multi()
}

pub(super) fn core_user() -> Schema {
    Schema {
        id: USER_URN,
        name: "User",
        description: "User Account",
        attributes: vec![
            A::string("userName", "Unique identifier for the User, used to sign in. Unique across the appliance, compared case-insensitively.")
                .required()
                .unique(Uniqueness::Server),
            A::complex(
                "name",
                "The components of the user's real name.",
                vec![
                    A::string("formatted", "The full name, formatted for display."),
                    A::string("familyName", "The family name of the User."),
                    A::string("givenName", "The given name of the User."),
                    A::string("middleName", "The middle name(s) of the User."),
                    A::string("honorificPrefix", "The honorific prefix(es) of the User."),
                    A::string("honorificSuffix", "The honorific suffix(es) of the User."),
                ],
            ),
            A::string("displayName", "The name of the User, suitable for display to end-users."),
            A::string("nickName", "The casual way to address the user."),
            A::reference("profileUrl", &["external"], "A fully qualified URL pointing to a page representing the User's online profile."),
            A::string("title", "The user's title, such as \"Vice President\"."),
            A::string("userType", "Used to identify the relationship between the organization and the user."),
            A::string("preferredLanguage", "The User's preferred written or spoken language (RFC 7231 Accept-Language format)."),
            A::string("locale", "The User's default location for localizing items such as currency and dates."),
            A::string("timezone", "The User's time zone in the IANA Time Zone database format."),
            A::boolean("active", "The User's administrative status. An inactive user cannot authenticate."),
            A::string("password", "Accepted for compatibility with provisioning clients; never stored and never returned.")
                .write_only()
                .returned(Returned::Never),
            plural("emails", "Email addresses for the user.", A::string("value", "Email address for the User."), &["work", "home", "other"]),
            plural("phoneNumbers", "Phone numbers for the User.", A::string("value", "Phone number of the User."), &["work", "home", "mobile", "fax", "pager", "other"]),
            plural("ims", "Instant messaging addresses for the User.", A::string("value", "Instant messaging address for the User."), &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
            plural("photos", "URLs of photos of the User.", A::reference("value", &["external"], "URL of a photo of the User."), &["photo", "thumbnail"]),
            A::complex(
                "addresses",
                "A physical mailing address for this User.",
                vec![
                    A::string("formatted", "The full mailing address, formatted for display."),
                    A::string("streetAddress", "The full street address component."),
                    A::string("locality", "The city or locality component."),
                    A::string("region", "The state or region component."),
                    A::string("postalCode", "The zip code or postal code component."),
                    A::string("country", "The country name component (ISO 3166-1 alpha-2)."),
                    A::string("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
                    A::boolean("primary", "Whether this is the primary address."),
                ],
            )
            .multi(),
            A::complex(
                "groups",
                "The groups the user belongs to, directly. Derived from group memberships; read-only.",
                vec![
                    A::string("value", "The identifier of the User's group.").read_only(),
                    A::reference("$ref", &["Group"], "The URI of the corresponding Group resource.").read_only(),
                    A::string("display", "A human-readable name of the group.").read_only(),
                    A::string("type", "How the membership was derived.").canonical(&["direct", "indirect"]).read_only(),
                ],
            )
            .multi()
            .read_only(),
            plural("entitlements", "Entitlements for the User.", A::string("value", "The value of an entitlement."), &[]),
            plural("roles", "Roles (account privileges) for the User.", A::string("value", "The value of a role."), &[]),
            plural("x509Certificates", "X.509 certificates issued to the User.", A::binary("value", "The DER-encoded, base64 X.509 certificate."), &[]),
            A::complex(
                "aliases",
                "Additional login names of the User. Each alias signs in to the same account and is unique across the appliance, like userName.",
                vec![
                    A::string("value", "The alias, a login name.").unique(Uniqueness::Server),
                    A::string("type", "A label for the alias, for example \"email\".").canonical(&["email", "username", "other"]),
                    A::boolean("primary", "Whether this is the primary alias."),
                ],
            )
            .multi(),
        ],
    }
}

pub(super) fn enterprise_user() -> Schema {
    Schema {
        id: ENTERPRISE_USER_URN,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: vec![
            A::string(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person by the organization.",
            ),
            A::string("costCenter", "Identifies the name of a cost center."),
            A::string("organization", "Identifies the name of an organization."),
            A::string("division", "Identifies the name of a division."),
            A::string("department", "Identifies the name of a department."),
            A::complex(
                "manager",
                "The User's manager. Accepted as an object with `value` or as a bare id string (as Microsoft Entra ID sends it).",
                vec![
                    A::string(
                        "value",
                        "The id of the SCIM resource representing the User's manager.",
                    ),
                    A::reference(
                        "$ref",
                        &["User"],
                        "The URI of the SCIM resource representing the User's manager.",
                    ),
                    A::string("displayName", "The displayName of the User's manager.").read_only(),
                ],
            ),
        ],
    }
}
