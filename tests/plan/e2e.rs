//! End to end through the library against the in-process emulator: the shipped
//! repository, seeded by the `--emulator` demo (tenants in step, drifted, new, unmanaged).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use rampart::cli::plan::{GraphArgs, PlanArgs, PlanFormat, exit_code, make_plan, select_tenants};
use rampart::fetch::demo::{self, DemoState};
use rampart::fetch::plan_fleet;
use rampart::plan::{Action, CreatedFrom, TenantStatus, save};

fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if here.join("profiles").is_dir() {
        here
    } else {
        PathBuf::from("/work/main")
    }
}

fn args(parallelism: usize) -> PlanArgs {
    PlanArgs {
        root: repo_root(),
        profiles: vec![],
        tenants: vec![],
        targets: vec![],
        kinds: vec![],
        parallelism,
        format: PlanFormat::Human,
        out: None,
        detailed_exitcode: true,
        emulator: true,
        graph: GraphArgs::default(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn emulator_demo_plans_each_tenant_state() {
    let plan = runtime().block_on(make_plan(&args(4))).expect("plan");
    assert!(
        plan.tenants.len() >= 4,
        "the shipped profiles name at least four tenants"
    );
    assert!(
        !plan.errored,
        "{}",
        rampart::render::render_human(&plan, Default::default())
    );
    for (i, t) in plan.tenants.iter().enumerate() {
        assert_eq!(t.status, TenantStatus::Ok, "{}", t.tenant);
        let actions: Vec<Action> = t.objects.iter().map(|o| o.action).collect();
        match demo::state_of(i) {
            DemoState::InStep => assert!(
                actions.iter().all(|a| *a == Action::NoOp),
                "{}: {:#?}",
                t.tenant,
                t.objects
            ),
            DemoState::Drifted => {
                assert!(
                    actions.contains(&Action::Update),
                    "{}: {actions:?}",
                    t.tenant
                );
                assert!(
                    !actions.contains(&Action::Create),
                    "{}: {actions:?}",
                    t.tenant
                );
            }
            DemoState::New => assert!(
                actions.iter().all(|a| *a == Action::Create),
                "{}: {actions:?}",
                t.tenant
            ),
            DemoState::Unmanaged => {
                assert!(
                    actions.contains(&Action::Adopt),
                    "{}: {actions:?}",
                    t.tenant
                )
            }
        }
    }
    assert_eq!(exit_code(&plan, true), 2);
    assert_eq!(exit_code(&plan, false), 0);
}

/// Same emulator, tenants answering in different orders (one at a time vs eight at once):
/// the plan's bytes are the same.
#[test]
fn plan_bytes_do_not_depend_on_answer_order() {
    let rt = runtime();
    rt.block_on(async {
        let a = args(1);
        let (all, selected) = select_tenants(&a).expect("repository");
        let demo = demo::start(&all, &a.root.join("profiles"))
            .await
            .expect("demo");
        let mut bytes = Vec::new();
        for (p, reverse) in [(1, false), (8, true), (3, false)] {
            let ctx = demo.context().expect("ctx");
            let mut tenants: Vec<_> = selected
                .iter()
                .map(|d| (d.clone(), demo.auth(&d.tenant.id).expect("auth")))
                .collect();
            if reverse {
                tenants.reverse();
            }
            let plan = plan_fleet(
                &ctx,
                tenants,
                NonZeroUsize::new(p).expect("nonzero"),
                CreatedFrom::default(),
                None,
            )
            .await;
            bytes.push(save(&plan));
        }
        demo.emulator.shutdown().await;
        assert!(bytes[0] == bytes[1], "parallelism 1 and 8 differ");
        assert!(bytes[0] == bytes[2], "parallelism 1 and 3 differ");
    });
}
