//! Images pushed straight through a testkit [`Registry`]'s HTTP API (blob uploads, then the
//! manifest), without a Docker Engine: the fast way to give registry clients something to find.
//!
//! Use [`FixtureImage`](crate::FixtureImage) instead when the engine must pull or run the image;
//! these synthetic images have a placeholder layer that is not a real tarball.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{Method, StatusCode};

use crate::registry::{MANIFEST_ACCEPT, Registry, RegistryApi};

/// The media type of the manifests [`Registry::push_synthetic_image`] pushes.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

impl Registry {
    /// Pushes a tiny single-platform OCI image (`linux/amd64`: a config blob and one small
    /// placeholder layer) as `repo:tag` through the registry API and returns its manifest
    /// digest (`sha256:<hex>`).
    ///
    /// `variant` is written into the config (label `variant`) and the layer, so one `repo`
    /// pushed with two variants gets two digests, while the same `repo` and `variant` always
    /// give the same digest. Pushing another variant under the same tag moves the tag, which
    /// is how tests make a local image stale without an engine.
    ///
    /// Authenticates as the bench's user in every mode (Basic credentials, or a `pull,push`
    /// token minted in-process, which [`TokenServer::requests`](crate::TokenServer::requests)
    /// does not count) and verifies HTTPS with the registry's CA. The requests carry
    /// [`TESTKIT_USER_AGENT`](crate::client::TESTKIT_USER_AGENT), so
    /// [`Registry::access_log`] and [`Registry::count_requests`] leave them out. Each push
    /// costs five requests (two blob uploads of two requests each, one manifest `PUT`).
    ///
    /// The layer is not a real tarball: the engine cannot pull or run these images (use
    /// [`FixtureImage`](crate::FixtureImage) for that).
    ///
    /// # Errors
    ///
    /// When the registry refuses a step (e.g. an invalid repository name); the error names the
    /// step, `repo`, the status and the registry's answer.
    pub async fn push_synthetic_image(
        &self,
        repo: &str,
        tag: &str,
        variant: &str,
    ) -> anyhow::Result<String> {
        let api = self.api();
        let authorization = api.authorization(repo, "pull,push")?;
        let auth = authorization.as_deref();
        let config = Bytes::from(serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Labels": { "variant": variant } },
            "rootfs": { "type": "layers", "diff_ids": [] }
        }))?);
        let layer = Bytes::from(format!("layer of {repo} {variant}"));
        let config_digest = push_blob(&api, repo, auth, config.clone()).await?;
        let layer_digest = push_blob(&api, repo, auth, layer.clone()).await?;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len()
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer.len()
            }]
        }))?;
        put_manifest(&api, repo, tag, auth, OCI_MANIFEST, Bytes::from(manifest)).await
    }

    /// Pushes `manifest` (of `media_type`, e.g. an OCI index or a Docker manifest list whose
    /// entries were pushed before) as `repo:tag` and returns its digest, the SHA-256 of exactly
    /// these bytes. Authenticates, verifies and stays out of the access log like
    /// [`Registry::push_synthetic_image`].
    ///
    /// # Errors
    ///
    /// When the registry refuses the manifest (unknown blobs or children, invalid JSON, a bad
    /// repository name); the error names `repo:tag`, the status and the registry's answer.
    pub async fn push_manifest(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> anyhow::Result<String> {
        let api = self.api();
        let authorization = api.authorization(repo, "pull,push")?;
        put_manifest(
            &api,
            repo,
            tag,
            authorization.as_deref(),
            media_type,
            Bytes::copy_from_slice(manifest),
        )
        .await
    }

    /// The manifest stored under `repo:reference` (a tag or a digest), exactly as the registry
    /// serves it, read with `GET` as the bench's user accepting Docker v2 and OCI manifests and
    /// indexes. Not counted in [`Registry::count_requests`] nor by the token server.
    ///
    /// # Errors
    ///
    /// When the registry answers anything but 200 (e.g. 404 for an unknown tag).
    pub async fn manifest_bytes(&self, repo: &str, reference: &str) -> anyhow::Result<Bytes> {
        let api = self.api();
        let authorization = api.authorization(repo, "pull")?;
        let response = ApiRequest {
            what: &format!("GET the manifest {repo}:{reference}"),
            method: Method::GET,
            url: format!("{}/v2/{repo}/manifests/{reference}", api.base_url()),
            headers: &[("accept", MANIFEST_ACCEPT)],
            body: Bytes::new(),
            expected: StatusCode::OK,
        }
        .send(&api, authorization.as_deref())
        .await?;
        Ok(response.body)
    }
}

