//! The report as text: every user-supplied value escaped, the matrix's rows and states
//! matching the plan, the size of a 1,000-tenant report, and the `rampart report` command.

use rampart::plan::{Action, Plan};
use rampart::report::{CellState, Report, STATES, render_html};

use super::*;

#[test]
fn names_holding_markup_are_escaped_everywhere() {
    let (_, html) = fleet_html(12);
    // The page's own script is the only script element.
    assert_eq!(html.matches("<script").count(), 1, "one <script> element");
    assert!(!html.contains("alert(\"pwned\")</script>"));
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&amp;'quoted'"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&lt;/pre&gt;&lt;script&gt;"));
    // Element ids and links never carry a name, only plan positions.
    assert!(html.contains("<a href=\"#t-0\">&lt;script&gt;"));
}

#[test]
fn the_page_allows_only_its_own_inline_style_and_script() {
    let (_, html) = fleet_html(5);
    let csp_start = html.find("Content-Security-Policy").expect("a CSP");
    let csp = &html[csp_start..csp_start + html[csp_start..].find('>').unwrap()];
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // Nothing is fetched: no external URL in any src or href.
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(attr), "{attr} in the page");
    }
}

#[test]
fn matrix_rows_and_states_match_the_shipped_plan() {
    let plan = shipped_plan();
    let placement = rampart::report::Placement::new();
    let html = render_html(&Report::build(&plan, &placement, run_info()));
    let rows = matrix_rows(&html);
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected: Vec<&str> = plan.tenants.iter().map(|t| t.tenant.as_str()).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        cells_in_state(&html, "create"),
        count_actions(&plan, &[Action::Create])
    );
    assert_eq!(
        cells_in_state(&html, "update"),
        count_actions(&plan, &[Action::Update, Action::Replace])
    );
    assert_eq!(
        cells_in_state(&html, "in-step"),
        count_actions(&plan, &[Action::NoOp])
    );
    assert_eq!(
        cells_in_state(&html, "adopt"),
        count_actions(&plan, &[Action::Adopt])
    );
    // Every cell has a state: rows x columns.
    let columns = matrix_html(&html).matches("data-k=").count();
    let cells: usize = STATES.iter().map(|s| cells_in_state(&html, s.code)).sum();
    assert_eq!(cells, rows.len() * columns);
    assert!(
        plan.summary.to_add > 0 && plan.summary.to_change > 0,
        "the demo has changes"
    );
}

#[test]
fn every_state_shows_its_symbol_and_word_not_only_a_colour() {
    let (plan, html) = fleet_html(10);
    for s in &STATES {
        // The legend names every state with its symbol and word.
        assert!(
            html.contains(&format!("data-s=\"{}\"", s.code)),
            "{} in the legend",
            s.code
        );
        // Each matrix cell's text is the word; the symbol comes from the state's CSS rule.
        if cells_in_state(&html, s.code) > 0 {
            assert!(
                matrix_html(&html).contains(&format!("<td class=\"s-{}\">{}</td>", s.code, s.word)),
                "{}",
                s.code
            );
        }
        assert!(html.contains(&format!(".matrix td.s-{}::before", s.code)));
    }
    // The failed tenant's desired objects are errors; its others are not distributed.
    let failed = plan
        .tenants
        .iter()
        .find(|t| matches!(t.status, rampart::plan::TenantStatus::Failed { .. }))
        .expect("failed tenant");
    assert!(failed.objects.is_empty());
    assert!(cells_in_state(&html, CellState::Error.info().code) >= 1);
    assert!(html.contains("token request failed: 401 Unauthorized"));
    assert!(
        html.contains("Fix: The app could not sign in"),
        "a fix hint"
    );
}

