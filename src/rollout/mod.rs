//! Progressive rollout: rings, the promotion record, pending versus drift, promotion gates
//! and soak time (issue 15; the design is in `docs/rollout.md`).
//!
//! A tenant's ring is the lowest `ring:` among its profiles. What each ring was last
//! promoted to is recorded by the pipeline in a committed file, `rollout/promotions.yaml`
//! ([`Promotions`]): per ring the commit, the ring's inputs digest, when the promotion
//! started and when the ring was verified in step, and the digest of every desired object
//! of every tenant of the ring at that promotion. From it, a change in a plan is *pending*
//! (the desired object differs from the one promoted to the ring: merged, not yet
//! promoted) or *drift* (the desired object is the promoted one, so Graph differs from what
//! rampart wrote: changed outside rampart) — [`classify`].
//!
//! Everything here is pure except [`Promotions::read`] / [`Promotions::write`] (the one
//! file) and the caller's clock: times come in as arguments ([`Clock`] is built at the CLI
//! edge from `RAMPART_NOW` or the system clock), so soak gates are tested without sleeping.
//!
//! Limits: an object whose desired state changed since the promotion *and* that was also
//! edited in the portal counts as pending (the next promotion overwrites the edit; the
//! plan shows both values). Tenants without a ring are outside the rollout: never gated,
//! never promoted by `rampart rollout`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::DocumentFile;
use crate::desired::{Address, DesiredObject, TenantDesired};
use crate::diag::{Diagnostic, Span};
use crate::load::Loaded;
use crate::plan::normalise;
use crate::plan::{Action, Plan, RingPlan, RingState, RingTenant, Rollout, TenantStatus};

/// The promotion record, relative to the repository root.
pub const PROMOTIONS_FILE: &str = "rollout/promotions.yaml";

/// The environment variable that fixes rampart's clock (RFC 3339, e.g.
/// `2026-11-30T09:00:00Z`): for tests and for replaying a gate decision.
pub const ENV_NOW: &str = "RAMPART_NOW";

/// The clock soak gates read: a fixed instant or the system clock.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    Fixed(OffsetDateTime),
}

impl Clock {
    /// `RAMPART_NOW` when set (an error when it is not RFC 3339), else the system clock.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Clock, String> {
        match get(ENV_NOW) {
            None => Ok(Clock::System),
            Some(v) => OffsetDateTime::parse(v.trim(), &Rfc3339)
                .map(Clock::Fixed)
                .map_err(|e| format!("{ENV_NOW}=`{v}` is not an RFC 3339 time: {e}")),
        }
    }
    /// The current instant (UTC).
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// RFC 3339 text of an instant, seconds precision, UTC (`2026-11-30T09:00:00Z`).
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses a soak duration: one or more `<integer><unit>` with units `d`, `h`, `m`, `s`
/// (`24h`, `1d12h`, `90m`). Returns seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty duration".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("`{c}` is not a unit (use d, h, m, s)")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("a number must come before `{c}`"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or("the duration is too long")?;
    }
    if !digits.is_empty() {
        return Err(format!("`{digits}` has no unit (e.g. `{digits}h`)"));
    }
    Ok(total)
}

/// `1d 2h 3m` (seconds dropped past a minute): remaining soak in refusals.
pub fn format_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// What one ring was last promoted to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Promotion {
    pub ring: u32,
    /// The repository commit the ring was promoted from (`GITHUB_SHA`, else `git rev-parse
    /// HEAD`, else `unknown`).
    pub commit: String,
    /// [`ring_digest`] of the ring's desired state at that promotion.
    pub inputs_digest: String,
    /// When the promotion started (RFC 3339).
    pub promoted_at: String,
    /// When a re-plan showed the ring in step (RFC 3339); soak counts from here.
    pub converged_at: String,
    /// Tenant name -> `Kind/name` -> [`object_digest`] of the desired object promoted.
    pub tenants: BTreeMap<String, BTreeMap<String, String>>,
}

/// The whole promotion record, by ring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Promotions {
    pub rings: BTreeMap<u32, Promotion>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromotionsFile {
    rings: Vec<Promotion>,
}

const HEADER: &str = "# Written by `rampart apply --ring N` and `rampart rollout` after a ring converges.\n# Commit it: it is what each ring was last promoted to (see docs/rollout.md).\n";

