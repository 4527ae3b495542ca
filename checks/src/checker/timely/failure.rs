//! When a run fails: timely takes a computation down by panicking in its threads
//! (a connection that closes makes its receive thread panic, and the workers that
//! read from it then panic too). Those panics are recorded here instead of being
//! printed, and turned into one sentence that says what happened.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, Once};

static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Records (rather than prints) the panics of timely's threads, and of this
/// thread inside [`quietly`]; every other panic is printed as before.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("").to_string();
            if thread.starts_with("timely:") || QUIET.with(Cell::get) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                // timely's own network errors say enough; a bug's place helps.
                let at = match info.location() {
                    Some(l) if !msg.starts_with("timely communication error") => {
                        format!(" (at {l})")
                    }
                    _ => String::new(),
                };
                if let Ok(mut p) = PANICS.lock() {
                    p.push((thread, format!("{msg}{at}")));
                }
            } else {
                previous(info)
            }
        }));
    });
}

/// Runs `f`, recording instead of printing a panic in it; None if it panicked.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    QUIET.with(|q| q.set(true));
    let r = catch_unwind(AssertUnwindSafe(f)).ok();
    QUIET.with(|q| q.set(false));
    r
}

/// The panics recorded so far, which are then forgotten.
pub fn take() -> Vec<(String, String)> {
    PANICS
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default()
}

/// One sentence for a failed run, from the panics it left.
pub fn explain(panics: &[(String, String)]) -> String {
    // A closed connection names the process at its other end.
    let lost = panics.iter().find_map(|(thread, msg)| {
        let remote = thread
            .strip_prefix("timely:recv-")
            .or_else(|| thread.strip_prefix("timely:send-"))?;
        Some((remote.to_string(), msg.clone()))
    });
    if let Some((remote, msg)) = lost {
        return format!(
            "process {remote} left the run (it died, was killed, or the network failed: {msg})"
        );
    }
    let own = panics
        .iter()
        .find(|(_, msg)| !msg.contains("poisoned") && !msg.contains("Worker panic"));
    match own.or(panics.first()) {
        Some((thread, msg)) => format!("{thread} failed: {msg}"),
        None => "a worker failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_connection_names_the_process() {
        let panics = vec![
            (
                "timely:work-0".to_string(),
                "MergeQueue poisoned.".to_string(),
            ),
            (
                "timely:recv-2".to_string(),
                "timely communication error: reading data: socket closed".to_string(),
            ),
        ];
        let e = explain(&panics);
        assert!(e.starts_with("process 2 left the run"), "{e}");
        assert!(explain(&[("timely:work-1".into(), "boom".into())]).contains("boom"));
    }
}
