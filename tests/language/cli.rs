//! The real binary: `rampart validate` and `rampart show desired`.

use assert_cmd::Command;

fn rampart() -> Command {
    Command::cargo_bin("rampart").expect("the rampart binary")
}

#[test]
fn validate_binary_exits_0_on_the_shipped_examples() {
    let out = rampart()
        .args(["validate", "--root", env!("CARGO_MANIFEST_DIR")])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("0 errors"), "{stdout}");
}

#[test]
fn validate_binary_exits_1_with_line_and_column() {
    let dir = super::repo(&[
        ("profiles/p.yaml", super::PROFILE),
        (
            "policies/rule.yaml",
            &super::RULE.replace("severity: high", "severity: hgh"),
        ),
    ]);
    let out = rampart()
        .current_dir(dir.path())
        .args(["validate", "--format", "concise"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "policies/rule.yaml:10:13: error[invalid-value] `hgh` is not one of: informational, low, medium, high\n"
    );
}

#[test]
fn show_desired_binary_prints_yaml() {
    let out = rampart()
        .args([
            "show",
            "desired",
            "--tenant",
            "tailspin",
            "--root",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("id: 0b7e2d4c-1a3f-4c5e-8d9a-2b4c6e8f0a12"),
        "{stdout}"
    );
    // Tailspin's own kiosk group replaced the variable.
    assert!(stdout.contains("group: Tailspin Kiosks"), "{stdout}");
}

#[test]
fn validate_works_with_any_relative_root() {
    // Issue 10: a relative `--root` other than `.` failed ("repo/policies does not exist").
    let outer = tempfile::tempdir().expect("temp dir");
    let repo = outer.path().join("work/repo");
    for (path, text) in [
        ("profiles/p.yaml", super::PROFILE),
        ("policies/rule.yaml", super::RULE),
    ] {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    std::fs::create_dir_all(outer.path().join("elsewhere")).expect("mkdir");
    for (cwd, args) in [
        ("", vec!["validate", "--root", "work/repo"]),
        ("", vec!["validate", "--root", "work/repo/"]),
        ("", vec!["validate", "--root", "./work/../work/repo"]),
        (
            "",
            vec![
                "validate",
                "--root",
                "work/repo",
                "work/repo/policies",
                "work/repo/profiles",
            ],
        ),
        (
            "",
            vec!["validate", "--root", "work/repo", "policies", "profiles"],
        ),
        ("elsewhere", vec!["validate", "--root", "../work/repo"]),
        ("work/repo/policies", vec!["validate", "--root", ".."]),
    ] {
        let out = rampart()
            .current_dir(outer.path().join(cwd))
            .args(&args)
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{cwd} {args:?}: {stdout}");
        assert!(
            stdout.contains("2 documents in 2 files, 1 tenant"),
            "{args:?}: {stdout}"
        );
    }
}
