//! GraphClient: paging, $batch, retries, errors, pacing, group resolution.

use super::*;
use rampart::graph::client::{BatchRequest, Method};
use rampart::graph::error::{GiveUp, GraphError};
use rampart::graph::pacing::WriteLimit;
use rampart::graph::retry::BudgetConfig;
use rampart::graph::urls::UrlPolicyError;
use std::time::Duration;

const T: &str = "11111111-1111-1111-1111-111111111111";

/// Tenant `T`'s (requests, round trips, retries, throttled answers) in `ctx`'s stats.
fn counts(ctx: &GraphContext) -> (u64, u64, u64, u64) {
    let s = ctx.stats().tenant(T);
    (s.requests, s.round_trips, s.retries, s.throttled)
}

#[tokio::test]
async fn get_all_follows_absolute_next_links() {
    let mock = start_mock(None, |s| {
        let base = s.header("host").map(|h| format!("http://{h}")).unwrap();
        match s.path.as_str() {
            "/beta/things" => Reply::ok(json!({"value": [{"id": "1"}, {"id": "2"}],
                "@odata.nextLink": format!("{base}/beta/things?$skiptoken=abc")})),
            // An empty page in the middle is legal (graph-api.md §4.1).
            "/beta/things?$skiptoken=abc" => Reply::ok(json!({"value": [],
                "@odata.nextLink": format!("{base}/beta/things?$skiptoken=def")})),
            "/beta/things?$skiptoken=def" => Reply::ok(json!({"value": [{"id": "3"}]})),
            _ => Reply::status(404),
        }
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    let items = c.get_all("/beta/things").await.unwrap();
    let ids: Vec<&str> = items.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    let stats = ctx.stats().tenant(T);
    assert_eq!(
        (stats.requests, stats.round_trips, stats.retries),
        (3, 3, 0)
    );
}

/// Issue 14 gap 12: every reader follows every nextLink at every level. An expanded
/// entity's `settings@odata.nextLink` and `assignments@odata.nextLink` (each over several
/// pages) are completed by `get`, by every item of `get_all`, and by `complete_navigation`.
#[tokio::test]
async fn navigation_next_links_are_followed_at_every_level() {
    let mock = start_mock(None, |s| {
        let base = s.header("host").map(|h| format!("http://{h}")).unwrap();
        let p = |id: &str| {
            json!({"id": id,
                "settings": [{"n": 1}],
                "settings@odata.nextLink": format!("{base}/beta/p/{id}/settings?$skiptoken=1"),
                "assignments": [{"a": 1}],
                "assignments@odata.nextLink": format!("{base}/beta/p/{id}/assignments?$skiptoken=1")})
        };
        let path = s.path.as_str();
        if let Some(rest) = path.strip_prefix("/beta/p/") {
            let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
            return match tail {
                "" => Reply::ok(p(id)),
                "settings?$skiptoken=1" => Reply::ok(json!({"value": [{"n": 2}],
                    "@odata.nextLink": format!("{base}/beta/p/{id}/settings?$skiptoken=2")})),
                "settings?$skiptoken=2" => Reply::ok(json!({"value": [{"n": 3}]})),
                "assignments?$skiptoken=1" => Reply::ok(json!({"value": [{"a": 2}]})),
                _ => Reply::status(404),
            };
        }
        match path {
            "/beta/list" => Reply::ok(json!({"value": [p("x")],
                "@odata.nextLink": format!("{base}/beta/list?$skiptoken=2")})),
            "/beta/list?$skiptoken=2" => Reply::ok(json!({"value": [p("y")]})),
            "/beta/foreign" => Reply::ok(json!({"id": "z", "settings": [],
                "settings@odata.nextLink": "https://evil.example.com/beta/p/z/settings"})),
            _ => Reply::status(404),
        }
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    let whole = |v: &Value| {
        assert_eq!(v["settings"], json!([{"n": 1}, {"n": 2}, {"n": 3}]), "{v}");
        assert_eq!(v["assignments"], json!([{"a": 1}, {"a": 2}]), "{v}");
        assert!(v.get("settings@odata.nextLink").is_none(), "{v}");
        assert!(v.get("assignments@odata.nextLink").is_none(), "{v}");
    };
    whole(&c.get("/beta/p/one").await.unwrap());
    let items = c.get_all("/beta/list").await.unwrap();
    assert_eq!(items.len(), 2);
    items.iter().for_each(whole);
    // A first page that arrived another way ($batch) is completed the same way.
    let mut v = json!({"id": "b", "settings": [{"n": 1}],
        "settings@odata.nextLink": format!("{}/beta/p/b/settings?$skiptoken=1", mock.base),
        "assignments": [{"a": 1}],
        "assignments@odata.nextLink": format!("{}/beta/p/b/assignments?$skiptoken=1", mock.base)});
    c.complete_navigation(&mut v).await.unwrap();
    whole(&v);
    // The token never follows a nested link to another host either.
    let err = c.get("/beta/foreign").await.unwrap_err();
    assert!(matches!(err, GraphError::ForeignLink { .. }), "{err}");
}

#[tokio::test]
async fn next_link_to_another_host_is_not_followed() {
    let mock = start_mock(None, |_| {
        Reply::ok(
            json!({"value": [1], "@odata.nextLink": "https://evil.example.com/beta/x?page=2"}),
        )
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let err = client_for(&ctx, T).get_all("/beta/x").await.unwrap_err();
    assert!(matches!(err, GraphError::ForeignLink { .. }), "{err}");
    assert_eq!(mock.graph_log().len(), 1);
}

#[tokio::test]
async fn every_request_carries_a_fresh_client_request_id_and_a_bearer_token() {
    let mock = start_mock(None, |s| {
        if s.nth == 0 && s.path == "/v1.0/retry" {
            Reply::status(429).with_header("retry-after", "1")
        } else {
            Reply::ok(json!({}))
        }
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    c.get("/v1.0/a").await.unwrap();
    c.get("/v1.0/b").await.unwrap();
    c.get("/v1.0/retry").await.unwrap();
    let log = mock.graph_log();
    let ids: Vec<String> = log
        .iter()
        .map(|s| s.header("client-request-id").unwrap().to_string())
        .collect();
    for id in &ids {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is not a GUID");
    }
    assert_ne!(ids[0], ids[1], "each request gets its own id");
    assert_ne!(ids[1], ids[2]);
    // A retry is the same logical request: same id, so Graph's logs tie the attempts.
    assert_eq!(ids[2], ids[3]);
    for s in &log {
        assert!(s.header("authorization").unwrap().starts_with("Bearer ey"));
    }
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured_exactly() {
    let mock = start_mock(None, |s| match s.nth {
        0 => Reply::status(429).with_header("retry-after", "7"),
        1 => Reply::status(503).with_header("retry-after", "2"),
        _ => Reply::ok(json!({"ok": true})),
    })
    .await;
    let (ctx, clock) = context(&mock.base, |_| {});
    let v = client_for(&ctx, T).get("/beta/x").await.unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(7), Duration::from_secs(2)]
    );
    assert_eq!(counts(&ctx), (1, 3, 2, 1));
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured_and_clamped() {
    let in_12s = httpdate::fmt_http_date(wall_origin() + Duration::from_secs(12));
    let in_2h = httpdate::fmt_http_date(wall_origin() + Duration::from_secs(7200));
    let mock = start_mock(None, move |s| match (s.path.as_str(), s.nth) {
        ("/beta/date", 0) => Reply::status(429).with_header("retry-after", &in_12s),
        ("/beta/far", 0) => Reply::status(429).with_header("retry-after", &in_2h),
        _ => Reply::ok(json!({})),
    })
    .await;
    let (ctx, clock) = context(&mock.base, |o| {
        o.retry.max_retry_after = Duration::from_secs(60)
    });
    let c = client_for(&ctx, T);
    c.get("/beta/date").await.unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(12)]);
    c.get("/beta/far").await.unwrap();
    assert_eq!(
        clock.sleeps()[1],
        Duration::from_secs(60),
        "clamped to max_retry_after"
    );
}

#[tokio::test]
async fn without_retry_after_backoff_is_exponential_and_capped() {
    let mock = start_mock(None, |s| {
        if s.nth < 5 {
            Reply::status(504)
        } else {
            Reply::ok(json!({}))
        }
    })
    .await;
    let (ctx, clock) = context(&mock.base, |o| {
        o.retry.base_delay = Duration::from_secs(1);
        o.retry.max_backoff = Duration::from_secs(5);
    });
    client_for(&ctx, T).get("/beta/x").await.unwrap();
    // FixedRandom(1.0): full jitter draws the whole ceiling.
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2, 4, 5, 5]);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let mock = start_mock(None, |_| Reply::status(503)).await;
    let (ctx, _) = context(&mock.base, |o| o.retry.max_attempts = 3);
    let err = client_for(&ctx, T).get("/beta/x").await.unwrap_err();
    match &err {
        GraphError::Status {
            status,
            give_up,
            ctx,
            ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(*give_up, GiveUp::Attempts);
            assert_eq!(ctx.attempts, 3);
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(mock.graph_log().len(), 3);
}

#[tokio::test]
async fn retry_budget_exhaustion_stops_retrying_across_tenants() {
    let mock = start_mock(None, |_| Reply::status(503)).await;
    let (ctx, _) = context(&mock.base, |o| {
        o.retry.max_attempts = 100;
        o.retry.budget = BudgetConfig {
            capacity: 15,
            retry_cost: 5,
            timeout_retry_cost: 10,
            success_refund: 1,
        };
    });
    let a = client_for(&ctx, "tenant-a");
    let b = client_for(&ctx, "tenant-b");
    let err = a.get("/beta/x").await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Status {
                give_up: GiveUp::Budget,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("retry budget exhausted"), "{err}");
    // 15 tokens pay for three retries: four attempts.
    assert_eq!(mock.graph_log().len(), 4);
    // The budget is per run: the next tenant gets no retries at all.
    let err = b.get("/beta/x").await.unwrap_err();
    assert!(matches!(
        err,
        GraphError::Status {
            give_up: GiveUp::Budget,
            ..
        }
    ));
    assert_eq!(mock.graph_log().len(), 5);
    assert_eq!(ctx.retry_budget_level(), 0);
}

#[tokio::test]
async fn post_and_patch_are_not_retried_on_503_but_are_on_429() {
    let mock = start_mock(None, |s| match (s.path.as_str(), s.nth) {
        ("/beta/unavailable", _) => Reply::status(503).with_header("retry-after", "1"),
        ("/beta/throttled", 0) => Reply::status(429).with_header("retry-after", "1"),
        _ => Reply {
            status: 201,
            headers: vec![],
            body: json!({"id": "new"}),
        },
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    let err = c
        .post("/beta/unavailable", &json!({"a": 1}))
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(err.status(), Some(503));
    let err = c
        .patch("/beta/unavailable", &json!({"a": 1}))
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(mock.graph_log().len(), 2, "one attempt each");
    // PUT is idempotent: retried.
    let (ctx2, _) = context(&mock.base, |o| o.retry.max_attempts = 2);
    let err = client_for(&ctx2, T)
        .put("/beta/unavailable", &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        GraphError::Status {
            status: 503,
            give_up: GiveUp::Attempts,
            ..
        }
    ));
    assert_eq!(mock.graph_log().len(), 4);
    // 429 means "not processed": safe to retry even a POST.
    let r = c.post("/beta/throttled", &json!({"a": 1})).await.unwrap();
    assert_eq!((r.status, r.body["id"].as_str()), (201, Some("new")));
    assert_eq!(mock.graph_log().len(), 6);
    // The body went out intact, with a content type.
    let last = mock.graph_log().pop().unwrap();
    assert_eq!(last.json(), json!({"a": 1}));
    assert_eq!(last.header("content-type"), Some("application/json"));
}

/// A raw TCP server that reads one request per connection and closes the connection
/// without answering: the "dropped connection" fault.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Read until the end of the headers (and a small body), then hang up.
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..p]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= p + 4 + len {
                            break;
                        }
                    }
                }
                c.fetch_add(1, Ordering::SeqCst);
                drop(sock);
            });
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn dropped_connection_retries_get_but_not_post() {
    let (base, count) = dropping_server().await;
    let (ctx, _) = context(&base, |o| o.retry.max_attempts = 3);
    let c = client_for(&ctx, T);
    let err = c
        .post("/beta/x", &json!({"displayName": "p"}))
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "POST sent once");
    let err = c.get("/beta/x").await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Transport {
                give_up: GiveUp::Attempts,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 4, "GET sent three times");
}

#[tokio::test]
async fn connection_refused_is_retried_even_for_post() {
    // Bind then drop to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ctx, clock) = context(&format!("http://127.0.0.1:{port}"), |o| {
        o.retry.max_attempts = 2
    });
    let err = client_for(&ctx, T)
        .post("/beta/x", &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Transport {
                give_up: GiveUp::Attempts,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        clock.sleeps().len(),
        1,
        "one retry: nothing was sent, so it was safe"
    );
}

