//! `rampart catalog refresh --tenant T`: learns the endpoint-security templates from the
//! service. Reads `configurationPolicyTemplates` and each managed template's
//! `settingTemplates?$expand=settingDefinitions` (graph-api-2.md §5.2) through the one
//! connection door ([`crate::graph::setup::connect`]) and writes the catalog snapshot
//! `.rampart/catalog/snapshot.json` inside the repository root, which `validate`, `plan` and
//! `import` then use offline (see [`crate::catalog::snapshot`]). Also
//! `rampart catalog show`, which prints the templates in force with their lifecycle.
//!
//! Limits: only templates of the families rampart has kinds for are read (security
//! baselines and other families are not); the snapshot is rewritten whole each time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use super::plan::GraphArgs;
use crate::catalog::snapshot::{SNAPSHOT_PATH, from_graph, snapshot_path};
use crate::catalog::{Catalog, CatalogFile};
use crate::desired::Kind;
use crate::graph::client::GraphClient;

/// `rampart catalog ...`.
#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub command: CatalogCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// Read the templates' setting templates from a tenant and write the repository's
    /// catalog snapshot (`.rampart/catalog/snapshot.json`).
    Refresh(RefreshArgs),
}

#[derive(Debug, clap::Args)]
pub struct RefreshArgs {
    /// The tenant to read (by profile name or tenant id). Templates are the same in every
    /// tenant; one is enough.
    #[arg(long)]
    pub tenant: String,
    /// Repository root (the snapshot is written under it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// The Graph path listing the templates of the managed families.
fn templates_path() -> String {
    let filter = Kind::ALL
        .into_iter()
        .filter_map(Kind::template_family)
        .filter(|f| *f != "none")
        .map(|f| format!("templateFamily eq '{f}'"))
        .collect::<Vec<_>>()
        .join(" or ");
    format!(
        "/beta/deviceManagement/configurationPolicyTemplates?$filter={}",
        crate::graph::client::percent_encode_query(&filter)
    )
}

/// Reads the templates and their setting templates and converts them into a snapshot.
pub async fn read_snapshot(client: &GraphClient) -> anyhow::Result<CatalogFile> {
    let templates = client
        .get_all(&templates_path())
        .await
        .context("listing configurationPolicyTemplates")?;
    let mut setting_templates = BTreeMap::new();
    for t in &templates {
        let Some(id) = t.get("id").and_then(Value::as_str) else {
            continue;
        };
        let path = format!(
            "/beta/deviceManagement/configurationPolicyTemplates/{}/settingTemplates?$expand=settingDefinitions",
            crate::graph::client::percent_encode_query(id)
        );
        let items = client
            .get_all(&path)
            .await
            .with_context(|| format!("reading the setting templates of {id}"))?;
        setting_templates.insert(id.to_string(), items);
    }
    Ok(from_graph(
        &templates,
        &setting_templates,
        Catalog::shipped(),
    ))
}

/// Writes the snapshot under `root` (creating `.rampart/catalog/`); returns its path.
pub fn write_snapshot(root: &Path, snapshot: &CatalogFile) -> anyhow::Result<PathBuf> {
    let path = snapshot_path(root);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(snapshot)?;
    text.push('\n');
    // Checked before it is written: a snapshot that would not load is not written.
    Catalog::shipped_with(&text).context("the learned catalog is inconsistent")?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Runs `rampart catalog ...`.
pub fn run(args: &CatalogArgs) -> anyhow::Result<i32> {
    match &args.command {
        CatalogCommand::Refresh(a) => refresh(a),
    }
}

fn refresh(args: &RefreshArgs) -> anyhow::Result<i32> {
    let tenant_id = tenant_id(&args.root, &args.tenant)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let snapshot = runtime.block_on(async {
        let (_, ctx, authenticator) = args.graph.connect()?;
        let client = ctx.client(authenticator.tenant_auth(&tenant_id)?);
        read_snapshot(&client).await
    })?;
    let path = write_snapshot(&args.root, &snapshot)?;
    let mut out = String::new();
    writeln!(
        out,
        "wrote {} ({} templates, {} setting definitions)",
        path.display(),
        snapshot.templates.len(),
        snapshot.definitions.len()
    )?;
    for t in &snapshot.templates {
        if let Some(w) = t.lifecycle_warning() {
            writeln!(out, "warning: {w}")?;
        }
    }
    crate::redact::print_out(&out)?;
    Ok(super::exit::OK)
}

/// A tenant named by a profile (name or id), or a raw tenant id.
fn tenant_id(root: &Path, tenant: &str) -> anyhow::Result<String> {
    let v = crate::cli::validate::validate_repository(root, &[]);
    if let Some(d) = crate::resolve::find_tenant(&v.tenants, tenant) {
        return Ok(d.tenant.id.clone());
    }
    let looks_like_id =
        tenant.len() == 36 && tenant.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    anyhow::ensure!(
        looks_like_id,
        "no profile names tenant `{tenant}` and it is not a tenant id; \
         the snapshot goes to {SNAPSHOT_PATH} under --root"
    );
    Ok(tenant.to_string())
}
