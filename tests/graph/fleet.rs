//! The fleet runner: bounded parallelism, one task per tenant, isolation, order.

use rampart::graph::fleet::{FleetError, run_per_tenant};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn n(v: usize) -> NonZeroUsize {
    NonZeroUsize::new(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_bound_is_reached_and_never_exceeded() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // Jobs meet in threes: if fewer than three could run at once, this would hang (the
    // timeout turns that into a failure); the peak counter proves no more than three did.
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let tenants: Vec<String> = (0..21).map(|i| format!("t{i:02}")).collect();
    let (r, p, b) = (running.clone(), peak.clone(), barrier.clone());
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        run_per_tenant(tenants.clone(), n(3), move |t| {
            let (r, p, b) = (r.clone(), p.clone(), b.clone());
            async move {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                b.wait().await;
                r.fetch_sub(1, Ordering::SeqCst);
                t.len()
            }
        }),
    )
    .await
    .expect("three jobs never ran together");
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    assert_eq!(out.len(), 21);
    let names: Vec<&str> = out.iter().map(|o| o.tenant.as_str()).collect();
    assert_eq!(
        names,
        tenants.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_two_tasks_on_one_tenant() {
    let active: Arc<Mutex<HashMap<String, usize>>> = Default::default();
    let violations = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let tenants: Vec<String> = ["a", "b", "a", "c", "a", "b"].map(String::from).to_vec();
    let (act, v, rn) = (active.clone(), violations.clone(), runs.clone());
    let out = run_per_tenant(tenants, n(6), move |t| {
        let (act, v, rn) = (act.clone(), v.clone(), rn.clone());
        async move {
            {
                let mut m = act.lock().unwrap();
                let e = m.entry(t.clone()).or_default();
                *e += 1;
                if *e > 1 {
                    v.fetch_add(1, Ordering::SeqCst);
                }
            }
            // Give another task on the same tenant every chance to start.
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            *act.lock().unwrap().get_mut(&t).unwrap() -= 1;
            rn.fetch_add(1, Ordering::SeqCst)
        }
    })
    .await;
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 6);
    assert_eq!(out.len(), 6);
}

#[tokio::test]
async fn one_tenant_failing_never_stops_the_others_and_order_is_input_order() {
    let tenants: Vec<String> = ["t3", "t1", "boom", "t2", "err"].map(String::from).to_vec();
    let out = run_per_tenant(tenants, n(2), |t| async move {
        // Finish in reverse-ish order to prove the output order does not depend on it.
        let spins = if t == "t3" { 200 } else { 1 };
        for _ in 0..spins {
            tokio::task::yield_now().await;
        }
        match t.as_str() {
            "boom" => panic!("job exploded"),
            "err" => Err(format!("{t} failed")),
            _ => Ok(t.to_uppercase()),
        }
    })
    .await;
    let got: Vec<(String, String)> = out
        .into_iter()
        .map(|o| {
            let r = match o.result {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => format!("error: {e}"),
                Err(FleetError::Panicked { message, .. }) => format!("panic: {message}"),
                Err(e) => format!("other: {e}"),
            };
            (o.tenant, r)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("t3".to_string(), "T3".to_string()),
            ("t1".into(), "T1".into()),
            ("boom".into(), "panic: job exploded".into()),
            ("t2".into(), "T2".into()),
            ("err".into(), "error: err failed".into()),
        ]
    );
}
