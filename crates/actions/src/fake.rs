//! Test doubles: an in-memory engine that records every call and can be told to fail, and a
//! registry with fixed answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use watchtower_container_client::{
    Container, ContainerClient, ContainerState, EngineInfo, Error, ExecOutcome, Image, ListOptions,
    PullAuth, RecreateSpec, Result, StopOptions,
};

use watchtower_registry_auth::ImageReference;

use crate::{Freshness, FreshnessChecker, FreshnessQuery};

/// `reference` parsed; the fakes are given valid references only.
pub(crate) fn parsed(reference: &str) -> ImageReference {
    ImageReference::parse(reference).expect("a valid reference in a test")
}

#[derive(Default)]
struct State {
    containers: Vec<Container>,
    images: HashMap<String, Image>,
    /// Local tags: reference -> image ID.
    tags: HashMap<String, String>,
    /// What a pull of a reference brings: reference -> image ID (the image must be known).
    remote: HashMap<String, String>,
    calls: Vec<String>,
    /// (operation, container name or reference) -> how many more calls fail.
    failures: HashMap<(String, String), usize>,
    /// (operation, container name) -> how many more calls take effect but answer an error
    /// (a lost or timed-out answer: the engine did it).
    lost_answers: HashMap<(String, String), usize>,
    exec_results: HashMap<String, ExecOutcome>,
    exec_delays: HashMap<String, Duration>,
    /// Containers (by name) that disappear when stopped, like `--rm` ones.
    vanish_on_stop: Vec<String>,
    /// Name -> what the next started container of that name does: its state after the
    /// `n`th inspect since the start (the last entry holds from then on).
    on_start: HashMap<String, Vec<AfterStart>>,
    /// Container ID -> (script, inspects since the start).
    running_scripts: HashMap<String, (Vec<AfterStart>, usize)>,
    next_id: u64,
}

/// What a started container looks like to an inspect, in a script of
/// [`FakeEngine::on_start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AfterStart {
    /// Running, with this health (`None`: no healthcheck).
    Running(Option<watchtower_container_client::HealthStatus>),
    /// Exited with this code.
    Exited(i64),
    /// Running again after this many restarts by its restart policy.
    Restarted(i64),
}

pub(crate) struct FakeEngine {
    state: Mutex<State>,
}

pub(crate) fn image(id: &str, digests: &[&str]) -> Image {
    Image {
        id: id.to_owned(),
        repo_digests: digests.iter().map(|d| (*d).to_owned()).collect(),
        ..Image::default()
    }
}

impl FakeEngine {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// A local image, tagged `reference` (empty: untagged).
    pub(crate) fn add_image(&self, reference: &str, image: Image) {
        self.with(|s| {
            if !reference.is_empty() {
                s.tags.insert(reference.to_owned(), image.id.clone());
            }
            s.images.insert(image.id.clone(), image);
        });
    }

    /// The registry now serves `image` under `reference`; a pull brings it.
    pub(crate) fn publish(&self, reference: &str, image: Image) {
        self.with(|s| {
            s.remote.insert(reference.to_owned(), image.id.clone());
            s.images.entry(image.id.clone()).or_insert(image);
        });
    }

    /// A running container from the image `reference` currently points to.
    pub(crate) fn run(&self, name: &str, reference: &str) -> Container {
        self.run_with(name, reference, |_| {})
    }

    pub(crate) fn run_with(
        &self,
        name: &str,
        reference: &str,
        edit: impl FnOnce(&mut Container),
    ) -> Container {
        self.with(|s| {
            let image_id = s
                .tags
                .get(reference)
                .cloned()
                .unwrap_or_else(|| panic!("no local image tagged {reference}"));
            s.next_id += 1;
            let mut c = Container {
                id: fake_id(s.next_id),
                name: name.to_owned(),
                image_reference: reference.to_owned(),
                image_id,
                state: ContainerState::Running,
                created: format!("2024-01-01T00:00:{:02}Z", s.next_id % 60),
                ..Container::default()
            };
            edit(&mut c);
            c.config.labels = c.labels.clone();
            s.containers.push(c.clone());
            c
        })
    }

    /// The next `times` calls of `op` on `target` (container name, or reference for
    /// `pull`) fail.
    pub(crate) fn fail(&self, op: &str, target: &str, times: usize) {
        self.with(|s| {
            s.failures.insert((op.to_owned(), target.to_owned()), times);
        });
    }

