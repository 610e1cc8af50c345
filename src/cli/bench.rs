//! `rampart bench plan|apply`: measure the real plan and apply code paths on an emulated
//! fleet and print the figures (a benchmark command, not a timed test).
//!
//! Both run the shipped baseline (`policies/`, `profiles/` under `--root`): one ring-0
//! tenant's desired state copied to N emulated tenants in one in-process emulator. The
//! emulator shares the machine's cores with rampart, so figures at high parallelism are
//! pessimistic; peak memory is the whole process (rampart and the emulator together).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::apply::ApplyOptions;
use crate::apply::bench::{EmulatedFleet, baseline_template, bench_apply_from, fleet_tenant};
use crate::plan::CreatedFrom;
use rampart_emulator::FaultConfig;

#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// No-change plan of the shipped baseline over N tenants already in step.
    Plan(FleetArgs),
    /// Apply the shipped baseline to N empty tenants.
    Apply(FleetArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct FleetArgs {
    /// Emulated tenants.
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    /// Latency the emulator adds to every request, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Tenants worked on at the same time.
    #[arg(long, default_value_t = 100)]
    pub parallelism: usize,
    /// Repository root holding the baseline.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// The figures `bench plan` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchPlanReport {
    pub tenants: usize,
    pub latency_ms: u64,
    pub parallelism: usize,
    pub objects_per_tenant: usize,
    pub wall_ms: u64,
    pub requests: u64,
    pub round_trips: u64,
    /// Requests the token endpoint answered (counted by the emulator).
    pub token_requests: u64,
    /// Tokens asked of the credentials, cache hits included (counted by rampart).
    pub token_lookups: u64,
    pub retries: u64,
    pub requests_per_tenant: f64,
    pub round_trips_per_tenant: f64,
    /// round trips x latency / parallelism.
    pub throughput_bound_ms: u64,
    /// One tenant's round trips one after another x latency (an upper estimate of the
    /// per-tenant critical path: some of a tenant's round trips run concurrently).
    pub per_tenant_path_ms: u64,
    /// ceil(tenants / parallelism) waves x the per-tenant path.
    pub lower_bound_ms: u64,
    pub ratio: f64,
    pub changes_in_plan: bool,
    pub errored: bool,
    pub peak_memory_mib: f64,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let json = match &args.what {
        BenchWhat::Plan(f) => serde_json::to_string_pretty(&rt.block_on(bench_plan(f))?)?,
        BenchWhat::Apply(f) => {
            let report = rt.block_on(bench_apply_from(
                &f.root,
                f.tenants,
                Duration::from_millis(f.latency_ms),
                f.parallelism,
            ))?;
            let mut v = serde_json::to_value(&report)?;
            v["peakMemoryMib"] = serde_json::json!(peak_memory_mib());
            serde_json::to_string_pretty(&v)?
        }
    };
    crate::outln!("{json}")?;
    Ok(super::exit::OK)
}

async fn bench_plan(args: &FleetArgs) -> anyhow::Result<BenchPlanReport> {
    let template = baseline_template(&args.root)?;
    let desired: Vec<_> = (0..args.tenants)
        .map(|i| fleet_tenant(&template, i))
        .collect();
    // Bring every tenant in step first, without latency, so the measured plan is the
    // nightly drift-detection case: a full read of every tenant and no changes.
    let fleet = EmulatedFleet::start(desired, FaultConfig::none(), 1, |_| None).await?;
    let first = fleet.plan(args.parallelism).await?;
    let applied = fleet
        .apply(
            &first,
            &ApplyOptions {
                parallelism: args.parallelism,
                ..ApplyOptions::default()
            },
        )
        .await?;
    anyhow::ensure!(
        applied.success,
        "the baseline could not be applied to the fleet"
    );
    fleet.emulator.admin().set_faults(FaultConfig {
        latency_ms: args.latency_ms,
        ..FaultConfig::none()
    });

    let ctx = fleet.context()?;
    let mut tenants = Vec::new();
    for d in &fleet.desired {
        tenants.push((d.clone(), fleet.authenticator.tenant_auth(&d.tenant.id)?));
    }
    let parallelism = NonZeroUsize::new(args.parallelism.max(1)).unwrap_or(NonZeroUsize::MIN);
    // The fleet's seeding asked for tokens too: count only what the plan asked for.
    let tokens_before = token_endpoint_requests(&fleet.emulator.admin().counters());
    let started = Instant::now();
    let plan =
        crate::fetch::plan_fleet(&ctx, tenants, parallelism, CreatedFrom::default(), None).await;
    let wall = started.elapsed();
    let token_requests =
        token_endpoint_requests(&fleet.emulator.admin().counters()) - tokens_before;
    fleet.emulator.shutdown().await;

    let totals = ctx.stats().total();
    let n = args.tenants.max(1) as f64;
    let lat = args.latency_ms as f64;
    let rt_per_tenant = totals.round_trips as f64 / n;
    let throughput = totals.round_trips as f64 * lat / parallelism.get() as f64;
    let path = rt_per_tenant * lat;
    let waves = args.tenants.div_ceil(parallelism.get()) as f64;
    let lower = throughput.max(waves * path);
    let wall_ms = wall.as_millis() as u64;
    Ok(BenchPlanReport {
        tenants: args.tenants,
        latency_ms: args.latency_ms,
        parallelism: parallelism.get(),
        objects_per_tenant: template.objects.len(),
        wall_ms,
        requests: totals.requests,
        round_trips: totals.round_trips,
        token_requests,
        token_lookups: totals.token_lookups,
        retries: totals.retries,
        requests_per_tenant: totals.requests as f64 / n,
        round_trips_per_tenant: rt_per_tenant,
        throughput_bound_ms: throughput.round() as u64,
        per_tenant_path_ms: path.round() as u64,
        lower_bound_ms: lower.round() as u64,
        ratio: if lower > 0.0 {
            wall_ms as f64 / lower
        } else {
            0.0
        },
        changes_in_plan: plan.summary.has_changes(),
        errored: plan.errored,
        peak_memory_mib: peak_memory_mib(),
    })
}

/// Requests the emulator's token endpoint answered, over all tenants.
fn token_endpoint_requests(counters: &rampart_emulator::Counters) -> u64 {
    counters
        .by_route
        .iter()
        .filter(|(key, _)| key.ends_with(" POST token"))
        .map(|(_, n)| n)
        .sum()
}

/// Peak resident set size of this process (`VmHWM`), in MiB; 0 where /proc is absent.
fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}
