//! The pure core: normalisation, ownership rules and every action, on desired states and
//! Graph-shaped observed JSON.

use rampart::desired::Kind;
use rampart::plan::*;
use serde_json::json;

use super::fixtures::*;

fn only(plan: &TenantPlan, kind: Kind) -> &ObjectPlan {
    let found: Vec<&ObjectPlan> = plan
        .objects
        .iter()
        .filter(|o| o.address.kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "{:#?}", plan.objects);
    found[0]
}

#[test]
fn in_step_tenant_plans_no_changes() {
    let objects = vec![
        av("2"),
        asr("audit", vec![group("Pilot Devices")]),
        rule("encoded-powershell", QUERY, &["T1059", "T1059.001"]),
        defender_role(
            "soc-tier1",
            &["MSSP SOC Tier 1"],
            &[
                "microsoft.xdr/secops/*/read",
                "microsoft.xdr/secops/securitydata/read",
            ],
        ),
    ];
    let d = desired("contoso", true, objects.clone());
    let o = observed(
        &[
            graph_policy(&objects[0], "p1", true),
            graph_policy(&objects[1], "p2", true),
        ],
        &[graph_rule(&objects[2], true)],
        // Defender stored the wildcard only: the specific action it covers was dropped.
        Some(defender_rbac(
            Some(("soc-tier1", &["microsoft.xdr/secops/*/read"])),
            Some(("soc-tier1", &["33333333-3333-3333-3333-333333333333"])),
        )),
    );
    let plan = diff_tenant(&d, &o);
    for obj in &plan.objects {
        assert_eq!(obj.action, Action::NoOp, "{obj:#?}");
        assert!(obj.requests.is_empty());
        assert!(obj.changes.is_empty(), "{obj:#?}");
    }
    assert_eq!(plan.objects.len(), 4);
    let p = plan_of(vec![plan]);
    assert!(!p.summary.has_changes());
    assert!(!p.errored);
}

#[test]
fn settings_order_and_template_echo_are_not_changes() {
    let a = av("2");
    let mut g = graph_policy(&a, "p1", true);
    // Server echoes template references rampart never sent; children order differs.
    g["settings"][0]["settingInstance"]["settingInstanceTemplateReference"] =
        json!({"settingInstanceTemplateId": "c7a37009-c16e-4145-84c8-89a8c121fb15"});
    let plan = diff_tenant(
        &desired("contoso", false, vec![a]),
        &observed(&[g], &[], None),
    );
    assert_eq!(
        plan.objects[0].action,
        Action::NoOp,
        "{:#?}",
        plan.objects[0]
    );
    assert_eq!(plan.objects[0].unchanged_settings, 5);
}

#[test]
fn field_level_update_uses_readable_names_and_counts_hidden() {
    let before = av("2");
    let mut after = av("6");
    if let rampart::desired::DesiredObject::ConfigurationPolicy(p) = &mut after {
        p.description = "Zero tolerance".into();
    }
    let plan = diff_tenant(
        &desired("contoso", false, vec![after]),
        &observed(&[graph_policy(&before, "p1", true)], &[], None),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Update);
    let paths: Vec<&str> = o.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["description", "settings.cloudBlockLevel"]);
    assert_eq!(o.changes[1].before, json!("high"));
    assert_eq!(o.changes[1].after, json!("zeroTolerance"));
    assert_eq!(o.unchanged_settings, 4);
    assert_eq!(o.unchanged_fields, 6);
    // One full PUT, no /assign (assignments did not change).
    assert_eq!(o.requests.len(), 1);
    assert_eq!(o.requests[0].method, HttpMethod::Put);
    assert_eq!(
        o.requests[0].path,
        "/beta/deviceManagement/configurationPolicies/p1"
    );
    let body = o.requests[0].body.as_ref().expect("body");
    assert_eq!(
        body["description"],
        json!("Zero tolerance\n[rampart:baseline-antivirus]")
    );
    assert_eq!(body["settings"].as_array().map(Vec::len), Some(5));
    assert_eq!(o.observed[0].id, "p1");
    assert!(o.observed[0].fingerprint.starts_with("sha256:"));
    assert_eq!(
        o.observed[0].last_modified.as_deref(),
        Some("2026-11-02T10:00:00Z")
    );
}