    /// The next `times` calls of `op` on `target` are carried out by the engine but answer
    /// an error, as a call whose answer was lost or timed out.
    pub(crate) fn lose_answer(&self, op: &str, target: &str, times: usize) {
        self.with(|s| {
            s.lost_answers
                .insert((op.to_owned(), target.to_owned()), times);
        });
    }

    pub(crate) fn exec_result(&self, command: &str, exit_code: Option<i64>, output: &str) {
        self.with(|s| {
            s.exec_results.insert(
                command.to_owned(),
                ExecOutcome {
                    exit_code,
                    output: output.to_owned(),
                },
            );
        });
    }

    /// Execs of `command` take `delay` (on tokio's clock).
    pub(crate) fn exec_delay(&self, command: &str, delay: Duration) {
        self.with(|s| {
            s.exec_delays.insert(command.to_owned(), delay);
        });
    }

    /// The next container named `name` that starts follows `script`: the `n`th inspect
    /// after its start sees `script[n]` (the last entry from then on).
    pub(crate) fn on_start(&self, name: &str, script: &[AfterStart]) {
        self.with(|s| {
            s.on_start.insert(name.to_owned(), script.to_vec());
        });
    }

    /// The container named `name` follows `script` from now on, as if it had just started.
    pub(crate) fn script(&self, name: &str, script: &[AfterStart]) {
        self.with(|s| {
            let id = s
                .containers
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .id
                .clone();
            s.running_scripts.insert(id, (script.to_vec(), 0));
        });
    }

    pub(crate) fn vanish_on_stop(&self, name: &str) {
        self.with(|s| s.vanish_on_stop.push(name.to_owned()));
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    /// The calls whose text starts with one of `prefixes`.
    pub(crate) fn calls_of(&self, prefixes: &[&str]) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| prefixes.iter().any(|p| c.starts_with(p)))
            .collect()
    }

    pub(crate) fn container(&self, name: &str) -> Option<Container> {
        self.with(|s| s.containers.iter().find(|c| c.name == name).cloned())
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.with(|s| s.containers.iter().map(|c| c.name.clone()).collect());
        names.sort();
        names
    }

    pub(crate) fn has_image(&self, id: &str) -> bool {
        self.with(|s| s.images.contains_key(id))
    }

    pub(crate) fn set_state(&self, name: &str, state: ContainerState) {
        self.with(|s| {
            let c = s.containers.iter_mut().find(|c| c.name == name).unwrap();
            c.state = state;
        });
    }

    pub(crate) fn rename(&self, name: &str, new_name: &str) {
        self.with(|s| {
            let c = s.containers.iter_mut().find(|c| c.name == name).unwrap();
            new_name.clone_into(&mut c.name);
        });
    }
}

fn fake_id(n: u64) -> String {
    format!("{n:012x}{}", "f".repeat(52))
}

impl State {
    fn log(&mut self, call: String) {
        self.calls.push(call);
    }

    fn failing(&mut self, op: &'static str, target: &str) -> Result<()> {
        if let Some(left) = self.failures.get_mut(&(op.to_owned(), target.to_owned()))
            && *left > 0
        {
            *left -= 1;
            return Err(Error::Container {
                operation: op,
                container: target.to_owned(),
                message: format!("injected {op} failure"),
            });
        }
        Ok(())
    }

    fn answer_lost(&mut self, op: &'static str, target: &str) -> Result<()> {
        if let Some(left) = self
            .lost_answers
            .get_mut(&(op.to_owned(), target.to_owned()))
            && *left > 0
        {
            *left -= 1;
            return Err(Error::Container {
                operation: op,
                container: target.to_owned(),
                message: format!("{op} answer lost"),
            });
        }
        Ok(())
    }

    fn position(&self, id_or_name: &str) -> Result<usize> {
        self.containers
            .iter()
            .position(|c| c.id == id_or_name || c.name == id_or_name)
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                name: id_or_name.to_owned(),
            })
    }

    fn image(&self, id_or_reference: &str) -> Result<Image> {
        let id = self
            .tags
            .get(id_or_reference)
            .map_or(id_or_reference, String::as_str);
        self.images.get(id).cloned().ok_or_else(|| Error::NotFound {
            kind: "image",
            name: id_or_reference.to_owned(),
        })
    }
}

#[async_trait]
impl ContainerClient for FakeEngine {
    async fn list_containers(&self, options: ListOptions) -> Result<Vec<Container>> {
        self.with(|s| {
            s.log("list".to_owned());
            s.failing("list", "")?;
            Ok(s.containers
                .iter()
                .filter(|c| match c.state {
                    ContainerState::Running | ContainerState::Paused => true,
                    ContainerState::Created | ContainerState::Exited => options.include_stopped,
                    ContainerState::Restarting => options.include_restarting,
                    _ => false,
                })
                .cloned()
                .collect())
        })
    }

