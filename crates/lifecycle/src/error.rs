//! Errors of the lifecycle hooks.

use crate::Hook;

/// A hook could not be run at all (as opposed to running and failing, which is a
/// [`crate::HookOutcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed the exec.
    #[error("{hook} hook in container {container}: {source}")]
    Exec {
        /// Which hook.
        hook: Hook,
        /// Container name.
        container: String,
        /// What the engine said.
        #[source]
        source: watchtower_container_client::Error,
    },
}
