//! Least-privilege Microsoft Graph application permissions, computed from the desired state.
//!
//! Each Graph surface rampart touches has one read and one write application permission
//! (`shared/reference/graph-api.md` §5.5). What a tenant needs is derived from the objects
//! its desired state actually holds: a repository with only detection rules never asks for
//! `DeviceManagementConfiguration.*`. Planning needs the read permissions, applying the
//! write ones (a `ReadWrite` permission also allows reading, so apply never needs both).
//! Importing reads every surface import covers, whatever the configuration holds.
//!
//! Limits: the permission names are Microsoft's; the mapping assumes rampart's fetch reads
//! only the surfaces the desired state uses (the planner's contract, see
//! `plan::ObservedTenant::rbac`). Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::desired::{DesiredObject, RbacSystem, TenantDesired};

/// One Graph surface rampart reads or writes, with its own permission pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Surface {
    /// Intune settings-catalog configuration policies (antivirus, firewall, ASR).
    ConfigurationPolicies,
    /// Group display name -> id resolution (assignments, role principals).
    Groups,
    /// Defender XDR custom detection rules.
    DetectionRules,
    /// Defender XDR unified RBAC (`roleManagement/defender`).
    DefenderRbac,
    /// Intune RBAC (`deviceManagement/roleDefinitions|roleAssignments`).
    IntuneRbac,
    /// Entra directory roles (`roleManagement/directory`).
    DirectoryRoles,
    /// Advanced hunting (`security/runHuntingQuery`): `rampart hunt`, `devices`,
    /// `vulnerabilities`. Not in [`Surface::ALL`]: only [`Purpose::Soc`] needs it.
    Hunting,
    /// Defender XDR incidents (`security/incidents`): `rampart incidents`.
    Incidents,
    /// Defender XDR alerts (`security/alerts_v2`): `rampart alerts`.
    Alerts,
}

impl Surface {
    pub const ALL: [Surface; 6] = [
        Surface::ConfigurationPolicies,
        Surface::Groups,
        Surface::DetectionRules,
        Surface::DefenderRbac,
        Surface::IntuneRbac,
        Surface::DirectoryRoles,
    ];

