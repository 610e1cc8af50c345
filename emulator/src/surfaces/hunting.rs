//! `POST /{v1.0|beta}/security/runHuntingQuery` (Defender advanced hunting through Graph),
//! over small synthetic per-tenant tables seeded deterministically from the tenant id.
//!
//! Follows `graph-api-2.md` §1 (`[GD] v1.0/api/security-security-runhuntingquery.md`):
//! body `{"Query": "...", "Timespan": "P7D"}` (key names matched case-insensitively, as
//! public clients send `query`), answer `{"@odata.context", "schema": [{"name","type"}],
//! "results": [...]}` with `Int64` counts as JSON numbers (UNVERIFIED encoding). Tables:
//! `DeviceInfo` (one row per device), `DeviceTvmSoftwareVulnerabilities` and `AlertInfo`
//! (from the tenant's seeded alerts, [`super::security`]), with the columns of §1.8.
//!
//! Limits: the KQL subset of [`super::kql`] (anything else: 400 `BadRequest` with a Kusto
//! style message); an empty query is 400; more than 100,000 result rows is 400 (the
//! service's cap). `Timespan` is checked for an ISO-8601 form but does not filter: the
//! seeded data sits at fixed times so answers stay reproducible. Per-tenant call quotas
//! and the CPU window are modelled by the shared operation faults (429), not here.

use super::kql::{ColType, Query, Table};
use super::security::{Rng, at_minutes, store};
use crate::state::Tenant;
use crate::wire::{Ctx, GraphRequest, Reply, object_body};
use serde_json::{Map, Value, json};

/// The service's row cap per query (`security-api-overview.md`, "Quotas").
pub const MAX_ROWS: usize = 100_000;

/// CVEs the synthetic vulnerability table draws from: id, severity, vendor, software, KB.
const CVES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "CVE-2024-21412",
        "High",
        "microsoft",
        "windows_11",
        "KB5034765",
    ),
    (
        "CVE-2024-38063",
        "Critical",
        "microsoft",
        "windows_11",
        "KB5041585",
    ),
    ("CVE-2023-4863", "High", "google", "chrome", ""),
    ("CVE-2024-3094", "Critical", "tukaani", "xz", ""),
    ("CVE-2023-36884", "High", "microsoft", "office", "KB5028407"),
    (
        "CVE-2024-21413",
        "Critical",
        "microsoft",
        "outlook",
        "KB5002537",
    ),
    (
        "CVE-2023-44487",
        "High",
        "microsoft",
        "windows_server_2022",
        "KB5031364",
    ),
    ("CVE-2024-6387", "High", "openbsd", "openssh", ""),
    (
        "CVE-2023-24932",
        "Medium",
        "microsoft",
        "windows_10",
        "KB5025885",
    ),
    ("CVE-2024-4577", "Critical", "php", "php", ""),
    (
        "CVE-2022-30190",
        "High",
        "microsoft",
        "windows_10",
        "KB5014699",
    ),
    ("CVE-2023-21716", "Medium", "microsoft", "word", "KB5002341"),
    ("CVE-2021-44228", "Critical", "apache", "log4j", ""),
    (
        "CVE-2024-30078",
        "Low",
        "microsoft",
        "windows_11",
        "KB5039212",
    ),
];

struct Device {
    id: String,
    name: String,
    os: &'static str,
    onboarding: &'static str,
    sensor: &'static str,
    exposure: &'static str,
    group: &'static str,
    internet: bool,
}

fn devices(tenant_id: &str) -> Vec<Device> {
    let mut r = Rng::new(&format!("devices:{tenant_id}"));
    let n = 8 + r.below(17);
    (0..n)
        .map(|i| {
            let os = r.pick(&[
                "Windows11",
                "Windows11",
                "Windows10",
                "WindowsServer2022",
                "Linux",
                "macOS",
            ]);
            let onboarding = r.pick(&[
                "Onboarded",
                "Onboarded",
                "Onboarded",
                "Onboarded",
                "Can be onboarded",
                "Insufficient info",
                "Unsupported",
            ]);
            let sensor = if onboarding == "Onboarded" {
                r.pick(&[
                    "Active",
                    "Active",
                    "Active",
                    "Active",
                    "Inactive",
                    "ImpairedCommunication",
                    "NoSensorData",
                ])
            } else {
                ""
            };
            let prefix = match os {
                "WindowsServer2022" => "srv",
                "Linux" => "lnx",
                "macOS" => "mac",
                _ => "ws",
            };
            Device {
                id: format!("{:016x}{:016x}{:08x}", r.next(), r.next(), r.next() as u32),
                name: format!("{prefix}-{i:03}.corp.example"),
                os,
                onboarding,
                sensor,
                exposure: r.pick(&["Low", "Low", "Medium", "Medium", "High", "None"]),
                group: r.pick(&["Workstations", "Servers", "UnassignedGroup"]),
                internet: r.below(5) == 0,
            }
        })
        .collect()
}

