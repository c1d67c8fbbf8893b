//! The fault matrix (issue 12): each row injects one fault into a real update — through the
//! testkit's [`FaultProxy`] between the real binary and the real engine
//! (`DOCKER_HOST=unix://<proxy>`), or in front of the real registry, or in the images
//! themselves — and then checks that nothing was lost: every container of the row back as
//! it was (same name, running state, config; the same or a newer image), nothing left under
//! an aside (`-wt-old-`) or volume-holder name, a bystander container untouched, and the
//! report naming the step that failed. Rows that kill watchtower run it a second time,
//! without faults, and check that this session settles everything.
//!
//! The rows run concurrently (at most [`PARALLEL`] at once) against one registry and one
//! build of each fixture image. The run's table — fault, step, outcome, and what
//! containrrr/watchtower does — is the generated part of `docs/safety.md`: the test fails
//! when the page differs, and rewrites it under `WATCHTOWER_BLESS=1`.
//!
//! Rows that need flags the binary does not have yet (`--health-gate`, `--update-order`)
//! are skipped with a loud line and listed as such in the table. A row with `known_bug` is
//! a product defect found by the matrix: its failure is printed loudly but does not fail
//! the test, until the fix lands and the marker is removed.
//!
//! Test containers run with `network_mode: none`, on internal networks, or (the host-port
//! row only) on the default bridge with a port published on 127.0.0.1; none sends traffic.
//! Skips loudly without an engine; fails under `WATCHTOWER_E2E=required`.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use bollard::models::{
    ContainerInspectResponse, EndpointSettings, HostConfig, NetworkConnectRequest, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{ListContainersOptionsBuilder, TagImageOptionsBuilder};
use tokio::io::{AsyncBufReadExt, BufReader};
use watchtower_e2e::safety_doc::{self, TableRow};
use watchtower_testkit::faults::{Action, FaultProxy, Hook, Rule, unused_local_port};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, RUN_LABEL, Registry, RegistryMode,
    VERSION_LABEL,
};

/// How many rows run at once (two cores, shared).
const PARALLEL: usize = 4;
/// How long one watchtower run may take.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// The label every row's container carries (its row number), so a row finds its own.
const ROW_LABEL: &str = "watchtower.faults.row";
/// The label the health gate puts on a new container (the id it replaces), so that a killed
/// session's successor knows the gate was not passed; not user config.
const REPLACES_LABEL: &str = "com.centurylinklabs.watchtower.replaces";
/// One line per container of the session report, on stdout (`logger://`).
const REPORT_TEMPLATE: &str = "{{if .Report}}{{range .Report.All}}FAULT-REPORT {{.Name}} \
    {{.State}} {{with .FailedStep}}{{.}}{{else}}-{{end}} {{.Restored}}\n{{end}}{{end}}";

/// Which containers and image a row starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scene {
    /// One container of the ordinary image (v2 is as good as v1), with an env var, a label,
    /// an anonymous volume, `unless-stopped`, `network_mode: none`.
    App,
    /// As `App`, on two internal networks (the second is connected after create).
    Nets,
    /// As `App`, on the default bridge with a port published on 127.0.0.1.
    Port,
    /// v2's entrypoint does not exist.
    NoEntry,
    /// v2 exits at once (code 3).
    Exits,
    /// v2 exits at once, under `restart: always`.
    CrashLoop,
    /// v2's healthcheck fails.
    Unhealthy,
    /// v2 becomes healthy only after 40 s.
    Late,
    /// The image comes from a registry front with this fault.
    Registry(RegistryFault),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegistryFault {
    /// Nothing listens on the registry's port.
    Down,
    /// Every request is answered 500.
    Status500,
    /// watchtower's manifest requests are answered after 35 s (its limit is 30 s); the
    /// engine's pull is not slowed.
    Slow,
    /// Every request is answered with bytes that are not HTTP.
    Garbage,
}

/// What a row must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Reported `Failed` at `step` with `restored`; the old container itself is back (same
    /// id, image, config, running state); `stopped`: it was stopped and started again
    /// meanwhile (otherwise it ran throughout).
    Back {
        step: &'static str,
        restored: bool,
        stopped: bool,
    },
    /// Reported `Updated`: a new container under the name runs v2 with the same config.
    Updated,
    /// Reported `Updated`, and the new container (v2) does not run: without a health gate
    /// nothing judges the new version (as in the original).
    UpdatedDown,
    /// The first run was killed; a second run without faults leaves the container running
    /// v2 under its name with the same config.
    Settled,
}

impl Expect {
    fn describe(self) -> String {
        match self {
            Expect::Back {
                step,
                restored,
                stopped,
            } => {
                let back = if stopped {
                    "the old container is back under its name and running"
                } else {
                    "the old container ran throughout under its name"
                };
                format!("failed `{step}`, restored={restored}; {back}")
            }
            Expect::Updated => "updated; the new container runs".to_owned(),
            Expect::UpdatedDown => {
                "updated; the new container does not run (no judge without --health-gate)"
                    .to_owned()
            }
            Expect::Settled => {
                "killed; the next session settles it: running the new image under its name"
                    .to_owned()
            }
        }
    }
}

/// What a row's rules may need besides the proxy.
#[derive(Clone, Default)]
struct Ctx {
    /// The host port of the `Port` scene.
    port: u16,
    /// The listener that takes that port while the new container starts.
    squatter: Arc<Mutex<Option<std::net::TcpListener>>>,
}

/// One fault.
struct Row {
    fault: &'static str,
    step: &'static str,
    scene: Scene,
    /// Extra watchtower arguments (the order, the gate).
    args: &'static [&'static str],
    rules: fn(&Ctx) -> Vec<Rule>,
    expect: Expect,
    /// What containrrr/watchtower does with this fault (from its client.go and update.go).
    original: &'static str,
    /// A product defect this row shows: printed loudly, not failed, until it is fixed.
    known_bug: Option<&'static str>,
}

