//! `rampart bench plan|apply`: measure the real plan and apply code paths on an emulated
//! fleet and print the figures (a benchmark command, not a timed test).
//!
//! Both run the shipped baseline (`policies/`, `profiles/` under `--root`): one ring-0
//! tenant's desired state (grown to `--policies-per-tenant` objects with copies of its
//! configuration policies) copied to N emulated tenants.
//!
//! `bench plan` runs the emulator in its own process (this binary, `bench emulator`, a
//! hidden subcommand), which also brings the fleet in step first, so the figures it prints
//! for rampart (wall time, CPU time, peak RSS) are rampart's alone; the emulator's CPU time
//! and peak RSS are printed beside them. It then plans the fleet once per parallelism and
//! policy-read strategy asked for (`--parallelism 25,100`, `--policy-reads
//! batched,expanded`), resetting the peak RSS between runs (`/proc/self/clear_refs`), and
//! prints per run: the ratio to the lower bound, requests and round trips per tenant and
//! per object, the saved plan's bytes per object. The lower bound is the larger of round
//! trips x latency / parallelism and ceil(tenants / parallelism) x one tenant's critical
//! path (its sequential latencies, measured by planning one tenant alone before the
//! runs). Both processes share the machine's cores,
//! so figures at high parallelism are pessimistic. CPU times come from `/proc/{pid}/stat`
//! (Linux; 0 elsewhere).
//!
//! `bench apply` keeps the emulator in-process (its peak memory is both together).

use std::io::{BufRead as _, Read as _};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::apply::ApplyOptions;
use crate::apply::bench::{
    EmulatedFleet, baseline_template, bench_apply_from, fleet_credentials, fleet_tenant,
    grown_template,
};
use crate::desired::TenantDesired;
use crate::fetch::PolicyReads;
use crate::graph::client::GraphContext;
use crate::plan::CreatedFrom;
use rampart_emulator::{FaultConfig, PageSizes};

#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// No-change plan of the shipped baseline over N tenants already in step, against an
    /// emulator in its own process.
    Plan(PlanBenchArgs),
    /// Apply the shipped baseline to N empty tenants.
    Apply(FleetArgs),
    /// The emulator side of `bench plan` (started by it): serves a fleet in step, prints
    /// its URLs as one JSON line, and stops when its standard input closes.
    #[command(hide = true)]
    Emulator(FleetServerArgs),
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

/// Which policy reads `bench plan` measures (see `crate::fetch::PolicyReads`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadsArg {
    /// List ids, then read policies with `$expand` in concurrent `$batch`es of 20.
    Batched,
    /// List policies with `$expand=settings,assignments` and follow every page.
    Expanded,
}

impl From<ReadsArg> for PolicyReads {
    fn from(r: ReadsArg) -> Self {
        match r {
            ReadsArg::Batched => PolicyReads::Batched,
            ReadsArg::Expanded => PolicyReads::Expanded,
        }
    }
}

#[derive(Clone, Debug, clap::Args)]
pub struct PlanBenchArgs {
    /// Emulated tenants.
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    /// Objects per tenant: the baseline's, plus copies of its configuration policies up to
    /// this number (e.g. 50). Default: the baseline as shipped.
    #[arg(long)]
    pub policies_per_tenant: Option<usize>,
    /// Latency the emulator adds to every request, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Tenants planned at the same time; one run per value (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "25,100")]
    pub parallelism: Vec<usize>,
    /// Policies per page of a configuration-policy list with `$expand` (Graph is reported
    /// to return 1-2; the emulator's default is 10).
    #[arg(long)]
    pub expand_page_size: Option<usize>,
    /// Policy read strategies to measure; one run per value and parallelism.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "batched")]
    pub policy_reads: Vec<ReadsArg>,
    /// Repository root holding the baseline.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

#[derive(Clone, Debug, clap::Args)]
pub struct FleetServerArgs {
    #[arg(long)]
    pub tenants: usize,
    #[arg(long)]
    pub policies_per_tenant: Option<usize>,
    #[arg(long)]
    pub latency_ms: u64,
    #[arg(long)]
    pub expand_page_size: Option<usize>,
    #[arg(long)]
    pub root: PathBuf,
}

/// What `bench emulator` prints once its fleet is in step.
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FleetReady {
    graph_url: String,
    login_url: String,
}

/// The figures `bench plan` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchPlanReport {
    pub tenants: usize,
    pub latency_ms: u64,
    pub objects_per_tenant: usize,
    pub configuration_policies_per_tenant: usize,
    /// Policies per page of an `$expand` list (the emulator's default when absent).
    pub expand_page_size: Option<usize>,
    /// Seconds the emulator process took to bring the fleet in step (not measured below).
    pub setup_s: f64,
    pub runs: Vec<BenchPlanRun>,
    /// Peak RSS of the emulator process (its setup included), MiB.
    pub emulator_peak_memory_mib: f64,
}

