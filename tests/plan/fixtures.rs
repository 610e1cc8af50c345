//! Builders for plan tests: desired objects as `resolve` would produce them, and observed
//! tenants built from Graph-shaped JSON (so the `from_graph` readers are exercised too),
//! with the noise Graph adds: ids, timestamps, `@odata` annotations, template echoes,
//! settings in another order.

use std::collections::BTreeMap;

use rampart::desired::*;
use rampart::plan::observed::{ObservedRbac, ObservedRoleAssignment, ObservedRoleDefinition};
use rampart::plan::*;
use rampart::settings::{ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue};
use serde_json::{Value, json};

pub const AV_TEMPLATE: &str = "804339ad-1553-4478-a742-138fb5807418_1";
pub const FW_TEMPLATE: &str = "6078910e-d808-4a9f-a51d-1b8a7bacb7c0_1";
pub const ASR_TEMPLATE: &str = "e8c053d6-9f95-42b1-a7f1-ebfd71c67a4b_1";
const DEF: &str = "device_vendor_msft_policy_config_defender_";

pub fn origin() -> Origin {
    Origin {
        path: "policies/test.yaml".into(),
        line: 1,
    }
}

pub fn choice(def: &str, option: &str) -> SettingInstance {
    SettingInstance {
        definition_id: def.to_string(),
        instance_template_id: None,
        value: SettingValue::Choice(ChoiceValue {
            value: format!("{def}_{option}"),
            value_template_id: None,
            children: vec![],
        }),
    }
}

pub fn integer(def: &str, value: i64) -> SettingInstance {
    SettingInstance {
        definition_id: def.to_string(),
        instance_template_id: None,
        value: SettingValue::Simple(SimpleValue::Integer {
            value,
            value_template_id: None,
        }),
    }
}

/// The antivirus baseline: `cloud_block` is the option suffix of cloudBlockLevel.
pub fn av_settings(cloud_block: &str) -> Vec<SettingInstance> {
    vec![
        choice(&format!("{DEF}allowrealtimemonitoring"), "1"),
        choice(&format!("{DEF}cloudblocklevel"), cloud_block),
        choice(&format!("{DEF}puaprotection"), "1"),
        choice(&format!("{DEF}allowbehaviormonitoring"), "1"),
        integer(&format!("{DEF}avgcpuloadfactor"), 50),
    ]
}

pub fn asr_settings(mode: &str) -> Vec<SettingInstance> {
    let root = format!("{DEF}attacksurfacereductionrules");
    vec![SettingInstance {
        definition_id: root.clone(),
        instance_template_id: Some("19600663-e264-4c02-8f55-f2983216d6d7".into()),
        value: SettingValue::GroupCollection(vec![GroupValue {
            value_template_id: None,
            children: vec![
                choice(
                    &format!("{root}_blockadobereaderfromcreatingchildprocesses"),
                    mode,
                ),
                choice(
                    &format!("{root}_blockexecutionofpotentiallyobfuscatedscripts"),
                    "block",
                ),
            ],
        }]),
    }]
}

pub fn policy(
    kind: Kind,
    name: &str,
    display: &str,
    template: &str,
    settings: Vec<SettingInstance>,
    assignments: Vec<DesiredAssignment>,
) -> DesiredObject {
    DesiredObject::ConfigurationPolicy(DesiredConfigurationPolicy {
        kind,
        name: name.into(),
        display_name: display.into(),
        description: format!("{display} (managed)"),
        platforms: "windows10".into(),
        technologies: "mdm,microsoftSense".into(),
        template_id: template.into(),
        role_scope_tag_ids: vec!["0".into()],
        settings,
        assignments,
        origin: origin(),
    })
}

pub fn group(name: &str) -> DesiredAssignment {
    DesiredAssignment {
        target: AssignmentTarget::Group { group: name.into() },
        filter: None,
    }
}

