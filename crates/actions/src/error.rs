//! Errors of the update engine.
//!
//! Only what stops a whole session (or a start-up step) is an `Error`; what goes wrong for
//! one container is recorded in that container's line of the report instead.

/// What stopped a session or a start-up step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine could not list containers, so nothing could be checked.
    #[error("listing containers: {source}")]
    List {
        /// What the engine said.
        #[source]
        source: watchtower_container_client::Error,
    },
    /// A container name given to watch is neither a name nor a valid regular expression.
    #[error("container name pattern {pattern:?} is not a valid regular expression: {message}")]
    InvalidNamePattern {
        /// The pattern as given.
        pattern: String,
        /// Why it does not compile.
        message: String,
    },
    /// Credentials for pulling an image could not be read (the Docker config file is
    /// unreadable or malformed, a credential helper failed).
    #[error("credentials for {image}: {message}")]
    Credentials {
        /// The image reference.
        image: String,
        /// What went wrong (never the secret itself).
        message: String,
    },
    /// The registry client could not be built (TLS settings, CA bundle).
    #[error("registry client: {message}")]
    RegistrySetup {
        /// What went wrong.
        message: String,
    },
    /// `--rolling-restart` was asked for, but a watched container depends on another one.
    #[error(
        "container {container} depends on {depends_on}; this is not compatible with rolling restarts (links, the depends-on label and network_mode container:<x> all count)"
    )]
    RollingRestartWithDependencies {
        /// The dependent container.
        container: String,
        /// What it depends on.
        depends_on: String,
    },
    /// Some excess watchtower instances could not be stopped.
    #[error("{failed} of {excess} other watchtower instances could not be stopped")]
    ExcessInstances {
        /// How many stops failed.
        failed: usize,
        /// How many instances were to be stopped.
        excess: usize,
    },
}
