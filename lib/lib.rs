//! jnet: per-jail networking for FreeBSD `jail.conf` hooks, without a daemon.
//!
//! Program logic talks to the kernel only through the traits in [`kernel`]; [`freebsd`]
//! implements them with ioctls and system calls, [`sim`] with a simulated host whose state
//! lives in a file. See `README.md` and `jnet(7)`.

#![warn(missing_docs)]

pub mod child;
pub mod cli;
pub mod cni;
pub mod epair;
pub mod errno;
pub mod error;
pub mod freebsd;
pub mod hoststate;
pub mod intent;
pub mod inventory;
pub mod ip6wait;
pub mod jaillock;
pub mod kernel;
pub mod leftover;
pub mod lend;
pub mod mac;
pub mod names;
pub mod ngattach;
pub mod ngplan;
pub mod nic;
pub mod owner;
pub mod plan;
pub mod release;
#[cfg(feature = "sim")]
pub mod sim;