    async fn inspect_container(&self, id_or_name: &str) -> Result<Container> {
        self.with(|s| {
            let i = s.position(id_or_name)?;
            let id = s.containers[i].id.clone();
            if let Some((script, seen)) = s.running_scripts.get_mut(&id) {
                let step = script[(*seen).min(script.len() - 1)].clone();
                *seen += 1;
                let c = &mut s.containers[i];
                match step {
                    AfterStart::Running(health) => {
                        c.state = ContainerState::Running;
                        c.health = health;
                    }
                    AfterStart::Exited(code) => {
                        c.state = ContainerState::Exited;
                        c.exit_code = code;
                    }
                    AfterStart::Restarted(n) => {
                        c.state = ContainerState::Running;
                        c.restart_count = n;
                    }
                }
            }
            Ok(s.containers[i].clone())
        })
    }

    async fn inspect_image(&self, id_or_reference: &str) -> Result<Image> {
        self.with(|s| {
            s.log(format!("inspect_image {id_or_reference}"));
            s.image(id_or_reference)
        })
    }

    async fn pull_image(&self, reference: &str, _auth: Option<PullAuth>) -> Result<Image> {
        self.with(|s| {
            s.log(format!("pull {reference}"));
            s.failing("pull", reference)?;
            let id = s
                .remote
                .get(reference)
                .or_else(|| s.tags.get(reference))
                .cloned()
                .ok_or_else(|| Error::Image {
                    operation: "pull",
                    image: reference.to_owned(),
                    message: "manifest unknown".to_owned(),
                })?;
            s.tags.insert(reference.to_owned(), id.clone());
            s.image(&id)
        })
    }

    async fn stop_container(&self, id: &str, options: StopOptions) -> Result<()> {
        self.with(|s| {
            let i = s.position(id)?;
            // Updates rename a container aside before they stop it: calls and injected
            // failures name it by its original name.
            let c = &s.containers[i];
            let name = crate::reconcile::original_name(c)
                .unwrap_or(&c.name)
                .to_owned();
            s.log(format!(
                "stop {name} {} {}s",
                options.signal,
                options.timeout.as_secs()
            ));
            s.failing("stop", &name)?;
            let id = s.containers[i].id.clone();
            s.running_scripts.remove(&id);
            if s.vanish_on_stop.contains(&name) {
                s.containers.remove(i);
            } else {
                s.containers[i].state = ContainerState::Exited;
            }
            Ok(())
        })
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        self.with(|s| {
            let i = s.position(id)?;
            let name = s.containers[i].name.clone();
            s.log(format!("rename {name} -> {new_name}"));
            s.failing("rename", &name)?;
            if s.containers.iter().any(|c| c.name == new_name) {
                return Err(Error::Container {
                    operation: "rename",
                    container: name,
                    message: format!("name {new_name} is already in use"),
                });
            }
            new_name.clone_into(&mut s.containers[i].name);
            s.answer_lost("rename", &name)
        })
    }

    async fn remove_container(&self, id: &str, remove_volumes: bool) -> Result<()> {
        self.with(|s| {
            let Ok(i) = s.position(id) else {
                return Ok(());
            };
            let name = s.containers[i].name.clone();
            s.log(format!(
                "remove {name}{}",
                if remove_volumes { " +volumes" } else { "" }
            ));
            s.failing("remove", &name)?;
            s.containers.remove(i);
            Ok(())
        })
    }

    async fn create_container(&self, spec: &RecreateSpec) -> Result<String> {
        self.with(|s| {
            s.log(format!("create {} from {}", spec.name, spec.image));
            s.failing("create", &spec.name)?;
            if s.containers.iter().any(|c| c.name == spec.name) {
                return Err(Error::Container {
                    operation: "create",
                    container: spec.name.clone(),
                    message: "name already in use".to_owned(),
                });
            }
            let image = s.image(&spec.image)?;
            s.next_id += 1;
            let c = Container {
                id: fake_id(s.next_id),
                name: spec.name.clone(),
                image_reference: spec.image.clone(),
                image_id: image.id,
                state: ContainerState::Created,
                created: format!("2024-01-02T00:00:{:02}Z", s.next_id % 60),
                labels: spec.config.labels.clone(),
                network_mode: spec.network_mode.clone(),
                networks: spec.networks.clone(),
                config: spec.config.clone(),
                host_config: spec.host_config.clone(),
                ..Container::default()
            };
            let id = c.id.clone();
            s.containers.push(c);
            s.answer_lost("create", &spec.name)?;
            Ok(id)
        })
    }