#[test]
fn assignment_change_sends_complete_list() {
    let before = av("2");
    let mut after = av("2");
    if let rampart::desired::DesiredObject::ConfigurationPolicy(p) = &mut after {
        p.assignments = vec![group("Kiosks")];
    }
    let plan = diff_tenant(
        &desired("contoso", false, vec![after]),
        &observed(&[graph_policy(&before, "p1", true)], &[], None),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Update);
    assert_eq!(o.changes.len(), 1);
    assert_eq!(o.changes[0].path, "assignments");
    assert_eq!(
        o.changes[0].before,
        json!(["allDevices", "group: Pilot Devices"])
    );
    assert_eq!(o.changes[0].after, json!(["group: Kiosks"]));
    assert_eq!(o.requests.len(), 1);
    assert_eq!(
        o.requests[0].path,
        "/beta/deviceManagement/configurationPolicies/p1/assign"
    );
    assert_eq!(
        o.requests[0].body,
        Some(
            json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "22222222-2222-2222-2222-222222222222"}}]})
        )
    );
}

#[test]
fn create_sends_marker_and_resolved_groups() {
    let plan = diff_tenant(
        &desired("contoso", false, vec![av("2")]),
        &observed(&[], &[], None),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Create);
    assert!(o.observed.is_empty());
    assert_eq!(o.requests.len(), 2);
    assert_eq!(o.requests[0].purpose, RequestPurpose::Create);
    let body = o.requests[0].body.as_ref().expect("body");
    assert!(
        body["description"]
            .as_str()
            .unwrap_or("")
            .ends_with("\n[rampart:baseline-antivirus]")
    );
    assert_eq!(body["templateReference"]["templateId"], json!(AV_TEMPLATE));
    assert_eq!(
        o.requests[1].path,
        "/beta/deviceManagement/configurationPolicies/{id}/assign"
    );
    assert!(o.changes.iter().all(|c| c.before.is_null()));
    assert!(
        o.changes
            .iter()
            .any(|c| c.path == "settings.realTimeMonitoring" && c.after == json!("enabled"))
    );
}

#[test]
fn unmanaged_look_alike_is_reported_and_never_touched() {
    let a = av("2");
    let plan = diff_tenant(
        &desired("contoso", true, vec![av("6")]),
        &observed(&[graph_policy(&a, "theirs", false)], &[], None),
    );
    assert_eq!(
        plan.objects.len(),
        1,
        "the unmanaged policy is not a deletion candidate"
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Adopt);
    assert!(o.requests.is_empty());
    assert_eq!(o.look_alike.as_ref().map(|r| r.id.as_str()), Some("theirs"));
    assert!(
        o.changes
            .iter()
            .any(|c| c.path == "settings.cloudBlockLevel")
    );
    let p = plan_of(vec![plan]);
    assert_eq!(p.summary.adoption_candidates, 1);
    assert!(!p.summary.has_changes());
}

#[test]
fn managed_orphans_are_deleted_only_when_removal_is_allowed() {
    let old = firewall();
    let o = observed(&[graph_policy(&old, "fw1", true)], &[], None);
    let kept = diff_tenant(&desired("contoso", false, vec![]), &o);
    assert_eq!(kept.objects.len(), 1);
    assert_eq!(kept.objects[0].action, Action::NoOp);
    assert!(kept.objects[0].requests.is_empty());
    assert!(kept.objects[0].notes[0].contains("allowRemoval"));

    let removed = diff_tenant(&desired("contoso", true, vec![]), &o);
    let d = &removed.objects[0];
    assert_eq!(d.action, Action::Delete);
    assert_eq!(
        d.address.to_string(),
        "contoso/FirewallPolicy/baseline-firewall"
    );
    assert_eq!(d.requests.len(), 1);
    assert_eq!(d.requests[0].method, HttpMethod::Delete);
    assert_eq!(
        d.requests[0].path,
        "/beta/deviceManagement/configurationPolicies/fw1"
    );
    assert_eq!(d.observed[0].id, "fw1");
    // Unmanaged objects are never deletion candidates, whatever the profile says.
    let unmanaged = observed(&[graph_policy(&old, "fw2", false)], &[], None);
    assert!(
        diff_tenant(&desired("contoso", true, vec![]), &unmanaged)
            .objects
            .is_empty()
    );
}

