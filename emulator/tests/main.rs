//! Integration tests: the Graph emulator's conformance to Graph, served in-process on
//! `127.0.0.1:0` and driven with reqwest. Faults are driven by the seed and asserted on
//! counts and behaviour, never on timing.

mod client_run;
mod faults;
mod gaps;
mod graph;
mod login;
mod routes;
mod security;
mod state;
mod state_dir;

use rampart_emulator::{
    ALL_ROLES, AppSeed, EmulatorConfig, FaultConfig, FederatedCredential, RunningEmulator,
    TenantSeed, start,
};
use serde_json::{Value, json};

pub const APP: &str = "11111111-1111-4111-8111-111111111111";
pub const SECRET: &str = "test-secret-value";
pub const READER_APP: &str = "22222222-2222-4222-8222-222222222222";
pub const TENANT_A: &str = "6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01";
pub const TENANT_B: &str = "7a2d3c0f-1e5b-4f66-8b72-4d3f9f8e2b02";
pub const AV: &str = "804339ad-1553-4478-a742-138fb5807418_1";
pub const ASR: &str = "e8c053d6-9f95-42b1-a7f1-ebfd71c67a4b_1";
pub const FW: &str = "6078910e-d808-4a9f-a51d-1b8a7bacb7c0_1";

pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
}

/// A config without random faults and without the write limit.
pub fn quiet() -> EmulatorConfig {
    EmulatorConfig {
        faults: FaultConfig::none(),
        ..EmulatorConfig::default()
    }
}

/// Starts an emulator with tenants A and B, the all-roles app (secret + a GitHub federated
/// credential) consented in both, and a reader app with read roles in A only.
pub async fn setup(config: EmulatorConfig) -> Env {
    let emu = start(config).await.expect("start emulator");
    seed(&emu);
    Env {
        emu,
        http: reqwest::Client::new(),
    }
}

/// The usual start of a test: a [`quiet`] emulator set up as [`setup`] does, and a token
/// of the all-roles app in tenant A.
pub async fn started() -> (Env, String) {
    let env = setup(quiet()).await;
    let t = env.token(TENANT_A).await;
    (env, t)
}

