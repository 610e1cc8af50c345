//! The fleet report as data: one [`Report`] built from a [`Plan`] and where each tenant sits
//! in the rollout (ring and profiles, read from the repository by the CLI), rendered
//! afterwards by `super::html`. Pure: no clock, files or environment; the run time and
//! notes come in through [`RunInfo`].
//!
//! The matrix cell state is a closed set, [`CellState`], with its symbol, word, legend and
//! colour in one table ([`STATES`]), as [`Action`] has in `crate::plan::model`: every
//! renderer reads the table, none spells a state itself.
//!
//! Ordering contract: groups by ring (no ring last), then by profile names; tenants by
//! name within a group (the plan's order); columns by kind, then object name. The same
//! plan and placement give the same report.
//!
//! Limits:
//! - `Drift` and `Pending` come from the plan's rollout view ([`CellState::from_object`]):
//!   only when the repository keeps a promotion record (`rollout/promotions.yaml`); without
//!   one a change shows as its action (create, update, delete).
//! - Fleet operations (device and vulnerability counts per tenant) do not exist yet. The
//!   extension point is a per-tenant field on [`TenantRow`] filled from their model, and a
//!   section in `super::html` after the matrix; nothing is shown until then.

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::Kind;
use crate::plan::{Action, FieldChange, ObjectPlan, Plan, TenantPlan, TenantStatus};

/// The state of one tenant x object cell of the matrix. A closed set: its symbol, word,
/// legend and colour live in [`STATES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CellState {
    /// Desired and observed agree.
    InStep,
    /// The object exists and will be changed in place (or replaced).
    Update,
    /// The object is desired and missing: it will be created.
    Create,
    /// A managed object is no longer desired and will be deleted.
    Delete,
    /// The tenant moved away from a desired state that did not change (not yet produced;
    /// see the module doc).
    Drift,
    /// A change held back until it is promoted to the tenant's ring (not yet produced).
    Pending,
    /// An unmanaged look-alike exists; rampart does nothing until a human adopts it.
    AdoptionCandidate,
    /// The object (or the whole tenant) cannot be planned.
    Error,
    /// The tenant's profiles do not give it this object.
    NotDistributed,
}

/// One row of the state table.
pub struct StateInfo {
    pub state: CellState,
    /// Short machine name, used as the CSS class and in filter links (`#state=update`).
    pub code: &'static str,
    /// Shown in every cell with the word, so the state reads without colour.
    pub symbol: &'static str,
    /// Shown in every cell: what a screen reader says after the column header.
    pub word: &'static str,
    /// The legend's sentence.
    pub legend: &'static str,
    /// Cell background; the lightness steps differ so greyscale still separates the
    /// common states, and the symbol and word carry the meaning anyway.
    pub background: &'static str,
    /// Cell text colour (contrast >= 4.5:1 against `background`).
    pub foreground: &'static str,
}

/// The single table of states, in declaration order (which is also the legend order and
/// the severity order used when sorting a column: worst last).
pub const STATES: [StateInfo; 9] = [
    StateInfo {
        state: CellState::InStep,
        code: "in-step",
        symbol: "\u{2713}",
        word: "in step",
        legend: "desired and observed agree",
        background: "#dcefdc",
        foreground: "#14401a",
    },
    StateInfo {
        state: CellState::Update,
        code: "update",
        symbol: "~",
        word: "update",
        legend: "will be updated in place (or replaced)",
        background: "#fff1b8",
        foreground: "#4d3b00",
    },
    StateInfo {
        state: CellState::Create,
        code: "create",
        symbol: "+",
        word: "create",
        legend: "missing: will be created",
        background: "#d6e6ff",
        foreground: "#0b2f66",
    },
    StateInfo {
        state: CellState::Delete,
        code: "delete",
        symbol: "-",
        word: "delete",
        legend: "managed, no longer desired: will be destroyed",
        background: "#ffd9d9",
        foreground: "#6b0d0d",
    },
    StateInfo {
        state: CellState::Drift,
        code: "drift",
        symbol: "\u{2260}",
        word: "drift",
        legend: "changed outside rampart (not yet told apart from update by the plan)",
        background: "#ffd1a3",
        foreground: "#5c2a00",
    },
    StateInfo {
        state: CellState::Pending,
        code: "pending",
        symbol: "\u{2026}",
        word: "pending",
        legend: "waiting for promotion to the tenant's ring (rings are not planned yet)",
        background: "#e8defa",
        foreground: "#3a1f6b",
    },
    StateInfo {
        state: CellState::AdoptionCandidate,
        code: "adopt",
        symbol: "?",
        word: "adoption candidate",
        legend: "an unmanaged look-alike exists; nothing is done until it is adopted",
        background: "#d2f3f3",
        foreground: "#0b4545",
    },
    StateInfo {
        state: CellState::Error,
        code: "error",
        symbol: "!",
        word: "error",
        legend: "cannot be planned: nothing is done (see the tenant's details)",
        background: "#9e1b1b",
        foreground: "#ffffff",
    },
    StateInfo {
        state: CellState::NotDistributed,
        code: "none",
        symbol: "\u{00b7}",
        word: "not distributed",
        legend: "the tenant's profiles do not give it this object",
        background: "#ffffff",
        foreground: "#555555",
    },
];

