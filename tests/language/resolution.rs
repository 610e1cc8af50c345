//! Resolution: variables, per-tenant overrides, the union of profiles, conflicts.

use rampart::desired::{AssignmentTarget, DesiredObject, Kind};

use super::{RULE, run};

const AV: &str = "kind: AntivirusPolicy
name: av
displayName: \"AV for ${tenant.displayName}\"
settings:
  realTimeMonitoring: enabled
  avgCpuLoadFactor: \"${vars.cpu}\"
assignments:
  - group: \"${vars.group}\"
  - excludeGroup: Kiosks
";

const ROLE: &str = "kind: RoleAssignment
name: soc
system: directory
role: Security Reader
groups: \"${vars.groups}\"
";

const P1: &str = "kind: DistributionProfile
name: p1
ring: 1
allowRemoval: true
vars: { group: Pilot, cpu: 40, groups: [SOC A, SOC B] }
tenants:
  - id: 6F1C2B9E-0D4A-4E55-9A61-3C2F8E7D1A01
    name: contoso
    displayName: Contoso Ltd
  - id: 0b7e2d4c-1a3f-4c5e-8d9a-2b4c6e8f0a12
    name: tailspin
    vars: { group: Tailspin Pilot, cpu: 25 }
policies: [av, soc]
";

fn policy(v: &rampart::resolve::Validated, tenant: &str, kind: Kind, name: &str) -> DesiredObject {
    v.tenants[tenant].objects[&(kind, name.to_string())].clone()
}

#[test]
fn variables_and_per_tenant_overrides() {
    let (_d, v) = run(&[
        ("policies/av.yaml", AV),
        ("policies/soc.yaml", ROLE),
        ("profiles/p1.yaml", P1),
    ]);
    assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);
    // Tenant ids are keyed in lower case.
    let contoso = "6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01";
    let tailspin = "0b7e2d4c-1a3f-4c5e-8d9a-2b4c6e8f0a12";
    let DesiredObject::ConfigurationPolicy(p) = policy(&v, contoso, Kind::AntivirusPolicy, "av")
    else {
        panic!("a configuration policy");
    };
    assert_eq!(p.display_name, "AV for Contoso Ltd");
    assert_eq!(p.template_id, "804339ad-1553-4478-a742-138fb5807418_1");
    assert_eq!(p.role_scope_tag_ids, ["0"]);
    assert_eq!(
        p.assignments[0].target,
        AssignmentTarget::Group {
            group: "Pilot".into()
        }
    );
    let cpu = |p: &rampart::desired::DesiredConfigurationPolicy| {
        serde_json::to_string(&p.settings).expect("json")
    };
    assert!(cpu(&p).contains("\"value\":40"), "{}", cpu(&p));
    let DesiredObject::ConfigurationPolicy(t) = policy(&v, tailspin, Kind::AntivirusPolicy, "av")
    else {
        panic!("a configuration policy");
    };
    // No displayName for tailspin: the name stands in; tenant vars override profile vars.
    assert_eq!(t.display_name, "AV for tailspin");
    assert_eq!(
        t.assignments[0].target,
        AssignmentTarget::Group {
            group: "Tailspin Pilot".into()
        }
    );
    assert!(cpu(&t).contains("\"value\":25"), "{}", cpu(&t));
    // A whole-string list variable takes the list.
    let DesiredObject::RoleAssignment(r) = policy(&v, contoso, Kind::RoleAssignment, "soc") else {
        panic!("a role assignment");
    };
    assert_eq!(r.groups, ["SOC A", "SOC B"]);
    assert_eq!(r.scopes, ["/"]);
}

#[test]
fn a_tenant_in_two_profiles_gets_the_union() {
    let p2 = "kind: DistributionProfile
name: p2
ring: 0
vars: { group: Pilot, cpu: 40, groups: [SOC A, SOC B] }
tenants:
  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01
    name: contoso
    displayName: Contoso Ltd
policies: [{ kind: DetectionRule }, av]
";
    let (_d, v) = run(&[
        ("policies/av.yaml", AV),
        ("policies/soc.yaml", ROLE),
        ("policies/rule.yaml", RULE),
        ("profiles/p1.yaml", P1),
        ("profiles/p2.yaml", p2),
    ]);
    assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);
    let t = &v.tenants["6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01"];
    assert_eq!(t.profiles, ["p1", "p2"]);
    assert_eq!(t.ring, Some(0));
    // p2 does not allow removal, so the tenant does not.
    assert!(!t.allow_removal);
    let keys: Vec<String> = t.objects.keys().map(|(k, n)| format!("{k}/{n}")).collect();
    assert_eq!(
        keys,
        [
            "AntivirusPolicy/av",
            "DetectionRule/encoded-powershell",
            "RoleAssignment/soc"
        ]
    );
    // The other tenant is only in p1.
    let other = &v.tenants["0b7e2d4c-1a3f-4c5e-8d9a-2b4c6e8f0a12"];
    assert_eq!(other.objects.len(), 2);
    assert!(other.allow_removal);
    let DesiredObject::DetectionRule(r) =
        &t.objects[&(Kind::DetectionRule, "encoded-powershell".to_string())]
    else {
        panic!("a rule");
    };
    assert_eq!(r.rule_id, "encoded-powershell");
    assert_eq!(r.body["schedule"]["frequency"], "PT1H");
    assert_eq!(
        r.body["detectionAction"]["alertTemplate"]["tactics"],
        serde_json::json!([{"tactic": "Execution", "techniques": [{"technique": "T1059.001"}]}])
    );
    assert_eq!(
        r.body["detectionAction"]["alertTemplate"]["entityMappings"],
        serde_json::json!({"hosts": [{"deviceIdColumn": "DeviceId"}]})
    );
}

#[test]
fn two_profiles_with_different_content_conflict() {
    let p2 = P1
        .replace("name: p1", "name: p2")
        .replace("group: Pilot,", "group: Broad,");
    let (_d, v) = run(&[
        ("policies/av.yaml", AV),
        ("policies/soc.yaml", ROLE),
        ("profiles/p1.yaml", P1),
        ("profiles/p2.yaml", &p2),
    ]);
    let codes: Vec<&str> = v.diagnostics.iter().map(|d| d.code).collect();
    // Only contoso differs (tailspin overrides `group` in both profiles).
    assert_eq!(codes, ["conflicting-object"], "{:?}", v.diagnostics);
    assert!(v.diagnostics[0].message.contains("profiles/p1.yaml"));
    assert!(v.diagnostics[0].message.contains("profiles/p2.yaml"));
}

#[test]
fn resolution_is_deterministic() {
    let files = [
        ("policies/av.yaml", AV),
        ("policies/soc.yaml", ROLE),
        ("profiles/p1.yaml", P1),
    ];
    let (_a, a) = run(&files);
    let (_b, b) = run(&files);
    assert_eq!(a.tenants, b.tenants);
    let ja = serde_json::to_string(&rampart::resolve::TenantView::new(
        &a.tenants["6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01"],
    ))
    .expect("json");
    let jb = serde_json::to_string(&rampart::resolve::TenantView::new(
        &b.tenants["6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01"],
    ))
    .expect("json");
    assert_eq!(ja, jb);
}
