//! Issue 9: a plan applies only where it was made. The saved plan records its endpoint;
//! `apply` compares before it asks for a token, so the other endpoint sees nothing at all.

use super::*;

#[test]
fn a_plan_from_emulator_a_is_refused_with_emulator_b_configured_and_b_sees_nothing() {
    let (repo, a) = served();
    let b = Emulator::start(repo.path());
    run_ok(repo.path(), &["plan", "--out", "plan.json"], &a.env());
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.path().join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["endpoint"]["graphUrl"], a.base.as_str());
    assert_eq!(saved["endpoint"]["authority"], a.base.as_str());
    assert_eq!(saved["endpoint"]["cloud"], "public");

    // B for Graph only, then B for both: refused each time, naming both endpoints.
    let mut graph_b = a.env();
    graph_b.retain(|(k, _)| k != "RAMPART_GRAPH_URL");
    graph_b.push(("RAMPART_GRAPH_URL".into(), b.base.clone()));
    for env in [graph_b, b.env()] {
        let o = run(repo.path(), &["apply", "plan.json"], &env);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = stderr(&o);
        assert!(err.contains(&a.base) && err.contains(&b.base), "{err}");
        assert!(
            err.contains("a plan only applies where it was made"),
            "{err}"
        );
    }
    assert_eq!(b.requests().len(), 0, "B saw requests: {:?}", b.requests());
    // Where it was made, it applies.
    run_ok(repo.path(), &["apply", "plan.json"], &a.env());
}

#[test]
fn a_plan_made_with_the_in_process_emulator_explains_how_to_plan_against_a_served_one() {
    let repo = repo();
    run_ok(
        repo.path(),
        &["plan", "--emulator", "--out", "demo.json"],
        &[],
    );
    let b = Emulator::start(repo.path());
    let o = run(repo.path(), &["apply", "demo.json"], &b.env());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("plan --emulator"), "{err}");
    assert!(err.contains("rampart emulator"), "{err}");
    assert!(err.contains("RAMPART_GRAPH_URL"), "{err}");
    assert_eq!(b.requests().len(), 0);
}

#[test]
fn a_plan_without_a_recorded_endpoint_is_refused() {
    let (repo, a) = served();
    run_ok(repo.path(), &["plan", "--out", "plan.json"], &a.env());
    let path = repo.path().join("plan.json");
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    saved.as_object_mut().unwrap().remove("endpoint");
    std::fs::write(&path, serde_json::to_vec_pretty(&saved).unwrap()).unwrap();
    let before = a.requests().len();
    let o = run(repo.path(), &["apply", "plan.json"], &a.env());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("does not record the endpoint"),
        "{}",
        text(&o)
    );
    assert_eq!(a.requests().len(), before);
}
