//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{deps, dist, engine, second_engine};

/// Environment variable that turns a skipped Docker-backed test into a failure.
const E2E_VAR: &str = "WATCHTOWER_E2E";
/// Environment variable naming the image the image tests run.
const IMAGE_VAR: &str = "WATCHTOWER_IMAGE";

pub(crate) fn run() -> Result<()> {
    deps::ensure_all()?;

    // CI must not pass because the Docker-backed tests quietly skipped. A developer who
    // wants the skip can run `cargo test` directly, or set WATCHTOWER_E2E=optional.
    let e2e = std::env::var(E2E_VAR).unwrap_or_else(|_| "required".to_owned());
    // Everything the tests create is tagged with this session, so that the leftover check
    // afterwards looks at this run only, even when other test runs share the engine.
    let session = format!("xtask-ci-{}", std::process::id());

    step("format", cargo(&["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut doc = cargo(&["doc", "--workspace", "--no-deps", "--locked"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    step("rustdoc", doc)?;

    // Every crate must be packageable for crates.io (nothing is uploaded; xtask, which uses
    // the path-only testkit, is the project's tooling and never a crate). Without
    // verification (about 20 s): verifying rebuilds every package alone from its tarball, a
    // second debug build of the whole dependency tree that clippy, rustdoc and the tests
    // already cover for the same sources.
    step(
        "package",
        cargo(&[
            "package",
            "--workspace",
            "--exclude",
            "xtask",
            "--locked",
            "--no-verify",
            "--allow-dirty",
        ]),
    )?;

    // The release binary and the image, built once; the image tests (tests/tests/image.rs)
    // in the test step run that image.
    step("image", Task(|| dist::run(&[])))?;

    let mut tests = if deps::has_nextest() {
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ])
    } else {
        cargo(&["test", "--workspace", "--locked", "--no-fail-fast"])
    };
    tests
        .env(E2E_VAR, &e2e)
        .env(engine::SESSION_ENV, &session)
        .env(IMAGE_VAR, dist::image_tag());
    step("tests", tests)?;
    if deps::has_nextest() {
        // nextest does not run doctests.
        let mut doctests = cargo(&["test", "--workspace", "--locked", "--doc"]);
        doctests
            .env(E2E_VAR, &e2e)
            .env(engine::SESSION_ENV, &session);
        step("doctests", doctests)?;
    }
    // The engine tests and the end-to-end suite again, on Docker Engine 26.1 (API 1.45) and on
    // Docker 28+ set up as Docker 29 ships (API 1.44 at the oldest, containerd image store),
    // each started beside this machine's engine in turn.
    for flavour in [second_engine::ENGINE_26, second_engine::ENGINE_28] {
        step(
            &format!("engine tests on {}", flavour.title),
            second_engine::ci_step(flavour, &e2e, &session),
        )?;
    }

    step("leftovers", LeftoverCheck { session })?;
    step(
        "cargo-deny",
        cargo(&["deny", "--locked", "check", "bans", "licenses", "sources"]),
    )?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    // `cargo run` sets this for xtask; build scripts that watch it (ring's) would rebuild
    // everything above them whenever a developer switches between xtask and plain cargo.
    cmd.args(args).env_remove("CARGO_MANIFEST_DIR");
    cmd
}

/// Something a CI step runs.
trait Step {
    fn execute(self) -> Result<()>;
}

impl Step for Command {
    fn execute(mut self) -> Result<()> {
        let status = self
            .status()
            .with_context(|| format!("could not start {self:?}"))?;
        if !status.success() {
            bail!("{self:?} failed with {status}");
        }
        Ok(())
    }
}

/// A step written in Rust rather than run as a command.
struct Task<F>(F);

impl<F: FnOnce() -> Result<()>> Step for Task<F> {
    fn execute(self) -> Result<()> {
        (self.0)()
    }
}

/// After the tests, nothing they created may be left behind: no Docker object of this session,
/// no process that inherited the session variable (registries, SMTP servers, the binary), no
/// registry storage folder of a test process that has ended.
struct LeftoverCheck {
    session: String,
}

impl Step for LeftoverCheck {
    fn execute(self) -> Result<()> {
        let mut leftovers = engine::testkit_leftovers(&self.session)?;
        leftovers.extend(leftover_processes(&self.session));
        leftovers.extend(leftover_registry_dirs());
        if !leftovers.is_empty() {
            bail!(
                "the test suite left things behind:\n  {}",
                leftovers.join("\n  ")
            );
        }
        Ok(())
    }
}

/// Live processes whose environment carries this session (they were started by the tests).
fn leftover_processes(session: &str) -> Vec<String> {
    let marker = format!("{}={session}", engine::SESSION_ENV);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| {
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let ours = environ
                .split(|&b| b == 0)
                .any(|var| var == marker.as_bytes());
            ours.then(|| {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                format!(
                    "process {}: {}",
                    entry.file_name().to_string_lossy(),
                    cmdline.trim()
                )
            })
        })
        .collect()
}

/// Registry storage folders (`<tmp>/watchtower-testkit-registry-<pid>-*`) whose test process
/// has ended.
fn leftover_registry_dirs() -> Vec<String> {
    const PREFIX: &str = "watchtower-testkit-registry-";
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix(PREFIX)?.split('-').next()?.to_owned();
            let alive = std::path::Path::new("/proc").join(&pid).exists();
            (!alive).then(|| format!("folder {}", entry.path().display()))
        })
        .collect()
}

fn step(name: &str, what: impl Step) -> Result<()> {
    eprintln!("xtask ci: == {name} ==");
    what.execute().with_context(|| format!("step `{name}`"))
}
