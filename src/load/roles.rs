//! Built-in role names, as data, for the `unknown-role` check of `RoleAssignment`.
//!
//! Sources: Entra directory role template ids from shared/reference/graph-api.md §3c (the
//! first six) and the Entra permissions reference (`[ED] permissions-reference.md`) for the
//! rest; Intune built-in roles from the Intune RBAC documentation ("Built-in roles").
//! Defender XDR unified RBAC has no built-in roles: a `system: defender` assignment names a
//! custom role (managed through `customRole`, or existing in the tenant).

/// Entra directory built-in roles: (display name, role template id).
pub const DIRECTORY_ROLES: &[(&str, &str)] = &[
    (
        "Application Administrator",
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    ),
    (
        "Cloud Application Administrator",
        "158c047a-c907-4556-b7ef-446551a6b5f7",
    ),
    (
        "Cloud Device Administrator",
        "7698a772-787b-4ac8-901f-60d6b08affd2",
    ),
    (
        "Compliance Administrator",
        "17315797-102d-40b4-93e0-432062caca18",
    ),
    (
        "Conditional Access Administrator",
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    ),
    (
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
    ),
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    ),
    (
        "Intune Administrator",
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
    ),
    (
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
    ),
    ("Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf"),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
    ("Security Operator", "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
];

/// Intune built-in role definitions, by display name.
pub const INTUNE_ROLES: &[&str] = &[
    "Application Manager",
    "Endpoint Privilege Manager",
    "Endpoint Privilege Reader",
    "Endpoint Security Manager",
    "Help Desk Operator",
    "Intune Role Administrator",
    "Organizational Messages Manager",
    "Policy and Profile manager",
    "Read Only Operator",
    "School Administrator",
];

/// The role template id of an Entra built-in role, by display name.
pub fn directory_role_template_id(name: &str) -> Option<&'static str> {
    DIRECTORY_ROLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, id)| *id)
}
