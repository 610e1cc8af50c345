//! `rampart show desired --tenant <id|name>`: the resolved desired state of one tenant,
//! after variable substitution, as YAML or JSON. Refuses (exit 1, diagnostics on stderr)
//! when the repository does not validate.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::resolve::{TenantView, find_tenant};

/// What `show` prints.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ShowCommand {
    /// The desired state of one tenant, as resolved from profiles and policies.
    Desired(ShowDesiredArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Yaml,
    Json,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ShowDesiredArgs {
    /// The tenant, by id or by the name profiles give it.
    #[arg(long)]
    pub tenant: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub format: OutputFormat,
    /// The repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// The text `show desired` prints, or an error (with the diagnostics, if any).
pub fn render_desired(args: &ShowDesiredArgs) -> anyhow::Result<String> {
    let validated = super::validate::validated(&args.root)?;
    let Some(tenant) = find_tenant(&validated.tenants, &args.tenant) else {
        let known: Vec<&str> = validated
            .tenants
            .values()
            .map(|t| t.tenant.name.as_str())
            .collect();
        let suggestion = super::select::hint(&args.tenant, known.iter().copied());
        if suggestion.is_empty() {
            bail!(
                "no profile names tenant `{}` (known: {})",
                args.tenant,
                known.join(", ")
            );
        }
        bail!("no profile names tenant `{}`{suggestion}", args.tenant);
    };
    let mut view = serde_json::to_value(TenantView::new(tenant)).context("serialising")?;
    redact_secrets(&mut view);
    Ok(match args.format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&view).context("serialising to JSON")?;
            s.push('\n');
            s
        }
        OutputFormat::Yaml => serde_saphyr::to_string(&view).context("serialising to YAML")?,
    })
}

/// Secret setting values (`SimpleValue::Secret`) are never printed.
fn redact_secrets(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("type").and_then(serde_json::Value::as_str) == Some("secret")
                && let Some(value) = m.get_mut("value")
            {
                *value = serde_json::Value::String("(secret, not shown)".into());
            }
            m.values_mut().for_each(redact_secrets);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

/// Runs `rampart show ...`; returns the exit code.
pub fn run(cmd: &ShowCommand) -> anyhow::Result<i32> {
    match cmd {
        ShowCommand::Desired(args) => {
            let text = render_desired(args)?;
            crate::redact::print_out(&text)?;
            Ok(super::exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted() {
        let mut v = serde_json::json!({"settings": [{"value": {"type": "simple",
            "value": {"type": "secret", "value": "hunter2", "value_state": "notEncrypted"}}}]});
        super::redact_secrets(&mut v);
        assert!(!v.to_string().contains("hunter2"));
    }
}
