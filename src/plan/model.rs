//! The plan as data: what `diff` computes and what every renderer, the saved-plan file and
//! `apply` read. Nothing here knows how it is shown; the human, JSON and Markdown renderers
//! are all fed this one structure (the JSON output is its serde serialisation), so no format
//! can show something another lacks.
//!
//! Ordering is part of the contract: tenants sorted by name; within a tenant deletions
//! first, then by address; field changes sorted by path. The same inputs give the same
//! bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::desired::{Address, Kind};

/// The saved-plan / JSON format version. Bump on any incompatible change; loaders refuse
/// other versions rather than guess.
pub const FORMAT_VERSION: u32 = 1;

/// What rampart intends to do to one object. A closed set: its symbol and sentence live in
/// one table ([`Action::symbol`], [`Action::sentence`]) used by every renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Desired and observed agree (or a managed object is kept because removal is not
    /// allowed; see `ObjectPlan::notes`).
    NoOp,
    Create,
    Update,
    /// Delete, then create: for changes Graph cannot make in place (role assignments,
    /// a configuration policy's template, a detection rule's id).
    Replace,
    Delete,
    /// Report only: an unmanaged object looks like the desired one (same display name, or
    /// same detection-rule id). rampart never touches it; a human decides to adopt it.
    Adopt,
    /// The object cannot be planned (missing group, id clash, ambiguous match...). Nothing
    /// is sent for it; the plan counts it as an error.
    Error,
}

/// One row of the action table.
struct ActionInfo {
    action: Action,
    symbol: &'static str,
    legend: &'static str,
    sentence: &'static str,
}

/// The single table of symbols and sentences (Terraform's habit): renderers never spell an
/// action themselves.
const ACTIONS: [ActionInfo; 7] = [
    ActionInfo {
        action: Action::NoOp,
        symbol: " ",
        legend: "no change",
        sentence: "has no changes",
    },
    ActionInfo {
        action: Action::Create,
        symbol: "+",
        legend: "create",
        sentence: "will be created",
    },
    ActionInfo {
        action: Action::Update,
        symbol: "~",
        legend: "update in place",
        sentence: "will be updated in place",
    },
    ActionInfo {
        action: Action::Replace,
        symbol: "-/+",
        legend: "destroy and then create replacement",
        sentence: "must be replaced",
    },
    ActionInfo {
        action: Action::Delete,
        symbol: "-",
        legend: "destroy",
        sentence: "will be destroyed",
    },
    ActionInfo {
        action: Action::Adopt,
        symbol: "?",
        legend: "unmanaged look-alike, adoption candidate (never touched)",
        sentence: "has an unmanaged look-alike; nothing will be done until it is adopted",
    },
    ActionInfo {
        action: Action::Error,
        symbol: "!",
        legend: "error, nothing will be done",
        sentence: "cannot be planned",
    },
];

impl Action {
    fn info(self) -> &'static ActionInfo {
        // The table is indexed by declaration order; the test below keeps it honest.
        &ACTIONS[self as usize]
    }
    /// The diff symbol: `+`, `~`, `-`, `-/+`, `?`, `!` (a space for no-op).
    pub fn symbol(self) -> &'static str {
        self.info().symbol
    }
    /// The legend text, e.g. `update in place`.
    pub fn legend(self) -> &'static str {
        self.info().legend
    }
    /// The sentence after an address, e.g. `will be created`.
    pub fn sentence(self) -> &'static str {
        self.info().sentence
    }
    /// Every action, in table order (legend order).
    pub fn all() -> impl Iterator<Item = Action> {
        ACTIONS.iter().map(|i| i.action)
    }
    /// Whether applying this action writes to the tenant.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Replace | Action::Delete
        )
    }
}

/// The whole plan: every selected tenant, planned independently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    /// `CARGO_PKG_VERSION` of the rampart that made the plan; apply refuses another.
    pub rampart_version: String,
    /// SHA-256 over the canonical JSON of every tenant's desired state: the plan is only
    /// valid for these inputs.
    pub inputs_digest: String,
    pub created_from: CreatedFrom,
    /// The endpoint the plan was made against; `apply` refuses a plan made elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<super::saved::Endpoint>,
    /// Sorted by tenant name.
    pub tenants: Vec<TenantPlan>,
    /// True when any tenant failed or any object is in error: apply must refuse the plan.
    pub errored: bool,
    pub summary: Summary,
    /// Tenants grouped by rollout ring, and which changes are pending promotion rather
    /// than drift (see `crate::rollout`). `None` unless the repository tracks a rollout
    /// (`rollout/promotions.yaml`) or `--ring` selected tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// Where a tenant stands in its ring. A closed set: its word and legend live in one table
