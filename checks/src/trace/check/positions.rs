//! The judge's counts per log position and term: how many servers hold an entry
//! of that term there, and under which prefix ids. Indexed by position, not
//! hashed: every step, crash and restart reads and moves these counts for the
//! positions it changes, and a restart from a long log touches thousands.

use raft_model::Term;

/// Who holds position `k` with one term.
#[derive(Default)]
struct Slot {
    term: Term,
    holders: u32,
    /// Prefix id -> holders under it (two ids or more: a Log Matching conflict).
    ids: Vec<(u64, u32)>,
}

#[derive(Default)]
pub(super) struct Positions {
    at: Vec<Vec<Slot>>,
}

impl Positions {
    /// The servers that hold term `t` at position `k`.
    pub fn holders(&self, k: usize, t: Term) -> u32 {
        self.at
            .get(k)
            .and_then(|v| v.iter().find(|s| s.term == t))
            .map_or(0, |s| s.holders)
    }

    /// One more server holds `t` at `k` under prefix id `id`: the holders now,
    /// and whether the position became a conflict (a second id).
    pub fn add(&mut self, k: usize, t: Term, id: u64) -> (u32, bool) {
        if self.at.len() <= k {
            self.at.resize_with(k + 1, Vec::new);
        }
        let slots = &mut self.at[k];
        let slot = match slots.iter().position(|s| s.term == t) {
            Some(i) => &mut slots[i],
            None => {
                slots.push(Slot {
                    term: t,
                    ..Slot::default()
                });
                let last = slots.len() - 1;
                &mut slots[last]
            }
        };
        slot.holders += 1;
        let before = slot.ids.len();
        match slot.ids.iter_mut().find(|(i, _)| *i == id) {
            Some((_, n)) => *n += 1,
            None => slot.ids.push((id, 1)),
        }
        (slot.holders, before == 1 && slot.ids.len() == 2)
    }

    /// One server less holds `t` at `k` under `id`: the holders now, and whether
    /// the position stopped being a conflict.
    pub fn remove(&mut self, k: usize, t: Term, id: u64) -> (u32, bool) {
        let Some(slots) = self.at.get_mut(k) else {
            return (0, false);
        };
        let Some(i) = slots.iter().position(|s| s.term == t) else {
            return (0, false);
        };
        let slot = &mut slots[i];
        slot.holders = slot.holders.saturating_sub(1);
        let before = slot.ids.len();
        if let Some(j) = slot.ids.iter().position(|(x, _)| *x == id) {
            slot.ids[j].1 = slot.ids[j].1.saturating_sub(1);
            if slot.ids[j].1 == 0 {
                slot.ids.swap_remove(j);
            }
        }
        let resolved = before >= 2 && slot.ids.len() < 2;
        let now = slot.holders;
        if now == 0 {
            slots.swap_remove(i);
        }
        (now, resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_holders_and_conflicts_per_position_and_term() {
        let mut p = Positions::default();
        assert_eq!(p.add(3, 1, 10), (1, false));
        assert_eq!(p.add(3, 1, 10), (2, false));
        assert_eq!(p.add(3, 1, 11), (3, true), "a second id at (3, 1)");
        assert_eq!(p.add(3, 2, 12), (1, false), "another term is another slot");
        assert_eq!(
            (p.holders(3, 1), p.holders(3, 2), p.holders(0, 1)),
            (3, 1, 0)
        );
        assert_eq!(p.remove(3, 1, 11), (2, true));
        assert_eq!(p.remove(3, 1, 10), (1, false));
        assert_eq!(p.remove(3, 1, 10), (0, false));
        assert_eq!(p.holders(3, 1), 0);
        assert_eq!(p.remove(9, 1, 1), (0, false), "nothing held there");
    }
}
