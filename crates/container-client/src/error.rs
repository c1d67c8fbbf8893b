//! Errors of the container client.

/// What went wrong talking to the container engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The container or image does not exist.
    #[error("{kind} {name} not found")]
    NotFound {
        /// `container` or `image`.
        kind: &'static str,
        /// The ID or name asked for.
        name: String,
    },
    /// The engine refused or failed an operation on a container.
    #[error("{operation} container {container}: {message}")]
    Container {
        /// What was attempted (`stop`, `create`, ...).
        operation: &'static str,
        /// Container name or ID.
        container: String,
        /// The engine's message.
        message: String,
    },
    /// The engine refused or failed an operation on an image.
    #[error("{operation} image {image}: {message}")]
    Image {
        /// What was attempted (`pull`, `remove`, ...).
        operation: &'static str,
        /// Image reference or ID.
        image: String,
        /// The engine's message.
        message: String,
    },
    /// The engine could not be reached or answered nonsense.
    #[error("docker engine at {host}: {message}")]
    Engine {
        /// The engine address.
        host: String,
        /// What happened.
        message: String,
    },
    /// A wait ran out of time.
    #[error("{what} of container {container} timed out after {seconds} s")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// Container name or ID.
        container: String,
        /// The limit.
        seconds: u64,
    },
    /// A Docker API version that does not parse (`--api-version`, `DOCKER_API_VERSION`).
    #[error("invalid docker api version {value:?}: expected MAJOR.MINOR such as 1.41")]
    InvalidApiVersion {
        /// What was given.
        value: String,
    },
    /// An image reference this crate cannot pull.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// What was given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The Docker connection settings cannot be used (`DOCKER_HOST`, certificates).
    #[error("docker connection settings: {message}")]
    Config {
        /// What is wrong, naming the setting or file.
        message: String,
    },
}
