//! The server invariants of a recorded run, judged incrementally: each global
//! state costs what the step changed, not the length of the logs.
//!
//! The same properties as the registry's functions ([`crate::properties`]), on
//! the same views (a server that is up by its state, a crashed one by its durable
//! storage), kept up to date as positions of the logs change:
//!
//! - every log position carries a *prefix id*: equal ids mean equal logs up to
//!   there (ids are interned from the previous position's id and the entry, so
//!   the equality is exact). Log Matching holds while no (index, term) is held
//!   under two ids; Leader Completeness and State Machine Safety compare the ids
//!   at commit indexes. A log that begins after a snapshot keeps its positions
//!   below it: its own, if its log held the snapshot's last entry, else the
//!   applied prefix, which an installed or restarted-from snapshot stands for.
//! - Committed entries on a majority: each (index, term) counts its holders;
//!   each live server counts its committed positions held by fewer than a
//!   majority, updated when a count crosses the majority or a commit moves.
//! - the history (leaders per term, entries applied, the transition properties),
//!   as [`crate::model::observe_server`] keeps it, with the log comparisons done
//!   on prefix ids.
//!
//! `trace check` is run with the registry's functions in the tests too, and both
//! must agree on every fixture and synthesized run (`tests/trace_scale.rs`).

use super::positions::Positions;
use crate::properties::{
    COMMITTED_ON_MAJORITY, COMMIT_MONOTONIC, ELECTION_SAFETY, LEADER_APPEND_ONLY,
    LEADER_COMPLETENESS, LOG_MATCHING, STATE_MACHINE_SAFETY, TERMS_MONOTONIC,
};
use raft_model::{majority, Entry, Log, LogIndex, Role, ServerSet, ServerState, Term};
// Entries are hashed to intern prefix ids: ahash, not SipHash.
use ahash::AHashMap as HashMap;

/// A live server's fields the invariants read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Live {
    pub term: Term,
    pub role: Role,
    pub commit: usize,
}

impl Live {
    pub fn of(s: &ServerState) -> Live {
        Live {
            term: s.current_term,
            role: s.role,
            commit: s.commit_index as usize,
        }
    }
}

#[derive(Default)]
struct View {
    /// Prefix id of each position (0-based) of the server's log as the
    /// invariants see it.
    ids: Vec<u64>,
    terms: Vec<Term>,
    /// The entry of each position (`None` below a snapshot the log did not
    /// hold): a log set anew is compared with these, entry by entry, and only
    /// where it differs interned again.
    entries: Vec<Option<Entry>>,
    live: Option<Live>,
    /// Committed positions of this (live) server held by fewer than a majority.
    under: u64,
}

pub(super) struct Judge {
    majority: usize,
    intern: HashMap<(u64, Entry), u64>,
    views: Vec<View>,
    /// (position, term) -> holders, and prefix ids -> holders.
    positions: Positions,
    /// (position, term) held under two ids or more.
    conflicts: usize,
    // The history.
    leaders: HashMap<Term, ServerSet>,
    two_leaders: Vec<Term>,
    /// The entries applied so far, by position: their prefix ids and terms (a
    /// server's log below its snapshot is this prefix).
    applied: Vec<(u64, Term)>,
    /// Ids for positions no entry is known for (a snapshot of more than was
    /// ever applied): above every interned id, each used once.
    next_unknown: u64,
    term_decreased: bool,
    commit_decreased: bool,
    leader_overwrote: bool,
    applied_different: bool,
}

impl Judge {
    pub fn new(servers: usize) -> Judge {
        Judge {
            majority: majority(servers),
            intern: HashMap::new(),
            views: (0..servers).map(|_| View::default()).collect(),
            positions: Positions::default(),
            conflicts: 0,
            leaders: HashMap::new(),
            two_leaders: Vec::new(),
            applied: Vec::new(),
            next_unknown: 1 << 63,
            term_decreased: false,
            commit_decreased: false,
            leader_overwrote: false,
            applied_different: false,
        }
    }

    fn id_of(&mut self, prev: u64, e: &Entry) -> u64 {
        let next = self.intern.len() as u64 + 1;
        *self.intern.entry((prev, e.clone())).or_insert(next)
    }

    fn under(&self, k: usize, t: Term) -> bool {
        (self.positions.holders(k, t) as usize) < self.majority
    }

    /// Servers other than `s` that are live and have committed position `k`,
    /// whose log holds term `t` there.
    fn committed_holders(&self, s: usize, k: usize, t: Term) -> Vec<usize> {
        (0..self.views.len())
            .filter(|&j| j != s)
            .filter(|&j| {
                let v = &self.views[j];
                v.terms.get(k) == Some(&t) && v.live.is_some_and(|l| k < l.commit)
            })
            .collect()
    }

