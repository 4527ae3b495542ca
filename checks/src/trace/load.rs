//! Reading a trace directory: one JSON-lines file per actor, each checked for its
//! structure (starts first, one actor, steps numbered in order). Used by every
//! `raftlab trace` command.

use raft_model::trace::{ActorConfig, Event, Record, TraceCommand, FORMATS_READ};
use raft_model::{Id, Msg};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A trace that cannot be read: the file, the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.problem),
            None => write!(f, "{}: {}", self.file.display(), self.problem),
        }
    }
}

impl std::error::Error for LoadError {}

/// One record and the line it was read from.
#[derive(Debug, Clone)]
pub struct Line {
    pub line: usize,
    pub rec: Record,
}

/// What happens in a global order: a record, or a crash the records imply (a start
/// that follows a start with no clean stop between them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvKind {
    Record(usize),
    /// The process died after the record before this event.
    Crash,
}

#[derive(Debug, Clone, Copy)]
pub struct Ev {
    pub kind: EvKind,
    pub time: u64,
}

/// The trace of one actor.
#[derive(Debug)]
pub struct TraceFile {
    pub path: PathBuf,
    pub node: Id,
    /// `S1`.. for servers, `C1`.. for clients (in order of their first record).
    pub name: String,
    pub config: ActorConfig,
    pub lines: Vec<Line>,
    pub events: Vec<Ev>,
}

impl TraceFile {
    pub fn is_server(&self) -> bool {
        matches!(self.config, ActorConfig::Server { .. })
    }
}

/// A whole recorded run.
#[derive(Debug)]
pub struct Run {
    pub dir: PathBuf,
    /// Servers first (S1, S2, ...), then clients.
    pub files: Vec<TraceFile>,
    pub servers: usize,
    /// The earliest record's time: times are shown relative to it.
    pub t0: u64,
}

impl Run {
    /// The display name of actor `id`.
    pub fn name_of(&self, id: Id) -> String {
        let i = usize::from(id);
        if i < self.servers {
            return raft_model::name::server(id);
        }
        match self.files.iter().find(|f| f.node == id) {
            Some(f) => f.name.clone(),
            None => format!("client {:#x} (no trace)", i),
        }
    }

    pub fn file_of(&self, id: Id) -> Option<usize> {
        self.files.iter().position(|f| f.node == id)
    }

    pub fn steps(&self) -> usize {
        self.files
            .iter()
            .flat_map(|f| &f.lines)
            .filter(|l| is_step(&l.rec.event))
            .count()
    }
}

/// A handler call (as opposed to a flush or stop record).
pub fn is_step(e: &Event) -> bool {
    matches!(
        e,
        Event::Start(_) | Event::Deliver { .. } | Event::Timeout { .. }
    )
}

fn err(file: &Path, line: Option<usize>, problem: impl Into<String>) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line,
        problem: problem.into(),
    }
}

