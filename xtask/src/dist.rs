//! `cargo xtask dist [--binary-only]`: the release binary, statically linked, and the container
//! image `watchtower-rs/watchtower:<version>` (and `:latest`) built from `dist/Dockerfile`.
//!
//! The binary is built for `x86_64-unknown-linux-gnu` with `-C target-feature=+crt-static`
//! (glibc linked in), so the image needs no loader and no shared library: `FROM scratch`, the
//! binary, and Debian's time-zone database from this machine (`/usr/share/zoneinfo` without the
//! leap-second `right/` zones). No base image is pulled. The build context is
//! `target/dist/context`; the sizes of the binary and the image are printed at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail, ensure};

/// The image's repository; `cargo xtask dist` tags `<IMAGE>:<version>` and `<IMAGE>:latest`.
pub(crate) const IMAGE: &str = "watchtower-rs/watchtower";
/// The only target installed on the build machines; its glibc links statically.
const TARGET: &str = "x86_64-unknown-linux-gnu";
/// How the shipped binary is linked (measured on 0.1.0: 9.21 MB static-PIE without RELR,
/// 8.73 MB with it):
/// - `+crt-static`: glibc linked in, so no loader or shared library is needed at run time;
/// - `-z pack-relative-relocs` (binutils 2.38+, glibc 2.36+): the position-independent
///   binary's ~480 KB of relative relocations packed as RELR, keeping ASLR for the binary.
const RUSTFLAGS: &[&str] = &[
    "-Ctarget-feature=+crt-static",
    "-Clink-arg=-Wl,-z,pack-relative-relocs",
];
/// Where the time-zone database comes from (Debian's `tzdata`).
const ZONEINFO: &str = "/usr/share/zoneinfo";
/// Leap-second variants of every zone: twice the size, and nothing reads them unless `TZ`
/// names `right/...` explicitly.
const ZONEINFO_SKIPPED: &[&str] = &["right"];

/// `<IMAGE>:<version>` for this workspace's version.
pub(crate) fn image_tag() -> String {
    format!("{IMAGE}:{}", env!("CARGO_PKG_VERSION"))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let binary_only = match args {
        [] => false,
        [flag] if flag == "--binary-only" => true,
        _ => bail!("usage: cargo xtask dist [--binary-only]"),
    };
    let binary = build_binary()?;
    if !binary_only {
        build_image(&binary)?;
    }
    Ok(())
}

/// Builds the static release binary and returns its path.
pub(crate) fn build_binary() -> Result<PathBuf> {
    let root = workspace_root();
    let started = SystemTime::now();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cargo
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "--package",
            "watchtower",
            "--bin",
            "watchtower",
            "--target",
            TARGET,
        ])
        // With an explicit --target these flags reach only the target's crates, not build
        // scripts and proc macros (which must stay dynamic to be loaded by rustc). The encoded
        // form wins over RUSTFLAGS and any config, so a developer's flags cannot make the
        // binary dynamic by accident.
        .env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MANIFEST_DIR");
    let status = cargo
        .status()
        .with_context(|| format!("could not start {cargo:?}"))?;
    ensure!(status.success(), "{cargo:?} failed with {status}");
    let binary = target_dir(&root)
        .join(TARGET)
        .join("release")
        .join("watchtower");
    let bytes = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    ensure!(
        !has_interpreter(&bytes)?,
        "{} asks for a dynamic loader (PT_INTERP): it would not start in a FROM scratch image",
        binary.display()
    );
    eprintln!(
        "xtask dist: {} is {} bytes ({:.2} MB), statically linked, built in {:.0} s",
        binary.display(),
        bytes.len(),
        mb(bytes.len() as u64),
        started.elapsed().unwrap_or_default().as_secs_f64()
    );
    Ok(binary)
}

/// Prepares the build context next to `binary` and builds the image from `dist/Dockerfile`.
pub(crate) fn build_image(binary: &Path) -> Result<String> {
    let root = workspace_root();
    let context = target_dir(&root).join("dist").join("context");
    if context.exists() {
        std::fs::remove_dir_all(&context)
            .with_context(|| format!("removing the old {}", context.display()))?;
    }
    std::fs::create_dir_all(&context).with_context(|| format!("creating {}", context.display()))?;
    std::fs::copy(binary, context.join("watchtower"))
        .with_context(|| format!("copying {} into the build context", binary.display()))?;
    let zoneinfo = Path::new(ZONEINFO);
    ensure!(
        zoneinfo.join("UTC").exists(),
        "{ZONEINFO} is missing: install Debian's tzdata (apt-get install tzdata)"
    );
    copy_tree(zoneinfo, &context.join("zoneinfo"), ZONEINFO_SKIPPED)?;

    let tag = image_tag();
    let latest = format!("{IMAGE}:latest");
    let mut docker = Command::new("docker");
    docker
        .current_dir(&root)
        .args(["build", "--file"])
        .arg(root.join("dist").join("Dockerfile"))
        .args([
            "--build-arg",
            &format!("VERSION={}", env!("CARGO_PKG_VERSION")),
        ])
        .args(["--tag", &tag, "--tag", &latest])
        // FROM scratch needs no network, and the classic builder behaves the same on every
        // engine the project tests (20.10, 26.1, 28+).
        .args(["--network", "none"])
        .env("DOCKER_BUILDKIT", "0")
        .arg(&context);
    let status = docker
        .status()
        .with_context(|| format!("could not start {docker:?} (is the docker CLI installed?)"))?;
    ensure!(status.success(), "{docker:?} failed with {status}");

    let size = image_size(&tag)?;
    eprintln!(
        "xtask dist: image {tag} (also {latest}) is {size} bytes ({:.2} MB)",
        mb(size)
    );
    Ok(tag)
}

