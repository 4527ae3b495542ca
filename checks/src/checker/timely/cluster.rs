//! The processes of a run and how they meet: the host file, and the connections
//! between processes, each opened with a handshake that refuses a process started
//! with other bounds, another worker count or another binary before any search
//! traffic flows. The connected sockets are then handed to timely's networking
//! (`initialize_networking_from_sockets`): connecting ourselves rather than through
//! `CommunicationConfig::Cluster` is what lets us check the handshake, give up
//! after a deadline, and keep timely's connection chatter off stdout.

use super::codec::fingerprint;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where each process of a run listens, and which one this is.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// `host:port` of every process, process 0 first.
    pub addresses: Vec<String>,
    pub process: usize,
    /// How long to wait for the other processes to come up and connect.
    pub connect_timeout: Duration,
}

/// Reads a host file: one `host:port` per process, process 0 first; blank lines
/// and lines starting with `#` are skipped.
pub fn read_hostfile(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the host file {}: {e}", path.display()))?;
    parse_hostfile(&text).map_err(|e| format!("host file {}: {e}", path.display()))
}

pub fn parse_hostfile(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let port_ok = line
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(format!(
                "line {}: '{line}' is not host:port (e.g. 10.0.0.5:2101)",
                n + 1
            ));
        }
        if out.iter().any(|a| a == line) {
            return Err(format!("line {}: {line} is listed twice", n + 1));
        }
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err("it lists no process (one host:port per line)".into());
    }
    Ok(out)
}

/// What identifies this binary: its version and a hash of its executable, so
/// that two builds, which may fingerprint states differently, never mix.
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::read(p).ok())
            .map_or(0, |bytes| fingerprint(&bytes));
        format!("raftlab {} (build {exe:016x})", env!("CARGO_PKG_VERSION"))
    })
}

const MAGIC: &[u8; 8] = b"raftlabT";
const PROTOCOL: u32 = 1;
const MAX_DESCRIPTION: usize = 1 << 16;

/// What a process says about itself when it connects.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hello {
    process: u32,
    processes: u32,
    workers: u32,
    /// The bounds, options and build every process must share.
    description: String,
}

impl Hello {
    fn write(&self, s: &mut TcpStream) -> std::io::Result<()> {
        let d = self.description.as_bytes();
        let mut b = Vec::with_capacity(32 + d.len());
        b.extend_from_slice(MAGIC);
        for v in [PROTOCOL, self.process, self.processes, self.workers] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&fingerprint(&self.description).to_be_bytes());
        b.extend_from_slice(&(d.len() as u32).to_be_bytes());
        b.extend_from_slice(d);
        s.write_all(&b)
    }

    fn read(s: &mut TcpStream, peer: &str) -> Result<Hello, String> {
        let io = |e: std::io::Error| format!("{peer}: the handshake failed: {e}");
        let mut head = [0u8; 8 + 4 * 4 + 8 + 4];
        s.read_exact(&mut head).map_err(io)?;
        if &head[..8] != MAGIC {
            return Err(format!(
                "{peer}: the program there is not a raftlab check (check the host file's ports)"
            ));
        }
        let word = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        if word(8) != PROTOCOL {
            return Err(format!(
                "{peer}: it speaks handshake version {}, this process {PROTOCOL}: run the same raftlab build everywhere",
                word(8)
            ));
        }
        let mut digest = [0u8; 8];
        digest.copy_from_slice(&head[24..32]);
        let len = word(32) as usize;
        if len > MAX_DESCRIPTION {
            return Err(format!("{peer}: its handshake is oversized ({len} bytes)"));
        }
        let mut d = vec![0u8; len];
        s.read_exact(&mut d).map_err(io)?;
        let description =
            String::from_utf8(d).map_err(|_| format!("{peer}: its handshake is not UTF-8"))?;
        if fingerprint(&description) != u64::from_be_bytes(digest) {
            return Err(format!(
                "{peer}: its handshake is corrupt (digest mismatch)"
            ));
        }
        Ok(Hello {
            process: word(12),
            processes: word(16),
            workers: word(20),
            description,
        })
    }
}

