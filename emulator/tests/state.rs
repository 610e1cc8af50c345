//! State: persistence across restarts, seeding (seed file, profiles, exported policies),
//! admin endpoints, request log and counters, scale.

use super::*;
use rampart_emulator::seed::{load_seed_file, seed_from_profiles, seed_policies};

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || EmulatorConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..quiet()
    };
    let env = setup(cfg()).await;
    let t = env.token(TENANT_A).await;
    let (_, _, p) = env
        .call(
            &t,
            "POST",
            "/beta/deviceManagement/configurationPolicies",
            Some(av_policy("kept")),
        )
        .await;
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(
        env.status(
            &t,
            "POST",
            "/beta/security/rules/detectionRules",
            Some(rule("kept-rule"))
        )
        .await,
        201
    );
    env.emu.shutdown().await;
    // No client secret is ever written in clear.
    for e in walk(dir.path()) {
        let text = std::fs::read_to_string(&e).unwrap();
        assert!(!text.contains(SECRET), "{} holds a secret", e.display());
        assert!(
            e.extension().is_some_and(|x| x == "json")
                || e.file_name()
                    .is_some_and(|n| n == "signing-key" || n == "lock"),
            "temporary file left: {}",
            e.display()
        );
    }
    // Issue 14, gap 9: the signing key is kept, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("signing-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "signing key readable by others: {mode:o}");
    }
    // Gap 11: the secret's hash is salted (`sha256$salt$hash`), not a bare SHA-256.
    let apps = std::fs::read_to_string(dir.path().join("apps.json")).unwrap();
    assert!(apps.contains("\"sha256$"), "{apps}");

    let again = start(cfg()).await.unwrap();
    let env2 = Env {
        emu: again,
        http: reqwest::Client::new(),
    };
    // Issue 14, gap 9: a token issued before the restart is still valid after it, as an
    // Entra token is until `exp` (the key is persisted in the state directory).
    assert_eq!(
        env2.call(
            &t,
            "GET",
            "/beta/deviceManagement/configurationPolicies",
            None
        )
        .await
        .0,
        200
    );
    let t2 = env2.token(TENANT_A).await;
    let (s, _, got) = env2
        .call(
            &t2,
            "GET",
            &format!("/beta/deviceManagement/configurationPolicies/{id}?$expand=settings"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(got["name"], "kept");
    assert_eq!(got["settings"].as_array().unwrap().len(), 2);
    assert_eq!(
        env2.call(
            &t2,
            "GET",
            "/beta/security/rules/detectionRules/kept-rule",
            None
        )
        .await
        .0,
        200
    );
    let tb = env2.token(TENANT_B).await;
    assert_eq!(
        env2.call(
            &tb,
            "GET",
            &format!("/beta/deviceManagement/configurationPolicies/{id}"),
            None
        )
        .await
        .0,
        404
    );
    env2.emu.shutdown().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn seeding_over_http_and_from_files() {
    let emu = start(quiet()).await.unwrap();
    let http = reqwest::Client::new();
    let seed = json!({
        "apps": [{"appId": APP, "secrets": [SECRET]}],
        "tenants": [{"id": TENANT_A, "displayName": "Contoso", "consents": {APP: ["Group.Read.All"]},
                     "groups": ["SOC", {"displayName": "Pilot", "id": "0b9f5a77-2a4e-4c1e-9f58-1d2c3b4a5e6f"}],
                     "detectionRules": [rule("seeded-rule")]}]
    });
    let r = http
        .post(format!("{}/_emulator/tenants", emu.base_url()))
        .json(&seed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let env = Env { emu, http };
    let t = env.token(TENANT_A).await;
    let g = env
        .get(&t, "/v1.0/groups/0b9f5a77-2a4e-4c1e-9f58-1d2c3b4a5e6f")
        .await;
    assert_eq!(g["displayName"], "Pilot");
    assert_eq!(env.emu.admin().detection_rules(TENANT_A).len(), 1);
    let list = env.admin_get("tenants").await;
    assert_eq!(list[0]["groups"], 2);

    // Seed file on disk.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("seed.json");
    std::fs::write(
        &f,
        serde_json::to_vec(&json!({"tenants": [{"id": TENANT_B, "groups": ["X"]}]})).unwrap(),
    )
    .unwrap();
    let s = load_seed_file(&f).unwrap();
    env.emu.admin().apply_seed(&s).unwrap();
    assert_eq!(env.emu.admin().tenant_ids().len(), 2);

    // Exported policies: top-level files go to every tenant, a sub-directory to one tenant.
    let pdir = dir.path().join("policies");
    std::fs::create_dir_all(pdir.join(TENANT_B)).unwrap();
    let mut exported = av_policy("pre-existing");
    exported["id"] = json!("2085390b-9191-4a1d-aec0-9d5ac21bd8a6");
    exported["@odata.context"] = json!(
        "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies/$entity"
    );
    exported["createdDateTime@odata.type"] = json!("#DateTimeOffset");
    std::fs::write(pdir.join("common.json"), exported.to_string()).unwrap();
    std::fs::write(
        pdir.join(TENANT_B).join("only-b.json"),
        av_policy("only-b").to_string(),
    )
    .unwrap();
    assert_eq!(seed_policies(env.emu.admin(), &pdir).unwrap(), 3);
    assert_eq!(env.emu.admin().policies(TENANT_A).len(), 1);
    let b = env.emu.admin().policies(TENANT_B);
    assert_eq!(b.len(), 2);
    assert!(
        b.iter()
            .all(|p| p.get("createdDateTime@odata.type").is_none())
    );
    env.emu.shutdown().await;
}

#[tokio::test]
async fn seeding_from_profiles_creates_tenants_and_their_groups() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("profiles")).unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("profiles/ring0.yaml"),
        r#"kind: DistributionProfile
name: ring0-pilot
vars: { socGroup: "MSSP SOC" }
tenants:
  - id: 6F1C2B9E-0D4A-4E55-9A61-3C2F8E7D1A01
    name: contoso
    displayName: "Contoso Ltd"
    vars: { socGroup: "Contoso SOC" }
  - id: 7a2d3c0f-1e5b-4f66-8b72-4d3f9f8e2b02
    name: fabrikam
policies: [baseline-av]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policies/av.yaml"),
        r#"kind: AntivirusPolicy
name: baseline-av
assignments:
  - group: "Pilot Devices"
  - excludeGroup: "${tenant.name} kiosks"
---
kind: RoleAssignment
name: soc
system: defender
role: "Security Reader"
groups: ["${vars.socGroup}"]
"#,
    )
    .unwrap();
    let tenants = seed_from_profiles(dir.path(), Some(APP), &["Group.Read.All"]).unwrap();
    assert_eq!(tenants.len(), 2);
    let contoso = &tenants[0];
    assert_eq!(contoso.id, TENANT_A);
    assert_eq!(contoso.display_name, "Contoso Ltd");
    let names: Vec<&str> = contoso.groups.iter().map(|g| g.as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec!["Contoso SOC", "Pilot Devices", "contoso kiosks"]
    );
    let fabrikam_groups: Vec<&str> = tenants[1]
        .groups
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(
        fabrikam_groups,
        vec!["MSSP SOC", "Pilot Devices", "fabrikam kiosks"]
    );
    let emu = start(quiet()).await.unwrap();
    emu.admin()
        .add_app(&AppSeed {
            app_id: APP.into(),
            secrets: vec![SECRET.into()],
            ..Default::default()
        })
        .unwrap();
    for t in &tenants {
        emu.admin().add_tenant(t).unwrap();
    }
    let env = Env {
        emu,
        http: reqwest::Client::new(),
    };
    let t = env.token("contoso.onmicrosoft.com").await;
    let g = env
        .get(&t, "/v1.0/groups?$filter=displayName eq 'Contoso SOC'")
        .await;
    assert_eq!(g["value"].as_array().unwrap().len(), 1);
    env.emu.shutdown().await;
}

