//! The report in a real browser: headless Chromium driven from the command line
//! (`--dump-dom` gives the DOM after the page's script ran, `--screenshot` a PNG; console
//! messages and uncaught exceptions reach stderr through `--enable-logging=stderr`, as
//! `CONSOLE` lines). The page must log nothing at all, so any such line fails a test; a
//! test with a broken page proves the check can fail.
//!
//! Filtering is driven through the page's own fragment filters (`#state=create`), which
//! run the same code as the form's controls.
//!
//! Where Chromium is absent (`RAMPART_CHROMIUM`, else `chromium`, `chromium-browser`,
//! `google-chrome` on `PATH`) the tests print that they are skipped; with `CI=true` they
//! fail instead. No timing is asserted: a loaded machine only makes them slower.

use std::path::{Path, PathBuf};
use std::process::Command;

use rampart::plan::Action;
use rampart::report::CellState;

use super::*;

/// A headless Chromium.
struct Browser {
    exe: PathBuf,
}

/// What a page load left behind.
struct Loaded {
    dom: String,
    /// `CONSOLE` lines: console output and uncaught exceptions of the page.
    console: Vec<String>,
}

/// The browser, or `None` (after saying so) when there is none outside CI.
fn browser(test: &str) -> Option<Browser> {
    let candidates: Vec<PathBuf> = match std::env::var_os("RAMPART_CHROMIUM") {
        Some(p) => vec![PathBuf::from(p)],
        None => ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .filter_map(|name| find_on_path(name))
            .collect(),
    };
    match candidates.into_iter().find(|p| p.is_file()) {
        Some(exe) => Some(Browser { exe }),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: Chromium is required in CI (install Debian's `chromium`)")
        }
        None => {
            eprintln!(
                "{test}: SKIPPED, no Chromium found (set RAMPART_CHROMIUM or install `chromium`)"
            );
            None
        }
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Browser {
    fn command(&self, profile: &Path) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
        cmd
    }

    /// Runs Chromium with `args` in a fresh profile; it must succeed. Returns (stdout,
    /// stderr) as text.
    fn run(&self, args: &[&str]) -> (String, String) {
        let profile = tempfile::tempdir().expect("profile dir");
        let out = self
            .command(profile.path())
            .args(args)
            .output()
            .expect("run chromium");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "chromium failed: {stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    }

    /// Loads `url` and returns the DOM after the page's scripts ran.
    fn load(&self, url: &str) -> Loaded {
        let (stdout, stderr) = self.run(&["--dump-dom", url]);
        Loaded {
            dom: stdout,
            console: console_lines(&stderr),
        }
    }

    /// Writes a PNG of `url` at `width` x `height` to `path`, and returns the console lines.
    fn screenshot(&self, url: &str, path: &Path, width: u32, height: u32) -> Vec<String> {
        let _ = std::fs::remove_file(path);
        let (_, stderr) = self.run(&[
            &format!("--window-size={width},{height}"),
            &format!("--screenshot={}", path.display()),
            "--hide-scrollbars",
            url,
        ]);
        let png = std::fs::read(path).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        assert!(png.len() > 10_000, "a screenshot with content");
        console_lines(&stderr)
    }
}

fn console_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

fn file_url(path: &Path, fragment: &str) -> String {
    let abs = std::fs::canonicalize(path).expect("absolute path");
    format!("file://{}{fragment}", abs.display())
}

fn visible(rows: &[(String, bool)]) -> Vec<&str> {
    rows.iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(n, _)| n.as_str())
        .collect()
}

/// The status line the script writes.
fn status(dom: &str) -> String {
    let at = dom.find("id=\"status\"").expect("status element");
    let start = at + dom[at..].find('>').expect(">") + 1;
    let end = start + dom[start..].find('<').expect("<");
    dom[start..end].to_string()
}

fn write_shipped_report(dir: &Path) -> PathBuf {
    let file = dir.join("fleet-5.html");
    report_shipped_plan(&file, None);
    file
}

#[test]
fn the_console_check_sees_a_broken_page() {
    let Some(browser) = browser("the_console_check_sees_a_broken_page") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!doctype html><title>x</title><p>x</p><script>noSuchFunction();</script>",
    )
    .expect("write");
    let loaded = browser.load(&file_url(&page, ""));
    assert!(
        loaded
            .console
            .iter()
            .any(|l| l.contains("noSuchFunction is not defined")),
        "{:?}",
        loaded.console
    );
}

