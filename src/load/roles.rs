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

/// Defender XDR unified RBAC actions (custom-role permissions), as Microsoft documents
/// them: the Defender for Identity role-groups page ("Minimum required unified RBAC
/// permissions") and the Defender XDR RBAC permissions page's table of Entra roles mapped
/// to unified RBAC permissions (MicrosoftDocs/defender-docs, `defender-xdr/`).
///
/// UNVERIFIED beyond those pages: the portal has more permissions (live response, TVM
/// handling, raw email data, Exposure Management) whose action strings Microsoft does not
/// publish; a well-formed action outside this list is a warning, not an error, and a
/// wildcard segment (`*`) matches any value of that segment.
pub const DEFENDER_ACTIONS: &[&str] = &[
    "microsoft.xdr/secops/securitydata/read",
    "microsoft.xdr/secops/securitydata/basics/read",
    "microsoft.xdr/secops/securitydata/alerts/manage",
    "microsoft.xdr/secops/securitydata/response/manage",
    "microsoft.xdr/configuration/authorization/read",
    "microsoft.xdr/configuration/authorization/manage",
    "microsoft.xdr/configuration/security/read",
    "microsoft.xdr/configuration/security/manage",
    "microsoft.xdr/configuration/system/read",
    "microsoft.xdr/configuration/system/manage",
];

/// The permission areas (second segment) and verbs (last segment) unified RBAC uses.
const DEFENDER_AREAS: &[&str] = &["secops", "securityposture", "configuration", "*"];
const DEFENDER_VERBS: &[&str] = &["read", "manage", "*"];

/// How an action compares with the documented list.
#[derive(Debug, PartialEq, Eq)]
pub enum ActionCheck {
    /// A documented action, or a wildcard matching one.
    Known,
    /// Well-formed but not in the documented list (may be real; see [`DEFENDER_ACTIONS`]).
    Undocumented,
    /// Not an action the service can have; with the closest documented one, if any.
    Invalid {
        reason: String,
        did_you_mean: Option<&'static str>,
    },
}

/// Checks one custom-role action against [`DEFENDER_ACTIONS`].
pub fn check_defender_action(action: &str) -> ActionCheck {
    let lower = action.to_ascii_lowercase();
    let near = crate::diag::did_you_mean(&lower, DEFENDER_ACTIONS.iter().copied());
    let matches = |known: &str| {
        let (a, k): (Vec<&str>, Vec<&str>) =
            (lower.split('/').collect(), known.split('/').collect());
        // A trailing `*` matches the rest; an inner `*` one segment.
        let mut i = 0;
        while i < a.len() {
            if a[i] == "*" && i == a.len() - 1 {
                return k.len() >= i;
            }
            if i >= k.len() || (a[i] != "*" && a[i] != k[i]) {
                return false;
            }
            i += 1;
        }
        i == k.len()
    };
    if DEFENDER_ACTIONS.iter().any(|k| matches(k)) {
        return ActionCheck::Known;
    }
    let parts: Vec<&str> = lower.split('/').collect();
    let invalid = |reason: String| ActionCheck::Invalid {
        reason,
        did_you_mean: near,
    };
    if parts.first() != Some(&"microsoft.xdr") {
        return invalid("Defender XDR unified RBAC actions start with `microsoft.xdr/`".into());
    }
    if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
        return invalid("an action is `microsoft.xdr/AREA/.../VERB`".into());
    }
    if !DEFENDER_AREAS.contains(&parts[1]) {
        return invalid(format!(
            "`{}` is not a permission area (one of: secops, securityposture, configuration)",
            parts[1]
        ));
    }
    let verb = parts[parts.len() - 1];
    if !DEFENDER_VERBS.contains(&verb) {
        return invalid(format!(
            "`{verb}` is not a permission verb (read or manage)"
        ));
    }
    // Well-formed; one letter or two from a documented action is a typo.
    match near {
        Some(k)
            if crate::diag::did_you_mean(&lower, [k]).is_some()
                && lower.len().abs_diff(k.len()) <= 2 =>
        {
            ActionCheck::Invalid {
                reason: "not a documented permission".into(),
                did_you_mean: Some(k),
            }
        }
        _ => ActionCheck::Undocumented,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defender_actions_against_the_documented_list() {
        for ok in [
            "microsoft.xdr/secops/securitydata/read",
            "microsoft.xdr/secops/securitydata/alerts/manage",
            "microsoft.xdr/secops/*/read",
            "microsoft.xdr/configuration/*",
            "Microsoft.XDR/configuration/system/manage",
        ] {
            assert_eq!(check_defender_action(ok), ActionCheck::Known, "{ok}");
        }
        // Issue 12's examples, and more of the kind.
        for bad in [
            "microsoft.xdr/secops/everything/own",
            "microsoft.xdr/secops/securitydata/reed",
            "microsoft.xdr/secops/securitydata/alerts/mange",
            "microsoft.xdr/secop/securitydata/read",
            "microsoft.mde/secops/securitydata/read",
            "microsoft.xdr//read",
        ] {
            assert!(
                matches!(check_defender_action(bad), ActionCheck::Invalid { .. }),
                "{bad}"
            );
        }
        match check_defender_action("microsoft.xdr/secops/securitydata/reed") {
            ActionCheck::Invalid { did_you_mean, .. } => {
                assert_eq!(did_you_mean, Some("microsoft.xdr/secops/securitydata/read"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            check_defender_action("microsoft.xdr/securityposture/posturemanagement/read"),
            ActionCheck::Undocumented
        );
    }
}
