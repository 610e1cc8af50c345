//! Issue 9: terminal manners and the subcommands no other test runs as a binary: a closed
//! pipe ends quietly with success, log lines honour `--color`/`NO_COLOR`/non-terminals, a
//! first run without credentials says what works, `import --adopt` is never unconfirmed,
//! apply reports progress per tenant, and `show FILE`, `tenants add`, `permissions`,
//! `bench`, `completions` run.

use std::process::Stdio;

use super::*;

#[test]
fn a_closed_stdout_ends_quietly_with_success() {
    let repo = repo();
    run_ok(repo.path(), &["plan", "--emulator", "--out", "p.json"], &[]);
    for args in [
        &["show", "p.json"][..],
        &["show", "--format", "json", "p.json"],
        &["completions", "bash"],
        &["validate"],
    ] {
        let mut child = command(repo.path(), args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Close the reading end at once: every write rampart makes then fails with EPIPE.
        drop(child.stdout.take());
        let o = child.wait_with_output().expect("wait");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert!(
            !stderr(&o).to_ascii_lowercase().contains("broken pipe"),
            "{args:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn log_lines_are_plain_unless_colour_is_asked_for() {
    let (repo, emu) = served();
    let env = emu.env();
    let plain: &[&[&str]] = &[
        &["-vv", "plan", "--tenant", CONTOSO],
        &["-vv", "--color", "never", "plan", "--tenant", CONTOSO],
        &["-vv", "--no-color", "plan", "--tenant", CONTOSO],
    ];
    for args in plain {
        let o = run_ok(repo.path(), args, &env);
        assert!(stderr(&o).contains("DEBUG"), "no log lines: {}", text(&o));
        assert!(
            !stderr(&o).contains('\x1b'),
            "{args:?} coloured: {}",
            text(&o)
        );
    }
    let mut with_no_color = env.clone();
    with_no_color.push(("NO_COLOR".into(), "1".into()));
    let o = run(
        repo.path(),
        &["-vv", "--color", "auto", "plan", "--tenant", CONTOSO],
        &with_no_color,
    );
    assert!(!stderr(&o).contains('\x1b'), "{}", text(&o));
    // The control: asked for, colour is there.
    let o = run(
        repo.path(),
        &["-vv", "--color", "always", "plan", "--tenant", CONTOSO],
        &env,
    );
    assert!(stderr(&o).contains('\x1b'), "{}", text(&o));
}

#[test]
fn a_first_run_without_credentials_says_what_works() {
    let repo = repo();
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["tenants", "verify"],
    ] {
        let o = run(repo.path(), args, &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = stderr(&o);
        for needle in [
            "no credential configured",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_FEDERATED_TOKEN_FILE",
            "github-oidc",
            "rampart plan --emulator",
            "rampart emulator",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
        assert!(!err.contains("az not found"), "{err}");
    }
}

#[test]
fn auth_help_lists_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["plan", "--help"], &[]);
    let help = stdout(&o);
    for m in [
        "secret",
        "certificate",
        "assertion-file",
        "github-oidc",
        "managed-identity",
        "azure-cli",
    ] {
        assert!(help.contains(m), "{m} missing from --auth help");
    }
    for c in ["public", "usgov", "usgovdod", "china"] {
        assert!(help.contains(c), "{c} missing from --cloud help");
    }
}

#[test]
fn adoption_without_a_terminal_or_auto_approve_is_refused_before_any_request() {
    let (repo, emu) = served();
    for args in [
        &["import", "--tenant", CONTOSO, "--adopt"][..],
        &["tenants", "import", "--tenant", CONTOSO, "--adopt"],
    ] {
        let o = run(repo.path(), args, &emu.env());
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(stderr(&o).contains("--auto-approve"), "{}", text(&o));
    }
    assert!(emu.requests().is_empty());
    assert!(!repo.path().join("policies/imported").exists());
}

/// Issue 9: the successful half of confirmed adoption, through the binary against a served
/// emulator. A policy made in the portal (a real NCSC export, no marker) is imported, the
/// profile selects the imported label, and `import --adopt --auto-approve` writes the marker
/// into that policy (and nothing else); a second plan then sees it as managed and in step.
#[test]
fn adoption_with_auto_approve_marks_the_imported_objects_and_writes_nothing_else() {
    let repo = repo();
    let seeded = repo.path().join("seed-policies").join(CONTOSO);
    std::fs::create_dir_all(&seeded).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/exports/ncsc/2025-NCSC-ASR.json"),
        seeded.join("asr.json"),
    )
    .unwrap();
    let policies_dir = repo.path().join("seed-policies");
    let emu = Emulator::start_with(
        repo.path(),
        &["--seed-policies", policies_dir.to_str().unwrap()],
    );
    let env = emu.env();
    // Import only: documents written, nothing written to the tenant.
    let o = run(repo.path(), &["import", "--tenant", CONTOSO], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("Imported 1 object"), "{}", text(&o));
    assert!(emu.requests().iter().all(|r| !is_write(r)));
    // The profile of contoso selects what was imported.
    let profile = repo.path().join("profiles/ring1-broad.yaml");
    let yaml = std::fs::read_to_string(&profile).unwrap().replace(
        "  - { label: soc }\n",
        "  - { label: soc }\n  - { label: imported-contoso }\n",
    );
    std::fs::write(&profile, yaml).unwrap();
    let o = run(
        repo.path(),
        &[
            "import",
            "--tenant",
            CONTOSO,
            "--force",
            "--adopt",
            "--auto-approve",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("Adoption plan:"), "{}", text(&o));
    let writes: Vec<serde_json::Value> = emu.requests().into_iter().filter(is_write).collect();
    assert!(!writes.is_empty(), "nothing adopted: {}", text(&o));
    for w in &writes {
        let path = w["path"].as_str().unwrap_or_default();
        assert!(
            path.contains("/deviceManagement/configurationPolicies/"),
            "adoption wrote elsewhere: {w}"
        );
    }
    // Adopted: the next plan of contoso offers no adoption and changes nothing in it.
    let o = run(
        repo.path(),
        &["plan", "--tenant", CONTOSO, "--format", "json"],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("plan JSON");
    let objects = plan["tenants"][0]["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let adopted = objects
        .iter()
        .find(|o| o["address"]["name"] == "contoso-2025-ncsc-asr")
        .unwrap_or_else(|| panic!("the adopted policy is not planned: {}", stdout(&o)));
    assert_eq!(adopted["action"], "no-op", "{adopted}");
    assert_eq!(plan["summary"]["adoptionCandidates"], 0, "{}", stdout(&o));
}

#[test]
fn apply_reports_each_finished_tenant_when_not_on_a_terminal() {
    let (repo, emu) = served();
    run_ok(repo.path(), &["plan", "--out", "p.json"], &emu.env());
    let o = run_ok(repo.path(), &["apply", "p.json"], &emu.env());
    let err = stderr(&o);
    assert_eq!(err.matches(": applied").count(), 5, "{err}");
    assert!(err.contains("[5/5] "), "{err}");
}

#[test]
fn offline_subcommands_run_as_binaries() {
    let repo = repo();
    run_ok(repo.path(), &["plan", "--emulator", "--out", "p.json"], &[]);
    // show FILE in every format.
    for f in ["human", "json", "markdown"] {
        let o = run(repo.path(), &["show", "--format", f, "p.json"], &[]);
        assert_eq!(o.status.code(), Some(0), "{f}: {}", text(&o));
        let want = if f == "json" {
            "\"tenants\": 5"
        } else {
            "Plan: 5 tenants"
        };
        assert!(stdout(&o).contains(want), "{f}: {}", text(&o));
    }
    run_ok(repo.path(), &["show", "desired", "--tenant", CONTOSO], &[]);
    // permissions, with consent URLs of the chosen cloud.
    let o = run_ok(
        repo.path(),
        &["permissions", "--client-id", APP_ID, "--cloud", "usgov"],
        &[],
    );
    assert!(
        stdout(&o).contains("https://login.microsoftonline.us/"),
        "{}",
        text(&o)
    );
    // tenants add: the profile is edited, and the next steps printed.
    run_ok(
        repo.path(),
        &[
            "tenants",
            "add",
            "--profile",
            "profiles/ring1-broad.yaml",
            "--id",
            "9a9a9a9a-1111-4222-8333-444455556666",
            "--name",
            "newco",
        ],
        &[],
    );
    let profile = std::fs::read_to_string(repo.path().join("profiles/ring1-broad.yaml")).unwrap();
    assert!(profile.contains("newco"), "{profile}");
    // bench, small.
    run_ok(
        repo.path(),
        &["bench", "plan", "--tenants", "3", "--parallelism", "2"],
        &[],
    );
    // completions for every shell.
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(repo.path(), &["completions", shell], &[]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", text(&o));
        assert!(stdout(&o).contains("rampart"), "{shell}");
    }
}
