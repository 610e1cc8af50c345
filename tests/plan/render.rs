//! Renderer snapshots (human, JSON, Markdown), the JSON schema, saved plans and
//! determinism, on one plan that holds every action.

use rampart::desired::{DesiredObject, Kind};
use rampart::plan::*;
use rampart::render::{HumanOptions, render_human, render_json, render_markdown};
use serde_json::Value;

use super::fixtures::*;

/// Every action in one fleet: contoso (all kinds of change), fabrikam (failed), northwind
/// (in step), woodgrove (managed orphan kept: removal not allowed).
fn fleet(shuffle: bool) -> Plan {
    let mut av_new = av("6");
    if let DesiredObject::ConfigurationPolicy(p) = &mut av_new {
        p.description = "Zero tolerance cloud block".into();
    }
    let new_query = QUERY.replace("\"-enc\"", "\"-enc\" or ProcessCommandLine has \"-e \"");
    let contoso = desired(
        "contoso",
        true,
        vec![
            av_new,
            asr("block", vec![group("Missing Group")]),
            firewall(),
            rule("encoded-powershell", &new_query, &["T1059.001"]),
            rule("lateral-movement", QUERY, &["T1021"]),
            defender_role(
                "soc-tier1",
                &["MSSP SOC Tier 2"],
                &["microsoft.xdr/secops/*/read"],
            ),
        ],
    );
    let mut policies = vec![
        graph_policy(&av("2"), "p-av", true),
        graph_policy(&firewall(), "p-fw", false),
    ];
    let mut rules = vec![
        graph_rule(&rule("encoded-powershell", QUERY, &["T1059.001"]), true),
        graph_rule(&rule("old-rule", QUERY, &["T1059"]), true),
    ];
    if shuffle {
        policies.reverse();
        rules.reverse();
    }
    let contoso_obs = observed(
        &policies,
        &rules,
        Some(defender_rbac(
            Some(("soc-tier1", &["microsoft.xdr/secops/*/read"])),
            Some(("soc-tier1", &["33333333-3333-3333-3333-333333333333"])),
        )),
    );
    let northwind = desired("northwind", false, vec![av("2")]);
    let northwind_obs = observed(&[graph_policy(&av("2"), "p-nw", true)], &[], None);
    let woodgrove = desired("woodgrove", false, vec![]);
    let woodgrove_obs = observed(&[graph_policy(&firewall(), "p-wg", true)], &[], None);
    let mut tenants = vec![
        diff_tenant(&contoso, &contoso_obs),
        TenantPlan::failed(
            "fabrikam",
            &tenant_id("fabrikam"),
            "Graph GET /beta/deviceManagement/configurationPolicies: 403 Forbidden (accessDenied), request-id 5e1f0c2a",
        ),
        diff_tenant(&northwind, &northwind_obs),
        diff_tenant(&woodgrove, &woodgrove_obs),
    ];
    if shuffle {
        tenants.reverse();
    }
    let digest = inputs_digest(&if shuffle {
        vec![woodgrove, northwind, contoso]
    } else {
        vec![contoso, northwind, woodgrove]
    });
    Plan::new(
        tenants,
        digest,
        CreatedFrom {
            source: "emulator".into(),
            ..CreatedFrom::default()
        },
    )
}

#[test]
fn every_action_has_its_place() {
    let p = fleet(false);
    let actions: Vec<(String, Action)> = p
        .objects()
        .map(|(_, o)| (o.address.to_string(), o.action))
        .collect();
    for a in [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Adopt,
        Action::Error,
        Action::NoOp,
    ] {
        assert!(
            actions.iter().any(|(_, x)| *x == a),
            "{a:?} missing in {actions:#?}"
        );
    }
    assert_eq!(p.summary.tenants, 4);
    assert_eq!(p.summary.failed_tenants, 1);
    assert_eq!(p.summary.to_add, 2, "create + replace");
    assert_eq!(p.summary.to_change, 2);
    assert_eq!(p.summary.to_destroy, 2, "delete + replace");
    assert_eq!(p.summary.errors, 2, "missing group + failed tenant");
    assert!(p.errored);
}

#[test]
fn human_snapshot() {
    insta::assert_snapshot!(render_human(&fleet(false), HumanOptions { color: false }));
}