    fn own_committed(&self, s: usize, k: usize) -> bool {
        self.views[s].live.is_some_and(|l| k < l.commit)
    }

    fn pop_position(&mut self, s: usize) {
        let k = self.views[s].ids.len() - 1;
        let (id, t) = (self.views[s].ids[k], self.views[s].terms[k]);
        if self.own_committed(s, k) && self.under(k, t) {
            self.views[s].under -= 1;
        }
        self.views[s].ids.pop();
        self.views[s].terms.pop();
        self.views[s].entries.pop();
        let (now, resolved) = self.positions.remove(k, t, id);
        if resolved {
            self.conflicts -= 1;
        }
        if now as usize + 1 == self.majority {
            for j in self.committed_holders(s, k, t) {
                self.views[j].under += 1;
            }
        }
    }

    fn push_position(&mut self, s: usize, e: &Entry) {
        let prev = self.views[s].ids.last().copied().unwrap_or(0);
        let id = self.id_of(prev, e);
        self.push_id(s, id, e.term, Some(e.clone()));
    }

    fn push_id(&mut self, s: usize, id: u64, t: Term, e: Option<Entry>) {
        let k = self.views[s].ids.len();
        let (now, conflict) = self.positions.add(k, t, id);
        if conflict {
            self.conflicts += 1;
        }
        if now as usize == self.majority {
            for j in self.committed_holders(s, k, t) {
                self.views[j].under -= 1;
            }
        }
        self.views[s].ids.push(id);
        self.views[s].terms.push(t);
        self.views[s].entries.push(e);
        if self.own_committed(s, k) && self.under(k, t) {
            self.views[s].under += 1;
        }
    }