/// ([`RingState::word`], [`RingState::legend`]) read by every renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingState {
    /// Nothing to write.
    InStep,
    /// Only changes merged but not yet promoted to the tenant's ring.
    Pending,
    /// At least one object differs from what was promoted to the ring: changed outside
    /// rampart (or never written).
    Drifted,
    /// The tenant could not be read, or an object cannot be planned.
    Failed,
}

struct RingStateInfo {
    state: RingState,
    word: &'static str,
    legend: &'static str,
}

/// The single table of ring states (declaration order; the test below keeps it honest).
const RING_STATES: [RingStateInfo; 4] = [
    RingStateInfo {
        state: RingState::InStep,
        word: "in step",
        legend: "matches the desired state",
    },
    RingStateInfo {
        state: RingState::Pending,
        word: "pending",
        legend: "merged, not yet promoted to this ring (not drift)",
    },
    RingStateInfo {
        state: RingState::Drifted,
        word: "drifted",
        legend: "differs from what was promoted to this ring (changed outside rampart)",
    },
    RingStateInfo {
        state: RingState::Failed,
        word: "failed",
        legend: "could not be read or planned",
    },
];

impl RingState {
    fn info(self) -> &'static RingStateInfo {
        &RING_STATES[self as usize]
    }
    /// The column word: `in step`, `pending`, `drifted`, `failed`.
    pub fn word(self) -> &'static str {
        self.info().word
    }
    /// One sentence for legends.
    pub fn legend(self) -> &'static str {
        self.info().legend
    }
    /// Every state, in table (column) order.
    pub fn all() -> impl Iterator<Item = RingState> {
        RING_STATES.iter().map(|i| i.state)
    }
}

/// The rollout view of a plan: rings in order, and the pending changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Whether a promotion record was read. Without one, every change counts as drift.
    pub tracked: bool,
    /// `--ring` as given (`N` or `..N`), when it selected the tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    /// Numbered rings ascending, then tenants without a ring (`ring: null`).
    pub rings: Vec<RingPlan>,
    /// Addresses whose change is pending promotion to the tenant's ring, sorted. Every
    /// other change in the plan is drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Address>,
}

/// One ring of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RingPlan {
    pub ring: Option<u32>,
    /// The commit the ring was last promoted from, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_commit: Option<String>,
    /// Tenant name -> state, sorted by name.
    pub tenants: Vec<RingTenant>,
    /// Tenants per state, in [`RingState::all`] order: `[in step, pending, drifted, failed]`.
    pub counts: [usize; 4],
}

/// One tenant's place in its ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RingTenant {
    pub tenant: String,
    pub state: RingState,
    /// Changes pending promotion.
    pub pending: usize,
    /// Changes that are drift.
    pub drifted: usize,
}

impl RingPlan {
    /// `ring 0`, or `no ring`.
    pub fn label(&self) -> String {
        match self.ring {
            Some(r) => format!("ring {r}"),
            None => "no ring".to_string(),
        }
    }
    /// Tenants in `state`.
    pub fn count(&self, state: RingState) -> usize {
        self.counts[state as usize]
    }
}

impl Rollout {
    /// Whether `address`'s change is pending promotion (else, when it writes, drift).
    pub fn is_pending(&self, address: &Address) -> bool {
        self.pending.binary_search(address).is_ok()
    }
}

/// What the plan was made from (no timestamps, so the bytes are reproducible).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedFrom {
    /// Where Graph was read: `emulator` or the Graph base URL.
    pub source: String,
    /// Selections given on the command line, each sorted.
    pub profiles: Vec<String>,
    pub tenants: Vec<String>,
    pub targets: Vec<String>,
    pub kinds: Vec<String>,
}

/// Counts for the one-line summary; recomputed from the objects by [`Plan::new`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub tenants: usize,
    pub failed_tenants: usize,
    pub to_add: usize,
    pub to_change: usize,
    pub to_destroy: usize,
    pub adoption_candidates: usize,
    /// Objects in error plus failed tenants.
    pub errors: usize,
}

impl Summary {
    /// Adds another summary's counts (all but `tenants`, which the caller sets).
    pub fn add(&mut self, o: &Summary) {
        self.failed_tenants += o.failed_tenants;
        self.to_add += o.to_add;
        self.to_change += o.to_change;
        self.to_destroy += o.to_destroy;
        self.adoption_candidates += o.adoption_candidates;
        self.errors += o.errors;
    }

    /// Whether applying the plan would write anything.
    pub fn has_changes(&self) -> bool {
        self.to_add + self.to_change + self.to_destroy > 0
    }
}