fn cols(spec: &[(&str, ColType)]) -> Vec<(String, ColType)> {
    spec.iter().map(|(n, t)| (n.to_string(), *t)).collect()
}

fn row(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The named table for a tenant, or `None` for a table the emulator does not hold.
pub fn table(t: &mut Tenant, name: &str) -> Option<Table> {
    use ColType::*;
    match name {
        "DeviceInfo" => Some(Table {
            columns: cols(&[
                ("Timestamp", DateTime),
                ("DeviceId", String),
                ("DeviceName", String),
                ("OSPlatform", String),
                ("OnboardingStatus", String),
                ("SensorHealthState", String),
                ("ExposureLevel", String),
                ("MachineGroup", String),
                ("IsInternetFacing", Boolean),
            ]),
            rows: devices(&t.id)
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    row(vec![
                        ("Timestamp", json!(at_minutes(60 * 24 * 7 + i as u64))),
                        ("DeviceId", json!(d.id)),
                        ("DeviceName", json!(d.name)),
                        ("OSPlatform", json!(d.os)),
                        ("OnboardingStatus", json!(d.onboarding)),
                        ("SensorHealthState", json!(d.sensor)),
                        ("ExposureLevel", json!(d.exposure)),
                        ("MachineGroup", json!(d.group)),
                        ("IsInternetFacing", json!(d.internet)),
                    ])
                })
                .collect(),
        }),
        "DeviceTvmSoftwareVulnerabilities" => {
            let mut r = Rng::new(&format!("vulns:{}", t.id));
            let mut rows = Vec::new();
            for d in devices(&t.id)
                .into_iter()
                .filter(|d| d.onboarding == "Onboarded")
            {
                let k = r.below(5);
                let mut seen = Vec::new();
                for _ in 0..k {
                    let c = r.pick(CVES);
                    if seen.contains(&c.0) {
                        continue;
                    }
                    seen.push(c.0);
                    rows.push(row(vec![
                        ("DeviceId", json!(d.id)),
                        ("DeviceName", json!(d.name)),
                        ("OSPlatform", json!(d.os)),
                        ("SoftwareVendor", json!(c.2)),
                        ("SoftwareName", json!(c.3)),
                        (
                            "SoftwareVersion",
                            json!(format!("{}.{}", 1 + r.below(20), r.below(10))),
                        ),
                        ("CveId", json!(c.0)),
                        ("VulnerabilitySeverityLevel", json!(c.1)),
                        ("RecommendedSecurityUpdate", json!(c.4)),
                    ]));
                }
            }
            Some(Table {
                columns: cols(&[
                    ("DeviceId", String),
                    ("DeviceName", String),
                    ("OSPlatform", String),
                    ("SoftwareVendor", String),
                    ("SoftwareName", String),
                    ("SoftwareVersion", String),
                    ("CveId", String),
                    ("VulnerabilitySeverityLevel", String),
                    ("RecommendedSecurityUpdate", String),
                ]),
                rows,
            })
        }
        "AlertInfo" => {
            let s = store(t);
            Some(Table {
                columns: cols(&[
                    ("Timestamp", DateTime),
                    ("AlertId", String),
                    ("Title", String),
                    ("Category", String),
                    ("Severity", String),
                    ("ServiceSource", String),
                    ("DetectionSource", String),
                    ("AttackTechniques", String),
                ]),
                rows: s
                    .alerts
                    .values()
                    .map(|a| {
                        let sev = a["severity"].as_str().unwrap_or_default();
                        let mut sev_cap = sev.to_string();
                        if let Some(f) = sev_cap.get_mut(0..1) {
                            f.make_ascii_uppercase();
                        }
                        row(vec![
                            ("Timestamp", a["createdDateTime"].clone()),
                            ("AlertId", a["id"].clone()),
                            ("Title", a["title"].clone()),
                            ("Category", a["category"].clone()),
                            ("Severity", json!(sev_cap)),
                            (
                                "ServiceSource",
                                json!(service_name(
                                    a["serviceSource"].as_str().unwrap_or_default()
                                )),
                            ),
                            ("DetectionSource", json!("Antivirus")),
                            ("AttackTechniques", json!(a["mitreTechniques"].to_string())),
                        ])
                    })
                    .collect(),
            })
        }
        _ => None,
    }
}

