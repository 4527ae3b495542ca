//! The Explorer's front door: serves stateright's own page with two additions,
//! and passes every other request to stateright's server unchanged.
//!
//! stateright's page numbers its path list from "Pre-init" and "Init 0", so the
//! CLI's step 10 would be the list's item 12, and it says nothing of where to
//! start. The front adds a style sheet that numbers the list as `raftlab check`
//! numbers steps, and a one-line hint. Nothing of stateright's page is copied:
//! its `index.htm` is fetched from its server and the additions are inserted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How the path list is numbered: Pre-init and the initial state unnumbered, then
/// 1, 2, ... as `raftlab check` numbers the steps of a counterexample.
const STYLE: &str = "ol.path-list{list-style:none;counter-reset:step -2;padding-left:2.2em}\
ol.path-list>li{counter-increment:step}\
ol.path-list>li::before{content:counter(step) \". \";display:inline-block;min-width:2.2em;margin-left:-2.2em}\
ol.path-list>li:nth-child(-n+2)::before{content:\"\"}\
.raftlab-hint{margin:0;padding:6px 12px;background:#fff8d6;color:#333;font-size:14px}";

const HINT: &str = "<p class=\"raftlab-hint\">raftlab: click an action under <b>Next Action \
Choices</b> to take a step; the run so far is under <b>Path of Actions</b>, numbered as \
<code>raftlab check</code> numbers steps. The right side shows the properties judged on the \
selected state, then the state. A link printed by <code>raftlab check</code> opens its \
counterexample at the last step.</p>";

/// stateright's page with the style sheet and the hint inserted.
pub fn amend(index: &str) -> String {
    let styled = index.replacen("</head>", &format!("<style>{STYLE}</style>\n</head>"), 1);
    match styled.find("</header>") {
        Some(i) => {
            let at = i + "</header>".len();
            format!("{}\n{HINT}{}", &styled[..at], &styled[at..])
        }
        None => styled,
    }
}

/// One request passed to stateright's server at `upstream`: its status, content
/// type and body.
fn pass(
    upstream: SocketAddr,
    method: &str,
    url: &str,
    body: &[u8],
) -> std::io::Result<(u16, Option<String>, Vec<u8>)> {
    // stateright's server may still be starting when the first request comes.
    let mut tries = 0;
    let mut s = loop {
        match TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) {
            Ok(s) => break s,
            Err(_) if tries < 40 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    };
    // "Run to completion" and a long path's replay may take a while.
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(
        s,
        "{method} {url} HTTP/1.0\r\nHost: {upstream}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("the Explorer's server sent no header"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(502);
    let content_type = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-type")
            .then(|| v.trim().to_string())
    });
    Ok((code, content_type, raw[split + 4..].to_vec()))
}

/// Serves `server`'s requests until it stops, passing them to `upstream`.
pub fn run(server: tiny_http::Server, upstream: SocketAddr) {
    for mut rq in server.incoming_requests() {
        let method = rq.method().as_str().to_string();
        let url = rq.url().to_string();
        let mut body = Vec::new();
        let _ = rq.as_reader().read_to_end(&mut body);
        let response = match pass(upstream, &method, &url, &body) {
            Ok((code, content_type, data)) => {
                let data = if method == "GET" && url == "/" {
                    amend(&String::from_utf8_lossy(&data)).into_bytes()
                } else {
                    data
                };
                let mut r = tiny_http::Response::from_data(data).with_status_code(code);
                let kind = content_type.or_else(|| (url == "/").then(|| "text/html".into()));
                if let Some(h) =
                    kind.and_then(|v| tiny_http::Header::from_bytes("Content-Type", v).ok())
                {
                    r = r.with_header(h);
                }
                r
            }
            Err(e) => tiny_http::Response::from_string(format!(
                "raftlab explore: the Explorer's server did not answer: {e}"
            ))
            .with_status_code(502),
        };
        let _ = rq.respond(response);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_gets_the_numbering_and_the_hint_once() {
        let page = "<html><head><title>x</title></head><body><header>h</header><main></main></body></html>";
        let amended = amend(page);
        assert_eq!(amended.matches("counter-reset:step -2").count(), 1);
        assert_eq!(amended.matches("raftlab-hint\">").count(), 1);
        assert!(amended.find("</header>") < amended.find("raftlab-hint\">"));
        assert!(amended.find("<style>") < amended.find("</head>"));
    }
}
