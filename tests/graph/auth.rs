//! Authentication: the real azure_identity credentials through the loopback transport,
//! the `tid` check, and secrets kept out of every Debug/Display.

use super::*;
use rampart::graph::auth::{AuthConfig, AuthError, Authenticator, GithubOidc, env};
use rampart::graph::error::GraphError;

const SECRET: &str = "s3cr3t-Value~with.odd/chars";

fn secret_config(base: &str, secret: &str) -> AuthConfig {
    let vars: BTreeMap<&str, String> = [
        (env::AZURE_CLIENT_ID, "app-123".to_string()),
        (env::AZURE_CLIENT_SECRET, secret.to_string()),
    ]
    .into();
    AuthConfig::from_env(None, Some(base), |k| vars.get(k).cloned()).unwrap()
}

fn ok_graph(_: &Seen) -> Reply {
    Reply::ok(json!({"id": "org"}))
}

#[tokio::test]
async fn client_secret_credential_reaches_a_loopback_token_endpoint() {
    let mock = start_mock(Some(SECRET), ok_graph).await;
    let cfg = secret_config(&mock.base, SECRET);
    assert_eq!(cfg.method, AuthMethod::Secret);
    let (ctx, _) = context(&mock.base, |_| {});
    let auth = Authenticator::new(cfg, ctx.http().clone()).unwrap();
    for tenant in ["tenant-a", "tenant-b"] {
        let c = ctx.client(auth.tenant_auth(tenant).unwrap());
        c.get("/v1.0/organization").await.unwrap();
        c.get("/v1.0/organization").await.unwrap();
    }
    // One token per tenant: the second request of each used the cache.
    assert_eq!(mock.token_requests.load(Ordering::SeqCst), 2);
    let log = mock.log();
    let token_calls: Vec<&Seen> = log.iter().filter(|s| s.path.ends_with("/token")).collect();
    assert_eq!(token_calls[0].path, "/tenant-a/oauth2/v2.0/token");
    let form = token_calls[0].form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "app-123");
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    // Graph calls carry the token issued for their own tenant.
    let graph: Vec<&Seen> = log.iter().filter(|s| s.path.starts_with("/v1.0")).collect();
    let tid_of = |s: &Seen| {
        let t = s
            .header("authorization")
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_string();
        rampart::graph::auth::decode_claims(&t)
            .unwrap()
            .tid
            .unwrap()
    };
    assert_eq!(tid_of(graph[0]), "tenant-a");
    assert_eq!(tid_of(graph[3]), "tenant-b");
}

#[tokio::test]
async fn roles_are_exposed_after_the_tid_check() {
    let mock = start_mock(Some(SECRET), ok_graph).await;
    let auth =
        Authenticator::new(secret_config(&mock.base, SECRET), reqwest::Client::new()).unwrap();
    let roles = auth.tenant_auth("t1").unwrap().roles().await.unwrap();
    assert_eq!(
        roles,
        [
            "DeviceManagementConfiguration.ReadWrite.All",
            "Group.Read.All"
        ]
    );
}

#[tokio::test]
async fn a_token_for_another_tenant_stops_all_work_on_that_tenant() {
    let mock = start_mock(Some(SECRET), ok_graph).await;
    mock.tid_override
        .lock()
        .unwrap()
        .insert("victim".into(), "someone-else".into());
    let (ctx, _) = context(&mock.base, |_| {});
    let auth = Authenticator::new(secret_config(&mock.base, SECRET), ctx.http().clone()).unwrap();
    let c = ctx.client(auth.tenant_auth("victim").unwrap());
    let err = c.get("/v1.0/organization").await.unwrap_err();
    assert!(err.is_wrong_tenant(), "{err}");
    assert!(
        matches!(&err, GraphError::Auth(AuthError::WrongTenant { expected, actual })
        if expected == "victim" && actual == "someone-else")
    );
    let err = c.post("/beta/things", &json!({})).await.unwrap_err();
    assert!(err.is_wrong_tenant());
    assert!(mock.graph_log().is_empty(), "nothing was sent to Graph");
    assert_eq!(
        mock.token_requests.load(Ordering::SeqCst),
        1,
        "refused without asking again"
    );
    // Other tenants are unaffected.
    ctx.client(auth.tenant_auth("fine").unwrap())
        .get("/v1.0/organization")
        .await
        .unwrap();
}

