//! Errors of this crate.

/// What can go wrong when reading report values back from text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A state name that is none of `Skipped`, `Scanned`, `Updated`, `Failed`, `Fresh`, `Stale`.
    #[error(
        "unknown container state {value:?} (expected one of Skipped, Scanned, Updated, Failed, Fresh, Stale)"
    )]
    UnknownState {
        /// The text that was given.
        value: String,
    },
    /// A failed-step name that [`crate::FailedStep`] does not know.
    #[error("unknown failed step {value:?} (expected one of {expected})")]
    UnknownFailedStep {
        /// The text that was given.
        value: String,
        /// The accepted names, comma separated.
        expected: String,
    },
}