/// Reads every `*.jsonl` file of `dir`.
pub fn load(dir: &Path) -> Result<Run, LoadError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| err(dir, None, format!("cannot read it: {e}")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(err(
            dir,
            None,
            "holds no trace files (*.jsonl); record some with --trace DIR",
        ));
    }
    let mut files = Vec::new();
    for loaded in load_files(&paths) {
        files.extend(loaded?);
    }
    let servers = files
        .iter()
        .find(|f| f.is_server())
        .map(|f| f.config.servers())
        .ok_or_else(|| err(dir, None, "holds no server's trace (node-I.jsonl)"))?;
    for f in &files {
        if f.config.servers() != servers {
            return Err(err(
                &f.path,
                Some(f.lines[0].line),
                format!(
                    "is for a cluster of {} servers, other files for {servers}",
                    f.config.servers()
                ),
            ));
        }
        let id = usize::from(f.node);
        if f.is_server() != (id < servers) {
            return Err(err(
                &f.path,
                Some(f.lines[0].line),
                format!(
                    "actor id {id} is {} a server id, but the record describes a {}",
                    if id < servers { "" } else { "not" },
                    if f.is_server() { "server" } else { "client" }
                ),
            ));
        }
    }
    for (i, f) in files.iter().enumerate() {
        if let Some(g) = files[..i].iter().find(|g| g.node == f.node) {
            return Err(err(
                &f.path,
                None,
                format!("records the same actor as {}", g.path.display()),
            ));
        }
    }
    for s in 0..servers {
        if !files.iter().any(|f| usize::from(f.node) == s) {
            return Err(err(
                dir,
                None,
                format!(
                    "has no trace of {} (node-{}.jsonl) in a cluster of {servers}: record every \
                     node",
                    raft_model::name::server(Id::from(s)),
                    s + 1
                ),
            ));
        }
    }
    // Servers in id order, then clients in order of their first record.
    files.sort_by_key(|f| {
        let id = usize::from(f.node);
        if id < servers {
            (0, id as u64, 0)
        } else {
            (1, f.lines[0].rec.time_ns, id as u64)
        }
    });
    let mut c = 0;
    for f in files.iter_mut() {
        f.name = if usize::from(f.node) < servers {
            raft_model::name::server(f.node)
        } else {
            c += 1;
            raft_model::name::actor(Id::from(servers + c - 1), servers)
        };
    }
    let t0 = files
        .iter()
        .flat_map(|f| f.lines.iter().map(|l| l.rec.time_ns))
        .min()
        .unwrap_or(0);
    Ok(Run {
        dir: dir.to_path_buf(),
        files,
        servers,
        t0,
    })
}

/// [`load_file`] of each path, in the paths' order: on as many threads as there
/// are cores (the files are independent, and parsing is most of a load).
fn load_files(paths: &[PathBuf]) -> Vec<Result<Vec<TraceFile>, LoadError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<Vec<TraceFile>, LoadError>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = paths.get(k) else {
                            return mine;
                        };
                        mine.push((k, load_file(p)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            // A parser does not panic on what a file holds; if one did, its
            // files are read again on this thread below and the panic seen there.
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    done.sort_by_key(|(k, _)| *k);
    let mut out = Vec::with_capacity(paths.len());
    let mut done = done.into_iter().peekable();
    for (k, p) in paths.iter().enumerate() {
        match done.next_if(|(j, _)| *j == k) {
            Some((_, r)) => out.push(r),
            None => out.push(load_file(p)),
        }
    }
    out
}

/// Reads one file: the traces of the actors it records (a node's file records one;
/// a client process's file every session it ran, their lines interleaved), each
/// checked by [`actor_trace`].
pub fn load_file(path: &Path) -> Result<Vec<TraceFile>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, None, format!("cannot read it: {e}")))?;
    // Sized up front: a record is hundreds of bytes, and growing a vector of a
    // million of them copies and zeroes gigabytes.
    let newlines = bytes.iter().filter(|b| **b == b'\n').count();
    let mut lines = Vec::with_capacity(newlines.saturating_add(1));
    // Each actor's position in order of its first record, and its line count.
    let mut index: HashMap<Id, usize> = HashMap::new();
    let mut counts: Vec<usize> = Vec::new();
    let last_line = newlines.saturating_add(1);
    for (k, piece) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = k + 1;
        let last = line == last_line;
        if piece.is_empty() {
            if last {
                break;
            }
            return Err(err(path, Some(line), "is empty: a record was expected"));
        }
        let rec: Record = match serde_json::from_slice(piece) {
            Ok(r) => r,
            Err(e) if last => {
                return Err(err(
                    path,
                    Some(line),
                    format!(
                        "is incomplete: the file ends in the middle of a record ({e}); was the \
                         node killed while writing it and never restarted?"
                    ),
                ))
            }
            Err(e) => return Err(err(path, Some(line), format!("is not a trace record: {e}"))),
        };
        let k = *index.entry(rec.node).or_insert_with(|| {
            counts.push(0);
            counts.len() - 1
        });
        if let Some(n) = counts.get_mut(k) {
            *n += 1;
        }
        lines.push(Line { line, rec });
    }
    if lines.is_empty() {
        return Err(err(path, None, "is empty: no records"));
    }
    // A node's file records one actor: its lines are its trace as they are.
    if counts.len() == 1 {
        return Ok(vec![actor_trace(path, lines)?]);
    }
    // Split by actor, in order of each actor's first record.
    let mut by_actor: Vec<Vec<Line>> = counts.iter().map(|n| Vec::with_capacity(*n)).collect();
    for l in lines {
        if let Some(v) = index.get(&l.rec.node).and_then(|&k| by_actor.get_mut(k)) {
            v.push(l);
        }
    }
    by_actor
        .into_iter()
        .map(|lines| actor_trace(path, lines))
        .collect()
}

