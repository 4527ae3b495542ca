//! Why a node cannot start or go on.

use super::*;

#[derive(Debug)]
pub enum NodeError {
    Config(String),
    Storage(StorageError),
    /// The socket could not be bound.
    Bind(SocketAddr, io::Error),
    /// A save failed: the node stops rather than send anything that depends on it.
    Save(PathBuf, io::Error),
    Io(io::Error),
    /// The trace could not be written: the node stops rather than run unrecorded.
    Trace(PathBuf, io::Error),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Config(m) => f.write_str(m),
            NodeError::Storage(e) => write!(f, "{e}"),
            NodeError::Bind(a, e) => write!(
                f,
                "cannot listen on {a}: {e}. Is another node (or an earlier cluster) still \
                 running there? Stop it, or choose other addresses."
            ),
            NodeError::Save(p, e) => write!(
                f,
                "saving the state to {} failed: {e}. The node stopped so that it never sends \
                 a message its disk does not back; free disk space or fix the directory, then \
                 restart it.",
                p.display()
            ),
            NodeError::Io(e) => write!(f, "socket error: {e}"),
            NodeError::Trace(p, e) => write!(
                f,
                "writing the trace {} failed: {e}. The node stopped so that the trace has no \
                 gap; free disk space or choose another --trace directory.",
                p.display()
            ),
        }
    }
}

impl std::error::Error for NodeError {}