impl CellState {
    /// This state's row of [`STATES`].
    pub fn info(self) -> &'static StateInfo {
        // Indexed by declaration order; a unit test keeps the table honest.
        &STATES[self as usize]
    }

    /// Every state, in table order.
    pub fn all() -> impl Iterator<Item = CellState> {
        STATES.iter().map(|i| i.state)
    }

    /// The state of a planned object. This is the one mapping from the plan's actions:
    /// a replacement is an update of the object as a whole, a kept no-longer-desired object
    /// (a no-op with a note) is in step because nothing will change.
    pub fn from_object(o: &ObjectPlan, rollout: Option<&crate::plan::Rollout>) -> CellState {
        match rollout {
            // With a promotion record a change is either pending promotion to the ring or
            // drift (see `crate::rollout::classify`); errors and adoption keep their state.
            Some(r) if r.tracked && o.action.writes() => {
                if r.is_pending(&o.address) {
                    CellState::Pending
                } else {
                    CellState::Drift
                }
            }
            _ => CellState::from_action(o.action),
        }
    }

    /// The state of a planned object from its action alone (no rollout record).
    pub fn from_action(action: Action) -> CellState {
        match action {
            Action::NoOp => CellState::InStep,
            Action::Create => CellState::Create,
            Action::Update | Action::Replace => CellState::Update,
            Action::Delete => CellState::Delete,
            Action::Adopt => CellState::AdoptionCandidate,
            Action::Error => CellState::Error,
        }
    }
}

/// Where a tenant sits in the rollout, as the repository's profiles say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantPlacement {
    /// The lowest ring of the tenant's profiles.
    pub ring: Option<u32>,
    /// The profiles targeting the tenant, sorted.
    pub profiles: Vec<String>,
    /// The objects the tenant's profiles give it, as (kind, name). Used for tenants that
    /// could not be read: their desired objects are errors, the others not distributed.
    pub desired: BTreeSet<(Kind, String)>,
}

/// Each tenant's placement by tenant name; tenants missing here are grouped as "not in the
/// repository".
pub type Placement = BTreeMap<String, TenantPlacement>;

/// What the report says about its own run (filled at the CLI edge).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// When the report was made, RFC 3339 UTC.
    pub generated_at: String,
    /// The saved plan it was read from, when not a fresh plan.
    pub plan_file: Option<String>,
    /// Remarks shown under the header (e.g. that the repository differs from the plan).
    pub notes: Vec<String>,
}

/// One matrix column: a desired (or to-be-deleted) object, by kind and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub kind: Kind,
    pub name: String,
}

/// One matrix row.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantRow<'p> {
    pub plan: &'p TenantPlan,
    /// One state per column, in column order.
    pub cells: Vec<CellState>,
    /// Whether the details section has an entry for this tenant.
    pub has_details: bool,
    /// Stable position in the plan (for anchors that never hold a user-supplied name).
    pub index: usize,
}