#[test]
fn missing_group_is_an_error_for_that_object_only() {
    let plan = diff_tenant(
        &desired(
            "contoso",
            false,
            vec![
                asr("block", vec![group("Missing Group"), group("Nobody")]),
                av("2"),
            ],
        ),
        &observed(&[], &[], None),
    );
    let asr = only(&plan, Kind::AttackSurfaceReductionPolicy);
    assert_eq!(asr.action, Action::Error);
    assert!(asr.requests.is_empty());
    let err = asr.error.as_deref().unwrap_or("");
    assert!(err.contains("\"Missing Group\" does not exist"), "{err}");
    assert!(err.contains("\"Nobody\" does not exist"), "{err}");
    assert_eq!(only(&plan, Kind::AntivirusPolicy).action, Action::Create);
    let p = plan_of(vec![plan]);
    assert!(p.errored);
    assert_eq!(p.summary.errors, 1);
}

#[test]
fn detection_rule_kql_change_and_technique_forms() {
    let before = rule("encoded-powershell", QUERY, &["T1059.001"]);
    let new_query = QUERY.replace("\"-enc\"", "\"-enc\" or ProcessCommandLine has \"-e \"");
    let after = rule("encoded-powershell", &new_query, &["T1059", "T1059.001"]);
    let plan = diff_tenant(
        &desired("contoso", false, vec![after]),
        &observed(&[], &[graph_rule(&before, true)], None),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Update, "{o:#?}");
    let paths: Vec<&str> = o.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["query"],
        "techniques T1059+T1059.001 equal the service's form"
    );
    assert_eq!(o.requests[0].method, HttpMethod::Patch);
    assert_eq!(
        o.requests[0].path,
        "/beta/security/rules/detectionRules/encoded-powershell"
    );
    assert!(
        o.requests[0]
            .body
            .as_ref()
            .is_some_and(|b| b.get("id").is_none())
    );
}

#[test]
fn detection_rule_id_held_by_an_unmanaged_rule_is_an_adoption_candidate() {
    let r = rule("encoded-powershell", QUERY, &["T1059"]);
    let plan = diff_tenant(
        &desired("contoso", true, vec![r.clone()]),
        &observed(&[], &[graph_rule(&r, false)], None),
    );
    assert_eq!(plan.objects.len(), 1);
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Adopt);
    assert!(
        o.requests.is_empty(),
        "an adoption candidate is never written"
    );
    assert!(o.look_alike.is_some());
    assert!(o.changes.is_empty(), "{:#?}", o.changes);
}

#[test]
fn defender_role_principal_change_replaces_the_assignment() {
    let plan = diff_tenant(
        &desired(
            "contoso",
            false,
            vec![defender_role(
                "soc-tier1",
                &["MSSP SOC Tier 2"],
                &["microsoft.xdr/secops/*/read"],
            )],
        ),
        &observed(
            &[],
            &[],
            Some(defender_rbac(
                Some(("soc-tier1", &["microsoft.xdr/secops/*/read"])),
                Some(("soc-tier1", &["33333333-3333-3333-3333-333333333333"])),
            )),
        ),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Replace, "{o:#?}");
    assert_eq!(o.changes.len(), 1);
    assert_eq!(o.changes[0].path, "groups");
    assert_eq!(o.changes[0].before, json!(["MSSP SOC Tier 1"]));
    assert_eq!(o.changes[0].after, json!(["MSSP SOC Tier 2"]));
    let methods: Vec<HttpMethod> = o.requests.iter().map(|r| r.method).collect();
    assert_eq!(methods, vec![HttpMethod::Delete, HttpMethod::Post]);
    assert_eq!(
        o.requests[1]
            .body
            .as_ref()
            .map(|b| b["roleDefinitionId"].clone()),
        Some(json!("role-1"))
    );
}

