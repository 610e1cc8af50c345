//! `rampart emulator`: serve the Graph emulator (see `crate::emulator`) for people, CI and
//! benchmarks, with seeding, fault injection and a state directory.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use rampart_emulator::{
    self as emulator, AppSeed, EmulatorConfig, FaultConfig, TenantSeed, WriteLimit,
};

/// Client id of the app the emulator registers unless a seed file brings its own apps.
pub const DEFAULT_APP_ID: &str = "7e57a990-0000-4000-8000-000000000001";
/// The app secret of a fresh state when --app-secret is not given (a development value).
pub const DEFAULT_APP_SECRET: &str = "rampart-emulator";
/// Tenant created when nothing else seeds one (the "contoso" of the docs).
pub const DEFAULT_TENANT: &str = "6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01";

/// Serve a Microsoft Graph emulator (Entra token endpoint, Intune configuration policies,
/// Defender detection rules, RBAC, groups, $batch) on loopback.
///
/// SEEDING (applied only when the state directory holds no tenants yet):
///   --seed-file F      JSON {"apps":[{appId, secrets, federatedCredentials}],
///                      "tenants":[{id, displayName, consents:{appId:[roles]}, groups,
///                      policies, detectionRules}]}
///   --seed-profiles D  every DistributionProfile under D gives tenants; the groups the
///                      repository assigns to (after ${tenant.*}/${vars.*}) are created
///   --seed-policies D  exported policy JSON: D/*.json into every tenant,
///                      D/<tenant id|domain|name>/*.json into that tenant (unmanaged,
///                      pre-existing policies)
///   --tenant ID        add a tenant (repeatable)
/// Without any of these, tenant 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01 ("Contoso") is
/// created. The app --app-id / --app-secret is registered and consented with every
/// application role in every seeded tenant.
///
/// FAULTS (reproducible from --fault-seed; Graph requests only, never the token endpoint):
/// latency + jitter, 429 with Retry-After (seconds or HTTP date), 503, dropped
/// connections, slow answers, out-of-band portal edits, and Intune's write limit
/// (100 writes / 20 s per app per tenant, 200 for all apps; on by default).
///
/// STATE: with --state-dir, every change is written atomically (temp file + rename) to
/// DIR/tenants/<id>.json and reloaded on the next start; client secrets are stored only as
/// hashes. Tokens do not survive a restart.
///
/// ADMIN: GET /_emulator/requests, /_emulator/counters, /_emulator/tenants;
/// PUT /_emulator/faults; POST /_emulator/tenants (a seed);
/// POST /_emulator/tenants/{tid}/configurationPolicies/{id}/edit (out-of-band edit).
#[derive(Clone, Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory to persist state to and reload it from.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// JSON seed file (apps, tenants, groups, policies, detection rules).
    #[arg(long)]
    pub seed_file: Option<PathBuf>,
    /// Repository (or profiles directory) whose DistributionProfiles give tenants and groups.
    #[arg(long)]
    pub seed_profiles: Option<PathBuf>,
    /// Directory of exported configuration policy JSON files to pre-load.
    #[arg(long)]
    pub seed_policies: Option<PathBuf>,
    /// Add a tenant by id (repeatable).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Client id of the app registered and consented in every seeded tenant.
    #[arg(long, default_value = DEFAULT_APP_ID)]
    pub app_id: String,
    /// Client secret of that app (a development value; use your own for shared setups).
    /// Default: `rampart-emulator` on a fresh state; on a restart, the secrets already
    /// stored. Given on a restart, it replaces the stored secrets (a rotation).
    #[arg(long, env = "RAMPART_EMULATOR_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// Fixed latency added to every Graph request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Random extra latency, uniform in 0..=N milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Fraction (0..1) of Graph requests answered 429 Too Many Requests.
    #[arg(long, default_value_t = 0.0)]
    pub rate_429: f64,
    /// Fraction of Graph requests answered 503 Service Unavailable.
    #[arg(long, default_value_t = 0.0)]
    pub rate_503: f64,
    /// Fraction of Graph requests whose connection is closed without an answer.
    #[arg(long, default_value_t = 0.0)]
    pub rate_drop: f64,
    /// Fraction of Graph requests answered only after --slow-ms.
    #[arg(long, default_value_t = 0.0)]
    pub rate_slow: f64,
    /// Delay of a slow answer, in milliseconds.
    #[arg(long, default_value_t = 120_000)]
    pub slow_ms: u64,
    /// Retry-After sent with injected 429/503, in seconds.
    #[arg(long, default_value_t = 2)]
    pub retry_after: u64,
    /// Send Retry-After as an HTTP date instead of seconds.
    #[arg(long)]
    pub retry_after_date: bool,
    /// Fraction of Graph requests before which an admin edits a policy in the "portal".
    #[arg(long, default_value_t = 0.0)]
    pub rate_oob_edit: f64,
    /// Intune write limit: PER_APP/PER_TENANT/WINDOW_SECS (default 100/200/20), or `off`.
    #[arg(long, default_value = "100/200/20")]
    pub write_limit: String,
    /// Seed of the fault draws.
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3599)]
    pub token_lifetime: i64,
    /// Measure throughput once (N GET requests, 32 concurrent) and exit instead of serving.
    #[arg(long)]
    pub bench: Option<usize>,
}

