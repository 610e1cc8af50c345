//! Issue 9 / 11: one connection path. Every subcommand is classified here as connecting or
//! offline, from clap's own command tree: a new subcommand fails this test until it is
//! classified, and a connecting one must take the shared Graph flags (so it goes through
//! `graph::setup`). Each connecting subcommand is then run with environment-only
//! configuration against a served emulator and must succeed there; the dead proxy of
//! [`super::command`] makes any request elsewhere fail it.

use clap::CommandFactory as _;

use super::*;

/// Subcommands that talk to Graph or the login authority, with the arguments a pipeline
/// would give them.
const CONNECTING: &[(&str, &[&str])] = &[
    ("plan", &["plan", "--tenant", CONTOSO]),
    ("apply", &["apply", "--auto-approve", "--tenant", CONTOSO]),
    (
        "import",
        &["import", "--tenant", CONTOSO, "--out", "imported-a"],
    ),
    (
        "tenants verify",
        &["tenants", "verify", "--tenant", CONTOSO],
    ),
    (
        "tenants import",
        &[
            "tenants",
            "import",
            "--tenant",
            CONTOSO,
            "--out",
            "imported-b",
        ],
    ),
    (
        "catalog refresh",
        &["catalog", "refresh", "--tenant", CONTOSO],
    ),
    ("hunt", &["hunt", "DeviceInfo | count", "--tenant", CONTOSO]),
    ("incidents", &["incidents", "--tenant", CONTOSO]),
    (
        "incidents update",
        &[
            "incidents",
            "update",
            "--tenant",
            CONTOSO,
            "--match-status",
            "resolved",
            "--status",
            "resolved",
            "--auto-approve",
        ],
    ),
    ("alerts", &["alerts", "--tenant", CONTOSO]),
    (
        "alerts update",
        &[
            "alerts",
            "update",
            "--tenant",
            CONTOSO,
            "--match-status",
            "resolved",
            "--status",
            "resolved",
            "--auto-approve",
        ],
    ),
    ("devices", &["devices", "--tenant", CONTOSO]),
    ("vulnerabilities", &["vulnerabilities", "--tenant", CONTOSO]),
    (
        "report",
        &["report", "--tenant", CONTOSO, "-o", "fleet-connect.html"],
    ),
    // Last: it promotes every ring of the shipped profiles (and records it).
    ("rollout", &["rollout", "--auto-approve"]),
];

/// Subcommands that never connect (the emulator and bench serve or embed their own).
const OFFLINE: &[&str] = &[
    "validate",
    "show",
    "show desired",
    "tenants add",
    "permissions",
    "bench",
    "bench plan",
    "bench apply",
    "bench emulator",
    "emulator",
    "completions",
];

fn leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, bool)>) {
    for sub in cmd.get_subcommands() {
        let name = if prefix.is_empty() {
            sub.get_name().to_string()
        } else {
            format!("{prefix} {}", sub.get_name())
        };
        let has_graph = sub.get_arguments().any(|a| a.get_id() == "graph_url");
        out.push((name.clone(), has_graph));
        leaves(sub, &name, out);
    }
}

#[test]
fn every_subcommand_is_classified_and_connecting_ones_take_the_shared_flags() {
    let mut all = Vec::new();
    leaves(&rampart::cli::Cli::command(), "", &mut all);
    for (name, has_graph) in &all {
        if name == "tenants" || name == "catalog" || name == "help" || name.ends_with(" help") {
            continue;
        }
        let connecting = CONNECTING.iter().any(|(n, _)| n == name);
        let offline = OFFLINE.contains(&name.as_str());
        assert!(
            connecting || offline,
            "new subcommand `{name}`: classify it in tests/cli/connect.rs (connecting ones must flatten cli::graph::GraphArgs)"
        );
        assert_eq!(
            connecting, *has_graph,
            "`{name}`: connecting commands take the shared --graph-url/--login-url/--cloud/--auth flags, others do not"
        );
    }
}

#[test]
fn every_connecting_subcommand_reaches_the_configured_endpoint_and_nothing_else() {
    let (repo, emu) = served();
    for (name, args) in CONNECTING {
        let before = emu.requests().len();
        let o = run(repo.path(), args, &emu.env());
        assert_eq!(o.status.code(), Some(0), "`{name}`:\n{}", text(&o));
        let after = emu.requests();
        assert!(
            after.len() > before,
            "`{name}` sent nothing to the emulator"
        );
        assert!(
            after[before..].iter().any(|r| r["route"] == "token"),
            "`{name}`: no token from the configured authority"
        );
        assert!(
            !stdout(&o).contains(APP_SECRET) && !stderr(&o).contains(APP_SECRET),
            "`{name}` printed the secret"
        );
    }
}

/// The control: without `RAMPART_GRAPH_URL` the public Graph host is used, which the dead
/// proxy refuses, so the trap above does catch a request that goes elsewhere.
#[test]
fn the_trap_catches_a_request_to_the_public_cloud() {
    let (repo, emu) = served();
    let env: Vec<(String, String)> = emu
        .env()
        .into_iter()
        .filter(|(k, _)| k != "RAMPART_GRAPH_URL")
        .collect();
    let o = run(repo.path(), &["plan", "--tenant", CONTOSO], &env);
    // The emulator's authority is not a cloud host, so nothing is refused up front: the
    // Graph requests go to the public host and fail on the dead proxy.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let graph_requests = emu
        .requests()
        .iter()
        .filter(|r| r["route"] != "token")
        .count();
    assert_eq!(graph_requests, 0, "Graph requests reached the emulator");
}

#[test]
fn a_login_authority_of_another_cloud_is_refused_before_any_request() {
    let (repo, emu) = served();
    let mut env = emu.env();
    // Graph from the cloud (usgov), the authority of the public cloud from the environment.
    env.retain(|(k, _)| k != "AZURE_AUTHORITY_HOST" && k != "RAMPART_GRAPH_URL");
    env.push(("RAMPART_CLOUD".into(), "usgov".into()));
    env.push((
        "AZURE_AUTHORITY_HOST".into(),
        "https://login.microsoftonline.com".into(),
    ));
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["tenants", "verify"],
    ] {
        let o = run(repo.path(), args, &env);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let err = stderr(&o);
        assert!(err.contains("different clouds"), "{err}");
        assert!(err.contains("login.microsoftonline.com"), "{err}");
    }
    assert!(emu.requests().is_empty());
}

/// Issue 10: `tenants verify` goes through the same retrying client as `plan`, so a
/// throttling emulator (a third of Graph requests answered 429, and 503s) fails no tenant.
#[test]
fn tenants_verify_survives_throttling_like_plan() {
    let repo = repo();
    let emu = Emulator::start_with(repo.path(), &["--rate-429", "0.3", "--rate-503", "0.1"]);
    let o = run_ok(
        repo.path(),
        &["tenants", "verify", "--format", "json"],
        &emu.env(),
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["tenants"].as_array().map(Vec::len), Some(5));
    let throttled = emu
        .requests()
        .iter()
        .filter(|r| r["status"] == 429 || r["status"] == 503)
        .count();
    assert!(
        throttled > 0,
        "the emulator throttled nothing: the test proves nothing"
    );
}
