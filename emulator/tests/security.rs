//! Defender XDR surfaces: `security/incidents`, `security/alerts_v2` and
//! `security/runHuntingQuery` (paging, `$top` cap, filters, `$expand`, PATCH validation,
//! permissions, the KQL subset and its 400s).

use super::*;
use rampart_emulator::surfaces::security::seed as soc_seed;

async fn all_pages(env: &Env, t: &str, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(url) = next {
        let (s, _, page) = env.call(t, "GET", &url, None).await;
        assert_eq!(s, 200, "{page}");
        out.extend(page["value"].as_array().unwrap().iter().cloned());
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    out
}

#[tokio::test]
async fn incidents_page_filter_order_and_expand() {
    let env = setup(quiet()).await;
    let t = env.token(TENANT_A).await;
    let expected = soc_seed(TENANT_A);
    let (s, _, e) = env
        .call(&t, "GET", "/v1.0/security/incidents?$top=51", None)
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 50")
    );

    let all = all_pages(
        &env,
        &t,
        "/v1.0/security/incidents?$top=4&$orderby=lastUpdateDateTime asc",
    )
    .await;
    assert_eq!(all.len(), expected.incidents.len());
    let times: Vec<&str> = all
        .iter()
        .map(|i| i["lastUpdateDateTime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let active_high = expected
        .incidents
        .values()
        .filter(|i| i["status"] == "active" && i["severity"] == "high")
        .count();
    let got = all_pages(
        &env,
        &t,
        "/v1.0/security/incidents?$filter=status eq 'active' and severity eq 'high'",
    )
    .await;
    assert_eq!(got.len(), active_high);

    let since = "2026-09-01T12:00:00Z";
    let later = expected
        .incidents
        .values()
        .filter(|i| i["createdDateTime"].as_str().unwrap() >= since)
        .count();
    let got = all_pages(
        &env,
        &t,
        &format!("/beta/security/incidents?$filter=createdDateTime ge {since}"),
    )
    .await;
    assert_eq!(got.len(), later);

    let (s, _, one) = env
        .call(
            &t,
            "GET",
            &format!(
                "/v1.0/security/incidents/{}?$expand=alerts",
                all[0]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 200, "{one}");
    assert!(!one["alerts"].as_array().unwrap().is_empty());
    assert!(
        one["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["incidentId"] == one["id"])
    );
    let (s, _, _) = env
        .call(&t, "GET", "/v1.0/security/incidents/999999999", None)
        .await;
    assert_eq!(s, 404);

    let alerts = all_pages(&env, &t, "/v1.0/security/alerts_v2?$top=100").await;
    assert_eq!(alerts.len(), expected.alerts.len());
}

#[tokio::test]
async fn incident_and_alert_patch_write_only_documented_fields() {
    let env = setup(quiet()).await;
    let t = env.token(TENANT_B).await;
    let store = soc_seed(TENANT_B);
    let id = store.incidents.keys().next().unwrap().clone();
    let url = format!("/v1.0/security/incidents/{id}");
    for bad in [
        json!({"status": "Resolved"}),
        json!({"severity": "low"}),
        json!({"classification": "falsePositive", "determination": "malware"}),
        json!({"determination": "compromisedUser"}),
    ] {
        let (s, _, e) = env.call(&t, "PATCH", &url, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad} -> {e}");
    }
    let (s, _, got) = env
        .call(&t, "PATCH", &url, Some(json!({"status": "resolved", "classification": "truePositive",
            "determination": "multiStagedAttack", "assignedTo": "soc@mssp.example", "customTags": ["rampart"]})))
        .await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["status"], "resolved");
    let (_, _, again) = env.call(&t, "GET", &url, None).await;
    assert_eq!(again["assignedTo"], "soc@mssp.example");
    assert_eq!(again["customTags"], json!(["rampart"]));

    let (s, _, c) = env
        .call(
            &t,
            "POST",
            &format!("{url}/comments"),
            Some(
                json!({"@odata.type": "microsoft.graph.security.alertComment", "comment": "first"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (_, _, c) = env
        .call(
            &t,
            "POST",
            &format!("{url}/comments"),
            Some(json!({"comment": "second"})),
        )
        .await;
    let texts: Vec<&str> = c["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["comment"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "second"], "the answer lists every comment");
    let (s, _, _) = env
        .call(
            &t,
            "POST",
            &format!("{url}/comments"),
            Some(json!({"comment": " "})),
        )
        .await;
    assert_eq!(s, 400);
    let aid = store.alerts.keys().next().unwrap().clone();
    let aurl = format!("/v1.0/security/alerts_v2/{aid}");
    let (s, _, _) = env
        .call(&t, "PATCH", &aurl, Some(json!({"customTags": ["x"]})))
        .await;
    assert_eq!(s, 400);
    let (s, _, a) = env
        .call(&t, "PATCH", &aurl, Some(json!({"status": "inProgress"})))
        .await;
    assert_eq!(s, 200, "{a}");
    let c = env.emu.admin().counters();
    assert_eq!(
        c.count(TENANT_B, "PATCH", "v1.0/security/incidents/{id}"),
        5
    );
}

#[tokio::test]
async fn permissions_follow_the_documented_roles() {
    let env = setup(quiet()).await;
    let t = env.token_for(TENANT_A, READER_APP, "reader-secret").await;
    let (s, _, e) = env.call(&t, "GET", "/v1.0/security/incidents", None).await;
    assert_eq!(s, 403);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SecurityIncident.Read.All")
    );
    let (s, _, e) = env
        .call(
            &t,
            "POST",
            "/v1.0/security/runHuntingQuery",
            Some(json!({"Query": "DeviceInfo | count"})),
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ThreatHunting.Read.All")
    );
    env.emu
        .admin()
        .consent(
            TENANT_A,
            READER_APP,
            &["SecurityIncident.Read.All", "SecurityAlert.Read.All"],
        )
        .unwrap();
    let t = env.token_for(TENANT_A, READER_APP, "reader-secret").await;
    let (s, _, _) = env.call(&t, "GET", "/v1.0/security/alerts_v2", None).await;
    assert_eq!(s, 200);
    let id = soc_seed(TENANT_A).incidents.keys().next().unwrap().clone();
    let (s, _, e) = env
        .call(
            &t,
            "PATCH",
            &format!("/v1.0/security/incidents/{id}"),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SecurityIncident.ReadWrite.All")
    );
}

#[tokio::test]
async fn hunting_answers_the_subset_and_refuses_the_rest() {
    let env = setup(quiet()).await;
    let t = env.token(TENANT_A).await;
    let hunt = |q: Value| env.call(&t, "POST", "/v1.0/security/runHuntingQuery", Some(q));
    let (s, _, r) = hunt(json!({"Query": "DeviceInfo | summarize arg_max(Timestamp, OnboardingStatus, ExposureLevel) by DeviceId | summarize Devices = count(), Onboarded = countif(OnboardingStatus == \"Onboarded\")", "Timespan": "P7D"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["schema"],
        json!([{"name": "Devices", "type": "Int64"}, {"name": "Onboarded", "type": "Int64"}])
    );
    let devices = r["results"][0]["Devices"].as_u64().unwrap();
    assert!(devices >= 8);
    assert!(
        r["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#microsoft.graph.security.huntingQueryResults")
    );

    // Lower-case keys (the metadata spelling) work too; the answer is the same data.
    let (s, _, r2) = hunt(json!({"query": "DeviceInfo | summarize dcount(DeviceId)"})).await;
    assert_eq!(s, 200);
    assert_eq!(
        r2["results"][0]["dcount_DeviceId"].as_u64().unwrap(),
        devices
    );

    let (s, _, v) = hunt(json!({"Query": "DeviceTvmSoftwareVulnerabilities | summarize Devices = dcount(DeviceId) by CveId, VulnerabilitySeverityLevel | top 3 by Devices desc"})).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["results"].as_array().unwrap().len() <= 3);

    let (s, _, a) = hunt(json!({"Query": "AlertInfo | summarize count() by Severity"})).await;
    assert_eq!(s, 200, "{a}");
    let total: u64 = a["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count_"].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, soc_seed(TENANT_A).alerts.len());

    for bad in [
        json!({"Query": ""}),
        json!({"Query": "DeviceInfo | join (AlertInfo) on DeviceId"}),
        json!({"Query": "EmailEvents | take 1"}),
        json!({"Query": "DeviceInfo | project NoSuchColumn"}),
        json!({"Query": "DeviceInfo | take 1", "Timespan": "last week"}),
        json!({}),
    ] {
        let (s, _, e) = hunt(bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {e}");
        assert_eq!(e["error"]["code"], "BadRequest");
    }
    let (_, _, e) = hunt(json!({"Query": "EmailEvents"})).await;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Failed to resolve table or column expression named 'EmailEvents'")
    );
}