/// Parses `--write-limit`.
pub fn parse_write_limit(s: &str) -> anyhow::Result<Option<WriteLimit>> {
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let parts: Vec<u64> = s
        .split('/')
        .map(|p| p.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("--write-limit {s:?}: expected PER_APP[/PER_TENANT[/WINDOW_SECS]] or off")
        })?;
    let per_app = *parts.first().context("--write-limit is empty")?;
    let per_tenant = parts.get(1).copied().unwrap_or(per_app * 2);
    let window_secs = parts.get(2).copied().unwrap_or(20);
    Ok(Some(WriteLimit {
        per_app: u32::try_from(per_app).context("--write-limit too large")?,
        per_tenant: u32::try_from(per_tenant).context("--write-limit too large")?,
        window_secs,
    }))
}

/// The fault configuration the arguments describe.
pub fn faults(args: &EmulatorArgs) -> anyhow::Result<FaultConfig> {
    for (name, v) in [
        ("--rate-429", args.rate_429),
        ("--rate-503", args.rate_503),
        ("--rate-drop", args.rate_drop),
        ("--rate-slow", args.rate_slow),
        ("--rate-oob-edit", args.rate_oob_edit),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&v),
            "{name} must be between 0 and 1, got {v}"
        );
    }
    Ok(FaultConfig {
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        rate_429: args.rate_429,
        rate_503: args.rate_503,
        rate_drop: args.rate_drop,
        rate_slow: args.rate_slow,
        slow_ms: args.slow_ms,
        retry_after_secs: args.retry_after,
        retry_after_date: args.retry_after_date,
        write_limit: parse_write_limit(&args.write_limit)?,
        rate_oob_edit: args.rate_oob_edit,
        ..FaultConfig::default()
    })
}

/// Runs `rampart emulator` (blocking until Ctrl-C).
pub fn run(args: &EmulatorArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args.clone()))
}

/// Seeds according to the arguments (only when the state holds no tenants yet).
/// On a restart (the state holds tenants), only an explicit `--app-secret` is applied: it
/// replaces the app's stored secrets, so the old secret stops working as a rotation expects.
pub fn seed(emu: &emulator::Emulator, args: &EmulatorArgs) -> anyhow::Result<()> {
    if !emu.tenant_ids().is_empty() {
        if let Some(secret) = &args.app_secret {
            emu.set_app_secrets(&args.app_id, std::slice::from_ref(secret))?;
        }
        return Ok(());
    }
    let roles: Vec<String> = emulator::ALL_ROLES.iter().map(|r| r.to_string()).collect();
    emu.add_app(&AppSeed {
        app_id: args.app_id.clone(),
        display_name: "rampart emulator app".into(),
        secrets: vec![
            args.app_secret
                .clone()
                .unwrap_or_else(|| DEFAULT_APP_SECRET.to_string()),
        ],
        ..AppSeed::default()
    })?;
    let consent = || [(args.app_id.clone(), roles.clone())].into();
    if let Some(f) = &args.seed_file {
        let mut s = emulator::seed::load_seed_file(f)?;
        for t in &mut s.tenants {
            t.consents
                .entry(args.app_id.clone())
                .or_insert_with(|| roles.clone());
        }
        emu.apply_seed(&s)?;
    }
    if let Some(dir) = &args.seed_profiles {
        let refs: Vec<&str> = emulator::ALL_ROLES.to_vec();
        for t in emulator::seed::seed_from_profiles(dir, Some(&args.app_id), &refs)? {
            emu.add_tenant(&t)?;
        }
    }
    for id in &args.tenants {
        emu.add_tenant(&TenantSeed {
            id: id.clone(),
            consents: consent(),
            ..TenantSeed::default()
        })?;
    }
    if emu.tenant_ids().is_empty() {
        emu.add_tenant(&TenantSeed {
            id: DEFAULT_TENANT.into(),
            display_name: "Contoso".into(),
            domain: Some("contoso.onmicrosoft.com".into()),
            consents: consent(),
            groups: ["Pilot Devices", "All Workstations", "Kiosks", "MSSP SOC"]
                .iter()
                .map(|g| (*g).into())
                .collect(),
            ..TenantSeed::default()
        })?;
    }
    if let Some(dir) = &args.seed_policies {
        emulator::seed::seed_policies(emu, dir)?;
    }
    Ok(())
}

