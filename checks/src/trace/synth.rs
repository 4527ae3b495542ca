//! Recorded runs made in one process: the model's servers and clients hosted by
//! a simulated host (a clock, a network that delays, loses and duplicates, kill
//! and restart), recording with the real recorder (`raft_impl::trace`) in the
//! real format, and keeping the host's rules (a batch's records reach the file
//! before its save, the save is durable before its sends leave). A seed makes a
//! run repeat. Used by `raftlab bench trace` (runs of any length) and by the
//! property tests (random schedules must yield runs `trace check` accepts).

use raft_impl::node::server_config;
use raft_impl::trace::{node_file, run_step, ClientTrace, Recorder};
use raft_model::{ClientConfig, Id, Input, Msg, Op, PersistentState, RaftActor, RaftState, Timer};
use stateright::actor::{Actor, Command, Out};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    pub servers: usize,
    /// Clients working at once (each a series of sessions).
    pub clients: usize,
    /// Stop after this many handler calls in all.
    pub steps: usize,
    pub seed: u64,
    /// Probability that a message is lost, or sent twice.
    pub drop: f64,
    pub duplicate: f64,
    /// Kill a random server this often (simulated), restart it half as long later.
    pub kill_every: Option<Duration>,
    /// Keys the clients use, and operations per session.
    pub keys: usize,
    pub ops_per_session: usize,
    /// A client waits this long between two operations (simulated).
    pub think: Duration,
    /// A broken host: a killed server restarts with empty storage (its votes
    /// and entries forgotten), so that the run can break Raft's properties.
    pub forget_on_restart: bool,
    /// Servers snapshot every this many applied entries (0: never).
    pub snapshot_interval: u64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            servers: 3,
            clients: 3,
            steps: 1000,
            seed: 1,
            drop: 0.0,
            duplicate: 0.0,
            kill_every: None,
            keys: 4,
            ops_per_session: 20,
            think: Duration::from_millis(5),
            forget_on_restart: false,
            snapshot_interval: 0,
        }
    }
}

/// What a simulated run did.
#[derive(Clone, Debug, Default)]
pub struct Synthesized {
    pub steps: usize,
    pub operations: usize,
    pub sessions: usize,
    pub kills: usize,
    /// The longest log a server held at the end.
    pub log_len: usize,
    pub sim_seconds: f64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Deliver {
        src: usize,
        dst: usize,
        msg: MsgBox,
    },
    /// A timer of actor `actor`, valid while its generation is `gen`.
    Timer {
        actor: usize,
        timer: u8,
        gen: u64,
    },
    Kill(usize),
    Restart(usize),
    NextSession(usize),
}

/// Messages ordered by their debug text only to break ties of the queue.
#[derive(Debug, PartialEq, Eq)]
struct MsgBox(Msg);