/// `docker image inspect -f '{{.Size}}' <tag>`.
fn image_size(tag: &str) -> Result<u64> {
    let output = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", tag])
        .output()
        .context("running docker image inspect")?;
    ensure!(
        output.status.success(),
        "docker image inspect {tag} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("docker image inspect printed {text:?} as the size"))
}

/// Whether an ELF64 little-endian executable has a `PT_INTERP` program header (asks for a
/// dynamic loader). Static-PIE binaries have `PT_DYNAMIC` but no `PT_INTERP`.
fn has_interpreter(elf: &[u8]) -> Result<bool> {
    const PT_INTERP: u32 = 3;
    ensure!(
        elf.len() >= 64 && elf.starts_with(b"\x7fELF") && elf[4] == 2 && elf[5] == 1,
        "not a 64-bit little-endian ELF file"
    );
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]);
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes"));
    let phoff = usize::try_from(phoff).context("program header offset")?;
    let entry_size = usize::from(u16_at(0x36));
    let count = usize::from(u16_at(0x38));
    ensure!(
        entry_size >= 4 && phoff + entry_size * count <= elf.len(),
        "program headers out of bounds"
    );
    Ok((0..count).any(|i| {
        let at = phoff + i * entry_size;
        u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes")) == PT_INTERP
    }))
}

/// Copies the tree `from` to `to`, keeping symbolic links as links, leaving out the top-level
/// entries named in `skip`.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let entries = std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&source)?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("linking {}", target.display()))?;
        } else if kind.is_dir() {
            copy_tree(&source, &target, &[])?;
        } else {
            std::fs::copy(&source, &target)
                .with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}

#[allow(clippy::cast_precision_loss)] // sizes far below 2^52 bytes
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with `types` as its program headers.
    fn elf(types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64 + 56 * types.len()];
        bytes[..6].copy_from_slice(b"\x7fELF\x02\x01");
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        let count = u16::try_from(types.len()).expect("few headers");
        bytes[0x38..0x3a].copy_from_slice(&count.to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            let at = 64 + 56 * i;
            bytes[at..at + 4].copy_from_slice(&t.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn a_loader_request_is_found_and_static_pie_passes() {
        // PT_PHDR, PT_INTERP, PT_LOAD: a dynamically linked executable.
        assert!(has_interpreter(&elf(&[6, 3, 1])).unwrap());
        // PT_LOAD, PT_DYNAMIC, PT_GNU_STACK: static-pie.
        assert!(!has_interpreter(&elf(&[1, 2, 0x6474_e551])).unwrap());
        assert!(has_interpreter(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn this_machine_s_own_executables_are_told_apart() {
        // The test executable itself is linked dynamically (no +crt-static in tests).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(has_interpreter(&me).unwrap());
    }

    #[test]
    fn the_tree_copy_keeps_links_and_skips_names() {
        let from = std::env::temp_dir().join(format!("xtask-dist-from-{}", std::process::id()));
        let to = std::env::temp_dir().join(format!("xtask-dist-to-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&from);
        let _ = std::fs::remove_dir_all(&to);
        std::fs::create_dir_all(from.join("Europe")).unwrap();
        std::fs::create_dir_all(from.join("right")).unwrap();
        std::fs::write(from.join("Europe/Berlin"), b"TZif").unwrap();
        std::fs::write(from.join("right/UTC"), b"TZif").unwrap();
        std::os::unix::fs::symlink("Europe/Berlin", from.join("Berlin")).unwrap();
        copy_tree(&from, &to, &["right"]).unwrap();
        assert_eq!(std::fs::read(to.join("Europe/Berlin")).unwrap(), b"TZif");
        assert_eq!(
            std::fs::read_link(to.join("Berlin")).unwrap(),
            Path::new("Europe/Berlin")
        );
        assert!(!to.join("right").exists());
        std::fs::remove_dir_all(&from).unwrap();
        std::fs::remove_dir_all(&to).unwrap();
    }
}
