//! `rampart incidents` / `rampart alerts`: list across the selected tenants, or bulk
//! update (`... update`) on a filter or ids. An update is computed first (what changes,
//! from what to what), shown, and written only after a typed `yes` on a terminal or with
//! `--auto-approve`; without a terminal and without `--auto-approve` it refuses. Bad input
//! (an unknown filter or enum value, a refused classification/determination pair, an id
//! not in the selected tenants) is an error before any write.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal};

use anyhow::bail;

use crate::cli::hunt::{Fleet, SocArgs, block_on, print};
use crate::soc::grid::{GridFormat, render};
use crate::soc::incidents::{
    ChangeInput, Entity, Filters, grid, list, pick, plan_grid, plan_sentence, updates,
};

/// Listing filters (shared by list and update).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only this status (repeatable; incidents: active, inProgress, resolved, redirected,
    /// awaitingAction; alerts: new, inProgress, resolved, unknown).
    #[arg(long)]
    pub status: Vec<String>,
    /// Only this severity (repeatable: high, medium, low, informational, unknown).
    #[arg(long)]
    pub severity: Vec<String>,
    /// Only those created at or after this date or RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only those assigned to this user (as Defender shows it).
    #[arg(long)]
    pub assigned_to: Option<String>,
    /// Only incidents with this custom tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only this classification (repeatable).
    #[arg(long)]
    pub classification: Vec<String>,
}

impl FilterArgs {
    fn filters(&self) -> Filters {
        Filters {
            status: self.status.clone(),
            severity: self.severity.clone(),
            since: self.since.clone(),
            assigned_to: self.assigned_to.clone(),
            tag: self.tag.clone(),
            classification: self.classification.clone(),
        }
    }
}

/// `rampart incidents`.
#[derive(Debug, clap::Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub update: Option<UpdateCommand>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Include each incident's alerts.
    #[arg(long)]
    pub with_alerts: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
    #[command(flatten)]
    pub soc: SocArgs,
}

/// `rampart alerts`.
#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub update: Option<UpdateCommand>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
    #[command(flatten)]
    pub soc: SocArgs,
}

/// `... update`.
#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// Update the listed items (ids, or everything matching the filters).
    Update(UpdateArgs),
}

/// Which items an update touches (the listing filters, spelled `--match-*` because the
/// plain names set the new values).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MatchArgs {
    /// Only items with this status (repeatable).
    #[arg(long = "match-status")]
    pub status: Vec<String>,
    /// Only items with this severity (repeatable).
    #[arg(long = "match-severity")]
    pub severity: Vec<String>,
    /// Only items created at or after this date or RFC 3339 time.
    #[arg(long = "match-since")]
    pub since: Option<String>,
    /// Only items assigned to this user.
    #[arg(long = "match-assigned-to")]
    pub assigned_to: Option<String>,
    /// Only incidents with this custom tag.
    #[arg(long = "match-tag")]
    pub tag: Option<String>,
    /// Only items with this classification (repeatable).
    #[arg(long = "match-classification")]
    pub classification: Vec<String>,
}

impl MatchArgs {
    fn filters(&self) -> Filters {
        Filters {
            status: self.status.clone(),
            severity: self.severity.clone(),
            since: self.since.clone(),
            assigned_to: self.assigned_to.clone(),
            tag: self.tag.clone(),
            classification: self.classification.clone(),
        }
    }
}

/// What to update and how.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Ids to update (`ID` or `TENANT/ID`); without ids, everything matching the filters.
    #[arg(long = "id")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub filter: MatchArgs,
    /// New status.
    #[arg(long = "status")]
    pub set_status: Option<String>,
    /// New classification (truePositive, falsePositive, informationalExpectedActivity, unknown).
    #[arg(long = "classification")]
    pub classification_to: Option<String>,
    /// New determination (must fit the classification).
    #[arg(long)]
    pub determination: Option<String>,
    /// Assign to this user (free text, as Defender stores it).
    #[arg(long)]
    pub assign_to: Option<String>,
    /// Replace the custom tags (comma-separated; incidents only).
    #[arg(long)]
    pub tags: Option<String>,
    /// Add this comment.
    #[arg(long)]
    pub comment: Option<String>,
    /// Write without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Output format of the plan and the result.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
    #[command(flatten)]
    pub soc: SocArgs,
}

fn errors(what: &str, list: Vec<String>) -> anyhow::Error {
    anyhow::anyhow!("{what}:\n  {}", list.join("\n  "))
}

