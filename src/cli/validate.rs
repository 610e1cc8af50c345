//! `rampart validate [PATHS..]`: load and check the policy repository (every file, every
//! tenant, and the saved hunts under `hunts/` when no paths are given), print every
//! diagnostic in the chosen format, exit 1 on any error.

use std::path::PathBuf;

use crate::diag::{self, Format};

/// Check policies and profiles without touching any tenant.
#[derive(Clone, Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories to check (default: `policies/` and `profiles/` under --root).
    pub paths: Vec<PathBuf>,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The repository root; paths are shown relative to it.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// [`crate::resolve::validate`] plus the one check that needs the process environment and
/// so lives at the CLI edge, not in the pure resolver: no desired object may hold the value
/// of a credential variable in use (a secret pasted into a KQL file or a variable would be
/// written into every tenant's object while every printed form shows it redacted). Every
/// command that validates, plans or applies goes through this.
pub fn validate_repository(root: &std::path::Path, paths: &[PathBuf]) -> crate::resolve::Validated {
    let mut validated = crate::resolve::validate(root, paths);
    let found = credentials_in_desired_state(&validated, crate::redact::process());
    if !found.is_empty() {
        validated.diagnostics.extend(found);
        diag::sort_dedup(&mut validated.diagnostics);
    }
    validated
}

/// One `credential-in-desired-state` error per (tenant, object) whose resolved content holds
/// a credential value known to `redactor`, at the object's document, naming the variable,
/// never the value.
pub fn credentials_in_desired_state(
    validated: &crate::resolve::Validated,
    redactor: &crate::redact::Redactor,
) -> Vec<diag::Diagnostic> {
    if redactor.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for desired in validated.tenants.values() {
        for ((kind, name), object) in &desired.objects {
            let text = serde_json::to_string(object).unwrap_or_default();
            let names = redactor.found_in(&text);
            if names.is_empty() {
                continue;
            }
            let origin = object.origin();
            let start = validated
                .loaded
                .sources
                .get(&origin.path)
                .map_or(0, |t| line_start(t, origin.line));
            out.push(
                diag::Diagnostic::error(
                    "credential-in-desired-state",
                    format!(
                        "`{}/{kind}/{name}` holds the value of {} (a credential in use): it would be written into the tenant",
                        desired.tenant.name,
                        names.join(", ")
                    ),
                )
                .at(diag::Span::new(origin.path.clone(), start..start))
                .with_help(
                    "remove the secret from the policy, its query file or the variables it uses; rotate it if it was committed",
                ),
            );
        }
    }
    out
}

/// Byte offset of the start of 1-based `line` in `text` (the end when past it).
fn line_start(text: &str, line: u32) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line as usize - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

/// The whole repository at `root`, validated, for the commands that start from it
/// (`report`, `permissions`, `show desired`). A repository with any error is an error whose
/// message is every diagnostic (concise, without colour), so nothing is planned or printed
/// from a repository `validate` would refuse.
pub fn validated(root: &std::path::Path) -> anyhow::Result<crate::resolve::Validated> {
    let validated = validate_repository(root, &[]);
    if validated.has_errors() {
        let text = diag::render(
            &validated.diagnostics,
            &validated.loaded.sources,
            Format::Concise,
            false,
        );
        anyhow::bail!("the repository does not validate:\n{text}");
    }
    Ok(validated)
}

/// Renders the outcome of validating `args` as the text to print and the exit code.
/// Pure apart from reading the files; the caller writes the text.
/// Saved hunts (`hunts/`) are checked too when no paths are given (the whole repository),
/// and their diagnostics are merged into the same sorted list, so every format and the
/// exit code cover them.
pub fn render(args: &ValidateArgs, color: bool) -> (String, i32) {
    let validated = validate_repository(&args.root, &args.paths);
    let hunts = if args.paths.is_empty() {
        crate::soc::hunt::check_saved(&args.root)
    } else {
        crate::soc::hunt::CheckedHunts::default()
    };
    let mut diagnostics = validated.diagnostics.clone();
    diagnostics.extend(hunts.diagnostics.iter().cloned());
    diag::sort_dedup(&mut diagnostics);
    let mut sources = validated.loaded.sources.clone();
    hunts.add_sources(&mut sources);
    let mut out = diag::render(&diagnostics, &sources, args.format, color);
    if matches!(args.format, Format::Human) {
        let files: std::collections::BTreeSet<&str> = validated
            .loaded
            .documents
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        let saved = if hunts.hunts.is_empty() {
            String::new()
        } else {
            format!(
                ", {} saved hunt{}",
                hunts.hunts.len(),
                if hunts.hunts.len() == 1 { "" } else { "s" }
            )
        };
        out.push_str(&format!(
            "{}: {} document{} in {} file{}, {} tenant{}{saved}\n",
            diag::summary(&diagnostics),
            validated.loaded.documents.len(),
            if validated.loaded.documents.len() == 1 {
                ""
            } else {
                "s"
            },
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            validated.tenants.len(),
            if validated.tenants.len() == 1 {
                ""
            } else {
                "s"
            },
        ));
    }
    let code = if diagnostics.iter().any(diag::Diagnostic::is_error) {
        super::exit::ERROR
    } else {
        super::exit::OK
    };
    (out, code)
}

/// Runs `rampart validate`: prints diagnostics to stdout, returns the exit code.
pub fn run(args: &ValidateArgs) -> anyhow::Result<i32> {
    let color = matches!(args.format, Format::Human)
        && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
    let (text, code) = render(args, color);
    crate::redact::print_out(&text)?;
    Ok(code)
}
