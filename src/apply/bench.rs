//! An emulated fleet for apply's tests and benchmark, and the benchmark itself.
//!
//! [`EmulatedFleet`] starts the in-process Graph emulator, registers an app with a
//! development secret, creates N tenants (each holding the groups its desired state names)
//! and gives out the same things a real run uses: the shared Graph context and an
//! authenticator whose real client-secret credential talks to the emulator's token
//! endpoint. Planning goes through `crate::fetch::plan_fleet`, applying through
//! [`super::apply_plan`], so the benchmark measures the real code paths.
//!
//! [`bench_apply`] applies the shipped baseline (`policies/`, `profiles/`, loaded with
//! `crate::load`, one ring-0 tenant's desired state copied to every emulated tenant) to N
//! empty tenants and reports the wall time of the apply alone (planning is done first and
//! not timed), its requests, and the lower bound that latency, parallelism and the
//! per-tenant write limit impose on any apply that sends the same writes.
//!
//! Limits: the emulator shares the machine with rampart, so at high parallelism both
//! compete for the same cores; figures are for comparison, not absolute.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::{ApplyOptions, ApplyReport, GraphConnector, apply_plan};
use crate::desired::{TenantDesired, TenantRef};
use crate::graph::auth::{AuthConfig, AuthMethod, Authenticator};
use crate::graph::client::{GraphContext, GraphOptions, build_http_client};
use crate::plan::{CreatedFrom, Plan};
use rampart_emulator::{
    self as emulator, AppSeed, EmulatorConfig, FaultConfig, RunningEmulator, TenantSeed,
};

/// The emulated app's client id.
pub const FLEET_APP_ID: &str = "7e57a990-0000-4000-8000-0000000000a1";
/// A development secret known only to the in-process emulator.
const FLEET_APP_SECRET: &str = "rampart-apply-fleet";

