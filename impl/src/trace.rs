//! The trace recorder: one JSON line per handler call (see `raft_model::trace` and
//! `traces/README.md`), appended to one file per actor.
//!
//! Lines are collected in memory and handed to the operating system with
//! [`Recorder::write_out`], which the host calls before it saves and again before
//! it sends. So a record reaches the file before anything it describes can be
//! seen outside the process: a crash (even SIGKILL) loses only records of steps
//! whose effects never left the node. Records are not fsynced: the trace survives
//! a killed process, not a power cut.

use raft_model::trace::{
    ActorConfig, Event, LogChain, Record, Start, StoredState, TraceCommand, TraceState, FORMAT,
};
use raft_model::{Id, Input, PersistentState, RaftActor, RaftState, ServerState};
use stateright::actor::Out;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs one handler call of a hosted actor, records it if there is a recorder, and
/// moves `state` on: the one way the node and the client call their actor.
pub fn run_step(
    actor: &RaftActor,
    id: Id,
    state: &mut RaftState,
    input: Input,
    recorder: Option<&mut Recorder>,
) -> Out<RaftActor> {
    // The handler consumes the message; the record needs a copy only if there is one.
    let event = recorder.as_ref().map(|_| match &input {
        Input::Deliver { src, msg } => Event::Deliver {
            src: *src,
            msg: msg.clone(),
        },
        Input::Timeout(timer) => Event::Timeout { timer: *timer },
    });
    let stepped = actor.handle(id, state, input);
    if let (Some(r), Some(event)) = (recorder, event) {
        r.step(event, state, stepped.after(state), &stepped.out);
    }
    if let Some(s) = stepped.changed {
        *state = s;
    }
    stepped.out
}

/// The trace file of server `index` (0-based) in `dir`.
pub fn node_file(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("node-{}.jsonl", index + 1))
}

