//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{deps, engine};

/// Environment variable that turns a skipped Docker-backed test into a failure.
const E2E_VAR: &str = "WATCHTOWER_E2E";

pub(crate) fn run() -> Result<()> {
    deps::ensure_all()?;

    // CI must not pass because the Docker-backed tests quietly skipped. A developer who
    // wants the skip can run `cargo test` directly, or set WATCHTOWER_E2E=optional.
    let e2e = std::env::var(E2E_VAR).unwrap_or_else(|_| "required".to_owned());

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
    tests.env(E2E_VAR, &e2e);
    step("tests", tests)?;
    if deps::has_nextest() {
        // nextest does not run doctests.
        let mut doctests = cargo(&["test", "--workspace", "--locked", "--doc"]);
        doctests.env(E2E_VAR, &e2e);
        step("doctests", doctests)?;
    }

    step("leftovers", LeftoverCheck)?;
    step(
        "cargo-deny",
        cargo(&["deny", "--locked", "check", "bans", "licenses", "sources"]),
    )?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.args(args);
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

/// After the tests, nothing the testkit created may be left behind.
struct LeftoverCheck;

impl Step for LeftoverCheck {
    fn execute(self) -> Result<()> {
        let leftovers = engine::testkit_leftovers()?;
        if !leftovers.is_empty() {
            bail!(
                "the test suite left Docker objects behind:\n  {}",
                leftovers.join("\n  ")
            );
        }
        Ok(())
    }
}

fn step(name: &str, what: impl Step) -> Result<()> {
    eprintln!("xtask ci: == {name} ==");
    what.execute().with_context(|| format!("step `{name}`"))
}