#[test]
fn repeated_field_changes_are_shown_once_and_linked() {
    let (plan, placement) = fleet(10);
    let report = Report::build(&plan, &placement, run_info());
    let entries: Vec<_> = report.details.iter().flat_map(|d| &d.objects).collect();
    let mut linked = 0;
    for e in &entries {
        match &e.same_as {
            None => assert_eq!(e.changes.len(), e.object.changes.len()),
            Some(shared) => {
                linked += 1;
                // Shown here plus shown there is every change, and the reference is the
                // same object with the same action.
                assert_eq!(shared.shared + e.changes.len(), e.object.changes.len());
                let reference = entries
                    .iter()
                    .find(|r| r.anchor == shared.anchor)
                    .expect("the reference entry");
                assert!(reference.same_as.is_none());
                assert_eq!(reference.object.action, e.object.action);
                assert_eq!(reference.object.address.name, e.object.address.name);
                for c in &e.object.changes {
                    assert!(
                        e.changes.contains(&c) || reference.object.changes.contains(c),
                        "{} is shown somewhere",
                        c.path
                    );
                }
            }
        }
    }
    assert!(linked > 5, "tenants repeat the shipped fleet's changes");
    let html = render_html(&report);
    assert!(html.contains("field change(s) as at <a href=\"#o-"));
}

#[test]
fn a_thousand_tenant_report_is_under_5_mb() {
    let (plan, html) = fleet_html(1000);
    assert_eq!(matrix_rows(&html).len(), 1000);
    assert!(
        plan.summary.to_add > 1000,
        "a first rollout to most tenants"
    );
    assert!(
        html.len() < 5 * 1024 * 1024,
        "{} bytes for 1,000 tenants",
        html.len()
    );
    std::fs::write(output_dir().join("fleet-1000.html"), &html).expect("write");
}

#[test]
fn the_report_of_one_plan_is_deterministic() {
    let (plan, placement) = fleet(30);
    let a = render_html(&Report::build(&plan, &placement, run_info()));
    let reloaded: Plan = rampart::plan::load(&rampart::plan::save(&plan)).expect("reload");
    let b = render_html(&Report::build(&reloaded, &placement, run_info()));
    assert_eq!(a, b);
}

#[test]
fn rampart_report_writes_the_page_from_a_saved_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("fleet.html");
    report_shipped_plan(&out_file, Some("1764417600"));
    let html = std::fs::read_to_string(&out_file).expect("the report");
    assert!(
        html.contains("2025-11-29T12:00:00Z"),
        "SOURCE_DATE_EPOCH is the run time"
    );
    // Grouped by the shipped profiles' rings.
    assert!(html.contains("Ring 0 \u{b7} ring0-pilot"));
    assert!(html.contains("Ring 1 \u{b7} ring1-broad"));
    assert!(!html.contains("is not the desired state this plan was made from"));
    assert_eq!(matrix_rows(&html).len(), 5);
    // The same plan and SOURCE_DATE_EPOCH give the same bytes.
    let again = dir.path().join("again.html");
    report_shipped_plan(&again, Some("1764417600"));
    assert_eq!(std::fs::read(&again).expect("again"), html.as_bytes());
}

#[test]
fn an_errored_plan_is_reported_and_exits_1_and_without_a_repository_is_ungrouped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plan, _) = fleet(6);
    assert!(plan.errored);
    let plan_file = dir.path().join("plan.json");
    std::fs::write(&plan_file, rampart::plan::save(&plan)).expect("write plan");
    let out_file = dir.path().join("fleet.html");
    let out = report_command(&plan_file, dir.path(), &out_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "an errored plan exits 1");
    let html = std::fs::read_to_string(&out_file).expect("the report is still written");
    assert!(html.contains("This plan has errors: apply will refuse it."));
    assert!(html.contains("no profiles/ directory"));
    assert!(html.contains("Not in the repository (ring and profile unknown)"));
    assert_eq!(matrix_rows(&html).len(), 6);
}