/// One tenant's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPlan {
    /// The tenant's short name (the first part of every address).
    pub tenant: String,
    pub tenant_id: String,
    pub status: TenantStatus,
    /// Deletions first, then by address.
    pub objects: Vec<ObjectPlan>,
    /// Everything the planner read of the tenant (normalised), recorded so that apply can
    /// re-derive every object's requests from it and the current inputs and refuse a plan
    /// whose requests were edited (see `apply::rederive`). `None` for a failed tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<crate::plan::ObservedTenant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum TenantStatus {
    Ok,
    /// The tenant could not be read (token, permission, network...); it has no objects.
    Failed {
        error: String,
    },
}

/// One object's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPlan {
    pub address: Address,
    pub action: Action,
    /// Display name (Graph `name`/`displayName`) of the desired, else the observed object.
    pub display_name: String,
    /// Changed fields, sorted by path. For a create: every desired field (before = null).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// Unchanged top-level fields, hidden by renderers but counted.
    #[serde(default)]
    pub unchanged_fields: usize,
    /// Unchanged leaf settings, hidden by renderers but counted.
    #[serde(default)]
    pub unchanged_settings: usize,
    /// What was observed of every existing Graph object this plan touches (a role
    /// assignment may also touch its custom role definition), for apply's stale check.
    /// Empty for a pure create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<ObservedRef>,
    /// Graph objects the requests refer to but never write (a built-in role definition a
    /// role assignment grants): apply re-reads them like `observed`, so a role id edited in
    /// a plan's recorded observation, or a role changed since the plan, stops the write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ObservedRef>,
    /// An unmanaged look-alike (adoption candidate) when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_alike: Option<ObservedRef>,
    /// The Graph requests apply will send, in order. Empty unless the action writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<PlannedRequest>,
    /// The error for `Action::Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Remarks a reviewer should read (e.g. why a managed object is kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ObjectPlan {
    /// An object plan with nothing filled in but its identity and action.
    pub fn new(address: Address, action: Action, display_name: impl Into<String>) -> Self {
        ObjectPlan {
            address,
            action,
            display_name: display_name.into(),
            changes: Vec::new(),
            unchanged_fields: 0,
            unchanged_settings: 0,
            observed: Vec::new(),
            references: Vec::new(),
            look_alike: None,
            requests: Vec::new(),
            error: None,
            notes: Vec::new(),
        }
    }
}

/// The Graph resource type of an observed object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resource {
    ConfigurationPolicy,
    DetectionRule,
    DefenderRoleDefinition,
    DefenderRoleAssignment,
    IntuneRoleDefinition,
    IntuneRoleAssignment,
    DirectoryRoleAssignment,
    DirectoryRoleDefinition,
}

/// What the planner saw of an existing object: enough for apply to notice that it moved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRef {
    pub resource: Resource,
    /// Graph id.
    pub id: String,
    /// Where to re-read it (API version included), e.g.
    /// `/beta/deviceManagement/configurationPolicies/<id>?$expand=settings,assignments`.
    pub path: String,
    /// `lastModifiedDateTime` when Graph gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// `sha256:<hex>` of the canonical JSON of the normalised observed object (see
    /// `observed::*::fingerprint`); apply recomputes it from a fresh read.
    pub fingerprint: String,
    /// A short digest (`sha256` prefix, 16 hex digits) of each top-level field of the same
    /// normalised object, so that apply can name the fields that moved when it refuses a
    /// stale object, rather than only "changed". Informative only: the freshness check is
    /// the whole `fingerprint`. Empty in plans made before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// One field's change. `before`/`after` are JSON values: strings, numbers, lists; `null`
/// means absent. Paths are readable: `settings.cloudBlockLevel`, `alert.techniques`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub path: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// HTTP methods apply uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Post,
    Put,
    Patch,
    Delete,
}

/// Why a request is sent; lets apply order and verify them without parsing URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestPurpose {
    Create,
    Update,
    Assign,
    Delete,
    CreateRoleDefinition,
    UpdateRoleDefinition,
}

/// A Graph request apply will send. `path` starts with the API version
/// (`/beta/...`, `/v1.0/...`). The placeholder `{id}` stands for the id returned by the
/// object's earlier `Create` request, `{roleDefinitionId}` for the one returned by its
/// `CreateRoleDefinition` request (ids Graph chooses are unknown at plan time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRequest {
    pub purpose: RequestPurpose,
    pub method: HttpMethod,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// Placeholder for the id Graph returns for the object's create request.
pub const CREATED_ID: &str = "{id}";
/// Placeholder for the id Graph returns for a created custom role definition.
pub const CREATED_ROLE_DEFINITION_ID: &str = "{roleDefinitionId}";

