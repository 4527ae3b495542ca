//! raft-impl: hosts the `raft-model` actor as real UDP nodes (in progress).