/// Tenants sharing a ring and a set of profiles.
#[derive(Clone, Debug, PartialEq)]
pub struct Group<'p> {
    pub ring: Option<u32>,
    pub profiles: Vec<String>,
    /// False when the tenants are not in the repository (or there was none).
    pub placed: bool,
    pub rows: Vec<TenantRow<'p>>,
}

impl Group<'_> {
    /// The group's heading, e.g. `Ring 0 · ring0-pilot`.
    pub fn label(&self) -> String {
        if !self.placed {
            return "Not in the repository (ring and profile unknown)".to_string();
        }
        let ring = match self.ring {
            Some(r) => format!("Ring {r}"),
            None => "No ring".to_string(),
        };
        format!("{ring} \u{b7} {}", self.profiles.join(" + "))
    }
}

/// Cell counts of one ring, for the summary chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingCounts {
    /// `None`: no ring, or not in the repository.
    pub ring: Option<u32>,
    pub tenants: usize,
    /// Cells per state, in table order (not-distributed cells included).
    pub counts: [usize; STATES.len()],
}

impl RingCounts {
    pub fn label(&self) -> String {
        match self.ring {
            Some(r) => format!("Ring {r}"),
            None => "No ring".to_string(),
        }
    }
}

/// One object in a tenant's details.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectEntry<'p> {
    pub object: &'p ObjectPlan,
    /// Element id of this entry (`o-<tenant>-<object>`, plan positions only).
    pub anchor: String,
    /// The field changes shown here: all of them, or (with `same_as`) those that differ
    /// from the reference entry's.
    pub changes: Vec<&'p FieldChange>,
    /// The reference entry (the first in plan order with the same object and action) and
    /// how many of this entry's changes it shows identically. Set only when at least one
    /// change is shared; this keeps a first rollout to 1,000 tenants (every field of every
    /// object, mostly the same everywhere but for per-tenant variables) a small page.
    pub same_as: Option<SharedChanges<'p>>,
}

/// Field changes shown at another entry.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedChanges<'p> {
    /// The reference entry's element id.
    pub anchor: String,
    pub address: &'p crate::desired::Address,
    /// How many of this object's changes are identical there.
    pub shared: usize,
}

/// A tenant's entry in the details section (only tenants with something to show).
#[derive(Clone, Debug, PartialEq)]
pub struct TenantDetails<'p> {
    pub plan: &'p TenantPlan,
    /// Position in the plan; the element id is `t-<index>`.
    pub index: usize,
    pub objects: Vec<ObjectEntry<'p>>,
}

/// The whole report, ready to render.
#[derive(Clone, Debug, PartialEq)]
pub struct Report<'p> {
    pub plan: &'p Plan,
    pub run: RunInfo,
    pub columns: Vec<Column>,
    pub groups: Vec<Group<'p>>,
    pub rings: Vec<RingCounts>,
    /// Cells per state over the whole fleet, in table order.
    pub totals: [usize; STATES.len()],
    /// Tenants with a failure or an object to show, in plan order.
    pub details: Vec<TenantDetails<'p>>,
}

impl<'p> Report<'p> {
    /// Builds the report of `plan`, grouping tenants by `placement`.
    pub fn build(plan: &'p Plan, placement: &Placement, run: RunInfo) -> Report<'p> {
        let columns: Vec<Column> = plan
            .objects()
            .map(|(_, o)| Column {
                kind: o.address.kind,
                name: o.address.name.clone(),
            })
            // A failed tenant's desired objects are columns too (as errors), even when no
            // other tenant planned them.
            .chain(failed_columns(plan, placement))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index: BTreeMap<(Kind, &str), usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.kind, c.name.as_str()), i))
            .collect();

        let mut groups: BTreeMap<GroupKey, Vec<TenantRow<'p>>> = BTreeMap::new();
        let mut rings: BTreeMap<Option<u32>, RingCounts> = BTreeMap::new();
        let mut totals = [0usize; STATES.len()];
        for (i, t) in plan.tenants.iter().enumerate() {
            let place = placement.get(&t.tenant);
            let cells = cells(t, place, &columns, &index, plan.rollout.as_ref());
            let ring = place.and_then(|p| p.ring);
            let rc = rings.entry(ring).or_insert(RingCounts {
                ring,
                tenants: 0,
                counts: [0; STATES.len()],
            });
            rc.tenants += 1;
            for c in &cells {
                rc.counts[*c as usize] += 1;
                totals[*c as usize] += 1;
            }
            // Unplaced tenants sort after every ring; "no ring" after numbered rings.
            let key = (
                place.is_none(),
                ring.map_or((1, 0), |r| (0, r)),
                place.map(|p| p.profiles.clone()).unwrap_or_default(),
            );
            groups.entry(key).or_default().push(TenantRow {
                plan: t,
                cells,
                has_details: has_details(t),
                index: i,
            });
        }
        let groups = groups
            .into_iter()
            .map(|((unplaced, (no_ring, r), profiles), rows)| Group {
                ring: (no_ring == 0).then_some(r),
                profiles,
                placed: !unplaced,
                rows,
            })
            .collect();
        // Numbered rings first, then tenants without one.
        let mut rings: Vec<RingCounts> = rings.into_values().collect();
        rings.sort_by_key(|r| r.ring.map_or((1, 0), |n| (0, n)));
        Report {
            plan,
            run,
            columns,
            groups,
            rings,
            totals,
            details: details(plan),
        }
    }
}