    /// Stable short name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::ConfigurationPolicies => "configurationPolicies",
            Surface::Groups => "groups",
            Surface::DetectionRules => "detectionRules",
            Surface::DefenderRbac => "defenderRbac",
            Surface::IntuneRbac => "intuneRbac",
            Surface::DirectoryRoles => "directoryRoles",
            Surface::Hunting => "hunting",
            Surface::Incidents => "incidents",
            Surface::Alerts => "alerts",
        }
    }

    /// The least-privileged application permission that allows reading this surface.
    pub fn read_permission(self) -> &'static str {
        match self {
            Surface::ConfigurationPolicies => "DeviceManagementConfiguration.Read.All",
            Surface::Groups => "Group.Read.All",
            Surface::DetectionRules => "CustomDetection.Read.All",
            Surface::DefenderRbac => "RoleManagement.Read.Defender",
            Surface::IntuneRbac => "DeviceManagementRBAC.Read.All",
            Surface::DirectoryRoles => "RoleManagement.Read.Directory",
            Surface::Hunting => "ThreatHunting.Read.All",
            Surface::Incidents => "SecurityIncident.Read.All",
            Surface::Alerts => "SecurityAlert.Read.All",
        }
    }

    /// The application permission that allows writing this surface; `None` for groups,
    /// which rampart only reads (it never creates groups).
    pub fn write_permission(self) -> Option<&'static str> {
        match self {
            Surface::ConfigurationPolicies => Some("DeviceManagementConfiguration.ReadWrite.All"),
            Surface::Groups => None,
            Surface::DetectionRules => Some("CustomDetection.ReadWrite.All"),
            Surface::DefenderRbac => Some("RoleManagement.ReadWrite.Defender"),
            Surface::IntuneRbac => Some("DeviceManagementRBAC.ReadWrite.All"),
            Surface::DirectoryRoles => Some("RoleManagement.ReadWrite.Directory"),
            Surface::Hunting => None,
            Surface::Incidents => Some("SecurityIncident.ReadWrite.All"),
            Surface::Alerts => Some("SecurityAlert.ReadWrite.All"),
        }
    }

    /// The permission `purpose` needs on this surface.
    pub fn permission(self, purpose: Purpose) -> &'static str {
        match purpose {
            Purpose::Plan | Purpose::Import => self.read_permission(),
            Purpose::Apply | Purpose::Soc => {
                self.write_permission().unwrap_or(self.read_permission())
            }
        }
    }

    /// Roles that satisfy `purpose` on this surface: the permission itself and any broader
    /// one Graph accepts for the same calls (a `ReadWrite` role allows reading; the
    /// directory-wide roles allow reading groups and directory roles). Used by `verify` so a
    /// tenant consented with a broader role is not reported as missing one.
    pub fn satisfied_by(self, purpose: Purpose) -> &'static [&'static str] {
        let read =
            !matches!(purpose, Purpose::Apply | Purpose::Soc) || self.write_permission().is_none();
        match (self, read) {
            (Surface::ConfigurationPolicies, true) => &[
                "DeviceManagementConfiguration.Read.All",
                "DeviceManagementConfiguration.ReadWrite.All",
            ],
            (Surface::ConfigurationPolicies, false) => {
                &["DeviceManagementConfiguration.ReadWrite.All"]
            }
            (Surface::Groups, _) => &[
                "Group.Read.All",
                "Group.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (Surface::DetectionRules, true) => {
                &["CustomDetection.Read.All", "CustomDetection.ReadWrite.All"]
            }
            (Surface::DetectionRules, false) => &["CustomDetection.ReadWrite.All"],
            (Surface::DefenderRbac, true) => &[
                "RoleManagement.Read.Defender",
                "RoleManagement.ReadWrite.Defender",
            ],
            (Surface::DefenderRbac, false) => &["RoleManagement.ReadWrite.Defender"],
            (Surface::IntuneRbac, true) => &[
                "DeviceManagementRBAC.Read.All",
                "DeviceManagementRBAC.ReadWrite.All",
            ],
            (Surface::IntuneRbac, false) => &["DeviceManagementRBAC.ReadWrite.All"],
            (Surface::DirectoryRoles, true) => &[
                "RoleManagement.Read.Directory",
                "RoleManagement.ReadWrite.Directory",
                "RoleManagement.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (Surface::DirectoryRoles, false) => &["RoleManagement.ReadWrite.Directory"],
            (Surface::Hunting, _) => &["ThreatHunting.Read.All"],
            (Surface::Incidents, true) => &[
                "SecurityIncident.Read.All",
                "SecurityIncident.ReadWrite.All",
            ],
            (Surface::Incidents, false) => &["SecurityIncident.ReadWrite.All"],
            (Surface::Alerts, true) => &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
            (Surface::Alerts, false) => &["SecurityAlert.ReadWrite.All"],
        }
    }

    /// The Graph request that proves a token can read this surface: one item, nothing more.
    pub fn probe_path(self) -> &'static str {
        match self {
            Surface::ConfigurationPolicies => {
                "beta/deviceManagement/configurationPolicies?$top=1&$select=id"
            }
            Surface::Groups => "v1.0/groups?$top=1&$select=id",
            Surface::DetectionRules => "beta/security/rules/detectionRules?$top=1",
            Surface::DefenderRbac => "beta/roleManagement/defender/roleAssignments?$top=1",
            Surface::IntuneRbac => "beta/deviceManagement/roleAssignments?$top=1",
            Surface::DirectoryRoles => "v1.0/roleManagement/directory/roleAssignments?$top=1",
            // An action (POST): `tenants verify` checks the role only, see `probes`.
            Surface::Hunting => "v1.0/security/runHuntingQuery",
            Surface::Incidents => "v1.0/security/incidents?$top=1",
            Surface::Alerts => "v1.0/security/alerts_v2?$top=1",
        }
    }

    /// Whether `tenants verify` probes this surface with a GET. Hunting is an action: a
    /// probe would be a query, spending the tenant's hunting quota, so only its role is
    /// checked.
    pub fn probes(self) -> bool {
        self != Surface::Hunting
    }
}

impl std::fmt::Display for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the permissions are for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    /// `rampart plan`: read only.
    #[default]
    Plan,
    /// `rampart apply`: write (which includes read).
    Apply,
    /// `rampart import --tenant`: read of every surface import covers.
    Import,
    /// The fleet security commands (`hunt`, `incidents`, `alerts`, `devices`,
    /// `vulnerabilities`, with their updates): hunting, incidents and alerts.
    Soc,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Plan => "plan",
            Purpose::Apply => "apply",
            Purpose::Import => "import",
            Purpose::Soc => "soc",
        }
    }
}

/// How much access a surface needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    Read,
    Write,
}

impl Surface {
    /// The permission for `level` (groups are only ever read).
    pub fn permission_for(self, level: Level) -> &'static str {
        match level {
            Level::Read => self.read_permission(),
            Level::Write => self.write_permission().unwrap_or(self.read_permission()),
        }
    }

    /// Roles that satisfy `level` on this surface (see [`Surface::satisfied_by`]).
    pub fn satisfied_by_level(self, level: Level) -> &'static [&'static str] {
        self.satisfied_by(match level {
            Level::Read => Purpose::Plan,
            Level::Write => Purpose::Apply,
        })
    }
}