impl TenantPlan {
    /// This tenant's counts (`tenants` = 1).
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            tenants: 1,
            ..Summary::default()
        };
        if let TenantStatus::Failed { .. } = self.status {
            s.failed_tenants += 1;
            s.errors += 1;
        }
        for o in &self.objects {
            match o.action {
                Action::NoOp => {}
                Action::Create => s.to_add += 1,
                Action::Update => s.to_change += 1,
                // Terraform counts a replacement as one add and one destroy.
                Action::Replace => {
                    s.to_add += 1;
                    s.to_destroy += 1;
                }
                Action::Delete => s.to_destroy += 1,
                Action::Adopt => s.adoption_candidates += 1,
                Action::Error => s.errors += 1,
            }
        }
        s
    }

    /// A tenant that could not be read.
    pub fn failed(tenant: &str, tenant_id: &str, error: impl Into<String>) -> Self {
        TenantPlan {
            tenant: tenant.to_string(),
            tenant_id: tenant_id.to_string(),
            status: TenantStatus::Failed {
                error: error.into(),
            },
            objects: Vec::new(),
            observation: None,
        }
    }

    /// Sort objects: deletions first (so a reviewer sees them first), then by address.
    pub fn sort(&mut self) {
        self.objects.sort_by(|a, b| {
            let da = a.action != Action::Delete;
            let db = b.action != Action::Delete;
            (da, &a.address).cmp(&(db, &b.address))
        });
    }

    /// Keep only objects for which `keep` is true (`--target`, `--kind`).
    pub fn retain(&mut self, keep: impl FnMut(&ObjectPlan) -> bool) {
        self.objects.retain(keep);
    }
}

impl Plan {
    /// Assembles a plan: sorts tenants and objects, computes the summary and `errored`.
    pub fn new(
        mut tenants: Vec<TenantPlan>,
        inputs_digest: String,
        created_from: CreatedFrom,
    ) -> Plan {
        tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        for t in &mut tenants {
            t.sort();
        }
        let mut plan = Plan {
            format_version: FORMAT_VERSION,
            rampart_version: env!("CARGO_PKG_VERSION").to_string(),
            inputs_digest,
            created_from,
            endpoint: None,
            tenants,
            errored: false,
            summary: Summary::default(),
            rollout: None,
        };
        plan.recount();
        plan
    }

    /// Recomputes `summary` and `errored` from the tenants (after filtering, say).
    pub fn recount(&mut self) {
        let mut s = Summary {
            tenants: self.tenants.len(),
            ..Summary::default()
        };
        for t in &self.tenants {
            s.add(&t.summary());
        }
        self.errored = s.errors > 0;
        self.summary = s;
    }

    /// Every object with its tenant, in plan order.
    pub fn objects(&self) -> impl Iterator<Item = (&TenantPlan, &ObjectPlan)> {
        self.tenants
            .iter()
            .flat_map(|t| t.objects.iter().map(move |o| (t, o)))
    }

    /// Keeps only objects matching the `--target` addresses and `--kind`s (empty = all).
    /// A target is a full address `tenant/kind/name`, or a prefix of whole segments
    /// (`tenant`, `tenant/kind`).
    pub fn filter(&mut self, targets: &[String], kinds: &[Kind]) {
        for t in &mut self.tenants {
            t.retain(|o| {
                (kinds.is_empty() || kinds.contains(&o.address.kind))
                    && (targets.is_empty()
                        || targets.iter().any(|tg| address_matches(tg, &o.address)))
            });
        }
        self.recount();
    }
}

/// Whether `target` (`tenant`, `tenant/kind` or `tenant/kind/name`) selects `address`.
pub fn address_matches(target: &str, address: &Address) -> bool {
    let mut parts = target.trim_end_matches('/').splitn(3, '/');
    let tenant = parts.next().unwrap_or("");
    if tenant != address.tenant {
        return false;
    }
    match parts.next() {
        None => true,
        Some(kind) if kind != address.kind.as_str() => false,
        Some(_) => match parts.next() {
            None => true,
            Some(name) => name == address.name,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_table_is_in_declaration_order() {
        for (i, info) in ACTIONS.iter().enumerate() {
            assert_eq!(info.action as usize, i, "{:?}", info.action);
        }
    }

    #[test]
    fn ring_state_table_is_in_declaration_order() {
        for (i, info) in RING_STATES.iter().enumerate() {
            assert_eq!(info.state as usize, i, "{:?}", info.state);
        }
    }

    #[test]
    fn targets_match_whole_segments() {
        let a = Address {
            tenant: "contoso".into(),
            kind: Kind::DetectionRule,
            name: "encoded-powershell".into(),
        };
        assert!(address_matches("contoso", &a));
        assert!(address_matches("contoso/DetectionRule", &a));
        assert!(address_matches(
            "contoso/DetectionRule/encoded-powershell",
            &a
        ));
        assert!(!address_matches("contos", &a));
        assert!(!address_matches("contoso/AntivirusPolicy", &a));
        assert!(!address_matches("contoso/DetectionRule/encoded", &a));
    }
}
