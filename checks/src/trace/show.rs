//! `raftlab trace show`: a recorded run as a message sequence diagram in SVG.
//!
//! Servers are lifelines (solid while up, dashed while down), clients share a few
//! lifelines to the right (a column is reused once its client is done). Time runs
//! down, one row per event of the global order (see [`super::merge`]),
//! so rows are in causal order rather than to scale; the left margin gives the
//! recorded time. Messages are arrows from the sending step to each delivery; a
//! message never delivered ends in a cross. Starts, crashes, stops, timeouts and
//! role changes are marked on the lifelines.
//!
//! Idle rows are left out unless asked for: heartbeats that change nothing, and the
//! steps that only answer them.

use super::load::{sends, EvKind, Run};
use super::merge::{Merged, SendRef};
use crate::render::svg::{
    arrow, badge, color, defs, esc, is_heartbeat, label, lifeline, note, Layout, PALETTE,
};
use raft_model::trace::{Event, Record, TraceState};
use raft_model::Role;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

#[derive(Clone, Debug)]
pub struct ShowOptions {
    /// Leave out rows before this time (seconds since the first record).
    pub from_s: f64,
    /// At most this many rows.
    pub limit: usize,
    /// Keep idle rows (heartbeats that change nothing).
    pub all: bool,
}

impl Default for ShowOptions {
    fn default() -> Self {
        ShowOptions {
            from_s: 0.0,
            limit: 400,
            all: false,
        }
    }
}

const ROW: f64 = 22.0;
const TOP: f64 = 96.0;
const LEFT: f64 = 78.0;
const SERVER_GAP: f64 = 190.0;
const CLIENT_GAP: f64 = 120.0;

/// A row of the diagram: an event of the global order.
struct Row {
    pos: usize,
    file: usize,
    kind: EvKind,
    time: u64,
}