    async fn connect_networks(&self, id: &str, _spec: &RecreateSpec) -> Result<()> {
        self.with(|s| {
            let i = s.position(id)?;
            let name = s.containers[i].name.clone();
            s.log(format!("connect {name}"));
            s.failing("connect", &name)
        })
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.with(|s| {
            let i = s.position(id)?;
            let name = s.containers[i].name.clone();
            s.log(format!("start {name}"));
            s.failing("start", &name)?;
            s.containers[i].state = ContainerState::Running;
            if let Some(script) = s.on_start.remove(&name) {
                let id = s.containers[i].id.clone();
                s.running_scripts.insert(id, (script, 0));
            }
            Ok(())
        })
    }

    async fn exec(
        &self,
        id: &str,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutcome> {
        let delay = self.with(|s| {
            let i = s.position(id)?;
            let name = s.containers[i].name.clone();
            s.log(format!(
                "exec {name} {command} {}",
                timeout.map_or("none".to_owned(), |t| format!("{}s", t.as_secs()))
            ));
            s.failing("exec", &name)?;
            Ok::<_, Error>(s.exec_delays.get(command).copied())
        })?;
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        self.with(|s| {
            Ok(s.exec_results.get(command).cloned().unwrap_or(ExecOutcome {
                exit_code: Some(0),
                output: String::new(),
            }))
        })
    }

    async fn tag_image(&self, image_id: &str, repository: &str, tag: &str) -> Result<()> {
        self.with(|s| {
            s.log(format!("tag {image_id} {repository}:{tag}"));
            s.failing("tag", image_id)?;
            s.image(image_id)?;
            s.tags
                .insert(format!("{repository}:{tag}"), image_id.to_owned());
            Ok(())
        })
    }

    async fn remove_image(&self, image_id: &str) -> Result<()> {
        self.with(|s| {
            s.log(format!("remove_image {image_id}"));
            s.failing("remove_image", image_id)?;
            s.images.remove(image_id);
            s.tags.retain(|_, id| id != image_id);
            Ok(())
        })
    }

    async fn engine_info(&self) -> Result<EngineInfo> {
        Ok(EngineInfo::default())
    }

    async fn wait_until_ready(&self, id: &str, timeout: Duration) -> Result<()> {
        self.with(|s| {
            let i = s.position(id)?;
            let name = s.containers[i].name.clone();
            s.log(format!("wait_ready {name} {}s", timeout.as_secs()));
            if s.failing("wait_ready", &name).is_err() {
                s.containers[i].state = ContainerState::Exited;
                return Err(Error::Container {
                    operation: "wait",
                    container: name,
                    message: "exited with code 1".to_owned(),
                });
            }
            Ok(())
        })
    }
}

/// A registry with fixed answers per reference (default: fresh), counting questions.
#[derive(Default)]
pub(crate) struct FakeRegistry {
    answers: Mutex<HashMap<ImageReference, Freshness>>,
    asked: Mutex<Vec<ImageReference>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeRegistry {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn answer(&self, reference: &str, freshness: Freshness) {
        self.answers
            .lock()
            .unwrap()
            .insert(parsed(reference), freshness);
    }

    pub(crate) fn stale(&self, reference: &str) {
        self.answer(
            reference,
            Freshness::Stale {
                remote_digest: "sha256:remote".into(),
            },
        );
    }

    /// The references asked about, in the order asked.
    pub(crate) fn asked(&self) -> Vec<ImageReference> {
        self.asked.lock().unwrap().clone()
    }

    /// Whether exactly `expected` were asked about, in any order.
    pub(crate) fn asked_only(&self, expected: &[&str]) -> bool {
        let mut asked: Vec<String> = self.asked().iter().map(ToString::to_string).collect();
        let mut expected: Vec<String> = expected.iter().map(|e| parsed(e).to_string()).collect();
        asked.sort();
        expected.sort();
        asked == expected
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl FreshnessChecker for FakeRegistry {
    async fn check(&self, query: &FreshnessQuery) -> Freshness {
        self.asked.lock().unwrap().push(query.reference.clone());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.answers
            .lock()
            .unwrap()
            .get(&query.reference)
            .cloned()
            .unwrap_or(Freshness::Fresh)
    }

    async fn pull_auth(
        &self,
        _reference: &ImageReference,
    ) -> std::result::Result<Option<PullAuth>, crate::Error> {
        Ok(None)
    }
}
