//! The checker's own depth-first search: stateright's `Model` (the same
//! actions, states, boundary and properties), searched with less work per state
//! than stateright's `spawn_dfs`.
//!
//! Why not stateright's loop: measured on the default check, its own work was
//! about a third of the time: it copies the whole path (hundreds of steps) into
//! every state it keeps, hashes each new state twice (the symmetry
//! representative's fingerprint and then the state's own, which it does not
//! use), and looks every property up in a shared map for every state. Here a
//! thread keeps one path for its whole stack ([`worker`]), the fingerprint is
//! computed once, by the caller's [`Expand`] (with symmetry, the class's), which
//! may judge a successor before building it, and a property is looked up by
//! its place in a list.
//!
//! Semantics, as stateright's depth-first search: a state's depth counts the
//! initial state as 1; a state at `target_max_depth` or deeper is neither
//! judged nor expanded; every successor within the boundary counts as a state,
//! and a new one (by fingerprint) as a unique state; properties are judged in
//! each state taken from the stack. The search stops at the first violated
//! Always property; a Sometimes property is recorded at its first witness.
//! Eventually properties are not judged: [`Dfs::spawn`] refuses a model that
//! has one. `tests/engine.rs` checks that it reaches the same unique states
//! and verdicts as stateright's search.

mod broker;
mod fp_table;
mod visited;
mod worker;

use broker::{Broker, Job};
use stateright::{Checker, Expectation, Model, Path, Property};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use visited::Visited;

/// How to search.
#[derive(Clone, Debug)]
pub struct Options {
    pub threads: usize,
    pub timeout: Option<Duration>,
    pub target_max_depth: Option<usize>,
}

/// What a successor turned out to be.
pub enum Successor<S> {
    /// The action leads nowhere, or beyond the boundary.
    Outside,
    /// A state already visited.
    Seen,
    /// A new state.
    New(S),
}

/// Where a search records the fingerprints it has met.
pub trait Seen {
    /// Records `fp`; whether it was new.
    fn insert(&mut self, fp: u64) -> bool;

    /// `fp` is about to be recorded: a hint, which may start its cache miss
    /// early.
    fn prefetch(&mut self, _fp: u64) {}
}

/// How a search tells states apart and makes successors.
pub trait Expand<M: Model>: Send + Sync {
    /// Which states are the same: those with the same fingerprint.
    fn fingerprint(&self, state: &M::State) -> u64;

    /// The successor of `state` by `action`, its fingerprint recorded in
    /// `seen`. By default the successor is built, judged against the boundary
    /// and fingerprinted; a model that can fingerprint a successor from its
    /// parent and the step's changes need build only the new ones (every
    /// successor within the boundary must be recorded).
    fn successor(
        &self,
        model: &M,
        state: &M::State,
        action: M::Action,
        seen: &mut dyn Seen,
    ) -> Successor<M::State> {
        let Some(next) = model.next_state(state, action) else {
            return Successor::Outside;
        };
        if !model.within_boundary(&next) {
            Successor::Outside
        } else if seen.insert(self.fingerprint(&next)) {
            Successor::New(next)
        } else {
            Successor::Seen
        }
    }

    /// The successors of `state` by its actions (`model.actions`), in order,
    /// each given to `found` with its action's index; those outside the
    /// boundary may be left out. `actions` is room to list them in (left
    /// empty). By default [`Expand::successor`] one after the other; a model
    /// that fingerprints successors before building them may fingerprint them
    /// all first, so that the visited set's cache misses overlap that work,
    /// and may build one of them on `state` itself (the search is done with
    /// it).
    fn successors(
        &self,
        model: &M,
        state: M::State,
        actions: &mut Vec<M::Action>,
        seen: &mut dyn Seen,
        found: &mut dyn FnMut(usize, Successor<M::State>),
    ) {
        model.actions(&state, actions);
        for (index, action) in actions.drain(..).enumerate() {
            found(index, self.successor(model, &state, action, seen));
        }
    }
}

/// Successors built whole, then fingerprinted by a function.
pub struct Whole<S>(pub fn(&S) -> u64);

impl<M: Model> Expand<M> for Whole<M::State> {
    fn fingerprint(&self, state: &M::State) -> u64 {
        (self.0)(state)
    }
}

/// What the threads share.
pub(crate) struct Shared<M: Model> {
    model: M,
    properties: Vec<Property<M>>,
    expand: Box<dyn Expand<M>>,
    visited: Visited,
    broker: Broker<M::State>,
    /// States generated within the boundary, new or not.
    states: AtomicUsize,
    max_depth: AtomicUsize,
    target_max_depth: Option<usize>,
    deadline: Option<Instant>,
    /// Per property (by its place in `properties`): whether it has a discovery.
    discovered: Vec<AtomicBool>,
    /// Each discovery's path, as action indices from an initial state's index.
    discoveries: Mutex<HashMap<&'static str, Vec<u32>>>,
}

impl<M: Model> Shared<M> {
    fn discover(&self, i: usize, name: &'static str, path: &[u32]) {
        if let Some(flag) = self.discovered.get(i) {
            flag.store(true, Ordering::Relaxed);
        }
        let mut d = self.discoveries.lock().unwrap_or_else(|p| p.into_inner());
        d.entry(name).or_insert_with(|| path.to_vec());
    }
}

