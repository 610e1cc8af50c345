//! Every fault mode, driven by the seed; assertions on counts and behaviour only.

use super::*;
use rampart_emulator::WriteLimit;

const GROUPS: &str = "/v1.0/groups";

/// An emulator whose only faults are `faults`, and a token for tenant A (the token endpoint
/// is never faulted, so the token always comes).
async fn with_faults(faults: FaultConfig) -> (Env, String) {
    let env = setup(EmulatorConfig { faults, ..quiet() }).await;
    let t = env.token(TENANT_A).await;
    (env, t)
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_seconds_or_date() {
    let (env, t) = with_faults(FaultConfig {
        rate_429: 1.0,
        retry_after_secs: 7,
        ..FaultConfig::none()
    })
    .await;
    let (s, h, b) = env.call(&t, "GET", GROUPS, None).await;
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "7");
    assert_eq!(b["error"]["code"], "TooManyRequests");
    env.emu.admin().set_faults(FaultConfig {
        rate_429: 1.0,
        retry_after_secs: 30,
        retry_after_date: true,
        ..FaultConfig::none()
    });
    let (s, h, _) = env.call(&t, "GET", GROUPS, None).await;
    assert_eq!(s, 429);
    let date = h["retry-after"].to_str().unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert_eq!(env.emu.admin().counters().faults.get("429"), Some(&2));
    env.emu.shutdown().await;
}

#[tokio::test]
async fn unavailable_answers_503() {
    let (env, t) = with_faults(FaultConfig {
        rate_503: 1.0,
        ..FaultConfig::none()
    })
    .await;
    let (s, h, b) = env.call(&t, "GET", GROUPS, None).await;
    assert_eq!(s, 503);
    assert!(h.contains_key("retry-after"));
    assert_eq!(b["error"]["code"], "serviceNotAvailable");
    env.emu.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_get_no_answer() {
    let (env, t) = with_faults(FaultConfig {
        rate_drop: 1.0,
        ..FaultConfig::none()
    })
    .await;
    let r = env.http.get(env.url(GROUPS)).bearer_auth(&t).send().await;
    assert!(
        r.is_err(),
        "expected a transport error, got {:?}",
        r.map(|r| r.status())
    );
    let recs = env.emu.admin().requests();
    let last = recs.last().unwrap();
    assert_eq!(last.fault.as_deref(), Some("drop"));
    assert_eq!(last.status, 0);
    env.emu.shutdown().await;
}

#[tokio::test]
async fn slow_responses_exceed_a_client_timeout() {
    let (env, t) = with_faults(FaultConfig {
        rate_slow: 1.0,
        slow_ms: 30_000,
        ..FaultConfig::none()
    })
    .await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let r = client.get(env.url(GROUPS)).bearer_auth(&t).send().await;
    assert!(r.unwrap_err().is_timeout());
    env.emu.admin().set_faults(FaultConfig {
        latency_ms: 5,
        jitter_ms: 5,
        ..FaultConfig::none()
    });
    assert_eq!(env.status(&t, "GET", GROUPS, None).await, 200);
    env.emu.shutdown().await;
}

/// Statuses of 40 sequential requests under a 50 % 429 rate.
/// An emulator throttling half the operations, chosen by `seed`, and a token for tenant A.
async fn half_throttled(seed: u64) -> (Env, String) {
    let env = setup(EmulatorConfig {
        seed,
        faults: FaultConfig {
            rate_429: 0.5,
            ..FaultConfig::none()
        },
        ..quiet()
    })
    .await;
    let t = env.token(TENANT_A).await;
    (env, t)
}

async fn statuses(seed: u64) -> Vec<u16> {
    let (env, t) = half_throttled(seed).await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(env.status(&t, "GET", GROUPS, None).await);
    }
    env.emu.shutdown().await;
    out
}

