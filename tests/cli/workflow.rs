//! Issue 9: the shipped GitHub Actions workflow (`examples/github-actions/rampart.yml`),
//! its rampart commands read from the file and run in its order against a served emulator
//! with environment-only configuration: validate, plan on the pull request (Markdown and the
//! saved plan), show and apply of exactly that file after merge, then the nightly drift
//! check, which finds the tenants in step. The dead proxy of [`super::command`] fails any
//! request that leaves for another endpoint.

use super::*;

const WORKFLOW: &str = include_str!("../../examples/github-actions/rampart.yml");

/// Every `rampart ...` command line of the workflow's `run:` blocks, in order, cut at the
/// first shell operator (`>`, `|`, `||`, `;`).
fn workflow_commands() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in WORKFLOW.lines() {
        let t = line.trim();
        if !t.starts_with("rampart ") {
            continue;
        }
        let words: Vec<String> = t
            .split_whitespace()
            .skip(1)
            .take_while(|w| !matches!(*w, ">" | "|" | "||" | ";" | "&&"))
            .map(str::to_string)
            .collect();
        out.push(words);
    }
    out
}

#[test]
fn the_shipped_workflow_runs_end_to_end_against_a_served_emulator() {
    let commands = workflow_commands();
    let names: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    // The order the pipeline relies on; the test fails if the workflow changes it.
    assert_eq!(
        names,
        [
            "validate --format github",
            "plan --out plan.json --format markdown --detailed-exitcode",
            "show plan.json",
            "apply plan.json --report apply-report.json",
            "plan --detailed-exitcode",
        ],
        "{WORKFLOW}"
    );
    let (repo, emu) = served();
    let env = emu.env();
    // Pull request, then merge, then the nightly run: exit codes as the workflow expects.
    let expected = [0, 2, 0, 0, 0];
    for (args, want) in commands.iter().zip(expected) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(repo.path(), &args, &env);
        assert_eq!(o.status.code(), Some(want), "{args:?}: {}", text(&o));
        if args[0] == "plan" && want == 2 {
            let md = stdout(&o);
            assert!(md.starts_with("### rampart plan"), "{md}");
            assert!(md.chars().count() < 65_536);
        }
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.path().join("apply-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["success"], true, "{report}");
    assert!(!emu.requests().is_empty());
}

#[test]
fn the_workflow_apply_refuses_a_plan_whose_inputs_changed_after_review() {
    let (repo, emu) = served();
    let env = emu.env();
    run_ok(repo.path(), &["plan", "--out", "plan.json"], &env);
    // Another merge changes a policy between review and apply.
    let path = repo.path().join("policies");
    let file = find_yaml_with(&path, "cloudBlockLevel").expect("a policy with cloudBlockLevel");
    let text_before = std::fs::read_to_string(&file).unwrap();
    let changed = text_before.replacen("high", "zeroTolerance", 1);
    assert_ne!(changed, text_before);
    std::fs::write(&file, changed).unwrap();
    let writes_before = writes(&emu);
    let o = run(repo.path(), &["apply", "plan.json"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(writes(&emu), writes_before, "something was written");
}

fn writes(emu: &Emulator) -> usize {
    emu.requests().iter().filter(|r| is_write(r)).count()
}

fn find_yaml_with(dir: &Path, needle: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find_yaml_with(&p, needle) {
                return Some(f);
            }
        } else if p.extension().is_some_and(|x| x == "yaml")
            && std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle))
        {
            return Some(p);
        }
    }
    None
}