/// The details entries; an object's changes that the first entry of the same object and
/// action already shows are referenced there instead of repeated.
fn details(plan: &Plan) -> Vec<TenantDetails<'_>> {
    let mut first: BTreeMap<(Kind, &str, Action), (String, &ObjectPlan)> = BTreeMap::new();
    let mut out = Vec::new();
    for (ti, t) in plan.tenants.iter().enumerate() {
        if !has_details(t) {
            continue;
        }
        let mut objects = Vec::new();
        for (oi, o) in t.objects.iter().enumerate().filter(|(_, o)| shown(o)) {
            let anchor = format!("o-{ti}-{oi}");
            let key = (o.address.kind, o.address.name.as_str(), o.action);
            let entry = match first.get(&key) {
                Some((reference, r)) if !o.changes.is_empty() => {
                    let (same, differ): (Vec<&FieldChange>, Vec<&FieldChange>) =
                        o.changes.iter().partition(|c| r.changes.contains(c));
                    ObjectEntry {
                        object: o,
                        anchor,
                        changes: differ,
                        same_as: (!same.is_empty()).then(|| SharedChanges {
                            anchor: reference.clone(),
                            address: &r.address,
                            shared: same.len(),
                        }),
                    }
                }
                _ => {
                    if !o.changes.is_empty() {
                        first.insert(key, (anchor.clone(), o));
                    }
                    ObjectEntry {
                        object: o,
                        anchor,
                        changes: o.changes.iter().collect(),
                        same_as: None,
                    }
                }
            };
            objects.push(entry);
        }
        out.push(TenantDetails {
            plan: t,
            index: ti,
            objects,
        });
    }
    out
}

/// A group's sort key: (not in the repository, (no ring, ring), profiles).
type GroupKey = (bool, (u8, u32), Vec<String>);

fn failed_columns(plan: &Plan, placement: &Placement) -> Vec<Column> {
    plan.tenants
        .iter()
        .filter(|t| matches!(t.status, TenantStatus::Failed { .. }))
        .filter_map(|t| placement.get(&t.tenant))
        .flat_map(|p| p.desired.iter())
        .map(|(kind, name)| Column {
            kind: *kind,
            name: name.clone(),
        })
        .collect()
}

fn cells(
    t: &TenantPlan,
    place: Option<&TenantPlacement>,
    columns: &[Column],
    index: &BTreeMap<(Kind, &str), usize>,
    rollout: Option<&crate::plan::Rollout>,
) -> Vec<CellState> {
    let mut cells = cells_from_actions(t, place, columns, index);
    for o in &t.objects {
        if let Some(&i) = index.get(&(o.address.kind, o.address.name.as_str())) {
            cells[i] = CellState::from_object(o, rollout);
        }
    }
    cells
}