#[tokio::test]
async fn errors_are_typed_and_name_tenant_request_and_ids() {
    let mock = start_mock(None, |_| Reply {
        status: 403,
        headers: vec![],
        body: json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges",
            "innererror": {"code": "missingRole", "request-id": "inner", "client-request-id": "x"}}}),
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let err = client_for(&ctx, T)
        .get("/beta/deviceManagement/configurationPolicies?$top=5")
        .await
        .unwrap_err();
    let sent_id = mock.graph_log()[0]
        .header("client-request-id")
        .unwrap()
        .to_string();
    match &err {
        GraphError::Status {
            ctx,
            status,
            code,
            inner_code,
            message,
            give_up,
        } => {
            assert_eq!(*status, 403);
            assert_eq!(code.as_deref(), Some("Authorization_RequestDenied"));
            assert_eq!(inner_code.as_deref(), Some("missingRole"));
            assert_eq!(message.as_deref(), Some("Insufficient privileges"));
            assert_eq!(*give_up, GiveUp::NotRetryable);
            assert_eq!(ctx.tenant, T);
            assert_eq!(ctx.method, "GET");
            assert_eq!(
                ctx.path,
                "/beta/deviceManagement/configurationPolicies?$top=5"
            );
            assert_eq!(
                ctx.request_id.as_deref(),
                Some("rid-0"),
                "from the response header"
            );
            assert_eq!(ctx.client_request_id, sent_id);
        }
        other => panic!("unexpected {other}"),
    }
    let text = err.to_string();
    for part in [
        T,
        "GET",
        "/beta/deviceManagement/configurationPolicies",
        "rid-0",
        &sent_id,
        "403",
        "Authorization_RequestDenied",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
    assert_eq!(mock.graph_log().len(), 1, "403 is not retried");
}

