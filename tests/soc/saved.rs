//! Saved hunts (`kind: HuntingQuery` under `hunts/`) validated like policies: through
//! `rampart validate` (every format, one run with the policy errors), read through the
//! repository's one door for user files (BOM, UTF-16, containment), and refused by
//! `rampart hunt --saved` with the same diagnostics.

use std::path::PathBuf;

use rampart::cli::validate::{ValidateArgs, render};
use rampart::diag::Format;
use rampart::soc::hunt::{check_saved, load_saved};

use crate::language::{PROFILE, RULE, repo};

const HUNT: &str = "kind: HuntingQuery\nname: devices\nquery: DeviceInfo | count\n";

fn validate(root: &std::path::Path, format: Format) -> (String, i32) {
    render(
        &ValidateArgs {
            paths: Vec::new(),
            format,
            root: root.to_path_buf(),
        },
        false,
    )
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        out.extend(if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

#[test]
fn validate_reports_a_bad_saved_hunt_with_a_policy_error_in_one_run() {
    let dir = repo(&[
        ("profiles/p.yaml", PROFILE),
        (
            "policies/rule.yaml",
            &RULE.replace("frequency: PT1H", "frequency: every hour"),
        ),
        (
            "hunts/bad.yaml",
            "kind: HuntingQuery\nname: devices\nquery: \"// nothing\"\ncolums: [A]\n",
        ),
        ("hunts/more/dup.yaml", HUNT),
        ("hunts/more/dup2.yml", HUNT),
    ]);
    let (text, code) = validate(dir.path(), Format::Concise);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        text,
        "hunts/bad.yaml:3:8: error[empty-query] the query holds no KQL (only comments or blanks)\n\
         hunts/bad.yaml:4:1: error[unknown-field] unknown field `colums` of a HuntingQuery\n\
         hunts/more/dup2.yml:2:7: error[duplicate-hunt-name] a saved hunt named `devices` is defined twice\n\
         policies/rule.yaml:3:12: error[invalid-frequency] `every hour` is not a frequency the service accepts\n"
    );
    // `rampart hunt --saved` refuses with the same diagnostics (the saved-hunt ones).
    let refused = load_saved(dir.path()).unwrap_err().to_string();
    for line in text.lines().filter(|l| l.starts_with("hunts/")) {
        assert!(refused.contains(line), "{line}: {refused}");
    }
    // Every format carries them.
    let (json, code) = validate(dir.path(), Format::Json);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let s = v.to_string();
    for c in [
        "empty-query",
        "unknown-field",
        "duplicate-hunt-name",
        "invalid-frequency",
    ] {
        assert!(s.contains(c), "{c}: {json}");
    }
    let (gh, _) = validate(dir.path(), Format::Github);
    assert!(gh.contains("file=hunts/bad.yaml,line=4,col=1"), "{gh}");
    let (human, code) = validate(dir.path(), Format::Human);
    assert_eq!(code, 1);
    assert!(human.contains("did you mean `columns`?"), "{human}");
    assert!(human.contains("first defined here"), "{human}");
    assert!(human.contains("4 errors"), "{human}");
}

#[test]
fn a_bad_saved_hunt_alone_fails_validate() {
    for (file, text, code_at) in [
        (
            "hunts/a.yaml",
            "kind: HuntingQuery\nquery: x\n",
            "hunts/a.yaml:1:1: error[missing-field]",
        ),
        (
            "hunts/a.yaml",
            "kind: HuntingQuery\nname: a\n",
            "hunts/a.yaml:1:1: error[missing-query]",
        ),
        (
            "hunts/a.yaml",
            "kind: Hunting\nname: a\nquery: x\n",
            "hunts/a.yaml:1:7: error[unknown-kind]",
        ),
        (
            "hunts/a.yaml",
            "kind: HuntingQuery\nname: a\nquery: x\ncolumns: x\n",
            "hunts/a.yaml:4:10: error[wrong-type]",
        ),
        (
            "hunts/a.yaml",
            "kind: HuntingQuery\nname: a\nqueryFile: q.txt\n",
            "hunts/a.yaml:3:12: error[invalid-query-file]",
        ),
        (
            "hunts/a.yaml",
            "kind: HuntingQuery\nname: a\nqueryFile: none.kql\n",
            "hunts/a.yaml:3:12: error[missing-query-file]",
        ),
        (
            "hunts/a.yaml",
            "kind: HuntingQuery\nname: a\n  query: [\n",
            "hunts/a.yaml:3:",
        ),
    ] {
        let dir = repo(&[
            ("profiles/p.yaml", PROFILE),
            ("policies/rule.yaml", RULE),
            (file, text),
        ]);
        let (out, code) = validate(dir.path(), Format::Concise);
        assert_eq!(code, 1, "{text:?}: {out}");
        assert!(out.starts_with(code_at), "{text:?}: {out}");
    }
}

#[test]
fn bom_and_utf16_saved_hunts_validate() {
    let kql = "DeviceInfo\r\n| summarize count() by OSPlatform\r\n";
    let dir = repo(&[("profiles/p.yaml", PROFILE), ("policies/rule.yaml", RULE)]);
    let h = dir.path().join("hunts");
    std::fs::create_dir_all(h.join("kql")).unwrap();
    let bom = format!("\u{feff}{HUNT}").replace("devices", "bom");
    std::fs::write(h.join("bom.yaml"), bom).unwrap();
    let le = "kind: HuntingQuery\r\nname: le\r\nqueryFile: kql/le.kql\r\ncolumns: [OSPlatform]\r\n";
    std::fs::write(h.join("le.yaml"), utf16(le, false)).unwrap();
    std::fs::write(h.join("kql/le.kql"), utf16(kql, false)).unwrap();
    std::fs::write(
        h.join("be.yaml"),
        utf16(&HUNT.replace("devices", "be"), true),
    )
    .unwrap();
    let (text, code) = validate(dir.path(), Format::Human);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("3 saved hunts"), "{text}");
    let hunts = load_saved(dir.path()).expect("valid");
    let le = hunts.iter().find(|h| h.name == "le").expect("le");
    assert_eq!(le.query, "DeviceInfo\n| summarize count() by OSPlatform\n");
    assert_eq!(le.path, "hunts/le.yaml");
    // A UTF-16 file with an error is located in its decoded text.
    std::fs::write(
        h.join("be.yaml"),
        utf16("kind: HuntingQuery\nname: be\nquery: \"  \"\n", true),
    )
    .unwrap();
    let (text, code) = validate(dir.path(), Format::Concise);
    assert_eq!(code, 1);
    assert!(
        text.starts_with("hunts/be.yaml:3:8: error[empty-query]"),
        "{text}"
    );
    // Bytes that are no encoding rampart reads are refused, not guessed.
    std::fs::write(h.join("be.yaml"), b"kind: HuntingQuery\nname: \xe9t\xe9\n").unwrap();
    let (text, _) = validate(dir.path(), Format::Concise);
    assert!(
        text.contains("hunts/be.yaml:2:7: error[invalid-encoding]"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn saved_hunt_files_leading_out_of_the_repository_are_errors() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.yaml"), HUNT).unwrap();
    std::fs::write(outside.path().join("q.kql"), "DeviceInfo").unwrap();
    std::fs::create_dir_all(outside.path().join("dir")).unwrap();
    std::fs::write(outside.path().join("dir/y.yaml"), HUNT).unwrap();
    let dir = repo(&[
        ("profiles/p.yaml", PROFILE),
        ("policies/rule.yaml", RULE),
        (
            "hunts/q.yaml",
            "kind: HuntingQuery\nname: q\nqueryFile: kql/q.kql\n",
        ),
    ]);
    let h = dir.path().join("hunts");
    std::os::unix::fs::symlink(outside.path().join("x.yaml"), h.join("linked.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), h.join("folder")).unwrap();
    std::fs::create_dir_all(h.join("kql")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("q.kql"), h.join("kql/q.kql")).unwrap();
    let (text, code) = validate(dir.path(), Format::Concise);
    assert_eq!(code, 1, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("hunts/folder:1:1: error[outside-repository]"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("hunts/linked.yaml:1:1: error[outside-repository]"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("hunts/q.yaml:3:12: error[outside-repository]"),
        "{text}"
    );
    let checked = check_saved(dir.path());
    assert!(checked.hunts.is_empty());
    // A link cycle inside the repository is read once, not forever.
    let cyc = repo(&[("hunts/a/h.yaml", HUNT)]);
    std::os::unix::fs::symlink(cyc.path().join("hunts"), cyc.path().join("hunts/a/loop")).unwrap();
    let checked = check_saved(cyc.path());
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(checked.hunts.len(), 1);
}

#[test]
fn the_shipped_hunts_validate_clean() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let checked = check_saved(&root);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(checked.hunts.len(), 2);
    let (text, code) = validate(&root, Format::Human);
    assert_eq!(code, 0, "{text}");
    // The shipped policies carry catalog warnings; nothing is said about hunts/.
    assert!(!text.contains("hunts/"), "{text}");
    assert!(text.contains(", 2 saved hunts\n"), "{text}");
}
