//! A fault schedule for a local cluster (Jepsen's nemesis): windows of one fault
//! each, separated by quiet spells, chosen from a list with a seed so that a run
//! repeats. Killed nodes are restarted at the end of their window, and every node
//! that restarts gets back the faults in force on it.

use crate::faults::FaultPatch;
use crate::local::LocalCluster;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// One kind of fault, with its intensity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// kill -9 one node; it restarts from its storage when the window ends.
    Kill,
    /// Stop one node cleanly and start it again at once.
    Restart,
    /// Cut one node (the leader, half the time) from every other.
    Partition,
    /// Every node drops this share of what it sends.
    Loss(f64),
    /// Every node sends this share twice.
    Dup(f64),
    /// Every node holds back a fifth of what it sends, up to this long.
    Delay(u64),
}

impl Fault {
    pub fn name(&self) -> String {
        match self {
            Fault::Kill => "kill".into(),
            Fault::Restart => "restart".into(),
            Fault::Partition => "partition".into(),
            Fault::Loss(p) => format!("loss {p}"),
            Fault::Dup(p) => format!("dup {p}"),
            Fault::Delay(ms) => format!("delay {ms} ms"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;
    /// `kill`, `restart`, `partition`, `loss[:P]`, `dup[:P]`, `delay[:MS]`.
    fn from_str(s: &str) -> Result<Fault, String> {
        let (name, value) = match s.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let p = |default: f64| -> Result<f64, String> {
            let v = value.map_or(Ok(default), |v| {
                v.parse::<f64>()
                    .map_err(|_| format!("{s}: '{v}' is not a number"))
            })?;
            crate::faults::check_probability(v).map(|()| v)
        };
        match name {
            "kill" => Ok(Fault::Kill),
            "restart" => Ok(Fault::Restart),
            "partition" => Ok(Fault::Partition),
            "loss" => Ok(Fault::Loss(p(0.1)?)),
            "dup" => Ok(Fault::Dup(p(0.05)?)),
            "delay" => {
                let ms = value.map_or(Ok(50), |v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{s}: '{v}' is not milliseconds"))
                })?;
                if ms > crate::faults::MAX_DELAY_MS {
                    return Err(format!("{s}: at most {} ms", crate::faults::MAX_DELAY_MS));
                }
                Ok(Fault::Delay(ms))
            }
            _ => Err(format!(
                "unknown fault '{name}': use kill, restart, partition, loss[:P], dup[:P], \
                 delay[:MS]"
            )),
        }
    }
}

/// A fault in force from `start` to `end` (seconds from the run's start).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub fault: String,
    /// The node it struck (1-based), if one.
    pub node: Option<usize>,
    pub start_s: f64,
    pub end_s: f64,
}

/// The schedule: quiet for `quiet`, then a fault for `length`, again and again.
pub struct Nemesis {
    faults: Vec<Fault>,
    quiet: Duration,
    length: Duration,
    rng: fastrand::Rng,
    /// The faults each node should have (re-applied when it restarts).
    wanted: Vec<FaultPatch>,
    pub windows: Vec<Window>,
}

impl Nemesis {
    pub fn new(faults: Vec<Fault>, quiet: Duration, length: Duration, seed: u64, n: usize) -> Self {
        Nemesis {
            faults,
            quiet,
            length,
            rng: fastrand::Rng::with_seed(seed),
            wanted: vec![FaultPatch::default(); n],
            windows: Vec::new(),
        }
    }

    /// Runs the schedule on `c` until `until`, then heals everything.
    pub fn run(&mut self, c: &mut LocalCluster, t0: Instant, until: Instant) {
        if self.faults.is_empty() {
            sleep_until(until);
            return;
        }
        loop {
            if !sleep_until_before(Instant::now() + self.quiet, until) {
                break;
            }
            let fault = self.faults[self.rng.usize(..self.faults.len())];
            let start = Instant::now();
            let end = (start + self.length).min(until);
            let node = self.strike(c, fault);
            sleep_until(end);
            self.heal(c, fault, node);
            self.windows.push(Window {
                fault: fault.name(),
                node: node.map(|i| i + 1),
                start_s: start.saturating_duration_since(t0).as_secs_f64(),
                end_s: Instant::now().saturating_duration_since(t0).as_secs_f64(),
            });
            if Instant::now() >= until {
                break;
            }
        }
    }