impl PartialOrd for MsgBox {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for MsgBox {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

struct Hosted {
    actor: RaftActor,
    id: Id,
    state: Option<RaftState>,
    recorder: Recorder,
    /// Generation of each timer (a set or cancel makes the old one void).
    gens: [u64; 4],
    durable: Option<PersistentState>,
}

fn slot(t: Timer) -> usize {
    match t {
        Timer::Election => 0,
        Timer::Heartbeat => 1,
        Timer::ClientRetry => 2,
        Timer::Snapshot => 3,
    }
}

const TIMERS: [Timer; 4] = [
    Timer::Election,
    Timer::Heartbeat,
    Timer::ClientRetry,
    Timer::Snapshot,
];

struct Sim<'o> {
    o: &'o SynthOptions,
    rng: fastrand::Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    /// Servers first, then one slot per client (its current session).
    actors: Vec<Hosted>,
    clients: ClientTrace,
    out: Synthesized,
}

/// Simulates a run into `dir` (which must hold no trace yet).
pub fn synthesize(dir: &Path, o: &SynthOptions) -> io::Result<Synthesized> {
    std::fs::create_dir_all(dir)?;
    let mut sim = Sim {
        o,
        rng: fastrand::Rng::with_seed(o.seed),
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        actors: Vec::new(),
        clients: ClientTrace::create(dir)?,
        out: Synthesized::default(),
    };
    let n = o.servers;
    for i in 0..n {
        let id = Id::from(i);
        let recorder = Recorder::open(&node_file(dir, i), id)?;
        sim.actors.push(Hosted {
            actor: RaftActor::Server(server_config(n, o.snapshot_interval)),
            id,
            state: None,
            recorder,
            gens: [0; 4],
            durable: None,
        });
        sim.start(i)?;
    }
    for c in 0..o.clients {
        let session = sim.new_session();
        sim.actors.push(session);
        sim.start(n + c)?;
    }
    if let Some(every) = o.kill_every {
        sim.at(us(every), Event::Kill(0));
    }
    while sim.out.steps < o.steps {
        let Some(Reverse((t, _, e))) = sim.queue.pop() else {
            break;
        };
        sim.now = t;
        sim.event(e)?;
    }
    sim.finish()
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

impl Sim<'_> {
    fn at(&mut self, t: u64, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, e)));
    }

    fn random_in(&mut self, r: &Range<Duration>) -> u64 {
        let (a, b) = (us(r.start), us(r.end));
        if b <= a {
            a
        } else {
            self.rng.u64(a..b)
        }
    }

    fn new_session(&mut self) -> Hosted {
        let ops: Vec<Op> = (0..self.o.ops_per_session)
            .map(|_| {
                let key: raft_model::Text =
                    format!("k{}", self.rng.usize(..self.o.keys.max(1))).into();
                let value: raft_model::Text = format!("{}", self.rng.u32(..1000)).into();
                match self.rng.u8(..3) {
                    0 => Op::Put { key, value },
                    1 => Op::Append { key, value },
                    _ => Op::Get { key },
                }
            })
            .collect();
        let mut cfg = ClientConfig::new(self.o.servers, ops);
        cfg.retry_timeout = Duration::from_millis(250)..Duration::from_millis(400);
        let id = Id::from((self.rng.u64(..) | (1 << 63)) as usize);
        self.out.sessions += 1;
        Hosted {
            actor: RaftActor::Client(cfg),
            id,
            state: None,
            recorder: self.clients.recorder(id),
            gens: [0; 4],
            durable: None,
        }
    }

    fn start(&mut self, a: usize) -> io::Result<()> {
        let x = &mut self.actors[a];
        let mut out = Out::new();
        let storage = x.durable.clone();
        let state = x.actor.on_start(x.id, &storage, &mut out);
        x.recorder.start(&x.actor, &storage, &state, &out);
        x.state = Some(state);
        self.out.steps += 1;
        self.execute(a, out)
    }

    fn step(&mut self, a: usize, input: Input) -> io::Result<()> {
        let x = &mut self.actors[a];
        let Some(state) = x.state.as_mut() else {
            return Ok(());
        };
        let out = run_step(&x.actor, x.id, state, input, Some(&mut x.recorder));
        self.out.steps += 1;
        self.execute(a, out)
    }

    /// The host's flush: records, then the save durably (and its record), then
    /// the sends.
    fn execute(&mut self, a: usize, out: Out<RaftActor>) -> io::Result<()> {
        let mut save = None;
        let mut sends = Vec::new();
        for c in out {
            match c {
                Command::Save(p) => save = Some(p),
                Command::SetTimer(t, range) => {
                    let d = self.random_in(&range);
                    let x = &mut self.actors[a];
                    x.gens[slot(t)] += 1;
                    let gen = x.gens[slot(t)];
                    self.at(
                        self.now + d,
                        Event::Timer {
                            actor: a,
                            timer: slot(t) as u8,
                            gen,
                        },
                    );
                }
                Command::CancelTimer(t) => self.actors[a].gens[slot(t)] += 1,
                Command::Send(dst, msg) => sends.push((dst, msg)),
                Command::ChooseRandom(..) => {}
            }
        }
        let x = &mut self.actors[a];
        x.recorder.write_out()?;
        if let Some(p) = save {
            x.durable = Some(p);
            x.recorder.flushed();
            x.recorder.write_out()?;
        }
        let src = usize::from(x.id);
        for (dst, msg) in sends {
            if self.rng.f64() < self.o.drop {
                continue;
            }
            let copies = if self.rng.f64() < self.o.duplicate {
                2
            } else {
                1
            };
            let Some(d) = self.index_of(dst) else {
                continue;
            };
            for _ in 0..copies {
                let mut delay = self.rng.u64(100..2000);
                if d >= self.o.servers {
                    delay += us(self.o.think);
                }
                self.at(
                    self.now + delay,
                    Event::Deliver {
                        src,
                        dst: usize::from(dst),
                        msg: MsgBox(msg.clone()),
                    },
                );
            }
        }
        Ok(())
    }

    fn index_of(&self, id: Id) -> Option<usize> {
        let i = usize::from(id);
        if i < self.o.servers {
            return Some(i);
        }
        self.actors[self.o.servers..]
            .iter()
            .position(|x| x.id == id)
            .map(|k| k + self.o.servers)
    }

    fn event(&mut self, e: Event) -> io::Result<()> {
        match e {
            Event::Deliver { src, dst, msg } => {
                let Some(a) = self.index_of(Id::from(dst)) else {
                    return Ok(()); // a finished session's reply
                };
                self.step(
                    a,
                    Input::Deliver {
                        src: Id::from(src),
                        msg: msg.0,
                    },
                )?;
                self.session_done(a);
                Ok(())
            }
            Event::Timer { actor, timer, gen } => {
                if self.actors[actor].gens[timer as usize] != gen {
                    return Ok(());
                }
                self.actors[actor].gens[timer as usize] += 1;
                self.step(actor, Input::Timeout(TIMERS[timer as usize]))?;
                self.session_done(actor);
                Ok(())
            }
            Event::Kill(i) => {
                let x = &mut self.actors[i];
                if x.state.take().is_some() {
                    x.gens.iter_mut().for_each(|g| *g += 1);
                    self.out.kills += 1;
                    let every = self.o.kill_every.map_or(0, us);
                    self.at(self.now + every / 2, Event::Restart(i));
                    let next = self.rng.usize(..self.o.servers);
                    self.at(self.now + every, Event::Kill(next));
                }
                Ok(())
            }
            Event::Restart(i) => {
                if self.o.forget_on_restart {
                    self.actors[i].durable = None;
                }
                self.start(i)
            }
            Event::NextSession(a) => {
                self.actors[a] = self.new_session();
                self.start(a)
            }
        }
    }

    /// A client whose session has done every operation stops, and its slot
    /// starts a new session a little later.
    fn session_done(&mut self, a: usize) {
        if a < self.o.servers {
            return;
        }
        let x = &mut self.actors[a];
        let (Some(RaftState::Client(c)), RaftActor::Client(cfg)) = (&x.state, &x.actor) else {
            return;
        };
        if (c.done as usize) < cfg.ops.len() {
            return;
        }
        self.out.operations += cfg.ops.len();
        x.recorder.stopped();
        let _ = x.recorder.write_out();
        x.state = None;
        x.gens.iter_mut().for_each(|g| *g += 1);
        let think = us(self.o.think);
        self.at(self.now + think, Event::NextSession(a));
    }

    fn finish(mut self) -> io::Result<Synthesized> {
        for x in &mut self.actors {
            if x.state.is_some() {
                x.recorder.stopped();
            }
            x.recorder.write_out()?;
            if let Some(RaftState::Server(s)) = &x.state {
                self.out.log_len = self.out.log_len.max(s.log.len());
            }
        }
        self.out.sim_seconds = self.now as f64 / 1e6;
        Ok(self.out)
    }
}