impl Promotions {
    /// Reads `root/rollout/promotions.yaml`. `Ok(None)` when the file does not exist (the
    /// repository does not track a rollout yet); an error names the file and line.
    pub fn read(root: &Path) -> Result<Option<Promotions>, String> {
        let path = root.join(PROMOTIONS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let repo = crate::repo_files::Repo::open(root).map_err(|e| e.message())?;
        let text = repo.read(&path).map_err(|e| e.message())?.text;
        Promotions::parse(&text).map(Some)
    }

    /// Parses the file's text (span-aware: errors say `rollout/promotions.yaml:LINE:COL`).
    pub fn parse(text: &str) -> Result<Promotions, String> {
        let at = |range: std::ops::Range<usize>, msg: String| {
            let line = text[..range.start.min(text.len())].matches('\n').count() + 1;
            let col = range.start
                - text[..range.start.min(text.len())]
                    .rfind('\n')
                    .map_or(0, |p| p + 1)
                + 1;
            format!("{PROMOTIONS_FILE}:{line}:{col}: {msg}")
        };
        let parsed = crate::yaml::parse(text, &crate::yaml::Limits::default());
        if let Some(e) = parsed.errors.first() {
            return Err(at(e.span.clone(), e.message.clone()));
        }
        let Some(doc) = parsed.documents.first() else {
            return Ok(Promotions::default());
        };
        let (json, spans) = crate::yaml::to_json(&doc.root);
        let file: PromotionsFile = serde_json::from_value(json.clone())
            .map_err(|e| at(0..0, format!("not a promotion record: {e}")))?;
        let mut out = Promotions::default();
        for (i, p) in file.rings.into_iter().enumerate() {
            for (field, value) in [
                ("promotedAt", &p.promoted_at),
                ("convergedAt", &p.converged_at),
            ] {
                if OffsetDateTime::parse(value, &Rfc3339).is_err() {
                    return Err(at(
                        spans.lookup(&format!("/rings/{i}/{field}"), false),
                        format!("`{value}` is not an RFC 3339 time"),
                    ));
                }
            }
            let ring = p.ring;
            if out.rings.insert(ring, p).is_some() {
                return Err(at(
                    spans.lookup(&format!("/rings/{i}/ring"), false),
                    format!("ring {ring} is recorded twice"),
                ));
            }
        }
        Ok(out)
    }

    /// The file's text: rings ascending, maps sorted (byte-identical for the same record).
    pub fn to_yaml(&self) -> String {
        let file = PromotionsFile {
            rings: self.rings.values().cloned().collect(),
        };
        let body = serde_saphyr::to_string(&file).unwrap_or_default();
        format!("{HEADER}{body}")
    }

    /// Writes `root/rollout/promotions.yaml` atomically (inside the repository).
    pub fn write(&self, root: &Path) -> Result<(), String> {
        let repo = crate::repo_files::Repo::open(root).map_err(|e| e.message())?;
        let path = root.join(PROMOTIONS_FILE);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        repo.write(&path, &self.to_yaml(), false)
            .map_err(|e| e.message())
    }

    /// The record of `ring`, if any.
    pub fn get(&self, ring: u32) -> Option<&Promotion> {
        self.rings.get(&ring)
    }
}

/// `sha256:<hex>` of a desired object without its origin (file and line move when
/// unrelated lines are edited; the object does not).
pub fn object_digest(o: &DesiredObject) -> String {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.remove("origin");
    }
    normalise::digest(&v)
}

/// `Kind/name` -> object digest for one tenant.
pub fn tenant_digests(t: &TenantDesired) -> BTreeMap<String, String> {
    t.objects
        .iter()
        .map(|((k, n), o)| (format!("{k}/{n}"), object_digest(o)))
        .collect()
}

/// The digest of a ring's desired state: every tenant of the ring with its object
/// digests and removal rule, by tenant name. Two promotions with the same digest promoted
/// the same thing.
pub fn ring_digest<'a>(tenants: impl IntoIterator<Item = &'a TenantDesired>) -> String {
    let mut all: BTreeMap<&str, Value> = BTreeMap::new();
    for t in tenants {
        all.insert(
            &t.tenant.name,
            serde_json::json!({"id": t.tenant.id, "allowRemoval": t.allow_removal, "objects": tenant_digests(t)}),
        );
    }
    normalise::digest(&serde_json::to_value(all).unwrap_or(Value::Null))
}