fn none(_: &Ctx) -> Vec<Rule> {
    Vec::new()
}

const START_FIRST: &[&str] = &["--update-order", "start-first"];
const GATE: &[&str] = &["--health-gate", "--health-gate-settle", "3s"];
const GATE_START_FIRST: &[&str] = &[
    "--health-gate",
    "--health-gate-settle",
    "3s",
    "--update-order",
    "start-first",
];
const GATE_LATE: &[&str] = &[
    "--health-gate",
    "--health-gate-timeout",
    "6s",
    "--health-gate-settle",
    "3s",
];

const RENAME: &str = "/containers/[^/]+/rename";
const STOP: &str = "/containers/[^/]+/stop";
const START: &str = "/containers/[^/]+/start";
const CREATE: &str = "/containers/create";
const CONNECT: &str = "/networks/[^/]+/connect";
const INSPECT: &str = "/containers/[^/]+/json";
const REMOVE: &str = "/containers/[^/]+";

const GONE: &str = "the old container was already stopped and removed before create, so it is lost; the error is logged";
const NOT_STARTED: &str =
    "the new container is left created, not running; the old one was already removed";

#[allow(clippy::too_many_lines)] // the table
fn rows() -> Vec<Row> {
    vec![
        // The slowest rows first, so they overlap the rest.
        Row {
            fault: "stop times out (its answer comes after the client's limit)",
            step: "stop",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![
                    Rule::new(
                        "stop answer late",
                        "POST",
                        STOP,
                        Action::DelayAnswer(Duration::from_secs(65)),
                    )
                    .nth(1),
                ]
            },
            expect: Expect::Back {
                step: "stop",
                restored: true,
                stopped: true,
            },
            original: "sends the stop signal, waits up to the timeout without checking, then force-removes it: the container is removed and recreated whatever the stop did",
            known_bug: None,
        },
        Row {
            fault: "registry slow past the timeout (manifest answers after 35 s)",
            step: "check",
            scene: Scene::Registry(RegistryFault::Slow),
            args: &[],
            rules: none,
            expect: Expect::Updated,
            original: "the HEAD has no overall timeout (30 s to connect only): the session waits for the answer",
            known_bug: None,
        },
        Row {
            fault: "becomes healthy too late",
            step: "health-gate",
            scene: Scene::Late,
            args: GATE_LATE,
            rules: none,
            expect: Expect::Back {
                step: "health-gate",
                restored: true,
                stopped: true,
            },
            original: "no health gate: reported updated while the new container is not healthy",
            known_bug: None,
        },
        Row {
            fault: "create fails (engine 500)",
            step: "create",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![Rule::new(
                    "create 500",
                    "POST",
                    CREATE,
                    Action::status(500, "injected: create failed"),
                )]
            },
            expect: Expect::Back {
                step: "create",
                restored: true,
                stopped: true,
            },
            original: GONE,
            known_bug: None,
        },
        Row {
            fault: "start fails: the new image's entrypoint does not exist",
            step: "start",
            scene: Scene::NoEntry,
            args: &[],
            rules: none,
            expect: Expect::Back {
                step: "start",
                restored: true,
                stopped: true,
            },
            original: NOT_STARTED,
            known_bug: None,
        },
        Row {
            fault: "start fails: the host port is taken by a listener on 127.0.0.1",
            step: "start",
            scene: Scene::Port,
            args: &[],
            rules: |ctx| {
                let (port, take, free) = (ctx.port, ctx.squatter.clone(), ctx.squatter.clone());
                vec![
                    // Once the old container let go of the port, a listener takes it.
                    Rule::new(
                        "port taken",
                        "POST",
                        START,
                        Action::Hook(Hook::new(move || {
                            *take.lock().unwrap() =
                                std::net::TcpListener::bind(("127.0.0.1", port)).ok();
                        })),
                    )
                    .nth(1),
                    // The listener is gone again when the old container is renamed back.
                    Rule::new(
                        "port freed",
                        "POST",
                        RENAME,
                        Action::Hook(Hook::new(move || {
                            free.lock().unwrap().take();
                        })),
                    )
                    .nth(2),
                ]
            },
            expect: Expect::Back {
                step: "start",
                restored: true,
                stopped: true,
            },
            original: NOT_STARTED,
            known_bug: None,
        },
        Row {
            fault: "new container exits at once",
            step: "start",
            scene: Scene::Exits,
            args: &[],
            rules: none,
            expect: Expect::UpdatedDown,
            original: "reported updated; the new container stays exited",
            known_bug: None,
        },
        Row {
            fault: "new container exits at once, with the health gate",
            step: "health-gate",
            scene: Scene::Exits,
            args: GATE,
            rules: none,
            expect: Expect::Back {
                step: "health-gate",
                restored: true,
                stopped: true,
            },
            original: "no health gate: reported updated; the new container stays exited",
            known_bug: None,
        },
        Row {
            fault: "crash-loops under a restart policy",
            step: "start",
            scene: Scene::CrashLoop,
            args: &[],
            rules: none,
            expect: Expect::UpdatedDown,
            original: "reported updated; the new container keeps restarting",
            known_bug: None,
        },
        Row {
            fault: "crash-loops under a restart policy, with the health gate",
            step: "health-gate",
            scene: Scene::CrashLoop,
            args: GATE,
            rules: none,
            expect: Expect::Back {
                step: "health-gate",
                restored: true,
                stopped: true,
            },
            original: "no health gate: reported updated; the new container keeps restarting",
            known_bug: None,
        },
        Row {
            fault: "turns unhealthy",
            step: "health-gate",
            scene: Scene::Unhealthy,
            args: GATE,
            rules: none,
            expect: Expect::Back {
                step: "health-gate",
                restored: true,
                stopped: true,
            },
            original: "no health gate: reported updated; the unhealthy container stays",
            known_bug: None,
        },
        Row {
            fault: "rename fails (engine 500)",
            step: "rename",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![
                    Rule::new(
                        "rename 500",
                        "POST",
                        RENAME,
                        Action::status(500, "injected: rename failed"),
                    )
                    .nth(1),
                ]
            },
            expect: Expect::Back {
                step: "rename",
                restored: true,
                stopped: false,
            },
            original: "no rename step for ordinary containers (only its own container is renamed)",
            known_bug: None,
        },
        Row {
            fault: "rename answer lost (the engine renamed it)",
            step: "rename",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![Rule::new("rename answer lost", "POST", RENAME, Action::DropAnswer).nth(1)]
            },
            expect: Expect::Updated,
            original: "no rename step for ordinary containers",
            known_bug: None,
        },
        Row {
            fault: "stop answer lost (the engine stopped it)",
            step: "stop",
            scene: Scene::App,
            args: &[],
            rules: |_| vec![Rule::new("stop answer lost", "POST", STOP, Action::DropAnswer).nth(1)],
            expect: Expect::Back {
                step: "stop",
                restored: true,
                stopped: true,
            },
            original: "its stop is a kill: a lost answer ends the update with the container stopped under its own name, and later sessions skip it as stopped",
            known_bug: None,
        },
        Row {
            fault: "network connect fails (engine 500)",
            step: "connect-network",
            scene: Scene::Nets,
            args: &[],
            rules: |_| {
                vec![Rule::new(
                    "connect 500",
                    "POST",
                    CONNECT,
                    Action::status(500, "injected: connect failed"),
                )]
            },
            expect: Expect::Back {
                step: "connect-network",
                restored: true,
                stopped: true,
            },
            original: NOT_STARTED,
            known_bug: None,
        },
        Row {
            fault: "engine 500 on inspect mid-update (first inspect after the stop)",
            step: "stop",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![
                    Rule::new(
                        "inspect 500",
                        "GET",
                        INSPECT,
                        Action::status(500, "injected: inspect failed"),
                    )
                    .after("POST", STOP)
                    .nth(1),
                ]
            },
            expect: Expect::Back {
                step: "stop",
                restored: true,
                stopped: true,
            },
            original: "inspect errors while waiting for the stop are ignored; the container is force-removed and recreated",
            known_bug: None,
        },
        Row {
            fault: "connection closed mid-update (at create, nothing forwarded)",
            step: "create",
            scene: Scene::App,
            args: &[],
            rules: |_| vec![Rule::new("create closed", "POST", CREATE, Action::Close).nth(1)],
            expect: Expect::Back {
                step: "create",
                restored: true,
                stopped: true,
            },
            original: GONE,
            known_bug: None,
        },
        Row {
            fault: "create answer lost (the engine created it)",
            step: "create",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![Rule::new("create answer lost", "POST", CREATE, Action::DropAnswer).nth(1)]
            },
            expect: Expect::Back {
                step: "create",
                restored: true,
                stopped: true,
            },
            original: "the error is logged; the created container is left under the name, not running; the old one was already removed",
            known_bug: None,
        },
        Row {
            fault: "start answer lost (the engine started it)",
            step: "start",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![Rule::new("start answer lost", "POST", START, Action::DropAnswer).nth(1)]
            },
            expect: Expect::Back {
                step: "start",
                restored: true,
                stopped: true,
            },
            original: "reported failed, while the new container runs",
            known_bug: None,
        },
        Row {
            fault: "pull fails (engine 500)",
            step: "pull",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![Rule::new(
                    "pull 500",
                    "POST",
                    "/images/create",
                    Action::status(500, "injected: pull failed"),
                )]
            },
            expect: Expect::Back {
                step: "pull",
                restored: false,
                stopped: false,
            },
            original: "the container is skipped for this session; nothing is touched",
            known_bug: None,
        },
        Row {
            fault: "registry down",
            step: "check",
            scene: Scene::Registry(RegistryFault::Down),
            args: &[],
            rules: none,
            expect: Expect::Back {
                step: "pull",
                restored: false,
                stopped: false,
            },
            original: "the HEAD fails, it falls back to a pull, which fails: skipped, nothing touched",
            known_bug: None,
        },
        Row {
            fault: "registry answers 500",
            step: "check",
            scene: Scene::Registry(RegistryFault::Status500),
            args: &[],
            rules: none,
            expect: Expect::Back {
                step: "pull",
                restored: false,
                stopped: false,
            },
            original: "the HEAD fails, it falls back to a pull, which fails: skipped, nothing touched",
            known_bug: None,
        },
        Row {
            fault: "registry answers garbage",
            step: "check",
            scene: Scene::Registry(RegistryFault::Garbage),
            args: &[],
            rules: none,
            expect: Expect::Back {
                step: "pull",
                restored: false,
                stopped: false,
            },
            original: "the HEAD fails, it falls back to a pull, which fails: skipped, nothing touched",
            known_bug: None,
        },
        Row {
            fault: "SIGTERM mid-update (at the stop, --run-once)",
            step: "stop",
            scene: Scene::App,
            args: &[],
            rules: |_| {
                vec![Rule::new("SIGTERM at stop", "POST", STOP, Action::terminate_caller()).nth(1)]
            },
            expect: Expect::Updated,
            original: "--run-once installs no signal handler: the process dies at once, as with SIGKILL",
            known_bug: None,
        },
        kill(
            "SIGKILL at the rename",
            "rename",
            Scene::App,
            &[],
            |_| vec![Rule::new("SIGKILL at rename", "POST", RENAME, Action::kill_caller()).nth(1)],
            "no rename step",
        ),
        kill(
            "SIGKILL at the stop",
            "stop",
            Scene::App,
            &[],
            |_| vec![Rule::new("SIGKILL at stop", "POST", STOP, Action::kill_caller()).nth(1)],
            "its stop (a kill, then remove) may leave the container stopped under its own name; later sessions skip it as stopped",
        ),
        kill(
            "SIGKILL at the create",
            "create",
            Scene::App,
            &[],
            |_| vec![Rule::new("SIGKILL at create", "POST", CREATE, Action::kill_caller()).nth(1)],
            "the old container was already removed: lost",
        ),
        kill(
            "SIGKILL at the network connect",
            "connect-network",
            Scene::Nets,
            &[],
            |_| {
                vec![Rule::new("SIGKILL at connect", "POST", CONNECT, Action::kill_caller()).nth(1)]
            },
            "the new container is left created, not running; the old one was removed",
        ),
        kill(
            "SIGKILL at the start",
            "start",
            Scene::App,
            &[],
            |_| vec![Rule::new("SIGKILL at start", "POST", START, Action::kill_caller()).nth(1)],
            "the new container is left created, not running; the old one was removed",
        ),
        kill(
            "SIGKILL at the removal of the old container",
            "remove-old",
            Scene::App,
            &[],
            |_| {
                vec![Rule::new("SIGKILL at remove", "DELETE", REMOVE, Action::kill_caller()).nth(1)]
            },
            "it removes the old container before create: killed there, the container is lost",
        ),
        kill(
            "SIGKILL at the health gate",
            "health-gate",
            Scene::App,
            GATE,
            |_| {
                vec![
                    Rule::new("SIGKILL at gate", "GET", INSPECT, Action::kill_caller())
                        .after("POST", START)
                        .nth(1),
                ]
            },
            "no health gate",
        ),
        Row {
            fault: "none: the health gate passes a healthy new container",
            step: "health-gate",
            scene: Scene::App,
            args: GATE,
            rules: none,
            expect: Expect::Updated,
            original: "no health gate: reported updated",
            known_bug: None,
        },
        // Start-first: the old container keeps running until the new one is up.
        Row {
            fault: "rename answer lost (the engine renamed it)",
            step: "rename",
            scene: Scene::App,
            args: START_FIRST,
            rules: |_| {
                vec![Rule::new("rename answer lost", "POST", RENAME, Action::DropAnswer).nth(1)]
            },
            expect: Expect::Updated,
            original: "no start-first order",
            known_bug: None,
        },
        kill(
            "SIGKILL at the health gate",
            "health-gate",
            Scene::App,
            GATE_START_FIRST,
            |_| {
                vec![
                    Rule::new("SIGKILL at gate", "GET", INSPECT, Action::kill_caller())
                        .after("POST", START)
                        .nth(1),
                ]
            },
            "no start-first order, no health gate",
        ),
        Row {
            fault: "create fails (engine 500)",
            step: "create",
            scene: Scene::App,
            args: START_FIRST,
            rules: |_| {
                vec![Rule::new(
                    "create 500",
                    "POST",
                    CREATE,
                    Action::status(500, "injected: create failed"),
                )]
            },
            expect: Expect::Back {
                step: "create",
                restored: true,
                stopped: false,
            },
            original: "no start-first order; stop-first: lost",
            known_bug: None,
        },
        Row {
            fault: "start fails: the new image's entrypoint does not exist",
            step: "start",
            scene: Scene::NoEntry,
            args: START_FIRST,
            rules: none,
            expect: Expect::Back {
                step: "start",
                restored: true,
                stopped: false,
            },
            original: "no start-first order",
            known_bug: None,
        },
        Row {
            fault: "rename fails (engine 500)",
            step: "rename",
            scene: Scene::App,
            args: START_FIRST,
            rules: |_| {
                vec![
                    Rule::new(
                        "rename 500",
                        "POST",
                        RENAME,
                        Action::status(500, "injected: rename failed"),
                    )
                    .nth(1),
                ]
            },
            expect: Expect::Back {
                step: "rename",
                restored: true,
                stopped: false,
            },
            original: "no start-first order",
            known_bug: None,
        },
        Row {
            fault: "network connect fails (engine 500)",
            step: "connect-network",
            scene: Scene::Nets,
            args: START_FIRST,
            rules: |_| {
                vec![Rule::new(
                    "connect 500",
                    "POST",
                    CONNECT,
                    Action::status(500, "injected: connect failed"),
                )]
            },
            expect: Expect::Back {
                step: "connect-network",
                restored: true,
                stopped: false,
            },
            original: "no start-first order",
            known_bug: None,
        },
        Row {
            fault: "turns unhealthy",
            step: "health-gate",
            scene: Scene::Unhealthy,
            args: GATE_START_FIRST,
            rules: none,
            expect: Expect::Back {
                step: "health-gate",
                restored: true,
                stopped: false,
            },
            original: "no start-first order, no health gate",
            known_bug: None,
        },
        kill(
            "SIGKILL at the create",
            "create",
            Scene::App,
            START_FIRST,
            |_| vec![Rule::new("SIGKILL at create", "POST", CREATE, Action::kill_caller()).nth(1)],
            "no start-first order",
        ),
        kill(
            "SIGKILL at the start",
            "start",
            Scene::App,
            START_FIRST,
            |_| vec![Rule::new("SIGKILL at start", "POST", START, Action::kill_caller()).nth(1)],
            "no start-first order",
        ),
        kill(
            "SIGKILL at the stop of the old container",
            "stop",
            Scene::App,
            START_FIRST,
            |_| vec![Rule::new("SIGKILL at stop", "POST", STOP, Action::kill_caller()).nth(1)],
            "no start-first order",
        ),
    ]
}