#[test]
fn defender_custom_role_action_change_patches_the_role() {
    let plan = diff_tenant(
        &desired(
            "contoso",
            false,
            vec![defender_role(
                "soc-tier1",
                &["MSSP SOC Tier 1"],
                &[
                    "microsoft.xdr/secops/*/read",
                    "microsoft.xdr/secops/*/manage",
                ],
            )],
        ),
        &observed(
            &[],
            &[],
            Some(defender_rbac(
                Some(("soc-tier1", &["microsoft.xdr/secops/*/read"])),
                Some(("soc-tier1", &["33333333-3333-3333-3333-333333333333"])),
            )),
        ),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Update, "{o:#?}");
    assert_eq!(o.requests.len(), 1);
    assert_eq!(o.requests[0].purpose, RequestPurpose::UpdateRoleDefinition);
    assert_eq!(
        o.requests[0].path,
        "/beta/roleManagement/defender/roleDefinitions/role-1"
    );
}

#[test]
fn new_defender_role_creates_definition_then_assignment() {
    let plan = diff_tenant(
        &desired(
            "contoso",
            false,
            vec![defender_role(
                "soc-tier1",
                &["MSSP SOC Tier 1"],
                &["microsoft.xdr/secops/*/read"],
            )],
        ),
        &observed(&[], &[], Some(defender_rbac(None, None))),
    );
    let o = &plan.objects[0];
    assert_eq!(o.action, Action::Create);
    let purposes: Vec<RequestPurpose> = o.requests.iter().map(|r| r.purpose).collect();
    assert_eq!(
        purposes,
        vec![RequestPurpose::CreateRoleDefinition, RequestPurpose::Create]
    );
    assert_eq!(
        o.requests[1]
            .body
            .as_ref()
            .map(|b| b["roleDefinitionId"].clone()),
        Some(json!(CREATED_ROLE_DEFINITION_ID))
    );
}

#[test]
fn targets_and_kinds_filter_the_plan() {
    let plan = diff_tenant(
        &desired("contoso", false, vec![av("2"), firewall()]),
        &observed(&[], &[], None),
    );
    let mut p = plan_of(vec![plan]);
    p.filter(&["contoso/FirewallPolicy".to_string()], &[]);
    assert_eq!(p.summary.to_add, 1);
    assert_eq!(p.tenants[0].objects[0].address.kind, Kind::FirewallPolicy);
}

#[test]
fn deletions_come_first() {
    let plan = diff_tenant(
        &desired("contoso", true, vec![av("2")]),
        &observed(&[graph_policy(&firewall(), "fw1", true)], &[], None),
    );
    assert_eq!(plan.objects[0].action, Action::Delete);
    assert_eq!(plan.objects[1].action, Action::Create);
}

fn role(
    system: rampart::desired::RbacSystem,
    role: &str,
    groups: &[&str],
) -> rampart::desired::DesiredObject {
    rampart::desired::DesiredObject::RoleAssignment(rampart::desired::DesiredRoleAssignment {
        name: "soc-readers".into(),
        system,
        role: role.into(),
        custom_role: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        display_name: "SOC readers".into(),
        description: "Read access for the SOC".into(),
        scopes: vec!["/".into()],
        origin: origin(),
    })
}

