//! Secrets at rest. Values the platform must give back in plaintext later (a provider's digest
//! password) are sealed with ChaCha20-Poly1305 under a 32-byte key kept outside the database,
//! in the data folder, so a copy of the database alone reveals nothing. Every value has its own
//! random nonce; the associated data names what the value is for, so a sealed value copied into
//! another column or domain does not open.

use crate::{StoreError, StoreResult};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use base64::Engine as _;
use rand::RngCore;
use std::path::Path;

/// Length of the key file.
pub const KEY_LEN: usize = 32;

/// Prefix of sealed values: the format can change without guessing at old rows.
const SEALED_PREFIX: &str = "v1:";

/// The data-at-rest key. Its `Debug` form never shows the key.
pub struct SecretKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .expect("a 32-byte key is valid for ChaCha20-Poly1305");
        Self {
            key: LessSafeKey::new(unbound),
        }
    }

    /// A fresh random key (tests; production keys live in a file, see [`Self::load_or_create`]).
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(&bytes)
    }

    /// Reads the key at `path`, or creates it there (32 random bytes, mode 0600) when the file
    /// does not exist. A file of any other length is an error, never overwritten: the values
    /// sealed under it would be lost.
    pub fn load_or_create(path: &Path) -> StoreResult<Self> {
        let bad = |what: String| StoreError::Invalid(format!("{}: {what}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create folder: {e}")))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(path) {
            Ok(mut f) => {
                use std::io::Write;
                let mut bytes = [0u8; KEY_LEN];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                f.write_all(&bytes)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| bad(format!("cannot write the key: {e}")))?;
                tracing::info!(path = %path.display(), "created the data-at-rest key");
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                #[cfg(unix)]
                if let Ok(meta) = std::fs::metadata(path) {
                    use std::os::unix::fs::PermissionsExt;
                    if meta.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(
                            path = %path.display(),
                            "the data-at-rest key is readable by others; chmod 600 it"
                        );
                    }
                }
                let bytes =
                    std::fs::read(path).map_err(|e| bad(format!("cannot read the key: {e}")))?;
                let bytes: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    bad(format!(
                        "the key file holds {} bytes, expected {KEY_LEN}; restore the original",
                        bytes.len()
                    ))
                })?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) => Err(bad(format!("cannot create the key: {e}"))),
        }
    }

    /// Seals `plain` for `purpose`: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, purpose: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut buf = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .expect("sealing a short value cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// Opens a value made by [`Self::seal`] with the same `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> StoreResult<String> {
        let fail = || {
            StoreError::Secret(
                "a sealed value does not open with this data folder's secret.key".into(),
            )
        };
        let body = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(fail)?;
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| fail())?;
        if raw.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain.to_vec()).map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let k = SecretKey::generate();
        let a = k.seal("gateway:1", "s3cr3t-pass");
        let b = k.seal("gateway:1", "s3cr3t-pass");
        assert_ne!(a, b, "a nonce per value");
        assert!(!a.contains("s3cr3t"));
        assert_eq!(k.open("gateway:1", &a).unwrap(), "s3cr3t-pass");
        assert!(k.open("gateway:2", &a).is_err(), "purpose is bound");
        assert!(SecretKey::generate().open("gateway:1", &a).is_err());
        assert!(k.open("gateway:1", "plain text").is_err());
        assert!(k.open("gateway:1", "v1:AAAA").is_err());
        assert_eq!(format!("{k:?}"), "SecretKey(<redacted>)");
    }

    #[test]
    fn the_key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("secret.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let sealed = first.seal("p", "value");
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open("p", &sealed).unwrap(), "value");
        std::fs::write(&path, b"short").unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("expected 32"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"short", "never overwritten");
    }
}
