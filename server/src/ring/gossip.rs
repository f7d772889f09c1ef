//! Gossip state.
