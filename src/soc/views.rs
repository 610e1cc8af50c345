//! `rampart devices` and `rampart vulnerabilities`: per-tenant roll-ups computed by the
//! service through advanced hunting (one or two `runHuntingQuery` calls per tenant, a
//! handful of rows each), as `graph-api-2.md` §3.3 recommends: Graph has no device or
//! exposure entity, and server-side aggregation stays far under the row cap.
//!
//! Devices: `DeviceInfo`, the latest report per device (`arg_max(Timestamp, ...) by
//! DeviceId`), counted by onboarding status, exposure level and sensor health.
//! Vulnerabilities: `DeviceTvmSoftwareVulnerabilities` (a current-state table without
//! `Timestamp`), distinct CVEs and devices per severity per tenant, and the top CVEs
//! across the fleet with how many tenants and devices each touches.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use serde_json::{Value, json};

use super::fleet::Connected;
use super::grid::{Column, Grid, TenantFailure};
use super::hunt::{Hunt, run};

/// The device roll-up query (one row per tenant).
pub const DEVICES_QUERY: &str = r#"DeviceInfo
| summarize arg_max(Timestamp, OnboardingStatus, ExposureLevel, SensorHealthState) by DeviceId
| summarize Devices = count(),
    Onboarded = countif(OnboardingStatus == "Onboarded"),
    CanBeOnboarded = countif(OnboardingStatus == "Can be onboarded"),
    InsufficientInfo = countif(OnboardingStatus == "Insufficient info"),
    Unsupported = countif(OnboardingStatus == "Unsupported"),
    ExposureHigh = countif(ExposureLevel == "High"),
    ExposureMedium = countif(ExposureLevel == "Medium"),
    ExposureLow = countif(ExposureLevel == "Low"),
    SensorActive = countif(SensorHealthState == "Active"),
    SensorInactive = countif(SensorHealthState == "Inactive"),
    SensorImpaired = countif(SensorHealthState == "ImpairedCommunication"),
    SensorNoData = countif(SensorHealthState == "NoSensorData")"#;

/// Vulnerabilities per severity (one row per severity per tenant).
pub const SEVERITY_QUERY: &str = "DeviceTvmSoftwareVulnerabilities
| summarize Cves = dcount(CveId), Devices = dcount(DeviceId) by VulnerabilitySeverityLevel";

/// Devices per CVE (one row per CVE per tenant).
pub const CVE_QUERY: &str = "DeviceTvmSoftwareVulnerabilities
| summarize Devices = dcount(DeviceId) by CveId, VulnerabilitySeverityLevel";

/// Severities in display order (the `VulnerabilitySeverityLevel` values).
pub const SEVERITY_LEVELS: &[&str] = &["Critical", "High", "Medium", "Low"];

fn hunt(q: &str) -> Hunt {
    Hunt {
        query: q.to_string(),
        timespan: None,
        columns: vec![],
    }
}

/// The device roll-up: Tenant, TenantId, then the counts.
pub async fn devices(tenants: Vec<Connected>, parallelism: NonZeroUsize) -> Grid {
    run(tenants, &hunt(DEVICES_QUERY), parallelism).await
}