#[tokio::test]
async fn http_is_refused_for_non_loopback_hosts() {
    for bad in [
        "http://graph.microsoft.com",
        "http://10.1.2.3:8080",
        "http://127.0.0.1.nip.io",
    ] {
        let err = GraphOptions::with_graph_url(bad).unwrap_err();
        assert!(
            matches!(err, UrlPolicyError::InsecureNonLoopback { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("https"), "{err}");
    }
    for good in [
        "https://graph.microsoft.us",
        "http://127.0.0.1:1234",
        "http://[::1]:1",
        "http://localhost:9",
    ] {
        GraphOptions::with_graph_url(good).unwrap();
    }
}

#[tokio::test]
async fn batch_maps_answers_by_id_and_retries_throttled_sub_requests_alone() {
    // The server answers in reverse order, throttles ids 3 and 22 once (each with its own
    // Retry-After), and 404s id 5.
    let mock = start_mock(None, |s| {
        assert_eq!(s.path, "/beta/$batch");
        let reqs = s.json()["requests"].as_array().unwrap().clone();
        assert!(reqs.len() <= 20);
        let mut out: Vec<Value> = reqs
            .iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap();
                match id {
                    "5" => json!({"id": id, "status": 404, "headers": {"content-type": "application/json"},
                        "body": graph_error(404, "itemNotFound")}),
                    "3" | "22" if s.nth < 2 => json!({"id": id, "status": 429,
                        "headers": {"Retry-After": if id == "3" { "4" } else { "9" }}, "body": graph_error(429, "tooManyRequests")}),
                    _ => json!({"id": id, "status": 200, "body": {"echo": r["url"]}}),
                }
            })
            .collect();
        out.reverse();
        Reply::ok(json!({"responses": out}))
    })
    .await;
    let (ctx, clock) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    let reqs: Vec<BatchRequest> = (0..25)
        .map(|i| BatchRequest::get(i.to_string(), format!("/beta/things/{i}")))
        .collect();
    let answers = c.batch(reqs).await.unwrap();
    assert_eq!(answers.len(), 25);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.id, i.to_string(), "answers in request order");
        if i == 5 {
            assert_eq!(a.status, 404);
            let e = a.clone().into_result(T).unwrap_err();
            assert_eq!(e.code(), Some("itemNotFound"));
        } else {
            assert_eq!(a.status, 200, "id {i}");
            assert_eq!(
                a.body["echo"],
                format!("/things/{i}"),
                "version stripped from sub-urls"
            );
        }
    }
    assert_eq!(answers[3].attempts, 2);
    assert_eq!(answers[22].attempts, 2);
    assert_eq!(answers[4].attempts, 1);
    let log = mock.graph_log();
    // Two batches (20 + 5), then one retry batch holding only the two throttled ids.
    assert_eq!(log.len(), 3);
    let retry_ids: Vec<String> = log[2].json()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(retry_ids, ["3", "22"]);
    // One wait, long enough for both Retry-After values.
    assert_eq!(clock.sleeps(), [Duration::from_secs(9)]);
    assert_eq!(counts(&ctx), (25, 3, 2, 2));
}

