//! The replicated service: a key/value state machine (lab 3), applied in log order.

use crate::msg::{Entry, Op, Text};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::semantics::SequentialSpec;
use stateright::{Rewrite, RewritePlan};
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

/// What applying an operation returns to the client.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OpResult {
    /// A Put or Append was applied.
    Done,
    /// A Get saw this value (`None`: the key is absent).
    Value(Option<Text>),
}

impl fmt::Debug for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpResult::Done => f.write_str("ok"),
            OpResult::Value(Some(v)) => write!(f, "{v:?}"),
            OpResult::Value(None) => f.write_str("absent"),
        }
    }
}

/// The last request applied for one client, and what it returned, so that a retried
/// request is answered from here instead of being applied twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Session {
    pub seq: u64,
    pub result: OpResult,
}

/// The state machine of one server: the data and the client sessions.
///
/// Persistent maps ([imbl](https://docs.rs/imbl)'s B-trees): a clone shares them,
/// an update copies one path, and the difference of two versions (what a trace
/// records) is found by skipping the subtrees they share. A real node clones its
/// state at every step that changes it, so with plain maps every write would cost
/// the size of the store.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KvStore {
    pub data: OrdMap<Text, Text>,
    pub sessions: OrdMap<Id, Session>,
}

/// Hashes each map's length first, as `BTreeMap` does, so that the two maps'
/// entries cannot run into each other (the checker identifies states by hash).
impl Hash for KvStore {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.data.len().hash(state);
        self.data.hash(state);
        self.sessions.len().hash(state);
        self.sessions.hash(state);
    }
}

/// The maps `apply_op` works on: the store's and the specification's.
trait Map {
    fn value(&self, key: &Text) -> Option<&Text>;
    fn set(&mut self, key: Text, value: Text);
}

impl Map for OrdMap<Text, Text> {
    fn value(&self, key: &Text) -> Option<&Text> {
        self.get(key)
    }
    fn set(&mut self, key: Text, value: Text) {
        self.insert(key, value);
    }
}

impl Map for BTreeMap<Text, Text> {
    fn value(&self, key: &Text) -> Option<&Text> {
        self.get(key)
    }
    fn set(&mut self, key: Text, value: Text) {
        self.insert(key, value);
    }
}

impl KvStore {
    /// True before anything was applied (no data, no sessions).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.sessions.is_empty()
    }

    /// True if both are the very same maps (a clone of one another, unchanged
    /// since): equal, found in O(1).
    pub fn ptr_eq(&self, other: &KvStore) -> bool {
        self.data.ptr_eq(&other.data) && self.sessions.ptr_eq(&other.sessions)
    }

    /// The state after applying `entries` in order to the empty store: what a
    /// snapshot of those entries must hold.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> KvStore {
        let mut kv = KvStore::default();
        for e in entries {
            // A specification, not a server's decision: not counted as one.
            kv.apply_uncounted(e, false);
        }
        kv
    }

    /// Applies a committed entry. A request whose sequence number the client's
    /// session has already seen is not applied again (`apply_duplicates` is the
    /// `no-dedup` mutant).
    pub fn apply(&mut self, entry: &Entry, apply_duplicates: bool) {
        if !self.apply_uncounted(entry, apply_duplicates) {
            crate::coverage::hit(crate::coverage::Decision::ApplySkipsDuplicate);
        }
    }

    /// [`KvStore::apply`] without counting its decision; false if the entry was
    /// skipped as a duplicate.
    fn apply_uncounted(&mut self, entry: &Entry, apply_duplicates: bool) -> bool {
        if let Some(session) = self.sessions.get(&entry.client) {
            if session.seq >= entry.seq && !apply_duplicates {
                return false;
            }
        }
        let result = apply_op(&mut self.data, &entry.op);
        self.sessions.insert(
            entry.client,
            Session {
                seq: entry.seq,
                result,
            },
        );
        true
    }

    /// The cached answer for `client`'s request `seq`, if it was the last one applied.
    pub fn answered(&self, client: Id, seq: u64) -> Option<&OpResult> {
        self.sessions
            .get(&client)
            .filter(|s| s.seq == seq)
            .map(|s| &s.result)
    }

    /// True if the client has already had request `seq` (or a later one) applied.
    pub fn seen(&self, client: Id, seq: u64) -> bool {
        self.sessions.get(&client).is_some_and(|s| s.seq >= seq)
    }
}

fn apply_op(data: &mut impl Map, op: &Op) -> OpResult {
    match op {
        Op::Put { key, value } => {
            data.set(key.clone(), value.clone());
            OpResult::Done
        }
        Op::Append { key, value } => {
            let joined: Text = match data.value(key) {
                Some(old) => format!("{old}{value}").into(),
                None => value.clone(),
            };
            data.set(key.clone(), joined);
            OpResult::Done
        }
        Op::Get { key } => OpResult::Value(data.value(key).cloned()),
    }
}

impl fmt::Debug for KvStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.data.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl Rewrite<Id> for KvStore {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        KvStore {
            data: self.data.clone(),
            sessions: self
                .sessions
                .iter()
                .map(|(c, s)| (c.rewrite(plan), s.clone()))
                .collect(),
        }
    }
}

/// The sequential specification the linearizability tester compares client
/// histories against: a plain map, the same operations, no replication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvSpec(pub BTreeMap<Text, Text>);

impl SequentialSpec for KvSpec {
    type Op = Op;
    type Ret = OpResult;

    fn invoke(&mut self, op: &Op) -> OpResult {
        apply_op(&mut self.0, op)
    }
}
