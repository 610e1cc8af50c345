//! Issue 13: every endpoint-security family and plain settings-catalog policies, tested on
//! the real UK NCSC 2025 exports (Apache-2.0, vendored in `tests/fixtures/exports/ncsc/`, see its README):
//! each imports losslessly into the right kind, the imported YAML validates, and the
//! emulator holding the exports (as adoption leaves them: the ownership marker written)
//! plans with no changes. Also: the catalog data of every family, and the catalog's
//! consistency with the emulator's template surface.

mod catalog;
mod refresh;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use rampart::desired::{Kind, TenantDesired};
use rampart::json_import::import_policy_json;
use rampart::plan::{Action, CreatedFrom, Plan};
use serde_json::Value;

fn ncsc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/exports/ncsc")
}

/// Every NCSC export with the kind it must import as.
const EXPORTS: [(&str, Kind); 9] = [
    ("2025-NCSC-ASR.json", Kind::AttackSurfaceReductionPolicy),
    (
        "2025-NCSC-App-Control-for-Business.json",
        Kind::ApplicationControlPolicy,
    ),
    ("2025-NCSC-BitLocker.json", Kind::DiskEncryptionPolicy),
    ("2025-NCSC-Defender-Antivirus.json", Kind::AntivirusPolicy),
    ("2025-NCSC-Defender.json", Kind::SettingsCatalogPolicy),
    (
        "2025-NCSC-Device-Control.json",
        Kind::AttackSurfaceReductionPolicy,
    ),
    ("2025-NCSC-Edge.json", Kind::SettingsCatalogPolicy),
    ("2025-NCSC-General.json", Kind::SettingsCatalogPolicy),
    (
        "2025-NCSC-Windows-Security-Experience.json",
        Kind::AntivirusPolicy,
    ),
];

