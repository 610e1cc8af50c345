//! Issue 10, redaction at the one door: every command's output leaves through
//! `rampart::redact::print_out`/`print_err` (and the log writer), so a credential value in
//! use never reaches stdout, stderr or a written file, whichever command prints it. Walked
//! from clap's command tree: a new subcommand fails here until it is given arguments.
//!
//! The credential in use is the emulator app's secret (`AZURE_CLIENT_SECRET`, and
//! `RAMPART_EMULATOR_APP_SECRET` for `emulator`); it is planted in a detection rule's KQL
//! file and a tenant's display name, so commands that echo the repository print it unless
//! the door scrubs it.

use clap::CommandFactory as _;

use super::*;

/// Arguments per leaf subcommand; files they write are checked too.
fn walks() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("validate", vec!["validate"]),
        ("plan", vec!["plan", "--out", "p.json"]),
        ("show", vec!["show", "p.json"]),
        ("show desired", vec!["show", "desired", "--tenant", CONTOSO]),
        ("report", vec!["report", "p.json", "-o", "r.html"]),
        (
            "apply",
            vec![
                "apply",
                "--auto-approve",
                "--tenant",
                CONTOSO,
                "--report",
                "a.json",
            ],
        ),
        (
            "import",
            vec!["import", "--tenant", CONTOSO, "--out", "imp-a"],
        ),
        (
            "tenants verify",
            vec!["tenants", "verify", "--tenant", CONTOSO],
        ),
        (
            "tenants add",
            vec![
                "tenants",
                "add",
                "--profile",
                "profiles/ring1-broad.yaml",
                "--id",
                "11111111-2222-4333-8444-555555555555",
                "--name",
                "newco",
                "--display-name",
                "NewCo rampart-emulator",
            ],
        ),
        (
            "tenants import",
            vec!["tenants", "import", "--tenant", CONTOSO, "--out", "imp-b"],
        ),
        ("permissions", vec!["permissions", "--client-id", APP_ID]),
        (
            "bench plan",
            vec!["bench", "plan", "--tenants", "2", "--parallelism", "2"],
        ),
        (
            "bench apply",
            vec!["bench", "apply", "--tenants", "2", "--parallelism", "2"],
        ),
        ("completions", vec!["completions", "bash"]),
        (
            "catalog refresh",
            vec!["catalog", "refresh", "--tenant", CONTOSO],
        ),
        (
            "hunt",
            vec!["hunt", "DeviceInfo | count", "--tenant", CONTOSO],
        ),
        ("incidents", vec!["incidents", "--tenant", CONTOSO]),
        (
            "incidents update",
            vec![
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
        ("alerts", vec!["alerts", "--tenant", CONTOSO]),
        (
            "alerts update",
            vec![
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
        ("devices", vec!["devices", "--tenant", CONTOSO]),
        (
            "vulnerabilities",
            vec!["vulnerabilities", "--tenant", CONTOSO],
        ),
        ("rollout", vec!["rollout", "--auto-approve"]),
    ]
}

fn leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
    for sub in cmd.get_subcommands() {
        let name = if prefix.is_empty() {
            sub.get_name().to_string()
        } else {
            format!("{prefix} {}", sub.get_name())
        };
        if sub.get_subcommands().next().is_none() || name == "show" {
            out.push(name.clone());
        }
        leaves(sub, &name, out);
    }
}

#[test]
fn no_command_prints_or_writes_a_credential_value_in_use() {
    let repo = repo();
    // Planted where commands echo the repository.
    let kql = repo.path().join("policies/detections/lsass-access.kql");
    let q = std::fs::read_to_string(&kql).unwrap();
    std::fs::write(&kql, format!("{q}\n// {APP_SECRET}\n")).unwrap();
    let profile = repo.path().join("profiles/ring1-broad.yaml");
    let p = std::fs::read_to_string(&profile)
        .unwrap()
        .replace("\"Contoso Ltd\"", &format!("\"Contoso {APP_SECRET}\""));
    std::fs::write(&profile, p).unwrap();
    let emu = Emulator::start(repo.path());
    let env = emu.env();
    let walks = walks();
    let mut all = Vec::new();
    leaves(&rampart::cli::Cli::command(), "", &mut all);
    for name in &all {
        // The two servers (`emulator`, and `bench emulator` that `bench` spawns) print only
        // their own addresses; they are started, not walked.
        if name == "help"
            || name.ends_with(" help")
            || name == "emulator"
            || name == "bench emulator"
        {
            continue;
        }
        assert!(
            walks.iter().any(|(n, _)| n == name),
            "new subcommand `{name}`: add it to tests/cli/redaction.rs"
        );
    }
    let mut refused = false;
    for (name, args) in &walks {
        let o = run(repo.path(), args, &env);
        for (stream, t) in [("stdout", stdout(&o)), ("stderr", stderr(&o))] {
            assert!(!t.contains(APP_SECRET), "`{name}` {stream}: {t}");
            // A secret in the desired state is refused before anything is planned or
            // written (it would be written into every tenant while printed redacted).
            refused |= t.contains("credential-in-desired-state");
        }
    }
    assert!(
        refused,
        "the planted credential value was never refused: the test proves nothing"
    );
    for f in ["p.json", "r.html", "a.json"] {
        let t = std::fs::read_to_string(repo.path().join(f)).unwrap_or_default();
        assert!(!t.contains(APP_SECRET), "{f}");
    }
    // `emulator` (served): its banner, with its own secret taken from the environment.
    let mut child = std::process::Command::new(bin())
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("RAMPART_EMULATOR_APP_SECRET", APP_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..12 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        banner.push_str(&line);
        if line.contains("scope=") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(banner.contains("listening on"), "{banner}");
    assert!(!banner.contains(APP_SECRET), "{banner}");
}

/// The door stays the only one: no module prints on its own.
#[test]
fn output_leaves_only_through_the_redacting_door() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") || p.ends_with("redact.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            // Unit-test modules print freely.
            let body = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, line) in body.lines().enumerate() {
                let l = line.trim_start();
                if l.starts_with("//") {
                    continue;
                }
                let prints = ["println!(", "print!(", "eprintln!(", "eprint!("]
                    .iter()
                    .any(|m| {
                        l.match_indices(m).any(|(at, _)| {
                            // `crate::outln!(` etc. are the door; `eprintln!` contains `println!`.
                            let before = l[..at].chars().last();
                            !matches!(before, Some(c) if c.is_alphanumeric() || c == '_')
                        })
                    });
                let raw = (l.contains("std::io::stdout()") || l.contains("std::io::stderr()"))
                    && !l.contains("is_terminal")
                    && !l.contains("choice(");
                if prints || raw {
                    offenders.push(format!("{}:{}: {l}", p.display(), i + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "print through rampart::redact::print_out/print_err (outln!, errln!, errprint!):\n{}",
        offenders.join("\n")
    );
}

/// Issue 10 (attack report): a credential value pasted into a query file was written into
/// every tenant's rule while the plan showed it redacted. Now every command that plans or
/// applies refuses it before any Graph request, naming the variable, never the value.
#[test]
fn a_credential_value_in_the_desired_state_is_refused_with_zero_writes() {
    let repo = repo();
    let kql = repo.path().join("policies/detections/lsass-access.kql");
    let q = std::fs::read_to_string(&kql).unwrap();
    std::fs::write(&kql, format!("{q}\n// key {APP_SECRET}\n")).unwrap();
    let emu = Emulator::start(repo.path());
    let env = emu.env();
    for args in [
        vec!["validate"],
        vec!["plan", "--tenant", CONTOSO],
        vec!["apply", "--auto-approve", "--tenant", CONTOSO],
        vec!["report", "--tenant", CONTOSO, "-o", "r.html"],
    ] {
        let before = emu.requests().len();
        let o = run(repo.path(), &args, &env);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {all}");
        assert!(
            all.contains("credential-in-desired-state"),
            "{args:?}: {all}"
        );
        assert!(all.contains("AZURE_CLIENT_SECRET"), "{args:?}: {all}");
        assert!(!all.contains(APP_SECRET), "{args:?}: {all}");
        assert_eq!(emu.requests().len(), before, "{args:?} sent requests");
    }
}