    fn pick(&mut self, c: &LocalCluster) -> usize {
        let n = c.procs.len();
        if self.rng.bool() {
            if let Some((l, _)) = crate::link::leader_of(&c.statuses(Duration::from_millis(200))) {
                return l;
            }
        }
        self.rng.usize(..n)
    }

    fn strike(&mut self, c: &mut LocalCluster, fault: Fault) -> Option<usize> {
        let n = c.procs.len();
        match fault {
            Fault::Kill => {
                let i = self.pick(c);
                c.procs[i].kill9();
                Some(i)
            }
            Fault::Restart => {
                let i = self.pick(c);
                c.procs[i].terminate(Duration::from_secs(3));
                self.restart(c, i);
                Some(i)
            }
            Fault::Partition => {
                let i = self.pick(c);
                let others: BTreeSet<u64> = (0..n as u64).filter(|j| *j != i as u64).collect();
                self.set(c, i, |p| p.partition = Some(others.clone()));
                for j in (0..n).filter(|j| *j != i) {
                    self.set(c, j, |p| {
                        p.partition = Some([i as u64].into_iter().collect())
                    });
                }
                Some(i)
            }
            Fault::Loss(p) => self.all(c, |f| f.drop = Some(p)),
            Fault::Dup(p) => self.all(c, |f| f.duplicate = Some(p)),
            Fault::Delay(ms) => self.all(c, |f| {
                f.delay = Some(0.2);
                f.delay_max_ms = Some(ms);
            }),
        }
    }

    fn heal(&mut self, c: &mut LocalCluster, fault: Fault, node: Option<usize>) {
        match fault {
            Fault::Kill => {
                if let Some(i) = node {
                    self.restart(c, i);
                }
            }
            Fault::Restart => {}
            _ => {
                for i in 0..c.procs.len() {
                    self.set(c, i, |p| {
                        *p = FaultPatch {
                            drop: Some(0.0),
                            duplicate: Some(0.0),
                            delay: Some(0.0),
                            partition: Some(BTreeSet::new()),
                            ..FaultPatch::default()
                        }
                    });
                }
            }
        }
    }

    fn all(&mut self, c: &mut LocalCluster, f: impl Fn(&mut FaultPatch)) -> Option<usize> {
        for i in 0..c.procs.len() {
            self.set(c, i, &f);
        }
        None
    }

    /// Changes what node `i` should have, and tells it (if it is up).
    fn set(&mut self, c: &mut LocalCluster, i: usize, f: impl Fn(&mut FaultPatch)) {
        f(&mut self.wanted[i]);
        let mut now = FaultPatch::default();
        f(&mut now);
        let _ = c.link.set_faults(i, now, Duration::from_secs(1));
    }

    /// Starts node `i` again and gives it back its faults.
    fn restart(&mut self, c: &mut LocalCluster, i: usize) {
        if c.procs[i].start().is_err() {
            return;
        }
        let want = self.wanted[i].clone();
        if want != FaultPatch::default() {
            // The node needs a moment to bind its socket.
            for _ in 0..20 {
                if c.link
                    .set_faults(i, want.clone(), Duration::from_millis(200))
                    .is_ok()
                {
                    break;
                }
            }
        }
    }

    /// Every node up and without faults.
    pub fn heal_all(&mut self, c: &mut LocalCluster) {
        for i in 0..c.procs.len() {
            if !c.procs[i].is_running() {
                self.wanted[i] = FaultPatch::default();
                let _ = c.procs[i].start();
            }
        }
        self.heal(c, Fault::Loss(0.0), None);
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Sleeps until `t` if that is before `until`: whether it was.
fn sleep_until_before(t: Instant, until: Instant) -> bool {
    if t >= until {
        sleep_until(until);
        return false;
    }
    sleep_until(t);
    true
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(f, "{} S{n}", self.fault),
            None => f.write_str(&self.fault),
        }
    }
}