fn kill(
    fault: &'static str,
    step: &'static str,
    scene: Scene,
    args: &'static [&'static str],
    rules: fn(&Ctx) -> Vec<Rule>,
    original: &'static str,
) -> Row {
    Row {
        fault,
        step,
        scene,
        args,
        rules,
        expect: Expect::Settled,
        original,
        known_bug: None,
    }
}

fn order_of(args: &[&str]) -> &'static str {
    if args.contains(&"start-first") {
        "start-first"
    } else {
        "stop-first"
    }
}

/// The fixture images that rows share, each built once: v1 on the engine, v2 in the
/// registry. Every row has its own tag of them (see [`prepare`]).
struct Images {
    app: FixtureImage,
    noentry: FixtureImage,
}

impl Images {
    /// The shared image of `scene`; `None` for the scenes whose v2 the health gate rolls
    /// back: the gate remembers a rolled-back digest per repository and skips it from then
    /// on, so each such row builds an image of its own.
    fn of(&self, scene: Scene) -> Option<&FixtureImage> {
        match scene {
            Scene::App | Scene::Nets | Scene::Port | Scene::Registry(_) => Some(&self.app),
            Scene::NoEntry => Some(&self.noentry),
            Scene::Exits | Scene::CrashLoop | Scene::Unhealthy | Scene::Late => None,
        }
    }
}

