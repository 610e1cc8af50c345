//! Integration tests: onboarding (tenants verify/add, permissions, import --tenant), end to
//! end against the in-process emulator.

use std::collections::BTreeSet;
use std::path::Path;

use rampart::desired::TenantDesired;
use rampart::graph::auth::{AuthConfig, AuthMethod, Authenticator};
use rampart::graph::client::{GraphContext, GraphOptions, build_http_client};
use rampart::onboard::permissions::{self, Purpose};
use rampart::onboard::profile_edit::{AddError, EditError, NewTenant, add_to_repository};
use rampart::onboard::tenant_import::{
    AuthConnector, adoption_plan, import_tenant, tenant_label, write_documents,
};
use rampart::onboard::verify::{GraphAccess, Status, VerifyTarget, render_human, verify};
use rampart::plan::Action;
use rampart_emulator::{
    self as emulator, ALL_ROLES, AppSeed, EmulatorConfig, RunningEmulator, TenantSeed,
};
use serde_json::{Value, json};

const APP: &str = "a1b2c3d4-0000-4000-8000-00000000ab01";
const SECRET: &str = "onboarding-test-secret";
const HEALTHY: &str = "11111111-1111-4111-8111-000000000001";
const NO_RULES_ROLE: &str = "11111111-1111-4111-8111-000000000002";
const NO_CONSENT: &str = "11111111-1111-4111-8111-000000000003";

const RULE: &str = "\
kind: DetectionRule
name: encoded-powershell
displayName: \"Encoded PowerShell\"
description: \"Office spawning encoded PowerShell.\"
frequency: PT1H
query: |
  DeviceProcessEvents | where FileName =~ \"powershell.exe\"
alert:
  title: \"Encoded PowerShell\"
  severity: high
  tactic: Execution
  techniques: [T1059.001]
  entityMappings:
    hosts: [{ deviceIdColumn: DeviceId }]
";

const ROLE: &str = "\
kind: RoleAssignment
name: soc-readers
system: defender
customRole:
  displayName: \"MSSP SOC readers\"
  actions: [microsoft.xdr/secops/securitydata/read]
groups: [\"MSSP SOC\"]
";

fn repo(profile: &str, policies: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("profiles")).expect("mkdir");
    for (name, text) in policies {
        std::fs::write(dir.path().join("policies").join(name), text).expect("write");
    }
    std::fs::write(dir.path().join("profiles/customers.yaml"), profile).expect("write");
    dir
}

fn desired(root: &Path) -> Vec<TenantDesired> {
    let v = rampart::resolve::validate(root, &[]);
    assert!(!v.has_errors(), "{:#?}", v.diagnostics);
    v.tenants.into_values().collect()
}

fn profile(tenants: &[(&str, &str)], policies: &str) -> String {
    let mut s = String::from("kind: DistributionProfile\nname: customers\ntenants:\n");
    for (id, name) in tenants {
        s.push_str(&format!("  - id: {id}\n    name: {name}\n"));
    }
    s.push_str(&format!("policies:\n{policies}"));
    s
}

async fn emulator_with(tenants: &[TenantSeed]) -> RunningEmulator {
    let emu = emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    emu.admin()
        .add_app(&AppSeed {
            app_id: APP.into(),
            secrets: vec![SECRET.into()],
            ..Default::default()
        })
        .expect("app");
    for t in tenants {
        emu.admin().add_tenant(t).expect("tenant");
    }
    emu
}

fn authenticator(emu: &RunningEmulator) -> (Authenticator, GraphOptions) {
    let options = GraphOptions::with_graph_url(&emu.graph_url()).expect("graph url");
    let mut config = AuthConfig::new(AuthMethod::Secret);
    config.client_id = Some(APP.into());
    config.client_secret = Some(SECRET.to_string().into());
    config.login_url =
        rampart::graph::urls::checked_base_url("login URL", &emu.login_url()).expect("login url");
    let http = build_http_client(&options).expect("http");
    (
        Authenticator::new(config, http).expect("authenticator"),
        options,
    )
}

