//! A typical backup-then-update run of an Intune client, in plain HTTP (reqwest, no rampart
//! code): list policies with `$expand` following every nextLink, `$batch` of settings and
//! assignments, scope tags, filters, groups by name (created when missing), full `PUT`,
//! `/assign`, role definitions and their assignments. Every step checks Graph's status and
//! shape (documents named per step; `https://learn.microsoft.com/graph/api/<name>`).

use crate::*;
use serde_json::{Value, json};

const POLICIES: &str = "/beta/deviceManagement/configurationPolicies";

/// Follows `@odata.nextLink` to the end, checking each page's shape.
async fn all_pages(env: &Env, t: &str, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(url) = next.take() {
        let (s, _, page) = env.call(t, "GET", &url, None).await;
        assert_eq!(s, 200, "{url}: {page}");
        assert!(
            page["@odata.context"]
                .as_str()
                .is_some_and(|c| c.contains("$metadata#"))
        );
        out.extend(
            page["value"]
                .as_array()
                .expect("value array")
                .iter()
                .cloned(),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    out
}

#[tokio::test]
async fn backup_then_update_like_an_intune_client() {
    let (env, t) = started().await;
    // The tenant holds 12 policies (more than one expanded page: 10 by default).
    for i in 0..12 {
        let (s, _, _) = env
            .call(&t, "POST", POLICIES, Some(av_policy(&format!("AV {i:02}"))))
            .await;
        assert_eq!(s, 201);
    }

    // 1. Backup: list with $expand (intune-deviceconfigv2-devicemanagementconfigurationpolicy-list).
    let listed = all_pages(
        &env,
        &t,
        &format!("{POLICIES}?$expand=settings,assignments"),
    )
    .await;
    assert_eq!(listed.len(), 12);
    for p in &listed {
        assert!(p["settings@odata.context"].as_str().is_some());
        assert_eq!(p["settings"].as_array().unwrap().len(), 2);
        assert!(p["assignments"].is_array());
        assert_eq!(
            p["templateReference"]["templateFamily"],
            "endpointSecurityAntivirus"
        );
    }
    let id = listed[0]["id"].as_str().unwrap().to_string();

    // 2. $batch of settings and assignments (json-batching; -setting-list; -assignment-list).
    let reqs: Vec<Value> = listed
        .iter()
        .take(5)
        .enumerate()
        .flat_map(|(i, p)| {
            let pid = p["id"].as_str().unwrap();
            [
                json!({"id": format!("s{i}"), "method": "GET", "url": format!("/deviceManagement/configurationPolicies('{pid}')/settings?$expand=settingDefinitions")}),
                json!({"id": format!("a{i}"), "method": "GET", "url": format!("/deviceManagement/configurationPolicies/{pid}/assignments")}),
            ]
        })
        .collect();
    let (s, _, b) = env
        .call(&t, "POST", "/beta/$batch", Some(json!({"requests": reqs})))
        .await;
    assert_eq!(s, 200);
    let responses = b["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 10);
    for r in responses {
        assert_eq!(r["status"], 200, "{r}");
        assert!(r["body"]["value"].is_array());
        assert_eq!(r["headers"]["Content-Type"], "application/json");
    }

    // 3. Scope tags (intune-rbac-rolescopetag-list) and filters (...assignmentfilter-list).
    let tags = all_pages(&env, &t, "/beta/deviceManagement/roleScopeTags").await;
    assert!(
        tags.iter()
            .any(|x| x["id"] == "0" && x["isBuiltIn"] == true)
    );
    let filters = all_pages(&env, &t, "/beta/deviceManagement/assignmentFilters").await;
    assert!(filters.is_empty());
    let (s, _, filter) = env
        .call(
            &t,
            "POST",
            "/beta/deviceManagement/assignmentFilters",
            Some(json!({
            "displayName": "Corporate", "platform": "windows10AndLater",
            "rule": "(device.deviceOwnershipType -eq \"Corporate\")"})),
        )
        .await;
    assert_eq!(s, 201);

    // 4. Groups by name (group-list with $filter), created when missing (group-post-groups).
    let by_name =
        |n: &str| format!("/v1.0/groups?$filter=displayName eq '{n}'&$select=id,displayName");
    let found = all_pages(&env, &t, &by_name("Pilot Devices")).await;
    assert_eq!(found.len(), 1);
    assert!(all_pages(&env, &t, &by_name("Ring 2")).await.is_empty());
    let (s, _, g) = env
        .call(
            &t,
            "POST",
            "/v1.0/groups",
            Some(json!({"displayName": "Ring 2", "mailEnabled": false,
            "mailNickname": "ring2", "securityEnabled": true})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let group = g["id"].as_str().unwrap().to_string();
    assert_eq!(all_pages(&env, &t, &by_name("Ring 2")).await.len(), 1);

    // 5. Update: full PUT (the clients' de-facto contract, 204), read back.
    let mut body = av_policy("AV 00 (restored)");
    body["settings"][1]["settingInstance"]["choiceSettingValue"]["value"] =
        json!("device_vendor_msft_policy_config_defender_allowarchivescanning_1");
    let (s, _, none) = env
        .call(&t, "PUT", &format!("{POLICIES}/{id}"), Some(body))
        .await;
    assert_eq!((s, none), (204, Value::Null));
    let got = env
        .get(&t, &format!("{POLICIES}/{id}?$expand=settings"))
        .await;
    assert_eq!(got["name"], "AV 00 (restored)");
    assert!(got["lastModifiedDateTime"].as_str() > listed[0]["lastModifiedDateTime"].as_str());

    // 6. /assign (intune-deviceconfigv2-devicemanagementconfigurationpolicy-assign): 200
    //    with the new assignments; the filter is referenced by id.
    let (s, _, a) = env
        .call(
            &t,
            "POST",
            &format!("{POLICIES}/{id}/assign"),
            Some(json!({"assignments": [{
            "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
                "deviceAndAppManagementAssignmentFilterId": filter["id"],
                "deviceAndAppManagementAssignmentFilterType": "include"}}]})),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["value"][0]["target"]["groupId"], group.as_str());
    let asg = all_pages(&env, &t, &format!("{POLICIES}/{id}/assignments")).await;
    assert_eq!(asg.len(), 1);
    assert_eq!(asg[0]["id"], format!("{id}_{group}"));

    // 7. Role definitions and their assignments (intune-rbac-*-list; roleassignment-list).
    let defs = all_pages(&env, &t, "/beta/deviceManagement/roleDefinitions").await;
    assert!(defs.iter().any(|d| d["isBuiltIn"] == true));
    for d in defs.iter().take(3) {
        let did = d["id"].as_str().unwrap();
        let list = all_pages(
            &env,
            &t,
            &format!("/beta/deviceManagement/roleDefinitions/{did}/roleAssignments"),
        )
        .await;
        assert!(list.is_empty());
    }
    env.emu.shutdown().await;
}
