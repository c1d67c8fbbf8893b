//! The seam to the registry: "is the image this container runs still what the registry
//! serves under its tag?".

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use futures_util::stream;
use watchtower_container_client::PullAuth;
use watchtower_registry_auth::ImageReference;

use crate::Error;
use crate::image_ref::ImageName;

/// One question to the registry: `reference` (`host/repo:tag`) against the local image's
/// `RepoDigests` (`host/repo@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FreshnessQuery {
    /// The image reference, parsed (a reference without a tag means `latest`).
    pub reference: ImageReference,
    /// The `RepoDigests` of the image the container runs.
    pub repo_digests: Vec<String>,
}

/// The registry's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The registry serves the digest the local image has.
    Fresh,
    /// The registry serves another digest.
    Stale {
        /// The digest the registry serves (`sha256:…`).
        remote_digest: String,
    },
    /// The registry could not tell (unreachable, refused, no digest header, …).
    Unknown {
        /// Why, for logs and the report; never contains credentials.
        reason: String,
    },
}

/// Asks a registry whether images are fresh, and says how to pull them.
///
/// Implemented for the registry client of `watchtower-registry-digest` by
/// [`RegistryChecker`](crate::RegistryChecker) (what the binary uses); tests use fakes.
/// Implementations never panic and never put credentials into `reason`s or errors; callers
/// do not trust them to answer every query of [`check_many`](Self::check_many) either.
#[async_trait]
pub trait FreshnessChecker: Send + Sync {
    /// Checks one reference (a `HEAD` of its manifest, compared with the digests).
    async fn check(&self, query: &FreshnessQuery) -> Freshness;

    /// Checks distinct references concurrently, at most `concurrency` at a time (an
    /// implementation may bound further, e.g. per registry). Answers come in query order.
    async fn check_many(&self, queries: &[FreshnessQuery], concurrency: usize) -> Vec<Freshness> {
        let checks: Vec<_> = queries.iter().map(|q| self.check(q)).collect();
        stream::iter(checks)
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// The credentials the engine should pull `reference` with (`None`: anonymous).
    async fn pull_auth(&self, reference: &ImageReference) -> Result<Option<PullAuth>, Error>;
}

#[async_trait]
impl<T: FreshnessChecker + ?Sized> FreshnessChecker for Arc<T> {
    async fn check(&self, query: &FreshnessQuery) -> Freshness {
        (**self).check(query).await
    }

    async fn check_many(&self, queries: &[FreshnessQuery], concurrency: usize) -> Vec<Freshness> {
        (**self).check_many(queries, concurrency).await
    }

    async fn pull_auth(&self, reference: &ImageReference) -> Result<Option<PullAuth>, Error> {
        (**self).pull_auth(reference).await
    }
}

/// How loudly a failed registry check is logged (`--warn-on-head-failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WarnOnHeadFailure {
    /// Always at warn.
    Always,
    /// Never at warn (debug).
    Never,
    /// At warn only for registries that rate-limit pulls (Docker Hub, GitHub) and for
    /// references that do not parse; debug otherwise.
    #[default]
    Auto,
}

impl WarnOnHeadFailure {
    /// Whether a failed check of `reference` (whose registry is `host`) is logged at warn.
    pub fn warns_for(self, host: &str) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => matches!(host, "index.docker.io" | "ghcr.io"),
        }
    }

    /// Whether a failed check of `image` is logged at warn: [`warns_for`](Self::warns_for)
    /// its registry host, and with `Auto` also when the reference does not parse.
    pub fn warns_for_image(self, image: &ImageName) -> bool {
        match image.registry_host() {
            Some(host) => self.warns_for(host),
            None => self != Self::Never,
        }
    }
}

impl FromStr for WarnOnHeadFailure {
    type Err = std::convert::Infallible;

    /// `always`, `never`, anything else `auto` (as the original: an empty or unknown value
    /// behaves like `auto`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "always" => Self::Always,
            "never" => Self::Never,
            _ => Self::Auto,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_levels() {
        let parse = |s: &str| s.parse::<WarnOnHeadFailure>().unwrap();
        assert_eq!(parse("always"), WarnOnHeadFailure::Always);
        assert_eq!(parse("Never"), WarnOnHeadFailure::Never);
        assert_eq!(parse(""), WarnOnHeadFailure::Auto);
        assert_eq!(parse("sometimes"), WarnOnHeadFailure::Auto);
        assert!(WarnOnHeadFailure::Auto.warns_for("index.docker.io"));
        assert!(WarnOnHeadFailure::Auto.warns_for("ghcr.io"));
        assert!(!WarnOnHeadFailure::Auto.warns_for("127.0.0.1:5000"));
        assert!(WarnOnHeadFailure::Always.warns_for("127.0.0.1:5000"));
        assert!(!WarnOnHeadFailure::Never.warns_for("ghcr.io"));
        let auto = WarnOnHeadFailure::Auto;
        assert!(auto.warns_for_image(&ImageName::parse("nginx:latest")));
        assert!(auto.warns_for_image(&ImageName::parse("docker.io/team/app")));
        assert!(!auto.warns_for_image(&ImageName::parse("127.0.0.1:5000/app:1")));
        assert!(
            auto.warns_for_image(&ImageName::parse("127.0.0.1:5000/Team/App:1")),
            "does not parse"
        );
        assert!(!WarnOnHeadFailure::Never.warns_for_image(&ImageName::parse("Bad Ref")));
        assert!(WarnOnHeadFailure::Always.warns_for_image(&ImageName::parse("127.0.0.1:5000/app")));
    }
}
