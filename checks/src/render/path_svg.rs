//! The last steps of a model run as a message sequence diagram, for stateright's
//! Explorer (which shows `Model::as_svg` above the state). Drawn with the same
//! marks as `raftlab trace show`: lifelines (dashed while a server is down),
//! arrows from the step that sent a message to the step that delivered it (a lost
//! message ends in a cross), timeouts, crashes and role changes as badges.
//!
//! Only the last `WINDOW` steps are drawn, so that the state stays in view; the
//! page lists the whole run beside it. Servers have a lifeline each; clients share
//! one lane (a recorded run has many), their names on their arrows' labels.

use super::svg::{arrow, badge, color, defs, esc, label, lifeline, Layout};
use super::text::{name, timer};
use crate::model::{Action, RaftModel, State};
use raft_model::{Id, Msg, Role};
use std::collections::HashMap;
use std::fmt::Write;

const WINDOW: usize = 12;
const ROW: f64 = 24.0;
const TOP: f64 = 58.0;
const LEFT: f64 = 60.0;
const GAP: f64 = 170.0;

/// A message in flight: source, destination, message.
type Envelope<'a> = (Id, Id, &'a Msg);

/// Each message in flight, with its multiplicity.
fn in_flight(s: &State) -> HashMap<Envelope<'_>, usize> {
    let mut m = HashMap::new();
    for env in s.network.iter_all() {
        *m.entry(env).or_insert(0) += 1;
    }
    m
}

fn role_badge(role: Role, term: u64) -> (String, &'static str, &'static str) {
    match role {
        Role::Leader => (format!("leader t{term}"), "#e6f4e6", "#1a8a3a"),
        Role::Candidate => (format!("candidate t{term}"), "#e8eefb", "#1f5fbf"),
        Role::Follower => (format!("follower t{term}"), "#eeeeee", "#555555"),
    }
}

/// The diagram of `path` (each state with the action taken from it).
pub fn svg(model: &RaftModel, path: &[(State, Option<Action>)]) -> Option<String> {
    let steps = path.len().checked_sub(1)?;
    let actors = path.first()?.0.actors.len();
    let n = model.servers();
    let lanes = n + usize::from(actors > n); // the servers, and one lane for all clients
    let first = steps.saturating_sub(WINDOW) + 1; // the first step drawn
    let x_of = |id: Id| LEFT + GAP * usize::from(id).min(n) as f64;
    let y_of = |step: usize| TOP + ROW * (step + 1 - first) as f64;
    let width = LEFT + GAP * lanes as f64 + 80.0;
    let height = y_of(steps) + ROW;
    // A message to or from a client says which client.
    let tagged = |src: Id, dst: Id, msg: &Msg| {
        let text = label(msg, &|id| name(n, id));
        match [src, dst].into_iter().find(|id| usize::from(*id) >= n) {
            Some(c) => format!("{}: {text}", name(n, c)),
            None => text,
        }
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="monospace" font-size="11">"#
    );
    out.push_str(&defs());
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let mut layout = Layout::default();
    let _ = writeln!(
        out,
        r##"<text x="8" y="16" fill="#444">{}</text>"##,
        esc(&if first > 1 {
            format!("steps {first}-{steps} of {steps} (the whole run is listed on the left)")
        } else {
            format!("all {steps} steps")
        })
    );
    for lane in 0..lanes {
        let title = if lane < n {
            name(n, Id::from(lane))
        } else if actors == n + 1 {
            name(n, Id::from(n))
        } else {
            "clients".to_string()
        };
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold" font-size="13">{}</text>"#,
            x_of(Id::from(lane)),
            TOP - 18.0,
            esc(&title)
        );
    }
    // Lifelines, step by step: dashed while the server is down.
    for step in first..=steps {
        let before = &path[step - 1].0;
        for lane in 0..lanes {
            let up = lane >= n || !before.is_down(lane);
            let y1 = y_of(step);
            lifeline(&mut out, x_of(Id::from(lane)), y1 - ROW, y1, up);
        }
    }

    // Where each message was sent: the last step that added it to the network.
    let mut sent_at: HashMap<Envelope, usize> = HashMap::new();
    let mut marks = String::new();
    for step in 1..=steps {
        let (before, action) = (&path[step - 1].0, path[step - 1].1.as_ref());
        let after = &path[step].0;
        let (old, new) = (in_flight(before), in_flight(after));
        let draw = step >= first;
        let y = y_of(step);
        let origin = |sent_at: &HashMap<Envelope, usize>, env: &Envelope| match sent_at.get(env) {
            Some(&s) if s >= first => (x_of(env.0), y_of(s)),
            // Sent before the window: the arrow comes from its top.
            _ => (x_of(env.0), TOP - 8.0),
        };
        match action {
            Some(Action::Deliver { src, dst, msg }) if draw => {
                let from = origin(&sent_at, &(*src, *dst, &**msg));
                let text = tagged(*src, *dst, msg);
                let to = (x_of(*dst), y);
                arrow(&mut out, &mut layout, from, to, color(msg), &text, false);
            }
            Some(Action::Drop { src, dst, msg }) if draw => {
                let from = origin(&sent_at, &(*src, *dst, &**msg));
                let to = (from.0 + (x_of(*dst) - from.0) * 0.5, y);
                let text = tagged(*src, *dst, msg);
                arrow(&mut out, &mut layout, from, to, color(msg), &text, true);
            }
            _ => {}
        }
        if draw {
            let _ = writeln!(
                out,
                r##"<text x="8" y="{:.1}" fill="#888">{step}</text>"##,
                y + 4.0
            );
            // One badge per actor and step: what happened to it, then its new role.
            let mut notes: Vec<(usize, String, &str, &str)> = Vec::new();
            match action {
                Some(Action::Timeout(id, t)) => notes.push((
                    usize::from(*id),
                    if usize::from(*id) >= n {
                        format!("{} {}", name(n, *id), timer(t))
                    } else {
                        timer(t).to_string()
                    },
                    "#fff6e0",
                    "#a06000",
                )),
                Some(Action::Crash(id)) => {
                    notes.push((usize::from(*id), "crash".into(), "#fde8e8", "#c00000"))
                }
                Some(Action::Recover(id)) => {
                    notes.push((usize::from(*id), "restart".into(), "#e6f4e6", "#1a8a3a"))
                }
                _ => {}
            }
            for i in 0..n {
                let (Some(b), Some(a)) = (before.server(i), after.server(i)) else {
                    continue;
                };
                if a.role != b.role && !after.is_down(i) {
                    let (text, fill, stroke) = role_badge(a.role, a.current_term);
                    match notes.iter_mut().find(|note| note.0 == i) {
                        Some(note) => {
                            note.1 = format!("{}, now {text}", note.1);
                            (note.2, note.3) = (fill, stroke);
                        }
                        None => notes.push((i, text, fill, stroke)),
                    }
                }
            }
            for (i, text, fill, stroke) in notes {
                let x = x_of(Id::from(i));
                badge(&mut marks, &mut layout, x, y, &text, fill, stroke);
            }
        }
        for (env, count) in new {
            if count > old.get(&env).copied().unwrap_or(0) {
                sent_at.insert(env, step);
            }
        }
    }
    out.push_str(&marks);
    out.push_str("</svg>\n");
    Some(out)
}
