use std::collections::BTreeMap;
use std::time::Duration;

use watchtower_container_client::{
    Container, ContainerState, Error as ClientError, ExecOutcome, MockContainerClient,
};

use super::*;

fn container(labels: &[(&str, &str)]) -> Container {
    Container {
        id: "0123456789abcdef".into(),
        name: "app".into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Container::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    container(pairs).labels
}

fn exec_returns(code: Option<i64>, output: &str) -> MockContainerClient {
    let output = output.to_owned();
    let mut client = MockContainerClient::new();
    client.expect_exec().times(1).returning(move |_, _, _| {
        Ok(ExecOutcome {
            exit_code: code,
            output: output.clone(),
        })
    });
    client
}

#[test]
fn update_hook_timeouts_follow_the_labels() {
    let pre = Hook::PreUpdate;
    assert_eq!(pre.timeout(&labels(&[])), Some(Duration::from_secs(60)));
    assert_eq!(
        pre.timeout(&labels(&[(PRE_UPDATE_TIMEOUT_LABEL, "0")])),
        None
    );
    assert_eq!(
        pre.timeout(&labels(&[(PRE_UPDATE_TIMEOUT_LABEL, "5")])),
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        pre.timeout(&labels(&[(PRE_UPDATE_TIMEOUT_LABEL, "soon")])),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        pre.timeout(&labels(&[(PRE_UPDATE_TIMEOUT_LABEL, "-3")])),
        Some(Duration::from_secs(60))
    );
    // Each update hook reads its own label.
    assert_eq!(
        Hook::PostUpdate.timeout(&labels(&[(PRE_UPDATE_TIMEOUT_LABEL, "0")])),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        Hook::PostUpdate.timeout(&labels(&[(POST_UPDATE_TIMEOUT_LABEL, "2")])),
        Some(Duration::from_secs(120))
    );
}

#[test]
fn check_hooks_always_get_one_minute() {
    let l = labels(&[
        (PRE_UPDATE_TIMEOUT_LABEL, "0"),
        (POST_UPDATE_TIMEOUT_LABEL, "0"),
    ]);
    assert_eq!(Hook::PreCheck.timeout(&l), Some(Duration::from_secs(60)));
    assert_eq!(Hook::PostCheck.timeout(&l), Some(Duration::from_secs(60)));
}

#[test]
fn empty_or_missing_commands_are_not_configured() {
    assert_eq!(Hook::PreUpdate.command(&labels(&[])), None);
    assert_eq!(
        Hook::PreUpdate.command(&labels(&[(PRE_UPDATE_LABEL, "  ")])),
        None
    );
    assert_eq!(
        Hook::PreUpdate.command(&labels(&[(PRE_UPDATE_LABEL, "echo hi")])),
        Some("echo hi")
    );
    assert_eq!(
        Hook::PostUpdate.command(&labels(&[(PRE_UPDATE_LABEL, "echo hi")])),
        None
    );
}

#[tokio::test]
async fn no_command_means_no_exec_and_proceed() {
    let client = MockContainerClient::new(); // any exec call would panic
    assert_eq!(
        pre_update(&client, &container(&[])).await,
        PreUpdateDecision::Proceed
    );
}

#[tokio::test]
async fn hooks_are_skipped_when_the_container_is_not_running() {
    let client = MockContainerClient::new();
    for state in [
        ContainerState::Exited,
        ContainerState::Restarting,
        ContainerState::Paused,
        ContainerState::Created,
    ] {
        let mut c = container(&[(PRE_UPDATE_LABEL, "exit 1"), (POST_UPDATE_LABEL, "exit 1")]);
        c.state = state;
        assert_eq!(pre_update(&client, &c).await, PreUpdateDecision::Proceed);
        assert_eq!(
            post_update(&client, &c).await.unwrap(),
            HookOutcome::NotRunning
        );
    }
}

#[tokio::test]
async fn the_command_runs_through_exec_with_its_timeout() {
    let mut client = MockContainerClient::new();
    client
        .expect_exec()
        .withf(|id, cmd, timeout| {
            id == "0123456789abcdef" && cmd == "touch /tmp/x" && timeout.is_none()
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(ExecOutcome {
                exit_code: Some(0),
                output: "done\n".into(),
            })
        });
    let c = container(&[
        (PRE_UPDATE_LABEL, "touch /tmp/x"),
        (PRE_UPDATE_TIMEOUT_LABEL, "0"),
    ]);
    assert_eq!(
        run_hook(&client, &c, Hook::PreUpdate).await.unwrap(),
        HookOutcome::Succeeded {
            output: "done".into()
        }
    );
}

#[tokio::test]
async fn exit_75_skips_the_update() {
    let client = exec_returns(Some(75), "database busy");
    let decision = pre_update(&client, &container(&[(PRE_UPDATE_LABEL, "check")])).await;
    let PreUpdateDecision::Skip { reason } = decision else {
        panic!("expected a skip, got {decision:?}");
    };
    assert!(reason.contains("75"), "{reason}");
}

#[tokio::test]
async fn a_failing_command_fails_the_update_with_its_output() {
    let client = exec_returns(Some(3), "backup volume full\n");
    let decision = pre_update(&client, &container(&[(PRE_UPDATE_LABEL, "backup")])).await;
    assert_eq!(
        decision,
        PreUpdateDecision::Fail {
            reason: "pre-update command exited with code 3: backup volume full".into()
        }
    );
}

#[tokio::test]
async fn a_timed_out_command_fails_the_update() {
    let client = exec_returns(None, "still dumping");
    let decision = pre_update(
        &client,
        &container(&[
            (PRE_UPDATE_LABEL, "sleep 999"),
            (PRE_UPDATE_TIMEOUT_LABEL, "2"),
        ]),
    )
    .await;
    assert_eq!(
        decision,
        PreUpdateDecision::Fail {
            reason: "pre-update command timed out after 2 minutes: still dumping".into()
        }
    );
}

#[tokio::test]
async fn an_exec_the_engine_refuses_fails_the_update() {
    let mut client = MockContainerClient::new();
    client.expect_exec().times(1).returning(|_, _, _| {
        Err(ClientError::Container {
            operation: "exec",
            container: "app".into(),
            message: "sh: not found".into(),
        })
    });
    let decision = pre_update(&client, &container(&[(PRE_UPDATE_LABEL, "x")])).await;
    let PreUpdateDecision::Fail { reason } = decision else {
        panic!("expected a failure, got {decision:?}");
    };
    assert!(
        reason.contains("pre-update hook in container app"),
        "{reason}"
    );
    assert!(reason.contains("sh: not found"), "{reason}");
}

#[tokio::test]
async fn post_update_failures_are_returned_not_fatal() {
    let client = exec_returns(Some(1), "oops");
    let outcome = post_update(&client, &container(&[(POST_UPDATE_LABEL, "notify")]))
        .await
        .unwrap();
    assert!(outcome.is_failure());
    assert_eq!(
        outcome.describe(Hook::PostUpdate),
        "post-update command exited with code 1: oops"
    );
}

#[tokio::test]
async fn check_hooks_run_in_every_running_container_and_survive_failures() {
    let mut client = MockContainerClient::new();
    client
        .expect_exec()
        .withf(|id, cmd, timeout| {
            (id == "a" || id == "c") && cmd == "probe" && *timeout == Some(DEFAULT_TIMEOUT)
        })
        .times(2)
        .returning(|id, _, _| {
            if id == "a" {
                Err(ClientError::Container {
                    operation: "exec",
                    container: "a".into(),
                    message: "gone".into(),
                })
            } else {
                Ok(ExecOutcome {
                    exit_code: Some(0),
                    output: String::new(),
                })
            }
        });
    let mut a = container(&[(PRE_CHECK_LABEL, "probe")]);
    a.id = "a".into();
    let mut b = container(&[(PRE_CHECK_LABEL, "probe")]);
    b.id = "b".into();
    b.state = ContainerState::Exited;
    let mut c = container(&[(PRE_CHECK_LABEL, "probe")]);
    c.id = "c".into();
    let mut d = container(&[(POST_CHECK_LABEL, "probe")]);
    d.id = "d".into();
    pre_check(&client, &[a, b, c, d]).await;
}

#[test]
fn long_output_is_shortened_in_reasons() {
    let outcome = HookOutcome::Failed {
        exit_code: 1,
        output: "é".repeat(3000),
    };
    let text = outcome.describe(Hook::PreUpdate);
    assert!(text.ends_with(" [...]"));
    assert!(text.len() < 2100);
}
