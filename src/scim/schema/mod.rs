//! The attribute model of RFC 7643 §7 and the schemas scimgate serves: what each attribute is
//! (type, plurality, mutability, `returned`, `caseExact`, uniqueness, sub-attributes). The
//! `/Schemas` documents, validation of incoming resources, the filter evaluator and the PATCH
//! engine all read this one model. Imports nothing outside `crate::scim`.

mod discovery;
mod group;
mod provisioning;
mod user;

use std::sync::LazyLock;

use serde_json::{Value, json};

use crate::scim::filter::{AttrInfo, AttrKind, AttrTypes};

pub use discovery::{RESOURCE_TYPE_URN, SCHEMA_URN, SERVICE_PROVIDER_CONFIG_URN};
pub use group::GROUP_URN;
pub use provisioning::PROVISIONING_URN;
pub use user::{ENTERPRISE_USER_URN, USER_URN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttrKind,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    fn new(name: &'static str, kind: AttrKind, description: &'static str) -> Self {
        Attribute {
            name,
            kind,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: Vec::new(),
        }
    }
    pub(crate) fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrKind::String, description)
    }
    pub(crate) fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrKind::Boolean, description)
    }
    pub(crate) fn binary(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrKind::Binary, description)
    }
    pub(crate) fn integer(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrKind::Integer, description)
    }
    pub(crate) fn datetime(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrKind::DateTime, description)
    }
    pub(crate) fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrKind::Reference, description);
        a.reference_types = types;
        a
    }
    pub(crate) fn complex(
        name: &'static str,
        description: &'static str,
        subs: Vec<Attribute>,
    ) -> Self {
        let mut a = Self::new(name, AttrKind::Complex, description);
        a.sub_attributes = subs;
        a
    }
    pub(crate) fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub(crate) fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    pub(crate) fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    pub(crate) fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    pub(crate) fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self
    }
    pub(crate) fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub(crate) fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    pub(crate) fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// The sub-attribute named `name`, case-insensitively (RFC 7644 §3.10).
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn info(&self) -> AttrInfo {
        AttrInfo {
            kind: self.kind,
            case_exact: self.case_exact,
            multi_valued: self.multi_valued,
        }
    }

    /// The attribute definition as RFC 7643 §7 represents it in `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": kind_name(self.kind),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
        });
        if matches!(
            self.kind,
            AttrKind::String | AttrKind::Reference | AttrKind::Binary
        ) {
            v["caseExact"] = json!(self.case_exact);
        }
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            v["referenceTypes"] = json!(self.reference_types);
        }
        v["mutability"] = json!(match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        });
        v["returned"] = json!(match self.returned {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        });
        if self.kind != AttrKind::Complex {
            v["uniqueness"] = json!(match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            });
        }
        if self.kind == AttrKind::Complex {
            v["subAttributes"] =
                Value::Array(self.sub_attributes.iter().map(|a| a.to_json()).collect());
        }
        v
    }
}

fn kind_name(k: AttrKind) -> &'static str {
    match k {
        AttrKind::String => "string",
        AttrKind::Boolean => "boolean",
        AttrKind::Decimal => "decimal",
        AttrKind::Integer => "integer",
        AttrKind::DateTime => "dateTime",
        AttrKind::Reference => "reference",
        AttrKind::Binary => "binary",
        AttrKind::Complex => "complex",
    }
}

/// A schema (RFC 7643 §7): a URN and its attributes.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` document; `base_url` makes `meta.location`.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// A resource type (RFC 7643 §6): its endpoint, core schema and extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub core: Schema,
    /// Extensions with their `required` flag.
    pub extensions: Vec<(Schema, bool)>,
    /// Attributes every resource has whatever its schema (RFC 7643 §3.1): id, externalId, meta.
    pub common: Vec<Attribute>,
}

impl ResourceType {
    /// Resolves a possibly URN-qualified path to (schema URN, attribute). `urn` None searches
    /// the common attributes, the core schema, then the extensions.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<(&'static str, &Attribute)> {
        match urn {
            None => {
                if let Some(a) = self
                    .common
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
                {
                    return Some((self.core.id, a));
                }
                if let Some(a) = self.core.attr(name) {
                    return Some((self.core.id, a));
                }
                self.extensions
                    .iter()
                    .find_map(|(s, _)| s.attr(name).map(|a| (s.id, a)))
            }
            Some(u) => {
                let schema = self.schema(u)?;
                if schema.id == self.core.id
                    && let Some(a) = self
                        .common
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(name))
                {
                    return Some((schema.id, a));
                }
                schema.attr(name).map(|a| (schema.id, a))
            }
        }
    }

    /// The core schema or an extension, by URN, case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        if self.core.id.eq_ignore_ascii_case(urn) {
            return Some(&self.core);
        }
        self.extensions
            .iter()
            .map(|(s, _)| s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .map(|(s, _)| s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Splits a key such as `urn:…:enterprise:2.0:User:employeeNumber` into the schema URN
    /// and the rest, when the key starts with a known schema URN.
    pub fn split_urn<'a>(&self, key: &'a str) -> Option<(&'static str, &'a str)> {
        std::iter::once(&self.core)
            .chain(self.extensions.iter().map(|(s, _)| s))
            .find_map(|s| {
                let n = s.id.len();
                if key.len() > n
                    && key.is_char_boundary(n)
                    && key[..n].eq_ignore_ascii_case(s.id)
                    && key.as_bytes()[n] == b':'
                {
                    Some((s.id, &key[n + 1..]))
                } else {
                    None
                }
            })
    }

    /// The `/ResourceTypes/{name}` document.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.core.id,
            "schemaExtensions": self.extensions.iter().map(|(s, req)| json!({
                "schema": s.id, "required": req
            })).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name),
            }
        })
    }
}