#[tokio::test]
async fn batch_splits_versions_and_does_not_retry_ambiguous_writes() {
    let mock = start_mock(None, |s| {
        let reqs = s.json()["requests"].as_array().unwrap().clone();
        let out: Vec<Value> = reqs.iter().map(|r| {
            let id = r["id"].as_str().unwrap();
            if r["method"] == "POST" {
                assert_eq!(r["headers"]["Content-Type"], "application/json");
                json!({"id": id, "status": 503, "body": graph_error(503, "serviceNotAvailable")})
            } else {
                json!({"id": id, "status": 200, "body": {"v": s.path}})
            }
        }).collect();
        Reply::ok(json!({"responses": out}))
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    let answers = c
        .batch(vec![
            BatchRequest::get("a", "/v1.0/groups"),
            BatchRequest::new("b", Method::Post, "/beta/things", Some(json!({"x": 1}))),
            BatchRequest::get("c", "/beta/things"),
        ])
        .await
        .unwrap();
    assert_eq!(answers[0].body["v"], "/v1.0/$batch");
    assert_eq!(answers[2].body["v"], "/beta/$batch");
    assert_eq!(answers[1].status, 503);
    assert_eq!(answers[1].attempts, 1, "a POST is not retried on 503");
    assert!(
        answers[1]
            .clone()
            .into_result(T)
            .unwrap_err()
            .is_ambiguous()
    );
    let dup = c
        .batch(vec![
            BatchRequest::get("a", "/v1.0/x"),
            BatchRequest::get("a", "/v1.0/y"),
        ])
        .await;
    assert!(matches!(dup, Err(GraphError::InvalidRequest { .. })));
}

#[tokio::test]
async fn writes_are_paced_per_tenant() {
    let mock = start_mock(None, |_| Reply {
        status: 204,
        headers: vec![],
        body: Value::Null,
    })
    .await;
    let (ctx, clock) = context(&mock.base, |o| {
        o.write_limit = WriteLimit {
            limit: 2,
            window: Duration::from_secs(20),
        }
    });
    let a = client_for(&ctx, "a");
    let b = client_for(&ctx, "b");
    a.delete("/beta/x/1").await.unwrap();
    a.delete("/beta/x/2").await.unwrap();
    // Another tenant has its own window.
    b.delete("/beta/x/3").await.unwrap();
    assert!(clock.sleeps().is_empty());
    // Reads are not paced, nor is a $batch of reads (a POST on the wire).
    a.get("/beta/x").await.ok();
    a.batch(vec![BatchRequest::get("1", "/beta/y")]).await.ok();
    assert!(clock.sleeps().is_empty());
    assert_eq!(mock.graph_log().len(), 5);
    a.delete("/beta/x/4").await.unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(20)]);
}

