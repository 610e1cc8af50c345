//! Issue 10, containment of outputs: every file a command writes (`plan --out`, `apply
//! --report`, `report -o`, `import --out`, `tenants import --out`) goes through the one door
//! for user files (`src/repo_files.rs`). A relative path that leaves the repository (`../`)
//! or a symlink committed to the repository that leads out is refused, before anything is
//! read from or written to a tenant, and nothing is written outside.

use super::*;

/// Each writing command, with `OUT` standing for the output path under test.
fn writers() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("plan --out", vec!["plan", "--emulator", "--out", "OUT"]),
        ("report -o", vec!["report", "--emulator", "-o", "OUT"]),
        (
            "apply --report",
            vec!["apply", "--emulator", "--auto-approve", "--report", "OUT"],
        ),
        (
            "import --out",
            vec!["import", "--from-json", "export.json", "--out", "OUT"],
        ),
        (
            "tenants import --out",
            vec![
                "tenants",
                "import",
                "--tenant",
                CONTOSO,
                "--emulator",
                "--out",
                "OUT",
            ],
        ),
    ]
}

#[test]
fn outputs_that_leave_the_repository_are_refused_and_nothing_is_written() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("repo");
    let shipped = repo();
    copy_tree(shipped.path(), &root);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/exports/ncsc/2025-NCSC-ASR.json"),
        root.join("export.json"),
    )
    .unwrap();
    let outside = outer.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.join("victim"), root.join("link-file")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link-dir")).unwrap();
    }
    let mut escapes = vec!["../outside/escaped"];
    if cfg!(unix) {
        escapes.extend(["link-file", "link-dir/escaped"]);
    }
    for (what, args) in writers() {
        for escape in &escapes {
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "OUT" { *escape } else { *a })
                .collect();
            let o = run(&root, &args, &[]);
            assert_eq!(o.status.code(), Some(1), "{what} {escape}: {}", text(&o));
            assert!(
                stderr(&o).contains("outside the repository root"),
                "{what} {escape}: {}",
                text(&o)
            );
            let left: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
            assert!(left.is_empty(), "{what} {escape} wrote outside: {left:?}");
        }
        // The control: inside the repository, the same command writes.
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "OUT" { "out/inside" } else { *a })
            .collect();
        let o = run(&root, &args, &[]);
        assert!(
            matches!(o.status.code(), Some(0 | 2)),
            "{what}: {}",
            text(&o)
        );
        assert!(root.join("out/inside").exists(), "{what}: {}", text(&o));
        std::fs::remove_dir_all(root.join("out")).ok();
        std::fs::remove_file(root.join("out/inside")).ok();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