/// The rings the tenants are in, ascending (tenants without a ring left out).
pub fn rings_of(tenants: &[TenantDesired]) -> Vec<u32> {
    tenants
        .iter()
        .filter_map(|t| t.ring)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A `--ring` value: one ring (`N`) or every ring up to and including one (`..N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingSelection {
    Exactly(u32),
    UpTo(u32),
}

impl RingSelection {
    /// Parses `N` or `..N`.
    pub fn parse(s: &str) -> Result<RingSelection, String> {
        let (upto, n) = match s.strip_prefix("..") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let ring: u32 = n.trim().parse().map_err(|_| {
            format!(
                "--ring `{s}`: not a ring (a non-negative integer `N`, or `..N` for rings 0 to N)"
            )
        })?;
        Ok(if upto {
            RingSelection::UpTo(ring)
        } else {
            RingSelection::Exactly(ring)
        })
    }
    /// The ring the value names (`N` of `N` and `..N`).
    pub fn named(self) -> u32 {
        match self {
            RingSelection::Exactly(n) | RingSelection::UpTo(n) => n,
        }
    }
    /// Whether a tenant in `ring` is selected (a tenant without a ring never is).
    pub fn selects(self, ring: Option<u32>) -> bool {
        match (self, ring) {
            (_, None) => false,
            (RingSelection::Exactly(n), Some(r)) => r == n,
            (RingSelection::UpTo(n), Some(r)) => r <= n,
        }
    }
    /// The highest ring selected.
    pub fn highest(self) -> u32 {
        self.named()
    }
}

/// Marks each change of `plan` pending or drift and groups its tenants by ring (see the
/// module doc). `promotions: None`: no record, every change is drift (`tracked: false`).
/// A ring with no record yet has every change pending (nothing was promoted to it).
pub fn classify(plan: &mut Plan, desired: &[TenantDesired], promotions: Option<&Promotions>) {
    let by_name: BTreeMap<&str, &TenantDesired> = desired
        .iter()
        .map(|t| (t.tenant.name.as_str(), t))
        .collect();
    let mut rings: BTreeMap<(u8, u32), RingPlan> = BTreeMap::new();
    let mut pending: Vec<Address> = Vec::new();
    for t in &plan.tenants {
        let d = by_name.get(t.tenant.as_str()).copied();
        let ring = d.and_then(|d| d.ring);
        let record = match (promotions, ring) {
            (Some(p), Some(r)) => p.get(r),
            _ => None,
        };
        let (mut n_pending, mut n_drift, mut errors) = (0usize, 0usize, false);
        if let TenantStatus::Failed { .. } = t.status {
            errors = true;
        }
        for o in &t.objects {
            if o.action == Action::Error {
                errors = true;
            }
            if !o.action.writes() {
                continue;
            }
            let key = format!("{}/{}", o.address.kind, o.address.name);
            let now = d
                .and_then(|d| d.objects.get(&(o.address.kind, o.address.name.clone())))
                .map(object_digest);
            let is_pending = match (promotions, ring, record) {
                // No record at all, or a tenant outside the rollout: every change is drift.
                (None, _, _) | (_, None, _) => false,
                // A ring never promoted: all of it is pending.
                (Some(_), Some(_), None) => true,
                (Some(_), Some(_), Some(rec)) => {
                    let promoted = rec.tenants.get(&t.tenant).and_then(|m| m.get(&key));
                    promoted != now.as_ref()
                }
            };
            if is_pending {
                n_pending += 1;
                pending.push(o.address.clone());
            } else {
                n_drift += 1;
            }
        }
        let state = if errors {
            RingState::Failed
        } else if n_drift > 0 {
            RingState::Drifted
        } else if n_pending > 0 {
            RingState::Pending
        } else {
            RingState::InStep
        };
        let key = ring.map_or((1, 0), |r| (0, r));
        let rp = rings.entry(key).or_insert_with(|| RingPlan {
            ring,
            promoted_commit: record.map(|r| r.commit.clone()),
            tenants: Vec::new(),
            counts: [0; 4],
        });
        rp.counts[state as usize] += 1;
        rp.tenants.push(RingTenant {
            tenant: t.tenant.clone(),
            state,
            pending: n_pending,
            drifted: n_drift,
        });
    }
    pending.sort();
    let mut rings: Vec<RingPlan> = rings.into_values().collect();
    for r in &mut rings {
        r.tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    }
    plan.rollout = Some(Rollout {
        tracked: promotions.is_some(),
        selection: None,
        rings,
        pending,
    });
}

/// Whether every change of a classified plan is pending promotion (and there is one).
pub fn only_pending(plan: &Plan) -> bool {
    let Some(r) = &plan.rollout else {
        return false;
    };
    let mut any = false;
    for (_, o) in plan.objects() {
        if o.action.writes() {
            if !r.is_pending(&o.address) {
                return false;
            }
            any = true;
        }
    }
    any
}

/// Checks the rollout fields of every profile, before any request: `soak` a duration,
/// one soak per ring, and no tenant both in a ring and outside the rollout (a profile with
/// a ring and one without would both promote and not promote it).
pub fn check_profiles(loaded: &Loaded, out: &mut Vec<Diagnostic>) {
    // ring -> (soak seconds, text, span) of the first profile that declares one.
    let mut soaks: BTreeMap<u32, (u64, String, Span)> = BTreeMap::new();
    // tenant id -> (ring or none, span of the tenant entry, profile name).
    let mut placed: BTreeMap<String, Vec<(Option<u32>, Span, String)>> = BTreeMap::new();
    for prof in loaded.profiles() {
        let Some(DocumentFile::DistributionProfile(p)) = &prof.file else {
            continue;
        };
        if let Some(soak) = &p.soak {
            let span = prof.span("/soak", false);
            match (parse_duration(soak), p.ring) {
                (Err(e), _) => out.push(
                    Diagnostic::error("invalid-soak", format!("`{soak}` is not a duration: {e}"))
                        .at(span)
                        .with_help("a duration such as `24h`, `90m`, `2d` or `1d12h`"),
                ),
                (Ok(_), None) => out.push(
                    Diagnostic::error("soak-without-ring", "`soak` needs a `ring`")
                        .at(span)
                        .with_help(
                            "soak is how long this ring runs before the next ring may be promoted",
                        ),
                ),
                (Ok(secs), Some(ring)) => match soaks.get(&ring) {
                    Some((other, text, first)) if *other != secs => out.push(
                        Diagnostic::error(
                            "conflicting-soak",
                            format!(
                                "ring {ring} has soak `{soak}` here and `{text}` in another profile"
                            ),
                        )
                        .at(span)
                        .with_label(first.clone(), "first declared here")
                        .with_help(
                            "give every profile of a ring the same soak, or declare it in one",
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        soaks.insert(ring, (secs, soak.clone(), span));
                    }
                },
            }
        }
        for (i, t) in p.tenants.iter().enumerate() {
            placed.entry(t.id.to_ascii_lowercase()).or_default().push((
                p.ring,
                prof.span(&format!("/tenants/{i}"), false),
                p.name.clone(),
            ));
        }
    }
    for (id, places) in placed {
        let ringed = places.iter().find(|(r, _, _)| r.is_some());
        let ringless = places.iter().find(|(r, _, _)| r.is_none());
        if let (Some((ring, first, pa)), Some((_, span, pb))) = (ringed, ringless) {
            out.push(
                Diagnostic::error(
                    "conflicting-promotion",
                    format!(
                        "tenant `{id}` is in ring {} through profile `{pa}` but outside the rollout through profile `{pb}` (no `ring`)",
                        ring.unwrap_or_default()
                    ),
                )
                .at(span.clone())
                .with_label(first.clone(), "in a ring here")
                .with_help("give profile `{pb}` a ring, or take the tenant out of one of them".replace("{pb}", pb)),
            );
        }
    }
}

/// The soak of each ring, in seconds (rings without `soak` absent: no wait).
pub fn soaks(loaded: &Loaded) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for prof in loaded.profiles() {
        if let Some(DocumentFile::DistributionProfile(p)) = &prof.file
            && let (Some(ring), Some(Ok(secs))) = (p.ring, p.soak.as_deref().map(parse_duration))
        {
            out.entry(ring).or_insert(secs);
        }
    }
    out
}

/// Why a ring may not be promoted yet. Each names what to wait for or fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "gate")]
pub enum GateRefusal {
    /// A lower ring was never promoted.
    NotPromoted { ring: u32 },
    /// A lower ring was promoted from another desired state than the current one.
    OtherState { ring: u32, commit: String },
    /// Tenants of a lower ring are not in step (live re-plan): changes or failures.
    NotInStep { ring: u32, tenants: Vec<String> },
    /// A lower ring converged less than its soak ago.
    Soaking {
        ring: u32,
        remaining_secs: u64,
        soak_secs: u64,
    },
}

impl std::fmt::Display for GateRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateRefusal::NotPromoted { ring } => {
                write!(
                    f,
                    "ring {ring} has not been promoted to the current desired state"
                )
            }
            GateRefusal::OtherState { ring, commit } => write!(
                f,
                "ring {ring} was last promoted from {commit}, not from the current desired state: promote ring {ring} first"
            ),
            GateRefusal::NotInStep { ring, tenants } => {
                write!(f, "ring {ring} is not in step: {}", tenants.join(", "))
            }
            GateRefusal::Soaking {
                ring,
                remaining_secs,
                soak_secs,
            } => write!(
                f,
                "ring {ring} is soaking: {} of its {} soak remain",
                format_duration(*remaining_secs),
                format_duration(*soak_secs)
            ),
        }
    }
}

/// One lower ring as the gate sees it: its tenants' current desired state and which of
/// them a live re-plan found out of step (changes, failed tenant, object in error).
pub struct LowerRing<'a> {
    pub ring: u32,
    pub desired: Vec<&'a TenantDesired>,
    pub not_in_step: Vec<String>,
}

/// The promotion gate of a ring: every lower ring in step (checked live by the caller),
/// promoted from the current desired state, and soaked. Returns every refusal (empty:
/// the gate is open).
pub fn gate(
    lower: &[LowerRing<'_>],
    promotions: &Promotions,
    soaks: &BTreeMap<u32, u64>,
    now: OffsetDateTime,
) -> Vec<GateRefusal> {
    let mut out = Vec::new();
    for l in lower {
        if !l.not_in_step.is_empty() {
            out.push(GateRefusal::NotInStep {
                ring: l.ring,
                tenants: l.not_in_step.clone(),
            });
            continue;
        }
        let Some(rec) = promotions.get(l.ring) else {
            out.push(GateRefusal::NotPromoted { ring: l.ring });
            continue;
        };
        if rec.inputs_digest != ring_digest(l.desired.iter().copied()) {
            out.push(GateRefusal::OtherState {
                ring: l.ring,
                commit: rec.commit.clone(),
            });
            continue;
        }
        let soak = soaks.get(&l.ring).copied().unwrap_or(0);
        let converged = OffsetDateTime::parse(&rec.converged_at, &Rfc3339).unwrap_or(now);
        let elapsed = (now - converged).whole_seconds().max(0) as u64;
        if elapsed < soak {
            out.push(GateRefusal::Soaking {
                ring: l.ring,
                remaining_secs: soak - elapsed,
                soak_secs: soak,
            });
        }
    }
    out
}

/// The record of a ring promoted now: its tenants' object digests and the ring digest.
pub fn promotion(
    ring: u32,
    tenants: &[&TenantDesired],
    commit: &str,
    promoted_at: OffsetDateTime,
    converged_at: OffsetDateTime,
) -> Promotion {
    Promotion {
        ring,
        commit: commit.to_string(),
        inputs_digest: ring_digest(tenants.iter().copied()),
        promoted_at: format_time(promoted_at),
        converged_at: format_time(converged_at),
        tenants: tenants
            .iter()
            .map(|t| (t.tenant.name.clone(), tenant_digests(t)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_refuse() {
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in ["", "24", "h", "1.5h", "24 hours", "-1h", "1w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(129_600), "1d 12h");
        assert_eq!(format_duration(59), "59s");
    }

    #[test]
    fn ring_selections_parse() {
        assert_eq!(RingSelection::parse("2"), Ok(RingSelection::Exactly(2)));
        assert_eq!(RingSelection::parse("..1"), Ok(RingSelection::UpTo(1)));
        for bad in ["-1", "one", "..", "1..", "1.5"] {
            assert!(RingSelection::parse(bad).is_err(), "{bad}");
        }
        assert!(RingSelection::UpTo(1).selects(Some(0)));
        assert!(!RingSelection::UpTo(1).selects(Some(2)));
        assert!(!RingSelection::Exactly(1).selects(None));
    }

    #[test]
    fn promotions_round_trip_and_errors_have_lines() {
        let mut p = Promotions::default();
        p.rings.insert(
            0,
            Promotion {
                ring: 0,
                commit: "abc".into(),
                inputs_digest: "sha256:00".into(),
                promoted_at: "2026-11-29T10:00:00Z".into(),
                converged_at: "2026-11-29T10:05:00Z".into(),
                tenants: BTreeMap::from([(
                    "contoso".to_string(),
                    BTreeMap::from([("AntivirusPolicy/av".to_string(), "sha256:01".to_string())]),
                )]),
            },
        );
        let text = p.to_yaml();
        assert_eq!(Promotions::parse(&text), Ok(p));
        let bad = text.replace("2026-11-29T10:05:00Z", "yesterday");
        let e = Promotions::parse(&bad).unwrap_err();
        assert!(e.starts_with("rollout/promotions.yaml:"), "{e}");
        assert!(e.contains("yesterday"), "{e}");
        let line = bad.lines().position(|l| l.contains("yesterday")).unwrap() + 1;
        assert!(e.contains(&format!(":{line}:")), "{e}");
    }

    /// One tenant `t` in ring 1 with one antivirus policy whose CPU load factor is `cpu`.
    fn tenant(cpu: u32) -> TenantDesired {
        let mut loaded = Loaded::default();
        let limits = crate::yaml::Limits::default();
        let policy = format!(
            "kind: AntivirusPolicy\nname: av\nsettings:\n  avgCpuLoadFactor: {cpu}\nassignments:\n  - allDevices: true\n"
        );
        let profile = "kind: DistributionProfile\nname: p\nring: 1\ntenants:\n  - id: 00000000-0000-4000-8000-000000000001\n    name: t\npolicies:\n  - av\n";
        let dir = Path::new(".");
        crate::load::load_text("policies/av.yaml", &policy, dir, &limits, &mut loaded);
        crate::load::load_text("profiles/p.yaml", profile, dir, &limits, &mut loaded);
        let r = crate::resolve::resolve(&loaded);
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        r.tenants.into_values().next().expect("one tenant")
    }

    fn plan_with(actions: &[(Action, &str)]) -> Plan {
        use crate::plan::{ObjectPlan, TenantPlan};
        let objects = actions
            .iter()
            .map(|(a, name)| {
                ObjectPlan::new(
                    Address {
                        tenant: "t".into(),
                        kind: crate::desired::Kind::AntivirusPolicy,
                        name: name.to_string(),
                    },
                    *a,
                    *name,
                )
            })
            .collect();
        let t = TenantPlan {
            tenant: "t".into(),
            tenant_id: "00000000-0000-4000-8000-000000000001".into(),
            status: TenantStatus::Ok,
            objects,
            observation: None,
        };
        Plan::new(vec![t], "sha256:00".into(), Default::default())
    }

    #[test]
    fn changes_are_pending_until_promoted_and_drift_after() {
        let t = OffsetDateTime::parse("2026-11-29T10:00:00Z", &Rfc3339).unwrap();
        let promoted = tenant(50);
        let mut record = Promotions::default();
        record
            .rings
            .insert(1, promotion(1, &[&promoted], "c0", t, t));
        // The promoted object itself differs in Graph: drift.
        let mut p = plan_with(&[(Action::Update, "av")]);
        classify(&mut p, std::slice::from_ref(&promoted), Some(&record));
        let r = p.rollout.as_ref().unwrap();
        assert!(r.pending.is_empty());
        assert_eq!(r.rings[0].count(RingState::Drifted), 1);
        assert!(!only_pending(&p));
        // A new desired value, not yet promoted: pending.
        let merged = tenant(40);
        let mut p = plan_with(&[(Action::Update, "av")]);
        classify(&mut p, std::slice::from_ref(&merged), Some(&record));
        assert_eq!(
            p.rollout.as_ref().unwrap().rings[0].count(RingState::Pending),
            1
        );
        assert!(only_pending(&p));
        // A managed object deleted from the repository since the promotion: pending; one
        // that was not promoted either: drift (a leftover). Mixed: drifted, not pending-only.
        let mut p = plan_with(&[(Action::Update, "av"), (Action::Delete, "gone")]);
        let mut with_gone = record.clone();
        with_gone
            .rings
            .get_mut(&1)
            .unwrap()
            .tenants
            .get_mut("t")
            .unwrap()
            .insert("AntivirusPolicy/gone".into(), "sha256:01".into());
        classify(&mut p, std::slice::from_ref(&merged), Some(&with_gone));
        assert_eq!(p.rollout.as_ref().unwrap().pending.len(), 2);
        classify(&mut p, std::slice::from_ref(&merged), Some(&record));
        assert_eq!(p.rollout.as_ref().unwrap().pending.len(), 1);
        assert_eq!(
            p.rollout.as_ref().unwrap().rings[0].count(RingState::Drifted),
            1
        );
        // A ring never promoted: everything pending. No record at all: everything drift.
        let mut p = plan_with(&[(Action::Create, "av")]);
        classify(
            &mut p,
            std::slice::from_ref(&merged),
            Some(&Promotions::default()),
        );
        assert!(only_pending(&p));
        classify(&mut p, std::slice::from_ref(&merged), None);
        assert!(!only_pending(&p));
        assert!(!p.rollout.as_ref().unwrap().tracked);
        // An object in error makes the tenant failed, whatever else it has.
        let mut p = plan_with(&[(Action::Update, "av"), (Action::Error, "bad")]);
        classify(&mut p, std::slice::from_ref(&merged), Some(&record));
        assert_eq!(
            p.rollout.as_ref().unwrap().rings[0].count(RingState::Failed),
            1
        );
    }

    #[test]
    fn the_fleet_report_shows_pending_and_drift_cells() {
        use crate::report::model::CellState;
        let t = OffsetDateTime::parse("2026-11-29T10:00:00Z", &Rfc3339).unwrap();
        let promoted = tenant(50);
        let mut record = Promotions::default();
        record
            .rings
            .insert(1, promotion(1, &[&promoted], "c0", t, t));
        let mut p = plan_with(&[(Action::Update, "av"), (Action::Delete, "gone")]);
        classify(&mut p, &[tenant(40)], Some(&record));
        let cell = |i: usize| CellState::from_object(&p.tenants[0].objects[i], p.rollout.as_ref());
        // Plan order: deletions first.
        assert_eq!(cell(0), CellState::Drift);
        assert_eq!(cell(1), CellState::Pending);
        // Without a record, the action decides, as before.
        assert_eq!(
            CellState::from_object(&p.tenants[0].objects[1], None),
            CellState::Update
        );
    }

    #[test]
    fn object_digests_ignore_where_the_document_sits() {
        let a = tenant(50);
        let mut b = a.clone();
        for o in b.objects.values_mut() {
            if let DesiredObject::ConfigurationPolicy(p) = o {
                p.origin.line += 7;
            }
        }
        assert_eq!(tenant_digests(&a), tenant_digests(&b));
        assert_ne!(tenant_digests(&a), tenant_digests(&tenant(40)));
        assert_eq!(ring_digest([&a]), ring_digest([&b]));
    }

    #[test]
    fn soak_gate_says_how_long_remains() {
        let mut p = Promotions::default();
        let t = OffsetDateTime::parse("2026-11-29T10:00:00Z", &Rfc3339).unwrap();
        p.rings.insert(0, promotion(0, &[], "c0", t, t));
        let lower = [LowerRing {
            ring: 0,
            desired: vec![],
            not_in_step: vec![],
        }];
        let soaks = BTreeMap::from([(0, 86_400)]);
        let r = gate(&lower, &p, &soaks, t + time::Duration::hours(20));
        assert_eq!(r.len(), 1);
        assert!(
            r[0].to_string().contains("4h of its 1d soak remain"),
            "{}",
            r[0]
        );
        assert!(gate(&lower, &p, &soaks, t + time::Duration::hours(24)).is_empty());
        let lower = [LowerRing {
            ring: 0,
            desired: vec![],
            not_in_step: vec!["contoso".into()],
        }];
        let r = gate(&lower, &p, &soaks, t + time::Duration::hours(30));
        assert!(r[0].to_string().contains("contoso"));
    }
}