fn export(file: &str) -> Value {
    let bytes = std::fs::read(ncsc_dir().join(file)).expect("fixture");
    let text = rampart::repo_files::decode(&bytes)
        .expect("UTF-16 or UTF-8")
        .text;
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn every_ncsc_export_imports_losslessly_into_its_family_kind() {
    for (file, kind) in EXPORTS {
        let p = import_policy_json(&export(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.kind, kind, "{file}");
    }
}

#[test]
fn the_ncsc_plain_defender_policy_keeps_every_setting() {
    let v = export("2025-NCSC-Defender.json");
    let p = import_policy_json(&v).expect("imports");
    assert_eq!(p.template_id, "");
    assert_eq!(p.document["platforms"], "windows10");
    assert_eq!(p.document["technologies"], "mdm");
    // Defender settings of a plain policy get their readable names, without template
    // references (a plain policy has none).
    assert_eq!(p.document["settings"]["realTimeMonitoring"], "enabled");
    let body = rampart::json_import::policy_body_from_document(&p.document).expect("reads back");
    // Instances (every `settingDefinitionId`, children included) and values (every
    // `value`, collection items included) are the same after the round trip.
    fn count(v: &Value, key: &str) -> usize {
        match v {
            Value::Object(o) => {
                usize::from(o.contains_key(key)) + o.values().map(|c| count(c, key)).sum::<usize>()
            }
            Value::Array(a) => a.iter().map(|c| count(c, key)).sum(),
            _ => 0,
        }
    }
    assert_eq!(v["settings"].as_array().map(Vec::len), Some(28));
    assert_eq!(count(&v["settings"], "settingDefinitionId"), 44);
    assert_eq!(count(&v["settings"], "value"), 71);
    for key in ["settingDefinitionId", "value"] {
        assert_eq!(
            count(&body["settings"], key),
            count(&v["settings"], key),
            "{key}"
        );
    }
}

/// A repository holding the imported NCSC policies, distributed to `tenants`.
fn repo_with_exports(tenants: &[(&str, &str)]) -> (tempfile::TempDir, Vec<(String, Value)>) {
    let repo = tempfile::tempdir().expect("tempdir");
    let policies = repo.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(repo.path().join("profiles")).unwrap();
    let mut originals = Vec::new();
    for (file, _) in EXPORTS {
        let v = export(file);
        let p = import_policy_json(&v).expect("imports");
        std::fs::write(policies.join(format!("{}.yaml", p.name)), &p.yaml).unwrap();
        originals.push((p.name.clone(), v));
    }
    let mut profile = String::from("kind: DistributionProfile\nname: ncsc\nring: 0\ntenants:\n");
    for (id, name) in tenants {
        profile.push_str(&format!("  - id: {id}\n    name: {name}\n"));
    }
    profile.push_str("policies:\n");
    for (name, _) in &originals {
        profile.push_str(&format!("  - {name}\n"));
    }
    std::fs::write(repo.path().join("profiles/ncsc.yaml"), profile).unwrap();
    (repo, originals)
}

fn desired(root: &Path) -> Vec<TenantDesired> {
    let v = rampart::resolve::validate(root, &[]);
    assert!(!v.has_errors(), "{:#?}", v.diagnostics);
    let mut all: Vec<TenantDesired> = v.tenants.values().cloned().collect();
    all.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    all
}

async fn plan_on(demo: &rampart::demo::Demo, desired: &[TenantDesired]) -> Plan {
    let ctx = demo.context().expect("ctx");
    let tenants = desired
        .iter()
        .map(|d| (d.clone(), demo.auth(&d.tenant.id).expect("auth")))
        .collect();
    rampart::fetch::plan_fleet(
        &ctx,
        tenants,
        NonZeroUsize::new(2).expect("nonzero"),
        CreatedFrom::default(),
        None,
    )
    .await
}

/// The real exports, seeded into the emulator as adoption leaves them (the ownership
/// marker appended to the description), plan with no changes; rampart's own creates of the
/// same documents (the demo's in-step tenant) also plan with no changes.
#[test]
fn ncsc_exports_seeded_into_the_emulator_plan_with_no_changes_after_adoption() {
    // Sorted by name, the demo makes the 1st tenant in step and leaves the 3rd empty.
    let tenants = [
        ("11111111-1111-4111-8111-111111111111", "a-in-step"),
        ("22222222-2222-4222-8222-222222222222", "b-drifted"),
        ("33333333-3333-4333-8333-333333333333", "c-adopted"),
    ];
    let (repo, originals) = repo_with_exports(&tenants);
    let all = desired(repo.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let plan = runtime.block_on(async {
        let demo = rampart::demo::start(&all, &repo.path().join("profiles"))
            .await
            .expect("demo seeds every family");
        let admin = demo.emulator.admin();
        for (name, original) in &originals {
            let mut body = original.clone();
            let description = body["description"].as_str().unwrap_or("").to_string();
            body["description"] = rampart::plan::marker::with_marker(&description, name).into();
            admin
                .add_policy(all[2].tenant.id.as_str(), &body)
                .unwrap_or_else(|e| panic!("{name}: the emulator accepts the export: {e}"));
        }
        let plan = plan_on(&demo, &all).await;
        demo.emulator.shutdown().await;
        plan
    });
    let render = rampart::render::render_human(&plan, Default::default());
    for tenant in ["a-in-step", "c-adopted"] {
        let t = plan
            .tenants
            .iter()
            .find(|t| t.tenant == tenant)
            .expect("planned");
        assert_eq!(t.objects.len(), originals.len(), "{render}");
        for o in &t.objects {
            assert_eq!(o.action, Action::NoOp, "{tenant}: {}\n{render}", o.address);
        }
    }
}

/// `import --tenant` reads every configuration policy: the families rampart manages are
/// imported (a plain settings-catalog policy too), and what it cannot express (a security
/// baseline) is listed with its reason instead of being filtered away on the server.
#[test]
fn tenant_import_lists_each_skipped_policy_with_its_reason() {
    let tenants = [("55555555-5555-4555-8555-555555555555", "z-new")];
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(repo.path().join("policies")).unwrap();
    std::fs::create_dir_all(repo.path().join("profiles")).unwrap();
    std::fs::write(
        repo.path().join("profiles/p.yaml"),
        format!(
            "kind: DistributionProfile\nname: p\nring: 0\ntenants:\n  - id: {}\n    name: {}\npolicies: []\n",
            tenants[0].0, tenants[0].1
        ),
    )
    .unwrap();
    let all = desired(repo.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let imported = runtime.block_on(async {
        // One tenant: the demo's first state (in step) has nothing to create here.
        let demo = rampart::demo::start(&all, &repo.path().join("profiles"))
            .await
            .expect("demo");
        let admin = demo.emulator.admin();
        for file in ["2025-NCSC-BitLocker.json", "2025-NCSC-Edge.json"] {
            admin
                .add_policy(tenants[0].0, &export(file))
                .expect("seeded");
        }
        let mut baseline = export("2025-NCSC-Edge.json");
        baseline["name"] = "Windows security baseline".into();
        baseline.as_object_mut().expect("object").remove("id");
        baseline["templateReference"] = serde_json::json!({
            "templateId": "66df8dce-0166-4b82-92f7-1f74e3ca17a3_5",
            "templateFamily": "baseline",
            "templateDisplayName": "Security Baseline for Windows 10 and later",
        });
        admin.add_policy(tenants[0].0, &baseline).expect("seeded");
        let ctx = demo.context().expect("ctx");
        let client = ctx.client(demo.auth(tenants[0].0).expect("auth"));
        let imported = rampart::onboard::tenant_import::import_tenant(&client, tenants[0].1)
            .await
            .expect("import");
        demo.emulator.shutdown().await;
        imported
    });
    let kinds: Vec<Kind> = imported.documents.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [Kind::DiskEncryptionPolicy, Kind::SettingsCatalogPolicy],
        "{imported:#?}"
    );
    assert_eq!(imported.skipped.len(), 1, "{imported:#?}");
    let skipped = &imported.skipped[0];
    assert_eq!(skipped.display_name, "Windows security baseline");
    assert!(
        skipped
            .reason
            .contains("Security Baseline for Windows 10 and later")
            && skipped
                .reason
                .contains("rampart has no kind for template family baseline"),
        "{}",
        skipped.reason
    );
}

/// Issue 13: a policy imported from one customer and selected by a shared profile is not
/// silently given to the other customers.
#[test]
fn validate_warns_when_an_imported_policy_reaches_another_tenant() {
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(repo.path().join("policies")).unwrap();
    std::fs::create_dir_all(repo.path().join("profiles")).unwrap();
    std::fs::write(
        repo.path().join("policies/av.yaml"),
        "kind: AntivirusPolicy\nname: acme-av\nlabels: [imported, imported-acme]\nsettings:\n  realTimeMonitoring: enabled\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("profiles/shared.yaml"),
        "kind: DistributionProfile\nname: shared\nring: 0\ntenants:\n  - id: 66666666-6666-4666-8666-666666666666\n    name: acme\n  - id: 77777777-7777-4777-8777-777777777777\n    name: globex\npolicies:\n  - { label: imported-acme }\n",
    )
    .unwrap();
    let v = rampart::resolve::validate(repo.path(), &[]);
    let leaks: Vec<_> = v
        .diagnostics
        .iter()
        .filter(|d| d.code == "imported-policy-distributed")
        .collect();
    assert_eq!(leaks.len(), 1, "{:#?}", v.diagnostics);
    assert!(
        leaks[0].message.contains("`globex`"),
        "{}",
        leaks[0].message
    );
    assert!(!v.has_errors());
}

/// `import --tenant` writes a profile that targets the imported tenant alone, selecting
/// its `imported-<tenant>` label; the repository then validates without a leak warning,
/// and an existing profile of that name is never overwritten.
#[test]
fn import_writes_a_profile_for_the_imported_tenant_alone() {
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(repo.path().join("policies/imported/acme")).unwrap();
    std::fs::create_dir_all(repo.path().join("profiles")).unwrap();
    std::fs::write(
        repo.path().join("profiles/shared.yaml"),
        "kind: DistributionProfile\nname: shared\nring: 2\ntenants:\n  - id: 66666666-6666-4666-8666-666666666666\n    name: acme\n  - id: 77777777-7777-4777-8777-777777777777\n    name: globex\npolicies: []\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("policies/imported/acme/acme-av.yaml"),
        "kind: AntivirusPolicy\nname: acme-av\nlabels: [imported, imported-acme]\nsettings:\n  realTimeMonitoring: enabled\n",
    )
    .unwrap();
    let v = rampart::resolve::validate(repo.path(), &[]);
    let acme = rampart::resolve::find_tenant(&v.tenants, "acme").expect("acme");
    let profiles = repo.path().join("profiles");
    let path = rampart::onboard::tenant_import::write_tenant_profile(&profiles, acme)
        .expect("written")
        .expect("created");
    assert!(path.ends_with("profiles/imported-acme.yaml"));
    let v = rampart::resolve::validate(repo.path(), &[]);
    assert!(v.diagnostics.is_empty(), "{:#?}", v.diagnostics);
    let acme = rampart::resolve::find_tenant(&v.tenants, "acme").expect("acme");
    assert_eq!(acme.objects.len(), 1);
    assert_eq!(acme.ring, Some(2));
    let globex = rampart::resolve::find_tenant(&v.tenants, "globex").expect("globex");
    assert!(globex.objects.is_empty());
    // Never overwritten.
    std::fs::write(&path, "# edited\n").unwrap();
    assert!(
        rampart::onboard::tenant_import::write_tenant_profile(&profiles, acme)
            .expect("ok")
            .is_none()
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# edited\n");
}

/// Issue 13: a customer's hand-made copy of the baseline, under the baseline's display
/// name, is adopted onto the baseline's own desired object (`--adopt-as NAME`), so the
/// tenant ends with one policy and the next plan has no changes.
#[test]
fn adopt_as_puts_the_baseline_onto_the_customers_copy() {
    let (repo, all) = three_tenant_repo(
        "kind: AntivirusPolicy\nname: baseline-av\ndisplayName: MSSP - AV\nsettings:\n  realTimeMonitoring: enabled\n  cloudBlockLevel: high\n",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (plan, held, text) = runtime.block_on(async {
        let demo = rampart::demo::start(&all, &repo.path().join("profiles"))
            .await
            .expect("demo");
        let c = &all[2];
        // The customer's copy: same display name, its own settings, no marker.
        let rampart::desired::DesiredObject::ConfigurationPolicy(p) =
            c.objects.values().next().expect("one object")
        else {
            panic!("a policy")
        };
        let mut copy = rampart::plan::diff::policy_body(p);
        copy["description"] = "made by hand".into();
        copy["settings"] = serde_json::json!([]);
        demo.emulator
            .admin()
            .add_policy(all[2].tenant.id.as_str(), &copy)
            .expect("seeded");
        let args = rampart::cli::tenants::ImportTenantArgs {
            root: repo.path().to_path_buf(),
            tenant: "c-new".into(),
            out: None,
            force: false,
            adopt: false,
            adopt_as: Some("baseline-av".into()),
            auto_approve: true,
            emulator: false,
            graph: Default::default(),
        };
        let (text, code) = rampart::cli::tenants::import_with(
            &args,
            c,
            "c-new",
            &demo.authenticator,
            &demo.context().expect("context"),
            false,
        )
        .await
        .expect("adopted");
        assert_eq!(code, 0, "{text}");
        let plan = plan_on(&demo, &all).await;
        let held = demo
            .emulator
            .admin()
            .policies(all[2].tenant.id.as_str())
            .len();
        demo.emulator.shutdown().await;
        (plan, held, text)
    });
    assert_eq!(held, 1, "one policy in the tenant\n{text}");
    let c = plan
        .tenants
        .iter()
        .find(|t| t.tenant == "c-new")
        .expect("planned");
    assert!(
        c.objects.iter().all(|o| o.action == Action::NoOp),
        "{}",
        rampart::render::render_human(&plan, Default::default())
    );
    // Nothing was imported under a second name.
    assert!(!repo.path().join("policies/imported").exists());
}

/// Issue 13: a desired policy that will sit beside an unmanaged policy of the same family
/// assigned to the same targets is flagged in the plan (and nothing is planned for the
/// unmanaged one).
#[test]
fn plan_notes_an_unmanaged_policy_of_the_same_family_on_the_same_devices() {
    let (repo, all) = three_tenant_repo(
        "kind: AntivirusPolicy\nname: baseline-av\ndisplayName: MSSP - AV\nsettings:\n  realTimeMonitoring: enabled\nassignments:\n  - allDevices: true\n",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let plan = runtime.block_on(async {
        let demo = rampart::demo::start(&all, &repo.path().join("profiles"))
            .await
            .expect("demo");
        let mut other = export("2025-NCSC-Defender-Antivirus.json");
        other.as_object_mut().expect("object").remove("id");
        other["name"] = "Helpdesk AV".into();
        other["assignments"] = serde_json::json!([{
            "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}
        }]);
        demo.emulator
            .admin()
            .add_policy(all[2].tenant.id.as_str(), &other)
            .expect("seeded");
        let plan = plan_on(&demo, &all).await;
        demo.emulator.shutdown().await;
        plan
    });
    let c = plan
        .tenants
        .iter()
        .find(|t| t.tenant == "c-new")
        .expect("planned");
    let av = &c.objects[0];
    assert_eq!(av.action, Action::Create);
    assert!(
        av.notes
            .iter()
            .any(|n| n.contains("\"Helpdesk AV\"") && n.contains("all devices")),
        "{:?}",
        av.notes
    );
    assert_eq!(
        c.objects.len(),
        1,
        "nothing planned for the unmanaged policy"
    );
    // The in-step tenant has no neighbour: no note.
    let a = plan
        .tenants
        .iter()
        .find(|t| t.tenant == "a-in-step")
        .unwrap();
    assert!(a.objects.iter().all(|o| o.notes.is_empty()));
}

/// A repository with one policy, `policies/av.yaml` holding `av_yaml`, given by one profile
/// to three tenants (in step, drifted, new in the demo's order), and their desired states.
fn three_tenant_repo(av_yaml: &str) -> (tempfile::TempDir, Vec<TenantDesired>) {
    let tenants = [
        ("11111111-1111-4111-8111-111111111111", "a-in-step"),
        ("22222222-2222-4222-8222-222222222222", "b-drifted"),
        ("33333333-3333-4333-8333-333333333333", "c-new"),
    ];
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(repo.path().join("policies")).unwrap();
    std::fs::create_dir_all(repo.path().join("profiles")).unwrap();
    std::fs::write(repo.path().join("policies/av.yaml"), av_yaml).unwrap();
    let mut profile = String::from("kind: DistributionProfile\nname: p\nring: 0\ntenants:\n");
    for (id, name) in tenants {
        profile.push_str(&format!("  - id: {id}\n    name: {name}\n"));
    }
    profile.push_str("policies:\n  - baseline-av\n");
    std::fs::write(repo.path().join("profiles/p.yaml"), profile).unwrap();
    let all = desired(repo.path());
    (repo, all)
}