/// Setting up or running an emulated fleet failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("emulator: {0}")]
    Emulator(#[from] emulator::EmulatorError),
    #[error(transparent)]
    Graph(#[from] crate::graph::error::GraphError),
    #[error(transparent)]
    Auth(#[from] crate::graph::auth::AuthError),
    #[error(transparent)]
    Url(#[from] crate::graph::urls::UrlPolicyError),
    #[error("the baseline cannot be loaded: {0}")]
    Baseline(String),
    #[error("apply refused: {0}")]
    Refused(#[from] super::ApplyRefused),
}

/// A running emulator holding a fleet of tenants, with the credentials to reach them.
pub struct EmulatedFleet {
    pub emulator: RunningEmulator,
    pub options: GraphOptions,
    pub authenticator: Arc<Authenticator>,
    /// Each tenant's desired state, sorted by tenant name.
    pub desired: Vec<TenantDesired>,
}

/// The desired state of the `i`-th emulated tenant: `template` with a new identity.
pub fn fleet_tenant(template: &TenantDesired, i: usize) -> TenantDesired {
    let mut d = template.clone();
    d.tenant = TenantRef {
        id: format!(
            "00000000-0000-4000-8000-{:012x}",
            0xa000_0000_u64 + i as u64
        ),
        name: format!("tenant-{i:04}"),
    };
    d
}

/// `template` grown to `objects` objects (or left as is when it already holds as many):
/// copies of its configuration policies under new names (`{name}-copy-{k}`, display name
/// `{display name} (copy {k})`), so a benchmark can build fleets of e.g. 50 objects per
/// tenant from the shipped baseline. Copies keep their settings and assignments.
pub fn grown_template(template: &TenantDesired, objects: usize) -> TenantDesired {
    let mut out = template.clone();
    let policies: Vec<_> = template
        .objects
        .values()
        .filter_map(|o| match o {
            crate::desired::DesiredObject::ConfigurationPolicy(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    if policies.is_empty() {
        return out;
    }
    let mut k = 0usize;
    while out.objects.len() < objects {
        let mut p = policies[k % policies.len()].clone();
        let copy = k / policies.len() + 1;
        p.name = format!("{}-copy-{copy}", p.name);
        p.display_name = format!("{} (copy {copy})", p.display_name);
        out.objects.insert(
            (p.kind, p.name.clone()),
            crate::desired::DesiredObject::ConfigurationPolicy(p),
        );
        k += 1;
    }
    out
}

/// Graph options and an authenticator for the fleet's app against an emulator serving
/// Graph at `graph_url` and tokens at `login_url` (in this process or another).
pub fn fleet_credentials(
    graph_url: &str,
    login_url: &str,
) -> Result<(GraphOptions, Arc<Authenticator>), FleetError> {
    let options = GraphOptions::with_graph_url(graph_url)?;
    let mut config = AuthConfig::new(AuthMethod::Secret);
    config.client_id = Some(FLEET_APP_ID.into());
    config.client_secret = Some(FLEET_APP_SECRET.to_string().into());
    config.login_url = crate::graph::urls::checked_base_url("login URL", login_url)?;
    let http = build_http_client(&options).map_err(|e| {
        crate::graph::error::GraphError::InvalidRequest {
            tenant: "-".into(),
            reason: format!("cannot build the HTTP client: {e}"),
        }
    })?;
    let authenticator = Arc::new(Authenticator::new(config, http)?);
    Ok((options, authenticator))
}

/// The shipped baseline's desired state for one ring-0 tenant (every kind of object),
/// loaded from `root/policies` and `root/profiles`.
pub fn baseline_template(root: &Path) -> Result<TenantDesired, FleetError> {
    let v = crate::resolve::validate(root, &[]);
    if v.has_errors() {
        return Err(FleetError::Baseline(format!(
            "{} diagnostics",
            v.diagnostics.len()
        )));
    }
    // The tenant with the most objects (ring 0 gets everything), first by name on ties.
    let mut all: Vec<&TenantDesired> = v.tenants.values().collect();
    all.sort_by(|a, b| {
        b.objects
            .len()
            .cmp(&a.objects.len())
            .then(a.tenant.name.cmp(&b.tenant.name))
    });
    all.first()
        .map(|t| (*t).clone())
        .ok_or_else(|| FleetError::Baseline("no tenant in the profiles".into()))
}

impl EmulatedFleet {
    /// Starts an emulator with `faults` (drawn from `seed`) and one tenant per desired state,
    /// each consented with `roles` (every role when `None`) and holding the groups its
    /// desired state names.
    pub async fn start(
        desired: Vec<TenantDesired>,
        faults: FaultConfig,
        seed: u64,
        roles: impl Fn(&TenantDesired) -> Option<Vec<String>>,
    ) -> Result<EmulatedFleet, FleetError> {
        let running = emulator::start(EmulatorConfig {
            seed,
            faults,
            ..EmulatorConfig::default()
        })
        .await?;
        let admin = running.admin();
        admin.add_app(&AppSeed {
            app_id: FLEET_APP_ID.into(),
            display_name: "rampart apply fleet".into(),
            secrets: vec![FLEET_APP_SECRET.into()],
            ..AppSeed::default()
        })?;
        let mut desired = desired;
        desired.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
        for d in &desired {
            let granted = roles(d)
                .unwrap_or_else(|| emulator::ALL_ROLES.iter().map(|r| r.to_string()).collect());
            admin.add_tenant(&TenantSeed {
                id: d.tenant.id.clone(),
                display_name: d.tenant.name.clone(),
                consents: BTreeMap::from([(FLEET_APP_ID.to_string(), granted)]),
                groups: crate::fetch::desired_group_names(d)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
                ..TenantSeed::default()
            })?;
        }
        let (options, authenticator) =
            fleet_credentials(&running.graph_url(), &running.login_url())?;
        Ok(EmulatedFleet {
            emulator: running,
            options,
            authenticator,
            desired,
        })
    }

    /// A fresh Graph context (own counters and retry budget).
    pub fn context(&self) -> Result<GraphContext, FleetError> {
        Ok(GraphContext::builder(self.options.clone())
            .http(self.authenticator.http().clone())
            .build()?)
    }

    /// Plans the fleet (or the tenants `only` selects) with the real fetch and diff.
    pub async fn plan_where(
        &self,
        parallelism: usize,
        only: impl Fn(&TenantDesired) -> bool,
    ) -> Result<Plan, FleetError> {
        let ctx = self.context()?;
        let mut tenants = Vec::new();
        for d in self.desired.iter().filter(|d| only(d)) {
            tenants.push((d.clone(), self.authenticator.tenant_auth(&d.tenant.id)?));
        }
        Ok(crate::fetch::plan_fleet(
            &ctx,
            tenants,
            NonZeroUsize::new(parallelism.max(1)).unwrap_or(NonZeroUsize::MIN),
            CreatedFrom {
                source: "emulator".into(),
                ..CreatedFrom::default()
            },
            None,
        )
        .await)
    }

    /// Plans the whole fleet reading policies as `reads` says, with its own Graph context
    /// (returned, for its counters).
    pub async fn plan_with(
        &self,
        parallelism: usize,
        reads: crate::fetch::PolicyReads,
    ) -> Result<(Plan, GraphContext), FleetError> {
        let ctx = self.context()?;
        let mut tenants = Vec::new();
        for d in &self.desired {
            tenants.push((d.clone(), self.authenticator.tenant_auth(&d.tenant.id)?));
        }
        let plan = crate::fetch::plan_fleet_with(
            &ctx,
            tenants,
            NonZeroUsize::new(parallelism.max(1)).unwrap_or(NonZeroUsize::MIN),
            CreatedFrom {
                source: "emulator".into(),
                ..CreatedFrom::default()
            },
            None,
            reads,
        )
        .await;
        Ok((plan, ctx))
    }

    /// Plans the whole fleet.
    pub async fn plan(&self, parallelism: usize) -> Result<Plan, FleetError> {
        self.plan_where(parallelism, |_| true).await
    }

    /// A connector through the shared Graph client with a fresh context.
    pub fn connector(&self) -> Result<GraphConnector, FleetError> {
        Ok(GraphConnector {
            context: self.context()?,
            authenticator: self.authenticator.clone(),
        })
    }

    /// Applies a plan to the fleet.
    pub async fn apply(&self, plan: &Plan, opts: &ApplyOptions) -> Result<ApplyReport, FleetError> {
        Ok(apply_plan(plan, &self.connector()?, opts).await?)
    }
}

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchApplyReport {
    pub tenants: usize,
    pub latency_ms: u64,
    pub parallelism: usize,
    /// Objects the baseline gives each tenant.
    pub objects_per_tenant: usize,
    /// Wall time of the apply (planning excluded).
    pub wall_ms: u64,
    /// Graph operations and HTTP exchanges of the apply, over all tenants.
    pub requests: u64,
    pub round_trips: u64,
    pub retries: u64,
    pub throttled: u64,
    /// Successful writes per tenant (creates, assigns).
    pub writes_per_tenant: f64,
    /// Round trips per tenant (freshness checks, writes, read-backs).
    pub round_trips_per_tenant: f64,
    /// The lower bound for any apply sending these writes: every write costs at least one
    /// latency and a tenant's writes are sequential (its objects depend on each other's
    /// ids), so `ceil(tenants / parallelism) * writes_per_tenant * latency`, and never less
    /// than the per-tenant write window allows (`(ceil(writes / 100) - 1) * 20 s`).
    pub lower_bound_ms: u64,
    /// For comparison: the time if every round trip apply makes (freshness checks and
    /// read-backs included) were sequential within a tenant. Apply overlaps its reads, so
    /// it can beat this figure.
    pub sequential_bound_ms: u64,
    /// `wall_ms / lower_bound_ms`.
    pub ratio: f64,
    /// Every object applied and verified.
    pub success: bool,
    /// A plan made after the apply has no changes.
    pub converged: bool,
}

/// Applies the shipped baseline to `tenants` empty emulated tenants with `latency` per
/// request and `parallelism` tenants at once; see the module doc.
pub async fn bench_apply(
    tenants: usize,
    latency: Duration,
    parallelism: usize,
) -> Result<BenchApplyReport, FleetError> {
    bench_apply_from(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        tenants,
        latency,
        parallelism,
    )
    .await
}

/// [`bench_apply`] with the repository root given.
pub async fn bench_apply_from(
    root: &Path,
    tenants: usize,
    latency: Duration,
    parallelism: usize,
) -> Result<BenchApplyReport, FleetError> {
    let template = baseline_template(root)?;
    let desired: Vec<TenantDesired> = (0..tenants).map(|i| fleet_tenant(&template, i)).collect();
    let faults = FaultConfig {
        latency_ms: latency.as_millis() as u64,
        ..FaultConfig::default()
    };
    let fleet = EmulatedFleet::start(desired, faults, 1, |_| None).await?;
    let plan = fleet.plan(parallelism).await?;
    let opts = ApplyOptions {
        parallelism,
        ..ApplyOptions::default()
    };
    let started = Instant::now();
    let report = fleet.apply(&plan, &opts).await?;
    let wall = started.elapsed();
    let after = fleet.plan(parallelism).await?;
    fleet.emulator.shutdown().await;

    let totals = report.requests();
    let n = tenants.max(1) as f64;
    let writes_per_tenant = totals.writes as f64 / n;
    let rt_per_tenant = totals.round_trips as f64 / n;
    let waves = tenants.div_ceil(parallelism.max(1)) as f64;
    let lat = latency.as_secs_f64() * 1000.0;
    let max_writes = report
        .tenants
        .iter()
        .map(|t| t.requests.writes)
        .max()
        .unwrap_or(0);
    let window_ms = (max_writes.div_ceil(100).saturating_sub(1) * 20_000) as f64;
    let lower = (waves * writes_per_tenant * lat).max(window_ms);
    let rt_bound = (waves * rt_per_tenant * lat).max(window_ms);
    let wall_ms = wall.as_millis() as u64;
    Ok(BenchApplyReport {
        tenants,
        latency_ms: latency.as_millis() as u64,
        parallelism,
        objects_per_tenant: template.objects.len(),
        wall_ms,
        requests: totals.requests,
        round_trips: totals.round_trips,
        retries: totals.retries,
        throttled: totals.throttled,
        writes_per_tenant,
        round_trips_per_tenant: rt_per_tenant,
        lower_bound_ms: lower.round() as u64,
        sequential_bound_ms: rt_bound.round() as u64,
        ratio: if lower > 0.0 {
            wall_ms as f64 / lower
        } else {
            0.0
        },
        success: report.success,
        converged: !after.summary.has_changes() && !after.errored,
    })
}
