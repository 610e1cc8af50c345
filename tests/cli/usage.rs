//! Usage errors found by attack: a parent command without its subcommand prints help and
//! exits 1 (only `--help` and `--version` exit 0); the log shows the credential request's
//! URL actually used; a loopback Graph URL never borrows the public cloud's authority.

use clap::CommandFactory as _;

use super::*;

/// Every command path whose clap definition requires a subcommand.
fn parents(cmd: &clap::Command, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if cmd.is_subcommand_required_set() || cmd.get_subcommands().any(|s| s.get_name() != "help") {
        out.push(prefix.clone());
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        prefix.push(sub.get_name().to_string());
        parents(sub, prefix, out);
        prefix.pop();
    }
}

#[test]
fn a_missing_subcommand_exits_1_with_help_on_every_parent_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    parents(&rampart::cli::Cli::command(), &mut Vec::new(), &mut all);
    // rampart, tenants, bench, catalog, show, incidents, alerts at least.
    assert!(all.len() >= 6, "{all:?}");
    let mut checked = 0;
    for path in &all {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let o = run(dir.path(), &args, &[]);
        let cmd = args.iter().fold(rampart::cli::Cli::command(), |c, a| {
            c.find_subcommand(a).cloned().unwrap()
        });
        if cmd.is_subcommand_required_set() || args.is_empty() {
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
            assert!(text(&o).contains("Usage"), "{args:?}: {}", text(&o));
            checked += 1;
        } else {
            // An optional subcommand (`incidents` lists): whatever it does, never 0 here
            // (no tenants, no credential) and never clap's 2.
            assert_ne!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        }
    }
    assert!(checked >= 4, "{all:?}");
    for args in [&["tenants"][..], &[], &["bench"], &["catalog"]] {
        let o = run(dir.path(), args, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
    }
}

#[test]
fn a_loopback_graph_url_with_the_default_authority_is_refused_before_any_request() {
    let dir = repo();
    for graph in ["http://127.0.0.1:9", "http://[::1]:9", "http://localhost:9"] {
        let env = vec![
            ("RAMPART_GRAPH_URL".to_string(), graph.to_string()),
            ("AZURE_CLIENT_ID".to_string(), APP_ID.to_string()),
            ("AZURE_CLIENT_SECRET".to_string(), APP_SECRET.to_string()),
        ];
        for cmd in [
            &["plan", "--tenant", CONTOSO][..],
            &["-vv", "tenants", "verify"],
        ] {
            let o = run(dir.path(), cmd, &env);
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{graph} {cmd:?}: {t}");
            assert!(t.contains("loopback"), "{graph} {cmd:?}: {t}");
            assert!(!t.contains("==> Request"), "{graph}: {t}");
        }
    }
}

#[test]
fn the_log_shows_the_token_url_actually_used() {
    let dir = repo();
    let emu = Emulator::start(dir.path());
    let o = run(
        dir.path(),
        &["-vv", "plan", "--tenant", CONTOSO],
        &emu.env(),
    );
    let t = text(&o);
    let token_lines: Vec<&str> = t
        .lines()
        .filter(|l| l.contains("==> Request") && l.contains("/token"))
        .collect();
    assert!(!token_lines.is_empty(), "{t}");
    for l in token_lines {
        assert!(l.contains("http://127.0.0.1:"), "{l}");
        assert!(!l.contains("https://127.0.0.1"), "{l}");
    }
}

/// Replaces one variable of an environment.
fn with(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_string(), value.to_string()));
    env
}

#[test]
fn a_failed_tenant_never_exits_0_on_any_command() {
    let dir = repo();
    let emu = Emulator::start(dir.path());
    let wrong_secret = with(&emu.env(), "AZURE_CLIENT_SECRET", "not-the-secret");
    let out = dir.path().join("imported");
    let out = out.to_str().unwrap();
    // (An emulator that is down is the same kind, but each command then retries with
    // backoff; left out to keep the suite quick.)
    for env in [&wrong_secret] {
        for cmd in [
            &["apply", "--auto-approve"][..],
            &["apply", "--auto-approve", "--tenant", CONTOSO],
            &["plan"],
            &["report", "--out", "r.html"],
            &["tenants", "verify"],
            &["import", "--tenant", CONTOSO, "--out", out],
            &["hunt", "--query", "DeviceInfo | take 1"],
            &["incidents"],
            &["devices"],
        ] {
            let o = run(dir.path(), cmd, env);
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{cmd:?}: {t}");
            assert!(!t.contains("Nothing to apply"), "{cmd:?}: {t}");
        }
    }
    // In step and reachable: apply has nothing to do and succeeds.
    let o = run(dir.path(), &["apply", "--auto-approve"], &emu.env());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
