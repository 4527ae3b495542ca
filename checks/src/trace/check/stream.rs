//! `trace check` merging and judging at once: the merge places events on one
//! thread and the checker judges them on another as they come, in batches, so a
//! long run costs the longer of the two, not their sum, and no global order is
//! kept. The order and every verdict are those of [`super::check_with`] on
//! [`crate::trace::merge::merge`]'s order (the same code places the events).

use super::{CheckOptions, Checker, Progress, Report};
use crate::trace::load::Run;
use crate::trace::merge::{merge_each, Placed};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

/// Events per message between the threads: large enough that handing them over
/// costs nothing per event.
const BATCH: usize = 4096;

/// Checks a loaded run, merging it as it goes (see the module documentation),
/// reporting progress as [`super::check_with`] does.
pub fn check_streamed(run: &Run, opts: CheckOptions, mut progress: Option<Progress>) -> Report {
    let started = Instant::now();
    let total: usize = run.files.iter().map(|f| f.events.len()).sum();
    let mut c = Checker::new(run, opts);
    let merged = std::thread::scope(|s| {
        // A few batches ahead at most: the merge is the faster of the two.
        let (tx, rx) = sync_channel::<Vec<Placed>>(4);
        let merger = s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let out_of_time_order = merge_each(run, &mut |p| {
                batch.push(p);
                if batch.len() == BATCH {
                    // Fails only if the checker is gone (it panicked): nothing
                    // is waiting for the rest.
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            });
            let _ = tx.send(batch);
            out_of_time_order
        });
        let mut pos = 0usize;
        for batch in rx {
            for p in batch {
                if pos.is_multiple_of(BATCH) {
                    if let Some(report) = progress.as_mut() {
                        report(pos, total);
                    }
                }
                c.place(pos, p.file, p.event, p.cycle);
                pos += 1;
            }
        }
        merger.join()
    });
    match merged {
        Ok(out_of_time_order) => c.order_note(out_of_time_order),
        // As a merge on this thread would have.
        Err(panic) => std::panic::resume_unwind(panic),
    }
    c.finish(started)
}
