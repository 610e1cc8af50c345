//! Issue 9: exit codes mean one thing. 0 success, 1 any error (usage errors included: never
//! clap's 2), 2 only for "changes" with `--detailed-exitcode`. Selections that match nothing
//! are errors with a did-you-mean, on every command that takes them.

use clap::CommandFactory as _;

use super::*;

fn leaves(cmd: &clap::Command, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        prefix.push(sub.get_name().to_string());
        out.push(prefix.clone());
        leaves(sub, prefix, out);
        prefix.pop();
    }
}

#[test]
fn a_usage_error_exits_1_on_every_subcommand_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    leaves(&rampart::cli::Cli::command(), &mut Vec::new(), &mut all);
    assert!(all.len() >= 14, "{all:?}");
    for path in &all {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--no-such-flag");
        let o = run(dir.path(), &args, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        args.pop();
        args.push("--help");
        let o = run(dir.path(), &args, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    for args in [
        &["--version"][..],
        &["plan", "--detailed-exitcode", "--format", "yaml"],
        &["no-such-command"],
    ] {
        let o = run(dir.path(), args, &[]);
        let want = if args == ["--version"] { 0 } else { 1 };
        assert_eq!(o.status.code(), Some(want), "{args:?}: {}", text(&o));
    }
}

#[test]
fn selections_that_match_nothing_are_errors_with_a_suggestion_on_every_command() {
    let (repo, emu) = served();
    let env = emu.env();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "plan",
                "--detailed-exitcode",
                "--target",
                "contoso/AntivirusPolicy/baseline-antivirsu",
            ],
            "did you mean `contoso/AntivirusPolicy/baseline-antivirus`?",
        ),
        (&["plan", "--target", "contsoo"], "did you mean `contoso`?"),
        (
            &["plan", "--target", "contoso/AntivirusPolcy"],
            "did you mean `AntivirusPolicy`?",
        ),
        (&["plan", "--tenant", "contsoo"], "did you mean `contoso`?"),
        (
            &["plan", "--profile", "ring0-pilto"],
            "did you mean `ring0-pilot`?",
        ),
        (
            &["plan", "--kind", "DetectionRuel"],
            "did you mean `DetectionRule`?",
        ),
        (
            &[
                "apply",
                "--auto-approve",
                "--target",
                "contoso/AntivirusPolicy/baseline-antivirsu",
            ],
            "did you mean `contoso/AntivirusPolicy/baseline-antivirus`?",
        ),
        (&["apply", "--tenant", "contsoo"], "did you mean `contoso`?"),
        (
            &["tenants", "verify", "--tenant", "contsoo"],
            "did you mean `contoso`?",
        ),
        (
            &["tenants", "verify", "--profile", "ring0-pilto"],
            "did you mean `ring0-pilot`?",
        ),
        (
            &["import", "--tenant", "contsoo"],
            "did you mean `contoso`?",
        ),
        (
            &["tenants", "import", "--tenant", "contsoo"],
            "did you mean `contoso`?",
        ),
        (
            &["show", "desired", "--tenant", "contsoo"],
            "did you mean `contoso`?",
        ),
        (
            &["permissions", "--profile", "ring0-pilto"],
            "did you mean `ring0-pilot`?",
        ),
    ];
    for (args, hint) in cases {
        let o = run(repo.path(), args, &env);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(hint), "{args:?}: {}", text(&o));
    }
    // Nothing was written anywhere.
    let writes = emu.requests().iter().filter(|r| is_write(r)).count();
    assert_eq!(writes, 0);
}

#[test]
fn several_selection_errors_are_reported_at_once() {
    let repo = repo();
    let o = run(
        repo.path(),
        &[
            "plan",
            "--emulator",
            "--kind",
            "Nope",
            "--profile",
            "ring0-pilto",
            "--tenant",
            "x",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("3 selection errors"), "{err}");
}

#[test]
fn a_target_shows_only_its_tenant() {
    let (repo, emu) = served();
    let o = run(
        repo.path(),
        &[
            "plan",
            "--target",
            "contoso/AntivirusPolicy",
            "--detailed-exitcode",
        ],
        &emu.env(),
    );
    // Everything is pending in a fresh emulator: changes.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = stdout(&o);
    for other in ["fabrikam", "northwind", "tailspin", "mssp-internal"] {
        assert!(!out.contains(other), "{other} shown:\n{out}");
    }
    assert!(out.contains("Plan: 1 tenant, "), "{out}");
    assert!(out.contains("contoso/AntivirusPolicy/"), "{out}");
}
