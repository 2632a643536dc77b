//! The schemas of the discovery documents themselves (RFC 7643 §5, §6, §7; their
//! representation in §8.7.2), served in `/Schemas` so that a client validating every response
//! against what the server publishes can validate `/ServiceProviderConfig`, `/ResourceTypes`
//! and `/Schemas` too (issue 15 item 1). Every attribute is read-only.

use super::{Attribute as A, Schema};

pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

fn supported(name: &'static str, description: &'static str, more: Vec<A>) -> A {
    let mut subs = vec![
        A::boolean("supported", "Whether the operation is supported.")
            .required()
            .read_only(),
    ];
    subs.extend(more);
    A::complex(name, description, subs).required().read_only()
}

/// RFC 7643 §5, with `pagination` of RFC 9865 §5.
pub(super) fn service_provider_config() -> Schema {
    Schema {
        id: SERVICE_PROVIDER_CONFIG_URN,
        name: "Service Provider Configuration",
        description: "Schema for representing the service provider's configuration",
        attributes: vec![
            A::reference("documentationUri", &["external"], "An HTTP-addressable URL pointing to the service provider's human-consumable help documentation.").read_only(),
            supported("patch", "A complex type that specifies PATCH configuration options.", vec![]),
            supported("bulk", "A complex type that specifies bulk configuration options.", vec![
                A::integer("maxOperations", "An integer value specifying the maximum number of operations.").required().read_only(),
                A::integer("maxPayloadSize", "An integer value specifying the maximum payload size in bytes.").required().read_only(),
            ]),
            supported("filter", "A complex type that specifies FILTER options.", vec![
                A::integer("maxResults", "An integer value specifying the maximum number of resources returned in a response.").required().read_only(),
            ]),
            supported("changePassword", "A complex type that specifies configuration options related to changing a password.", vec![]),
            supported("sort", "A complex type that specifies sort result options.", vec![]),
            supported("etag", "A complex type that specifies ETag configuration options.", vec![]),
            A::complex(
                "pagination",
                "Pagination configuration options (RFC 9865 §5).",
                vec![
                    A::boolean("cursor", "Whether cursor-based pagination is supported.").required().read_only(),
                    A::boolean("index", "Whether index-based pagination is supported.").required().read_only(),
                    A::string("defaultPaginationMethod", "The method used when a request names none.").canonical(&["cursor", "index"]).read_only(),
                    A::integer("defaultPageSize", "The page size used when a request names none.").read_only(),
                    A::integer("maxPageSize", "The largest page size returned.").read_only(),
                    A::integer("cursorTimeout", "How many seconds a cursor stays valid.").read_only(),
                ],
            )
            .read_only(),
            A::complex(
                "authenticationSchemes",
                "A complex type that specifies supported authentication scheme properties.",
                vec![
                    A::string("type", "The authentication scheme.").canonical(&["oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"]).required().read_only(),
                    A::string("name", "The common authentication scheme name.").required().read_only(),
                    A::string("description", "A description of the authentication scheme.").required().read_only(),
                    A::reference("specUri", &["external"], "An HTTP-addressable URL pointing to the authentication scheme's specification.").read_only(),
                    A::reference("documentationUri", &["external"], "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.").read_only(),
                    A::boolean("primary", "Whether this is the preferred authentication scheme.").read_only(),
                ],
            )
            .multi()
            .required()
            .read_only(),
        ],
    }
}

/// RFC 7643 §6.
pub(super) fn resource_type() -> Schema {
    Schema {
        id: RESOURCE_TYPE_URN,
        name: "ResourceType",
        description: "Specifies the schema that describes a SCIM resource type",
        attributes: vec![
            A::string("name", "The resource type name.")
                .required()
                .read_only(),
            A::string(
                "description",
                "The resource type's human-readable description.",
            )
            .read_only(),
            A::reference(
                "endpoint",
                &["uri"],
                "The resource type's HTTP-addressable endpoint relative to the Base URL.",
            )
            .required()
            .read_only(),
            A::reference(
                "schema",
                &["uri"],
                "The resource type's primary/base schema URI.",
            )
            .case_exact()
            .required()
            .read_only(),
            A::complex(
                "schemaExtensions",
                "A list of URIs of the resource type's schema extensions.",
                vec![
                    A::reference("schema", &["uri"], "The URI of a schema extension.")
                        .case_exact()
                        .required()
                        .read_only(),
                    A::boolean(
                        "required",
                        "Whether a resource of this type must include the extension.",
                    )
                    .required()
                    .read_only(),
                ],
            )
            .multi()
            .read_only(),
        ],
    }
}

/// The sub-attributes of an attribute definition (RFC 7643 §7); `nested` adds
/// `subAttributes` (with the same sub-attributes, one level down, as §8.7.2 shows).
fn attribute_definition(nested: bool) -> Vec<A> {
    let mut v = vec![
        A::string("name", "The attribute's name.")
            .case_exact()
            .required()
            .read_only(),
        A::string("type", "The attribute's data type.")
            .canonical(&[
                "string",
                "complex",
                "boolean",
                "decimal",
                "integer",
                "dateTime",
                "reference",
                "binary",
            ])
            .required()
            .read_only(),
        A::boolean("multiValued", "Whether the attribute is multi-valued.")
            .required()
            .read_only(),
        A::string("description", "The attribute's human-readable description.").read_only(),
        A::boolean("required", "Whether the attribute is required.").read_only(),
        A::string(
            "canonicalValues",
            "A collection of suggested canonical values.",
        )
        .multi()
        .read_only(),
        A::boolean("caseExact", "Whether a string attribute is case sensitive.").read_only(),
        A::string("mutability", "Whether the attribute is modifiable.")
            .canonical(&["readOnly", "readWrite", "immutable", "writeOnly"])
            .read_only(),
        A::string("returned", "When the attribute is returned in a response.")
            .canonical(&["always", "never", "default", "request"])
            .read_only(),
        A::string(
            "uniqueness",
            "How the service provider enforces uniqueness.",
        )
        .canonical(&["none", "server", "global"])
        .read_only(),
        A::string(
            "referenceTypes",
            "The names of the resource types that may be referenced.",
        )
        .multi()
        .read_only(),
    ];
    if nested {
        v.push(
            A::complex(
                "subAttributes",
                "The sub-attributes of a complex attribute.",
                attribute_definition(false),
            )
            .multi()
            .read_only(),
        );
    }
    v
}

/// RFC 7643 §7.
pub(super) fn schema() -> Schema {
    Schema {
        id: SCHEMA_URN,
        name: "Schema",
        description: "Specifies the schema attribute definitions of a SCIM resource",
        attributes: vec![
            A::string("name", "The schema's human-readable name.").read_only(),
            A::string("description", "The schema's human-readable description.").read_only(),
            A::complex(
                "attributes",
                "The service provider's attribute definitions.",
                attribute_definition(true),
            )
            .multi()
            .required()
            .read_only(),
        ],
    }
}