/// One measured plan of the fleet.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchPlanRun {
    pub policy_reads: ReadsArg,
    pub parallelism: usize,
    pub wall_ms: u64,
    pub requests: u64,
    pub round_trips: u64,
    pub retries: u64,
    /// Tokens asked of the credentials, cache hits included (counted by rampart).
    pub token_lookups: u64,
    pub requests_per_tenant: f64,
    pub round_trips_per_tenant: f64,
    /// Graph calls (HTTP round trips) per managed object.
    pub round_trips_per_object: f64,
    pub requests_per_object: f64,
    /// round trips x latency / parallelism.
    pub throughput_bound_ms: u64,
    /// Latencies one tenant's plan waits for one after another, measured by planning one
    /// tenant alone (round trips that travel together count once).
    pub latency_steps_per_tenant: u64,
    /// `latency_steps_per_tenant` x latency: the per-tenant critical path.
    pub per_tenant_path_ms: u64,
    /// max(throughput bound, ceil(tenants / parallelism) waves x the per-tenant path).
    pub lower_bound_ms: u64,
    pub ratio: f64,
    pub changes_in_plan: bool,
    pub errored: bool,
    /// Bytes of the saved plan (`plan --out`), and per object.
    pub plan_bytes: u64,
    pub plan_bytes_per_object: f64,
    /// The same, gzip-compressed (`plan --out FILE.gz`).
    pub plan_gzip_bytes: u64,
    pub plan_gzip_bytes_per_object: f64,
    /// rampart's own peak RSS during this run (MiB; reset before the run).
    pub rampart_peak_memory_mib: f64,
    /// CPU time (user + system) of rampart and of the emulator process during the run.
    pub rampart_cpu_ms: u64,
    pub emulator_cpu_ms: u64,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let json = match &args.what {
        BenchWhat::Plan(f) => serde_json::to_string_pretty(&bench_plan(&rt, f)?)?,
        BenchWhat::Apply(f) => {
            let report = rt.block_on(bench_apply_from(
                &f.root,
                f.tenants,
                Duration::from_millis(f.latency_ms),
                f.parallelism,
            ))?;
            let mut v = serde_json::to_value(&report)?;
            v["peakMemoryMib"] = serde_json::json!(peak_memory_mib("self"));
            serde_json::to_string_pretty(&v)?
        }
        BenchWhat::Emulator(f) => {
            rt.block_on(serve_fleet(f))?;
            return Ok(super::exit::OK);
        }
    };
    crate::outln!("{json}")?;
    Ok(super::exit::OK)
}

/// The fleet's desired states (sorted by tenant name), as both processes build them.
fn fleet(
    root: &std::path::Path,
    tenants: usize,
    objects: Option<usize>,
) -> anyhow::Result<(TenantDesired, Vec<TenantDesired>)> {
    let mut template = baseline_template(root)?;
    if let Some(n) = objects {
        template = grown_template(&template, n);
    }
    let mut desired: Vec<_> = (0..tenants).map(|i| fleet_tenant(&template, i)).collect();
    desired.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    Ok((template, desired))
}

