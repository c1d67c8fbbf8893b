//! No retry of a known-bad image: a digest the health gate rolled back is not tried again
//! until the tag points at a newer digest.
//!
//! The memory is kept by the engine, not in a file (a watchtower container often has no
//! volume): the rolled-back image is tagged `<repository>:wt-rejected-<digest hex>` in the
//! engine's image store. Checks look that tag up for a stale image's new digest; while it
//! exists, the container is skipped with the reason, before any pull. It survives restarts of
//! watchtower and of the engine; `docker rmi <repository>:wt-rejected-<hex>` (or removing the
//! image) makes watchtower try that digest again.

use tracing::{info, warn};
use watchtower_container_client::ContainerClient;
use watchtower_registry_auth::ImageReference;

/// The start of the tag that marks a rolled-back image.
pub const REJECTED_TAG_PREFIX: &str = "wt-rejected-";

/// The marker for `digest` of `reference`'s repository: (repository, tag).
pub(crate) fn marker(reference: &ImageReference, digest: &str) -> Option<(String, String)> {
    let hex = digest.strip_prefix("sha256:")?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| (reference.name(), format!("{REJECTED_TAG_PREFIX}{hex}")))
}

/// Whether the image `digest` of `reference` was rolled back by the health gate before.
pub(crate) async fn was_rejected<C: ContainerClient + ?Sized>(
    client: &C,
    reference: &ImageReference,
    digest: &str,
) -> bool {
    let Some((repository, tag)) = marker(reference, digest) else {
        return false;
    };
    client
        .inspect_image(&format!("{repository}:{tag}"))
        .await
        .is_ok()
}

/// Remembers that the image `image_id`, which `reference` served as `digest`, was rolled back.
pub(crate) async fn remember<C: ContainerClient + ?Sized>(
    client: &C,
    image_id: &str,
    reference: &ImageReference,
    digest: &str,
) {
    let Some((repository, tag)) = marker(reference, digest) else {
        return;
    };
    match client.tag_image(image_id, &repository, &tag).await {
        Ok(()) => info!(image = %reference, %digest, marker = %format!("{repository}:{tag}"),
            "remembering the rolled-back image: it is not tried again until the tag moves on"),
        Err(err) => warn!(image = %reference, %digest, error = %err,
            "cannot tag the rolled-back image; the next session may try it again"),
    }
}

/// Why a container is skipped whose newest image was rolled back.
pub(crate) fn reason(reference: &ImageReference, digest: &str) -> String {
    let (repository, tag) = marker(reference, digest).unwrap_or_default();
    format!(
        "the newest image ({digest}) was rolled back by the health gate before; waiting for a \
         newer one (remove the tag {repository}:{tag} to try it again)"
    )
}
