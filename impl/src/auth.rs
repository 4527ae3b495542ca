//! Who may speak to a node: datagrams tagged with the cluster's shared secret
//! (HMAC-SHA256, RustCrypto's `hmac` and `sha2`), and control requests only with
//! that secret or, when the cluster has none, only from this machine.
//!
//! A tag proves that the datagram was made by a holder of the secret; it does not
//! stop a recorded datagram from being sent again, which Raft tolerates (a
//! duplicated message). Without a secret, server ids are authenticated by address
//! alone, which anyone on the network can forge: set a secret before exposing the
//! ports beyond loopback.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use std::path::Path;

/// The bytes of a tag at the end of a datagram.
pub const TAG_LEN: usize = 32;

/// The shortest secret accepted.
pub const MIN_SECRET: usize = 16;

/// A cluster's shared secret, keyed once.
#[derive(Clone)]
pub struct Secret(Hmac<Sha256>);

impl Secret {
    /// A secret of at least [`MIN_SECRET`] bytes.
    pub fn new(bytes: &[u8]) -> Result<Secret, String> {
        if bytes.len() < MIN_SECRET {
            return Err(format!(
                "the secret has {} bytes; give at least {MIN_SECRET} (e.g. `head -c 32 \
                 /dev/urandom > FILE`)",
                bytes.len()
            ));
        }
        Hmac::<Sha256>::new_from_slice(bytes)
            .map(Secret)
            .map_err(|e| format!("cannot key HMAC-SHA256: {e}"))
    }

    /// The secret in `path`: the file's bytes as they are (every node reads the
    /// same file).
    pub fn from_file(path: &Path) -> Result<Secret, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
        Secret::new(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn tag(&self, bytes: &[u8]) -> [u8; TAG_LEN] {
        let mut m = self.0.clone();
        m.update(bytes);
        m.finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `bytes` (in constant time).
    pub fn verify(&self, bytes: &[u8], tag: &[u8]) -> bool {
        let mut m = self.0.clone();
        m.update(bytes);
        m.verify_slice(tag).is_ok()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Whether a control (fault injection) request from `from` may be obeyed: with a
/// secret its tag was checked already; without one, only from loopback.
pub fn may_control(secret: Option<&Secret>, from: SocketAddr) -> bool {
    secret.is_some() || from.ip().is_loopback()
}
