//! Dev-only test bench for watchtower (being written).