fn n(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// Vulnerabilities: (per-tenant severity table, top `top` CVEs across the fleet).
pub async fn vulnerabilities(
    tenants: Vec<Connected>,
    top: usize,
    parallelism: NonZeroUsize,
) -> (Grid, Grid) {
    let sev = run(tenants.clone(), &hunt(SEVERITY_QUERY), parallelism).await;
    let cves = run(tenants, &hunt(CVE_QUERY), parallelism).await;
    summarize(&sev, &cves, top)
}

/// Pivots the two hunts' grids into the two views (pure).
pub fn summarize(sev: &Grid, cves: &Grid, top: usize) -> (Grid, Grid) {
    let col = |g: &Grid, name: &str| g.columns.iter().position(|c| c.name == name);
    let mut failures: BTreeMap<String, TenantFailure> = BTreeMap::new();
    for f in sev.failures.iter().chain(&cves.failures) {
        failures
            .entry(f.tenant.clone())
            .or_insert_with(|| f.clone());
    }
    let mut per_tenant = Grid {
        columns: vec![
            Column::new("Tenant", "String"),
            Column::new("TenantId", "String"),
        ],
        ..Grid::default()
    };
    for s in SEVERITY_LEVELS {
        per_tenant
            .columns
            .push(Column::new(format!("{s}Cves"), "Int64"));
        per_tenant
            .columns
            .push(Column::new(format!("{s}Devices"), "Int64"));
    }
    let mut rows: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    if let (Some(level), Some(c), Some(d)) = (
        col(sev, "VulnerabilitySeverityLevel"),
        col(sev, "Cves"),
        col(sev, "Devices"),
    ) {
        for r in &sev.rows {
            let key = (crate::soc::grid::cell(&r[0]), crate::soc::grid::cell(&r[1]));
            let row = rows.entry(key.clone()).or_insert_with(|| {
                let mut v = vec![json!(key.0), json!(key.1)];
                v.extend(std::iter::repeat_n(json!(0), SEVERITY_LEVELS.len() * 2));
                v
            });
            if let Some(i) = SEVERITY_LEVELS
                .iter()
                .position(|s| r[level].as_str() == Some(s))
            {
                row[2 + 2 * i] = json!(n(&r[c]));
                row[3 + 2 * i] = json!(n(&r[d]));
            }
        }
    }
    per_tenant.rows = rows.into_values().collect();
    per_tenant.failures = failures.values().cloned().collect();

    // Fleet-wide: CVE -> (severity, tenants, devices).
    // CVE -> (severity, tenants, devices).
    type Spread = (String, Vec<String>, u64);
    let mut fleet: BTreeMap<String, Spread> = BTreeMap::new();
    if let (Some(cve), Some(level), Some(d)) = (
        col(cves, "CveId"),
        col(cves, "VulnerabilitySeverityLevel"),
        col(cves, "Devices"),
    ) {
        for r in &cves.rows {
            let e = fleet
                .entry(crate::soc::grid::cell(&r[cve]))
                .or_insert_with(|| (crate::soc::grid::cell(&r[level]), vec![], 0));
            e.1.push(crate::soc::grid::cell(&r[0]));
            e.2 += n(&r[d]);
        }
    }
    let mut list: Vec<(String, Spread)> = fleet.into_iter().collect();
    list.sort_by(|a, b| {
        b.1.2
            .cmp(&a.1.2)
            .then_with(|| b.1.1.len().cmp(&a.1.1.len()))
            .then_with(|| a.0.cmp(&b.0))
    });
    list.truncate(top);
    let top_grid = Grid {
        columns: vec![
            Column::new("CveId", "String"),
            Column::new("Severity", "String"),
            Column::new("Tenants", "Int64"),
            Column::new("Devices", "Int64"),
            Column::new("TenantNames", "String"),
        ],
        rows: list
            .into_iter()
            .map(|(cve, (sev, mut tenants, devices))| {
                tenants.sort();
                tenants.dedup();
                vec![
                    json!(cve),
                    json!(sev),
                    json!(tenants.len()),
                    json!(devices),
                    json!(tenants.join(",")),
                ]
            })
            .collect(),
        failures: per_tenant.failures.clone(),
        notes: vec![],
    };
    (per_tenant, top_grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pivots_per_tenant_and_ranks_cves_across_the_fleet() {
        let cols = |names: &[(&str, &str)]| {
            names
                .iter()
                .map(|(n, t)| Column::new(*n, *t))
                .collect::<Vec<_>>()
        };
        let sev = Grid {
            columns: cols(&[
                ("Tenant", "String"),
                ("TenantId", "String"),
                ("VulnerabilitySeverityLevel", "String"),
                ("Cves", "Int64"),
                ("Devices", "Int64"),
            ]),
            rows: vec![
                vec![json!("a"), json!("1"), json!("High"), json!(2), json!(5)],
                vec![
                    json!("a"),
                    json!("1"),
                    json!("Critical"),
                    json!(1),
                    json!(1),
                ],
            ],
            ..Grid::default()
        };
        let cves = Grid {
            columns: cols(&[
                ("Tenant", "String"),
                ("TenantId", "String"),
                ("CveId", "String"),
                ("VulnerabilitySeverityLevel", "String"),
                ("Devices", "Int64"),
            ]),
            rows: vec![
                vec![
                    json!("a"),
                    json!("1"),
                    json!("CVE-1"),
                    json!("High"),
                    json!(3),
                ],
                vec![
                    json!("b"),
                    json!("2"),
                    json!("CVE-1"),
                    json!("High"),
                    json!(4),
                ],
                vec![
                    json!("b"),
                    json!("2"),
                    json!("CVE-2"),
                    json!("Critical"),
                    json!(9),
                ],
            ],
            ..Grid::default()
        };
        let (t, top) = summarize(&sev, &cves, 1);
        assert_eq!(t.rows[0][2..6], [json!(1), json!(1), json!(2), json!(5)]);
        assert_eq!(
            top.rows,
            vec![vec![
                json!("CVE-2"),
                json!("Critical"),
                json!(1),
                json!(9),
                json!("b")
            ]]
        );
        let (_, top) = summarize(&sev, &cves, 5);
        assert_eq!(
            top.rows[1],
            vec![
                json!("CVE-1"),
                json!("High"),
                json!(2),
                json!(7),
                json!("a,b")
            ]
        );
    }
}
