//! The model that the checker explores: stateright's `ActorModel` of raft-model's
//! actor, wrapped to add what `ActorModel` cannot express on its own:
//!
//! - a history of the run (leaders per term, applied entries, crashes, the clients'
//!   operations for the linearizability tester) and transition checks (terms never
//!   decrease, commit indexes never decrease, leaders only append), updated by
//!   comparing each state with the next;
//! - a total bound on crashes (stateright bounds only crashes at the same time), and
//!   no crashes of clients;
//! - a message that an actor receives and ignores is consumed, as on a real network
//!   (stateright leaves such a message in flight forever);
//! - symmetry reduction that permutes servers only, never clients.

use crate::bounds::{Bounds, NetworkKind};
use crate::properties;
use raft_model::{
    ClientConfig, Entry, Id, KvSpec, Msg, Op, OpResult, PersistentState, RaftActor, RaftState,
    Role, ServerConfig, ServerSet, ServerState, Text, Timer,
};
use stateright::actor::{
    ActorModel, ActorModelAction, ActorModelState, Envelope, LossyNetwork, Network,
};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use stateright::{Model, Path, Property, Rewrite, RewritePlan};
use std::sync::Arc;

/// A state of the model: stateright's actor-system state with the run's history.
/// A type of its own so that its `Debug`, which is what stateright's Explorer
/// shows, reads as Raft (see `crate::display::state`) rather than as a dump.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct State(pub ActorModelState<RaftActor, History>);

impl std::ops::Deref for State {
    type Target = ActorModelState<RaftActor, History>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::display::state(self))
    }
}
pub type Action = ActorModelAction<Msg, Timer, ()>;

/// Transition properties, recorded in `History::violations` the step they fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    TermDecreased = 1,
    CommitDecreased = 2,
    LeaderOverwrote = 4,
    AppliedDifferent = 8,
}

/// What the run has done so far, beyond the current state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct History {
    /// `leaders[t]`: every server that has been leader in term `t`.
    pub leaders: Arc<Vec<ServerSet>>,
    /// The entries applied so far, by index (the longest prefix any server applied).
    pub applied: Arc<Vec<Entry>>,
    /// Crashes so far.
    pub crashes: u8,
    /// Servers that have crashed at least once.
    pub crashed_before: ServerSet,
    /// `Violation` bits.
    pub violations: u8,
    /// The clients' operations, for the linearizability check.
    pub lin: Arc<LinearizabilityTester<Id, KvSpec>>,
    /// Per client: highest sequence number invoked, and answered.
    pub invoked: Arc<Vec<u64>>,
    pub returned: Arc<Vec<u64>>,
}

impl History {
    pub fn new(bounds: &Bounds) -> Self {
        History {
            leaders: Arc::default(),
            applied: Arc::default(),
            crashes: 0,
            crashed_before: ServerSet::EMPTY,
            violations: 0,
            lin: Arc::new(LinearizabilityTester::new(KvSpec::default())),
            invoked: Arc::new(vec![0; bounds.clients]),
            returned: Arc::new(vec![0; bounds.clients]),
        }
    }

    pub fn violated(&self, v: Violation) -> bool {
        self.violations & v as u8 != 0
    }

    fn flag(&mut self, v: Violation) {
        self.violations |= v as u8;
    }
}

impl Rewrite<Id> for History {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        History {
            leaders: Arc::new(self.leaders.iter().map(|l| l.rewrite(plan)).collect()),
            applied: self.applied.clone(), // entries name clients only
            crashed_before: self.crashed_before.rewrite(plan),
            // Clients are never permuted, so what is keyed by client stays.
            ..self.clone()
        }
    }
}

/// The operations of client `c` (0-based) when each client performs `ops` of them:
/// appends of distinct values to one key (so a duplicated append shows), and a final
/// get that reads them back.
pub fn client_ops(c: usize, ops: usize) -> Vec<Op> {
    let key: Text = "x".into();
    (0..ops)
        .map(|j| {
            if ops > 1 && j == ops - 1 {
                Op::Get { key: key.clone() }
            } else {
                let letter = (b'a' + ((c * ops + j) % 26) as u8) as char;
                Op::Append {
                    key: key.clone(),
                    value: letter.to_string().into(),
                }
            }
        })
        .collect()
}