/// The surfaces a plan of this tenant reads, sorted. Follows what `crate::fetch` reads:
/// configuration policies and detection rules are always listed (to find managed objects
/// no longer desired and adoption candidates), RBAC systems only when a role assignment
/// uses them, groups only when a name must be resolved.
pub fn surfaces_for(desired: &TenantDesired) -> BTreeSet<Surface> {
    let mut out: BTreeSet<Surface> =
        [Surface::ConfigurationPolicies, Surface::DetectionRules].into();
    if !crate::fetch::desired_group_names(desired).is_empty() {
        out.insert(Surface::Groups);
    }
    for object in desired.objects.values() {
        if let DesiredObject::RoleAssignment(r) = object {
            out.insert(rbac_surface(r.system));
        }
    }
    out
}

fn rbac_surface(system: RbacSystem) -> Surface {
    match system {
        RbacSystem::Defender => Surface::DefenderRbac,
        RbacSystem::Intune => Surface::IntuneRbac,
        RbacSystem::Directory => Surface::DirectoryRoles,
    }
}

/// The surfaces an apply of this tenant may write: those holding desired objects, plus
/// configuration policies and detection rules when the tenant allows removal (a managed
/// object no longer desired is deleted).
pub fn written_surfaces(desired: &TenantDesired) -> BTreeSet<Surface> {
    let mut out = BTreeSet::new();
    if desired.allow_removal {
        out.insert(Surface::ConfigurationPolicies);
        out.insert(Surface::DetectionRules);
    }
    for object in desired.objects.values() {
        out.insert(match object {
            DesiredObject::ConfigurationPolicy(_) => Surface::ConfigurationPolicies,
            DesiredObject::DetectionRule(_) => Surface::DetectionRules,
            DesiredObject::RoleAssignment(r) => rbac_surface(r.system),
        });
    }
    out
}

/// What one tenant needs for `purpose`, per surface.
pub fn needs(desired: &TenantDesired, purpose: Purpose) -> BTreeMap<Surface, Level> {
    match purpose {
        Purpose::Soc => [
            (Surface::Hunting, Level::Read),
            (Surface::Incidents, Level::Write),
            (Surface::Alerts, Level::Write),
        ]
        .into(),
        Purpose::Import => import_surfaces()
            .into_iter()
            .map(|s| (s, Level::Read))
            .collect(),
        Purpose::Plan => surfaces_for(desired)
            .into_iter()
            .map(|s| (s, Level::Read))
            .collect(),
        Purpose::Apply => {
            let written = written_surfaces(desired);
            surfaces_for(desired)
                .into_iter()
                .map(|s| {
                    let level = if written.contains(&s) && s.write_permission().is_some() {
                        Level::Write
                    } else {
                        Level::Read
                    };
                    (s, level)
                })
                .collect()
        }
    }
}

/// The surfaces `import --tenant` reads: configuration policies, detection rules, the three
/// RBAC systems, and groups (to write group names instead of ids).
pub fn import_surfaces() -> BTreeSet<Surface> {
    Surface::ALL.into_iter().collect()
}

/// One permission and the surfaces that need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub permission: String,
    pub surfaces: Vec<Surface>,
}

/// The permissions for a per-surface need, sorted by permission name.
pub fn requirements(needs: &BTreeMap<Surface, Level>) -> Vec<Requirement> {
    let mut by_perm: BTreeMap<&'static str, Vec<Surface>> = BTreeMap::new();
    for (s, level) in needs {
        by_perm
            .entry(s.permission_for(*level))
            .or_default()
            .push(*s);
    }
    by_perm
        .into_iter()
        .map(|(p, surfaces)| Requirement {
            permission: p.to_string(),
            surfaces,
        })
        .collect()
}

/// The union of several needs: the higher level wins.
pub fn merge_needs<'a>(
    all: impl IntoIterator<Item = &'a BTreeMap<Surface, Level>>,
) -> BTreeMap<Surface, Level> {
    let mut out: BTreeMap<Surface, Level> = BTreeMap::new();
    for n in all {
        for (s, l) in n {
            let e = out.entry(*s).or_insert(*l);
            *e = (*e).max(*l);
        }
    }
    out
}

/// The default Entra authority host, used in admin-consent URLs.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The admin-consent URL a tenant's administrator opens to provision the multi-tenant app
/// and consent its application permissions (graph-api.md §5.3). `tenant` may be a GUID or
/// `organizations`/`common`. Admin consent grants whatever the app registration lists, so
/// the permissions themselves are configured on the app, not in the URL.
pub fn admin_consent_url(authority: &str, tenant: &str, client_id: &str) -> String {
    format!(
        "{}/{}/adminconsent?client_id={}",
        authority.trim_end_matches('/'),
        url_component(tenant),
        url_component(client_id)
    )
}

