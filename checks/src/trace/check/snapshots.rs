//! Whether a run's servers snapshot at all. The fast server replay
//! (`server_step`) and the incremental invariant judge (`judge`) follow logs by
//! position from index 1; a log that begins after a snapshot is checked by the
//! generic replay and the registry's own functions instead, which judge logs by
//! index and know snapshots. A run without snapshots keeps the fast path.

use crate::trace::load::Run;
use raft_model::trace::{Event, Record, SavedSnapshot, TraceCommand, TraceState};
use raft_model::Msg;

/// True if any record of `run` takes, installs, sends, saves or starts from a
/// snapshot.
pub(super) fn any_snapshot(run: &Run) -> bool {
    run.files
        .iter()
        .filter(|f| f.is_server())
        .flat_map(|f| f.lines.iter())
        .any(|l| record_snapshots(&l.rec))
}

fn record_snapshots(rec: &Record) -> bool {
    let event = match &rec.event {
        Event::Start { storage, .. } => storage
            .as_ref()
            .is_some_and(|s| s.snapshot.is_some() || s.log.snapshot_index() > 0),
        Event::Deliver { msg, .. } => matches!(msg, Msg::InstallSnapshot(_)),
        _ => false,
    };
    let state = match &rec.state {
        Some(TraceState::Server(d)) => d.log.snapshot.is_some() || !d.snapshot.is_empty(),
        _ => false,
    };
    let out = rec.out.iter().any(|c| match c {
        TraceCommand::Save { log, snapshot, .. } => {
            log.snapshot.is_some() || !matches!(snapshot, SavedSnapshot::Unchanged)
        }
        TraceCommand::Send { msg, .. } => matches!(msg, Msg::InstallSnapshot(_)),
        _ => false,
    });
    event || state || out
}
