//! The log on disk: round trips, crashes at every byte of a write, damage at every
//! byte of a frame, missing and damaged files, compaction.

use super::files::{segment_name, snapshot_name};
use super::record::read_frame;
use super::segment::SEGMENT_HEADER;
use super::*;
use proptest::prelude::*;
use raft_model::testkit::put_entry as entry;
use raft_model::{Id, PersistentState};
use std::path::Path;

fn state(term: u64, voted: Option<usize>, terms: &[u64]) -> PersistentState {
    PersistentState {
        current_term: term,
        voted_for: voted.map(Id::from),
        log: terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(*t, i as u64 + 1))
            .collect(),
        snapshot: Default::default(),
    }
}

/// A sequence of saves of one server: votes, appends, a conflict truncation.
fn history() -> Vec<PersistentState> {
    vec![
        state(1, Some(0), &[]),
        state(1, Some(0), &[1]),
        state(1, Some(0), &[1, 1, 1]),
        state(2, None, &[1, 1, 1]),
        state(2, Some(2), &[1, 2]),
        state(3, Some(2), &[1, 2, 3, 3]),
    ]
}

fn open(dir: &Path) -> Result<(Wal, Recovered), StorageError> {
    open_with(dir, WalOptions::default())
}

fn open_with(dir: &Path, options: WalOptions) -> Result<(Wal, Recovered), StorageError> {
    Wal::open(dir, 1, 3, options)
}

/// The recovered state as the model's persistent state (no snapshot).
fn as_state(r: &Recovered) -> PersistentState {
    assert!(r.snapshot.is_none());
    PersistentState {
        current_term: r.hard_state.current_term,
        voted_for: r.hard_state.voted_for,
        log: r.entries.clone().into(),
        snapshot: Default::default(),
    }
}

/// Saves `states` in order, one frame (and one fsync) each.
fn save_all(wal: &mut Wal, states: &[PersistentState]) {
    let mut prev = PersistentState::default();
    for s in states {
        wal.commit(&diff(&prev, s)).unwrap();
        prev = s.clone();
    }
}

/// Offsets of the frames of a segment file.
fn frame_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut at = SEGMENT_HEADER;
    let mut out = Vec::new();
    while at < bytes.len() {
        out.push(at);
        at = read_frame(bytes, at).unwrap().1;
    }
    out
}

#[test]
fn a_fresh_directory_is_a_fresh_node_and_saves_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, r) = open(d.path()).unwrap();
    assert!(r.fresh && r.entries.is_empty() && r.torn_tail.is_none());
    save_all(&mut wal, &history());
    drop(wal);
    let (_, r) = open(d.path()).unwrap();
    assert!(!r.fresh);
    assert_eq!(as_state(&r), *history().last().unwrap());
}

#[test]
fn small_segments_rotate_and_still_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let small = WalOptions { segment_bytes: 200 };
    let (mut wal, _) = open_with(d.path(), small).unwrap();
    let mut states = Vec::new();
    for n in 1..=30u64 {
        states.push(state(n / 10 + 1, None, &vec![1; n as usize]));
    }
    save_all(&mut wal, &states);
    drop(wal);
    let segments = files::list(d.path()).unwrap().segments;
    assert!(segments.len() > 5, "{segments:?}");
    let (_, r) = open_with(d.path(), small).unwrap();
    assert_eq!(as_state(&r), *states.last().unwrap());
}

#[test]
fn a_torn_last_frame_is_cut_at_every_byte_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(d.path()).unwrap();
    save_all(&mut wal, &history());
    let path = wal.segment_path();
    drop(wal);
    let full = fs::read(&path).unwrap();
    let last = *frame_offsets(&full).last().unwrap();
    let before = &history()[history().len() - 2];
    for cut in last..full.len() {
        fs::write(&path, &full[..cut]).unwrap();
        let (mut wal, r) = open(d.path()).unwrap();
        assert_eq!(as_state(&r), *before, "cut at {cut}");
        let torn = r.torn_tail.clone();
        if cut == last {
            assert_eq!(torn, None);
        } else {
            let t = torn.expect("a torn tail");
            assert_eq!(
                (t.file.as_path(), t.offset, t.bytes),
                (path.as_path(), last as u64, (cut - last) as u64)
            );
            assert!(t.to_string().contains(&segment_name(1)), "{t}");
        }
        // The log goes on after the cut, and the next recovery finds no tear.
        let next = state(9, None, &[1, 2]);
        wal.commit(&diff(before, &next)).unwrap();
        drop(wal);
        let (_, r) = open(d.path()).unwrap();
        assert_eq!((as_state(&r), r.torn_tail), (next, None));
    }
}

