//! The real FreeBSD backend. The byte encodings (`abi`, `ngabi`, `rtabi`, `iflist`) are pure
//! and compiled everywhere so they can be tested on any platform; the backend reaches a
//! kernel through the syscall seam (`sys`): libc on FreeBSD, or FreeBSD 13.0's network stack
//! served by `jnet-stackhost` anywhere.

pub mod abi;
mod backend;
pub mod iflist;
#[cfg(target_os = "freebsd")]
mod jail_child;
#[cfg(target_os = "freebsd")]
mod libc_sys;
pub mod ngabi;
pub mod rtabi;
pub mod stackhost;
pub mod sys;

pub use backend::{FreeBsd, STACK_ENV};