#[tokio::test]
async fn static_credential_with_wrong_tid_sends_nothing() {
    let mock = start_mock(None, ok_graph).await;
    let (ctx, _) = context(&mock.base, |_| {});
    let cred = StaticCredential::for_tid("other");
    let c = ctx.client(TenantAuth::new(
        "mine",
        AuthMethod::AzureCli,
        GRAPH_SCOPE,
        cred.clone(),
    ));
    assert!(c.get("/v1.0/x").await.unwrap_err().is_wrong_tenant());
    assert!(c.get("/v1.0/x").await.unwrap_err().is_wrong_tenant());
    assert_eq!(cred.calls.load(Ordering::SeqCst), 1);
    assert!(mock.graph_log().is_empty());
}

#[tokio::test]
async fn wrong_secret_gives_a_typed_error_without_the_secret() {
    let mock = start_mock(Some("the-right-one"), ok_graph).await;
    let wrong = "WRONG-secret-9f8e7d";
    let (ctx, _) = context(&mock.base, |_| {});
    let auth = Authenticator::new(secret_config(&mock.base, wrong), ctx.http().clone()).unwrap();
    let err = ctx
        .client(auth.tenant_auth("t1").unwrap())
        .get("/v1.0/organization")
        .await
        .unwrap_err();
    match &err {
        GraphError::Auth(AuthError::Token {
            tenant,
            status,
            error_codes,
            message,
            ..
        }) => {
            assert_eq!(tenant, "t1");
            assert_eq!(*status, Some(401));
            assert_eq!(error_codes.as_deref(), Some("7000215"));
            assert!(message.contains("AADSTS7000215"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    for text in [err.to_string(), format!("{err:?}"), format!("{auth:?}")] {
        assert!(!text.contains(wrong), "secret leaked: {text}");
    }
    assert!(mock.graph_log().is_empty());
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_display() {
    let mut cfg = secret_config("https://login.microsoftonline.com", SECRET);
    cfg.github_oidc = Some(GithubOidc {
        request_url: "https://pipelines.actions.githubusercontent.com/x?api-version=2.0".into(),
        request_token: "GH-REQUEST-TOKEN-123".to_string().into(),
    });
    let cred = StaticCredential::for_tid("t");
    let token = cred.token.clone();
    let auth = Authenticator::new(cfg.clone(), reqwest::Client::new()).unwrap();
    let tenant_auth = TenantAuth::new("t", AuthMethod::Secret, GRAPH_SCOPE, cred);
    let mock = start_mock(None, |_| Reply::status(401)).await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = ctx.client(tenant_auth.clone());
    let err = c.get("/v1.0/x").await.unwrap_err();
    let texts = [
        format!("{cfg:?}"),
        format!("{auth:?}"),
        format!("{tenant_auth:?}"),
        format!("{c:?}"),
        format!("{ctx:?}"),
        format!("{err:?}"),
        err.to_string(),
    ];
    for t in &texts {
        for secret in [SECRET, "GH-REQUEST-TOKEN-123", token.as_str()] {
            assert!(!t.contains(secret), "secret in: {t}");
        }
    }
    assert!(
        texts[0].contains("app-123"),
        "non-secret fields stay visible: {}",
        texts[0]
    );
}

#[tokio::test]
async fn assertion_file_is_posted_as_client_assertion() {
    let mock = start_mock(Some("unused"), ok_graph).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "eyJhbGciOi.assertion-from-file.sig\n").unwrap();
    let vars: BTreeMap<&str, String> = [
        (env::AZURE_CLIENT_ID, "app-9".to_string()),
        (env::AZURE_FEDERATED_TOKEN_FILE, file.display().to_string()),
    ]
    .into();
    let cfg = AuthConfig::from_env(None, Some(&mock.base), |k| vars.get(k).cloned()).unwrap();
    assert_eq!(cfg.method, AuthMethod::AssertionFile);
    let auth = Authenticator::new(cfg, reqwest::Client::new()).unwrap();
    auth.tenant_auth("t1").unwrap().token().await.unwrap();
    let form = mock.log()[0].form();
    assert_eq!(
        form["client_assertion"],
        "eyJhbGciOi.assertion-from-file.sig"
    );
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(form["client_id"], "app-9");
    assert!(!form.contains_key("client_secret"));
}

#[tokio::test]
async fn github_oidc_token_is_fetched_once_and_shared_by_tenants() {
    let gh_jwt = jwt(
        &json!({"aud": "api://AzureADTokenExchange", "sub": "repo:o/r:environment:prod", "exp": 4_000_000_000u64}),
    );
    let gh = gh_jwt.clone();
    let mock = start_mock(Some("unused"), move |s| {
        if s.path.starts_with("/_github") {
            assert_eq!(s.header("authorization"), Some("Bearer gh-request-token"));
            Reply::ok(json!({"value": gh.clone(), "count": 1}))
        } else {
            Reply::ok(json!({}))
        }
    })
    .await;
    let vars: BTreeMap<&str, String> = [
        (env::AZURE_CLIENT_ID, "app-1".to_string()),
        (
            env::ACTIONS_ID_TOKEN_REQUEST_URL,
            format!("{}/_github/token?api-version=2.0", mock.base),
        ),
        (
            env::ACTIONS_ID_TOKEN_REQUEST_TOKEN,
            "gh-request-token".to_string(),
        ),
    ]
    .into();
    let cfg = AuthConfig::from_env(None, Some(&mock.base), |k| vars.get(k).cloned()).unwrap();
    assert_eq!(cfg.method, AuthMethod::GithubOidc);
    let auth = Authenticator::new(cfg, reqwest::Client::new()).unwrap();
    for t in ["t1", "t2", "t3"] {
        auth.tenant_auth(t).unwrap().token().await.unwrap();
    }
    let log = mock.log();
    let gh_calls: Vec<&Seen> = log
        .iter()
        .filter(|s| s.path.starts_with("/_github"))
        .collect();
    assert_eq!(gh_calls.len(), 1, "one GitHub token for all tenants");
    assert!(
        gh_calls[0]
            .path
            .contains("audience=api%3A%2F%2FAzureADTokenExchange"),
        "{}",
        gh_calls[0].path
    );
    let token_calls: Vec<&Seen> = log
        .iter()
        .filter(|s| s.path.ends_with("/token") && !s.path.starts_with("/_github"))
        .collect();
    assert_eq!(token_calls.len(), 3);
    for c in token_calls {
        assert_eq!(c.form()["client_assertion"], gh_jwt);
    }
}

#[tokio::test]
async fn insecure_login_urls_and_missing_settings_are_refused() {
    let none = |_: &str| None::<String>;
    let err = AuthConfig::from_env(
        Some(AuthMethod::AzureCli),
        Some("http://login.example.com"),
        none,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Url(rampart::graph::urls::UrlPolicyError::InsecureNonLoopback { .. })
        ),
        "{err}"
    );
    let err = AuthConfig::from_env(Some(AuthMethod::GithubOidc), None, |k| {
        (k == env::AZURE_CLIENT_ID).then(|| "app".to_string())
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("ACTIONS_ID_TOKEN_REQUEST_URL"),
        "{err}"
    );
    let err = AuthConfig::from_env(None, None, |k| {
        (k == env::AZURE_CLIENT_CERTIFICATE_PATH).then(|| "/x.pem".to_string())
    })
    .unwrap_err();
    assert!(err.to_string().contains("AZURE_CLIENT_ID"), "{err}");
}

#[tokio::test]
async fn certificate_signs_an_assertion_per_tenant_endpoint() {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
    let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&kp).unwrap();
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        b64(b"test certificate bytes"),
        b64(pkcs8.as_ref())
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pem");
    std::fs::write(&path, &pem).unwrap();
    let mock = start_mock(Some("unused"), ok_graph).await;
    let vars: BTreeMap<&str, String> = [
        (env::AZURE_CLIENT_ID, "app-c".to_string()),
        (
            env::AZURE_CLIENT_CERTIFICATE_PATH,
            path.display().to_string(),
        ),
    ]
    .into();
    let cfg = AuthConfig::from_env(None, Some(&mock.base), |k| vars.get(k).cloned()).unwrap();
    assert_eq!(cfg.method, AuthMethod::Certificate);
    let auth = Authenticator::new(cfg, reqwest::Client::new()).unwrap();
    assert!(!format!("{auth:?}").contains(&b64(pkcs8.as_ref())[..40]));
    auth.tenant_auth("t1").unwrap().token().await.unwrap();
    let form = mock.log()[0].form();
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let jwt = &form["client_assertion"];
    let parts: Vec<&str> = jwt.split('.').collect();
    let dec = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    };
    let claims: Value = serde_json::from_slice(&dec(parts[1])).unwrap();
    assert_eq!(claims["aud"], format!("{}/t1/oauth2/v2.0/token", mock.base));
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (Some("app-c"), Some("app-c"))
    );
    use aws_lc_rs::signature::KeyPair as _;
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, kp.public_key().as_ref())
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &dec(parts[2]),
        )
        .expect("assertion signed with the certificate's key");

    // A file without a key is a clear, typed error that does not echo the file.
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cfg = AuthConfig::from_env(None, Some(&mock.base), |k| vars.get(k).cloned()).unwrap();
    let err = Authenticator::new(cfg, reqwest::Client::new()).unwrap_err();
    assert!(
        matches!(&err, AuthError::Certificate { reason, .. } if reason.contains("PRIVATE KEY")),
        "{err}"
    );
}

