//! The real FreeBSD backend. The byte encodings (`abi`) are pure and compiled everywhere so
//! they can be tested on any platform; the system-call side only on FreeBSD.

pub mod abi;
pub mod ngabi;
pub mod rtabi;
pub mod stackhost;

#[cfg(target_os = "freebsd")]
mod backend;
#[cfg(target_os = "freebsd")]
pub use backend::FreeBsd;
