//! `rampart plan`: load and resolve the repository, read every selected tenant from Graph
//! (or from the built-in emulator with `--emulator`), and print the plan; `--out` saves it
//! for `rampart show` and `rampart apply`.
//!
//! Exit codes: 0 success (with `--detailed-exitcode`: no changes), 1 any error (invalid
//! repository, a failed tenant, an object in error), 2 with `--detailed-exitcode` when the
//! plan has changes.

use std::io::{IsTerminal as _, Write as _};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::desired::{Kind, TenantDesired};
use crate::diag::{self, Format};
use crate::fetch::{self, FleetEvent, Progress, demo};
use crate::graph::auth::AuthMethod;
use crate::graph::setup::{ConnectOptions, connect};
use crate::plan::{CreatedFrom, Plan, save};
use crate::render::{COMMENT_LIMIT, HumanOptions, render_human, render_json, render_markdown};

use super::exit;

/// How a plan is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Human,
    Json,
    Markdown,
}

/// Where Graph is and how to sign in (shared by commands that talk to Graph).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct GraphArgs {
    /// Authentication: secret, assertion-file, github-oidc, managed-identity, azure-cli
    /// (default: chosen from the AZURE_* environment variables).
    #[arg(long)]
    pub auth: Option<String>,
    /// Graph base URL (https, or http to loopback only; RAMPART_GRAPH_URL).
    #[arg(long)]
    pub graph_url: Option<String>,
    /// Login authority (default https://login.microsoftonline.com; AZURE_AUTHORITY_HOST).
    #[arg(long)]
    pub login_url: Option<String>,
}

impl GraphArgs {
    /// The graph layer's connection settings.
    pub fn connect_options(&self) -> anyhow::Result<ConnectOptions> {
        Ok(ConnectOptions {
            auth: self
                .auth
                .as_deref()
                .map(str::parse::<AuthMethod>)
                .transpose()?,
            graph_url: self.graph_url.clone(),
            login_url: self.login_url.clone(),
        })
    }
}

/// Which tenants and objects a plan covers (shared by `plan` and a fresh `apply`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Selection {
    /// Only tenants of this distribution profile (repeatable).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Only this tenant, by name or id (repeatable).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Only this address: tenant, tenant/Kind or tenant/Kind/name (repeatable).
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Only objects of this kind (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
}

impl Selection {
    /// The `--kind` values as kinds.
    pub fn kinds(&self) -> anyhow::Result<Vec<Kind>> {
        parse_kinds(&self.kinds)
    }

    /// The selection as the plan records it, each list sorted (reproducible bytes).
    pub fn created_from(&self) -> CreatedFrom {
        CreatedFrom {
            source: String::new(),
            profiles: sorted(&self.profiles),
            tenants: sorted(&self.tenants),
            targets: sorted(&self.targets),
            kinds: sorted(&self.kinds),
        }
    }
}

/// Show what rampart would change in each tenant.
#[derive(Clone, Debug, clap::Args)]
pub struct PlanArgs {
    /// Repository root (holding policies/ and profiles/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    #[command(flatten)]
    pub select: Selection,
    /// Tenants read at the same time.
    #[arg(long, default_value_t = crate::graph::fleet::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Also save the plan (JSON) to this file, for `rampart show` and `rampart apply`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 1 on error, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan against the built-in Graph emulator, seeded from the repository's profiles with
    /// tenants in step, drifted, new and with unmanaged look-alikes (no credentials, no
    /// network).
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs `rampart plan`; returns the exit code.
pub fn run(args: &PlanArgs, color: bool) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let plan = rt.block_on(make_plan(args))?;
    // Planning only reads; say which lock an apply of this plan will hold per tenant.
    if let Ok(lock) = crate::lock::LockConfig::from_env(&args.root, |k| std::env::var(k).ok()) {
        eprintln!(
            "Lock: none held while planning; apply holds: {}",
            lock.describe()
        );
    }
    let text = match args.format {
        PlanFormat::Human => render_human(&plan, HumanOptions { color }),
        PlanFormat::Json => render_json(&plan),
        PlanFormat::Markdown => render_markdown(&plan, COMMENT_LIMIT),
    };
    if let Some(out) = &args.out {
        std::fs::write(out, save(&plan))
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(crate::redact::scrub(&text).as_bytes())?;
    stdout.flush()?;
    Ok(exit_code(&plan, args.detailed_exitcode))
}

/// 1 when errored; with `--detailed-exitcode` 2 when there are changes; else 0.
pub fn exit_code(plan: &Plan, detailed: bool) -> i32 {
    if plan.errored {
        exit::ERROR
    } else if detailed && plan.summary.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    }
}