fn consent(roles: &[&str]) -> std::collections::BTreeMap<String, Vec<String>> {
    [(
        APP.to_string(),
        roles.iter().map(|r| r.to_string()).collect(),
    )]
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_healthy_names_missing_role_and_consent_fix() {
    let root = repo(
        &profile(
            &[
                (HEALTHY, "healthy"),
                (NO_RULES_ROLE, "no-rules-role"),
                (NO_CONSENT, "no-consent"),
            ],
            "  - { kind: DetectionRule }\n  - soc-readers\n",
        ),
        &[("rule.yaml", RULE), ("role.yaml", ROLE)],
    );
    let all = desired(root.path());
    let without_rules: Vec<&str> = ALL_ROLES
        .iter()
        .copied()
        .filter(|r| *r != "CustomDetection.ReadWrite.All")
        .collect();
    let emu = emulator_with(&[
        TenantSeed {
            id: HEALTHY.into(),
            consents: consent(ALL_ROLES),
            ..Default::default()
        },
        TenantSeed {
            id: NO_RULES_ROLE.into(),
            consents: consent(&without_rules),
            ..Default::default()
        },
        TenantSeed {
            id: NO_CONSENT.into(),
            ..Default::default()
        },
    ])
    .await;
    let (auth, options) = authenticator(&emu);
    let ctx = rampart::graph::client::GraphContext::builder(options.clone())
        .http(auth.http().clone())
        .build()
        .expect("context");
    let access = GraphAccess::new(&auth, ctx);
    let targets: Vec<VerifyTarget> = all
        .iter()
        .map(|t| VerifyTarget {
            name: t.tenant.name.clone(),
            tenant_id: t.tenant.id.clone(),
            needs: permissions::needs(t, Purpose::Apply),
        })
        .collect();
    let report = verify(&access, &targets, Purpose::Apply).await;
    emu.shutdown().await;

    assert!(!report.ok);
    let by_name = |n: &str| {
        report
            .tenants
            .iter()
            .find(|t| t.tenant == n)
            .expect("tenant")
    };
    let healthy = by_name("healthy");
    assert!(healthy.ok, "{healthy:#?}");
    // Probes ran against the surfaces the configuration uses, and only those.
    let probes: Vec<&str> = healthy
        .checks
        .iter()
        .filter(|c| c.id.starts_with("probe:"))
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        probes,
        [
            "probe:configurationPolicies",
            "probe:groups",
            "probe:detectionRules",
            "probe:defenderRbac"
        ]
    );

    let missing = by_name("no-rules-role");
    assert!(!missing.ok);
    assert_eq!(
        missing.missing_permissions,
        ["CustomDetection.ReadWrite.All"]
    );
    let role = missing
        .checks
        .iter()
        .find(|c| c.id == "role:detectionRules")
        .expect("role check");
    assert_eq!(role.status, Status::Fail);
    assert!(
        role.fix
            .as_deref()
            .is_some_and(|f| f.contains("CustomDetection.ReadWrite.All")),
        "{role:?}"
    );
    // Everything else of that tenant is fine.
    assert!(
        missing
            .checks
            .iter()
            .filter(|c| c.id != "role:detectionRules" && c.id != "probe:detectionRules")
            .all(|c| c.status == Status::Pass),
        "{missing:#?}"
    );

    let unconsented = by_name("no-consent");
    let token = unconsented
        .checks
        .iter()
        .find(|c| c.id == "token")
        .expect("token check");
    assert_eq!(token.status, Status::Fail);
    let fix = token.fix.as_deref().unwrap_or("");
    assert!(
        fix.contains(&format!("/{NO_CONSENT}/adminconsent?client_id={APP}")),
        "{fix}"
    );

    let text = render_human(&report);
    assert!(text.contains("CustomDetection.ReadWrite.All"), "{text}");
    assert!(text.contains("1 of 3 tenants ready, 2 failed."), "{text}");
    // No secret or token ever reaches the report.
    let json = serde_json::to_string(&report).expect("json");
    assert!(!json.contains(SECRET) && !json.contains("eyJ"), "{json}");
}

/// The permissions a report asks for, by name, in its order.
fn permission_names(r: &permissions::PermissionsReport) -> Vec<&str> {
    r.permissions
        .iter()
        .map(|p| p.permission.as_str())
        .collect()
}