/// `bench emulator`: starts the emulator, brings the fleet in step (without latency, at
/// the default page sizes), then sets the measured latency and page size, prints
/// [`FleetReady`] and serves until standard input closes.
async fn serve_fleet(args: &FleetServerArgs) -> anyhow::Result<()> {
    let (_, desired) = fleet(&args.root, args.tenants, args.policies_per_tenant)?;
    let fleet = EmulatedFleet::start(desired, FaultConfig::none(), 1, |_| None).await?;
    let first = fleet.plan(100).await?;
    let applied = fleet
        .apply(
            &first,
            &ApplyOptions {
                parallelism: 100,
                ..ApplyOptions::default()
            },
        )
        .await?;
    anyhow::ensure!(
        applied.success,
        "the baseline could not be applied to the fleet"
    );
    drop(first);
    let admin = fleet.emulator.admin();
    admin.set_faults(FaultConfig {
        latency_ms: args.latency_ms,
        ..FaultConfig::none()
    });
    if let Some(n) = args.expand_page_size {
        admin.set_page_sizes(PageSizes {
            policies_expanded: n.max(1),
            ..admin.page_sizes()
        });
    }
    let ready = FleetReady {
        graph_url: fleet.emulator.graph_url(),
        login_url: fleet.emulator.login_url(),
    };
    crate::outln!("{}", serde_json::to_string(&ready)?)?;
    // Serve until the benchmark closes our standard input (or dies).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    fleet.emulator.shutdown().await;
    Ok(())
}

