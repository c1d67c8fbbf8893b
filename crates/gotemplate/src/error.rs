//! Why a template could not be parsed or run.

/// A template error: at parse time (the text is not a valid template) or at run time (the
/// text is valid but could not run with this data). The original falls back to its default
/// template only on the first kind, so callers tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The template text is not valid.
    #[error("template: line {line}: {message}")]
    Parse {
        /// 1-based line of the template.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Running the template failed (unknown field, wrong argument types, limits).
    #[error("template: line {line}: executing: {message}")]
    Exec {
        /// 1-based line of the template.
        line: usize,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Whether the template text itself is invalid (as opposed to failing while it ran).
    pub fn is_parse(&self) -> bool {
        matches!(self, Error::Parse { .. })
    }
}