impl AttrTypes for ResourceType {
    fn attr(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
        // Any core-namespace URN (RFC 7643 §3.3) reaches top-level attributes.
        let urn = urn.filter(|u| {
            !u.to_ascii_lowercase()
                .starts_with("urn:ietf:params:scim:schemas:core:2.0:")
        });
        let (_, a) = self.resolve(urn, name)?;
        match sub {
            None => Some(a.info()),
            Some(s) => a.sub(s).map(|sa| AttrInfo {
                // A sub-attribute of a multi-valued attribute is reached through each element.
                multi_valued: a.multi_valued || sa.multi_valued,
                ..sa.info()
            }),
        }
    }
}

/// The common attributes of RFC 7643 §3.1.
fn common_attributes() -> Vec<Attribute> {
    vec![
        Attribute::string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .read_only()
        .returned(Returned::Always)
        .unique(Uniqueness::Server),
        Attribute::string(
            "externalId",
            "Identifier for the resource as defined by the provisioning client.",
        )
        .case_exact(),
        Attribute::complex(
            "meta",
            "Resource metadata.",
            vec![
                Attribute::string("resourceType", "The name of the resource type.")
                    .case_exact()
                    .read_only(),
                Attribute::datetime(
                    "created",
                    "When the resource was added to the service provider.",
                )
                .read_only(),
                Attribute::datetime("lastModified", "When the resource was last updated.")
                    .read_only(),
                Attribute::reference("location", &["uri"], "The URI of the resource.")
                    .case_exact()
                    .read_only(),
                Attribute::string("version", "The version (ETag) of the resource.")
                    .case_exact()
                    .read_only(),
            ],
        )
        .read_only(),
    ]
}

/// The User resource type with its enterprise extension.
pub fn user() -> &'static ResourceType {
    static USER: LazyLock<ResourceType> = LazyLock::new(|| ResourceType {
        name: "User",
        endpoint: "/Users",
        description: "User Account",
        core: user::core_user(),
        extensions: vec![
            (user::enterprise_user(), false),
            (provisioning::provisioning(), false),
        ],
        common: common_attributes(),
    });
    &USER
}

/// The Group resource type.
pub fn group() -> &'static ResourceType {
    static GROUP: LazyLock<ResourceType> = LazyLock::new(|| ResourceType {
        name: "Group",
        endpoint: "/Groups",
        description: "Group",
        core: group::core_group(),
        extensions: vec![(provisioning::provisioning(), false)],
        common: common_attributes(),
    });
    &GROUP
}

/// The schemas of the discovery documents (`/ServiceProviderConfig`, `/ResourceTypes`,
/// `/Schemas`), served in `/Schemas` after the resources' schemas.
pub fn discovery_schemas() -> &'static [Schema] {
    static SCHEMAS: LazyLock<Vec<Schema>> = LazyLock::new(|| {
        vec![
            discovery::service_provider_config(),
            discovery::resource_type(),
            discovery::schema(),
        ]
    });
    &SCHEMAS
}

/// Every resource type this server serves.
pub fn resource_types() -> Vec<&'static ResourceType> {
    vec![user(), group()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resolves_case_insensitively_and_by_urn() {
        let u = user();
        assert_eq!(u.resolve(None, "USERNAME").unwrap().1.name, "userName");
        assert_eq!(
            u.resolve(None, "employeeNumber").unwrap().0,
            ENTERPRISE_USER_URN
        );
        assert!(u.resolve(Some(USER_URN), "employeeNumber").is_none());
        assert_eq!(u.resolve(None, "aliases").unwrap().1.name, "aliases");
        assert_eq!(
            u.resolve(None, "meta")
                .unwrap()
                .1
                .sub("lastmodified")
                .unwrap()
                .kind,
            AttrKind::DateTime
        );
        let (urn, rest) = u
            .split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
        assert_eq!(urn, ENTERPRISE_USER_URN);
        assert_eq!(rest, "manager.value");
        assert!(
            u.split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
                .is_none()
        );
        let info = u.attr(None, "emails", Some("VALUE")).unwrap();
        assert!(info.multi_valued && !info.case_exact);
        assert!(u.attr(Some(USER_URN), "userName", None).is_some());
    }
}
