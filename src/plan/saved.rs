//! Saved plans: `plan --out FILE` writes the plan's JSON; `show` and `apply` load it.
//! The bytes are deterministic (fixed field order, sorted collections, no timestamps) and
//! hold no credentials: only what Graph returned and what the policies say.
//!
//! The JSON is compact (one line; `show --format json` pretty-prints for people). A file
//! named `*.gz` is written gzip-compressed ([`save_gzip`]; flate2, no name and no time in
//! the header, so the bytes stay deterministic); [`load`] recognises gzip by its magic bytes
//! whatever the name, and reads the older pretty-printed JSON as well.
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

/// The plan file's bytes (compact JSON, trailing newline), with any credential value in
/// use replaced by a placeholder ([`crate::redact`], defence in depth; apply then refuses
/// such a plan, since its requests no longer re-derive).
pub fn save(plan: &Plan) -> Vec<u8> {
    let mut out = serde_json::to_vec(plan).unwrap_or_default();
    out.push(b'\n');
    crate::redact::scrub_bytes(out)
}

/// The plan as pretty JSON (trailing newline, credentials scrubbed as in [`save`]): what
/// `--format json` prints for people and scripts; [`load`] reads it too.
pub fn save_pretty(plan: &Plan) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(plan).unwrap_or_default();
    out.push(b'\n');
    crate::redact::scrub_bytes(out)
}

/// [`save`]'s bytes, gzip-compressed (for `plan --out FILE.gz`).
pub fn save_gzip(plan: &Plan) -> Vec<u8> {
    gzip(&save(plan))
}

/// Gzip with a fixed header (no file name, modification time 0): same input, same bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// The largest plan [`load`] decompresses (a guard against a gzip bomb): 4 GiB.
const MAX_UNCOMPRESSED: u64 = 4 << 30;

/// Reads a plan file (compact or pretty JSON, or either gzip-compressed), checking format
/// and rampart versions before the body.
pub fn load(bytes: &[u8]) -> Result<Plan, SavedPlanError> {
    let inflated;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_UNCOMPRESSED)
            .read_to_end(&mut out)
            .map_err(|e| SavedPlanError::Parse(serde_json::Error::io(e)))?;
        inflated = out;
        &inflated[..]
    } else {
        bytes
    };
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

/// The endpoint a plan was made against (recorded in [`Plan::endpoint`]): a plan observed
/// one service and is only valid there, so `apply` compares it with the configured endpoint
/// before it asks for any token ([`Endpoint::check_same`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// `public`, `usgov`, `usgovdod` or `china` (see `crate::graph::cloud`).
    pub cloud: String,
    /// Graph base URL, without a trailing slash.
    pub graph_url: String,
    /// Login authority, without a trailing slash.
    pub authority: String,
    /// True for `plan --emulator`: an emulator inside that one process, gone when it ended.
    #[serde(default)]
    pub in_process_emulator: bool,
}

/// A saved plan that must not be applied to the configured endpoint.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointMismatch {
    /// Made with `plan --emulator`.
    #[error(
        "this plan was made with `plan --emulator` against an emulator that lived only in that run, so it cannot be applied anywhere; \
         to rehearse plan and apply, serve one with `rampart emulator`, set RAMPART_GRAPH_URL and AZURE_AUTHORITY_HOST to its address \
         (and AZURE_CLIENT_ID / AZURE_CLIENT_SECRET to the app it prints), then `rampart plan --out FILE` and `rampart apply FILE`"
    )]
    InProcessEmulator,
    /// The plan records no endpoint (made by `plan` before endpoints were recorded).
    #[error("this plan does not record the endpoint it was made against; plan again")]
    Unrecorded,
    /// Made against another endpoint.
    #[error(
        "this plan was made against {} and the configured endpoint is {}: a plan only applies where it was made; plan again against the endpoint you mean",
        .planned.describe(), .configured.describe()
    )]
    Different {
        /// Where the plan was made.
        planned: Box<Endpoint>,
        /// Where apply would send it.
        configured: Box<Endpoint>,
    },
}

impl Endpoint {
    /// The endpoint of `plan --emulator`.
    pub fn in_process_emulator() -> Self {
        Endpoint {
            cloud: "public".into(),
            graph_url: "in-process emulator".into(),
            authority: "in-process emulator".into(),
            in_process_emulator: true,
        }
    }

    /// One line for messages: `Graph <url>, authority <url> (cloud <c>)`.
    pub fn describe(&self) -> String {
        if self.in_process_emulator {
            return "the in-process emulator of `plan --emulator`".into();
        }
        format!(
            "Graph {}, authority {} (cloud {})",
            self.graph_url, self.authority, self.cloud
        )
    }

    /// Whether a plan recording `planned` may be applied with `configured` as the endpoint.
    pub fn check_same(
        planned: Option<&Endpoint>,
        configured: &Endpoint,
    ) -> Result<(), EndpointMismatch> {
        let Some(planned) = planned else {
            return Err(EndpointMismatch::Unrecorded);
        };
        if planned.in_process_emulator {
            return Err(EndpointMismatch::InProcessEmulator);
        }
        let norm = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
        if planned.cloud != configured.cloud
            || norm(&planned.graph_url) != norm(&configured.graph_url)
            || norm(&planned.authority) != norm(&configured.authority)
        {
            return Err(EndpointMismatch::Different {
                planned: Box::new(planned.clone()),
                configured: Box::new(configured.clone()),
            });
        }
        Ok(())
    }
}