#[test]
fn permissions_list_only_what_the_configuration_needs() {
    let root = repo(
        &profile(
            &[(HEALTHY, "healthy")],
            "  - encoded-powershell\n  - soc-readers\n",
        ),
        &[("rule.yaml", RULE), ("role.yaml", ROLE)],
    );
    let all = desired(root.path());
    let apply = permissions::report(
        &all,
        Purpose::Apply,
        Some(APP),
        permissions::DEFAULT_AUTHORITY,
    );
    assert_eq!(
        permission_names(&apply),
        [
            "CustomDetection.ReadWrite.All",
            // Plan lists configuration policies even when none is desired (to find managed
            // ones to remove and look-alikes): read, never write.
            "DeviceManagementConfiguration.Read.All",
            "Group.Read.All",
            "RoleManagement.ReadWrite.Defender",
        ]
    );
    let plan = permissions::report(&all, Purpose::Plan, None, permissions::DEFAULT_AUTHORITY);
    assert_eq!(
        permission_names(&plan),
        [
            "CustomDetection.Read.All",
            "DeviceManagementConfiguration.Read.All",
            "Group.Read.All",
            "RoleManagement.Read.Defender",
        ]
    );
    assert_eq!(
        apply.tenants[0].admin_consent_url.as_deref(),
        Some(
            format!("https://login.microsoftonline.com/{HEALTHY}/adminconsent?client_id={APP}")
                .as_str()
        )
    );
    assert_eq!(
        apply.admin_consent_url.as_deref(),
        Some(
            format!("https://login.microsoftonline.com/organizations/adminconsent?client_id={APP}")
                .as_str()
        )
    );
}

/// Real exported policies: the vendored UK NCSC antivirus and ASR exports (UTF-16, as
/// exported) and the repository's own Graph-shaped ASR fixture; a missing file is a failure.
fn seeded_policies() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ncsc = root.join("tests/fixtures/exports/ncsc");
    [
        ncsc.join("2025-NCSC-Defender-Antivirus.json"),
        ncsc.join("2025-NCSC-ASR.json"),
        root.join("tests/fixtures/graph/asr-block-with-exclusions.json"),
    ]
    .iter()
    .map(|f| {
        let text = rampart::repo_files::read_text(f).expect("fixture");
        serde_json::from_str(&text).expect("json")
    })
    .collect()
}