/// Refuses a peer that does not run the same check as `me`.
fn agree(me: &Hello, them: &Hello, expected: Option<u32>, peer: &str) -> Result<(), String> {
    if let Some(p) = expected.filter(|p| *p != them.process) {
        return Err(format!(
            "{peer}: expected process {p} there, but it says it is process {} (do all host files list the processes in the same order?)",
            them.process
        ));
    }
    if them.process <= me.process && expected.is_none() {
        return Err(format!(
            "{peer}: process {} connected to process {}, but lower processes are connected to, not from",
            them.process, me.process
        ));
    }
    if them.processes != me.processes {
        return Err(format!(
            "process {} ({peer}) has a host file of {} processes, this one of {}",
            them.process, them.processes, me.processes
        ));
    }
    if them.workers != me.workers {
        return Err(format!(
            "process {} ({peer}) runs {} workers, this one {}: give every process the same --workers",
            them.process, them.workers, me.workers
        ));
    }
    if them.description != me.description {
        return Err(format!(
            "process {} ({peer}) was started with different bounds, options or binary; every process \
             must run the same raftlab build with the same bound flags, so it was refused.\n  \
             this process: {}\n  process {}:    {}",
            them.process, me.description, them.process, them.description
        ));
    }
    Ok(())
}

/// Connects this process to every other one: it connects to the processes before
/// it and accepts the ones after it, shaking hands with each. Returns one socket
/// per process (`None` at this process's own place), as timely's networking takes
/// them. `alive` is asked now and then whether to go on waiting (a launcher uses
/// it to give up when a child process has died).
pub fn connect(
    cluster: &Cluster,
    workers: usize,
    description: &str,
    alive: &(dyn Fn() -> Result<(), String> + Sync),
) -> Result<Vec<Option<TcpStream>>, String> {
    let n = cluster.addresses.len();
    let me = cluster.process;
    let own = cluster.addresses.get(me).ok_or_else(|| {
        format!(
            "--process {me} is not in the host file, which lists {n} processes (0 to {})",
            n.saturating_sub(1)
        )
    })?;
    let hello = Hello {
        process: me as u32,
        processes: n as u32,
        workers: workers as u32,
        description: format!("{description}; {}", build_id()),
    };
    let deadline = Instant::now() + cluster.connect_timeout;
    // Bind before connecting out, so that the later processes can reach this one.
    let listener = TcpListener::bind(own).map_err(|e| {
        format!("process {me} cannot listen on {own} (its line in the host file): {e}")
    })?;
    let (lower, higher) = std::thread::scope(|scope| {
        let lower = scope.spawn(|| connect_lower(cluster, &hello, deadline, alive));
        let higher = accept_higher(&listener, cluster, &hello, deadline, alive);
        let lower = lower
            .join()
            .unwrap_or_else(|_| Err("connecting to the other processes failed".into()));
        (lower, higher)
    });
    let mut sockets = lower?;
    sockets.push(None);
    sockets.extend(higher?.into_iter().map(Some));
    for s in sockets.iter().flatten() {
        s.set_read_timeout(None)
            .and_then(|()| s.set_nodelay(true))
            .map_err(|e| format!("cannot configure a connection: {e}"))?;
    }
    Ok(sockets)
}

/// How long a handshake may take once connected.
const HANDSHAKE: Duration = Duration::from_secs(20);

