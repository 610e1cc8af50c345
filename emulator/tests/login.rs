//! Token endpoint, bearer validation, permissions and tenancy isolation.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_emulator::token::make_assertion;

fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

const SCOPE: (&str, &str) = ("scope", "https://graph.microsoft.com/.default");
const GRANT: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn client_secret_token_has_graph_claims() {
    let env = setup(quiet()).await;
    let (status, body) = env
        .token_request(
            TENANT_A,
            &[("client_id", APP), ("client_secret", SECRET), GRANT, SCOPE],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);
    assert!(body["ext_expires_in"].is_i64());
    let tok = body["access_token"].as_str().unwrap();
    assert_eq!(tok.split('.').count(), 3);
    let c = claims(tok);
    assert_eq!(c["tid"], TENANT_A);
    assert_eq!(c["appid"], APP);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert!(
        c["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "DeviceManagementConfiguration.ReadWrite.All")
    );
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    assert!(c["nbf"].is_i64());
    // The initial domain is accepted in place of the tenant id.
    let (status, body) = env
        .token_request(
            "contoso.onmicrosoft.com",
            &[("client_id", APP), ("client_secret", SECRET), GRANT, SCOPE],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["tid"],
        TENANT_A
    );
    // client_secret_basic.
    let r = env
        .http
        .post(env.emu.token_url(TENANT_B))
        .basic_auth(APP, Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[GRANT, SCOPE]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    env.emu.shutdown().await;
}

fn assert_aad(body: &Value, code: u64, error: &str) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}:")),
        "{body}"
    );
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[k].is_string(), "{k} missing in {body}");
    }
}

/// An expected refusal: HTTP status, AADSTS code, OAuth error.
type Refusal<'a> = (u16, u64, &'a str);

/// Asks `tenant` for a token with `pairs` and checks the refusal: the HTTP status, the
/// AADSTS code and the OAuth error. Returns the body for further checks.
async fn refused(
    env: &Env,
    tenant: &str,
    pairs: &[(&str, &str)],
    (status, code, error): Refusal<'_>,
) -> Value {
    let (s, b) = env.token_request(tenant, pairs).await;
    assert_eq!(s, status, "{b}");
    assert_aad(&b, code, error);
    b
}

