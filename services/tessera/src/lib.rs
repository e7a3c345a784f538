//! The `tessera` binary's library half: the server (`serve`) and the offline policy commands
//! (`policy`), kept out of `main.rs` so integration tests run them in-process.

pub mod key_check;
pub mod listen;
pub mod policy;
pub mod serve;
