//! Prints the registry's digest for an image reference.
//!
//! ```text
//! cargo run -p watchtower-registry-digest --example check -- nginx:latest
//! cargo run -p watchtower-registry-digest --example check -- --registry-ca ca.pem registry.lan/app:1
//! ```
//!
//! Credentials come from `REPO_USER`/`REPO_PASS` or `$DOCKER_CONFIG/config.json`; registries on
//! 127.0.0.0/8 may be plain HTTP, as a default Docker Engine allows. Exit status 1 on failure.

use std::process::ExitCode;
use std::time::SystemTime;

use watchtower_registry_auth::{CredentialStore, ImageReference};
use watchtower_registry_digest::{Registry, RegistryOptions};
use watchtower_tls_config::TlsSettings;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("check: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut ca = None;
    let mut insecure = false;
    let mut reference = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--registry-ca" => {
                ca = Some(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--registry-ca needs a file"))?,
                );
            }
            "--insecure-registry" => insecure = true,
            "-h" | "--help" => {
                println!("usage: check [--registry-ca FILE] [--insecure-registry] IMAGE");
                return Ok(());
            }
            other if reference.is_none() => reference = Some(other.to_owned()),
            other => anyhow::bail!("unexpected argument {other:?}"),
        }
    }
    let reference = reference.ok_or_else(|| {
        anyhow::anyhow!("usage: check [--registry-ca FILE] [--insecure-registry] IMAGE")
    })?;
    let image = ImageReference::parse(&reference)?;
    let tls = TlsSettings::from_flags(
        ca.as_deref().map(std::path::Path::new),
        true,
        insecure,
        SystemTime::now(),
    )?;
    let registry = Registry::new(RegistryOptions {
        tls,
        credentials: CredentialStore::from_env(),
        ..RegistryOptions::default()
    })?;
    let remote = registry.remote_digest(&image).await?;
    println!("{image} {}", remote.digest);
    if let Some(rl) = remote.rate_limit {
        eprintln!("rate limit: {} remaining of {:?}", rl.remaining, rl.limit);
    }
    Ok(())
}
