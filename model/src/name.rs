//! Actors' names, as the paper and every report print them: `S1`, `S2`, ... for
//! servers (server index 0 is S1), `C1`, ... for a model's clients.

use stateright::actor::Id;

/// `S1` for server `Id 0`, and so on.
pub fn server(id: Id) -> String {
    format!("S{}", usize::from(id).saturating_add(1))
}

/// `S1`.. for the first `servers` ids; `C1`.. for the clients of a model, whose ids
/// follow the servers'. A real client's random 64-bit id is no model client: it is
/// shown in hex (a trace names its clients by their files instead).
pub fn actor(id: Id, servers: usize) -> String {
    let i = usize::from(id);
    match i.checked_sub(servers) {
        None => server(id),
        Some(c) if c < MAX_MODEL_CLIENTS => format!("C{}", c + 1),
        Some(_) => format!("client {i:#x}"),
    }
}

/// More clients than any model has: ids beyond are real clients' random ids.
const MAX_MODEL_CLIENTS: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_then_clients() {
        assert_eq!(server(Id::from(0)), "S1");
        assert_eq!(actor(Id::from(2), 3), "S3");
        assert_eq!(actor(Id::from(3), 3), "C1");
        assert_eq!(
            actor(Id::from(1usize << 63), 3),
            "client 0x8000000000000000"
        );
    }
}