const PILOT_GROUP: &str = "22222222-2222-4222-8222-000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_plan_shows_no_changes_and_adopt_makes_them_managed() {
    let mut policies = seeded_policies();
    let n_policies = policies.len();
    // One policy assigned to a group by id, as Graph stores it.
    policies[0]["assignments"] = json!([{
        "id": "a1", "target": {
            "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": PILOT_GROUP }
    }]);
    let rule = json!({
        "id": "encoded-ps-by-hand",
        "displayName": "Encoded PowerShell (by hand)",
        "description": "Created in the portal.",
        "status": "enabled",
        "queryCondition": { "queryText": "DeviceProcessEvents | where FileName =~ \"powershell.exe\"" },
        "schedule": { "frequency": "PT1H" },
        "detectionAction": { "alertTemplate": {
            "title": "Encoded PowerShell", "description": "Created in the portal.",
            "severity": "high", "recommendedActions": "Isolate the device.",
            "tactics": [{ "tactic": "Execution", "techniques": [{ "technique": "T1059.001" }] }],
            "entityMappings": { "hosts": [{ "deviceIdColumn": "DeviceId" }] } } }
    });
    let emu = emulator_with(&[TenantSeed {
        id: HEALTHY.into(),
        display_name: "Contoso".into(),
        consents: consent(ALL_ROLES),
        groups: vec![json!({ "id": PILOT_GROUP, "displayName": "Pilot Devices" })],
        policies,
        detection_rules: vec![rule.clone()],
        ..Default::default()
    }])
    .await;
    let (auth, options) = authenticator(&emu);
    let ctx = GraphContext::builder(options.clone())
        .http(auth.http().clone())
        .build()
        .expect("ctx");

    let root = repo(
        &profile(
            &[(HEALTHY, "contoso")],
            &format!("  - {{ label: {} }}\n", tenant_label("contoso")),
        ),
        &[],
    );
    let client = ctx.client(auth.tenant_auth(HEALTHY).expect("auth"));
    let imported = import_tenant(&client, "contoso").await.expect("import");
    assert!(imported.skipped.is_empty(), "{:#?}", imported.skipped);
    assert_eq!(imported.documents.len(), n_policies + 1);
    let dir = root.path().join("policies/imported/contoso");
    let written = write_documents(&dir, &imported, false).expect("write");
    assert_eq!(written.len(), n_policies + 1);
    assert!(
        imported
            .documents
            .iter()
            .any(|d| d.yaml.contains("group: Pilot Devices")),
        "groups are written by name"
    );
    // Refuses to overwrite without --force, and writes nothing then.
    assert!(write_documents(&dir, &imported, false).is_err());

    // The imported rule reads back as the rule the tenant holds.
    let all = desired(root.path());
    assert_eq!(all[0].objects.len(), n_policies + 1);
    let rule_doc = imported
        .documents
        .iter()
        .find(|d| d.graph_id == "encoded-ps-by-hand")
        .expect("rule imported");
    let Some(rampart::desired::DesiredObject::DetectionRule(r)) = all[0]
        .objects
        .get(&(rampart::desired::Kind::DetectionRule, rule_doc.name.clone()))
    else {
        panic!("rule not desired")
    };
    for pointer in [
        "/id",
        "/displayName",
        "/description",
        "/status",
        "/queryCondition",
        "/schedule",
        "/detectionAction/alertTemplate/severity",
        "/detectionAction/alertTemplate/tactics",
        "/detectionAction/alertTemplate/entityMappings",
    ] {
        assert_eq!(r.body.pointer(pointer), rule.pointer(pointer), "{pointer}");
    }
    // Every imported object, the detection rule included, plans as an adoption candidate
    // with no change.
    let all = desired(root.path());
    let d = all[0].clone();
    assert_eq!(d.objects.len(), n_policies + 1);
    let plan = rampart::fetch::plan_fleet(
        &ctx,
        vec![(d.clone(), auth.tenant_auth(HEALTHY).expect("auth"))],
        std::num::NonZeroUsize::MIN,
        rampart::plan::CreatedFrom {
            source: "emulator".into(),
            profiles: vec![],
            tenants: vec![],
            targets: vec![],
            kinds: vec![],
        },
        None,
    )
    .await;
    assert!(!plan.errored, "{plan:#?}");
    assert!(!plan.summary.has_changes(), "{:#?}", plan.summary);
    for (_, o) in plan.objects() {
        assert_eq!(o.action, Action::Adopt, "{o:#?}");
        assert!(o.changes.is_empty(), "{}: {:#?}", o.address, o.changes);
    }

    // --adopt: a reviewable plan whose only writes carry the marker, then apply.
    let all = desired(root.path());
    let d = all[0].clone();
    let chosen: BTreeSet<String> = imported
        .documents
        .iter()
        .map(|x| format!("contoso/{}/{}", x.kind, x.name))
        .collect();
    let (adoption, n) = adoption_plan(&ctx, &auth, &d, Some(&chosen))
        .await
        .expect("adoption plan");
    assert_eq!(n, n_policies + 1);
    for (_, o) in adoption.objects() {
        assert_eq!(o.action, Action::Update);
        assert_eq!(o.requests.len(), 1, "{o:#?}");
        // The only change adoption makes is the marker at the end of the description.
        let paths: Vec<&str> = o.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["description"], "{o:#?}");
        let after = o.changes[0].after.as_str().unwrap_or("");
        assert!(
            after.ends_with(&format!("[rampart:{}]", o.address.name)),
            "{after}"
        );
    }
    let connector = AuthConnector {
        context: ctx.clone(),
        authenticator: &auth,
    };
    let report = rampart::apply::apply_plan(
        &adoption,
        &connector,
        &rampart::apply::ApplyOptions::default(),
    )
    .await
    .expect("apply");
    assert!(report.success, "{}", report.render_human());

    let after = rampart::fetch::plan_fleet(
        &ctx,
        vec![(d.clone(), auth.tenant_auth(HEALTHY).expect("auth"))],
        std::num::NonZeroUsize::MIN,
        adoption.created_from.clone(),
        None,
    )
    .await;
    assert!(!after.errored);
    assert_eq!(after.objects().count(), n_policies + 1);
    for (_, o) in after.objects() {
        assert_eq!(o.action, Action::NoOp, "{o:#?}");
    }
    // Managed means: the marker is in the description, in the tenant.
    let marked = emu
        .admin()
        .policies(HEALTHY)
        .iter()
        .filter(|p| {
            p["description"]
                .as_str()
                .is_some_and(|s| s.contains("[rampart:contoso-"))
        })
        .count();
    assert_eq!(marked, n_policies);
    let rules = emu.admin().detection_rules(HEALTHY);
    assert!(
        rules[0]["description"]
            .as_str()
            .is_some_and(|s| s.ends_with(&format!("[rampart:{}]", rule_doc.name))),
        "{rules:#?}"
    );
    emu.shutdown().await;
}