/// The Raft model under `bounds`.
#[derive(Clone)]
pub struct RaftModel {
    pub bounds: Bounds,
    pub inner: ActorModel<RaftActor, Bounds, History>,
}

impl RaftModel {
    pub fn new(bounds: Bounds) -> Self {
        let ops = (0..bounds.clients)
            .map(|c| client_ops(c, bounds.ops_per_client))
            .collect();
        RaftModel::with_client_ops(bounds, ops)
    }

    /// The Raft model under `bounds` whose clients perform `ops` (client `c` the
    /// operations `ops[c]`, in order) instead of the generated ones: a recorded run's
    /// clients, for instance. `bounds.clients` must be `ops.len()`.
    pub fn with_client_ops(bounds: Bounds, ops: Vec<Vec<Op>>) -> Self {
        debug_assert_eq!(bounds.clients, ops.len());
        let n = bounds.servers;
        let mut cfg = ServerConfig::new(n).with_mutants(bounds.mutants);
        cfg.max_entries_per_append = bounds.max_batch;
        let server = RaftActor::Server(cfg);
        let network = match bounds.network {
            NetworkKind::Unordered => Network::new_unordered_nonduplicating([]),
            NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
            NetworkKind::Ordered => Network::new_ordered([]),
        };
        let inner = ActorModel::new(bounds.clone(), History::new(&bounds))
            .actors(std::iter::repeat_n(server, n))
            .actors(
                ops.into_iter()
                    .map(|ops| RaftActor::Client(ClientConfig::new(n, ops))),
            )
            .init_network(network)
            .lossy_network(if bounds.lossy {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            })
            // Every server may be down at once; the total is bounded in `actions`.
            .max_crashes(n)
            .record_msg_out(record_invocation)
            .record_msg_in(record_return);
        RaftModel { bounds, inner }
    }

    pub fn servers(&self) -> usize {
        self.bounds.servers
    }
}

/// A client sent a request: the first send of a sequence number is an invocation.
fn record_invocation(bounds: &Bounds, h: &History, env: Envelope<&Msg>) -> Option<History> {
    let Msg::ClientRequest(raft_model::ClientRequest { seq, op }) = env.msg else {
        return None;
    };
    let c = usize::from(env.src).checked_sub(bounds.servers)?;
    if *seq <= h.invoked[c] {
        return None; // a retry
    }
    let mut h = h.clone();
    Arc::make_mut(&mut h.invoked)[c] = *seq;
    // An invalid history (say, two invocations in flight) makes the property fail.
    let _ = Arc::make_mut(&mut h.lin).on_invoke(env.src, op.clone());
    Some(h)
}

/// A client accepted a reply: the operation returned.
fn record_return(bounds: &Bounds, h: &History, env: Envelope<&Msg>) -> Option<History> {
    let Msg::ClientReply { seq, result } = env.msg else {
        return None;
    };
    let c = usize::from(env.dst).checked_sub(bounds.servers)?;
    if *seq != h.invoked[c] || h.returned[c] >= *seq {
        return None;
    }
    let mut h = h.clone();
    Arc::make_mut(&mut h.returned)[c] = *seq;
    let _ = Arc::make_mut(&mut h.lin).on_return(env.dst, result.clone());
    Some(h)
}

/// The server state of actor `i`, if it is a server.
pub fn server(state: &State, i: usize) -> Option<&ServerState> {
    state.actor_states.get(i).and_then(|s| s.server())
}

/// The server state of `i` if the server is up.
pub fn live_server(state: &State, i: usize) -> Option<&ServerState> {
    if state.crashed.get(i).copied().unwrap_or(false) {
        None
    } else {
        server(state, i)
    }
}

/// The log of server `i` as it stands: its state's if up, its storage's if crashed.
pub fn log_of(state: &State, i: usize) -> &[Entry] {
    if state.crashed[i] {
        match &state.actor_storages[i] {
            Some(PersistentState { log, .. }) => log,
            None => &[],
        }
    } else {
        server(state, i).map_or(&[], |s| &s.log)
    }
}