/// Version 1 and version 2 of the image of `scene`.
fn specs(scene: Scene) -> (FixtureSpec, FixtureSpec) {
    let healthy = "HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD true";
    match scene {
        Scene::NoEntry => (
            FixtureSpec::default(),
            FixtureSpec::default().line(r#"ENTRYPOINT ["/no/such/entrypoint"]"#),
        ),
        Scene::Exits | Scene::CrashLoop => (
            FixtureSpec::default(),
            FixtureSpec::default().line(r#"CMD ["/bin/sh", "-c", "exit 3"]"#),
        ),
        Scene::Unhealthy => (
            FixtureSpec::default().line(healthy),
            FixtureSpec::default()
                .line("HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD false"),
        ),
        Scene::Late => (
            FixtureSpec::default().line(healthy),
            FixtureSpec::default()
                .line("HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD test -f /tmp/ready")
                .line(
                    r#"CMD ["/bin/sh", "-c", "trap 'exit 0' TERM INT; (sleep 40; touch /tmp/ready) & sleep 2147483647 & wait"]"#,
                ),
        ),
        Scene::App | Scene::Nets | Scene::Port | Scene::Registry(_) => {
            (FixtureSpec::default(), FixtureSpec::default())
        }
    }
}

async fn fixture(
    engine: &Engine,
    registry: &Registry,
    name: &str,
    scene: Scene,
) -> anyhow::Result<FixtureImage> {
    let (v1, v2) = specs(scene);
    let repo = format!("faults/{name}-{}", engine.run_id());
    let mut image = FixtureImage::publish(engine, registry, &repo, v1).await?;
    image.publish_next_with(v2).await?;
    Ok(image)
}

async fn build_images(engine: &Engine, registry: &Registry) -> anyhow::Result<Images> {
    let (app, noentry) = tokio::try_join!(
        fixture(engine, registry, "app", Scene::App),
        fixture(engine, registry, "noentry", Scene::NoEntry),
    )?;
    Ok(Images { app, noentry })
}

/// What a container is, as far as "back as it was" goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    id: String,
    name: String,
    running: bool,
    started_at: String,
    image: String,
    env: Vec<String>,
    labels: BTreeMap<String, String>,
    cmd: Vec<String>,
    entrypoint: Vec<String>,
    restart_policy: String,
    mounts: Vec<String>,
    network_mode: String,
    networks: Vec<String>,
    ports: String,
}

impl Snapshot {
    fn of(c: &ContainerInspectResponse) -> Snapshot {
        let config = c.config.clone().unwrap_or_default();
        let host = c.host_config.clone().unwrap_or_default();
        let state = c.state.clone().unwrap_or_default();
        let mut env = config.env.unwrap_or_default();
        env.sort();
        let mut mounts: Vec<String> = c
            .mounts
            .iter()
            .flatten()
            .map(|m| {
                format!(
                    "{:?} {} -> {}",
                    m.typ,
                    m.name.clone().unwrap_or_default(),
                    m.destination.clone().unwrap_or_default()
                )
            })
            .collect();
        mounts.sort();
        let mut networks: Vec<String> = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default();
        networks.sort();
        let ports: BTreeMap<String, Vec<(String, String)>> = host
            .port_bindings
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = v
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| {
                        (
                            b.host_ip.unwrap_or_default(),
                            b.host_port.unwrap_or_default(),
                        )
                    })
                    .collect();
                (k, v)
            })
            .collect();
        Snapshot {
            id: c.id.clone().unwrap_or_default(),
            name: c
                .name
                .clone()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            running: state.running.unwrap_or(false),
            started_at: state.started_at.unwrap_or_default(),
            image: c.image.clone().unwrap_or_default(),
            env,
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            cmd: config.cmd.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            restart_policy: format!("{:?}", host.restart_policy.and_then(|r| r.name)),
            mounts,
            network_mode: host.network_mode.unwrap_or_default(),
            networks,
            ports: format!("{ports:?}"),
        }
    }

    /// What the user set: without what follows the image (its version env and label).
    fn user_config(&self) -> Snapshot {
        let mut s = self.clone();
        s.id.clear();
        s.started_at.clear();
        s.image.clear();
        s.running = false;
        s.env.retain(|e| !e.starts_with("FIXTURE_VERSION="));
        s.labels.remove(VERSION_LABEL);
        // Watchtower's own marker on a container made with the health gate on.
        s.labels.remove(REPLACES_LABEL);
        s.cmd.clear();
        s.entrypoint.clear();
        s
    }
}