fn connect_lower(
    cluster: &Cluster,
    hello: &Hello,
    deadline: Instant,
    alive: &(dyn Fn() -> Result<(), String> + Sync),
) -> Result<Vec<Option<TcpStream>>, String> {
    let mut out = Vec::new();
    for (j, address) in cluster.addresses.iter().enumerate().take(cluster.process) {
        let peer = address.to_string();
        let mut stream = loop {
            alive()?;
            if let Some(s) = try_connect(address) {
                break s;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "process {j} at {address} did not answer within {:.0} s: start every process of the host file (same binary, same flags)",
                    cluster.connect_timeout.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let io = |e: std::io::Error| format!("{peer}: the handshake failed: {e}");
        stream.set_read_timeout(Some(HANDSHAKE)).map_err(io)?;
        hello.write(&mut stream).map_err(io)?;
        let them = Hello::read(&mut stream, &peer)?;
        agree(hello, &them, Some(j as u32), &peer)?;
        out.push(Some(stream));
    }
    Ok(out)
}

fn try_connect(address: &str) -> Option<TcpStream> {
    let addrs = address.to_socket_addrs().ok()?;
    addrs
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
}

fn accept_higher(
    listener: &TcpListener,
    cluster: &Cluster,
    hello: &Hello,
    deadline: Instant,
    alive: &(dyn Fn() -> Result<(), String> + Sync),
) -> Result<Vec<TcpStream>, String> {
    let me = cluster.process;
    let n = cluster.addresses.len();
    let mut slots: Vec<Option<TcpStream>> = (me + 1..n).map(|_| None).collect();
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen: {e}"))?;
    while slots.iter().any(Option::is_none) {
        alive()?;
        match listener.accept() {
            Ok((mut stream, from)) => {
                let peer = from.to_string();
                let io = |e: std::io::Error| format!("{peer}: the handshake failed: {e}");
                stream.set_nonblocking(false).map_err(io)?;
                stream.set_read_timeout(Some(HANDSHAKE)).map_err(io)?;
                let them = Hello::read(&mut stream, &peer)?;
                let slot = (them.process as usize)
                    .checked_sub(me + 1)
                    .filter(|i| *i < slots.len());
                // Answer first, so that the other side can name the mismatch too.
                hello.write(&mut stream).map_err(io)?;
                agree(hello, &them, None, &peer)?;
                let Some(i) = slot else {
                    return Err(format!(
                        "{peer} says it is process {}, which the host file does not have",
                        them.process
                    ));
                };
                if slots[i].is_some() {
                    return Err(format!(
                        "two processes say they are process {}",
                        them.process
                    ));
                }
                slots[i] = Some(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<String> = slots
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_none())
                        .map(|(i, _)| {
                            format!("process {} ({})", me + 1 + i, cluster.addresses[me + 1 + i])
                        })
                        .collect();
                    return Err(format!(
                        "{} did not connect within {:.0} s: start every process of the host file (same binary, same flags)",
                        missing.join(", "),
                        cluster.connect_timeout.as_secs_f64()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("accepting connections failed: {e}")),
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files_list_host_and_port_once_each() {
        let hosts = parse_hostfile("# the cluster\n10.0.0.1:2101\n\n  node2.lan:2102  \n").unwrap();
        assert_eq!(hosts, vec!["10.0.0.1:2101", "node2.lan:2102"]);
        assert!(parse_hostfile("10.0.0.1").unwrap_err().contains("line 1"));
        assert!(parse_hostfile("a:1\nb:99999")
            .unwrap_err()
            .contains("line 2"));
        assert!(parse_hostfile("a:1\na:1").unwrap_err().contains("twice"));
        assert!(parse_hostfile("# nothing\n").is_err());
    }

    fn hello(process: u32, workers: u32, description: &str) -> Hello {
        Hello {
            process,
            processes: 2,
            workers,
            description: description.into(),
        }
    }

    #[test]
    fn a_process_with_other_bounds_or_workers_is_refused() {
        let me = hello(0, 2, "3 servers");
        assert!(agree(&me, &hello(1, 2, "3 servers"), None, "p").is_ok());
        let bounds = agree(&me, &hello(1, 2, "4 servers"), None, "p").unwrap_err();
        assert!(
            bounds.contains("different bounds") && bounds.contains("4 servers"),
            "{bounds}"
        );
        assert!(agree(&me, &hello(1, 1, "3 servers"), None, "p")
            .unwrap_err()
            .contains("--workers"));
        assert!(agree(&hello(1, 2, "x"), &hello(0, 2, "x"), Some(1), "p").is_err());
    }

    #[test]
    fn a_handshake_round_trips_over_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = hello(1, 2, "bounds: 3 servers");
        let to_send = sent.clone();
        let t = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            to_send.write(&mut s).unwrap();
        });
        let (mut s, _) = listener.accept().unwrap();
        assert_eq!(Hello::read(&mut s, "p"), Ok(sent));
        t.join().unwrap();
    }
}