pub fn all_devices() -> DesiredAssignment {
    DesiredAssignment {
        target: AssignmentTarget::AllDevices,
        filter: None,
    }
}

pub const QUERY: &str = "DeviceProcessEvents\n| where InitiatingProcessFileName in~ (\"winword.exe\", \"excel.exe\")\n| where FileName =~ \"powershell.exe\"\n| where ProcessCommandLine has \"-enc\"\n| project Timestamp, DeviceId, DeviceName, ReportId\n";

pub fn rule(name: &str, query: &str, techniques: &[&str]) -> DesiredObject {
    DesiredObject::DetectionRule(DesiredDetectionRule {
        name: name.into(),
        rule_id: name.into(),
        body: json!({
            "id": name,
            "displayName": "Encoded PowerShell launched by Office",
            "description": "Office spawning encoded PowerShell",
            "status": "enabled",
            "queryCondition": { "queryText": query },
            "schedule": { "frequency": "PT1H" },
            "detectionAction": {
                "alertTemplate": {
                    "title": "Encoded PowerShell from Office",
                    "description": "An Office process started PowerShell with an encoded command.",
                    "severity": "high",
                    "recommendedActions": "Isolate the device and review the command line.",
                    "tactics": [{
                        "tactic": "Execution",
                        "techniques": techniques.iter().map(|t| json!({"technique": t})).collect::<Vec<_>>(),
                    }],
                    "entityMappings": { "hosts": [{ "deviceIdColumn": "DeviceId" }] },
                }
            }
        }),
        origin: origin(),
    })
}

