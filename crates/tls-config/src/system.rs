//! The system trust store, found where Go's `crypto/x509` looks for it on Linux, so that a CA
//! bundle mounted into the container for the original watchtower keeps working.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The bundle files Go tries on Linux, in order; the first one that can be read is used.
pub const GO_CERT_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/pki/tls/cacert.pem",            // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
    "/etc/ssl/cert.pem",                  // Alpine
];

/// The directories Go reads on Linux; every certificate file in each of them is used.
pub const GO_CERT_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// Where the system's trusted roots come from, with Go's rules on Linux:
///
/// * `SSL_CERT_FILE`, when set and not empty, is the one bundle file; otherwise the first
///   readable file of [`GO_CERT_FILES`].
/// * `SSL_CERT_DIR`, when set and not empty, is a colon-separated list of directories;
///   otherwise [`GO_CERT_DIRS`]. Every file in them is read (symbolic links to a file of the
///   same directory, such as OpenSSL's hash links, are skipped as duplicates).
/// * Text that is not a PEM certificate is skipped, as Go does; a missing file or directory
///   is simply not there.
///
/// These roots are trusted in addition to the built-in webpki roots and the `--registry-ca`
/// bundle, for registry and notification traffic alike.
///
/// ```
/// use std::path::PathBuf;
/// use watchtower_tls_config::SystemRoots;
///
/// let env = |name: &str| match name {
///     "SSL_CERT_FILE" => Some("/run/secrets/corp-ca.pem".to_owned()),
///     "SSL_CERT_DIR" => Some("/etc/corp/certs:/opt/certs".to_owned()),
///     _ => None,
/// };
/// let roots = SystemRoots::from_lookup(env);
/// assert_eq!(roots.files(), [PathBuf::from("/run/secrets/corp-ca.pem")]);
/// assert_eq!(roots.dirs(), [PathBuf::from("/etc/corp/certs"), PathBuf::from("/opt/certs")]);
/// assert_eq!(SystemRoots::from_lookup(|_| None).files().len(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRoots {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Default for SystemRoots {
    /// [`SystemRoots::from_env`].
    fn default() -> Self {
        Self::from_env()
    }
}

impl SystemRoots {
    /// The sources named by this process's `SSL_CERT_FILE` and `SSL_CERT_DIR`.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Like [`SystemRoots::from_env`], with the variables from `lookup`.
    pub fn from_lookup<F>(lookup: F) -> Self
    where
        F: Fn(&str) -> Option<String>,
    {
        let set = |name| lookup(name).filter(|value| !value.is_empty());
        let files = match set("SSL_CERT_FILE") {
            Some(file) => vec![PathBuf::from(file)],
            None => GO_CERT_FILES.iter().map(PathBuf::from).collect(),
        };
        let dirs = match set("SSL_CERT_DIR") {
            Some(list) => list
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => GO_CERT_DIRS.iter().map(PathBuf::from).collect(),
        };
        Self { files, dirs }
    }

    /// No system roots: only the webpki roots and an explicit bundle are trusted.
    pub fn none() -> Self {
        Self {
            files: Vec::new(),
            dirs: Vec::new(),
        }
    }

    /// The bundle files tried, in order (the first readable one is used).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The directories read.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Reads the certificates now: the first readable bundle file, then every file of every
    /// directory. Certificates are DER, not yet checked as trust anchors.
    pub fn load(&self) -> Vec<CertificateDer<'static>> {
        let mut certs = Vec::new();
        if let Some((file, pem)) = self
            .files
            .iter()
            .find_map(|f| std::fs::read(f).ok().map(|pem| (f, pem)))
        {
            let before = certs.len();
            certs.extend(pem_certificates(&pem));
            tracing::debug!(file = %file.display(), certificates = certs.len() - before, "system CA bundle read");
        }
        for dir in &self.dirs {
            let before = certs.len();
            for file in unique_dir_entries(dir) {
                if let Ok(pem) = std::fs::read(&file) {
                    certs.extend(pem_certificates(&pem));
                }
            }
            if certs.len() > before {
                tracing::debug!(dir = %dir.display(), certificates = certs.len() - before, "system CA directory read");
            }
        }
        certs
    }
}

/// The PEM certificates of `pem`; anything unreadable is skipped.
fn pem_certificates(pem: &[u8]) -> impl Iterator<Item = CertificateDer<'static>> + '_ {
    CertificateDer::pem_slice_iter(pem).filter_map(Result::ok)
}

/// The files of `dir`, leaving out symbolic links to a file of the same directory (Go's
/// `readUniqueDirectoryEntries`), in name order.
fn unique_dir_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let path = entry.path();
            match std::fs::read_link(&path) {
                // A link whose target has no directory part points into this directory.
                Ok(target) => target.components().count() > 1,
                Err(_) => true,
            }
        })
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn defaults_are_gos_linux_lists_and_variables_replace_them() {
        let roots = SystemRoots::from_lookup(|_| None);
        assert_eq!(
            roots.files()[0],
            Path::new("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(
            roots.dirs(),
            [Path::new("/etc/ssl/certs"), Path::new("/etc/pki/tls/certs")]
        );
        let empty =
            SystemRoots::from_lookup(|name| Some(String::new()).filter(|_| name.is_empty()));
        assert_eq!(empty, roots);
        let set = SystemRoots::from_lookup(|name| {
            Some(
                if name == "SSL_CERT_FILE" {
                    "/a.pem"
                } else {
                    "/d1::/d2"
                }
                .to_owned(),
            )
        });
        assert_eq!(set.files(), [Path::new("/a.pem")]);
        assert_eq!(set.dirs(), [Path::new("/d1"), Path::new("/d2")]);
        assert!(SystemRoots::none().load().is_empty());
    }

    #[test]
    fn first_readable_file_then_every_file_of_the_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let first = tmp.path().join("first.pem");
        let second = tmp.path().join("second.pem");
        std::fs::write(&first, format!("{}{}", ca_pem("one"), ca_pem("two"))).unwrap();
        std::fs::write(&second, ca_pem("never read")).unwrap();
        let dir = tmp.path().join("certs");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.pem"), ca_pem("a")).unwrap();
        std::fs::write(dir.join("junk.txt"), "not a certificate").unwrap();
        // An OpenSSL-style hash link to a file of the same directory: not read twice.
        std::os::unix::fs::symlink("a.pem", dir.join("1234abcd.0")).unwrap();
        // A link to a file elsewhere (Debian's /etc/ssl/certs): read.
        std::os::unix::fs::symlink(&second, dir.join("b.pem")).unwrap();
        let roots = SystemRoots::from_lookup(|name| match name {
            "SSL_CERT_FILE" => Some(first.display().to_string()),
            "SSL_CERT_DIR" => Some(format!(
                "{}:{}",
                dir.display(),
                tmp.path().join("missing").display()
            )),
            _ => None,
        });
        assert_eq!(roots.load().len(), 4);
        let missing_file = SystemRoots {
            files: vec![tmp.path().join("missing.pem"), second.clone()],
            dirs: Vec::new(),
        };
        assert_eq!(missing_file.load().len(), 1);
    }
}
