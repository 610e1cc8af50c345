//! `rampart catalog refresh` against a served emulator, through the real binary (so the
//! one connection door, `--auth secret` and the `AZURE_*` variables are used as in a
//! pipeline), then `rampart validate` using the snapshot it wrote. Both run as child
//! processes: the merged catalog is process-wide, and the test process must keep the
//! shipped one for the other tests.

use std::collections::BTreeMap;

use rampart::catalog::Catalog;
use rampart::catalog::snapshot::{SNAPSHOT_PATH, from_graph};
use serde_json::{Value, json};

const TENANT: &str = "44444444-4444-4444-8444-444444444444";
/// The demo emulator's development secret (`rampart::demo`), known to the emulator only.
const DEMO_SECRET: &str = "rampart-demo";

fn repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(repo.path().join("policies")).unwrap();
    std::fs::create_dir_all(repo.path().join("profiles")).unwrap();
    std::fs::write(
        repo.path().join("profiles/one.yaml"),
        format!(
            "kind: DistributionProfile\nname: one\nring: 0\ntenants:\n  - id: {TENANT}\n    name: solo\npolicies:\n  - {{ label: edr }}\n"
        ),
    )
    .unwrap();
    repo
}

fn rampart(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = assert_cmd::Command::cargo_bin("rampart").expect("binary");
    for (k, _) in std::env::vars() {
        if k.starts_with("AZURE_") || k.starts_with("RAMPART_") || k.starts_with("ACTIONS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1").envs(env.iter().copied());
    cmd.args(args).output().expect("run rampart")
}

#[test]
fn refresh_against_a_served_emulator_writes_a_snapshot_the_emulator_agrees_with() {
    let repo = repo();
    let root = repo.path().display().to_string();
    let v = rampart::resolve::validate(repo.path(), &[]);
    let desired: Vec<_> = v.tenants.values().cloned().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let output = runtime.block_on(async {
        let demo = rampart::demo::start(&desired, &repo.path().join("profiles"))
            .await
            .expect("demo");
        let graph = demo.emulator.graph_url();
        let login = demo.emulator.login_url();
        let root = root.clone();
        let out = tokio::task::spawn_blocking(move || {
            rampart(
                &[
                    "catalog",
                    "refresh",
                    "--tenant",
                    "solo",
                    "--root",
                    &root,
                    "--graph-url",
                    &graph,
                    "--login-url",
                    &login,
                    "--auth",
                    "secret",
                ],
                &[
                    ("AZURE_CLIENT_ID", rampart::demo::APP_ID),
                    ("AZURE_CLIENT_SECRET", DEMO_SECRET),
                ],
            )
        })
        .await
        .expect("join");
        demo.emulator.shutdown().await;
        out
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains(DEMO_SECRET) && !stdout.contains("eyJ"));
    let text = std::fs::read_to_string(repo.path().join(SNAPSHOT_PATH)).expect("snapshot");
    let snapshot: Value = serde_json::from_str(&text).expect("JSON");
    // The emulator serves the catalog's own templates, so what is learned maps back onto
    // the shipped catalog exactly: every service template, no definition it lacks.
    let shipped = Catalog::shipped();
    assert_eq!(
        snapshot["templates"].as_array().map(Vec::len),
        Some(shipped.service_templates().count())
    );
    assert_eq!(snapshot["definitions"], json!([]), "{text}");
    // And a repository with that snapshot validates (in a child process).
    std::fs::write(
        repo.path().join("policies/edr.yaml"),
        "kind: EndpointDetectionAndResponsePolicy\nname: edr\nlabels: [edr]\nsettings:\n  sampleSharing: all\n",
    )
    .unwrap();
    let out = rampart(&["validate", "--root", &root], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A Graph answer for a template family rampart has a kind for, in two versions: `_1`
/// superseded by `_2`, which holds one setting the shipped catalog does not know.
fn graph_templates() -> (Vec<Value>, BTreeMap<String, Vec<Value>>) {
    let base = "00000000-0000-4000-8000-0000000000e1";
    let t = |v: u32, state: &str| {
        json!({
            "id": format!("{base}_{v}"), "baseId": base, "version": v,
            "displayName": "Endpoint detection and response (test)",
            "platforms": "windows10", "technologies": "mdm,microsoftSense",
            "templateFamily": "endpointSecurityEndpointDetectionAndResponse",
            "lifecycleState": state,
        })
    };
    let def = "device_vendor_msft_rampart_test_edr_setting";
    let item = json!({
        "settingInstanceTemplate": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstanceTemplate",
            "settingDefinitionId": def,
            "settingInstanceTemplateId": "5e1f0000-0000-4000-8000-000000000001",
            "isRequired": false,
            "choiceSettingValueTemplate": {"settingValueTemplateId": "5e1f0000-0000-4000-8000-000000000002"},
        },
        "settingDefinitions": [{
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingDefinition",
            "id": def, "displayName": "Test setting",
            "options": [
                {"itemId": format!("{def}_0"), "displayName": "Off"},
                {"itemId": format!("{def}_1"), "displayName": "On"},
            ],
        }],
    });
    let mut st = BTreeMap::new();
    st.insert(format!("{base}_2"), vec![item]);
    (vec![t(1, "superseded"), t(2, "active")], st)
}

#[test]
fn validate_uses_the_repository_snapshot_and_warns_on_superseded_templates() {
    let (templates, setting_templates) = graph_templates();
    let snapshot = from_graph(&templates, &setting_templates, Catalog::shipped());
    assert_eq!(snapshot.templates.len(), 2);
    assert_eq!(
        snapshot.templates[0].superseded_by.as_deref(),
        Some("00000000-0000-4000-8000-0000000000e1_2")
    );
    let repo = repo();
    let path = rampart::cli::catalog::write_snapshot(repo.path(), &snapshot).expect("written");
    assert!(path.starts_with(repo.path()));
    let write = |name: &str, body: &str| {
        std::fs::write(repo.path().join("policies").join(name), body).unwrap();
    };
    // The learned setting takes its short form (an option suffix) only with the snapshot.
    write(
        "new.yaml",
        "kind: EndpointDetectionAndResponsePolicy\nname: new\nlabels: [edr]\ntemplate: 00000000-0000-4000-8000-0000000000e1_2\nsettings:\n  device_vendor_msft_rampart_test_edr_setting: \"1\"\n",
    );
    write(
        "old.yaml",
        "kind: EndpointDetectionAndResponsePolicy\nname: old\nlabels: [edr]\ntemplate: 00000000-0000-4000-8000-0000000000e1_1\n",
    );
    let root = repo.path().display().to_string();
    let out = rampart(&["validate", "--root", &root, "--format", "concise"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning[superseded-template]")
            && stdout.contains("use `00000000-0000-4000-8000-0000000000e1_2` instead"),
        "{stdout}"
    );
    assert!(!stdout.contains("unknown-to-catalog"), "{stdout}");
    // Without the snapshot the same repository fails: the template is unknown.
    std::fs::remove_file(repo.path().join(SNAPSHOT_PATH)).unwrap();
    let out = rampart(&["validate", "--root", &root, "--format", "concise"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("unknown-template"), "{stdout}");
}