fn acting_actor(action: &Action) -> Option<Id> {
    match action {
        ActorModelAction::Deliver { dst, .. } => Some(*dst),
        ActorModelAction::Timeout(id, _)
        | ActorModelAction::Crash(id)
        | ActorModelAction::Recover(id) => Some(*id),
        ActorModelAction::SelectRandom { actor, .. } => Some(*actor),
        ActorModelAction::Drop(_) => None,
    }
}

impl RaftModel {
    /// Updates the history with what the step from `last` to `next` did at server `i`.
    fn observe(&self, last: &State, next: &mut State, i: usize, recovered: bool) {
        if next.crashed[i] {
            return;
        }
        let after_arc = next.actor_states[i].clone();
        let (Some(before), Some(after)) = (server(last, i), after_arc.server()) else {
            return;
        };
        observe_server(&mut next.history, i, before, after, recovered);
    }
}

/// Updates history `h` with a step of server `i` from `before` to `after`
/// (`recovered`: a restart, which may lose volatile state). The trace validator
/// keeps its history of a recorded run with this same function.
pub fn observe_server(
    h: &mut History,
    i: usize,
    before: &ServerState,
    after: &ServerState,
    recovered: bool,
) {
    if after.current_term < before.current_term {
        h.flag(Violation::TermDecreased);
    }
    if !recovered {
        if after.commit_index < before.commit_index {
            h.flag(Violation::CommitDecreased);
        }
        if before.role == Role::Leader
            && after.role == Role::Leader
            && after.current_term == before.current_term
            && !after.log.starts_with(&before.log)
        {
            h.flag(Violation::LeaderOverwrote);
        }
    }
    if after.role == Role::Leader {
        let term = after.current_term as usize;
        if !h.leaders.get(term).is_some_and(|l| l.contains(i)) {
            let leaders = Arc::make_mut(&mut h.leaders);
            if leaders.len() <= term {
                leaders.resize(term + 1, ServerSet::EMPTY);
            }
            leaders[term].insert(i);
        }
    }
    let applied_before = if recovered { 0 } else { before.commit_index };
    for k in applied_before as usize..after.commit_index as usize {
        match h.applied.get(k) {
            Some(e) if *e != after.log[k] => h.flag(Violation::AppliedDifferent),
            Some(_) => {}
            None => Arc::make_mut(&mut h.applied).push(after.log[k].clone()),
        }
    }
}

impl Model for RaftModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.inner.init_states().into_iter().map(State).collect()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.inner.actions(&state.0, actions);
        let n = self.servers();
        let may_crash = (state.history.crashes as usize) < self.bounds.crashes;
        actions.retain(|a| match a {
            ActorModelAction::Crash(id) => may_crash && usize::from(*id) < n,
            _ => true,
        });
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let acting = acting_actor(&action);
        let mut next = match self.inner.next_state(&last.0, action.clone()) {
            Some(next) => State(next),
            None => consume_ignored(last, &action)?,
        };
        match action {
            ActorModelAction::Crash(id) => {
                let i = usize::from(id);
                next.history.crashes += 1;
                next.history.crashed_before.insert(i);
                // What a crashed server had in memory is gone: keep only what it will
                // restart from, so that crashes that lose different volatile state
                // lead to one state, not many.
                let restarted = ServerState::from_storage(next.actor_storages[i].as_ref());
                if server(last, i).is_some_and(|s| restarted.current_term < s.current_term) {
                    next.history.flag(Violation::TermDecreased);
                }
                next.actor_states[i] = Arc::new(RaftState::Server(restarted));
            }
            ActorModelAction::Recover(id) => self.observe(last, &mut next, usize::from(id), true),
            _ => {
                if let Some(id) = acting.map(usize::from).filter(|i| *i < self.servers()) {
                    self.observe(last, &mut next, id, false);
                }
            }
        }
        Some(next)
    }

    fn format_action(&self, action: &Action) -> String {
        crate::display::action(self.servers(), action)
    }

    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        let next = self.next_state(last, action.clone())?;
        Some(crate::display::step(self, last, &action, &next))
    }

    /// The Explorer draws this above the state: the run's last steps as a
    /// message sequence diagram.
    fn as_svg(&self, path: Path<State, Action>) -> Option<String> {
        crate::path_svg::svg(self, &path.into_vec())
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all(&self.bounds)
    }

    fn within_boundary(&self, state: &State) -> bool {
        let b = &self.bounds;
        state.network.len() <= b.max_in_flight
            && (b.max_per_channel == usize::MAX || per_channel_ok(state, b.max_per_channel))
            && state.actor_states.iter().all(|s| match s.server() {
                Some(s) => s.current_term <= b.max_term && s.log.len() <= b.max_log,
                None => true,
            })
    }
}