#[test]
fn a_repository_that_does_not_validate_is_an_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("profiles")).expect("mkdir");
    std::fs::write(
        dir.path().join("profiles/bad.yaml"),
        "kind: DistributionProfile\nname: [unclosed\n",
    )
    .expect("write");
    let out_file = dir.path().join("fleet.html");
    let out = report_command(shipped_plan_file(), dir.path(), &out_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not validate") && err.contains("bad.yaml"),
        "{err}"
    );
    assert!(!out_file.exists());
}

#[test]
fn rampart_report_refuses_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("fleet.html");
    let not_a_plan = dir.path().join("plan.json");
    std::fs::write(&not_a_plan, "{\"formatVersion\": 99}").expect("write");
    let out = rampart()
        .arg("report")
        .arg(&not_a_plan)
        .arg("-o")
        .arg(&out_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plan format version 99"), "{err}");
    assert!(!out_file.exists());
    // Selection flags belong to a fresh plan.
    let out = rampart()
        .arg("report")
        .arg(shipped_plan_file())
        .args(["--tenant", "contoso", "-o"])
        .arg(&out_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(!out_file.exists());
}

#[test]
fn rampart_report_plans_afresh_with_plans_selection_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("fleet.html");
    succeed(
        rampart()
            .args([
                "report",
                "--emulator",
                "--profile",
                "ring1-broad",
                "--kind",
                "DetectionRule",
                "--root",
            ])
            .arg(root())
            .arg("-o")
            .arg(&out_file),
    );
    let html = std::fs::read_to_string(&out_file).expect("the report");
    let names: Vec<String> = matrix_rows(&html).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["contoso", "northwind"]);
    let m = matrix_html(&html);
    assert_eq!(
        m.matches("data-k=").count(),
        m.matches("data-k=\"DetectionRule\"").count()
    );
    assert!(
        html.contains("--kind DetectionRule --profile ring1-broad")
            || html.contains("--profile ring1-broad --kind DetectionRule")
    );
}

#[test]
fn kql_changes_show_as_a_line_diff_and_settings_by_readable_path() {
    use rampart::desired::{Address, Kind};
    use rampart::plan::{CreatedFrom, FieldChange, ObjectPlan, TenantPlan, TenantStatus};
    use serde_json::json;
    let address = Address {
        tenant: "contoso".into(),
        kind: Kind::DetectionRule,
        name: "encoded-powershell".into(),
    };
    let mut o = ObjectPlan::new(address, Action::Update, "Encoded PowerShell");
    o.changes = vec![
        FieldChange {
            path: "queryCondition.queryText".into(),
            before: json!(
                "DeviceProcessEvents\n| where FileName =~ \"powershell.exe\"\n| project Timestamp\n"
            ),
            after: json!(
                "DeviceProcessEvents\n| where FileName in~ (\"powershell.exe\", \"pwsh.exe\")\n| project Timestamp\n"
            ),
        },
        FieldChange {
            path: "settings.cloudBlockLevel".into(),
            before: json!("high"),
            after: json!("zeroTolerance"),
        },
    ];
    o.unchanged_fields = 7;
    let plan = Plan::new(
        vec![TenantPlan {
            tenant: "contoso".into(),
            tenant_id: "t".into(),
            observation: None,
            status: TenantStatus::Ok,
            objects: vec![o],
        }],
        "sha256:0".into(),
        CreatedFrom::default(),
    );
    let html = render_html(&Report::build(
        &plan,
        &rampart::report::Placement::new(),
        run_info(),
    ));
    assert!(
        html.contains("<del>- | where FileName =~ &quot;powershell.exe&quot;</del>"),
        "{html}"
    );
    assert!(html.contains(
        "<ins>+ | where FileName in~ (&quot;powershell.exe&quot;, &quot;pwsh.exe&quot;)</ins>"
    ));
    assert!(
        html.contains("  DeviceProcessEvents\n"),
        "unchanged lines plainly"
    );
    assert!(html.contains("<code>settings.cloudBlockLevel</code>"));
    assert!(html.contains("&quot;high&quot;") && html.contains("&quot;zeroTolerance&quot;"));
    assert!(html.contains("(7 unchanged attributes hidden)"));
}