#[test]
fn every_byte_of_damage_to_a_middle_frame_is_refused_with_file_and_offset() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(d.path()).unwrap();
    save_all(&mut wal, &history());
    let path = wal.segment_path();
    drop(wal);
    let good = fs::read(&path).unwrap();
    let offsets = frame_offsets(&good);
    let (start, end) = (offsets[3], offsets[4]);
    for i in (0..SEGMENT_HEADER).chain(start..end) {
        let mut bad = good.clone();
        bad[i] ^= 0x41;
        fs::write(&path, &bad).unwrap();
        let e = open(d.path())
            .err()
            .unwrap_or_else(|| panic!("byte {i}: accepted"));
        assert!(e.corrupt, "byte {i}: {e}");
        let at = if i < SEGMENT_HEADER { 0 } else { start as u64 };
        assert_eq!(
            (e.path.as_path(), e.offset),
            (path.as_path(), Some(at)),
            "byte {i}: {e}"
        );
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("{} at byte {at}", path.display())),
            "{shown}"
        );
        assert!(shown.contains("Refusing to start"), "{shown}");
    }
}

#[test]
fn damage_at_the_end_of_an_earlier_segment_is_not_a_torn_write() {
    let d = tempfile::tempdir().unwrap();
    let small = WalOptions { segment_bytes: 150 };
    let (mut wal, _) = open_with(d.path(), small).unwrap();
    save_all(&mut wal, &history());
    drop(wal);
    let first = d.path().join(segment_name(1));
    let bytes = fs::read(&first).unwrap();
    let seal = *frame_offsets(&bytes).last().unwrap();
    fs::write(&first, &bytes[..bytes.len() - 1]).unwrap();
    let e = open_with(d.path(), small).err().expect("refused");
    assert_eq!(
        (e.path.clone(), e.offset),
        (first, Some(seal as u64)),
        "{e}"
    );
    assert!(e.problem.contains("not the last segment"), "{e}");
}

#[test]
fn a_missing_segment_is_refused_wherever_it_is() {
    let small = WalOptions { segment_bytes: 60 };
    let make = || {
        let d = tempfile::tempdir().unwrap();
        let (mut wal, _) = open_with(d.path(), small).unwrap();
        save_all(&mut wal, &history());
        let n = files::list(d.path()).unwrap().segments.len() as u64;
        assert!(n >= 4, "{n} segments");
        (d, n)
    };
    for (gone, says) in [
        (2, "is missing: the log goes from"),
        (1, "does not begin with a checkpoint"),
    ] {
        let (d, _) = make();
        fs::remove_file(d.path().join(segment_name(gone))).unwrap();
        let e = open_with(d.path(), small).err().expect("refused");
        assert!(e.corrupt && e.problem.contains(says), "{e}");
        if gone == 2 {
            assert_eq!(e.path, d.path().join(segment_name(2)));
        }
    }
    // The last segment: its predecessor is sealed towards it.
    let (d, n) = make();
    fs::remove_file(d.path().join(segment_name(n))).unwrap();
    let e = open_with(d.path(), small).err().expect("refused");
    assert_eq!(e.path, d.path().join(segment_name(n)), "{e}");
    assert!(e.problem.contains("is sealed and continues in it"), "{e}");
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot {
        last_included_index: index,
        last_included_term: term,
        data: format!("service state at {index}").into_bytes(),
    }
}

#[test]
fn a_snapshot_starts_a_checkpoint_segment_and_older_files_go() {
    let d = tempfile::tempdir().unwrap();
    let small = WalOptions { segment_bytes: 60 };
    let (mut wal, _) = open_with(d.path(), small).unwrap();
    save_all(&mut wal, &history());
    assert!(files::list(d.path()).unwrap().segments.len() > 2);
    let hard = HardState {
        current_term: 3,
        voted_for: Some(Id::from(2)),
    };
    wal.install_snapshot(hard, &snapshot(2, 2), &[entry(3, 3)])
        .unwrap();
    wal.install_snapshot(hard, &snapshot(3, 3), &[]).unwrap();
    let l = files::list(d.path()).unwrap();
    assert_eq!(l.segments.len(), 1, "{:?}", l.segments);
    assert_eq!(
        l.snapshots, l.segments,
        "one snapshot, named after its segment"
    );
    // The log goes on after the checkpoint (here, in a segment after it).
    wal.commit(&[Record::Append {
        first_index: 4,
        entries: vec![entry(3, 4), entry(3, 5)],
    }])
    .unwrap();
    drop(wal);
    let (_, r) = open_with(d.path(), small).unwrap();
    assert_eq!(r.snapshot, Some(snapshot(3, 3)));
    assert_eq!((r.hard_state, r.first_index()), (hard, 4));
    assert_eq!(r.entries, vec![entry(3, 4), entry(3, 5)]);
}

