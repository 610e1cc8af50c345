//! Integration tests: the fleet report (`rampart report`, `rampart::report`).
//!
//! `html.rs` checks the page as text (escaping, counts, size, the CLI); `browser.rs` opens
//! it in headless Chromium. Plans come from the real binary (`rampart plan --emulator` on the
//! shipped example fleet, five tenants) and, for 1,000 tenants, from that plan's tenants
//! repeated under new names (real plan content, built as data: no 1,000-tenant emulator run
//! in a test).

mod browser;
mod html;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rampart::desired::Kind;
use rampart::plan::{Action, ObjectPlan, Plan, TenantPlan, TenantStatus, load};
use rampart::report::{Placement, Report, RunInfo, TenantPlacement, render_html};

/// A tenant name that is also markup: it must only ever show as text.
pub const HOSTILE_TENANT: &str = "<script>alert(\"pwned\")</script>&'quoted'";
/// A display name / error text that tries to close an attribute and a `<pre>`.
pub const HOSTILE_TEXT: &str = "\"><img src=x onerror=alert(1)></pre><script>alert(2)</script>";

pub use crate::support::{shipped_root as root, succeed};

/// Where tests leave files for people to look at (screenshots, reports).
pub fn output_dir() -> PathBuf {
    let dir = root().join("target/test-output/report");
    std::fs::create_dir_all(&dir).expect("create target/test-output/report");
    dir
}

pub fn rampart() -> Command {
    let mut cmd = Command::new(crate::support::bin());
    cmd.env("NO_COLOR", "1").env_remove("RAMPART_GRAPH_URL");
    cmd
}

/// The saved plan of the shipped example fleet (`plan --emulator`), made once per run.
pub fn shipped_plan_file() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = output_dir().join(format!("shipped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("plan.json");
        succeed(
            rampart()
                .args(["plan", "--emulator", "--no-color", "--root"])
                .arg(root())
                .arg("--out")
                .arg(&file),
        );
        file
    })
}

/// `rampart report PLAN --root ROOT -o OUT`, ready to run.
pub fn report_command(plan: &Path, root: &Path, out: &Path) -> Command {
    let mut cmd = rampart();
    cmd.arg("report")
        .arg(plan)
        .arg("--root")
        .arg(root)
        .arg("-o")
        .arg(out);
    cmd
}

/// Runs `rampart report` on the [`shipped_plan_file`] with the shipped repository's
/// placement, writing `out`, at `SOURCE_DATE_EPOCH` `epoch` when given; it must succeed.
pub fn report_shipped_plan(out: &Path, epoch: Option<&str>) {
    let mut cmd = report_command(shipped_plan_file(), &root(), out);
    if let Some(epoch) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", epoch);
    }
    succeed(&mut cmd);
}

pub fn shipped_plan() -> Plan {
    load(&std::fs::read(shipped_plan_file()).expect("read plan")).expect("load plan")
}

/// `n` tenants built from the shipped plan's tenants in turn, renamed `tNNNN-<name>`; tenant
/// 1 is named [`HOSTILE_TENANT`], tenant 2 could not be read, and tenant 3 has an object in
/// error whose message holds [`HOSTILE_TEXT`]. Placement: ring `i % 3`, profile
/// `ring<r>-profile`.
pub fn fleet(n: usize) -> (Plan, Placement) {
    let base = shipped_plan();
    let mut tenants = Vec::new();
    let mut placement = Placement::new();
    for i in 0..n {
        let src = &base.tenants[i % base.tenants.len()];
        let name = match i {
            1 => HOSTILE_TENANT.to_string(),
            _ => format!("t{i:04}-{}", src.tenant),
        };
        let id = format!("00000000-0000-4000-8000-{i:012}");
        let mut t = match i {
            2 => TenantPlan::failed(&name, &id, "token request failed: 401 Unauthorized"),
            _ => TenantPlan {
                tenant: name.clone(),
                tenant_id: id,
                observation: None,
                status: TenantStatus::Ok,
                objects: src.objects.clone(),
            },
        };
        for o in &mut t.objects {
            o.address.tenant = name.clone();
        }
        if i == 3 {
            let mut o = ObjectPlan::new(
                rampart::desired::Address {
                    tenant: name.clone(),
                    kind: Kind::RoleAssignment,
                    name: "soc-tier1".into(),
                },
                Action::Error,
                HOSTILE_TEXT,
            );
            o.error = Some(format!(
                "group {HOSTILE_TEXT:?} does not exist in this tenant"
            ));
            t.objects.retain(|x| x.address.name != "soc-tier1");
            t.objects.push(o);
        }
        let ring = (i % 3) as u32;
        placement.insert(
            name,
            TenantPlacement {
                ring: Some(ring),
                profiles: vec![format!("ring{ring}-profile")],
                desired: src
                    .objects
                    .iter()
                    .map(|o| (o.address.kind, o.address.name.clone()))
                    .collect(),
            },
        );
        tenants.push(t);
    }
    let plan = Plan::new(
        tenants,
        base.inputs_digest.clone(),
        base.created_from.clone(),
    );
    (plan, placement)
}

pub fn run_info() -> RunInfo {
    RunInfo {
        generated_at: "2026-11-29T12:00:00Z".into(),
        plan_file: None,
        notes: vec![],
    }
}

/// The fleet's report as HTML.
pub fn fleet_html(n: usize) -> (Plan, String) {
    let (plan, placement) = fleet(n);
    let html = render_html(&Report::build(&plan, &placement, run_info()));
    (plan, html)
}

/// The `<table id="matrix">` element's HTML.
pub fn matrix_html(html: &str) -> &str {
    let start = html.find("id=\"matrix\"").expect("the matrix table");
    let end = start + html[start..].find("</table>").expect("end of matrix");
    &html[start..end]
}

/// Tenant rows of the matrix: (tenant cell text, hidden) in document order.
pub fn matrix_rows(html: &str) -> Vec<(String, bool)> {
    let m = matrix_html(html);
    let mut rows = Vec::new();
    let mut rest = m;
    while let Some(at) = rest.find("<tr class=\"t\"") {
        rest = &rest[at..];
        let tag_end = rest.find('>').expect("tag end");
        let hidden = rest[..tag_end].contains("hidden");
        let th = rest.find("<th").expect("row header");
        let th_end = th + rest[th..].find("</th>").expect("row header end");
        let text = strip_tags(&rest[th..th_end]);
        rows.push((text, hidden));
        rest = &rest[tag_end..];
    }
    rows
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// How many matrix cells are in state `code` (e.g. `create`).
pub fn cells_in_state(html: &str, code: &str) -> usize {
    matrix_html(html)
        .matches(&format!("<td class=\"s-{code}\""))
        .count()
}

/// Objects of the plan whose action maps to `action`.
pub fn count_actions(plan: &Plan, actions: &[Action]) -> usize {
    plan.objects()
        .filter(|(_, o)| actions.contains(&o.action))
        .count()
}