/// Stops the emulator process when the benchmark ends, however it ends.
struct EmulatorProcess(Child);

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn bench_plan(
    rt: &tokio::runtime::Runtime,
    args: &PlanBenchArgs,
) -> anyhow::Result<BenchPlanReport> {
    let exe = std::env::current_exe().context("cannot find this rampart binary")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("bench")
        .arg("emulator")
        .arg("--tenants")
        .arg(args.tenants.to_string())
        .arg("--latency-ms")
        .arg(args.latency_ms.to_string())
        .arg("--root")
        .arg(&args.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(n) = args.policies_per_tenant {
        cmd.arg("--policies-per-tenant").arg(n.to_string());
    }
    if let Some(n) = args.expand_page_size {
        cmd.arg("--expand-page-size").arg(n.to_string());
    }
    let started = Instant::now();
    let mut child = EmulatorProcess(cmd.spawn().context("cannot start the emulator process")?);
    let pid = child.0.id().to_string();
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().context("no emulator stdout")?)
        .read_line(&mut line)
        .context("cannot read the emulator's address")?;
    let ready: FleetReady = serde_json::from_str(line.trim())
        .with_context(|| format!("the emulator process did not start: {line:?}"))?;
    let setup_s = started.elapsed().as_secs_f64();

    let (template, desired) = fleet(&args.root, args.tenants, args.policies_per_tenant)?;
    let objects = template.objects.len();
    let policies = template
        .objects
        .values()
        .filter(|o| matches!(o, crate::desired::DesiredObject::ConfigurationPolicy(_)))
        .count();
    let (options, authenticator) = fleet_credentials(&ready.graph_url, &ready.login_url)?;
    let mut runs = Vec::new();
    for reads in &args.policy_reads {
        // One tenant alone at a long latency (1 s, through the emulator's admin API; the
        // run before it fetches the token): how many latencies its plan waits for one
        // after another. Some of its round trips travel together, so this per-tenant
        // critical path has fewer steps than round trips; the long latency keeps
        // rampart's and the emulator's CPU time from counting as a step.
        let mut steps = 1u64;
        if let Some(d) = desired.first()
            && args.latency_ms > 0
        {
            let ctx = GraphContext::builder(options.clone())
                .http(authenticator.http().clone())
                .build()?;
            const CALIBRATION_MS: u64 = 1000;
            for latency in [args.latency_ms, CALIBRATION_MS] {
                rt.block_on(set_latency(authenticator.http(), &ready.graph_url, latency))?;
                let one = vec![(d.clone(), authenticator.tenant_auth(&d.tenant.id)?)];
                let started = Instant::now();
                rt.block_on(crate::fetch::plan_fleet_with(
                    &ctx,
                    one,
                    NonZeroUsize::MIN,
                    CreatedFrom::default(),
                    None,
                    (*reads).into(),
                ));
                let ms = started.elapsed().as_millis() as f64;
                steps = ((ms / latency as f64).round() as u64).max(1);
            }
            rt.block_on(set_latency(
                authenticator.http(),
                &ready.graph_url,
                args.latency_ms,
            ))?;
        }
        for &p in &args.parallelism {
            let parallelism = NonZeroUsize::new(p.max(1)).unwrap_or(NonZeroUsize::MIN);
            let ctx = GraphContext::builder(options.clone())
                .http(authenticator.http().clone())
                .build()?;
            let mut tenants = Vec::with_capacity(desired.len());
            for d in &desired {
                tenants.push((d.clone(), authenticator.tenant_auth(&d.tenant.id)?));
            }
            reset_peak_memory();
            let cpu = (cpu_ms("self"), cpu_ms(&pid));
            let started = Instant::now();
            let plan = rt.block_on(crate::fetch::plan_fleet_with(
                &ctx,
                tenants,
                parallelism,
                CreatedFrom::default(),
                None,
                (*reads).into(),
            ));
            let wall = started.elapsed();
            let saved = crate::plan::saved::save(&plan);
            let plan_bytes = saved.len() as u64;
            let plan_gzip_bytes = crate::plan::saved::gzip(&saved).len() as u64;
            drop(saved);
            let rampart_cpu_ms = cpu_ms("self") - cpu.0;
            let emulator_cpu_ms = cpu_ms(&pid) - cpu.1;
            let totals = ctx.stats().total();
            let n = args.tenants.max(1) as f64;
            let lat = args.latency_ms as f64;
            let rt_per_tenant = totals.round_trips as f64 / n;
            let throughput = totals.round_trips as f64 * lat / parallelism.get() as f64;
            let path = steps as f64 * lat;
            let waves = args.tenants.div_ceil(parallelism.get()) as f64;
            let lower = throughput.max(waves * path);
            let wall_ms = wall.as_millis() as u64;
            let all_objects = (n * objects as f64).max(1.0);
            runs.push(BenchPlanRun {
                policy_reads: *reads,
                parallelism: parallelism.get(),
                wall_ms,
                requests: totals.requests,
                round_trips: totals.round_trips,
                retries: totals.retries,
                token_lookups: totals.token_lookups,
                requests_per_tenant: totals.requests as f64 / n,
                round_trips_per_tenant: rt_per_tenant,
                round_trips_per_object: totals.round_trips as f64 / all_objects,
                requests_per_object: totals.requests as f64 / all_objects,
                throughput_bound_ms: throughput.round() as u64,
                latency_steps_per_tenant: steps,
                per_tenant_path_ms: path.round() as u64,
                lower_bound_ms: lower.round() as u64,
                ratio: if lower > 0.0 {
                    wall_ms as f64 / lower
                } else {
                    0.0
                },
                changes_in_plan: plan.summary.has_changes(),
                errored: plan.errored,
                plan_bytes,
                plan_bytes_per_object: (plan_bytes as f64 / all_objects).round(),
                plan_gzip_bytes,
                plan_gzip_bytes_per_object: (plan_gzip_bytes as f64 / all_objects).round(),
                rampart_peak_memory_mib: peak_memory_mib("self"),
                rampart_cpu_ms,
                emulator_cpu_ms,
            });
        }
    }
    let emulator_peak_memory_mib = peak_memory_mib(&pid);
    drop(child);
    Ok(BenchPlanReport {
        tenants: args.tenants,
        latency_ms: args.latency_ms,
        objects_per_tenant: objects,
        configuration_policies_per_tenant: policies,
        expand_page_size: args.expand_page_size,
        setup_s: (setup_s * 10.0).round() / 10.0,
        runs,
        emulator_peak_memory_mib,
    })
}

/// Sets the emulator process's latency (`PUT /_emulator/faults`).
async fn set_latency(http: &reqwest::Client, base: &str, ms: u64) -> anyhow::Result<()> {
    http.put(format!("{}/_emulator/faults", base.trim_end_matches('/')))
        .json(&FaultConfig {
            latency_ms: ms,
            ..FaultConfig::none()
        })
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (Linux `clear_refs` 5);
/// without it (other systems) the peaks of later runs include earlier ones.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User + system CPU time of a process (`self` or a pid), in ms, from `/proc/{pid}/stat`
/// (fields 14 and 15, in clock ticks of 1/100 s: `USER_HZ` is 100 on Linux's ABIs).
fn cpu_ms(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name (field 2) may hold spaces: count from after its closing `)`.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // After `)`: field 3 is index 0, so utime (14) is 11 and stime (15) is 12.
    (ticks(11) + ticks(12)) * 10
}

/// Peak resident set size of a process (`self` or a pid; `VmHWM`), in MiB; 0 where /proc
/// is absent.
fn peak_memory_mib(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}