#[test]
fn human_colour_only_when_asked() {
    let p = fleet(false);
    assert!(!render_human(&p, HumanOptions { color: false }).contains('\u{1b}'));
    let coloured = render_human(&p, HumanOptions { color: true });
    assert!(coloured.contains("\u{1b}[32m"), "green for creates");
    assert!(coloured.contains("\u{1b}[31m"), "red for destroys");
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(render_markdown(
        &fleet(false),
        rampart::render::COMMENT_LIMIT
    ));
}

#[test]
fn json_snapshot() {
    // The version changes with every release; the snapshot is about the shape.
    insta::with_settings!({filters => vec![(r#""rampartVersion": "[^"]+""#, r#""rampartVersion": "[version]""#)]}, {
        insta::assert_snapshot!(render_json(&fleet(false)));
    });
}

#[test]
fn markdown_is_cut_under_the_limit_with_a_note() {
    let p = fleet(false);
    let full = render_markdown(&p, rampart::render::COMMENT_LIMIT);
    let limit = 2_000;
    assert!(
        full.chars().count() > limit,
        "the test needs a plan larger than the limit"
    );
    let cut = render_markdown(&p, limit);
    assert!(
        cut.chars().count() <= limit,
        "{} chars",
        cut.chars().count()
    );
    assert!(cut.contains("was cut to stay under GitHub's 65536-character limit"));
    assert!(cut.contains("Plan: 4 tenants"));
    assert!(!full.contains("was cut"));
}

#[test]
fn no_change_plan_renders_one_line_per_tenant() {
    let d = desired("northwind", false, vec![av("2")]);
    let o = observed(&[graph_policy(&av("2"), "p-nw", true)], &[], None);
    let p = plan_of(vec![diff_tenant(&d, &o)]);
    let text = render_human(&p, HumanOptions::default());
    assert_eq!(
        text,
        "northwind (00000000-0000-4000-8000-0000000003dd): no changes.\n\nPlan: 1 tenant, 0 to add, 0 to change, 0 to destroy, 0 errors.\n"
    );
}

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/plan.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("schema JSON")
}

#[test]
fn json_output_matches_its_schema() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    for plan in [fleet(false), plan_of(vec![])] {
        let v: Value = serde_json::from_str(&render_json(&plan)).expect("json");
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The schema is not vacuous: a wrong action and a missing field are refused.
    let mut bad: Value = serde_json::from_str(&render_json(&fleet(false))).expect("json");
    bad["tenants"][0]["objects"][0]["action"] = Value::String("explode".into());
    assert!(!validator.is_valid(&bad));
    let mut bad: Value = serde_json::from_str(&render_json(&fleet(false))).expect("json");
    bad.as_object_mut().expect("object").remove("formatVersion");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn shuffled_inputs_give_identical_bytes() {
    assert_eq!(save(&fleet(false)), save(&fleet(true)));
    assert_eq!(
        render_markdown(&fleet(false), rampart::render::COMMENT_LIMIT),
        render_markdown(&fleet(true), rampart::render::COMMENT_LIMIT)
    );
}

#[test]
fn saved_plan_round_trips_and_checks_versions() {
    let p = fleet(false);
    let bytes = save(&p);
    let loaded = load(&bytes).expect("load");
    assert_eq!(loaded, p);
    assert_eq!(save(&loaded), bytes);
    assert!(loaded.errored, "a plan with a failed tenant stays errored");

    let mut v: Value = serde_json::from_slice(&bytes).expect("json");
    v["formatVersion"] = Value::from(99);
    let e = load(&serde_json::to_vec(&v).expect("bytes")).expect_err("format version");
    assert!(e.to_string().contains("format version 99"), "{e}");

    let mut v: Value = serde_json::from_slice(&bytes).expect("json");
    v["rampartVersion"] = Value::from("0.0.0-other");
    let e = load(&serde_json::to_vec(&v).expect("bytes")).expect_err("rampart version");
    assert!(e.to_string().contains("0.0.0-other"), "{e}");

    assert!(load(b"not json").is_err());
}

#[test]
fn saved_plans_hold_no_secret_looking_values() {
    let text = String::from_utf8(save(&fleet(false))).expect("utf8");
    for needle in ["client_secret", "access_token", "Bearer ", "assertion"] {
        assert!(!text.contains(needle), "{needle}");
    }
}

#[test]
fn kinds_filter_recounts() {
    let mut p = fleet(false);
    p.filter(&[], &[Kind::DetectionRule]);
    assert_eq!(p.summary.to_add, 1);
    assert_eq!(p.summary.to_change, 1);
    assert_eq!(p.summary.to_destroy, 1);
    assert_eq!(p.summary.errors, 1, "the failed tenant stays");
}

/// A fleet of `n` tenants `t0001`...: every tenant gets the same two creates (antivirus and
/// firewall, not yet in the tenant), except that with `mixed` the first five tenants differ:
/// `t0001` failed, `t0002` deletes a managed rule, `t0003` is in step, `t0004` has an update.
fn fleet_of(n: usize, mixed: bool) -> Plan {
    let mut tenants = Vec::new();
    for i in 1..=n {
        let name = format!("t{i:04}");
        let t = match (mixed, i) {
            (true, 1) => TenantPlan::failed(
                &name,
                &tenant_id(&name),
                "Graph GET /beta/deviceManagement/configurationPolicies: 403 Forbidden (accessDenied)",
            ),
            (true, 2) => diff_tenant(
                &desired(&name, true, vec![av("2"), firewall()]),
                &observed(
                    &[],
                    &[graph_rule(&rule("old-rule", QUERY, &["T1059"]), true)],
                    None,
                ),
            ),
            (true, 3) => diff_tenant(
                &desired(&name, false, vec![av("2")]),
                &observed(&[graph_policy(&av("2"), "p-in-step", true)], &[], None),
            ),
            (true, 4) => diff_tenant(
                &desired(&name, false, vec![av("6"), firewall()]),
                &observed(
                    &[
                        graph_policy(&av("2"), &format!("p-av-{i}"), true),
                        graph_policy(&firewall(), &format!("p-fw-{i}"), true),
                    ],
                    &[],
                    None,
                ),
            ),
            _ => diff_tenant(
                &desired(&name, false, vec![av("2"), firewall()]),
                &observed(&[], &[], None),
            ),
        };
        tenants.push(t);
    }
    plan_of(tenants)
}

#[test]
fn markdown_one_tenant_snapshot() {
    insta::assert_snapshot!(render_markdown(
        &fleet_of(1, false),
        rampart::render::COMMENT_LIMIT
    ));
}

#[test]
fn markdown_five_tenants_snapshot() {
    // Errors first (the failed tenant), then the deletion, then the largest group, then the
    // update; the tenant in step is one line.
    insta::assert_snapshot!(render_markdown(
        &fleet_of(5, true),
        rampart::render::COMMENT_LIMIT
    ));
}

#[test]
fn markdown_five_hundred_tenants_snapshot() {
    insta::assert_snapshot!(render_markdown(
        &fleet_of(500, true),
        rampart::render::COMMENT_LIMIT
    ));
}

/// Issue 9: 500 tenants with one identical change set name the change once, far under
/// GitHub's limit, and list every tenant.
#[test]
fn markdown_of_500_identical_tenants_names_the_change_once() {
    let p = fleet_of(500, false);
    let md = render_markdown(&p, rampart::render::COMMENT_LIMIT);
    assert!(md.chars().count() < 65_536, "{} chars", md.chars().count());
    assert_eq!(
        md.matches("AntivirusPolicy \"baseline-antivirus\"").count(),
        1,
        "{md}"
    );
    assert!(md.contains("2 changes, in 500 tenants"), "{md}");
    assert!(md.contains("`t0500`"));
    assert!(!md.contains("was cut"));
}

/// At any fleet size, with change sets that all differ, the comment stays under the limit
/// and says how to read the whole plan.
#[test]
fn markdown_of_distinct_change_sets_stays_under_the_limit() {
    for n in [50, 400, 2_000] {
        let tenants: Vec<TenantPlan> = (0..n)
            .map(|i| {
                let name = format!("tenant-{i:05}");
                diff_tenant(
                    &desired(&name, false, vec![av(&format!("{i}"))]),
                    &observed(&[graph_policy(&av("2"), "p", true)], &[], None),
                )
            })
            .collect();
        let md = render_markdown(&plan_of(tenants), rampart::render::COMMENT_LIMIT);
        assert!(md.chars().count() <= 65_536, "{n}: {}", md.chars().count());
        if n >= 400 {
            assert!(md.contains("rampart show plan.json"), "{n}");
        }
    }
}