const PROFILE: &str = "\
# yaml-language-server: $schema=../schemas/rampart.schema.json
# Customers onboarded in 2026.
kind: DistributionProfile
name: customers
ring: 1   # after the pilot
tenants:
  # Contoso: signed 2026-01
  - id: 11111111-1111-4111-8111-000000000001
    name: contoso
    displayName: \"Contoso Ltd\"   # as in the contract

  # (next customer goes here)
policies:
  - encoded-powershell   # every customer gets it
";

#[test]
fn tenants_add_keeps_comments_and_refuses_invalid_ids() {
    let root = repo(PROFILE, &[("rule.yaml", RULE)]);
    let file = root.path().join("profiles/customers.yaml");
    let tenant = NewTenant {
        id: "11111111-1111-4111-8111-0000000000AB".into(),
        name: "fabrikam".into(),
        display_name: Some("Fabrikam, Inc.".into()),
        vars: [("socGroup".to_string(), "Fabrikam SOC".to_string())].into(),
    };
    let out = add_to_repository(root.path(), &file, None, &tenant).expect("added");
    assert_eq!(out.objects, ["DetectionRule/encoded-powershell"]);
    let edited = std::fs::read_to_string(&file).expect("read");
    insta::assert_snapshot!("tenants_add_profile", edited);

    // Invalid id: refused, file untouched.
    let mut bad = tenant.clone();
    bad.id = "11111111-1111-4111-8111".into();
    bad.name = "other".into();
    let err = add_to_repository(root.path(), &file, None, &bad).expect_err("refused");
    assert!(
        matches!(
            err,
            AddError::Edit {
                source: EditError::InvalidId(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), edited);

    // A valid edit that breaks the repository (an undefined variable in a tenant's policy)
    // is refused by whole-repository validation, and nothing is written.
    let rule_with_var = RULE.replace(
        "title: \"Encoded PowerShell\"",
        "title: \"${vars.missing}\"",
    );
    std::fs::write(root.path().join("policies/rule.yaml"), rule_with_var).expect("write");
    let mut third = tenant.clone();
    third.id = "11111111-1111-4111-8111-0000000000ac".into();
    third.name = "northwind".into();
    let err = add_to_repository(root.path(), &file, None, &third).expect_err("invalid repo");
    assert!(matches!(err, AddError::Invalid { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), edited);
}

/// `rampart import --tenant` reaches the tenant import through the real binary (here the
/// built-in emulator's demo tenant holding an unmanaged look-alike), and `import` refuses
/// a call that names neither source.
#[test]
fn import_command_reads_a_tenant_through_the_binary() {
    let out = tempfile::tempdir().expect("tempdir");
    let root = env!("CARGO_MANIFEST_DIR");
    let done = assert_cmd::Command::cargo_bin("rampart")
        .expect("binary")
        .args([
            "import",
            "--tenant",
            "northwind",
            "--emulator",
            "--root",
            root,
            "--out",
        ])
        .arg(out.path())
        .env("NO_COLOR", "1")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&done.get_output().stdout).to_string();
    let files: Vec<_> = std::fs::read_dir(out.path())
        .expect("read out")
        .filter_map(Result::ok)
        .collect();
    assert!(!files.is_empty(), "nothing written; stdout: {stdout}");
    for f in files {
        let text = std::fs::read_to_string(f.path()).expect("read yaml");
        assert!(text.contains("kind: "), "{text}");
        assert!(text.contains("imported-northwind"), "{text}");
    }
    assert_cmd::Command::cargo_bin("rampart")
        .expect("binary")
        .arg("import")
        .assert()
        .code(1);
}