/// A running (or finished) search.
pub struct Dfs<M: Model> {
    shared: Arc<Shared<M>>,
    handles: Vec<JoinHandle<()>>,
}

impl<M> Dfs<M>
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + Send + Sync + 'static,
{
    /// Starts searching `model`, with `fingerprint` saying which states are
    /// the same; refuses a model with an Eventually property.
    pub fn spawn(
        model: M,
        fingerprint: fn(&M::State) -> u64,
        options: &Options,
    ) -> Result<Self, String> {
        Dfs::spawn_with(model, Box::new(Whole(fingerprint)), options)
    }

    /// [`Dfs::spawn`], with `expand` saying which states are the same and
    /// making successors.
    pub fn spawn_with(
        model: M,
        expand: Box<dyn Expand<M>>,
        options: &Options,
    ) -> Result<Self, String> {
        let properties = model.properties();
        if let Some(p) = properties
            .iter()
            .find(|p| p.expectation == Expectation::Eventually)
        {
            return Err(format!(
                "the depth-first engine judges Always and Sometimes properties; '{}' is an Eventually property",
                p.name
            ));
        }
        let visited = Visited::default();
        let mut jobs = Vec::new();
        let mut states = 0;
        for (i, state) in model.init_states().into_iter().enumerate() {
            if !model.within_boundary(&state) {
                continue;
            }
            states += 1;
            if visited.insert(expand.fingerprint(&state)) {
                let index = u32::try_from(i).map_err(|_| "too many initial states")?;
                jobs.push(Job {
                    path: vec![index],
                    state,
                });
            }
        }
        // Searched in the order given: the broker hands out the last job first.
        jobs.reverse();
        let threads = options.threads.max(1);
        let shared = Arc::new(Shared {
            discovered: properties.iter().map(|_| AtomicBool::new(false)).collect(),
            properties,
            model,
            expand,
            visited,
            broker: Broker::new(threads, jobs),
            states: AtomicUsize::new(states),
            max_depth: AtomicUsize::new(0),
            target_max_depth: options.target_max_depth,
            deadline: options.timeout.map(|t| Instant::now() + t),
            discoveries: Mutex::new(HashMap::new()),
        });
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let sh = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("dfs-{t}"))
                .spawn(move || {
                    // A thread that dies calls the search off, so that the
                    // others neither wait for it forever nor finish without
                    // its share; the panic goes on to whoever joins it.
                    let run = std::panic::AssertUnwindSafe(|| worker::work(&sh));
                    if let Err(panic) = std::panic::catch_unwind(run) {
                        sh.broker.call_off();
                        std::panic::resume_unwind(panic);
                    }
                })
                .map_err(|e| format!("could not start a checker thread: {e}"))?;
            handles.push(handle);
        }
        Ok(Dfs { shared, handles })
    }

    /// Whether the search stopped before every state was done (a violation,
    /// the timeout).
    pub fn was_called_off(&self) -> bool {
        self.shared.broker.was_called_off()
    }
}

/// A state's fingerprint without symmetry: its hash, with fixed keys so that
/// every run counts the same.
pub fn plain_fingerprint<S: Hash>(state: &S) -> u64 {
    ahash::RandomState::with_seeds(0x5eed, 0xf00d, 0xcafe, 0xbeef).hash_one(state)
}

/// The path that `indices` (an initial state's index, then action indices)
/// names, replayed through `model`.
fn path_of<M: Model>(model: &M, indices: &[u32]) -> Option<Path<M::State, M::Action>>
where
    M::State: Clone + PartialEq,
    M::Action: Clone + PartialEq,
{
    let (first, rest) = indices.split_first()?;
    let init = model.init_states().into_iter().nth(*first as usize)?;
    let mut state = init.clone();
    let mut taken = Vec::with_capacity(rest.len());
    let mut actions = Vec::new();
    for &i in rest {
        actions.clear();
        model.actions(&state, &mut actions);
        let action = actions.get(i as usize)?.clone();
        state = model.next_state(&state, action.clone())?;
        taken.push(action);
    }
    Path::from_actions(model, init, &taken)
}

impl<M> Checker<M> for Dfs<M>
where
    M: Model,
{
    fn model(&self) -> &M {
        &self.shared.model
    }

    fn state_count(&self) -> usize {
        self.shared.states.load(Ordering::Relaxed)
    }

    fn unique_state_count(&self) -> usize {
        self.shared.visited.len()
    }

    fn max_depth(&self) -> usize {
        self.shared.max_depth.load(Ordering::Relaxed)
    }

    fn discoveries(&self) -> HashMap<&'static str, Path<M::State, M::Action>>
    where
        M::State: Clone + PartialEq,
        M::Action: Clone + PartialEq,
    {
        let d = self
            .shared
            .discoveries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // A discovery whose path does not replay is a model that is not a
        // function of its inputs: losing the discovery could turn a violation
        // into a proof, so it stops here, as stateright's search does.
        d.iter()
            .map(
                |(name, indices)| match path_of(&self.shared.model, indices) {
                    Some(path) => (*name, path),
                    None => panic!(
                        "the path to the discovery of '{name}' does not replay: the model's \
                     actions or steps differ between two calls with the same state \
                     (action indices {indices:?})"
                    ),
                },
            )
            .collect()
    }

    fn handles(&mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.handles)
    }

    fn is_done(&self) -> bool {
        self.shared.broker.is_over()
    }
}