/// One finished watchtower process.
struct Run {
    code: Option<i32>,
    log: Vec<String>,
    stdout: Vec<String>,
}

impl Run {
    /// The report line of container `name`: state, failed step (`-` for none), restored.
    fn report(&self, name: &str) -> Option<(String, String, String)> {
        let wanted = format!("/{name}");
        self.stdout.iter().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "FAULT-REPORT" && words.next()? == wanted).then_some(())?;
            Some((
                words.next()?.to_owned(),
                words.next()?.to_owned(),
                words.next()?.to_owned(),
            ))
        })
    }

    fn dump(&self) -> String {
        format!(
            "exit code {:?}\n--- log ---\n{}\n--- stdout ---\n{}",
            self.code,
            self.log.join("\n"),
            self.stdout.join("\n")
        )
    }
}

fn lines_of<R>(stream: Option<R>) -> tokio::task::JoinHandle<Vec<String>>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut out = Vec::new();
        if let Some(stream) = stream {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                out.push(line);
            }
        }
        out
    })
}

/// Runs the binary with `args`; through the proxy when `docker_host` is given.
async fn run_watchtower(args: &[String], docker_host: Option<&str>) -> anyhow::Result<Run> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = docker_host
        .map(|h| vec![("DOCKER_HOST", h)])
        .unwrap_or_default();
    let mut command = watchtower_e2e::command(&args, &env)?;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().context("starting watchtower")?;
    let stdout = lines_of(child.stdout.take());
    let stderr = lines_of(child.stderr.take());
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .with_context(|| format!("watchtower did not finish within {RUN_LIMIT:?}"))??;
    Ok(Run {
        code: status.code(),
        stdout: stdout.await?,
        log: stderr.await?,
    })
}