/// The selected tenants' desired states, or the repository's diagnostics as an error.
pub fn select_tenants(args: &PlanArgs) -> anyhow::Result<(Vec<TenantDesired>, Vec<TenantDesired>)> {
    let validated = crate::load::validate(&args.root, &[]);
    if validated.has_errors() {
        let text = diag::render(
            &validated.diagnostics,
            &validated.loaded.sources,
            Format::Concise,
            false,
        );
        bail!("the repository does not validate:\n{text}");
    }
    let all: Vec<TenantDesired> = validated.tenants.values().cloned().collect();
    for t in &args.select.tenants {
        if !all
            .iter()
            .any(|d| &d.tenant.name == t || d.tenant.id.eq_ignore_ascii_case(t))
        {
            bail!("no profile names tenant `{t}`");
        }
    }
    for p in &args.select.profiles {
        if !all.iter().any(|d| d.profiles.contains(p)) {
            bail!("no profile named `{p}` targets any tenant");
        }
    }
    let selected = all
        .iter()
        .filter(|d| {
            args.select.profiles.is_empty()
                || d.profiles.iter().any(|p| args.select.profiles.contains(p))
        })
        .filter(|d| {
            args.select.tenants.is_empty()
                || args
                    .select
                    .tenants
                    .iter()
                    .any(|t| &d.tenant.name == t || d.tenant.id.eq_ignore_ascii_case(t))
        })
        .cloned()
        .collect();
    Ok((all, selected))
}

fn parse_kinds(kinds: &[String]) -> anyhow::Result<Vec<Kind>> {
    kinds
        .iter()
        .map(|k| {
            Kind::parse(k).with_context(|| {
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown kind `{k}` (kinds: {})", all.join(", "))
            })
        })
        .collect()
}

fn progress(total: usize) -> Progress {
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} tenants {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Arc::new(move |e: FleetEvent| {
            let FleetEvent::TenantDone { tenant, .. } = e;
            bar.inc(1);
            bar.set_message(tenant);
            if done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == total {
                bar.finish_and_clear();
            }
        })
    } else {
        Arc::new(move |e: FleetEvent| {
            let FleetEvent::TenantDone { tenant, ok } = e;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let state = if ok { "planned" } else { "FAILED" };
            eprintln!("[{n}/{total}] {tenant}: {state}");
        })
    }
}

/// Loads, reads and plans; the whole of `rampart plan` but the output.
pub async fn make_plan(args: &PlanArgs) -> anyhow::Result<Plan> {
    let kinds = args.select.kinds()?;
    let (all, selected) = select_tenants(args)?;
    let parallelism =
        NonZeroUsize::new(args.parallelism).context("--parallelism must be at least 1")?;
    let mut created_from = args.select.created_from();
    let bar = Some(progress(selected.len()));
    let mut plan = if args.emulator {
        created_from.source = "emulator".into();
        let demo = demo::start(&all, &args.root.join("profiles"))
            .await
            .context("cannot start the built-in emulator")?;
        let ctx = demo.context()?;
        let mut tenants = Vec::new();
        for d in selected {
            let auth = demo.auth(&d.tenant.id)?;
            tenants.push((d, auth));
        }
        let plan = fetch::plan_fleet(&ctx, tenants, parallelism, created_from, bar).await;
        demo.emulator.shutdown().await;
        plan
    } else {
        let (ctx, authenticator) =
            connect(&args.graph.connect_options()?, |k| std::env::var(k).ok())?;
        created_from.source = ctx.options().graph_url.to_string();
        let mut tenants = Vec::new();
        for d in selected {
            let auth = authenticator.tenant_auth(&d.tenant.id)?;
            tenants.push((d, auth));
        }
        fetch::plan_fleet(&ctx, tenants, parallelism, created_from, bar).await
    };
    plan.filter(&args.select.targets, &kinds);
    Ok(plan)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{Address, Kind};
    use crate::plan::{Action, ObjectPlan, TenantPlan, TenantStatus};

    fn plan_with(action: Option<Action>, failed: bool) -> Plan {
        let mut t = TenantPlan {
            tenant: "contoso".into(),
            tenant_id: "t".into(),
            status: TenantStatus::Ok,
            objects: vec![],
            observation: None,
        };
        if let Some(a) = action {
            t.objects.push(ObjectPlan::new(
                Address {
                    tenant: "contoso".into(),
                    kind: Kind::DetectionRule,
                    name: "r".into(),
                },
                a,
                "r",
            ));
        }
        let mut tenants = vec![t];
        if failed {
            tenants.push(TenantPlan::failed("fabrikam", "f", "403"));
        }
        Plan::new(tenants, "sha256:00".into(), CreatedFrom::default())
    }

    #[test]
    fn detailed_exit_codes() {
        assert_eq!(exit_code(&plan_with(None, false), true), exit::OK);
        assert_eq!(
            exit_code(&plan_with(Some(Action::NoOp), false), true),
            exit::OK
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Create), false), true),
            exit::CHANGES
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Create), false), false),
            exit::OK
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Error), false), true),
            exit::ERROR
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Create), true), true),
            exit::ERROR
        );
        // An adoption candidate is not a change apply would make.
        assert_eq!(
            exit_code(&plan_with(Some(Action::Adopt), false), true),
            exit::OK
        );
    }
}
