//! scimgate's read-only provisioning extension, on Users and Groups: who owns the resource
//! (the integration, or *manual*) and, if an integration claimed it from manual provisioning,
//! which one and when (DESIGN.md, *Source*). Identity providers and auditors can read it;
//! nobody writes it through SCIM.

use super::{Attribute as A, Schema};

pub const PROVISIONING_URN: &str = "urn:scimgate:params:scim:schemas:extension:2.0:Provisioning";

pub(super) fn provisioning() -> Schema {
    Schema {
        id: PROVISIONING_URN,
        name: "Provisioning",
        description: "Where the resource comes from in this appliance. Read-only.",
        attributes: vec![
            A::complex(
                "source",
                "The owner: the provisioning integration that manages the resource, or manual (created by an administrator).",
                vec![
                    A::string("type", "\"integration\" or \"manual\".").canonical(&["integration", "manual"]).read_only(),
                    A::string("value", "The id of the owning integration (absent when manual).").case_exact().read_only(),
                    A::string("display", "The name of the owning integration.").read_only(),
                ],
            )
            .read_only(),
            A::complex(
                "claimed",
                "Set when an integration claimed the resource from manual provisioning (Include Manually Provisioned Users).",
                vec![
                    A::string("value", "The id of the integration that claimed it.").case_exact().read_only(),
                    A::string("display", "The name of that integration when it claimed it.").read_only(),
                    A::datetime("at", "When it was claimed.").read_only(),
                ],
            )
            .read_only(),
        ],
    }
}