/// One trace file for every client session of a process
/// (`DIR/clients-RANDOM.jsonl`): each session's records are handed to the
/// operating system whole lines at a time, under a lock, so sessions running on
/// several threads never split each other's lines.
pub struct ClientTrace {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl ClientTrace {
    /// Creates a fresh file in `dir` (created if needed).
    pub fn create(dir: &Path) -> io::Result<ClientTrace> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("clients-{:016x}.jsonl", crate::random::u64()));
        let file = File::options().create_new(true).append(true).open(&path)?;
        Ok(ClientTrace {
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A recorder for the session of client `id`.
    pub fn recorder(&self, id: Id) -> Recorder {
        Recorder {
            path: self.path.clone(),
            file: Sink::Shared(self.file.clone()),
            node: id,
            next_step: 0,
            repaired: 0,
            last_save: PersistentState::default(),
            chain: LogChain::default(),
            buf: Vec::with_capacity(4096),
        }
    }
}

enum Sink {
    /// The actor's own file.
    Own(File),
    /// A file that several actors of this process write.
    Shared(Arc<Mutex<File>>),
}

pub struct Recorder {
    path: PathBuf,
    file: Sink,
    node: Id,
    next_step: u64,
    /// Bytes of an incomplete last line cut at open, reported in the start record.
    repaired: u64,
    /// The previous save (or the storage read at start): saves are recorded as the
    /// change from it.
    last_save: PersistentState,
    /// Digests the logs starts read (kept across the starts of one process).
    chain: LogChain,
    buf: Vec<u8>,
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Recorder {
    /// Opens (creating `dir` and the file if needed) the trace file at `path` for
    /// actor `node`. An existing file is continued: step numbers go on from its last
    /// record, and an incomplete last line (a crash while writing it) is cut off.
    pub fn open(path: &Path, node: Id) -> io::Result<Recorder> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let (next_step, repaired) = continue_file(&mut file, path)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Recorder {
            path: path.to_path_buf(),
            file: Sink::Own(file),
            node,
            next_step,
            repaired,
            last_save: PersistentState::default(),
            chain: LogChain::default(),
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn push(&mut self, step: u64, event: Event, state: Option<TraceState>, out: Vec<TraceCommand>) {
        let r = Record {
            node: self.node,
            step,
            time_ns: now_ns(),
            event,
            state,
            out,
        };
        // Serializing plain data into a Vec cannot fail; if it ever did, the record
        // would be missing and the validator would say so.
        if serde_json::to_writer(&mut self.buf, &r).is_ok() {
            self.buf.push(b'\n');
        }
    }

    /// `state`: the actor's state after the step (a save of its snapshot is
    /// recorded as such, not copied).
    fn encode_out(&mut self, out: &Out<RaftActor>, state: &RaftState) -> Vec<TraceCommand> {
        out.iter()
            .filter_map(|c| TraceCommand::encode(c, &mut self.last_save, state.server()))
            .collect()
    }

    /// Records `on_start`: the storage it read, the state and commands it returned.
    pub fn start(
        &mut self,
        actor: &RaftActor,
        storage: &Option<PersistentState>,
        state: &RaftState,
        out: &Out<RaftActor>,
    ) {
        self.last_save = storage.clone().unwrap_or_default();
        let event = Event::Start(Box::new(Start {
            format: FORMAT,
            actor: ActorConfig::of(actor),
            storage: storage
                .as_ref()
                .map(|p| StoredState::of(p, &mut self.chain)),
            repaired_bytes: std::mem::take(&mut self.repaired),
        }));
        // A server's state is recorded as its change from what the storage gives,
        // so that a restart from a snapshot does not copy it.
        let base = matches!(actor, RaftActor::Server(_))
            .then(|| RaftState::Server(ServerState::from_storage(storage.as_ref())));
        let state_rec = Some(TraceState::between(base.as_ref(), state));
        let out = self.encode_out(out, state);
        let state = state_rec;
        let step = self.next_step;
        self.next_step += 1;
        self.push(step, event, state, out);
    }

    /// Records `on_msg` or `on_timeout`: `before` is the state the handler was given,
    /// `after` what it returned.
    pub fn step(
        &mut self,
        event: Event,
        before: &RaftState,
        after: &RaftState,
        out: &Out<RaftActor>,
    ) {
        // A handler that changed nothing hands back the state it was given.
        let state = if std::ptr::eq(before, after) {
            None
        } else {
            TraceState::change(before, after)
        };
        let out = self.encode_out(out, after);
        let step = self.next_step;
        self.next_step += 1;
        self.push(step, event, state, out);
    }

    /// Records that every save of the steps so far is durable.
    pub fn flushed(&mut self) {
        let step = self.next_step.saturating_sub(1);
        self.push(step, Event::Flush, None, Vec::new());
    }

    /// Records a clean stop (after the host's last flush).
    pub fn stopped(&mut self) {
        let step = self.next_step.saturating_sub(1);
        self.push(step, Event::Stop, None, Vec::new());
    }

    /// Hands the records made so far to the operating system.
    pub fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        match &mut self.file {
            Sink::Own(f) => f.write_all(&self.buf)?,
            Sink::Shared(f) => f
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(&self.buf)?,
        }
        self.buf.clear();
        Ok(())
    }
}

/// Finds the step number after the file's last record, cutting an incomplete last
/// line. Reads the file backwards in chunks: a trace may be large, its last line not.
fn continue_file(file: &mut File, path: &Path) -> io::Result<(u64, u64)> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok((0, 0));
    }
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    // Grow the tail until it holds the last newline and the one before it (or the
    // start of the file).
    loop {
        let chunk = (64 * 1024u64).min(pos);
        pos -= chunk;
        let mut buf = vec![0u8; chunk as usize];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf)?;
        buf.extend_from_slice(&tail);
        tail = buf;
        let newlines = tail.iter().filter(|b| **b == b'\n').count();
        if newlines >= 2 || pos == 0 {
            break;
        }
    }
    let end_of_complete = tail.iter().rposition(|b| *b == b'\n').map(|i| i + 1);
    let complete = end_of_complete.unwrap_or(0);
    let repaired = (tail.len() - complete) as u64;
    if repaired > 0 {
        file.set_len(len - repaired)?;
    }
    if complete == 0 {
        return Ok((0, repaired));
    }
    let body = &tail[..complete - 1];
    let last = match body.iter().rposition(|b| *b == b'\n') {
        Some(i) => &body[i + 1..],
        None => body,
    };
    let record: Record = serde_json::from_slice(last).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the last record of the trace file {} does not decode ({e}); move the file \
                 away to start a new trace",
                path.display()
            ),
        )
    })?;
    // Flush and stop records repeat the number of the last step: the next is one up.
    Ok((record.step + 1, repaired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::trace::Event;
    use raft_model::ServerConfig;
    use stateright::actor::Actor;

    #[test]
    fn a_file_is_continued_after_a_crash_that_cut_its_last_line() {
        let dir = std::env::temp_dir().join(format!("raftlab-trace-{}", fastrand::u64(..)));
        let path = node_file(&dir, 0);
        let actor = RaftActor::Server(ServerConfig::new(3));
        let mut r = Recorder::open(&path, Id::from(0)).unwrap();
        let mut out = Out::new();
        let state = actor.on_start(Id::from(0), &None, &mut out);
        r.start(&actor, &None, &state, &out);
        r.flushed();
        r.write_out().unwrap();
        drop(r);
        // A crash in the middle of writing a record.
        let mut f = File::options().append(true).open(&path).unwrap();
        f.write_all(b"{\"node\":0,\"step\":1,\"ti").unwrap();
        drop(f);
        let mut r = Recorder::open(&path, Id::from(0)).unwrap();
        r.start(&actor, &None, &state, &out);
        r.write_out().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let records: Vec<Record> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].step, 1);
        assert!(matches!(
            &records[2].event,
            Event::Start(s) if s.repaired_bytes == 22
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