#[tokio::test]
async fn faults_are_reproducible_from_the_seed() {
    let a = statuses(42).await;
    let b = statuses(42).await;
    let c = statuses(43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let throttled = a.iter().filter(|s| **s == 429).count();
    assert!(throttled > 5 && throttled < 35, "{throttled} of 40");
    assert!(a.iter().all(|s| *s == 200 || *s == 429));
}

#[tokio::test]
async fn batch_sub_requests_are_throttled_individually() {
    let (env, t) = half_throttled(7).await;
    let reqs: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"}))
        .collect();
    // Only operations are throttled, never the envelope itself.
    let (s, _, b) = env
        .call(&t, "POST", "/beta/$batch", Some(json!({"requests": reqs})))
        .await;
    assert_eq!(s, 200);
    let r = b["responses"].as_array().unwrap();
    let throttled: Vec<&Value> = r.iter().filter(|x| x["status"] == 429).collect();
    assert!(
        !throttled.is_empty() && throttled.len() < 20,
        "{}",
        throttled.len()
    );
    for x in throttled {
        assert!(
            x["headers"]["Retry-After"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .is_ok()
        );
        assert_eq!(x["body"]["error"]["code"], "TooManyRequests");
    }
    env.emu.shutdown().await;
}

#[tokio::test]
async fn intune_write_limit_per_app_and_per_tenant() {
    let limit = WriteLimit {
        per_app: 3,
        per_tenant: 4,
        window_secs: 600,
    };
    let env = setup(EmulatorConfig {
        faults: FaultConfig {
            write_limit: Some(limit),
            ..FaultConfig::none()
        },
        ..quiet()
    })
    .await;
    // A second app with write rights in tenant A.
    let second = "33333333-3333-4333-8333-333333333333";
    env.emu
        .admin()
        .add_app(&AppSeed {
            app_id: second.into(),
            secrets: vec!["s2".into()],
            ..Default::default()
        })
        .unwrap();
    env.emu
        .admin()
        .consent(
            TENANT_A,
            second,
            &["DeviceManagementConfiguration.ReadWrite.All"],
        )
        .unwrap();
    let t1 = env.token(TENANT_A).await;
    let t2 = env.token_for(TENANT_A, second, "s2").await;
    let tb = env.token(TENANT_B).await;
    let post = "/beta/deviceManagement/configurationPolicies";
    let mut s1 = Vec::new();
    for i in 0..4 {
        s1.push(
            env.status(&t1, "POST", post, Some(av_policy(&format!("a{i}"))))
                .await,
        );
    }
    assert_eq!(s1, vec![201, 201, 201, 429]);
    let (s, h, b) = env.call(&t1, "POST", post, Some(av_policy("again"))).await;
    assert_eq!(s, 429, "{b}");
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&wait));
    // Reads are not limited.
    assert_eq!(env.status(&t1, "GET", post, None).await, 200);
    // The second app has its own budget, but the tenant total (4) is reached after one write.
    assert_eq!(
        env.status(&t2, "POST", post, Some(av_policy("b0"))).await,
        201
    );
    assert_eq!(
        env.status(&t2, "POST", post, Some(av_policy("b1"))).await,
        429
    );
    // Other tenants are not affected; detection rules are not Intune.
    assert_eq!(
        env.status(&tb, "POST", post, Some(av_policy("c0"))).await,
        201
    );
    assert_eq!(
        env.status(
            &t1,
            "POST",
            "/beta/security/rules/detectionRules",
            Some(rule("not-intune"))
        )
        .await,
        201
    );
    assert_eq!(env.emu.admin().policies(TENANT_A).len(), 4);
    assert_eq!(
        env.emu.admin().counters().faults.get("writeLimit"),
        Some(&3)
    );
    env.emu.shutdown().await;
}

#[tokio::test]
async fn out_of_band_edits_bump_last_modified() {
    let (env, t) = started().await;
    let post = "/beta/deviceManagement/configurationPolicies";
    let (_, _, p) = env.call(&t, "POST", post, Some(av_policy("drifty"))).await;
    let id = p["id"].as_str().unwrap();
    env.emu
        .admin()
        .oob_edit_policy(
            TENANT_A,
            id,
            &json!({"description": "changed in the portal"}),
        )
        .unwrap();
    let got = env.get(&t, &format!("{post}/{id}")).await;
    assert_eq!(got["description"], "changed in the portal");
    assert!(
        got["lastModifiedDateTime"].as_str().unwrap() > p["lastModifiedDateTime"].as_str().unwrap()
    );
    // Over HTTP, through the admin endpoint.
    let edit = format!("tenants/{TENANT_A}/configurationPolicies/{id}/edit");
    let body = json!({"name": "renamed in portal"});
    assert_eq!(env.admin("POST", &edit, Some(body)).await.0, 204);
    let got2 = env.get(&t, &format!("{post}/{id}")).await;
    assert_eq!(got2["name"], "renamed in portal");
    // Random out-of-band edits from the fault layer.
    env.emu.admin().set_faults(FaultConfig {
        rate_oob_edit: 1.0,
        ..FaultConfig::none()
    });
    let got3 = env.get(&t, &format!("{post}/{id}")).await;
    assert!(
        got3["description"]
            .as_str()
            .unwrap()
            .ends_with("Edited in the Intune portal.")
    );
    assert!(
        got3["lastModifiedDateTime"].as_str().unwrap()
            > got2["lastModifiedDateTime"].as_str().unwrap()
    );
    assert_eq!(env.emu.admin().counters().oob_edits, 3);
    env.emu.shutdown().await;
}