#[test]
fn the_shipped_fleet_report_works_in_chromium() {
    let Some(browser) = browser("the_shipped_fleet_report_works_in_chromium") else {
        return;
    };
    let dir = output_dir();
    let file = write_shipped_report(&dir);
    let plan = shipped_plan();
    let static_html = std::fs::read_to_string(&file).expect("report");

    let loaded = browser.load(&file_url(&file, ""));
    assert_eq!(loaded.console, Vec::<String>::new(), "no console output");
    let rows = matrix_rows(&loaded.dom);
    assert_eq!(rows.len(), 5);
    assert_eq!(visible(&rows).len(), 5);
    assert_eq!(status(&loaded.dom), "Showing 5 of 5 tenants.");
    for (code, actions) in [
        ("create", vec![Action::Create]),
        ("update", vec![Action::Update, Action::Replace]),
        ("in-step", vec![Action::NoOp]),
        ("adopt", vec![Action::Adopt]),
    ] {
        assert_eq!(
            cells_in_state(&loaded.dom, code),
            count_actions(&plan, &actions),
            "{code} cells"
        );
    }

    // Filter by state: the tenants with something to create.
    let mut creating: Vec<&str> = plan
        .tenants
        .iter()
        .filter(|t| t.objects.iter().any(|o| o.action == Action::Create))
        .map(|t| t.tenant.as_str())
        .collect();
    creating.sort();
    assert!(!creating.is_empty() && creating.len() < 5);
    let dom = browser.load(&file_url(&file, "#state=create")).dom;
    let rows = matrix_rows(&dom);
    let mut shown = visible(&rows);
    shown.sort();
    assert_eq!(shown, creating);
    assert_eq!(
        status(&dom),
        format!("Showing {} of 5 tenants (state create).", creating.len())
    );

    // Filter by tenant name and by kind and state together.
    let dom = browser.load(&file_url(&file, "#tenant=FAB")).dom;
    assert_eq!(visible(&matrix_rows(&dom)), vec!["fabrikam"]);
    let updating_rules: Vec<&str> = plan
        .objects()
        .filter(|(_, o)| {
            o.address.kind == rampart::desired::Kind::DetectionRule && o.action == Action::Update
        })
        .map(|(t, _)| t.tenant.as_str())
        .collect();
    let dom = browser
        .load(&file_url(&file, "#kind=DetectionRule&state=update"))
        .dom;
    assert_eq!(visible(&matrix_rows(&dom)), updating_rules);
    // Other kinds' columns are hidden.
    let columns = matrix_html(&static_html).matches("data-k=").count();
    let rule_columns = matrix_html(&static_html)
        .matches("data-k=\"DetectionRule\"")
        .count();
    let hidden_heads = matrix_html(&dom)
        .match_indices("<th scope=\"col\" data-k=")
        .filter(|(i, _)| {
            let tag = &matrix_html(&dom)[*i..];
            tag[..tag.find('>').unwrap()].contains("hidden")
        })
        .count();
    assert_eq!(hidden_heads, columns - rule_columns);

    // Sorting, from the fragment (`sort=-1`: the first object column, descending): within
    // each group, rows by the column's state in the state table's order, then by name.
    // Column 1 is the first kind's first object: the shipped baseline-antivirus.
    assert!(matrix_html(&static_html).contains(
        "data-k=\"AntivirusPolicy\"><span class=\"kind\">AntivirusPolicy</span><button type=\"button\">baseline-antivirus"
    ));
    let state_of = |name: &str| {
        plan.tenants
            .iter()
            .find(|t| t.tenant == name)
            .expect("tenant")
            .objects
            .iter()
            .find(|o| o.address.name == "baseline-antivirus")
            .map_or(CellState::NotDistributed, |o| {
                CellState::from_action(o.action)
            })
    };
    for (fragment, descending) in [("#sort=1", false), ("#sort=-1", true)] {
        let dom = browser.load(&file_url(&file, fragment)).dom;
        let rows = matrix_rows(&dom);
        assert_eq!(rows.len(), 5);
        let sort = if descending {
            "descending"
        } else {
            "ascending"
        };
        assert!(dom.contains(&format!("aria-sort=\"{sort}\"")), "{fragment}");
        // Groups keep their tenants; inside a group the order follows the column.
        let groups = [
            &["mssp-internal", "tailspin"][..],
            &["fabrikam"][..],
            &["contoso", "northwind"][..],
        ];
        let mut at = 0;
        for g in groups {
            let got: Vec<&str> = rows[at..at + g.len()]
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            let mut want = g.to_vec();
            want.sort_by(|a, b| (state_of(a), *a).cmp(&(state_of(b), *b)));
            if descending {
                want.reverse();
            }
            assert_eq!(got, want, "{fragment}");
            at += g.len();
        }
    }
    assert_ne!(
        state_of("contoso"),
        state_of("northwind"),
        "the sort is visible"
    );

    let console = browser.screenshot(&file_url(&file, ""), &dir.join("fleet-5.png"), 1400, 1000);
    assert_eq!(console, Vec::<String>::new());
}