fn cells_from_actions(
    t: &TenantPlan,
    place: Option<&TenantPlacement>,
    columns: &[Column],
    index: &BTreeMap<(Kind, &str), usize>,
) -> Vec<CellState> {
    if let TenantStatus::Failed { .. } = t.status {
        // Without the repository every object may be one the tenant should get.
        return columns
            .iter()
            .map(|c| match place {
                Some(p) if !p.desired.contains(&(c.kind, c.name.clone())) => {
                    CellState::NotDistributed
                }
                _ => CellState::Error,
            })
            .collect();
    }
    let mut cells = vec![CellState::NotDistributed; columns.len()];
    for o in &t.objects {
        if let Some(&i) = index.get(&(o.address.kind, o.address.name.as_str())) {
            cells[i] = CellState::from_action(o.action);
        }
    }
    cells
}

/// Whether a tenant has anything to show beyond "in step": a failure, or an object that
/// the human plan shows (an action, or a no-op carrying a note).
pub fn has_details(t: &TenantPlan) -> bool {
    matches!(t.status, TenantStatus::Failed { .. }) || t.objects.iter().any(shown)
}

/// Whether an object is listed in a tenant's details (the human renderer's rule).
pub fn shown(o: &ObjectPlan) -> bool {
    o.action != Action::NoOp || !o.notes.is_empty()
}

