//! Issue 14: one test per gap, each against the Graph document (or the reported service
//! behaviour, `shared/reference/graph-api*.md`) named in its comment, never against
//! rampart's client. Documents are `https://learn.microsoft.com/graph/api/<name>`.

use crate::*;
use rampart_emulator::{PageSizes, SettingOracle};
use serde_json::{Value, json};

const POLICIES: &str = "/beta/deviceManagement/configurationPolicies";
const TAGS: &str = "/beta/deviceManagement/roleScopeTags";
const FILTERS: &str = "/beta/deviceManagement/assignmentFilters";

fn ids(v: &Value) -> Vec<String> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

/// Gap 1. `intune-rbac-rolescopetag-list`: 200 with a collection holding the built-in
/// `Default` tag (id "0"); `-create` 201 with the object; `-update` 200 with the object;
/// `-delete` 204. Built-in tags cannot change. Also inside `$batch` (`json-batching`).
#[tokio::test]
async fn gap01_role_scope_tags() {
    let (env, t) = started().await;
    let list = env.get(&t, TAGS).await;
    assert_eq!(list["value"][0]["id"], "0");
    assert_eq!(list["value"][0]["displayName"], "Default");
    assert_eq!(list["value"][0]["isBuiltIn"], true);
    let (s, _, tag) = env
        .call(
            &t,
            "POST",
            TAGS,
            Some(json!({"displayName": "Region EU", "description": "EU"})),
        )
        .await;
    assert_eq!(s, 201, "{tag}");
    let id = tag["id"].as_str().unwrap().to_string();
    assert_eq!(tag["isBuiltIn"], false);
    let (s, _, upd) = env
        .call(
            &t,
            "PATCH",
            &format!("{TAGS}/{id}"),
            Some(json!({"description": "Europe"})),
        )
        .await;
    assert_eq!((s, upd["description"].as_str()), (200, Some("Europe")));
    assert_eq!(
        env.status(
            &t,
            "PATCH",
            &format!("{TAGS}/0"),
            Some(json!({"displayName": "x"}))
        )
        .await,
        400
    );
    assert_eq!(
        env.status(&t, "DELETE", &format!("{TAGS}/0"), None).await,
        400
    );
    // Policies may name the custom tag; unknown tags are refused.
    let mut p = av_policy("Tagged");
    p["roleScopeTagIds"] = json!(["0", id]);
    assert_eq!(env.status(&t, "POST", POLICIES, Some(p.clone())).await, 201);
    p["roleScopeTagIds"] = json!(["999"]);
    assert_eq!(env.status(&t, "POST", POLICIES, Some(p)).await, 400);
    // Inside $batch too.
    let (s, _, b) = env
        .call(
            &t,
            "POST",
            "/beta/$batch",
            Some(json!({"requests": [
            {"id": "1", "method": "GET", "url": "/deviceManagement/roleScopeTags"}]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["responses"][0]["status"], 200, "{b}");
    assert_eq!(
        env.status(&t, "DELETE", &format!("{TAGS}/{id}"), None)
            .await,
        204
    );
    env.emu.shutdown().await;
}

/// Gap 2. `intune-policyset-deviceandappmanagementassignmentfilter-list|create|get|update|
/// delete`: list 200; create with `displayName`, `platform`, `rule` answers 201 with the
/// object; an unknown platform or an empty rule is 400. Assignments may name the filter;
/// a filter that does not exist is refused.
#[tokio::test]
async fn gap02_assignment_filters() {
    let (env, t) = started().await;
    let (s, _, list) = env.call(&t, "GET", FILTERS, None).await;
    assert_eq!((s, list["value"].as_array().map(Vec::len)), (200, Some(0)));
    let body = json!({"displayName": "Corporate laptops", "platform": "windows10AndLater",
        "rule": "(device.deviceOwnershipType -eq \"Corporate\")"});
    let (s, _, f) = env.call(&t, "POST", FILTERS, Some(body.clone())).await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["assignmentFilterManagementType"], "devices");
    assert_eq!(
        f["@odata.type"],
        "#microsoft.graph.deviceAndAppManagementAssignmentFilter"
    );
    let fid = f["id"].as_str().unwrap().to_string();
    let mut bad = body.clone();
    bad["platform"] = json!("windows11");
    assert_eq!(env.status(&t, "POST", FILTERS, Some(bad)).await, 400);
    let mut bad = body.clone();
    bad["rule"] = json!("");
    assert_eq!(env.status(&t, "POST", FILTERS, Some(bad)).await, 400);
    let (s, _, got) = env.call(&t, "GET", &format!("{FILTERS}/{fid}"), None).await;
    assert_eq!(
        (s, got["displayName"].as_str()),
        (200, Some("Corporate laptops"))
    );
    let (s, _, upd) = env
        .call(
            &t,
            "PATCH",
            &format!("{FILTERS}/{fid}"),
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!((s, upd["description"].as_str()), (200, Some("d")));
    // An assignment naming the filter, then one naming a filter that does not exist.
    let (_, _, p) = env
        .call(&t, "POST", POLICIES, Some(av_policy("Filtered")))
        .await;
    let pid = p["id"].as_str().unwrap();
    let group = env
        .emu
        .admin()
        .add_group(TENANT_A, "Pilot Devices")
        .unwrap();
    let assign = |filter: &str| {
        json!({"assignments": [{"target": {
        "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
        "deviceAndAppManagementAssignmentFilterId": filter,
        "deviceAndAppManagementAssignmentFilterType": "include"}}]})
    };
    let (s, _, a) = env
        .call(
            &t,
            "POST",
            &format!("{POLICIES}/{pid}/assign"),
            Some(assign(&fid)),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    let missing = "3f7c1d2e-0000-4000-8000-000000000000";
    assert_eq!(
        env.status(
            &t,
            "POST",
            &format!("{POLICIES}/{pid}/assign"),
            Some(assign(missing))
        )
        .await,
        400
    );
    assert_eq!(
        env.status(&t, "DELETE", &format!("{FILTERS}/{fid}"), None)
            .await,
        204
    );
    env.emu.shutdown().await;
}

async fn intune_role(env: &Env, t: &str, name: &str) -> String {
    let (s, _, d) = env
        .call(t, "POST", "/beta/deviceManagement/roleDefinitions", Some(json!({
            "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition",
            "displayName": name, "description": "",
            "rolePermissions": [{"resourceActions": [{"allowedResourceActions": [
                "Microsoft.Intune_DeviceConfigurations_Read"], "notAllowedResourceActions": []}]}]})))
        .await;
    assert_eq!(s, 201, "{d}");
    d["id"].as_str().unwrap().to_string()
}

async fn intune_assignment(env: &Env, t: &str, role: &str, name: &str) -> (u16, Value) {
    let group = env.emu.admin().add_group(TENANT_A, "Kiosks").unwrap();
    let (s, _, a) = env
        .call(t, "POST", "/beta/deviceManagement/roleAssignments", Some(json!({
            "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment",
            "displayName": name, "description": "", "members": [group],
            "scopeMembers": [], "resourceScopes": [], "scopeType": "allDevices",
            "roleDefinition@odata.bind": format!("https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('{role}')")})))
        .await;
    (s, a)
}

/// Gap 3. `intune-rbac-roleassignment-list`: `GET /deviceManagement/roleDefinitions/{id}/
/// roleAssignments` answers 200 with the assignments of that definition only.
#[tokio::test]
async fn gap03_role_definition_assignments() {
    let (env, t) = started().await;
    let r1 = intune_role(&env, &t, "Helpdesk readers").await;
    let r2 = intune_role(&env, &t, "Other readers").await;
    let (s, a1) = intune_assignment(&env, &t, &r1, "Helpdesk").await;
    assert_eq!(s, 201, "{a1}");
    assert_eq!(intune_assignment(&env, &t, &r2, "Other").await.0, 201);
    for v in ["beta", "v1.0"] {
        let list = env
            .get(
                &t,
                &format!("/{v}/deviceManagement/roleDefinitions/{r1}/roleAssignments"),
            )
            .await;
        assert_eq!(ids(&list), vec![a1["id"].as_str().unwrap().to_string()]);
    }
    let missing = "/beta/deviceManagement/roleDefinitions/3f7c1d2e-0000-4000-8000-000000000000/roleAssignments";
    assert_eq!(env.status(&t, "GET", missing, None).await, 404);
    env.emu.shutdown().await;
}

/// Gap 4. Success statuses per document: `intune-rbac-deviceandappmanagementroledefinition-
/// update` and `...roleassignment-update` answer 200 with the updated object;
/// `-create` 201; `-delete` 204; `intune-deviceconfigv2-devicemanagementconfigurationpolicy-
/// update` 200, `-create` 201, `-assign` 200, `-delete` 204; `security-detectionrule-update`
/// 200 with the object.
#[tokio::test]
async fn gap04_success_statuses_follow_the_documents() {
    let (env, t) = started().await;
    let role = intune_role(&env, &t, "Status role").await;
    let (s, _, d) = env
        .call(
            &t,
            "PATCH",
            &format!("/beta/deviceManagement/roleDefinitions/{role}"),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(
        (s, d["description"].as_str()),
        (200, Some("changed")),
        "{d}"
    );
    assert_eq!(d["id"], role.as_str());
    let (_, a) = intune_assignment(&env, &t, &role, "Status assignment").await;
    let aid = a["id"].as_str().unwrap();
    let (s, _, a2) = env
        .call(
            &t,
            "PATCH",
            &format!("/beta/deviceManagement/roleAssignments/{aid}"),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(
        (s, a2["description"].as_str()),
        (200, Some("changed")),
        "{a2}"
    );
    let (s, _, p) = env
        .call(&t, "POST", POLICIES, Some(av_policy("Statuses")))
        .await;
    assert_eq!(s, 201);
    let pid = p["id"].as_str().unwrap();
    let (s, _, pp) = env
        .call(
            &t,
            "PATCH",
            &format!("{POLICIES}/{pid}"),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!((s, pp["description"].as_str()), (200, Some("x")));
    let (s, _, _) = env
        .call(
            &t,
            "POST",
            &format!("{POLICIES}/{pid}/assign"),
            Some(json!({"assignments": []})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, r) = env
        .call(
            &t,
            "POST",
            "/beta/security/rules/detectionRules",
            Some(rule("status-rule")),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, _, r) = env
        .call(
            &t,
            "PATCH",
            "/beta/security/rules/detectionRules/status-rule",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("disabled")));
    assert_eq!(
        env.status(
            &t,
            "DELETE",
            &format!("/beta/deviceManagement/roleAssignments/{aid}"),
            None
        )
        .await,
        204
    );
    assert_eq!(
        env.status(&t, "DELETE", &format!("{POLICIES}/{pid}"), None)
            .await,
        204
    );
    env.emu.shutdown().await;
}

/// Gap 5. `group-post-groups`: `displayName`, `mailEnabled`, `mailNickname`,
/// `securityEnabled` are required; 201 with the group; `group-list` with
/// `$filter=startswith(displayName,'...')` and `eq` finds it.
#[tokio::test]
async fn gap05_group_creation_and_filters() {
    let (env, t) = started().await;
    let (s, _, g) = env
        .call(
            &t,
            "POST",
            "/v1.0/groups",
            Some(json!({"displayName": "MSSP Pilot Ring",
            "mailEnabled": false, "mailNickname": "mssppilotring", "securityEnabled": true})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert!(
        g["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#groups/$entity")
    );
    assert_eq!(g["securityEnabled"], true);
    let missing =
        json!({"displayName": "No nickname", "mailEnabled": false, "securityEnabled": true});
    assert_eq!(
        env.status(&t, "POST", "/v1.0/groups", Some(missing)).await,
        400
    );
    let (s, _, list) = env
        .call(
            &t,
            "GET",
            "/v1.0/groups?$filter=startswith(displayName,'MSSP')",
            None,
        )
        .await;
    assert_eq!(
        (s, ids(&list)),
        (200, vec![g["id"].as_str().unwrap().to_string()])
    );
    let list = env
        .get(&t, "/v1.0/groups?$filter=displayName eq 'MSSP Pilot Ring'")
        .await;
    assert_eq!(ids(&list).len(), 1);
    // A reader without a group-writing role is refused (403).
    let reader = env.token_for(TENANT_A, READER_APP, "reader-secret").await;
    let body = json!({"displayName": "x", "mailEnabled": false, "mailNickname": "x", "securityEnabled": true});
    assert_eq!(
        env.status(&reader, "POST", "/v1.0/groups", Some(body))
            .await,
        403
    );
    env.emu.shutdown().await;
}

/// Gap 6. Intune refuses `roleScopeTagIds: []` and `null` on create with 400
/// (`deviceManagementConfigurationPolicy`: scope tags are required; reported behaviour).
#[tokio::test]
async fn gap06_empty_or_null_scope_tags_are_refused() {
    let (env, t) = started().await;
    for tags in [json!([]), Value::Null, json!([0])] {
        let mut p = av_policy("No tags");
        p["roleScopeTagIds"] = tags.clone();
        let (s, _, e) = env.call(&t, "POST", POLICIES, Some(p)).await;
        assert_eq!(s, 400, "{tags}: {e}");
    }
    let mut p = av_policy("Tagless create defaults to Default");
    p.as_object_mut().unwrap().remove("roleScopeTagIds");
    let (s, _, created) = env.call(&t, "POST", POLICIES, Some(p)).await;
    assert_eq!((s, created["roleScopeTagIds"].clone()), (201, json!(["0"])));
    env.emu.shutdown().await;
}

/// Gap 7. A setting whose `settingInstanceTemplateId` or `settingValueTemplateId` its
/// template does not define is refused: "Invalid Reference id found in Policy created from
/// Template" (Intune's answer as reported by clients); the ids real exports carry pass.
#[tokio::test]
async fn gap07_template_reference_ids_are_checked() {
    let (env, t) = started().await;
    let with_refs = |instance: &str, value: &str| {
        let mut p = av_policy("Refs");
        let s = &mut p["settings"][1]["settingInstance"];
        s["settingInstanceTemplateReference"] = json!({"settingInstanceTemplateId": instance});
        s["choiceSettingValue"]["settingValueTemplateReference"] =
            json!({"settingValueTemplateId": value, "useTemplateDefault": false});
        p
    };
    // The ids of allowarchivescanning in the real OpenIntuneBaseline AV export.
    let good = with_refs(
        "7c5c9cde-f74d-4d11-904f-de4c27f72d89",
        "9ead75d4-6f30-4bc5-8cc5-ab0f999d79f0",
    );
    assert_eq!(env.status(&t, "POST", POLICIES, Some(good)).await, 201);
    for (i, v) in [
        (
            "11111111-2222-4333-8444-555555555555",
            "9ead75d4-6f30-4bc5-8cc5-ab0f999d79f0",
        ),
        // allowrealtimemonitoring's own instance id, on the wrong setting.
        (
            "f0790e28-9231-4d37-8f44-84bb47ca1b3e",
            "9ead75d4-6f30-4bc5-8cc5-ab0f999d79f0",
        ),
        (
            "7c5c9cde-f74d-4d11-904f-de4c27f72d89",
            "0492c452-1069-4b91-9363-93b8e006ab12",
        ),
    ] {
        let (s, _, e) = env.call(&t, "POST", POLICIES, Some(with_refs(i, v))).await;
        assert_eq!(s, 400, "{i} {v}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Invalid Reference id"),
            "{e}"
        );
    }
    env.emu.shutdown().await;
}

/// Gap 8. Defender refuses a second detection rule with the same `displayName` (409) or the
/// same alert title (400) (`graph-api-2.md` §6.3, observed via Graph).
#[tokio::test]
async fn gap08_detection_rule_names_and_titles_are_unique() {
    let (env, t) = started().await;
    const RULES: &str = "/beta/security/rules/detectionRules";
    assert_eq!(
        env.status(&t, "POST", RULES, Some(rule("first"))).await,
        201
    );
    let mut same_name = rule("second");
    same_name["displayName"] = json!("RULE FIRST");
    same_name["detectionAction"]["alertTemplate"]["title"] = json!("Other title");
    assert_eq!(env.status(&t, "POST", RULES, Some(same_name)).await, 409);
    let same_title = rule("third"); // same alert title as "first"
    assert_eq!(env.status(&t, "POST", RULES, Some(same_title)).await, 400);
    let mut distinct = rule("fourth");
    distinct["detectionAction"]["alertTemplate"]["title"] = json!("Fourth title");
    assert_eq!(env.status(&t, "POST", RULES, Some(distinct)).await, 201);
    // Renaming onto a taken name is refused too; keeping one's own name is fine.
    let (s, _, _) = env
        .call(
            &t,
            "PATCH",
            &format!("{RULES}/fourth"),
            Some(json!({"displayName": "Rule first"})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _, _) = env
        .call(
            &t,
            "PATCH",
            &format!("{RULES}/fourth"),
            Some(json!({"displayName": "Rule fourth"})),
        )
        .await;
    assert_eq!(s, 200);
    env.emu.shutdown().await;
}

/// Gap 10. Faults after the write: the policy is stored, the answer is lost (connection
/// closed) or replaced by a 500. A client that retries blindly creates a duplicate, which
/// the listing shows.
#[tokio::test]
async fn gap10_commit_then_drop_and_commit_then_500() {
    for (drop, err) in [(1.0, 0.0), (0.0, 1.0)] {
        let env = setup(EmulatorConfig {
            faults: FaultConfig {
                rate_drop_after_commit: drop,
                rate_error_after_commit: err,
                ..FaultConfig::none()
            },
            ..EmulatorConfig::default()
        })
        .await;
        let t = env.token(TENANT_A).await;
        let sent = env
            .http
            .post(env.url(POLICIES))
            .bearer_auth(&t)
            .json(&av_policy("Committed"))
            .send()
            .await;
        if drop > 0.0 {
            assert!(sent.is_err(), "the connection must close without an answer");
        } else {
            assert_eq!(sent.unwrap().status().as_u16(), 500);
        }
        // Reads are never affected, and the write happened.
        let list = env.get(&t, POLICIES).await;
        assert_eq!(list["value"].as_array().unwrap().len(), 1, "{list}");
        let fault = if drop > 0.0 {
            "dropAfterCommit"
        } else {
            "errorAfterCommit"
        };
        assert_eq!(env.emu.admin().counters().faults.get(fault), Some(&1));
        env.emu.shutdown().await;
    }
}

/// Gap 11. Counters stay bounded under junk: unknown tenants count as `-`, and a counter
/// map never holds more than 1,000 keys (the rest under `(other)`).
#[tokio::test]
async fn gap11_counters_are_bounded() {
    let env = setup(quiet()).await;
    for i in 0..1100 {
        let r = env
            .http
            .get(env.url(&format!("/beta/junk{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        if i % 100 == 0 {
            let _ = env
                .token_request(
                    &format!("junk-tenant-{i}"),
                    &[("grant_type", "client_credentials")],
                )
                .await;
        }
    }
    let c = env.emu.admin().counters();
    assert!(c.by_route.len() <= 1001, "{} route keys", c.by_route.len());
    assert!(c.by_route.contains_key("(other)"));
    assert!(
        c.by_tenant
            .keys()
            .all(|k| k == "-" || k == TENANT_A || k == TENANT_B),
        "{:?}",
        c.by_tenant.keys()
    );
    assert!(c.total >= 1100);
    env.emu.shutdown().await;
}

/// Gap 12. Paging with `$expand`: the expanded list pages by its own size, and an expanded
/// policy's `settings` carry `settings@odata.nextLink` to the rest (reported Graph
/// behaviour; sizes are configurable, defaults documented on `PageSizes`).
#[tokio::test]
async fn gap12_paging_with_expand() {
    assert_eq!(PageSizes::default().policies_expanded, 10);
    assert_eq!(PageSizes::default().expanded_settings, 25);
    let env = setup(EmulatorConfig {
        page_sizes: PageSizes {
            policies_expanded: 2,
            expanded_settings: 1,
            ..PageSizes::default()
        },
        ..quiet()
    })
    .await;
    let t = env.token(TENANT_A).await;
    for i in 0..3 {
        assert_eq!(
            env.status(&t, "POST", POLICIES, Some(av_policy(&format!("P{i}"))))
                .await,
            201
        );
    }
    let plain = env.get(&t, POLICIES).await;
    assert_eq!(plain["value"].as_array().unwrap().len(), 3);
    assert!(plain.get("@odata.nextLink").is_none());
    let page1 = env.get(&t, &format!("{POLICIES}?$expand=settings")).await;
    assert_eq!(page1["value"].as_array().unwrap().len(), 2);
    let next = page1["@odata.nextLink"]
        .as_str()
        .expect("nextLink")
        .to_string();
    let page2 = env.get(&t, &next).await;
    assert_eq!(page2["value"].as_array().unwrap().len(), 1);
    // Each expanded policy has 1 of its 2 settings, then a nextLink to the second.
    let p = &page1["value"][0];
    assert_eq!(p["settings"].as_array().unwrap().len(), 1);
    let more = p["settings@odata.nextLink"]
        .as_str()
        .expect("settings nextLink");
    let rest = env.get(&t, more).await;
    assert_eq!(rest["value"].as_array().unwrap().len(), 1);
    assert_eq!(rest["value"][0]["id"], "1");
    env.emu.shutdown().await;
}

/// Gap 13. An oracle independent of the client's catalog: with `SettingOracle::Exports`, a
/// catalog definition no real export of the template shows is refused; the catalog alone
/// (the default) accepts it. `templates::confirmation` says which source confirms an id.
#[tokio::test]
async fn gap13_export_oracle() {
    use rampart_emulator::templates::{Confirmation, confirmation};
    let unseen = "device_vendor_msft_policy_config_defender_allowfullscanonmappednetworkdrives";
    assert_eq!(confirmation(AV, unseen), Confirmation::Unconfirmed);
    assert_eq!(
        confirmation(
            AV,
            "device_vendor_msft_policy_config_defender_allowarchivescanning"
        ),
        Confirmation::SeenInExport
    );
    let mut p = av_policy("Oracle");
    p["settings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"settingInstance": {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": unseen,
        "choiceSettingValue": {"value": format!("{unseen}_0"), "children": []}}}));
    for (oracle, want) in [(SettingOracle::Catalog, 201), (SettingOracle::Exports, 400)] {
        let env = setup(EmulatorConfig {
            setting_oracle: oracle,
            ..quiet()
        })
        .await;
        let t = env.token(TENANT_A).await;
        let (s, _, e) = env.call(&t, "POST", POLICIES, Some(p.clone())).await;
        assert_eq!(s, want, "{oracle:?}: {e}");
        // The baseline's own definitions (seen in exports) pass either way.
        assert_eq!(
            env.status(&t, "POST", POLICIES, Some(av_policy("Seen")))
                .await,
            201
        );
        env.emu.shutdown().await;
    }
}

/// Deterministic ids: with `deterministic_ids`, two runs with one seed give the same
/// GUID-shaped ids; by default ids differ run to run, as Graph's.
#[tokio::test]
async fn deterministic_ids_repeat_run_to_run() {
    async fn created(deterministic: bool) -> (String, String) {
        let env = setup(EmulatorConfig {
            deterministic_ids: deterministic,
            seed: 7,
            ..quiet()
        })
        .await;
        let t = env.token(TENANT_A).await;
        let (_, _, p) = env.call(&t, "POST", POLICIES, Some(av_policy("Id"))).await;
        env.emu.shutdown().await;
        (
            p["id"].as_str().unwrap().to_string(),
            p["createdDateTime"].as_str().unwrap().to_string(),
        )
    }
    let (a, b) = (created(true).await, created(true).await);
    assert_eq!(a, b);
    assert!(uuid::Uuid::parse_str(&a.0).is_ok());
    assert!(a.1.starts_with("2026-01-01T"), "logical clock: {}", a.1);
    assert_ne!(created(false).await.0, created(false).await.0);
}
