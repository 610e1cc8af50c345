//! `rampart tenants verify|add|import`: onboarding a customer tenant.
//!
//! - `verify [--profile P | --tenant T] [--for plan|apply] [--format human|json]`: token,
//!   `tid`, application roles and one read per needed surface, per tenant; exit 1 if any
//!   tenant fails. `--emulator` runs against the built-in emulator seeded from the
//!   repository's profiles (as `rampart plan --emulator` does); `--graph-url`/`--login-url`
//!   /`--auth` as for `rampart plan`.
//! - `add --profile FILE --id GUID --name NAME [--display-name D] [--var k=v]...`: a
//!   comment-preserving edit of the profile file, validated with the whole repository
//!   before anything is written (atomically), then the tenant's desired objects.
//! - `import --tenant T [--out DIR] [--adopt]`: see [`crate::onboard::tenant_import`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::desired::TenantDesired;
use crate::diag::{self, Format};
use crate::graph::auth::Authenticator;
use crate::graph::client::GraphContext;
use crate::onboard::permissions::{self, Purpose, Surface};
use crate::onboard::profile_edit::{AddOutcome, NewTenant, add_to_repository};
use crate::onboard::verify::{GraphAccess, VerifyReport, VerifyTarget, render_human, verify};

use super::exit;
use super::permissions::{OutputFormat, PurposeArg};
use super::plan::GraphArgs;