    /// Server `s`'s log (as the invariants see it) now keeps its first `keep`
    /// entries and continues with `tail`.
    pub fn replace_from<'e>(
        &mut self,
        s: usize,
        keep: usize,
        tail: impl IntoIterator<Item = &'e Entry>,
    ) {
        while self.views[s].ids.len() > keep {
            self.pop_position(s);
        }
        for e in tail {
            self.push_position(s, e);
        }
    }

    /// Server `s`'s log is now `log` (a crash, a stop, a start, a snapshot
    /// taken or installed): only the part after the common prefix changes.
    pub fn set_log(&mut self, s: usize, log: &Log) {
        let snap = log.snapshot_index() as usize;
        if snap > 0 && self.views[s].terms.get(snap - 1) != Some(&log.snapshot_term()) {
            self.through_snapshot_applied(s, snap, log.snapshot_term());
        }
        // Positions through the snapshot are the view's own from here on.
        let mut keep = snap;
        let mut prev = self.id_through(s, snap);
        for (k, e) in log.iter().enumerate() {
            let v = &self.views[s];
            let Some(&id) = v.ids.get(snap + k) else {
                break;
            };
            // The same entry after the same prefix has the same id: no lookup.
            let same = match v.entries.get(snap + k) {
                Some(Some(x)) => {
                    x == e && v.ids.get((snap + k).wrapping_sub(1)).copied().unwrap_or(0) == prev
                }
                _ => self.intern.get(&(prev, e.clone())) == Some(&id),
            };
            if !same {
                break;
            }
            prev = id;
            keep = snap + k + 1;
        }
        self.replace_from(s, keep, log.iter_from(keep as LogIndex + 1));
    }

    /// Server `s`'s log begins after a snapshot through position `snap` that its
    /// own log did not hold (it installed a leader's snapshot, or restarted from
    /// one): its positions through `snap` become the applied prefix, which the
    /// snapshot's data is (the replay holds the data to the model's). Positions
    /// past what was ever applied get ids of their own, and State Machine Safety
    /// fails: a snapshot of commands no server applied.
    fn through_snapshot_applied(&mut self, s: usize, snap: usize, snap_term: Term) {
        // Prefix ids: agreement at a position means agreement before it.
        let (mut lo, mut hi) = (0, self.views[s].ids.len().min(self.applied.len()));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.views[s].ids[mid] == self.applied[mid].0 {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        while self.views[s].ids.len() > lo {
            self.pop_position(s);
        }
        for k in lo..snap {
            match self.applied.get(k).copied() {
                Some((id, t)) => self.push_id(s, id, t, None),
                None => {
                    self.applied_different = true;
                    let id = self.next_unknown;
                    self.next_unknown += 1;
                    self.push_id(s, id, snap_term, None);
                }
            }
        }
    }

    /// Server `s` is up with these fields, or down.
    pub fn set_live(&mut self, s: usize, live: Option<Live>) {
        if live.is_none() {
            // A server that is down has no committed positions to count.
            self.views[s].live = None;
            self.views[s].under = 0;
            return;
        }
        let old = self.views[s].live;
        let (c1, c2) = (old.map_or(0, |l| l.commit), live.map_or(0, |l| l.commit));
        let len = self.views[s].terms.len();
        if c2 > c1 {
            self.views[s].live = live;
            for k in c1..c2.min(len) {
                if self.under(k, self.views[s].terms[k]) {
                    self.views[s].under += 1;
                }
            }
        } else {
            for k in c2..c1.min(len) {
                if self.under(k, self.views[s].terms[k]) {
                    self.views[s].under -= 1;
                }
            }
            self.views[s].live = live;
        }
    }

    /// The prefix id of server `s`'s log through its first `n` entries.
    pub fn id_through(&self, s: usize, n: usize) -> u64 {
        match n.checked_sub(1) {
            None => 0,
            Some(k) => self.views[s].ids.get(k).copied().unwrap_or(u64::MAX),
        }
    }

    pub fn log_len(&self, s: usize) -> usize {
        self.views[s].ids.len()
    }

    /// The history's step of server `s`: `before` its fields before the step
    /// (and its log's length and id then), `after` its state now (whose log the
    /// view already holds), `recovered` for a restart.
    pub fn observe(
        &mut self,
        s: usize,
        before: (Live, usize, u64),
        after: &ServerState,
        recovered: bool,
    ) {
        let (b, b_len, b_id) = before;
        let a = Live::of(after);
        if a.term < b.term {
            self.term_decreased = true;
        }
        if !recovered {
            if a.commit < b.commit {
                self.commit_decreased = true;
            }
            let kept = self.log_len(s) >= b_len && self.id_through(s, b_len) == b_id;
            if b.role == Role::Leader && a.role == Role::Leader && a.term == b.term && !kept {
                self.leader_overwrote = true;
            }
        }
        if a.role == Role::Leader {
            let l = self.leaders.entry(a.term).or_default();
            if !l.contains(s) {
                l.insert(s);
                if l.len() == 2 {
                    self.two_leaders.push(a.term);
                }
            }
        }
        // Compared by prefix id: the view keeps the positions a snapshot
        // compacted, and equal ids mean equal entries up to there.
        let from = if recovered { 0 } else { b.commit };
        for k in from..a.commit {
            let (Some(&id), Some(&t)) = (self.views[s].ids.get(k), self.views[s].terms.get(k))
            else {
                break;
            };
            match self.applied.get(k) {
                Some(&(x, _)) if x != id => self.applied_different = true,
                Some(_) => {}
                None if self.applied.len() == k => self.applied.push((id, t)),
                None => {}
            }
        }
    }

    fn leader_completeness(&self) -> bool {
        let live: Vec<(usize, Live)> = (0..self.views.len())
            .filter_map(|i| self.views[i].live.map(|l| (i, l)))
            .collect();
        live.iter()
            .filter(|(_, l)| l.role == Role::Leader)
            .all(|&(li, l)| {
                live.iter().all(|&(i, s)| {
                    s.term > l.term
                        || (self.log_len(li) >= s.commit
                            && self.id_through(li, s.commit) == self.id_through(i, s.commit))
                })
            })
    }

    fn live_prefixes_agree(&self) -> bool {
        let live: Vec<(usize, Live)> = (0..self.views.len())
            .filter_map(|i| self.views[i].live.map(|l| (i, l)))
            .collect();
        live.iter().enumerate().all(|(x, &(a, la))| {
            live[x + 1..].iter().all(|&(b, lb)| {
                let c = la.commit.min(lb.commit);
                self.id_through(a, c) == self.id_through(b, c)
            })
        })
    }

    /// Each server invariant's verdict on the global state now.
    pub fn verdict(&self, name: &str) -> bool {
        match name {
            ELECTION_SAFETY => self.two_leaders.is_empty(),
            LOG_MATCHING => self.conflicts == 0,
            LEADER_COMPLETENESS => self.leader_completeness(),
            STATE_MACHINE_SAFETY => !self.applied_different && self.live_prefixes_agree(),
            LEADER_APPEND_ONLY => !self.leader_overwrote,
            TERMS_MONOTONIC => !self.term_decreased,
            COMMIT_MONOTONIC => !self.commit_decreased,
            COMMITTED_ON_MAJORITY => self
                .views
                .iter()
                .all(|v| v.under == 0 && v.live.is_none_or(|l| l.commit <= v.ids.len())),
            _ => true,
        }
    }

    /// Terms that had two leaders or more, with them (for reports).
    pub fn leaders_text(&self) -> Vec<String> {
        let mut terms = self.two_leaders.clone();
        terms.sort_unstable();
        terms
            .iter()
            .map(|t| format!("term {t} had leaders {:?}", self.leaders[t]))
            .collect()
    }
}
