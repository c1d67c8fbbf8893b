//! `--registry-ca`, `--registry-ca-validate`, `--insecure-registry` and `REPO_USER`/`REPO_PASS`
//! into [`RegistrySettings`], whose credentials are the credential store's own options.

use std::path::PathBuf;

use watchtower_registry_auth::CredentialStore;

use super::Resolver;
use crate::config::RegistrySettings;
use crate::error::Error;
use crate::flags::Flags;
use crate::secret::Secret;

impl Resolver<'_> {
    pub(crate) fn registry(&mut self, f: &Flags) -> Result<RegistrySettings, Error> {
        let ca = self.string("registry-ca", f.registry_ca.as_ref());
        let ca_validate = self.boolean("registry-ca-validate", f.registry_ca_validate.as_ref())?;
        let insecure = self.boolean("insecure-registry", f.insecure_registry.as_ref())?;
        if ca_validate && ca.is_empty() {
            self.warnings.push(
                "--registry-ca-validate has nothing to check: no --registry-ca bundle is set"
                    .to_owned(),
            );
        }
        let repo_user = self.env_var("REPO_USER");
        let repo_pass = self.env_var("REPO_PASS");
        if repo_user.is_some() != repo_pass.is_some() {
            self.warnings.push(
                "only one of REPO_USER and REPO_PASS is set; both are needed, so neither is used"
                    .to_owned(),
            );
        }
        // The Docker config file is found as the credential store finds it (DOCKER_CONFIG,
        // ~/.docker, /config.json); the user and password come from this resolution's
        // environment.
        let mut credentials = CredentialStore::options_from_env();
        credentials.repo_user_pass = match (repo_user, repo_pass) {
            (Some(user), Some(pass)) => Some((user, Secret::new(pass))),
            _ => None,
        };
        Ok(RegistrySettings {
            ca: (!ca.is_empty()).then(|| PathBuf::from(ca)),
            ca_validate,
            insecure,
            credentials,
        })
    }
}
