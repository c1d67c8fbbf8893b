//! One container's line in the report, and what the engine tells the builder about a container.

use serde::{Deserialize, Serialize};

use crate::{FailedStep, State, short_id};

/// What the engine knows about a container when it records an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    /// The full container ID.
    pub id: String,
    /// The container name as Docker's inspect returns it. The original reported that name
    /// unchanged, with its leading `/` (`/web`); templates print it as given.
    pub name: String,
    /// The image reference the container was created from (`nginx:1.27`), or the zodiac
    /// original-image label when present, as the original did.
    pub image_name: String,
    /// The ID of the image the container ran when the session started (`sha256:…`), or `""`
    /// when it could not be inspected.
    pub image_id: String,
}

impl ContainerRef {
    /// Describes a container.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        image_name: impl Into<String>,
        image_id: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            image_name: image_name.into(),
            image_id: image_id.into(),
        }
    }
}

/// The outcome for one container (the original's `ContainerReport`).
///
/// Serialised as one JSON object with the keys `id`, `name`, `imageName`, `currentImageId`,
/// `latestImageId`, `state`, `error`, `failedStep`, `restored` (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerReport {
    id: String,
    name: String,
    image_name: String,
    current_image_id: String,
    latest_image_id: String,
    state: State,
    error: Option<String>,
    failed_step: Option<FailedStep>,
    restored: bool,
    /// Something the session wants the reader to know about an update that went through
    /// (e.g. why a start-first update stopped the old container first). Absent when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl ContainerReport {
    pub(crate) fn new(container: &ContainerRef, latest_image_id: String, state: State) -> Self {
        Self {
            id: container.id.clone(),
            name: container.name.clone(),
            image_name: container.image_name.clone(),
            current_image_id: container.image_id.clone(),
            latest_image_id,
            state,
            error: None,
            failed_step: None,
            restored: false,
            note: None,
        }
    }

    pub(crate) fn with_error(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }

    pub(crate) fn with_failure(mut self, step: FailedStep, restored: bool) -> Self {
        self.failed_step = Some(step);
        self.restored = restored;
        self
    }

    pub(crate) fn set_note(&mut self, note: String) {
        self.note = Some(note);
    }

    pub(crate) fn set_state(&mut self, state: State) {
        self.state = state;
    }

    pub(crate) fn set_latest_image_id(&mut self, latest_image_id: String) {
        self.latest_image_id = latest_image_id;
    }

    /// The full container ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container ID's [`short_id`].
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }

    /// The container name as the engine recorded it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image reference the container uses (`nginx:1.27`).
    pub fn image_name(&self) -> &str {
        &self.image_name
    }

    /// The image ID the container ran when the session started (`""` when unknown).
    pub fn current_image_id(&self) -> &str {
        &self.current_image_id
    }

    /// The newest image ID found: the same as [`Self::current_image_id`] for fresh and skipped
    /// containers, the new image for updated ones, and `""` when a stale image was detected from
    /// the registry without being pulled.
    pub fn latest_image_id(&self) -> &str {
        &self.latest_image_id
    }

    /// The outcome.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the container was skipped or why its update failed; `None` otherwise.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// For a failed container, the step that failed.
    pub fn failed_step(&self) -> Option<FailedStep> {
        self.failed_step
    }

    /// A remark on how the update went (`None` for most entries), e.g. `updated stop-first:
    /// it publishes host ports, ...` when a start-first update had to stop the old
    /// container first.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// For a failed container: whether the old container was put back (renamed back and
    /// started again if it was running). `false` for every other state.
    pub fn restored(&self) -> bool {
        self.restored
    }
}
