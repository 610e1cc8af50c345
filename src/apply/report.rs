//! The apply report: what happened to every object that the plan said to write, per tenant,
//! with counts. One structure feeds the human summary ([`ApplyReport::render_human`]) and
//! the JSON report for pipelines (its serde serialisation), so neither can say more than
//! the other. Deterministic: tenants sorted by name, objects in the order they were applied.

use serde::Serialize;

use super::graph::CallStats;
use crate::plan::Action;

/// The JSON report's format version.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// What became of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every request was carried out and the read-back matches the plan.
    Applied,
    /// The object moved since the plan (changed, vanished, or a create target appeared):
    /// nothing was written to it.
    Stale,
    /// A request failed; the object may be partly written (the message says how far it got).
    Failed,
    /// Not attempted: it depends on a stale object, or its tenant became unreachable.
    Skipped,
    /// Written, but the read-back differs from what the plan intended.
    Inconsistent,
}

/// One object's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    /// `tenant/kind/name`.
    pub address: String,
    pub action: Action,
    pub outcome: Outcome,
    /// Successful writes sent for this object.
    pub writes: u32,
    /// Ids of objects Graph created for it (policy, rule, role definition, assignment).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub created_ids: Vec<String>,
    /// Why it is stale, failed, skipped or inconsistent; remarks (e.g. a create recovered
    /// after an ambiguous failure).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub applied: usize,
    pub failed: usize,
    pub stale: usize,
    pub skipped: usize,
    pub inconsistent: usize,
    /// Objects the plan leaves alone (no-op, adoption candidates).
    pub unchanged: usize,
}

impl Counts {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Applied => self.applied += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Stale => self.stale += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Inconsistent => self.inconsistent += 1,
        }
    }
    fn merge(&mut self, o: &Counts) {
        self.applied += o.applied;
        self.failed += o.failed;
        self.stale += o.stale;
        self.skipped += o.skipped;
        self.inconsistent += o.inconsistent;
        self.unchanged += o.unchanged;
    }
    /// Whether anything did not go to plan.
    pub fn problems(&self) -> usize {
        self.failed + self.stale + self.skipped + self.inconsistent
    }
}

/// One tenant's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantReport {
    pub tenant: String,
    pub tenant_id: String,
    /// Set when the tenant became unreachable (token, permission, network): the rest of its
    /// objects were skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub counts: Counts,
    pub objects: Vec<ObjectResult>,
    pub requests: CallStats,
}

/// The whole apply.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    pub format_version: u32,
    pub rampart_version: String,
    /// True when every object went to plan; the CLI exits 0 exactly then.
    pub success: bool,
    pub summary: Counts,
    pub failed_tenants: usize,
    /// Which lock was held per tenant while writing ([`crate::lock::LockConfig::describe`]).
    pub lock: String,
    pub tenants: Vec<TenantReport>,
}

impl ApplyReport {
    /// Assembles the report: sorts tenants by name, sums counts, decides success.
    pub fn new(mut tenants: Vec<TenantReport>) -> Self {
        tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        let mut summary = Counts::default();
        let mut failed_tenants = 0;
        for t in &tenants {
            summary.merge(&t.counts);
            if t.error.is_some() {
                failed_tenants += 1;
            }
        }
        ApplyReport {
            format_version: REPORT_FORMAT_VERSION,
            rampart_version: env!("CARGO_PKG_VERSION").to_string(),
            success: summary.problems() == 0 && failed_tenants == 0,
            summary,
            failed_tenants,
            lock: crate::lock::LockConfig::None.describe(),
            tenants,
        }
    }

    /// Total request counters over all tenants.
    pub fn requests(&self) -> CallStats {
        let mut s = CallStats::default();
        for t in &self.tenants {
            s.requests += t.requests.requests;
            s.round_trips += t.requests.round_trips;
            s.writes += t.requests.writes;
            s.retries += t.requests.retries;
            s.throttled += t.requests.throttled;
        }
        s
    }

    /// The JSON report (pretty, trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Plain-text summary: one line per tenant, the objects that did not go to plan with
    /// their reasons, and one closing sentence.
    pub fn render_human(&self) -> String {
        let mut out = format!("Lock held: {}\n", self.lock);
        let width = self
            .tenants
            .iter()
            .map(|t| t.tenant.len())
            .max()
            .unwrap_or(0);
        for t in &self.tenants {
            let c = &t.counts;
            out.push_str(&format!(
                "{:width$}  {} applied, {} failed, {} stale, {} skipped, {} inconsistent\n",
                t.tenant, c.applied, c.failed, c.stale, c.skipped, c.inconsistent
            ));
            if let Some(e) = &t.error {
                out.push_str(&format!("  ! tenant: {e}\n"));
            }
            for o in &t.objects {
                if o.outcome != Outcome::Applied || !o.messages.is_empty() {
                    let word = match o.outcome {
                        Outcome::Applied => "applied",
                        Outcome::Stale => "STALE",
                        Outcome::Failed => "FAILED",
                        Outcome::Skipped => "skipped",
                        Outcome::Inconsistent => "INCONSISTENT",
                    };
                    out.push_str(&format!(
                        "  {} {}: {}\n",
                        o.address,
                        word,
                        o.messages.join("; ")
                    ));
                }
            }
        }
        let s = &self.summary;
        out.push_str(&format!(
            "Apply {}: {} applied, {} failed, {} stale, {} skipped, {} inconsistent across {} tenants{}.\n",
            if self.success { "complete" } else { "incomplete" },
            s.applied,
            s.failed,
            s.stale,
            s.skipped,
            s.inconsistent,
            self.tenants.len(),
            if self.failed_tenants > 0 {
                format!(" ({} unreachable)", self.failed_tenants)
            } else {
                String::new()
            }
        ));
        out
    }
}
