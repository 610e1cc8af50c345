//! The Graph client against the built-in emulator: the real azure_identity
//! ClientSecretCredential through the loopback transport, group resolution, paging, and
//! a throttling storm survived.

use super::*;
use rampart::graph::auth::{AuthConfig, AuthError, Authenticator, env};
use rampart::graph::client::{BatchRequest, GroupError};
use rampart::graph::error::GraphError;
use rampart_emulator::{ALL_ROLES, AppSeed, EmulatorConfig, FaultConfig, TenantSeed, start};

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "emulator-secret-42";
const TA: &str = "6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01";
const TB: &str = "7f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a02";

#[tokio::test]
async fn real_credential_and_client_against_the_emulator() {
    let emu = start(EmulatorConfig {
        faults: FaultConfig::none(),
        ..Default::default()
    })
    .await
    .unwrap();
    let admin = emu.admin();
    admin
        .add_app(&AppSeed {
            app_id: APP.into(),
            secrets: vec![SECRET.into()],
            ..Default::default()
        })
        .unwrap();
    admin
        .add_tenant(&TenantSeed {
            id: TA.into(),
            display_name: "Contoso".into(),
            consents: [(
                APP.to_string(),
                ALL_ROLES.iter().map(|r| r.to_string()).collect(),
            )]
            .into(),
            // Two groups whose names differ only in case: Graph's `eq` on displayName is
            // case-insensitive, so both match "Dup" (the emulator's seed refuses exact
            // duplicates, which Graph itself would allow).
            groups: vec![
                "Pilot Devices".into(),
                json!({"displayName": "Dup", "id": "00000000-0000-4000-8000-00000000d001"}),
                json!({"displayName": "DUP", "id": "00000000-0000-4000-8000-00000000d002"}),
                "O'Brien".into(),
            ],
            ..Default::default()
        })
        .unwrap();
    // Tenant B exists but never consented to the app.
    admin
        .add_tenant(&TenantSeed {
            id: TB.into(),
            display_name: "Fabrikam".into(),
            ..Default::default()
        })
        .unwrap();

    let vars: BTreeMap<&str, String> = [
        (env::AZURE_CLIENT_ID, APP.to_string()),
        (env::AZURE_CLIENT_SECRET, SECRET.to_string()),
    ]
    .into();
    let cfg = AuthConfig::from_env(None, Some(&emu.login_url()), |k| vars.get(k).cloned()).unwrap();
    let (ctx, _) = context(&emu.graph_url(), |_| {});
    let auth = Authenticator::new(cfg, ctx.http().clone()).unwrap();

    let a = ctx.client(auth.tenant_auth(TA).unwrap());
    let roles = a.auth().roles().await.unwrap();
    assert!(roles.iter().any(|r| r == "Group.Read.All"), "{roles:?}");

    let groups = a
        .resolve_groups(&["Pilot Devices", "Dup", "Missing", "O'Brien"].map(String::from))
        .await;
    assert!(groups["Pilot Devices"].is_ok(), "{groups:?}");
    assert!(groups["O'Brien"].is_ok(), "{groups:?}");
    assert!(
        matches!(&groups["Dup"], Err(GroupError::GroupAmbiguous { ids, .. }) if ids.len() == 2),
        "{groups:?}"
    );
    assert!(
        matches!(&groups["Missing"], Err(GroupError::GroupNotFound { .. })),
        "{groups:?}"
    );

    // Paging through the real emulator's absolute next links.
    let all = a.get_all("/v1.0/groups?$top=1").await.unwrap();
    assert_eq!(all.len(), 4);

    // The unconsented tenant: a typed token error, nothing sent to Graph for it.
    let b = ctx.client(auth.tenant_auth(TB).unwrap());
    let err = b.get("/v1.0/organization").await.unwrap_err();
    assert!(
        matches!(err, GraphError::Auth(AuthError::Token { .. })),
        "{err}"
    );
    assert!(!format!("{err:?}").contains(SECRET));

    // A 429/503 storm (with Retry-After) is survived: reads and a $batch all succeed.
    admin.set_faults(FaultConfig {
        rate_429: 0.3,
        rate_503: 0.2,
        retry_after_secs: 1,
        ..FaultConfig::none()
    });
    for _ in 0..10 {
        a.get("/v1.0/organization").await.unwrap();
    }
    let batch: Vec<BatchRequest> = (0..30)
        .map(|i| BatchRequest::get(i.to_string(), "/v1.0/groups?$top=1"))
        .collect();
    for r in a.batch(batch).await.unwrap() {
        assert_eq!(r.status, 200, "{r:?}");
    }
    let s = ctx.stats().tenant(TA);
    assert!(
        s.retries > 0 && s.throttled > 0,
        "the storm happened: {s:?}"
    );
    emu.shutdown().await;
}
