//! The command-line layer: argument parsing (clap) and the only place that writes to
//! stdout/stderr. Each subcommand lives in its own file and maps its outcome to an exit
//! code; `main.rs` only calls [`run`].

use std::io::IsTerminal;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

pub mod apply;
pub mod bench;
pub mod catalog;
pub mod devices;
pub mod emulator;
pub mod graph;
pub mod hunt;
pub mod import;
pub mod incidents;
pub mod permissions;
pub mod plan;
pub mod progress;
pub mod report;
pub mod rollout;
pub mod select;
pub mod show;
pub mod show_plan;
pub mod tenants;
pub mod validate;

/// Exit codes, as documented in the README ("Exit codes"). 2 means one thing only: with
/// `--detailed-exitcode`, "the plan has changes"; a usage error is never 2 (clap's default
/// would make a mistyped nightly drift job report drift instead of failing).
pub mod exit {
    /// Success; with `--detailed-exitcode`, also "no changes". Also: stdout closed early
    /// by the reader (`rampart show plan.json | head`), as ripgrep does.
    pub const OK: i32 = 0;
    /// Any error: a usage error (unknown flag, bad value, a selection that matches
    /// nothing), invalid input, a failed tenant, a refused or declined apply.
    pub const ERROR: i32 = 1;
    /// With `--detailed-exitcode`: the plan has changes (when the repository tracks a
    /// rollout: drift, or changes mixed with drift).
    pub const CHANGES: i32 = 2;
    /// With `--detailed-exitcode`, when the repository tracks a rollout
    /// (`rollout/promotions.yaml`): every change is pending promotion to its ring; no drift.
    pub const PENDING: i32 = 3;
    /// `rollout` / `apply --ring`: held at a promotion gate (a lower ring soaking, not in
    /// step or not promoted); nothing was written to the held ring.
    pub const HELD: i32 = 4;
}

/// Policy-as-code for Microsoft Defender across many tenants.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// When to colour output: auto (a terminal and NO_COLOR unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Shorthand for --color never.
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log verbosity on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl Cli {
    /// Whether stdout output should be coloured, honouring `NO_COLOR` (https://no-color.org).
    pub fn stdout_color(&self) -> bool {
        self.color_for(std::io::stdout().is_terminal())
    }

    /// Whether stderr (log lines, progress) should be coloured, by the same rule.
    pub fn stderr_color(&self) -> bool {
        self.color_for(std::io::stderr().is_terminal())
    }

    fn color_for(&self, terminal: bool) -> bool {
        if self.no_color {
            return false;
        }
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check policies and profiles (every file, every tenant) without touching any tenant.
    Validate(validate::ValidateArgs),
    /// Show what rampart would change in each tenant.
    Plan(plan::PlanArgs),
    /// Apply a saved plan exactly, or plan afresh and apply after a typed `yes`.
    Apply(apply::ApplyArgs),
    /// Promote the rollout rings in order: gate (lower rings in step and soaked), apply,
    /// verify, record; stop at the first ring held or failing.
    Rollout(rollout::RolloutArgs),
    /// Write the fleet report: one self-contained HTML page of every tenant's state, from a
    /// saved plan or a fresh one.
    Report(report::ReportArgs),
    /// Show a saved plan (`rampart show FILE`) or a tenant's desired state
    /// (`rampart show desired --tenant T`).
    Show(ShowArgs),
    /// Write rampart YAML for existing policies: from exported JSON (offline,
    /// `--from-json`) or from what a tenant holds (`--tenant`, optionally `--adopt`).
    Import(ImportCommandArgs),
    /// Onboard tenants: verify access, import what a tenant has, add it to a profile.
    Tenants(tenants::TenantsArgs),
    /// The least-privilege application permissions the configuration needs.
    Permissions(permissions::PermissionsArgs),
    /// Measure plan and apply on an emulated fleet (prints figures).
    Bench(bench::BenchArgs),
    /// Run one KQL query in every selected tenant (advanced hunting) and merge the rows.
    Hunt(hunt::HuntArgs),
    /// List or bulk-update Defender XDR incidents across the selected tenants.
    Incidents(incidents::IncidentsArgs),
    /// List or bulk-update Defender XDR alerts across the selected tenants.
    Alerts(incidents::AlertsArgs),
    /// Device counts per tenant (onboarding, exposure, sensor health) through hunting.
    Devices(devices::DevicesArgs),
    /// Vulnerabilities per tenant by severity and the top CVEs across the fleet.
    Vulnerabilities(devices::VulnerabilitiesArgs),
    /// Serve the built-in Microsoft Graph emulator (login, Intune, Defender, Entra).
    Emulator(emulator::EmulatorArgs),
    /// The settings catalog: `refresh` learns the templates from a tenant into the
    /// repository's snapshot.
    Catalog(catalog::CatalogArgs),
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are successes; every other parse error is a usage
            // error, exit 1 (never clap's 2: see [`exit`]).
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                // A missing subcommand (`rampart`, `rampart tenants`) prints help but is a
                // usage error, as the README says.
                _ => exit::ERROR,
            };
        }
    };
    init_tracing(cli.verbose, cli.stderr_color());
    match dispatch(&cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => exit::OK,
        Err(err) => {
            crate::errln!("error: {err:#}");
            exit::ERROR
        }
    }
}