/// Everything the rows share.
struct Bench {
    engine: Engine,
    registry: Registry,
    images: Images,
    bystander: Snapshot,
    help: String,
    /// Each image's v2 manifest (media type, bytes), pushed again under each row's tag.
    manifests: HashMap<String, (String, Vec<u8>)>,
}

impl Bench {
    async fn snapshot(&self, name: &str) -> anyhow::Result<Snapshot> {
        Ok(Snapshot::of(&self.engine.inspect_container(name).await?))
    }

    /// The names of this run's containers that start with `prefix`.
    async fn names_with_prefix(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{RUN_LABEL}={}", self.engine.run_id())],
        )]);
        let list = self
            .engine
            .docker()
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        Ok(list
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_owned())
            .filter(|n| n.starts_with(prefix))
            .collect())
    }
}

/// What a row made before watchtower runs.
struct Prepared {
    name: String,
    ctx: Ctx,
    front: Option<FaultProxy>,
    /// The image id of version 2.
    v2: String,
    /// The row's own image, when it has one.
    _own: Option<FixtureImage>,
}

#[allow(clippy::too_many_lines)] // one scene after the other: tag, registry front, host config, networks
async fn prepare(bench: &Bench, index: usize, row: &Row) -> anyhow::Result<Prepared> {
    let engine = &bench.engine;
    let own = match bench.images.of(row.scene) {
        Some(_) => None,
        None => Some(
            fixture(
                engine,
                &bench.registry,
                &format!("row{index:02}"),
                row.scene,
            )
            .await?,
        ),
    };
    let image = bench
        .images
        .of(row.scene)
        .or(own.as_ref())
        .expect("shared or own");
    let name = engine.unique_name(&format!("fault{index:02}"));
    let mut ctx = Ctx::default();
    let mut front = None;
    // The row's own tag: v2 in the registry, v1 on the engine, so that no other row's pull
    // moves it.
    let tag = format!("row{index:02}");
    let manifest = match bench.manifests.get(image.repo()) {
        Some(m) => m.clone(),
        None => manifest_of(&bench.registry, image).await?,
    };
    bench
        .registry
        .push_manifest(image.repo(), &tag, &manifest.0, &manifest.1)
        .await?;
    let host = match row.scene {
        Scene::Registry(RegistryFault::Down) => format!("127.0.0.1:{}", unused_local_port()?),
        Scene::Registry(fault) => {
            let upstream = bench.registry.host().parse()?;
            let rule = match fault {
                RegistryFault::Status500 => Rule::new(
                    "registry 500",
                    "*",
                    "/.*",
                    Action::status(500, "injected: registry failed"),
                ),
                RegistryFault::Slow => Rule::new(
                    "registry slow",
                    "*",
                    "/v2/.+/manifests/.+",
                    Action::Delay(Duration::from_secs(35)),
                )
                .user_agent("watchtower/"),
                _ => Rule::new("registry garbage", "*", "/.*", Action::Garbage),
            };
            let proxy = FaultProxy::tcp(upstream, vec![rule]).await?;
            let host = proxy.host();
            front = Some(proxy);
            host
        }
        _ => bench.registry.host(),
    };
    // Version 1, as if pulled from that host under the row's tag.
    let repository = format!("{host}/{}", image.repo());
    engine
        .docker()
        .tag_image(
            image.image_id_of(1).context("version 1")?,
            Some(
                TagImageOptionsBuilder::default()
                    .repo(&repository)
                    .tag(&tag)
                    .build(),
            ),
        )
        .await
        .with_context(|| format!("tagging version 1 as {repository}:{tag}"))?;
    let reference = format!("{repository}:{tag}");
    let mut host_config = HostConfig {
        restart_policy: Some(RestartPolicy {
            name: Some(if row.scene == Scene::CrashLoop {
                RestartPolicyNameEnum::ALWAYS
            } else {
                RestartPolicyNameEnum::UNLESS_STOPPED
            }),
            maximum_retry_count: None,
        }),
        network_mode: Some("none".to_owned()),
        ..HostConfig::default()
    };
    let mut networks = Vec::new();
    match row.scene {
        Scene::Nets => {
            for side in ["a", "b"] {
                let net = engine.unique_name(&format!("fault{index:02}-{side}"));
                engine.create_network(&net).await?;
                networks.push(net);
            }
            host_config.network_mode = Some(networks[0].clone());
        }
        Scene::Port => {
            ctx.port = unused_local_port()?;
            host_config.network_mode = Some("bridge".to_owned());
            host_config.port_bindings = Some(HashMap::from([(
                "8080/tcp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some(ctx.port.to_string()),
                }]),
            )]));
        }
        _ => {}
    }
    let spec = ContainerSpec::new(reference)
        .env("FAULT_ROW", &index.to_string())
        .label(ROW_LABEL, &index.to_string())
        .host_config(host_config)
        .with_body(|b| {
            // Start-first falls back to stop-first for a container with a writable volume
            // (two containers must not write it at once), so those rows have none.
            if order_of(row.args) == "stop-first" {
                b.volumes = Some(vec!["/data".to_owned()]);
            }
            if row.scene == Scene::Port {
                b.exposed_ports = Some(vec!["8080/tcp".to_owned()]);
            }
        });
    let id = engine.run_container(&name, spec).await?;
    if let Some(second) = networks.get(1) {
        engine
            .docker()
            .connect_network(
                second,
                NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(EndpointSettings::default()),
                },
            )
            .await
            .with_context(|| format!("connecting {name} to {second}"))?;
    }
    let v2 = image.image_id().to_owned();
    Ok(Prepared {
        name,
        ctx,
        front,
        v2,
        _own: own,
    })
}

