//! Installs what the test suite needs when it is missing, so that a fresh machine runs
//! `cargo xtask ci` with nothing installed by hand.
//!
//! - Debian's `docker-registry` (the CNCF distribution registry) and `busybox-static`
//!   (the only binary inside the fixture images);
//! - a Docker Engine (`docker.io`, then `dockerd` started in the background), only when none
//!   answers on `DOCKER_HOST` or the default socket;
//! - `cargo-deny` from crates.io;
//! - Debian's `prometheus` for its `promtool`, which checks what `/v1/metrics` serves
//!   (`crates/http-api/tests/promtool.rs`); the Prometheus server it also ships is not run;
//! - `aiosmtpd` from the Python package index, the SMTP server the notification tests talk to;
//! - Debian's `golang-go` (Go 1.19, standard library only), which the notification template
//!   test (`crates/notify/tests/go_differential.rs`) builds its Go renderer with;
//! - Debian's `docker-compose`, which the image test runs the original's compose file with
//!   (`tests/tests/image.rs`);
//! - `schemathesis` from the Python package index, pinned to `SCHEMATHESIS_VERSION`, in a
//!   virtualenv at `target/schemathesis-venv` (its many dependencies stay out of the system
//!   python), which `tests/tests/api.rs` runs against the binary's `OpenAPI` document.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::engine;

pub(crate) fn ensure_all() -> Result<()> {
    let mut packages = Vec::new();
    if !on_path("docker-registry") {
        packages.push("docker-registry");
    }
    if !dpkg_installed("busybox-static") {
        packages.push("busybox-static");
    }
    if !on_path("go") {
        packages.push("golang-go");
    }
    let engine_missing = !engine::answers();
    if engine_missing && !on_path("dockerd") {
        packages.push("docker.io");
    }
    if !on_path("docker-compose") {
        packages.push("docker-compose");
    }
    if !on_path("promtool") {
        packages.push("prometheus");
    }
    if !packages.is_empty() {
        apt_install(&packages)?;
    }
    if engine_missing {
        start_dockerd()?;
    }
    ensure_aiosmtpd()?;
    ensure_schemathesis()?;
    if !cargo_subcommand_works("deny") {
        eprintln!("xtask: installing cargo-deny from crates.io (first run only)");
        let status = Command::new(cargo())
            .args(["install", "cargo-deny", "--locked"])
            .status()
            .context("could not run cargo install")?;
        if !status.success() {
            bail!("cargo install cargo-deny failed with {status}");
        }
    }
    Ok(())
}

pub(crate) fn has_nextest() -> bool {
    cargo_subcommand_works("nextest")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn cargo_subcommand_works(name: &str) -> bool {
    Command::new(cargo())
        .args([name, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

/// Runs a command as root: directly when we are root, else through `sudo -n`.
fn as_root(program: &str, args: &[&str]) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    if is_root {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg("-n").arg(program).args(args);
        cmd
    }
}

fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("xtask: installing Debian packages: {}", packages.join(" "));
    let install = |update_first: bool| -> Result<bool> {
        if update_first {
            let status = as_root("apt-get", &["update", "-qq"])
                .status()
                .context("could not run apt-get update")?;
            if !status.success() {
                bail!("apt-get update failed with {status}");
            }
        }
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend_from_slice(packages);
        let status = as_root("apt-get", &args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("could not run apt-get install")?;
        Ok(status.success())
    };
    // The package lists of a fresh machine may be missing or stale: update and retry once.
    if install(false)? || install(true)? {
        Ok(())
    } else {
        bail!("apt-get install {} failed", packages.join(" "))
    }
}

fn start_dockerd() -> Result<()> {
    eprintln!("xtask: no Docker Engine answers; starting dockerd in the background");
    let log = std::fs::File::create("/tmp/xtask-dockerd.log").context("create dockerd log")?;
    as_root("dockerd", &[])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("could not start dockerd")?;
    for _ in 0..120 {
        if engine::answers() {
            eprintln!("xtask: dockerd answers");
            return Ok(());
        }
        #[allow(clippy::disallowed_methods)] // xtask is synchronous: no runtime to sleep on
        std::thread::sleep(Duration::from_millis(500));
    }
    let tail = std::fs::read_to_string(Path::new("/tmp/xtask-dockerd.log")).unwrap_or_default();
    bail!(
        "dockerd did not answer within 60 s; its log ends with:\n{}",
        tail.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    )
}

/// The notification tests start a real SMTP server: aiosmtpd for the `python3` on PATH.
/// A pyenv or virtualenv python takes it from the Python package index; a Debian system
/// python refuses pip (PEP 668, "externally managed"), so there it comes from Debian's
/// `python3-aiosmtpd`.
fn ensure_aiosmtpd() -> Result<()> {
    let importable = || {
        Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if importable() {
        return Ok(());
    }
    eprintln!("xtask: installing aiosmtpd for python3 (first run only)");
    let pip = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
        .status()
        .context("could not run python3 -m pip")?;
    if !pip.success() || !importable() {
        eprintln!(
            "xtask: pip could not install aiosmtpd ({pip}); trying Debian's python3-aiosmtpd"
        );
        apt_install(&["python3-aiosmtpd"])?;
    }
    if !importable() {
        bail!("aiosmtpd is still not importable by python3 after pip and apt");
    }
    Ok(())
}

/// The schemathesis release the API test is written for (its command line changed between
/// 3.x and 4.x).
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// `target/schemathesis-venv`, where `tests/tests/api.rs` looks for `bin/schemathesis`.
fn schemathesis_venv() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("target/schemathesis-venv")
}

/// schemathesis `SCHEMATHESIS_VERSION` in its own virtualenv. A Debian system python
/// without `ensurepip` cannot make one: then Debian's `python3-venv` is installed first.
fn ensure_schemathesis() -> Result<()> {
    let venv = schemathesis_venv();
    let bin = venv.join("bin/schemathesis");
    let installed = || {
        Command::new(&bin)
            .arg("--version")
            .output()
            .is_ok_and(|out| {
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains(SCHEMATHESIS_VERSION)
            })
    };
    if installed() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing schemathesis {SCHEMATHESIS_VERSION} into {} (first run only)",
        venv.display()
    );
    let make_venv = || {
        Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !make_venv() {
        apt_install(&["python3-venv"])?;
        if !make_venv() {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    let pip = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}"))
        .status()
        .context("could not run pip in the schemathesis virtualenv")?;
    if !pip.success() || !installed() {
        bail!("pip could not install schemathesis {SCHEMATHESIS_VERSION} ({pip})");
    }
    Ok(())
}