#[test]
fn a_thousand_tenant_report_works_in_chromium() {
    let Some(browser) = browser("a_thousand_tenant_report_works_in_chromium") else {
        return;
    };
    let dir = output_dir();
    let (plan, html) = fleet_html(1000);
    let file = dir.join("fleet-1000-browser.html");
    std::fs::write(&file, &html).expect("write");

    let loaded = browser.load(&file_url(&file, ""));
    assert_eq!(loaded.console, Vec::<String>::new(), "no console output");
    let rows = matrix_rows(&loaded.dom);
    assert_eq!(rows.len(), 1000);
    assert_eq!(visible(&rows).len(), 1000);
    assert_eq!(status(&loaded.dom), "Showing 1000 of 1000 tenants.");
    assert!(
        loaded.dom.contains("data-ready-ms=\""),
        "the script ran to its end"
    );
    assert_eq!(
        cells_in_state(&loaded.dom, "create"),
        count_actions(&plan, &[Action::Create])
    );

    // The hostile name shows as text, found by the tenant filter, and runs nothing.
    let dom = browser
        .load(&file_url(&file, "#tenant=%3Cscript%3Ealert"))
        .dom;
    assert_eq!(visible(&matrix_rows(&dom)), vec![HOSTILE_TENANT]);
    assert_eq!(dom.matches("<script").count(), 1, "only the page's script");
    assert!(dom.contains("&lt;script&gt;alert(\"pwned\")&lt;/script&gt;&amp;'quoted'"));

    // Errors: the failed tenant and the tenant with an object in error.
    let dom = browser.load(&file_url(&file, "#state=error")).dom;
    let errored: Vec<&str> = plan
        .tenants
        .iter()
        .filter(|t| {
            !matches!(t.status, rampart::plan::TenantStatus::Ok)
                || t.objects.iter().any(|o| o.action == Action::Error)
        })
        .map(|t| t.tenant.as_str())
        .collect();
    let rows = matrix_rows(&dom);
    let mut shown = visible(&rows);
    shown.sort();
    let mut errored_sorted = errored.clone();
    errored_sorted.sort();
    assert_eq!(shown, errored_sorted);

    let console = browser.screenshot(
        &file_url(&file, ""),
        &dir.join("fleet-1000.png"),
        1400,
        1000,
    );
    assert_eq!(console, Vec::<String>::new());
}