/// The registry's v2 manifest of `image`: media type and bytes.
async fn manifest_of(
    registry: &Registry,
    image: &FixtureImage,
) -> anyhow::Result<(String, Vec<u8>)> {
    let bytes = registry.manifest_bytes(image.repo(), image.tag()).await?;
    let json: serde_json::Value = serde_json::from_slice(&bytes)?;
    let media_type = json["mediaType"]
        .as_str()
        .context("the manifest names its media type")?
        .to_owned();
    Ok((media_type, bytes.to_vec()))
}

/// The flag among `args` that `--help` does not know, if any.
fn missing_flag<'a>(help: &str, args: &[&'a str]) -> Option<&'a str> {
    args.iter()
        .copied()
        .filter(|a| a.starts_with("--"))
        .find(|flag| {
            !help
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|word| word == *flag)
        })
}

enum Verdict {
    Passed,
    Failed(String),
    Skipped(String),
}

async fn run_row(bench: &Bench, index: usize, row: &Row) -> (Verdict, Duration) {
    let started = tokio::time::Instant::now();
    let verdict = if let Some(flag) = missing_flag(&bench.help, row.args) {
        Verdict::Skipped(format!("needs {flag}"))
    } else {
        match run_row_inner(bench, index, row).await {
            Ok(()) => Verdict::Passed,
            Err(err) => Verdict::Failed(format!("{err:#}")),
        }
    };
    (verdict, started.elapsed())
}

async fn run_row_inner(bench: &Bench, index: usize, row: &Row) -> anyhow::Result<()> {
    let prepared = prepare(bench, index, row).await?;
    let name = &prepared.name;
    let before = bench.snapshot(name).await?;
    let rules = (row.rules)(&prepared.ctx);
    let labels: Vec<String> = rules.iter().map(|r| r.label().to_owned()).collect();
    let proxy = FaultProxy::docker(rules).await?;

    let mut args: Vec<String> = [
        "--run-once",
        "--stop-timeout",
        "2s",
        "--notification-url",
        "logger://",
        "--notification-report",
        "--notification-log-stdout",
        "--notification-template",
        REPORT_TEMPLATE,
    ]
    .iter()
    .chain(row.args)
    .map(|s| (*s).to_owned())
    .collect();
    args.push(name.clone());

    let first = run_watchtower(&args, Some(&proxy.docker_host())).await?;
    let context = |run: &Run| format!("{}\nrules fired: {:?}", run.dump(), proxy.fired());
    let fired = proxy.fired();
    for label in &labels {
        ensure!(
            fired.iter().any(|f| &f.rule == label),
            "the fault {label:?} never fired, so this row tested nothing\n{}",
            context(&first)
        );
    }
    if let Some(front) = &prepared.front {
        ensure!(
            !front.fired().is_empty(),
            "the registry fault never fired\n{}",
            first.dump()
        );
    }
    let last = if row.expect == Expect::Settled {
        ensure!(
            first.code.is_none(),
            "watchtower was to be killed by a signal\n{}",
            context(&first)
        );
        let second = run_watchtower(&args, None).await?;
        ensure!(
            second.code == Some(0),
            "the second run failed\n{}",
            second.dump()
        );
        second
    } else {
        ensure!(
            first.code.is_some(),
            "watchtower died of a signal\n{}",
            context(&first)
        );
        first
    };
    match check_outcome(bench, row, name, &prepared.v2, &before, &last).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let mut state = Vec::new();
            for n in bench.names_with_prefix(name).await.unwrap_or_default() {
                if let Ok(s) = bench.snapshot(&n).await {
                    state.push(format!(
                        "{n}: id {} running {} image {}",
                        &s.id[..12],
                        s.running,
                        s.image
                    ));
                }
            }
            Err(anyhow::anyhow!(
                "{e:#}\ncontainers now: {state:#?}\n{}",
                context(&last)
            ))
        }
    }
}