async fn serve(args: EmulatorArgs) -> anyhow::Result<i32> {
    let config = EmulatorConfig {
        seed: args.fault_seed,
        faults: faults(&args)?,
        state_dir: args.state_dir.clone(),
        listen: if args.bench.is_some() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            args.listen
        },
        token_lifetime_secs: args.token_lifetime,
        ..EmulatorConfig::default()
    };
    let emu = emulator::Emulator::new(&config)?;
    let restarted = !emu.tenant_ids().is_empty();
    seed(&emu, &args)?;
    let running = emulator::start_with(emu, config.listen, None).await?;
    let tenants = running.admin().tenant_ids();
    if let Some(n) = args.bench {
        let first = tenants.first().context("no tenant to benchmark against")?;
        let token = running.admin().issue_token(first, &args.app_id)?;
        let r =
            emulator::bench_requests(&running.graph_url(), &token, "/v1.0/groups", n, 32).await?;
        crate::outln!(
            "{} GET /v1.0/groups ({} ok) in {:.2} s with 32 connections: {:.0} requests/s",
            r.requests,
            r.ok,
            r.seconds,
            r.per_second
        )?;
        running.shutdown().await;
        return Ok(super::exit::OK);
    }
    if !running.addr().ip().is_loopback() {
        // The admin endpoints and the development app secret are for loopback use.
        crate::errln!(
            "warning: listening on {}, not loopback: /_emulator/ endpoints are unauthenticated",
            running.addr()
        );
    }
    let base = running.base_url();
    let example = tenants
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_TENANT.to_string());
    crate::outln!("rampart Graph emulator listening on {base}")?;
    crate::outln!("  Graph:  {base}/beta/...  and  {base}/v1.0/...")?;
    crate::outln!("  Token:  POST {base}/{{tenant}}/oauth2/v2.0/token")?;
    crate::outln!("  Admin:  {base}/_emulator/requests | counters | tenants | faults")?;
    let secret = match (&args.app_secret, restarted) {
        (Some(_), _) => "the --app-secret value",
        (None, false) => "the default, rampart-emulator",
        (None, true) => "as stored in the state directory; --app-secret replaces it",
    };
    crate::outln!(
        "  {} tenant(s), e.g. {example}; app {} (secret: {secret})",
        tenants.len(),
        args.app_id
    )?;
    crate::outln!()?;
    crate::outln!("  curl -s {base}/{example}/oauth2/v2.0/token \\")?;
    crate::outln!(
        "    -d grant_type=client_credentials -d client_id={} \\",
        args.app_id
    )?;
    crate::outln!("    --data-urlencode client_secret=\"$SECRET\" \\")?;
    crate::outln!("    --data-urlencode scope=https://graph.microsoft.com/.default")?;
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    running.shutdown().await;
    Ok(super::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn args(extra: &[&str], dir: &std::path::Path) -> EmulatorArgs {
        let mut argv = vec!["emulator", "--state-dir", dir.to_str().expect("utf-8")];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).expect("args").args
    }

    /// The secrets a restarted state accepts after seeding with `extra`.
    fn accepts(emu: &emulator::Emulator, secret: &str) -> bool {
        emu.app(DEFAULT_APP_ID).is_some_and(|a| {
            a.secret_hashes
                .iter()
                .any(|h| emulator::token::secret_matches(h, secret))
        })
    }

    #[test]
    fn an_explicit_app_secret_on_restart_replaces_the_stored_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let open = || {
            emulator::Emulator::new(&EmulatorConfig {
                state_dir: Some(dir.path().to_path_buf()),
                ..EmulatorConfig::default()
            })
            .expect("emulator")
        };
        // Fresh: the default, or the given secret.
        let emu = open();
        seed(&emu, &args(&[], dir.path())).expect("seed");
        assert!(accepts(&emu, DEFAULT_APP_SECRET));
        drop(emu);
        // Restart without --app-secret: the stored secret stays.
        let emu = open();
        seed(&emu, &args(&[], dir.path())).expect("seed");
        assert!(accepts(&emu, DEFAULT_APP_SECRET));
        drop(emu);
        // Restart with --app-secret, twice: each replaces the one before.
        for (old, new) in [
            (DEFAULT_APP_SECRET, "rotated-1"),
            ("rotated-1", "rotated-2"),
        ] {
            let emu = open();
            seed(&emu, &args(&["--app-secret", new], dir.path())).expect("seed");
            assert!(accepts(&emu, new), "{new}");
            assert!(!accepts(&emu, old), "{old} still accepted");
            drop(emu);
        }
    }

    #[test]
    fn write_limit_forms() {
        assert_eq!(parse_write_limit("off").unwrap(), None);
        assert_eq!(
            parse_write_limit("100/200/20").unwrap(),
            Some(WriteLimit::INTUNE)
        );
        assert_eq!(
            parse_write_limit("5").unwrap(),
            Some(WriteLimit {
                per_app: 5,
                per_tenant: 10,
                window_secs: 20
            })
        );
        assert!(parse_write_limit("x").is_err());
    }
}