/// Onboard customer tenants: verify access, add to a profile, import what they hold.
#[derive(Clone, Debug, clap::Args)]
pub struct TenantsArgs {
    #[command(subcommand)]
    pub command: TenantsCommand,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum TenantsCommand {
    /// Check that rampart can get a token for each tenant and holds the permissions its
    /// configuration needs.
    Verify(VerifyArgs),
    /// Add a tenant to a profile file, keeping its comments and layout.
    Add(AddArgs),
    /// Write rampart YAML for what a tenant already has (policies, detection rules).
    Import(ImportTenantArgs),
}

/// `rampart tenants verify`.
#[derive(Clone, Debug, clap::Args)]
pub struct VerifyArgs {
    /// Repository root (holding policies/ and profiles/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Only tenants of this profile (repeatable).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Only this tenant, by name or id (repeatable). An id no profile names is checked
    /// against what the whole configuration needs.
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Check the permissions for plan (read) or apply (write).
    #[arg(long = "for", value_enum, default_value_t = PurposeArg::Apply)]
    pub purpose: PurposeArg,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Verify against the built-in Graph emulator seeded from the profiles.
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `rampart tenants add`.
#[derive(Clone, Debug, clap::Args)]
pub struct AddArgs {
    /// The profile file to edit.
    #[arg(long = "profile", value_name = "FILE")]
    pub profile: PathBuf,
    /// The profile's `name`, when the file holds several profiles.
    #[arg(long)]
    pub profile_name: Option<String>,
    /// Entra tenant id (GUID).
    #[arg(long)]
    pub id: String,
    /// Short name, unique, used in addresses (lower case, digits, dashes).
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub display_name: Option<String>,
    /// A tenant variable, `key=value` (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Repository root, validated as a whole with the edit before anything is written.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// `rampart import --tenant` / `rampart tenants import`.
#[derive(Clone, Debug, clap::Args)]
pub struct ImportTenantArgs {
    /// Repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The tenant, by name (from a profile) or id.
    #[arg(long)]
    pub tenant: String,
    /// Where to write the YAML (default: policies/imported/<tenant>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// After writing, plan the tenant and apply an adoption plan that writes rampart's
    /// ownership marker into the imported objects (the plan is printed first).
    #[arg(long)]
    pub adopt: bool,
    /// With --adopt or --adopt-as: do not ask for confirmation of the adoption plan (for
    /// pipelines; without a terminal and without it, adoption is refused).
    #[arg(long)]
    pub auto_approve: bool,
    /// Adopt the tenant's look-alike of the existing desired object NAME onto it (no
    /// document is imported); the tenant ends with one policy.
    #[arg(long, value_name = "NAME", conflicts_with = "adopt")]
    pub adopt_as: Option<String>,
    /// Read from the built-in emulator (seeded from the profiles) instead of Graph.
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs `rampart tenants ...`.
pub fn run(args: &TenantsArgs) -> anyhow::Result<i32> {
    match &args.command {
        TenantsCommand::Verify(a) => run_verify(a),
        TenantsCommand::Add(a) => run_add(a),
        TenantsCommand::Import(a) => run_import(a),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn validated(root: &Path) -> anyhow::Result<BTreeMap<String, TenantDesired>> {
    let v = crate::cli::validate::validate_repository(root, &[]);
    if v.has_errors() {
        let text = diag::render(&v.diagnostics, &v.loaded.sources, Format::Concise, false);
        bail!("the repository does not validate:\n{text}");
    }
    Ok(v.tenants)
}

/// The tenants to verify, each with what it needs for `purpose`.
pub fn verify_targets(
    all: &BTreeMap<String, TenantDesired>,
    profiles: &[String],
    tenants: &[String],
    purpose: Purpose,
) -> anyhow::Result<Vec<VerifyTarget>> {
    let list: Vec<TenantDesired> = all.values().cloned().collect();
    let mut errors = super::select::unknown_profiles(&list, profiles);
    for x in tenants {
        if !list.iter().any(|t| super::select::names_tenant(t, x)) && !crate::load::is_guid(x) {
            errors.push(format!(
                "no profile names tenant `{x}`{} (give its id to verify a tenant not yet in a profile)",
                super::select::hint(x, list.iter().map(|t| t.tenant.name.as_str()))
            ));
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    let needs_of = |t: &TenantDesired| permissions::needs(t, purpose);
    let mut out: Vec<VerifyTarget> = all
        .values()
        .filter(|t| profiles.is_empty() || t.profiles.iter().any(|p| profiles.contains(p)))
        .filter(|t| {
            tenants.is_empty()
                || tenants
                    .iter()
                    .any(|x| &t.tenant.name == x || t.tenant.id.eq_ignore_ascii_case(x))
        })
        .map(|t| VerifyTarget {
            name: t.tenant.name.clone(),
            tenant_id: t.tenant.id.clone(),
            needs: needs_of(t),
        })
        .collect();
    // A tenant id that no profile names yet (before `tenants add`): check it against the
    // union of what every tenant needs.
    let union = permissions::merge_needs(&all.values().map(needs_of).collect::<Vec<_>>());
    for x in tenants {
        let known = all
            .values()
            .any(|t| &t.tenant.name == x || t.tenant.id.eq_ignore_ascii_case(x));
        if known {
            continue;
        }
        if !crate::load::is_guid(x) {
            bail!(
                "no profile names tenant `{x}` (give its id to verify a tenant not yet in a profile)"
            );
        }
        let needs = if union.is_empty() {
            [(Surface::ConfigurationPolicies, permissions::Level::Read)].into()
        } else {
            union.clone()
        };
        out.push(VerifyTarget {
            name: x.to_ascii_lowercase(),
            tenant_id: x.to_ascii_lowercase(),
            needs,
        });
    }
    Ok(out)
}

/// Runs the checks; the report (no printing).
pub async fn verify_report(args: &VerifyArgs) -> anyhow::Result<VerifyReport> {
    let all = validated(&args.root)?;
    let purpose: Purpose = args.purpose.into();
    let targets = verify_targets(&all, &args.profiles, &args.tenants, purpose)?;
    if args.emulator {
        let desired: Vec<TenantDesired> = all.values().cloned().collect();
        let demo = crate::demo::start(&desired, &args.root.join("profiles"))
            .await
            .context("cannot start the built-in emulator")?;
        let ctx = demo.context()?;
        let access = GraphAccess::new(&demo.authenticator, ctx);
        let report = verify(&access, &targets, purpose).await;
        demo.emulator.shutdown().await;
        Ok(report)
    } else {
        let (_, ctx, auth) = args.graph.connect()?;
        let access = GraphAccess::new(&auth, ctx);
        Ok(verify(&access, &targets, purpose).await)
    }
}

fn run_verify(args: &VerifyArgs) -> anyhow::Result<i32> {
    let report = runtime()?.block_on(verify_report(args))?;
    let text = match args.format {
        OutputFormat::Human => render_human(&report),
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
    };
    crate::redact::print_out(&text)?;
    Ok(if report.ok { exit::OK } else { exit::ERROR })
}

fn parse_vars(vars: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for v in vars {
        let Some((k, val)) = v.split_once('=') else {
            bail!("--var `{v}`: expected KEY=VALUE");
        };
        if out.insert(k.trim().to_string(), val.to_string()).is_some() {
            bail!("--var `{k}` given twice");
        }
    }
    Ok(out)
}

/// Edits the profile, validates the whole repository with the edit, writes atomically.
pub fn add(args: &AddArgs) -> anyhow::Result<AddOutcome> {
    let tenant = NewTenant {
        id: args.id.clone(),
        name: args.name.clone(),
        display_name: args.display_name.clone(),
        vars: parse_vars(&args.vars)?,
    };
    Ok(add_to_repository(
        &args.root,
        &args.profile,
        args.profile_name.as_deref(),
        &tenant,
    )?)
}

fn run_add(args: &AddArgs) -> anyhow::Result<i32> {
    let outcome = add(args)?;
    use std::fmt::Write as _;
    let mut out = String::new();
    writeln!(
        out,
        "Added tenant `{}` to {}.",
        outcome.tenant_name,
        args.profile.display()
    )?;
    writeln!(
        out,
        "\nIt will receive {} object(s):",
        outcome.objects.len()
    )?;
    for o in &outcome.objects {
        writeln!(out, "  {}/{o}", outcome.tenant_name)?;
    }
    writeln!(
        out,
        "\nNext (these talk to the tenant):\n  rampart tenants verify --tenant {0}\n  rampart import --tenant {0}\n  rampart plan --tenant {0}",
        outcome.tenant_name
    )?;
    crate::redact::print_out(&out)?;
    Ok(exit::OK)
}

pub fn run_import(args: &ImportTenantArgs) -> anyhow::Result<i32> {
    let (text, code) = runtime()?.block_on(import(args, false))?;
    crate::redact::print_out(&text)?;
    Ok(code)
}

/// `rampart import --tenant`: reads the tenant, writes the YAML, and with `--adopt` plans
/// and applies the adoption. Returns the text for stdout and the exit code.
pub async fn import(args: &ImportTenantArgs, color: bool) -> anyhow::Result<(String, i32)> {
    let adopting = args.adopt || args.adopt_as.is_some();
    if args.auto_approve && !adopting {
        bail!("--auto-approve confirms an adoption: give it with --adopt or --adopt-as");
    }
    if adopting && !args.auto_approve && !std::io::stdin().is_terminal() {
        // Refused before anything is read or written: adoption writes to the tenant.
        bail!(
            "adoption writes rampart's marker into the tenant's objects and asks for confirmation first, but there is no terminal to ask on: pass --auto-approve (pipelines), or run it in a terminal"
        );
    }
    let all = validated(&args.root)?;
    let desired = crate::resolve::find_tenant(&all, &args.tenant)
        .cloned()
        .with_context(|| {
            format!(
                "no profile names tenant `{}`{}: add it first (`rampart tenants add`)",
                args.tenant,
                super::select::hint(&args.tenant, all.values().map(|t| t.tenant.name.as_str()))
            )
        })?;
    let name = desired.tenant.name.clone();
    let mut demo = None;
    let (auth, context) = if args.emulator {
        let list: Vec<TenantDesired> = all.values().cloned().collect();
        let d = crate::demo::start(&list, &args.root.join("profiles"))
            .await
            .context("cannot start the built-in emulator")?;
        let context = d.context()?;
        demo = Some(d);
        (None, context)
    } else {
        let (_, context, a) = args.graph.connect()?;
        (Some(a), context)
    };
    let authenticator: &Authenticator = match (&auth, &demo) {
        (Some(a), _) => a,
        (None, Some(d)) => &d.authenticator,
        (None, None) => bail!("no authenticator"),
    };
    let result = import_with(args, &desired, &name, authenticator, &context, color).await;
    if let Some(d) = demo {
        d.emulator.shutdown().await;
    }
    result
}

/// The body of [`import`] once Graph access is set up (tests call it with an emulator).
pub async fn import_with(
    args: &ImportTenantArgs,
    desired: &TenantDesired,
    name: &str,
    authenticator: &Authenticator,
    context: &GraphContext,
    color: bool,
) -> anyhow::Result<(String, i32)> {
    use crate::onboard::tenant_import::{
        adoption_plan, import_tenant, tenant_label, write_documents,
    };
    if let Some(target) = &args.adopt_as {
        // Adoption onto an existing desired object: nothing is imported.
        let chosen = crate::onboard::tenant_import::adopt_as_addresses(desired, target)?;
        let (plan, n) = adoption_plan(context, authenticator, desired, Some(&chosen)).await?;
        let mut text = String::from("Adoption plan:\n");
        text.push_str(&crate::render::render_human(
            &plan,
            crate::render::HumanOptions { color },
        ));
        anyhow::ensure!(
            n > 0 && !plan.errored,
            "{text}cannot adopt as `{target}`: `{name}` holds no unmanaged policy with its display name"
        );
        return confirm_and_adopt(text, &plan, args.auto_approve, context, authenticator).await;
    }
    let client = context.client(authenticator.tenant_auth(&desired.tenant.id)?);
    let imported = import_tenant(&client, name).await?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| args.root.join("policies").join("imported").join(name));
    // Imported YAML is repository content: inside the root unless named absolutely outside
    // it, never through a symlink out (issue 10); every target is checked before any write.
    let repo = crate::repo_files::Repo::open(&args.root)?;
    let dir = repo.contain_output(&dir)?;
    for d in &imported.documents {
        repo.contain_output(&dir.join(format!("{}.yaml", d.name)))?;
    }
    let written = write_documents(&dir, &imported, args.force)?;
    let mut text = String::new();
    for w in &written {
        text.push_str(&format!("wrote {}\n", w.display()));
    }
    // The tenant-only profile is written when the documents go into the repository's
    // `policies/imported/<tenant>` (no --out): only then does its selector find them.
    let profile = if imported.documents.is_empty() || args.out.is_some() {
        None
    } else {
        crate::onboard::tenant_import::write_tenant_profile(&args.root.join("profiles"), desired)?
    };
    if let Some(p) = &profile {
        text.push_str(&format!("wrote {}\n", p.display()));
    }
    for s in &imported.skipped {
        text.push_str(&format!(
            "skipped {} {} ({}): {}\n",
            s.kind, s.graph_id, s.display_name, s.reason
        ));
    }
    for s in &imported.managed {
        text.push_str(&format!(
            "already managed {} {} ({}): {}\n",
            s.kind, s.graph_id, s.display_name, s.reason
        ));
    }
    text.push_str(&format!(
        "Imported {} object(s) from tenant `{name}`, skipped {}, already managed {}.\n",
        imported.documents.len(),
        imported.skipped.len(),
        imported.managed.len()
    ));
    if !args.adopt {
        if imported.documents.is_empty() {
            return Ok((
                text,
                if imported.skipped.is_empty() {
                    exit::OK
                } else {
                    exit::ERROR
                },
            ));
        }
        let selector = if profile.is_some() || args.out.is_none() {
            format!(
                "They are selected by `{{ label: {} }}` in profiles/{}.yaml, a profile that targets `{name}` alone",
                tenant_label(name),
                tenant_label(name)
            )
        } else {
            format!(
                "To manage them, add `- {{ label: {} }}` to the `policies` of a profile that targets `{name}` alone (a shared profile would give them to other tenants)",
                tenant_label(name)
            )
        };
        text.push_str(&format!(
            "\n{selector}; `rampart plan --tenant {name}` lists them as adoption candidates with no changes, and `rampart import --tenant {name} --adopt` (or re-running with --adopt) writes rampart's marker into them.\n"
        ));
        return Ok((
            text,
            if imported.skipped.is_empty() {
                exit::OK
            } else {
                exit::ERROR
            },
        ));
    }
    // Adoption: the imported documents must be part of the tenant's desired state.
    let all = validated(&args.root)?;
    let desired = crate::resolve::find_tenant(&all, &desired.tenant.id)
        .cloned()
        .context("the tenant disappeared from the profiles")?;
    let chosen: BTreeSet<String> = imported
        .documents
        .iter()
        .map(|d| format!("{name}/{}/{}", d.kind, d.name))
        .collect();
    let missing: Vec<&String> = chosen
        .iter()
        .filter(|a| {
            !desired
                .objects
                .keys()
                .any(|(k, n)| &&format!("{name}/{k}/{n}") == a)
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "cannot adopt: no profile of `{name}` selects the imported documents ({} of them); add `- {{ label: {} }}` to its `policies` and run again with --force --adopt",
            missing.len(),
            tenant_label(name)
        );
    }
    let (plan, n) = adoption_plan(context, authenticator, &desired, Some(&chosen)).await?;
    text.push_str("\nAdoption plan:\n");
    text.push_str(&crate::render::render_human(
        &plan,
        crate::render::HumanOptions { color },
    ));
    if n == 0 || plan.errored {
        text.push_str("Nothing to adopt.\n");
        return Ok((text, if plan.errored { exit::ERROR } else { exit::OK }));
    }
    confirm_and_adopt(text, &plan, args.auto_approve, context, authenticator).await
}

/// Shows `text` (what was done, and the adoption plan) and asks, exactly as `apply` does,
/// unless `auto_approve`; then applies the adoption plan. Returns the text still to print
/// and the exit code (1 when declined or when a write failed).
async fn confirm_and_adopt(
    mut text: String,
    plan: &crate::plan::Plan,
    auto_approve: bool,
    context: &GraphContext,
    authenticator: &Authenticator,
) -> anyhow::Result<(String, i32)> {
    if !auto_approve {
        crate::redact::print_out(&text)?;
        text.clear();
        if !super::confirm("Do you want to adopt these objects?")? {
            crate::errln!("Adoption cancelled.");
            return Ok((text, exit::ERROR));
        }
    }
    let connector = crate::onboard::tenant_import::AuthConnector {
        context: context.clone(),
        authenticator,
    };
    let report = crate::apply::apply_plan(plan, &connector, &crate::apply::ApplyOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("adoption refused: {e}"))?;
    text.push_str(&report.render_human());
    Ok((
        text,
        if report.success {
            exit::OK
        } else {
            exit::ERROR
        },
    ))
}