/// `AlertInfo.ServiceSource` uses product names, not the `serviceSource` enum.
fn service_name(s: &str) -> &'static str {
    match s {
        "microsoftDefenderForOffice365" => "Microsoft Defender for Office 365",
        "microsoftDefenderForCloudApps" => "Microsoft Defender for Cloud Apps",
        "microsoftDefenderForIdentity" => "Microsoft Defender for Identity",
        _ => "Microsoft Defender for Endpoint",
    }
}

/// Whether `s` is one of the documented `Timespan` forms (an ISO-8601 duration, a
/// timestamp, or two of them joined by `/`).
fn valid_timespan(s: &str) -> bool {
    let part = |p: &str| {
        let dur = p.starts_with('P')
            && p.len() > 1
            && p[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || "YMWDTHS.".contains(c));
        let ts = time::OffsetDateTime::parse(p, &time::format_description::well_known::Rfc3339)
            .is_ok()
            || time::Date::parse(p, time::macros::format_description!("[year]-[month]-[day]"))
                .is_ok();
        dur || ts
    };
    match s.split_once('/') {
        Some((a, b)) => part(a) && part(b),
        None => part(s),
    }
}

/// Handles `runHuntingQuery` for one tenant.
pub fn handle(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    t: &mut Tenant,
    body: Option<&Value>,
) -> (Reply, bool) {
    let body = match object_body(body) {
        Ok(b) => b,
        Err(r) => return (r, false),
    };
    let get = |name: &str| {
        body.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let Some(query) = get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return (
            Reply::error(
                400,
                "BadRequest",
                "The Query parameter is required and cannot be empty.",
            ),
            false,
        );
    };
    if let Some(ts) = get("timespan").filter(|v| !v.is_null())
        && !ts.as_str().is_some_and(valid_timespan)
    {
        return (
            Reply::error(400, "BadRequest", format!("Invalid Timespan value {ts}.")),
            false,
        );
    }
    let parsed = match Query::parse(query) {
        Ok(q) => q,
        Err(e) => return (Reply::error(400, "BadRequest", e.0), false),
    };
    // Seeding the incident store for `AlertInfo` may change the tenant.
    let was_seeded = t.security.is_some();
    let Some(source) = table(t, parsed.table()) else {
        return (
            Reply::error(
                400,
                "BadRequest",
                format!(
                    "Semantic error: 'Failed to resolve table or column expression named '{}''",
                    parsed.table()
                ),
            ),
            false,
        );
    };
    let out = match parsed.run(source) {
        Ok(o) => o,
        Err(e) => {
            return (
                Reply::error(400, "BadRequest", e.0),
                !was_seeded && t.security.is_some(),
            );
        }
    };
    if out.rows.len() > MAX_ROWS {
        return (
            Reply::error(
                400,
                "BadRequest",
                "Query result exceeded the limit of 100000 rows.",
            ),
            false,
        );
    }
    let schema: Vec<Value> = out
        .columns
        .iter()
        .map(|(n, ty)| json!({"name": n, "type": ty.as_str()}))
        .collect();
    let reply = Reply::ok(json!({
        "@odata.context": ctx.context(req, "microsoft.graph.security.huntingQueryResults"),
        "schema": schema,
        "results": out.rows,
    }));
    (reply, !was_seeded && t.security.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_deterministic_and_sized() {
        let mut a = Tenant {
            id: "00000000-0000-0000-0000-0000000000a1".into(),
            ..Tenant::default()
        };
        let d1 = table(&mut a, "DeviceInfo").unwrap();
        let d2 = table(&mut a, "DeviceInfo").unwrap();
        assert_eq!(d1.rows, d2.rows);
        assert!((8..=24).contains(&d1.rows.len()));
        assert!(table(&mut a, "DeviceTvmSoftwareVulnerabilities").is_some());
        assert!(!table(&mut a, "AlertInfo").unwrap().rows.is_empty());
        assert!(table(&mut a, "EmailEvents").is_none());
    }

    #[test]
    fn timespans() {
        for ok in [
            "P30D",
            "PT12H",
            "2026-09-01T00:00:00Z/P7D",
            "2026-09-01",
            "2026-09-01T00:00:00Z/2026-09-02T00:00:00Z",
        ] {
            assert!(valid_timespan(ok), "{ok}");
        }
        for bad in ["30d", "", "P", "yesterday"] {
            assert!(!valid_timespan(bad), "{bad}");
        }
    }
}