#[tokio::test]
async fn group_names_resolve_once_per_tenant_with_escaped_filters() {
    let mock = start_mock(None, |s| {
        let reqs = s.json()["requests"].as_array().unwrap().clone();
        let out: Vec<Value> = reqs
            .iter()
            .map(|r| {
                let url = r["url"].as_str().unwrap();
                let decoded: String =
                    url::form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
                        .find(|(k, _)| k == "$filter")
                        .map(|(_, v)| v.into_owned())
                        .unwrap();
                let value = match decoded.as_str() {
                    "displayName eq 'All Devices'" => {
                        json!([{"id": "g-1", "displayName": "All Devices"}])
                    }
                    "displayName eq 'O''Brien & Co'" => {
                        json!([{"id": "g-2", "displayName": "O'Brien & Co"}])
                    }
                    "displayName eq 'Twins'" => json!([{"id": "g-b"}, {"id": "g-a"}]),
                    _ => json!([]),
                };
                json!({"id": r["id"], "status": 200, "body": {"value": value}})
            })
            .collect();
        Reply::ok(json!({"responses": out}))
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let c = client_for(&ctx, T);
    let names: Vec<String> = ["All Devices", "O'Brien & Co", "Twins", "Nobody"]
        .map(String::from)
        .to_vec();
    let r = c.resolve_groups(&names).await;
    assert_eq!(r["All Devices"], Ok("g-1".to_string()));
    assert_eq!(r["O'Brien & Co"], Ok("g-2".to_string()));
    assert!(
        matches!(&r["Twins"], Err(rampart::graph::client::GroupError::GroupAmbiguous { ids, .. }) if ids == &["g-a", "g-b"])
    );
    assert!(matches!(
        &r["Nobody"],
        Err(rampart::graph::client::GroupError::GroupNotFound { .. })
    ));
    assert_eq!(mock.graph_log().len(), 1, "four names, one $batch");
    // Second time: all from the cache.
    let again = c.resolve_groups(&names[..2]).await;
    assert_eq!(again.len(), 2);
    assert_eq!(mock.graph_log().len(), 1);
    // The sub-request URL is percent-encoded and the quote doubled.
    let sent = mock.graph_log()[0].json();
    let urls: Vec<&str> = sent["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.iter().any(|u| u.contains("O%27%27Brien%20%26%20Co")),
        "{urls:?}"
    );
    assert!(
        urls.iter().all(|u| u.starts_with("/groups?$filter=")),
        "{urls:?}"
    );
}