/// True when the error is stdout closed by its reader (`| head`): not a failure of
/// rampart's, so it ends quietly with success, as ripgrep does.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `import` reads either exported JSON files (offline) or a live tenant.
#[derive(Debug, clap::Args)]
pub struct ImportCommandArgs {
    /// A JSON file (a policy, a Graph list response, an array) or a directory of them.
    #[arg(long = "from-json", value_name = "FILE|DIR", required_unless_present = "tenant",
          conflicts_with_all = ["tenant", "adopt", "emulator"])]
    pub from_json: Option<std::path::PathBuf>,
    /// Import what this tenant holds (by profile name or id).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Directory to write one `<name>.yaml` per object into (with --from-json, default
    /// stdout; with --tenant, default policies/imported/<tenant>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// With --tenant: plan and apply an adoption plan that writes rampart's ownership
    /// marker into the imported objects (the plan is printed first).
    #[arg(long, requires = "tenant")]
    pub adopt: bool,
    /// With --adopt or --adopt-as: do not ask for confirmation (for pipelines; without a
    /// terminal and without it, adoption is refused).
    #[arg(long)]
    pub auto_approve: bool,
    /// With --tenant: adopt the tenant's unmanaged look-alike (same display name) of the
    /// existing desired object NAME onto it, instead of importing it under a new name, so
    /// the tenant ends with one policy (the adoption plan is printed first).
    #[arg(
        long,
        value_name = "NAME",
        requires = "tenant",
        conflicts_with = "adopt"
    )]
    pub adopt_as: Option<String>,
    /// With --tenant: read from the built-in emulator instead of Graph.
    #[arg(long, requires = "tenant")]
    pub emulator: bool,
    /// Repository root (with --tenant).
    #[arg(long, default_value = ".")]
    pub root: std::path::PathBuf,
    #[command(flatten)]
    pub graph: plan::GraphArgs,
}

impl ImportCommandArgs {
    fn run(&self) -> anyhow::Result<i32> {
        match (&self.from_json, &self.tenant) {
            (Some(from_json), _) => {
                anyhow::ensure!(
                    !self.force || self.out.is_some(),
                    "--force only applies with --out"
                );
                import::run(&import::ImportArgs {
                    from_json: from_json.clone(),
                    out: self.out.clone(),
                    force: self.force,
                })
            }
            (None, Some(tenant)) => tenants::run_import(&tenants::ImportTenantArgs {
                root: self.root.clone(),
                tenant: tenant.clone(),
                out: self.out.clone(),
                force: self.force,
                adopt: self.adopt,
                auto_approve: self.auto_approve,
                adopt_as: self.adopt_as.clone(),
                emulator: self.emulator,
                graph: self.graph.clone(),
            }),
            (None, None) => anyhow::bail!("`rampart import` needs --from-json or --tenant"),
        }
    }
}

/// `show` takes either a plan file or a `desired` subcommand.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ShowArgs {
    #[command(flatten)]
    pub plan: Option<show_plan::ShowPlanArgs>,
    #[command(subcommand)]
    pub what: Option<show::ShowCommand>,
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let color = cli.stdout_color();
    match &cli.command {
        Command::Validate(args) => {
            let (text, code) = validate::render(args, color);
            write_stdout(&text)?;
            Ok(code)
        }
        Command::Plan(args) => plan::run(args, color),
        Command::Report(args) => report::run(args),
        Command::Show(ShowArgs {
            what: Some(what), ..
        }) => show::run(what),
        Command::Show(ShowArgs {
            plan: Some(args), ..
        }) => show_plan::run(args, color),
        Command::Show(_) => {
            anyhow::bail!("`rampart show` needs a plan file or `desired --tenant T`")
        }
        Command::Apply(args) => apply::run(args, color),
        Command::Rollout(args) => rollout::run(args),
        Command::Import(args) => args.run(),
        Command::Tenants(args) => tenants::run(args),
        Command::Permissions(args) => permissions::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Catalog(args) => catalog::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Incidents(args) => incidents::run(args),
        Command::Alerts(args) => incidents::run_alerts(args),
        Command::Devices(args) => devices::run_devices(args),
        Command::Vulnerabilities(args) => devices::run_vulnerabilities(args),
        Command::Completions { shell } => {
            // Generated into memory, then written: a closed pipe is then an error we see.
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "rampart", &mut buf);
            write_stdout(&String::from_utf8_lossy(&buf))?;
            Ok(exit::OK)
        }
    }
}

/// Asks `question` on stderr and reads the answer from the terminal; true only for a typed
/// `yes` (as Terraform). Errors: no terminal on stdin.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::BufRead as _;
    let stdin = std::io::stdin();
    anyhow::ensure!(
        stdin.is_terminal(),
        "no terminal to confirm on: pass --auto-approve"
    );
    crate::errprint!("\n{question} Only `yes` will be accepted: ");
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    crate::redact::print_out(text)?;
    Ok(())
}

/// Logs go to stderr only; stdout is reserved for the command's output. Coloured only
/// when `--color`/`--no-color`/`NO_COLOR` and a terminal on stderr say so.
fn init_tracing(verbose: u8, color: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // azure_core logs credential requests before rampart's loopback rewrite (the `https://`
    // form of an `http://` emulator); rampart's transport logs the URL actually used.
    let default = format!(
        "{default},{}=off",
        crate::graph::transport::AZURE_REQUEST_LOG_TARGET
    );
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::redact::stderr)
        .with_ansi(color)
        .with_target(false)
        .try_init();
}