#[tokio::test]
async fn login_errors_are_aad_shaped() {
    let env = setup(quiet()).await;
    let id = ("client_id", APP);
    let secret = ("client_secret", SECRET);
    let unknown_tenant = "00000000-0000-4000-8000-000000000000";
    let ok = [id, secret, GRANT, SCOPE];
    refused(&env, unknown_tenant, &ok, (400, 90002, "invalid_request")).await;

    let wrong = [id, ("client_secret", "wrong"), GRANT, SCOPE];
    let b = refused(&env, TENANT_A, &wrong, (401, 7000215, "invalid_client")).await;
    assert!(
        !b.to_string().contains("wrong"),
        "the sent secret must not be echoed"
    );

    // The reader app has no service principal in tenant B.
    let reader = [
        ("client_id", READER_APP),
        ("client_secret", "reader-secret"),
        GRANT,
        SCOPE,
    ];
    refused(
        &env,
        TENANT_B,
        &reader,
        (400, 700016, "unauthorized_client"),
    )
    .await;

    // In its home tenant an app without consent gets AADSTS7000229.
    env.emu.admin().revoke(TENANT_A, APP).unwrap();
    refused(&env, TENANT_A, &ok, (400, 7000229, "invalid_client")).await;

    let cases: [(&[(&str, &str)], Refusal<'_>); 4] = [
        (
            &[id, secret, GRANT, ("scope", "User.Read")],
            (400, 1002012, "invalid_scope"),
        ),
        (
            &[
                id,
                secret,
                GRANT,
                ("scope", "https://management.azure.com/.default"),
            ],
            (400, 500011, "invalid_resource"),
        ),
        (
            &[id, secret, ("grant_type", "password"), SCOPE],
            (400, 70003, "unsupported_grant_type"),
        ),
        (&[id, GRANT, SCOPE], (401, 7000218, "invalid_client")),
    ];
    for (pairs, expected) in cases {
        refused(&env, TENANT_B, pairs, expected).await;
    }
    env.emu.shutdown().await;
}

#[tokio::test]
async fn federated_assertion_matches_issuer_subject_audience() {
    let env = setup(quiet()).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let main = "repo:mssp/baseline:ref:refs/heads/main";
    let exchange = "api://AzureADTokenExchange";
    let assertion = |sub: &str, aud: &str, exp: i64| {
        make_assertion("https://token.actions.githubusercontent.com", sub, aud, exp)
    };
    let pairs = |assertion: &str| -> Vec<(&'static str, String)> {
        vec![
            ("client_id", APP.to_string()),
            ("client_assertion", assertion.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            (GRANT.0, GRANT.1.to_string()),
            (SCOPE.0, SCOPE.1.to_string()),
        ]
    };
    fn borrowed<'a>(p: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        p.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
    let good = pairs(&assertion(main, exchange, now + 300));
    let (s, b) = env.token_request(TENANT_B, &borrowed(&good)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["tid"], TENANT_B);

    let cases = [
        // Wrong subject, wrong audience, expired, not a JWT.
        (
            assertion("repo:mssp/baseline:pull_request", exchange, now + 300),
            (400, 70021, "invalid_client"),
        ),
        (
            assertion(main, "api://other", now + 300),
            (400, 70021, "invalid_client"),
        ),
        (
            assertion(main, exchange, now - 10),
            (400, 700024, "invalid_client"),
        ),
        ("not-a-jwt".to_string(), (400, 50027, "invalid_request")),
    ];
    for (jwt, expected) in cases {
        refused(&env, TENANT_B, &borrowed(&pairs(&jwt)), expected).await;
    }
    env.emu.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_get_401_with_www_authenticate() {
    let env = setup(EmulatorConfig {
        token_lifetime_secs: 0,
        ..quiet()
    })
    .await;
    let path = "/beta/deviceManagement/configurationPolicies";
    let expired = env.token(TENANT_A).await;
    // Forged: a token from another emulator process (other signing key).
    let other = setup(quiet()).await;
    let forged = other.emu.admin().issue_token(TENANT_A, APP).unwrap();
    // Tampered: tenant swapped in the payload, signature kept.
    let valid_elsewhere = other.emu.admin().issue_token(TENANT_B, APP).unwrap();
    let mut parts: Vec<String> = valid_elsewhere.split('.').map(str::to_string).collect();
    let mut c = claims(&valid_elsewhere);
    c["tid"] = json!(TENANT_A);
    parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
    let tampered = parts.join(".");
    for (tok, what) in [
        ("", "missing"),
        ("garbage", "malformed"),
        (&expired[..], "expired"),
        (&forged[..], "forged"),
        (&tampered[..], "tampered"),
    ] {
        let mut rb = env.http.get(env.url(path));
        if !tok.is_empty() {
            rb = rb.bearer_auth(tok);
        }
        let r = rb
            .header("client-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{what}");
        assert!(
            r.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{what}"
        );
        assert_eq!(r.headers().get("client-request-id").unwrap(), "abc-123");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "InvalidAuthenticationToken", "{what}");
        assert_eq!(b["error"]["innerError"]["client-request-id"], "abc-123");
        assert!(b["error"]["innerError"]["request-id"].is_string());
    }
    other.emu.shutdown().await;
    env.emu.shutdown().await;
}

#[tokio::test]
async fn missing_application_role_gets_403() {
    let env = setup(quiet()).await;
    let reader = env.token_for(TENANT_A, READER_APP, "reader-secret").await;
    env.get(&reader, "/beta/deviceManagement/configurationPolicies")
        .await;
    let (s, _, b) = env
        .call(
            &reader,
            "POST",
            "/beta/deviceManagement/configurationPolicies",
            Some(av_policy("x")),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "accessDenied");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DeviceManagementConfiguration.ReadWrite.All")
    );
    let (s, _, b) = env
        .call(&reader, "GET", "/beta/security/rules/detectionRules", None)
        .await;
    assert_eq!(s, 403, "{b}");
    let (s, _, b) = env
        .call(
            &reader,
            "GET",
            "/v1.0/roleManagement/directory/roleAssignments",
            None,
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "Authorization_RequestDenied");
    let (s, _, _) = env.call(&reader, "GET", "/v1.0/organization", None).await;
    assert_eq!(s, 403);
    env.get(&reader, "/v1.0/groups").await;
    env.emu.shutdown().await;
}

#[tokio::test]
async fn a_token_for_tenant_a_never_reads_or_changes_tenant_b() {
    let env = setup(quiet()).await;
    let a = env.token(TENANT_A).await;
    let b = env.token(TENANT_B).await;
    let (s, _, created) = env
        .call(
            &b,
            "POST",
            "/beta/deviceManagement/configurationPolicies",
            Some(av_policy("b-only")),
        )
        .await;
    assert_eq!(s, 201);
    let bid = created["id"].as_str().unwrap().to_string();
    let (s, _, _) = env
        .call(
            &b,
            "POST",
            "/beta/security/rules/detectionRules",
            Some(rule("b-rule")),
        )
        .await;
    assert_eq!(s, 201);

    let p = format!("/beta/deviceManagement/configurationPolicies/{bid}");
    let list = env
        .get(&a, "/beta/deviceManagement/configurationPolicies")
        .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 0);
    assert_eq!(env.status(&a, "GET", &p, None).await, 404);
    assert_eq!(
        env.status(&a, "PATCH", &p, Some(json!({"name": "hijack"})))
            .await,
        404
    );
    assert_eq!(
        env.status(&a, "PUT", &p, Some(av_policy("hijack"))).await,
        404
    );
    assert_eq!(
        env.status(
            &a,
            "POST",
            &format!("{p}/assign"),
            Some(json!({"assignments": []}))
        )
        .await,
        404
    );
    assert_eq!(env.status(&a, "DELETE", &p, None).await, 404);
    assert_eq!(
        env.status(
            &a,
            "GET",
            "/beta/security/rules/detectionRules/b-rule",
            None
        )
        .await,
        404
    );
    assert_eq!(
        env.status(
            &a,
            "DELETE",
            "/beta/security/rules/detectionRules/b-rule",
            None
        )
        .await,
        404
    );
    // Same client-chosen id in A does not collide with B.
    assert_eq!(
        env.status(
            &a,
            "POST",
            "/beta/security/rules/detectionRules",
            Some(rule("b-rule"))
        )
        .await,
        201
    );
    // Batch does not cross tenants either.
    let (s, _, bb) = env
        .call(&a, "POST", "/beta/$batch", Some(json!({"requests": [{"id": "1", "method": "DELETE", "url": p.trim_start_matches("/beta")}]})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(bb["responses"][0]["status"], 404);

    let still = env.get(&b, &p).await;
    assert_eq!(still["name"], "b-only");
    assert_eq!(env.emu.admin().detection_rules(TENANT_B).len(), 1);
    env.emu.shutdown().await;
}