#[allow(clippy::too_many_lines)] // one check per expectation, then the leftovers and the bystander
async fn check_outcome(
    bench: &Bench,
    row: &Row,
    name: &str,
    v2: &str,
    before: &Snapshot,
    run: &Run,
) -> anyhow::Result<()> {
    let after = bench
        .snapshot(name)
        .await
        .with_context(|| format!("no container is named {name} any more"))?;
    let report = run.report(name);
    match row.expect {
        Expect::Back {
            step,
            restored,
            stopped,
        } => {
            let wanted = ("Failed".to_owned(), step.to_owned(), restored.to_string());
            ensure!(
                report.as_ref() == Some(&wanted),
                "report {report:?}, expected {wanted:?}"
            );
            ensure!(
                after.id == before.id,
                "another container has the name: {after:#?}"
            );
            ensure!(
                after.user_config() == before.user_config() && after.image == before.image,
                "the config changed:\nbefore {before:#?}\nafter {after:#?}"
            );
            ensure!(
                after.running == before.running,
                "running {} -> {}",
                before.running,
                after.running
            );
            if !stopped {
                ensure!(
                    after.started_at == before.started_at,
                    "it was restarted ({} -> {}), but was to run throughout",
                    before.started_at,
                    after.started_at
                );
            }
        }
        Expect::Updated | Expect::UpdatedDown | Expect::Settled => {
            let state = report.as_ref().map(|r| r.0.as_str());
            if row.expect == Expect::Settled {
                ensure!(
                    matches!(state, Some("Updated" | "Fresh")),
                    "report of the second run {report:?}"
                );
            } else {
                ensure!(
                    state == Some("Updated"),
                    "report {report:?}, expected Updated"
                );
            }
            ensure!(after.image == v2, "runs {} instead of v2 {v2}", after.image);
            ensure!(after.id != before.id, "still the old container");
            ensure!(
                after.user_config() == before.user_config(),
                "the config changed:\nbefore {before:#?}\nafter {after:#?}"
            );
            // Cmd and entrypoint were the image's, so they follow the new image.
            let v2_config = bench
                .engine
                .docker()
                .inspect_image(v2)
                .await?
                .config
                .unwrap_or_default();
            ensure!(
                after.cmd == v2_config.cmd.unwrap_or_default()
                    && after.entrypoint == v2_config.entrypoint.unwrap_or_default(),
                "cmd {:?} / entrypoint {:?} are not the new image's",
                after.cmd,
                after.entrypoint
            );
            if row.expect == Expect::UpdatedDown {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                loop {
                    let inspect = bench.engine.inspect_container(name).await?;
                    let state = inspect.state.unwrap_or_default();
                    if !state.running.unwrap_or(false) || state.restarting.unwrap_or(false) {
                        break;
                    }
                    ensure!(
                        tokio::time::Instant::now() < deadline,
                        "the new container was expected down: {state:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            } else {
                ensure!(after.running, "the new container does not run");
            }
        }
    }
    let left: Vec<String> = bench
        .names_with_prefix(&format!("{name}-wt-"))
        .await?
        .into_iter()
        .collect();
    ensure!(left.is_empty(), "left behind: {left:?}");
    let bystander = bench.snapshot(&bench.bystander.name).await?;
    ensure!(
        bystander == bench.bystander,
        "the bystander was touched: {bystander:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // set up the bench, run the rows, print and check the table
async fn the_fault_matrix_loses_no_container() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let started = tokio::time::Instant::now();
    let help = {
        let out = watchtower_e2e::command(&["--help"], &[])?.output().await?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ensure!(help.contains("--run-once"), "watchtower --help: {help}");
    let registry = Registry::start(RegistryMode::Plain).await?;
    let images = build_images(&engine, &registry).await?;
    let bystander_name = engine.unique_name("fault-bystander");
    engine
        .run_container(
            &bystander_name,
            ContainerSpec::new(images.app.reference()).network_mode("none"),
        )
        .await?;
    let bystander = Snapshot::of(&engine.inspect_container(&bystander_name).await?);
    let mut manifests = HashMap::new();
    for image in [&images.app, &images.noentry] {
        manifests.insert(
            image.repo().to_owned(),
            manifest_of(&registry, image).await?,
        );
    }
    let bench = Bench {
        engine,
        registry,
        images,
        bystander,
        help,
        manifests,
    };
    eprintln!("fault matrix: bench ready after {:?}", started.elapsed());

    let rows = rows();
    let results: Vec<(Verdict, Duration)> = {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(rows.iter().enumerate())
            .map(|(i, row)| run_row(&bench, i + 1, row))
            .buffered(PARALLEL)
            .collect()
            .await
    };

    let mut table = Vec::new();
    let mut failures = Vec::new();
    eprintln!("\n================ fault matrix ================");
    for (i, (row, (verdict, took))) in rows.iter().zip(&results).enumerate() {
        let order = order_of(row.args);
        let outcome = match (verdict, row.known_bug) {
            (Verdict::Skipped(why), _) => {
                eprintln!(
                    "SKIPPED row {}: {} ({order}): {why}: the binary does not have it yet",
                    i + 1,
                    row.fault
                );
                format!("not run yet: {why}")
            }
            (Verdict::Passed, None) => {
                eprintln!(
                    "ok   row {:2} [{took:>6.1?}] {} ({order}): {}",
                    i + 1,
                    row.fault,
                    row.expect.describe()
                );
                row.expect.describe()
            }
            (Verdict::Passed, Some(bug)) => {
                eprintln!(
                    "!!!! row {} ({}) is marked known_bug ({bug}) but PASSED: remove the marker",
                    i + 1,
                    row.fault
                );
                format!("KNOWN BUG: {bug}")
            }
            (Verdict::Failed(why), Some(bug)) => {
                eprintln!(
                    "\n!!!!!!!!!!!!!!!! KNOWN BUG, row {} [{took:.1?}]: {} ({order}): {bug}\n{why}\n!!!!!!!!!!!!!!!!\n",
                    i + 1,
                    row.fault
                );
                format!("KNOWN BUG: {bug}")
            }
            (Verdict::Failed(why), None) => {
                eprintln!(
                    "\nFAIL row {} [{took:.1?}]: {} ({order}):\n{why}\n",
                    i + 1,
                    row.fault
                );
                failures.push(format!("row {}: {} ({order})", i + 1, row.fault));
                String::new()
            }
        };
        table.push(TableRow {
            fault: row.fault.to_owned(),
            order: order.to_owned(),
            step: row.step.to_owned(),
            outcome,
            original: row.original.to_owned(),
        });
    }
    eprintln!(
        "fault matrix: {} rows in {:?}",
        rows.len(),
        started.elapsed()
    );
    if !failures.is_empty() {
        bail!("{} rows failed:\n{}", failures.len(), failures.join("\n"));
    }
    safety_doc::check_or_bless(&safety_doc::page(), &safety_doc::render(&table))
}