/// Adds the apps, consents and tenants [`setup`] describes.
pub fn seed(emu: &RunningEmulator) {
    let admin = emu.admin();
    admin
        .add_app(&AppSeed {
            app_id: APP.into(),
            display_name: "rampart".into(),
            home_tenant: Some(TENANT_A.into()),
            secrets: vec![SECRET.into()],
            federated_credentials: vec![FederatedCredential {
                issuer: "https://token.actions.githubusercontent.com".into(),
                subject: "repo:mssp/baseline:ref:refs/heads/main".into(),
                audiences: vec!["api://AzureADTokenExchange".into()],
            }],
        })
        .unwrap();
    admin
        .add_app(&AppSeed {
            app_id: READER_APP.into(),
            secrets: vec!["reader-secret".into()],
            ..Default::default()
        })
        .unwrap();
    let all: Vec<String> = ALL_ROLES.iter().map(|r| r.to_string()).collect();
    admin
        .add_tenant(&TenantSeed {
            id: TENANT_A.into(),
            display_name: "Contoso".into(),
            domain: Some("contoso.onmicrosoft.com".into()),
            consents: [
                (APP.to_string(), all.clone()),
                (
                    READER_APP.to_string(),
                    vec![
                        "DeviceManagementConfiguration.Read.All".into(),
                        "Group.Read.All".into(),
                    ],
                ),
            ]
            .into(),
            groups: vec![
                json!("Pilot Devices"),
                json!("O'Brien SOC"),
                json!({"displayName": "Kiosks"}),
            ],
            ..Default::default()
        })
        .unwrap();
    admin
        .add_tenant(&TenantSeed {
            id: TENANT_B.into(),
            display_name: "Fabrikam".into(),
            consents: [(APP.to_string(), all)].into(),
            groups: vec![json!("Pilot Devices")],
            ..Default::default()
        })
        .unwrap();
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.graph_url())
    }

    /// Posts a form to the token endpoint of `tenant`; returns (status, body).
    pub async fn token_request(&self, tenant: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(self.emu.token_url(tenant))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// A token for `app`/`secret` in `tenant` through the HTTP token endpoint.
    pub async fn token_for(&self, tenant: &str, app: &str, secret: &str) -> String {
        let (status, body) = self
            .token_request(
                tenant,
                &[
                    ("client_id", app),
                    ("client_secret", secret),
                    ("grant_type", "client_credentials"),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn token(&self, tenant: &str) -> String {
        self.token_for(tenant, APP, SECRET).await
    }

    /// Sends a request to the emulator's admin API (`/_emulator/{path}`) with an optional
    /// JSON body; returns (status, JSON body or Null).
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/_emulator/{path}", self.emu.base_url());
        let (status, _, v) = send(self.http.request(method.parse().unwrap(), url), body).await;
        (status, v)
    }

    /// Reads `/_emulator/{path}`, which must answer 200; returns its JSON body.
    pub async fn admin_get(&self, path: &str) -> Value {
        let (status, v) = self.admin("GET", path, None).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Reads `path` with `token`, which must answer 200; returns the JSON body.
    pub async fn get(&self, token: &str, path: &str) -> Value {
        let (status, _, v) = self.call(token, "GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Sends a Graph request; returns its status only.
    pub async fn status(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> u16 {
        self.call(token, method, path, body).await.0
    }

    /// Sends a Graph request; returns (status, headers, JSON body or Null).
    pub async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        let rb = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(token);
        send(rb, body).await
    }
}

/// Sends `rb` with `body` as JSON, if any; returns (status, headers, JSON body or Null).
async fn send(
    mut rb: reqwest::RequestBuilder,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, headers, v)
}

/// A valid antivirus policy body (real definition and option ids).
pub fn av_policy(name: &str) -> Value {
    json!({
        "name": name,
        "description": format!("{name}\n[rampart:{name}]"),
        "platforms": "windows10",
        "technologies": "mdm,microsoftSense",
        "roleScopeTagIds": ["0"],
        "templateReference": {"templateId": AV},
        "settings": [
            {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring",
                "choiceSettingValue": {"value": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring_1", "children": []}
            }},
            {"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": "device_vendor_msft_policy_config_defender_allowarchivescanning",
                "choiceSettingValue": {"value": "device_vendor_msft_policy_config_defender_allowarchivescanning_0", "children": []}
            }}
        ]
    })
}

/// A valid ASR policy with one rule in `mode`.
pub fn asr_policy(name: &str, mode: &str) -> Value {
    let rule = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules_blockexecutionofpotentiallyobfuscatedscripts";
    json!({
        "name": name,
        "platforms": "windows10",
        "technologies": "mdm,microsoftSense",
        "templateReference": {"templateId": ASR},
        "settings": [{"settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
            "settingDefinitionId": "device_vendor_msft_policy_config_defender_attacksurfacereductionrules",
            "groupSettingCollectionValue": [{"children": [{
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": rule,
                "choiceSettingValue": {"value": format!("{rule}_{mode}"), "children": []}
            }]}]
        }}]
    })
}

/// A valid 2026-schema detection rule.
pub fn rule(id: &str) -> Value {
    json!({
        "id": id,
        "displayName": format!("Rule {id}"),
        "description": "Encoded PowerShell launched by Office",
        "status": "enabled",
        "queryCondition": {"queryText": "DeviceProcessEvents | where ProcessCommandLine has '-enc' | project Timestamp, DeviceId, ReportId"},
        "schedule": {"frequency": "PT1H"},
        "detectionAction": {
            "alertTemplate": {
                "title": "Encoded PowerShell",
                "description": "d",
                "severity": "high",
                "recommendedActions": null,
                "tactics": [{"tactic": "Execution", "techniques": [{"technique": "T1059.001"}]}],
                "entityMappings": {"hosts": [{"deviceIdColumn": "DeviceId"}]}
            },
            "automatedActions": {"isolateDevices": [{"deviceIdColumn": "DeviceId", "isolationType": "full"}]}
        }
    })
}