/// Percent-encodes everything outside RFC 3986's unreserved set.
fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One tenant's permission report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPermissions {
    pub tenant: String,
    pub tenant_id: String,
    pub surfaces: Vec<Surface>,
    pub permissions: Vec<Requirement>,
    /// Present when a client id was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_consent_url: Option<String>,
}

/// The whole `rampart permissions` report: the union over all tenants, then per tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsReport {
    pub purpose: Purpose,
    pub surfaces: Vec<Surface>,
    pub permissions: Vec<Requirement>,
    /// The tenant-independent consent URL (`organizations`), when a client id was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_consent_url: Option<String>,
    pub tenants: Vec<TenantPermissions>,
}

/// Builds the report for `desired` (every tenant of the repository).
pub fn report(
    desired: &[TenantDesired],
    purpose: Purpose,
    client_id: Option<&str>,
    authority: &str,
) -> PermissionsReport {
    let mut all_needs = Vec::new();
    let mut tenants: Vec<TenantPermissions> = desired
        .iter()
        .map(|t| {
            let n = needs(t, purpose);
            let tp = TenantPermissions {
                tenant: t.tenant.name.clone(),
                tenant_id: t.tenant.id.clone(),
                permissions: requirements(&n),
                surfaces: n.keys().copied().collect(),
                admin_consent_url: client_id.map(|c| admin_consent_url(authority, &t.tenant.id, c)),
            };
            all_needs.push(n);
            tp
        })
        .collect();
    tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    let all = merge_needs(&all_needs);
    PermissionsReport {
        purpose,
        permissions: requirements(&all),
        surfaces: all.keys().copied().collect(),
        admin_consent_url: client_id.map(|c| admin_consent_url(authority, "organizations", c)),
        tenants,
    }
}

/// The human form of the report.
pub fn render_human(report: &PermissionsReport) -> String {
    let mut out = format!(
        "Microsoft Graph application permissions for `rampart {}`:\n",
        report.purpose.as_str()
    );
    if report.permissions.is_empty() {
        out.push_str("  (none: no tenant in the configuration)\n");
    }
    let width = report
        .permissions
        .iter()
        .map(|r| r.permission.len())
        .max()
        .unwrap_or(0);
    for r in &report.permissions {
        let surfaces: Vec<&str> = r.surfaces.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "  {:<width$}  {}\n",
            r.permission,
            surfaces.join(", ")
        ));
    }
    if let Some(url) = &report.admin_consent_url {
        out.push_str(&format!("\nAdmin consent (any tenant): {url}\n"));
    }
    if !report.tenants.is_empty() {
        out.push_str("\nPer tenant:\n");
        for t in &report.tenants {
            let perms: Vec<&str> = t
                .permissions
                .iter()
                .map(|r| r.permission.as_str())
                .collect();
            out.push_str(&format!(
                "  {} ({}): {}\n",
                t.tenant,
                t.tenant_id,
                perms.join(", ")
            ));
            if let Some(url) = &t.admin_consent_url {
                out.push_str(&format!("    consent: {url}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_uses_write_and_groups_stay_read() {
        let s: BTreeMap<Surface, Level> = [
            (Surface::Groups, Level::Write),
            (Surface::DetectionRules, Level::Write),
        ]
        .into();
        let r = requirements(&s);
        let names: Vec<&str> = r.iter().map(|r| r.permission.as_str()).collect();
        assert_eq!(names, ["CustomDetection.ReadWrite.All", "Group.Read.All"]);
        let s: BTreeMap<Surface, Level> = [
            (Surface::Groups, Level::Read),
            (Surface::DetectionRules, Level::Read),
        ]
        .into();
        let r = requirements(&s);
        let names: Vec<&str> = r.iter().map(|r| r.permission.as_str()).collect();
        assert_eq!(names, ["CustomDetection.Read.All", "Group.Read.All"]);
    }

    #[test]
    fn consent_url_is_encoded() {
        assert_eq!(
            admin_consent_url(
                "https://login.microsoftonline.com/",
                "contoso.onmicrosoft.com",
                "a b"
            ),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=a%20b"
        );
    }

    #[test]
    fn write_role_satisfies_read() {
        for s in Surface::ALL {
            let w = s.permission(Purpose::Apply);
            assert!(s.satisfied_by(Purpose::Plan).contains(&w), "{s}");
            assert!(s.satisfied_by(Purpose::Apply).contains(&w), "{s}");
        }
    }
}
