//! How `bench cluster` prints its report.

use super::Report;
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Tabled)]
struct ThroughputRow {
    clients: usize,
    #[tabled(rename = "writes before")]
    before: usize,
    writes: usize,
    seconds: String,
    #[tabled(rename = "writes/s")]
    rate: String,
    #[tabled(rename = "p50 ms")]
    p50: String,
    #[tabled(rename = "p99 ms")]
    p99: String,
    #[tabled(rename = "max ms")]
    max: String,
    #[tabled(rename = "node CPU ms / 1000 writes")]
    cpu: String,
    #[tabled(rename = "data dir (largest)")]
    data: String,
    #[tabled(rename = "restart: answers / caught up ms")]
    restart: String,
}

#[derive(Tabled)]
struct FailoverRow {
    measure: &'static str,
    kills: usize,
    #[tabled(rename = "median ms")]
    median: String,
    #[tabled(rename = "worst ms")]
    worst: String,
}

pub(super) fn print_tables(r: &Report) {
    let rows: Vec<ThroughputRow> = r
        .runs
        .iter()
        .map(|x| ThroughputRow {
            clients: x.clients,
            before: x.writes_before,
            writes: x.writes,
            seconds: format!("{:.2}", x.seconds),
            rate: format!("{:.0}", x.writes_per_s),
            p50: format!("{:.1}", x.p50_ms),
            p99: format!("{:.1}", x.p99_ms),
            max: format!("{:.1}", x.max_ms),
            cpu: x
                .node_cpu_ms_per_1000_writes
                .map_or("-".into(), |c| format!("{c:.0}")),
            data: format!(
                "{:.2} MB ({} entries)",
                x.data_dir_bytes.iter().max().copied().unwrap_or(0) as f64 / 1e6,
                x.log_entries
            ),
            restart: format!(
                "{:.0} / {:.0}",
                x.restart_answers_ms, x.restart_caught_up_ms
            ),
        })
        .collect();
    println!("\nCommitted writes (each answered by the leader once committed and applied), measured after the writes before them");
    println!("{}", Table::new(rows).with(Style::sharp()));
    let Some(f) = &r.failover else { return };
    let rows = vec![
        FailoverRow {
            measure: "kill -9 leader -> new leader elected",
            kills: f.kills,
            median: format!("{:.1}", f.elected_median_ms),
            worst: format!("{:.1}", f.elected_worst_ms),
        },
        FailoverRow {
            measure: "kill -9 leader -> a new write committed",
            kills: f.kills,
            median: format!("{:.1}", f.writable_median_ms),
            worst: format!("{:.1}", f.writable_worst_ms),
        },
    ];
    println!("\nLeader fail-over (the killed node is restarted and caught up between kills)");
    println!("{}", Table::new(rows).with(Style::sharp()));
}