#[test]
fn a_missing_or_damaged_snapshot_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(d.path()).unwrap();
    wal.install_snapshot(HardState::default(), &snapshot(7, 2), &[])
        .unwrap();
    drop(wal);
    let path = d.path().join(snapshot_name(2));
    let good = fs::read(&path).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x08;
        fs::write(&path, &bad).unwrap();
        let e = open(d.path())
            .err()
            .unwrap_or_else(|| panic!("byte {i}: accepted"));
        assert_eq!(e.path, path, "byte {i}: {e}");
        assert!(e.offset.is_some() || !e.corrupt, "byte {i}: {e}");
    }
    fs::write(&path, &good[..good.len() - 1]).unwrap();
    assert!(open(d.path()).is_err());
    fs::remove_file(&path).unwrap();
    let e = open(d.path()).err().expect("refused");
    assert!(e.corrupt && e.problem.contains("is missing"), "{e}");
    fs::write(&path, &good).unwrap();
    assert_eq!(open(d.path()).unwrap().1.snapshot, Some(snapshot(7, 2)));
}

#[test]
fn crashes_inside_a_checkpoint_leave_a_usable_directory() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(d.path()).unwrap();
    save_all(&mut wal, &history());
    drop(wal);
    // A crash while writing a snapshot file or a segment leaves temporary files;
    // one after the snapshot file was renamed, an orphan snapshot.
    for name in [
        format!("{}.tmp", snapshot_name(2)),
        format!("{}.tmp", segment_name(2)),
        snapshot_name(2),
    ] {
        fs::write(d.path().join(name), b"partial").unwrap();
    }
    let (mut wal, r) = open(d.path()).unwrap();
    assert_eq!(as_state(&r), *history().last().unwrap());
    let l = files::list(d.path()).unwrap();
    assert!(l.temps.is_empty() && l.snapshots.is_empty(), "tidied");
    // A crash after the checkpoint segment was made, before older ones were deleted.
    let old = fs::read(d.path().join(segment_name(1))).unwrap();
    wal.install_snapshot(HardState::default(), &snapshot(4, 3), &[])
        .unwrap();
    drop(wal);
    fs::write(d.path().join(segment_name(1)), old).unwrap();
    let (_, r) = open(d.path()).unwrap();
    assert_eq!(r.snapshot, Some(snapshot(4, 3)));
    assert_eq!(files::list(d.path()).unwrap().segments, vec![2]);
}

#[test]
fn another_nodes_directory_and_a_busy_one_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (wal, _) = open(d.path()).unwrap();
    let e = open(d.path()).err().expect("locked");
    assert!(e.problem.contains("in use"), "{e}");
    drop(wal);
    let e = Wal::open(d.path(), 0, 3, WalOptions::default())
        .err()
        .expect("other node");
    assert!(
        !e.corrupt && e.problem.contains("belongs to S2 of a 3-node cluster"),
        "{e}"
    );
}

/// The segment of a log that saved [`history`], made once.
fn image() -> &'static [u8] {
    static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMAGE.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(d.path()).unwrap();
        save_all(&mut wal, &history());
        fs::read(wal.segment_path()).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever a segment holds, recovery answers (a state or an error) and never
    /// panics: arbitrary bytes, and a real log with arbitrary damage and cuts.
    #[test]
    fn recovery_never_panics_on_arbitrary_bytes(
        junk in proptest::collection::vec(any::<u8>(), 0..300),
        keep_header in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(segment_name(1));
        let mut bytes = image().to_vec();
        for (i, x) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if keep_header {
            bytes.truncate(SEGMENT_HEADER.min(bytes.len()));
            bytes.extend_from_slice(&junk);
        }
        fs::write(&path, &bytes).unwrap();
        let _ = open(d.path());
        fs::write(&path, &junk).unwrap();
        let _ = open(d.path());
    }
}

#[test]
fn damage_to_a_complete_last_frame_is_refused_but_a_zeroed_one_is_torn() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(d.path()).unwrap();
    save_all(&mut wal, &history());
    let path = wal.segment_path();
    drop(wal);
    let good = fs::read(&path).unwrap();
    let last = *frame_offsets(&good).last().unwrap();
    assert!(good.len() < 512, "the frames fit one sector");
    for i in last..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x41;
        fs::write(&path, &bad).unwrap();
        let e = open(d.path())
            .err()
            .unwrap_or_else(|| panic!("byte {i}: accepted"));
        assert_eq!(e.offset, Some(last as u64), "byte {i}: {e}");
        assert!(e.problem.contains("acknowledged"), "byte {i}: {e}");
    }
    // The file system extended the file but never wrote the data: zeros.
    let mut zeroed = good.clone();
    zeroed[last..].fill(0);
    fs::write(&path, &zeroed).unwrap();
    let (_, r) = open(d.path()).unwrap();
    assert_eq!(as_state(&r), history()[history().len() - 2]);
    assert_eq!(r.torn_tail.map(|t| t.offset), Some(last as u64));
}
