//! The state directory is one emulator's: a second emulator on it is refused with a clear
//! message (and allowed once the first is gone), and rotating an app's secrets on a
//! restarted state replaces them (the old secret stops working).

use super::*;
use rampart_emulator::Emulator;

fn on(dir: &std::path::Path) -> EmulatorConfig {
    EmulatorConfig {
        state_dir: Some(dir.to_path_buf()),
        ..quiet()
    }
}

#[test]
fn a_second_emulator_on_one_state_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Emulator::new(&on(dir.path())).expect("first");
    // Twice over, and through a differently spelt path to the same directory.
    for path in [dir.path().to_path_buf(), dir.path().join(".")] {
        let e = Emulator::new(&on(&path)).expect_err("second must be refused");
        assert!(
            matches!(e, rampart_emulator::EmulatorError::StateDirInUse { .. }),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains("in use by another emulator"), "{text}");
    }
    // Another directory is free.
    let other = tempfile::tempdir().unwrap();
    let _other = Emulator::new(&on(other.path())).expect("other dir");
    drop(first);
    let _again = Emulator::new(&on(dir.path())).expect("free once the first is gone");
}

#[tokio::test]
async fn a_running_server_holds_the_lock_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let env = setup(on(dir.path())).await;
    assert!(Emulator::new(&on(dir.path())).is_err());
    env.emu.shutdown().await;
    drop(env.http);
    let _again = Emulator::new(&on(dir.path())).expect("free after shutdown");
}

#[tokio::test]
async fn replacing_an_apps_secrets_on_restart_rotates_them() {
    let dir = tempfile::tempdir().unwrap();
    let env = setup(on(dir.path())).await;
    env.emu.shutdown().await;
    for (old, new) in [(SECRET, "rotated-1"), ("rotated-1", "rotated-2")] {
        let emu = start(on(dir.path())).await.expect("restart");
        emu.admin()
            .set_app_secrets(APP, &[new.to_string()])
            .expect("rotate");
        let env = Env {
            emu,
            http: reqwest::Client::new(),
        };
        let status = |secret: &'static str| {
            let env = &env;
            async move {
                env.token_request(
                    TENANT_A,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", APP),
                        ("client_secret", secret),
                        ("scope", "https://graph.microsoft.com/.default"),
                    ],
                )
                .await
                .0
            }
        };
        assert_eq!(status(new).await, 200, "{new}");
        assert_ne!(status(old).await, 200, "old secret {old} still accepted");
        // The app keeps its consents and federated credentials.
        let app = env.emu.admin().app(APP).expect("app");
        assert_eq!(app.federated_credentials.len(), 1);
        env.emu.shutdown().await;
    }
}
