//! `rampart import --from-json <file|dir> [--out DIR] [--force]`: convert exported
//! settings-catalog policies (Graph JSON, IntuneCD exports, bare `settings[]`) into rampart
//! YAML documents, offline. Without `--out` the documents go to stdout as one multi-document
//! YAML stream; with it, one `<name>.yaml` per policy. Skipped policies and unreadable files
//! are listed on stderr with the reason; the exit code is 1 when anything was skipped or
//! unreadable, so a script notices, 0 otherwise.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::json_import::{ImportReport, import_path};

/// Convert exported policy JSON into rampart YAML (no network access).
#[derive(Clone, Debug, clap::Args)]
pub struct ImportArgs {
    /// A JSON file (a policy, a Graph list response, an array) or a directory of them.
    #[arg(long = "from-json", value_name = "FILE|DIR")]
    pub from_json: PathBuf,
    /// Write one `<name>.yaml` per policy into this directory instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite files that already exist in --out.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// The text for stdout (documents) and stderr (what was skipped), and the exit code.
pub fn render(report: &ImportReport) -> (String, String, i32) {
    let mut stdout = String::new();
    for (i, (_, p)) in report.imported.iter().enumerate() {
        if i > 0 {
            stdout.push_str("---\n");
        }
        stdout.push_str(&p.yaml);
    }
    let stderr = problems(report);
    (stdout, stderr, exit_code(report))
}

fn problems(report: &ImportReport) -> String {
    let mut s = String::new();
    for (path, wrapper) in &report.unwrapped {
        s.push_str(&format!("read {path} from {wrapper}\n"));
    }
    for k in &report.skipped {
        let name = k
            .display_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        s.push_str(&format!("skipped {}{name}: {}", k.source, k.error));
        // The typed error keeps its cause as a source; show it once, here.
        let mut cause = std::error::Error::source(&k.error);
        while let Some(c) = cause {
            s.push_str(&format!(": {c}"));
            cause = c.source();
        }
        s.push('\n');
    }
    for (path, e) in &report.unreadable {
        s.push_str(&format!("unreadable {path}: {e}\n"));
    }
    s.push_str(&format!(
        "imported {} polic{}, skipped {}, unreadable {}\n",
        report.imported.len(),
        if report.imported.len() == 1 {
            "y"
        } else {
            "ies"
        },
        report.skipped.len(),
        report.unreadable.len()
    ));
    s
}

fn exit_code(report: &ImportReport) -> i32 {
    if report.skipped.is_empty() && report.unreadable.is_empty() {
        super::exit::OK
    } else {
        super::exit::ERROR
    }
}

/// Runs `rampart import`.
pub fn run(args: &ImportArgs) -> anyhow::Result<i32> {
    let report = import_path(&args.from_json)
        .with_context(|| format!("reading {}", args.from_json.display()))?;
    match &args.out {
        None => {
            let (out, err, code) = render(&report);
            crate::redact::print_out(&out)?;
            crate::errprint!("{err}");
            Ok(code)
        }
        Some(dir) => {
            // Offline conversion has no --root: the repository is the working directory.
            // Every target is checked first (inside it, no symlink out) so a refusal writes
            // nothing.
            let repo = crate::repo_files::Repo::open(std::path::Path::new("."))?;
            let targets: Vec<PathBuf> = report
                .imported
                .iter()
                .map(|(_, p)| dir.join(format!("{}.yaml", p.name)))
                .collect();
            for t in &targets {
                repo.contain_output(t)?;
            }
            if !args.force
                && let Some(existing) = targets.iter().find(|t| t.exists())
            {
                bail!("{} exists; use --force to overwrite", existing.display());
            }
            for ((_, p), target) in report.imported.iter().zip(&targets) {
                repo.write_output(target, &p.yaml)
                    .with_context(|| format!("writing {}", target.display()))?;
                crate::errln!("wrote {}", target.display());
            }
            crate::errprint!("{}", problems(&report));
            Ok(exit_code(&report))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_has_the_documents_and_stderr_the_skipped_ones() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph");
        let report = import_path(&dir).unwrap();
        let (out, err, code) = render(&report);
        assert_eq!(out.matches("\n---\n").count(), report.imported.len() - 1);
        assert!(out.starts_with("# Imported by `rampart import`"));
        // Issue 13: the EDR and plain settings-catalog policies of the fixtures import now.
        assert!(
            out.contains("kind: EndpointDetectionAndResponsePolicy"),
            "{out}"
        );
        assert!(
            err.ends_with("imported 7 policies, skipped 0, unreadable 0\n"),
            "{err}"
        );
        assert_eq!(code, crate::cli::exit::OK);
    }
}