fn run_list(
    entity: Entity,
    filter: &FilterArgs,
    with_alerts: bool,
    format: GridFormat,
    soc: &SocArgs,
) -> anyhow::Result<i32> {
    let odata = filter
        .filters()
        .to_odata(entity)
        .map_err(|e| errors("invalid filter", e))?;
    let g = block_on(async {
        let fleet = Fleet::connect(soc).await?;
        let (items, failures) = list(
            fleet.tenants.clone(),
            entity,
            &odata,
            with_alerts,
            fleet.parallelism,
        )
        .await;
        fleet.close().await;
        Ok(grid(entity, &items, failures, with_alerts))
    })?;
    print(&g, format)
}

fn run_update(entity: Entity, args: &UpdateArgs) -> anyhow::Result<i32> {
    let input = ChangeInput {
        status: args.set_status.clone(),
        classification: args.classification_to.clone(),
        determination: args.determination.clone(),
        assigned_to: args.assign_to.clone(),
        tags: args.tags.clone(),
        comment: args.comment.clone(),
    };
    let changes = input
        .validate(entity)
        .map_err(|e| errors("invalid update", e))?;
    let odata = args
        .filter
        .filters()
        .to_odata(entity)
        .map_err(|e| errors("invalid filter", e))?;
    if args.ids.is_empty() && odata.is_empty() {
        bail!(
            "give --id or at least one filter: refusing to update every {} of every tenant",
            entity.noun()
        );
    }
    let interactive = std::io::stdin().is_terminal();
    if !args.auto_approve && !interactive {
        bail!("refusing to write without a terminal to confirm on; pass --auto-approve");
    }
    block_on(async {
        let fleet = Fleet::connect(&args.soc).await?;
        let (items, failures) = list(
            fleet.tenants.clone(),
            entity,
            &odata,
            false,
            fleet.parallelism,
        )
        .await;
        let result = async {
            // A tenant that cannot be read is reported and left untouched; the others go on.
            // An id that was not found may live in such a tenant: say so in that error.
            let unread: Vec<String> = failures
                .iter()
                .map(|f| format!("{} ({}): {}", f.tenant, f.tenant_id, f.message))
                .collect();
            for line in &unread {
                crate::errln!("error: cannot read {line}; it is left untouched");
            }
            let chosen = if args.ids.is_empty() {
                items
            } else {
                pick(&items, &args.ids).map_err(|mut e| {
                    if !unread.is_empty() {
                        e.push(format!(
                            "(tenants that could not be read: {})",
                            failures
                                .iter()
                                .map(|f| f.tenant.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    errors("unknown ids", e)
                })?
            };
            let ups = updates(&chosen, &changes).map_err(|e| errors("refused update", e))?;
            let plan = plan_grid(entity, &ups);
            if ups.is_empty() {
                crate::outln!(
                    "Nothing to change: every selected {} already has these values.",
                    entity.noun()
                )?;
                return Ok(if failures.is_empty() {
                    crate::cli::exit::OK
                } else {
                    crate::cli::exit::ERROR
                });
            }
            crate::redact::print_out(&format!(
                "{}\n{}\n",
                render(&plan, args.format),
                plan_sentence(entity, &ups)
            ))?;
            if !args.auto_approve {
                crate::errprint!("Type `yes` to write these changes: ");
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                if line.trim() != "yes" {
                    bail!("not confirmed; nothing was written");
                }
            }
            let mut result =
                crate::soc::incidents::apply(fleet.tenants.clone(), entity, ups, fleet.parallelism)
                    .await;
            result.failures.extend(failures.iter().cloned());
            result.failures.sort_by(|a, b| a.tenant.cmp(&b.tenant));
            let mut out = String::new();
            if args.format == GridFormat::Table {
                for f in &result.failures {
                    writeln!(out, "failed: {} ({}): {}", f.tenant, f.tenant_id, f.message)?;
                }
                let ok = result.rows.iter().filter(|r| r[3] == "updated").count();
                writeln!(
                    out,
                    "Updated {ok} {}(s); {} failed.",
                    entity.noun(),
                    result.rows.len() - ok
                )?;
            } else {
                out.push_str(&render(&result, args.format));
            }
            crate::redact::print_out(&out)?;
            Ok(if result.failures.is_empty() {
                crate::cli::exit::OK
            } else {
                crate::cli::exit::ERROR
            })
        }
        .await;
        fleet.close().await;
        result
    })
}

/// Runs `rampart incidents [update]`.
pub fn run(args: &IncidentsArgs) -> anyhow::Result<i32> {
    match &args.update {
        Some(UpdateCommand::Update(u)) => run_update(Entity::Incident, u),
        None => run_list(
            Entity::Incident,
            &args.filter,
            args.with_alerts,
            args.format,
            &args.soc,
        ),
    }
}

/// Runs `rampart alerts [update]`.
pub fn run_alerts(args: &AlertsArgs) -> anyhow::Result<i32> {
    match &args.update {
        Some(UpdateCommand::Update(u)) => run_update(Entity::Alert, u),
        None => run_list(Entity::Alert, &args.filter, false, args.format, &args.soc),
    }
}