pub fn defender_role(name: &str, groups: &[&str], actions: &[&str]) -> DesiredObject {
    DesiredObject::RoleAssignment(DesiredRoleAssignment {
        name: name.into(),
        system: RbacSystem::Defender,
        role: "MSSP SOC Tier 1".into(),
        custom_role: Some(DesiredCustomRole {
            display_name: "MSSP SOC Tier 1".into(),
            description: "SOC analysts".into(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
        }),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        display_name: "SOC Tier 1".into(),
        description: "SOC tier 1 read access".into(),
        scopes: vec!["/".into()],
        origin: origin(),
    })
}

pub fn desired(name: &str, allow_removal: bool, objects: Vec<DesiredObject>) -> TenantDesired {
    let mut map = BTreeMap::new();
    for o in objects {
        let key = match &o {
            DesiredObject::ConfigurationPolicy(p) => (p.kind, p.name.clone()),
            DesiredObject::DetectionRule(r) => (Kind::DetectionRule, r.name.clone()),
            DesiredObject::RoleAssignment(r) => (Kind::RoleAssignment, r.name.clone()),
        };
        map.insert(key, o);
    }
    TenantDesired {
        tenant: TenantRef {
            id: tenant_id(name),
            name: name.into(),
        },
        profiles: vec!["ring0".into()],
        ring: Some(0),
        allow_removal,
        objects: map,
    }
}

pub fn tenant_id(name: &str) -> String {
    let n: u32 = name.bytes().map(u32::from).sum();
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The group directory of the test tenants.
pub fn groups() -> GroupDirectory {
    let mut g = GroupDirectory::default();
    g.insert(
        "Pilot Devices",
        vec!["11111111-1111-1111-1111-111111111111".into()],
    );
    g.insert(
        "Kiosks",
        vec!["22222222-2222-2222-2222-222222222222".into()],
    );
    g.insert(
        "MSSP SOC Tier 1",
        vec!["33333333-3333-3333-3333-333333333333".into()],
    );
    g.insert(
        "MSSP SOC Tier 2",
        vec!["44444444-4444-4444-4444-444444444444".into()],
    );
    g.insert("Missing Group", vec![]);
    g
}

/// What Graph returns for a policy rampart created from `object` (with `marker` as the
/// marker name, or none for an unmanaged one): server fields, annotations, template echo
/// and reversed settings.
pub fn graph_policy(object: &DesiredObject, id: &str, managed: bool) -> Value {
    let DesiredObject::ConfigurationPolicy(p) = object else {
        panic!("not a policy")
    };
    let mut body = rampart::plan::diff::policy_body(p);
    let family = match p.kind {
        Kind::AntivirusPolicy => "endpointSecurityAntivirus",
        Kind::FirewallPolicy => "endpointSecurityFirewall",
        _ => "endpointSecurityAttackSurfaceReduction",
    };
    let m = body.as_object_mut().expect("object");
    if !managed {
        m.insert("description".into(), json!(p.description));
    }
    m.insert("id".into(), json!(id));
    m.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.deviceManagementConfigurationPolicy"),
    );
    m.insert("createdDateTime".into(), json!("2026-11-01T10:00:00Z"));
    m.insert("lastModifiedDateTime".into(), json!("2026-11-02T10:00:00Z"));
    m.insert("settingCount".into(), json!(p.settings.len()));
    m.insert("isAssigned".into(), json!(!p.assignments.is_empty()));
    m.insert("creationSource".into(), Value::Null);
    m.insert("technologies".into(), json!("microsoftSense,mdm"));
    m.insert(
        "templateReference".into(),
        json!({"templateId": p.template_id, "templateFamily": family, "templateDisplayName": "x", "templateDisplayVersion": "Version 1"}),
    );
    if let Some(Value::Array(s)) = m.get_mut("settings") {
        s.reverse();
    }
    let groups = groups();
    let assignments: Vec<Value> = p
        .assignments
        .iter()
        .map(|a| {
            let target = match &a.target {
                AssignmentTarget::Group { group } => json!({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": groups.resolve(group).expect("group"), "deviceAndAppManagementAssignmentFilterType": "none"}),
                AssignmentTarget::ExcludeGroup { group } => json!({"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": groups.resolve(group).expect("group")}),
                AssignmentTarget::AllDevices => json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": null}),
                AssignmentTarget::AllLicensedUsers => json!({"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}),
            };
            json!({"id": format!("{id}_a"), "source": "direct", "sourceId": id, "target": target})
        })
        .collect();
    m.insert("assignments".into(), Value::Array(assignments));
    body
}

/// What Graph returns for a detection rule created from `object`, in the service's own
/// forms (techniques split into parent + sub-techniques, CRLF line ends, server fields).
pub fn graph_rule(object: &DesiredObject, managed: bool) -> Value {
    let DesiredObject::DetectionRule(r) = object else {
        panic!("not a rule")
    };
    let mut body = rampart::plan::diff::rule_body(r);
    let m = body.as_object_mut().expect("object");
    if !managed {
        m.insert("description".into(), r.body["description"].clone());
    }
    m.insert("createdBy".into(), json!("app@contoso"));
    m.insert("lastModifiedDateTime".into(), json!("2026-11-02T10:00:00Z"));
    m.insert("isEnabled".into(), json!(true));
    m.insert(
        "lastRunDetails".into(),
        json!({"lastRunDateTime": "2026-11-03T00:00:00Z", "status": "completed"}),
    );
    m.insert("detectorId".into(), json!("6d3d5a2c"));
    let q = m["queryCondition"]["queryText"]
        .as_str()
        .unwrap_or("")
        .replace('\n', "\r\n");
    m.insert(
        "queryCondition".into(),
        json!({"queryText": q.trim_end(), "lastModifiedDateTime": "2026-11-02T10:00:00Z"}),
    );
    m.insert(
        "schedule".into(),
        json!({"frequency": "PT1H", "nextRunDateTime": "2026-11-03T01:00:00Z"}),
    );
    let at = &mut m["detectionAction"]["alertTemplate"];
    // The service's technique form: parent with sub-techniques.
    let mut split: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in at["tactics"][0]["techniques"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let t = t["technique"].as_str().unwrap_or("").to_string();
        let parent = t.split('.').next().unwrap_or("").to_string();
        let e = split.entry(parent).or_default();
        if t.contains('.') {
            e.push(t);
        }
    }
    at["tactics"][0]["techniques"] = json!(
        split
            .into_iter()
            .map(|(p, subs)| json!({"technique": p, "subTechniques": subs}))
            .collect::<Vec<_>>()
    );
    at["impactedAssets"] = json!([]);
    body
}

pub fn defender_rbac(
    managed_def: Option<(&str, &[&str])>,
    managed_assignment: Option<(&str, &[&str])>,
) -> ObservedRbac {
    let mut rbac = ObservedRbac::default();
    rbac.role_definitions.push(
        ObservedRoleDefinition::from_graph(&json!({
            "id": "builtin-reader", "displayName": "Security Reader", "isBuiltIn": true,
            "rolePermissions": [{"allowedResourceActions": ["microsoft.xdr/secops/*/read"]}]
        }))
        .expect("role"),
    );
    if let Some((name, actions)) = managed_def {
        rbac.role_definitions.push(
            ObservedRoleDefinition::from_graph(&json!({
                "id": "role-1", "displayName": "MSSP SOC Tier 1",
                "description": format!("SOC analysts\n[rampart:{name}]"), "isBuiltIn": false,
                "rolePermissions": [{"allowedResourceActions": actions}]
            }))
            .expect("role"),
        );
    }
    if let Some((name, principals)) = managed_assignment {
        rbac.role_assignments.push(
            ObservedRoleAssignment::from_graph(
                RbacSystem::Defender,
                &json!({
                    "id": "assignment-1", "displayName": "SOC Tier 1",
                    "description": format!("SOC tier 1 read access\n[rampart:{name}]"),
                    "roleDefinitionId": "role-1", "principalIds": principals, "appScopeIds": ["/"]
                }),
            )
            .expect("assignment"),
        );
    }
    rbac
}

/// An observed tenant from Graph-shaped JSON.
pub fn observed(policies: &[Value], rules: &[Value], rbac: Option<ObservedRbac>) -> ObservedTenant {
    let mut t = ObservedTenant {
        groups: groups(),
        ..ObservedTenant::default()
    };
    for p in policies {
        t.configuration_policies
            .push(ObservedConfigurationPolicy::from_graph(p).expect("policy"));
    }
    for r in rules {
        t.detection_rules
            .push(ObservedDetectionRule::from_graph(r).expect("rule"));
    }
    if let Some(rbac) = rbac {
        t.rbac.insert(RbacSystem::Defender, rbac);
    }
    t
}

pub fn plan_of(tenants: Vec<TenantPlan>) -> Plan {
    Plan::new(
        tenants,
        "sha256:0000".into(),
        CreatedFrom {
            source: "emulator".into(),
            ..CreatedFrom::default()
        },
    )
}

pub fn av(cloud: &str) -> DesiredObject {
    policy(
        Kind::AntivirusPolicy,
        "baseline-antivirus",
        "MSSP - Defender Antivirus baseline",
        AV_TEMPLATE,
        av_settings(cloud),
        vec![group("Pilot Devices"), all_devices()],
    )
}

pub fn asr(mode: &str, groups: Vec<DesiredAssignment>) -> DesiredObject {
    policy(
        Kind::AttackSurfaceReductionPolicy,
        "baseline-asr",
        "MSSP - ASR rules",
        ASR_TEMPLATE,
        asr_settings(mode),
        groups,
    )
}

pub fn firewall() -> DesiredObject {
    policy(
        Kind::FirewallPolicy,
        "baseline-firewall",
        "MSSP - Firewall",
        FW_TEMPLATE,
        vec![choice(
            "vendor_msft_firewall_mdmstore_domainprofile_enablefirewall",
            "true",
        )],
        vec![],
    )
}