/// One actor's records (of `path`), checked for their structure: starts first,
/// steps numbered one after the other, flush and stop records naming the last
/// step.
fn actor_trace(path: &Path, lines: Vec<Line>) -> Result<TraceFile, LoadError> {
    let first = lines
        .first()
        .ok_or_else(|| err(path, None, "is empty: no records"))?;
    let Event::Start(start) = &first.rec.event else {
        return Err(err(
            path,
            Some(first.line),
            "does not begin with a start record",
        ));
    };
    let config = start.actor.clone();
    let node = first.rec.node;
    let mut last_step: Option<u64> = None;
    let mut stopped = false;
    let mut events = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let r = &l.rec;
        let here = |p: String| err(path, Some(l.line), p);
        if r.node != node {
            return Err(here(format!(
                "is a record of actor {}, but this file records actor {}",
                usize::from(r.node),
                usize::from(node)
            )));
        }
        if stopped && !matches!(r.event, Event::Start(_)) {
            return Err(here("follows a stop record, but is not a start".into()));
        }
        match &r.event {
            Event::Start(start) => {
                let (format, cfg) = (&start.format, &start.actor);
                if !FORMATS_READ.contains(format) {
                    return Err(here(format!(
                        "has trace format {format}; this raftlab reads formats {} to {}",
                        FORMATS_READ.start(),
                        FORMATS_READ.end()
                    )));
                }
                if *cfg != config {
                    return Err(here(
                        "restarts the actor with another configuration than its first start".into(),
                    ));
                }
                if let ActorConfig::Server { mutants, .. } = cfg {
                    if *mutants != raft_model::MutantSet::NONE {
                        return Err(here(format!(
                            "was recorded with mutants {mutants:?}; traces are checked against \
                             the model as written"
                        )));
                    }
                }
                if i > 0 && !stopped {
                    let time = lines[i - 1].rec.time_ns;
                    events.push(Ev {
                        kind: EvKind::Crash,
                        time,
                    });
                }
                stopped = false;
            }
            Event::Stop => stopped = true,
            _ => {}
        }
        let expected = match (&r.event, last_step) {
            (e, None) if is_step(e) => 0,
            (e, Some(s)) if is_step(e) => s.saturating_add(1),
            (_, Some(s)) => s,
            (_, None) => 0,
        };
        if r.step != expected {
            return Err(here(format!(
                "has step number {}, expected {expected}: records are missing or out of order",
                r.step
            )));
        }
        if is_step(&r.event) {
            last_step = Some(r.step);
        }
        events.push(Ev {
            kind: EvKind::Record(i),
            time: r.time_ns,
        });
    }
    Ok(TraceFile {
        path: path.to_path_buf(),
        node,
        name: String::new(),
        config,
        lines,
        events,
    })
}

/// Which message a delivery or a send is about: source, destination, message.
pub type MsgKey<'a> = (Id, Id, &'a Msg);

/// The sends of a record: (index in `out`, destination, message).
pub fn sends(rec: &Record) -> impl Iterator<Item = (usize, Id, &Msg)> {
    rec.out.iter().enumerate().filter_map(|(k, c)| match c {
        TraceCommand::Send { dst, msg } => Some((k, *dst, msg)),
        _ => None,
    })
}
