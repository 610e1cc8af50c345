//! Issue 15, bad input: each a clear error at its line, before any request (these runs
//! have no Graph to reach: a request would fail differently).

use std::path::Path;

use crate::cli::{run, stderr, stdout, text};

fn write(root: &Path, profiles: &[(&str, &str)]) {
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::create_dir_all(root.join("profiles")).unwrap();
    std::fs::write(root.join("policies/av.yaml"), super::POLICY).unwrap();
    for (name, body) in profiles {
        std::fs::write(root.join(format!("profiles/{name}.yaml")), body).unwrap();
    }
}

fn profile(name: &str, ring_line: &str, tenant: usize) -> String {
    format!(
        "kind: DistributionProfile\nname: {name}\n{ring_line}vars:\n  excludeGroup: \"K\"\ntenants:\n  - id: {}\n    name: t{tenant}\npolicies:\n  - rollout-av\n",
        super::tid(tenant)
    )
}

/// `rampart validate` output and exit code.
fn validate(profiles: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), profiles);
    let o = run(dir.path(), &["validate"], &[]);
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&o), stderr(&o)),
    )
}

#[test]
fn issue15_bad_rings_and_soaks_are_errors_at_their_line() {
    for (ring_line, want) in [
        ("ring: -1\n", "profiles/a.yaml:3:"),
        ("ring: one\n", "profiles/a.yaml:3:"),
        ("ring: 1.5\n", "profiles/a.yaml:3:"),
        ("ring: 0\nsoak: 24 hours\n", "profiles/a.yaml:4:"),
        ("ring: 0\nsoak: 1w\n", "profiles/a.yaml:4:"),
        ("soak: 24h\n", "profiles/a.yaml:3:"),
    ] {
        let (code, out) = validate(&[("a", &profile("a", ring_line, 1))]);
        assert_eq!(code, 1, "{ring_line}: {out}");
        assert!(out.contains(want), "{ring_line}: want {want} in {out}");
    }
    let (code, out) = validate(&[("a", &profile("a", "ring: 0\nsoak: 1d12h\n", 1))]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn issue15_profiles_that_disagree_on_promotion_or_soak_are_errors() {
    // One profile puts t1 in ring 0, another leaves it outside the rollout.
    let (code, out) = validate(&[
        ("a", &profile("a", "ring: 0\n", 1)),
        ("b", &profile("b", "", 1)),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("conflicting-promotion"), "{out}");
    assert!(out.contains("profiles/b.yaml:6:"), "{out}");
    // Two profiles of ring 0 with different soaks.
    let (code, out) = validate(&[
        ("a", &profile("a", "ring: 0\nsoak: 24h\n", 1)),
        ("b", &profile("b", "ring: 0\nsoak: 12h\n", 2)),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("conflicting-soak"), "{out}");
}

#[test]
fn issue15_ring_selection_errors_name_the_rings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("a", &profile("a", "ring: 0\n", 1)),
            ("b", &profile("b", "ring: 1\n", 2)),
        ],
    );
    for (args, want) in [
        (
            &["plan", "--ring", "3"][..],
            "--ring `3`: no profile has ring 3",
        ),
        (&["plan", "--ring", "-1"][..], "--ring `-1`: not a ring"),
        (&["plan", "--ring", "..x"][..], "--ring `..x`: not a ring"),
        (
            &["apply", "--ring", "7", "--auto-approve"][..],
            "no profile has ring 7",
        ),
        (
            &["rollout", "--ring", "..9", "--auto-approve"][..],
            "no profile has ring 9",
        ),
    ] {
        let o = run(dir.path(), args, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains("rings: 0, 1"), "{args:?}: {}", text(&o));
    }
    // A broken promotion record is named at its line, before any request.
    std::fs::create_dir_all(dir.path().join("rollout")).unwrap();
    std::fs::write(
        dir.path().join("rollout/promotions.yaml"),
        "rings:\n  - ring: 0\n    commit: c\n    inputsDigest: sha256:00\n    promotedAt: 2026-11-30T08:00:00Z\n    convergedAt: soon\n    tenants: {}\n",
    )
    .unwrap();
    let o = run(dir.path(), &["plan"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("rollout/promotions.yaml:6:"),
        "{}",
        text(&o)
    );
}