fn per_channel_ok(state: &State, limit: usize) -> bool {
    let mut counts: Vec<((Id, Id), usize)> = Vec::new();
    for env in state.network.iter_all() {
        match counts.iter_mut().find(|(k, _)| *k == (env.src, env.dst)) {
            Some((_, c)) => {
                *c += 1;
                if *c > limit {
                    return false;
                }
            }
            None => counts.push(((env.src, env.dst), 1)),
        }
    }
    true
}

/// stateright treats a delivery that changes nothing as impossible and leaves the
/// message in flight forever; on a real network the message is gone once the actor
/// has ignored it. Model that, for networks that deliver each message once.
fn consume_ignored(last: &State, action: &Action) -> Option<State> {
    let ActorModelAction::Deliver { src, dst, msg } = action else {
        return None;
    };
    let i = usize::from(*dst);
    if i >= last.actor_states.len() || last.crashed[i] {
        return None;
    }
    let Network::UnorderedNonDuplicating(_) = &last.network else {
        return None;
    };
    let mut next = last.clone();
    if let Network::UnorderedNonDuplicating(multiset) = &mut next.network {
        let env = Envelope {
            src: *src,
            dst: *dst,
            msg: msg.clone(),
        };
        match multiset.get_mut(&env) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                multiset.remove(&env);
            }
            None => return None,
        }
    }
    Some(next)
}

/// Symmetry reduction: servers are interchangeable, so a state stands for every
/// state that differs from it only by a permutation of servers. Sorts the server
/// slots only: clients are not interchangeable (each has its own operations).
pub fn representative(state: &State) -> State {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Slot<'a> {
        Server(&'a RaftState, bool, &'a Option<PersistentState>),
        Client(usize),
    }
    let keys: Vec<Slot> = (0..state.actor_states.len())
        .map(|i| match &*state.actor_states[i] {
            s @ RaftState::Server(_) => Slot::Server(s, state.crashed[i], &state.actor_storages[i]),
            RaftState::Client(_) => Slot::Client(i),
        })
        .collect();
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        return state.clone(); // already in canonical order
    }
    let plan = RewritePlan::<Id, _>::from_values_to_sort(&keys);
    State(ActorModelState {
        actor_states: plan.reindex(&state.actor_states),
        network: state.network.rewrite(&plan),
        timers_set: plan.reindex(&state.timers_set),
        random_choices: plan.reindex(&state.random_choices),
        crashed: plan.reindex(&state.crashed),
        actor_storages: plan.reindex(&state.actor_storages),
        history: state.history.rewrite(&plan),
    })
}

/// The linearizability tester's verdict on the clients' history so far. Histories
/// repeat across millions of states, so verdicts are remembered per thread.
pub fn linearizable(h: &History) -> bool {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Tester = LinearizabilityTester<Id, KvSpec>;
    thread_local! {
        static VERDICTS: RefCell<HashMap<Tester, bool>> = RefCell::new(HashMap::new());
    }
    if let Some(v) = VERDICTS.with(|m| m.borrow().get(&h.lin).copied()) {
        return v;
    }
    let v = h.lin.serialized_history().is_some();
    VERDICTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > 1 << 14 {
            m.clear();
        }
        m.insert((*h.lin).clone(), v);
    });
    v
}

/// The operations the clients completed, in a linearization order, if one exists.
pub fn linearization(h: &History) -> Option<Vec<(Op, OpResult)>> {
    h.lin.serialized_history()
}