#[test]
fn directory_roles_add_missing_principals_and_never_remove() {
    use rampart::desired::RbacSystem;
    let mut rbac = rampart::plan::ObservedRbac::default();
    rbac.role_definitions.push(
        rampart::plan::ObservedRoleDefinition::from_graph(&json!({"id": "5d6b6bb7-de71-4623-b4af-96380a352509", "displayName": "Security Reader", "isBuiltIn": true}))
            .expect("def"),
    );
    for (id, p) in [
        ("a1", "33333333-3333-3333-3333-333333333333"),
        ("a2", "99999999-9999-9999-9999-999999999999"),
    ] {
        rbac.role_assignments.push(
            rampart::plan::ObservedRoleAssignment::from_graph(
                RbacSystem::Directory,
                &json!({"id": id, "roleDefinitionId": "5d6b6bb7-de71-4623-b4af-96380a352509", "principalId": p, "directoryScopeId": "/"}),
            )
            .expect("assignment"),
        );
    }
    let mut o = observed(&[], &[], None);
    o.rbac.insert(RbacSystem::Directory, rbac);
    let d = desired(
        "contoso",
        true,
        vec![role(
            RbacSystem::Directory,
            "Security Reader",
            &["MSSP SOC Tier 1", "MSSP SOC Tier 2"],
        )],
    );
    let plan = diff_tenant(&d, &o);
    assert_eq!(
        plan.objects.len(),
        1,
        "the other principal's assignment is never a deletion"
    );
    let obj = &plan.objects[0];
    assert_eq!(obj.action, Action::Update, "{obj:#?}");
    assert_eq!(obj.requests.len(), 1);
    assert_eq!(
        obj.requests[0].path,
        "/v1.0/roleManagement/directory/roleAssignments"
    );
    assert_eq!(
        obj.requests[0]
            .body
            .as_ref()
            .map(|b| b["principalId"].clone()),
        Some(json!("44444444-4444-4444-4444-444444444444"))
    );
    assert!(
        obj.notes[0].contains("1 other principal"),
        "{:?}",
        obj.notes
    );
}

#[test]
fn intune_role_assignment_create_then_no_change() {
    use rampart::desired::RbacSystem;
    let mut rbac = rampart::plan::ObservedRbac::default();
    rbac.role_definitions.push(
        rampart::plan::ObservedRoleDefinition::from_graph(&json!({"id": "esm", "displayName": "Endpoint Security Manager", "isBuiltIn": true,
            "rolePermissions": [{"resourceActions": [{"allowedResourceActions": ["Microsoft.Intune_DeviceConfigurations_Read"]}]}]}))
            .expect("def"),
    );
    let d = desired(
        "contoso",
        false,
        vec![role(
            RbacSystem::Intune,
            "Endpoint Security Manager",
            &["MSSP SOC Tier 1"],
        )],
    );
    let mut o = observed(&[], &[], None);
    o.rbac.insert(RbacSystem::Intune, rbac.clone());
    let plan = diff_tenant(&d, &o);
    let obj = &plan.objects[0];
    assert_eq!(obj.action, Action::Create);
    let body = obj.requests[0].body.clone().expect("body");
    assert_eq!(
        body["members"],
        json!(["33333333-3333-3333-3333-333333333333"])
    );
    assert_eq!(body["scopeType"], json!("allDevicesAndLicensedUsers"));
    assert!(
        body["roleDefinition@odata.bind"]
            .as_str()
            .unwrap_or("")
            .ends_with("roleDefinitions('esm')")
    );
    assert!(
        body["description"]
            .as_str()
            .unwrap_or("")
            .ends_with("[rampart:soc-readers]")
    );

    // What Graph returns after that create plans no change.
    let mut read_back = body.clone();
    read_back["id"] = json!("ra-1");
    read_back["roleDefinition"] = json!({"id": "esm"});
    rbac.role_assignments.push(
        rampart::plan::ObservedRoleAssignment::from_graph(RbacSystem::Intune, &read_back)
            .expect("assignment"),
    );
    o.rbac.insert(RbacSystem::Intune, rbac);
    let again = diff_tenant(&d, &o);
    assert_eq!(
        again.objects[0].action,
        Action::NoOp,
        "{:#?}",
        again.objects[0]
    );
}