#[tokio::test]
async fn request_log_and_counters_per_tenant_method_route() {
    let env = setup(quiet()).await;
    let ta = env.token(TENANT_A).await;
    let tb = env.token(TENANT_B).await;
    env.emu.admin().clear_log();
    for _ in 0..3 {
        env.call(
            &ta,
            "GET",
            "/beta/deviceManagement/configurationPolicies",
            None,
        )
        .await;
    }
    env.call(
        &tb,
        "POST",
        "/beta/deviceManagement/configurationPolicies",
        Some(av_policy("x")),
    )
    .await;
    let _ = env
        .http
        .get(env.url("/v1.0/groups"))
        .header("client-request-id", "trace-me")
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap();
    let c = env.emu.admin().counters();
    assert_eq!(
        c.count(
            TENANT_A,
            "GET",
            "beta/deviceManagement/configurationPolicies"
        ),
        3
    );
    assert_eq!(
        c.count(
            TENANT_B,
            "POST",
            "beta/deviceManagement/configurationPolicies"
        ),
        1
    );
    assert_eq!(c.by_tenant[TENANT_B], 2);
    assert_eq!(c.total, 5);
    let log = env.emu.admin().requests();
    assert_eq!(log.len(), 5);
    assert_eq!(log[4].client_request_id.as_deref(), Some("trace-me"));
    assert_eq!(log[3].status, 201);
    // The same data over HTTP.
    let hc = env.admin_get("counters").await;
    assert_eq!(hc["total"], 5);
    let hr = env.admin_get("requests").await;
    assert_eq!(hr.as_array().unwrap().len(), 5);
    let (s, _) = env
        .admin("PUT", "faults", Some(json!({"rate503": 1.0})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(env.status(&ta, "GET", "/v1.0/groups", None).await, 503);
    env.emu.shutdown().await;
}

#[test]
fn in_process_calls_without_http() {
    let emu = rampart_emulator::Emulator::new(&quiet()).unwrap();
    emu.add_app(&AppSeed {
        app_id: APP.into(),
        ..Default::default()
    })
    .unwrap();
    emu.add_tenant(&TenantSeed {
        id: TENANT_A.into(),
        consents: [(
            APP.to_string(),
            vec!["DeviceManagementConfiguration.ReadWrite.All".to_string()],
        )]
        .into(),
        ..Default::default()
    })
    .unwrap();
    let r = emu
        .call(
            TENANT_A,
            APP,
            "POST",
            "/beta/deviceManagement/configurationPolicies",
            Some(av_policy("p")),
        )
        .unwrap();
    assert_eq!(r.status, 201);
    let r = emu
        .call(
            TENANT_A,
            APP,
            "GET",
            "/beta/deviceManagement/configurationPolicies?$select=name",
            None,
        )
        .unwrap();
    assert_eq!(r.body.unwrap()["value"][0]["name"], "p");
    let r = emu
        .call(TENANT_A, APP, "GET", "/v1.0/groups", None)
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(
        emu.call(TENANT_B, APP, "GET", "/v1.0/groups", None)
            .is_err()
    );
    assert_eq!(emu.counters().total, 3);
}

#[tokio::test]
async fn holds_two_thousand_tenants() {
    let env = setup(quiet()).await;
    let admin = env.emu.admin();
    for i in 0..2000u32 {
        let id = rampart_emulator::stable_guid(&format!("scale-tenant-{i}"));
        admin
            .add_tenant(&TenantSeed {
                id,
                consents: [(APP.to_string(), vec!["Group.Read.All".to_string()])].into(),
                groups: vec![json!("Pilot Devices")],
                ..Default::default()
            })
            .unwrap();
    }
    assert_eq!(admin.tenant_ids().len(), 2002);
    let last = rampart_emulator::stable_guid("scale-tenant-1999");
    let t = env.token(&last).await;
    let g = env.get(&t, "/v1.0/groups").await;
    assert_eq!(g["value"].as_array().unwrap().len(), 1);
    env.emu.shutdown().await;
}

/// A one-off throughput measurement (run by hand: `cargo test --release --test integration
/// emulator::state::bench_once -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_once() {
    let (env, t) = started().await;
    let r = rampart_emulator::bench_requests(&env.emu.graph_url(), &t, "/v1.0/groups", 20_000, 32)
        .await
        .unwrap();
    println!(
        "{} requests ({} ok) in {:.2}s: {:.0} requests/s",
        r.requests, r.ok, r.seconds, r.per_second
    );
    assert_eq!(r.ok, r.requests);
    env.emu.shutdown().await;
}