/// `sha256:<hex>` of `bytes`: the digest a registry gives a blob or manifest.
fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
    )
}

/// One request to the registry API: `method url` with `headers`, the optional
/// `authorization` and `body`; any answer but `expected` is an error naming `what`, with the
/// registry's answer (the request, and so the authorization, is never part of the error).
struct ApiRequest<'a> {
    what: &'a str,
    method: Method,
    url: String,
    headers: &'a [(&'a str, &'a str)],
    body: Bytes,
    expected: StatusCode,
}

impl ApiRequest<'_> {
    async fn send(
        self,
        api: &RegistryApi,
        authorization: Option<&str>,
    ) -> anyhow::Result<crate::client::Response> {
        let mut headers = self.headers.to_vec();
        if let Some(authorization) = authorization {
            headers.push(("authorization", authorization));
        }
        let response = api
            .client()
            .send(self.method, &self.url, &headers, self.body)
            .await?;
        if response.status != self.expected {
            bail!(
                "{} answered {} (expected {}): {}",
                self.what,
                response.status,
                self.expected.as_u16(),
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(response)
    }
}

/// Uploads `blob` to `repo` in one monolithic step (`POST` an upload, `PUT` it with its
/// digest); returns the digest.
async fn push_blob(
    api: &RegistryApi,
    repo: &str,
    authorization: Option<&str>,
    blob: Bytes,
) -> anyhow::Result<String> {
    let digest = sha256(&blob);
    let base = api.base_url();
    let start = ApiRequest {
        what: &format!("starting a blob upload to {repo}"),
        method: Method::POST,
        url: format!("{base}/v2/{repo}/blobs/uploads/"),
        headers: &[],
        body: Bytes::new(),
        expected: StatusCode::ACCEPTED,
    }
    .send(api, authorization)
    .await?;
    let location = start
        .header("location")
        .with_context(|| format!("the blob upload to {repo} was started without a Location"))?;
    let location = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_owned()
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    ApiRequest {
        what: &format!("finishing the blob upload {digest} to {repo}"),
        method: Method::PUT,
        url: format!("{location}{separator}digest={digest}"),
        headers: &[("content-type", "application/octet-stream")],
        body: blob,
        expected: StatusCode::CREATED,
    }
    .send(api, authorization)
    .await?;
    Ok(digest)
}

/// `PUT /v2/<repo>/manifests/<tag>`; returns the manifest's digest.
async fn put_manifest(
    api: &RegistryApi,
    repo: &str,
    tag: &str,
    authorization: Option<&str>,
    media_type: &str,
    manifest: Bytes,
) -> anyhow::Result<String> {
    let digest = sha256(&manifest);
    let put = ApiRequest {
        what: &format!("pushing the manifest {repo}:{tag}"),
        method: Method::PUT,
        url: format!("{}/v2/{repo}/manifests/{tag}", api.base_url()),
        headers: &[("content-type", media_type)],
        body: manifest,
        expected: StatusCode::CREATED,
    }
    .send(api, authorization)
    .await?;
    if let Some(stored) = put.header("docker-content-digest")
        && stored != digest
    {
        bail!("the registry stored the manifest {repo}:{tag} as {stored}, not as {digest}");
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_registry_digest_form() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
