//! Saved plans: `plan --out FILE` writes the plan's JSON; `show` and `apply` load it.
//! The bytes are deterministic (fixed field order, sorted collections, no timestamps) and
//! hold no credentials: only what Graph returned and what the policies say.
//!
//! Loading refuses another format version or another rampart version rather than guess
//! (a plan is only valid for the code that made it). Whether the plan is errored is for the
//! caller to decide (`show` renders it; `apply` refuses it).

use super::model::{FORMAT_VERSION, Plan};
use super::normalise;
use crate::desired::TenantDesired;

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("not a rampart plan file")]
    Parse(#[source] serde_json::Error),
    #[error("plan format version {found} is not supported (this rampart reads version {expected})")]
    FormatVersion { found: u64, expected: u32 },
    #[error("plan was made by rampart {found}; this is rampart {expected}: plan again")]
    RampartVersion { found: String, expected: String },
}

/// The plan file's bytes (pretty JSON, trailing newline), with any credential value in
/// use replaced by a placeholder ([`crate::redact`], defence in depth; apply then refuses
/// such a plan, since its requests no longer re-derive).
pub fn save(plan: &Plan) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(plan).unwrap_or_default();
    out.push(b'\n');
    crate::redact::scrub_bytes(out)
}

/// Reads a plan file, checking format and rampart versions before the body.
pub fn load(bytes: &[u8]) -> Result<Plan, SavedPlanError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(SavedPlanError::Parse)?;
    let found = v.get("formatVersion").and_then(|x| x.as_u64()).unwrap_or(0);
    if found != u64::from(FORMAT_VERSION) {
        return Err(SavedPlanError::FormatVersion {
            found,
            expected: FORMAT_VERSION,
        });
    }
    let version = v
        .get("rampartVersion")
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string();
    if version != env!("CARGO_PKG_VERSION") {
        return Err(SavedPlanError::RampartVersion {
            found: version,
            expected: env!("CARGO_PKG_VERSION").to_string(),
        });
    }
    serde_json::from_value(v).map_err(SavedPlanError::Parse)
}

/// Digest of the desired states the plan was made from (order-independent).
pub fn inputs_digest(desired: &[TenantDesired]) -> String {
    let mut all: Vec<&TenantDesired> = desired.iter().collect();
    all.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    // BTreeMap keys that are tuples are not JSON keys: serialise objects as a list.
    let v: Vec<serde_json::Value> = all
        .iter()
        .map(|t| {
            serde_json::json!({
                "tenant": t.tenant,
                "profiles": t.profiles,
                "ring": t.ring,
                "allowRemoval": t.allow_removal,
                "objects": t.objects.iter().map(|((k, n), o)| serde_json::json!([k, n, o])).collect::<Vec<_>>(),
            })
        })
        .collect();
    normalise::digest(&serde_json::Value::Array(v))
}