pub fn svg(run: &Run, merged: &Merged, opts: &ShowOptions) -> String {
    // Where each record sits in the global order.
    let mut pos_of: HashMap<(usize, usize), usize> = HashMap::new();
    for (pos, &(f, e)) in merged.order.iter().enumerate() {
        if let EvKind::Record(r) = run.files[f].events[e].kind {
            pos_of.insert((f, r), pos);
        }
    }
    let rec = |f: usize, r: usize| -> &Record { &run.files[f].lines[r].rec };
    // Which events to draw.
    let mut shown = vec![false; merged.order.len()];
    for (pos, &(f, e)) in merged.order.iter().enumerate() {
        shown[pos] = match run.files[f].events[e].kind {
            EvKind::Crash => true,
            EvKind::Record(r) => {
                let x = rec(f, r);
                match &x.event {
                    Event::Flush => false,
                    Event::Start(_) | Event::Stop => true,
                    _ if opts.all => true,
                    Event::Deliver { msg, .. } => x.state.is_some() || !is_heartbeat(msg),
                    Event::Timeout { .. } => {
                        x.state.is_some() || sends(x).any(|(_, _, m)| !is_heartbeat(m))
                    }
                }
            }
        };
    }
    // A shown delivery shows the step that sent its message.
    for pos in 0..merged.order.len() {
        if shown[pos] {
            if let Some(s) = merged.matched.get(pos).copied().flatten() {
                if let Some(&p) = pos_of.get(&(s.file, s.rec)) {
                    shown[p] = true;
                }
            }
        }
    }
    let from_ns = run.t0 + (opts.from_s.max(0.0) * 1e9) as u64;
    let rows: Vec<Row> = merged
        .order
        .iter()
        .enumerate()
        .filter(|(pos, _)| shown[*pos])
        .map(|(pos, &(f, e))| Row {
            pos,
            file: f,
            kind: run.files[f].events[e].kind,
            time: run.files[f].events[e].time,
        })
        .filter(|r| r.time >= from_ns)
        .take(opts.limit)
        .collect();
    let row_of: HashMap<usize, usize> = rows.iter().enumerate().map(|(i, r)| (r.pos, i)).collect();

    // Columns: servers, then clients sharing columns over disjoint row ranges.
    let n = run.servers;
    let mut column = vec![0usize; run.files.len()];
    // The last position (in the whole order) used by each client column.
    let mut client_cols: Vec<usize> = Vec::new();
    // A client's span over the whole run decides its column (a column is reused
    // only by a client that starts after the previous one ended, even off view);
    // its span over the rows shown decides where its lifeline is drawn.
    let mut whole: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (pos, &(f, _)) in merged.order.iter().enumerate() {
        let e = whole.entry(f).or_insert((pos, pos));
        e.1 = pos;
    }
    let mut span: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let e = span.entry(r.file).or_insert((i, i));
        e.1 = i;
    }
    let mut by_whole_start: Vec<(usize, usize, usize)> = span
        .keys()
        .filter(|f| !run.files[**f].is_server())
        .filter_map(|f| whole.get(f).map(|(a, b)| (*a, *b, *f)))
        .collect();
    by_whole_start.sort();
    let clients_by_start: Vec<(usize, usize, usize)> = by_whole_start
        .iter()
        .filter_map(|(_, _, f)| span.get(f).map(|(a, b)| (*a, *b, *f)))
        .collect();
    for (c, file) in column.iter_mut().zip(&run.files) {
        if file.is_server() {
            *c = usize::from(file.node);
        }
    }
    for (a, b, f) in &by_whole_start {
        let k = match client_cols.iter().position(|last| *last < *a) {
            Some(k) => k,
            None => {
                client_cols.push(0);
                client_cols.len() - 1
            }
        };
        client_cols[k] = *b;
        column[*f] = n + k;
    }
    let x_of_col = |c: usize| -> f64 {
        if c < n {
            LEFT + 60.0 + c as f64 * SERVER_GAP
        } else {
            LEFT + 60.0 + (n as f64 - 1.0) * SERVER_GAP + 150.0 + (c - n) as f64 * CLIENT_GAP
        }
    };
    let x_of = |f: usize| x_of_col(column[f]);
    let y_of = |i: usize| TOP + 20.0 + i as f64 * ROW;
    let width = x_of_col(n + client_cols.len().max(1) - 1) + 190.0;
    let height = y_of(rows.len()) + 30.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">"#
    );
    out.push_str(&defs());
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let mut layout = Layout::default();
    let shown_count = rows.len();
    let total = merged.order.len();
    let _ = writeln!(
        out,
        r#"<text x="12" y="22" font-size="15" font-weight="bold">{}</text>"#,
        esc(&format!("raftlab trace {}", run.dir.display()))
    );
    let _ = writeln!(
        out,
        r##"<text x="12" y="40" fill="#444">{}</text>"##,
        esc(&format!(
            "{} servers, {} clients; {shown_count} of {total} events shown{}; time runs down (seconds since the first record), one row per event",
            n,
            run.files.len() - n,
            if opts.all { "" } else { " (idle heartbeats left out)" }
        ))
    );
    // Legend.
    for (k, (c, t)) in PALETTE.iter().enumerate() {
        let x = 12.0 + k as f64 * 100.0;
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="54" x2="{}" y2="54" stroke="{c}" stroke-width="2"/><text x="{}" y="58">{t}</text>"#,
            x + 24.0,
            x + 28.0
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="520" y="58"><tspan fill="#c00000" font-weight="bold">✕</tspan> lost  <tspan fill="#c00000" font-weight="bold">crash</tspan>  <tspan fill="#b8860b" font-weight="bold">leader</tspan>  dashed lifeline: down</text>"##
    );

    // Lifelines: servers solid while up; clients only over their rows.
    let bottom = y_of(rows.len());
    for (f, file) in run.files.iter().enumerate() {
        if !file.is_server() {
            continue;
        }
        let x = x_of(f);
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{}" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
            TOP - 6.0,
            file.name
        );
        // Up or down at the first row: up if a start of it came before.
        let first_pos = rows.first().map_or(0, |r| r.pos);
        let mut up = merged.order[..first_pos]
            .iter()
            .rev()
            .find(|&&(g, _)| g == f)
            .is_some_and(|&(g, e)| match run.files[g].events[e].kind {
                EvKind::Crash => false,
                EvKind::Record(r) => !matches!(rec(g, r).event, Event::Stop),
            });
        let mut y0 = TOP;
        for (i, r) in rows.iter().enumerate() {
            if r.file != f {
                continue;
            }
            let now_up = match r.kind {
                EvKind::Crash => false,
                EvKind::Record(k) => !matches!(rec(f, k).event, Event::Stop),
            };
            if now_up != up {
                lifeline(&mut out, x, y0, y_of(i), up);
                y0 = y_of(i);
                up = now_up;
            }
        }
        lifeline(&mut out, x, y0, bottom, up);
    }
    for (a, b, f) in &clients_by_start {
        let x = x_of(*f);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#8a2be2" stroke-width="1" stroke-opacity="0.5"/>"##,
            y_of(*a),
            y_of(*b)
        );
        let _ = writeln!(
            out,
            r##"<text x="{x}" y="{}" text-anchor="middle" font-weight="bold" fill="#8a2be2">{}</text>"##,
            y_of(*a) - 8.0,
            run.files[*f].name
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" text-anchor="middle" font-size="14" font-weight="bold" fill="#8a2be2">clients</text>"##,
        x_of_col(n),
        TOP - 6.0
    );

    // Time margin.
    let mut last_label = f64::NEG_INFINITY;
    for (i, r) in rows.iter().enumerate() {
        let y = y_of(i);
        if y - last_label >= 4.0 * ROW {
            let t = r.time.saturating_sub(run.t0) as f64 / 1e9;
            let _ = writeln!(
                out,
                r##"<text x="6" y="{}" fill="#666" font-size="10">{t:.4}s</text><line x1="56" y1="{y}" x2="{}" y2="{y}" stroke="#eee"/>"##,
                y + 4.0,
                width - 10.0
            );
            last_label = y;
        }
    }

    // Messages: from the sending row to every delivery row; lost ones end in a cross.
    let mut delivered: HashSet<SendRef> = HashSet::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(s) = merged.matched.get(r.pos).copied().flatten() else {
            continue;
        };
        delivered.insert(s);
        let Some(&sp) = pos_of.get(&(s.file, s.rec)) else {
            continue;
        };
        let Some(&si) = row_of.get(&sp) else { continue };
        let raft_model::trace::TraceCommand::Send { msg, .. } = &rec(s.file, s.rec).out[s.cmd]
        else {
            continue;
        };
        arrow(
            &mut out,
            &mut layout,
            (x_of(s.file), y_of(si)),
            (x_of(r.file), y_of(i)),
            color(msg),
            &label(msg, &|id| run.name_of(id)),
            false,
        );
    }
    // Sends in view whose message no delivery took: lost (or still in flight at the end).
    let taken: HashSet<SendRef> = merged.matched.iter().flatten().copied().collect();
    for (i, r) in rows.iter().enumerate() {
        let EvKind::Record(k) = r.kind else { continue };
        for (cmd, dst, msg) in sends(rec(r.file, k)) {
            let s = SendRef {
                file: r.file,
                rec: k,
                cmd,
            };
            if delivered.contains(&s) || taken.contains(&s) {
                continue;
            }
            let Some(df) = run.file_of(dst) else { continue };
            let (x0, x1) = (x_of(r.file), x_of(df));
            let y = y_of(i);
            let xm = x0 + (x1 - x0) * 0.35;
            arrow(
                &mut out,
                &mut layout,
                (x0, y),
                (xm, y + ROW * 0.6),
                color(msg),
                &label(msg, &|id| run.name_of(id)),
                true,
            );
        }
    }

    // Markers on lifelines, drawn last so that they sit on top.
    let mut role: HashMap<usize, (Role, u64)> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let x = x_of(r.file);
        let y = y_of(i);
        let rec = match r.kind {
            EvKind::Crash => {
                let _ = writeln!(
                    out,
                    r##"<text x="{x}" y="{}" text-anchor="middle" font-size="16" font-weight="bold" fill="#c00000">✕</text><text x="{}" y="{}" fill="#c00000" font-weight="bold">crash</text>"##,
                    y + 6.0,
                    x + 10.0,
                    y + 4.0
                );
                continue;
            }
            EvKind::Record(k) => rec(r.file, k),
        };
        match &rec.event {
            Event::Start(start) if run.files[r.file].is_server() => {
                let text = match &start.storage {
                    None => "start (fresh)".to_string(),
                    Some(p) => {
                        let len = match (&p.log, &p.log_digest) {
                            (Some(l), _) => l.len() as u64,
                            (None, Some(d)) => d.last_index.saturating_sub(d.snapshot.index),
                            (None, None) => 0,
                        };
                        format!("restart: term {}, log {len}", p.current_term)
                    }
                };
                badge(&mut out, &mut layout, x, y, &text, "#e6f4e6", "#1a8a3a");
            }
            Event::Stop if run.files[r.file].is_server() => {
                badge(&mut out, &mut layout, x, y, "stop", "#eeeeee", "#555555");
            }
            Event::Timeout { timer } => {
                let text = match timer {
                    raft_model::Timer::Election => "election timeout",
                    raft_model::Timer::Heartbeat => "heartbeat",
                    raft_model::Timer::ClientRetry => "retry",
                    raft_model::Timer::Snapshot => "snapshot",
                };
                let _ = writeln!(
                    out,
                    r##"<circle cx="{x}" cy="{y}" r="4" fill="white" stroke="#555"/>"##
                );
                note(&mut out, &mut layout, x, y, text);
            }
            _ => {
                let _ = writeln!(out, r##"<circle cx="{x}" cy="{y}" r="2.5" fill="#333"/>"##);
            }
        }
        if let Some(TraceState::Server(s)) = &rec.state {
            let now = (s.role, s.current_term);
            let before = role.insert(r.file, now);
            if before.is_some_and(|b| b != now) || before.is_none() {
                match s.role {
                    Role::Leader => badge(
                        &mut out,
                        &mut layout,
                        x,
                        y,
                        &format!("leader, term {}", s.current_term),
                        "#fff3c4",
                        "#b8860b",
                    ),
                    Role::Candidate => badge(
                        &mut out,
                        &mut layout,
                        x,
                        y,
                        &format!("candidate, term {}", s.current_term),
                        "#e3ecfa",
                        "#1f5fbf",
                    ),
                    Role::Follower if before.is_some_and(|b| b.0 != Role::Follower) => badge(
                        &mut out,
                        &mut layout,
                        x,
                        y,
                        &format!("follower, term {}", s.current_term),
                        "#f3f3f3",
                        "#555555",
                    ),
                    Role::Follower => {}
                }
            }
        }
    }
    out.push_str("</svg>\n");
    out
}