#[tokio::test]
async fn connect_builds_context_and_authenticator_from_flags_and_environment() {
    use rampart::graph::setup::{ConnectOptions, SetupError, connect};
    let mock = start_mock(Some(SECRET), ok_graph).await;
    let vars: BTreeMap<&str, String> = [
        (env::AZURE_CLIENT_ID, "app-123".to_string()),
        (env::AZURE_CLIENT_SECRET, SECRET.to_string()),
        ("RAMPART_GRAPH_URL", mock.base.clone()),
        (env::AZURE_AUTHORITY_HOST, mock.base.clone()),
    ]
    .into();
    let (ctx, auth) = connect(&ConnectOptions::default(), |k| vars.get(k).cloned()).unwrap();
    assert_eq!(auth.config().scope, "https://graph.microsoft.com/.default");
    let c = ctx.tenant_client(&auth, "t1").unwrap();
    assert_eq!(c.get("/v1.0/organization").await.unwrap()["id"], "org");
    // A flag wins over the environment, and the URL policy applies to both.
    let err = connect(
        &ConnectOptions {
            graph_url: Some("http://graph.example.com".into()),
            ..Default::default()
        },
        |k| vars.get(k).cloned(),
    )
    .unwrap_err();
    assert!(matches!(err, SetupError::Url(_)), "{err}");
    let err = connect(&ConnectOptions::default(), |k| {
        if k == env::AZURE_AUTHORITY_HOST {
            Some("http://login.example.com".into())
        } else {
            vars.get(k).cloned()
        }
    })
    .unwrap_err();
    assert!(matches!(err, SetupError::Url(_)), "{err}");
}