/// A fix hint for a planner or Graph error message, when one is known.
///
/// The plan carries errors as sentences, not codes, so the hints are matched on the
/// planner's own fixed phrases (`crate::plan::diff`, `crate::plan::observed`) and on Graph
/// status codes. A message no phrase matches gets no hint rather than a guess.
pub fn fix_hint(message: &str) -> Option<&'static str> {
    const HINTS: [(&str, &str); 9] = [
        (
            "group ",
            "Create the group in the tenant, or correct the group name (or the profile variable that gives it).",
        ),
        (
            "does not exist",
            "Create the role in the tenant, or correct the role name in the policy.",
        ),
        (
            "is ambiguous",
            "Give the role a unique name in the tenant, or name it exactly in the policy.",
        ),
        (
            "carry the marker",
            "Several objects claim one rampart name: delete the duplicates by hand, keeping one.",
        ),
        (
            "already exists and is",
            "Adopt the existing object (`rampart import --tenant T --adopt`) or choose another id.",
        ),
        (
            "cannot be read",
            "Check the app's read permissions in this tenant (`rampart permissions`, then `rampart tenants verify`).",
        ),
        (
            "was not read",
            "Check the app's read permissions in this tenant (`rampart permissions`, then `rampart tenants verify`).",
        ),
        (
            "403",
            "Grant the app the permissions `rampart permissions` lists and an admin's consent in this tenant.",
        ),
        (
            "401",
            "The app could not sign in to this tenant: check its credential and that it is consented there (`rampart tenants verify`).",
        ),
    ];
    HINTS
        .iter()
        .find(|(phrase, _)| message.contains(phrase))
        .map(|(_, hint)| *hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_table_is_in_declaration_order() {
        for (i, info) in STATES.iter().enumerate() {
            assert_eq!(info.state as usize, i, "{:?}", info.state);
        }
        let codes: BTreeSet<&str> = STATES.iter().map(|s| s.code).collect();
        assert_eq!(codes.len(), STATES.len(), "codes are unique");
        let symbols: BTreeSet<&str> = STATES.iter().map(|s| s.symbol).collect();
        assert_eq!(symbols.len(), STATES.len(), "symbols are unique");
    }

    #[test]
    fn plan_symbols_are_kept_for_the_states_the_plan_has() {
        for a in Action::all().filter(|a| !matches!(a, Action::NoOp | Action::Replace)) {
            assert_eq!(CellState::from_action(a).info().symbol, a.symbol(), "{a:?}");
        }
        assert_eq!(
            CellState::from_action(Action::Replace),
            CellState::Update,
            "a replacement is an update of the object"
        );
    }

    use crate::desired::Address;
    use crate::plan::CreatedFrom;

    fn tenant(name: &str, objects: &[(Kind, &str, Action)]) -> TenantPlan {
        TenantPlan {
            tenant: name.into(),
            tenant_id: format!("id-{name}"),
            observation: None,
            status: TenantStatus::Ok,
            objects: objects
                .iter()
                .map(|(kind, n, a)| {
                    ObjectPlan::new(
                        Address {
                            tenant: name.into(),
                            kind: *kind,
                            name: (*n).into(),
                        },
                        *a,
                        *n,
                    )
                })
                .collect(),
        }
    }

    fn place(ring: Option<u32>, profile: &str, desired: &[(Kind, &str)]) -> TenantPlacement {
        TenantPlacement {
            ring,
            profiles: vec![profile.into()],
            desired: desired
                .iter()
                .map(|(k, n)| (*k, (*n).to_string()))
                .collect(),
        }
    }

    #[test]
    fn groups_follow_rings_then_profiles_with_the_unplaced_last() {
        let r = (Kind::DetectionRule, "r");
        let av = (Kind::AntivirusPolicy, "av");
        let plan = Plan::new(
            vec![
                tenant("a", &[(r.0, r.1, Action::NoOp)]),
                tenant("b", &[(r.0, r.1, Action::Update)]),
                tenant("c", &[(av.0, av.1, Action::Create)]),
                tenant("d", &[(r.0, r.1, Action::Replace)]),
                tenant("e", &[]),
                TenantPlan::failed("f", "id-f", "403 Forbidden"),
            ],
            "sha256:0".into(),
            CreatedFrom::default(),
        );
        let mut placement = Placement::new();
        placement.insert("a".into(), place(Some(1), "broad", &[r]));
        placement.insert("b".into(), place(None, "adhoc", &[r]));
        placement.insert("c".into(), place(Some(0), "pilot", &[av]));
        placement.insert("d".into(), place(Some(1), "another", &[r]));
        placement.insert("f".into(), place(Some(0), "pilot", &[av]));
        let report = Report::build(&plan, &placement, RunInfo::default());
        let labels: Vec<String> = report.groups.iter().map(Group::label).collect();
        assert_eq!(
            labels,
            [
                "Ring 0 \u{b7} pilot",
                "Ring 1 \u{b7} another",
                "Ring 1 \u{b7} broad",
                "No ring \u{b7} adhoc",
                "Not in the repository (ring and profile unknown)",
            ]
        );
        // Columns: by kind, then name.
        let columns: Vec<(Kind, &str)> = report
            .columns
            .iter()
            .map(|c| (c.kind, c.name.as_str()))
            .collect();
        assert_eq!(columns, [av, r]);
        let cells = |t: &str| -> Vec<CellState> {
            report
                .groups
                .iter()
                .flat_map(|g| &g.rows)
                .find(|row| row.plan.tenant == t)
                .map(|row| row.cells.clone())
                .expect("row")
        };
        use CellState::*;
        assert_eq!(cells("a"), [NotDistributed, InStep]);
        assert_eq!(cells("b"), [NotDistributed, Update]);
        assert_eq!(cells("d"), [NotDistributed, Update]);
        assert_eq!(cells("e"), [NotDistributed, NotDistributed]);
        // A failed tenant: its desired objects are errors, the others not distributed.
        assert_eq!(cells("f"), [Error, NotDistributed]);
        let ring0 = &report.rings[0];
        assert_eq!((ring0.ring, ring0.tenants), (Some(0), 2));
        assert_eq!(ring0.counts[Error as usize], 1);
        assert_eq!(report.rings.last().map(|r| r.ring), Some(None));
        assert_eq!(report.totals.iter().sum::<usize>(), 6 * 2);
        // Details: tenants with something to show only.
        let with: Vec<&str> = report
            .details
            .iter()
            .map(|d| d.plan.tenant.as_str())
            .collect();
        assert_eq!(with, ["b", "c", "d", "f"]);
    }

    #[test]
    fn hints_match_the_planners_phrases() {
        assert!(
            fix_hint("group \"SOC\" does not exist in this tenant")
                .is_some_and(|h| h.contains("group"))
        );
        assert!(
            fix_hint("role \"Reader\" does not exist in this tenant")
                .is_some_and(|h| h.contains("role"))
        );
        assert!(
            fix_hint("2 policies carry the marker x (ids a, b); remove the duplicates by hand")
                .is_some()
        );
        assert!(
            fix_hint("Graph answered 403 Forbidden").is_some_and(|h| h.contains("permissions"))
        );
        assert_eq!(fix_hint("something new"), None);
    }
}
