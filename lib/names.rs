//! Interface and node names, and the validation of names users pass in.
//!
//! Names follow jib and jng (`e<i>a_<jail>`, `e<i>b_<jail>`, `ng<i>_<jail>`) so that
//! existing `vnet.interface` lines keep working. When that name would exceed IFNAMSIZ-1 (15)
//! characters, or the jail name has characters outside `[A-Za-z0-9_]`, the name becomes
//! `<head><stem>-<hash>`: the jail name with other characters turned into `_`, cut to fit,
//! then `-` and seven base32 characters (35 bits) of a hash of the *full* jail name. A
//! direct name never contains `-`, so a shortened name can never equal a direct one, and
//! two long names sharing a prefix differ in their hash.

use crate::mac::{mix64, Fnv64};
use std::fmt;

/// Longest interface name (IFNAMSIZ 16 including the NUL, `sys/net/if.h`).
pub const IFNAME_MAX: usize = 15;
/// Longest netgraph node name jnet uses. NG_NODESIZ (32 with the NUL, `ng_message.h`) allows
/// 31, but a message goes to `name:`, and ng_socket refuses a destination address longer than
/// 31 characters (`sg_len` > NG_NODESIZ + 2, `ng_socket.c`): so 30.
pub const NGNAME_MAX: usize = 30;
/// Longest jail name (MAXHOSTNAMELEN 256 including the NUL).
pub const JAILNAME_MAX: usize = 255;
/// Highest `--index`.
pub const INDEX_MAX: u32 = 99;

/// A refused name, with the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which end of an epair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// The host end (`e<i>a_`).
    A,
    /// The jail end (`e<i>b_`).
    B,
}

impl End {
    /// "a" or "b".
    pub fn letter(self) -> &'static str {
        match self {
            End::A => "a",
            End::B => "b",
        }
    }
}

fn simple(jail: &str) -> bool {
    jail.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn hash7(jail: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = Fnv64::new();
    h.write(b"jnet-name-v1\xff");
    h.write(jail.as_bytes());
    let v = mix64(h.finish());
    (0..7).map(|i| ALPHABET[((v >> (59 - 5 * i)) & 31) as usize] as char).collect()
}

/// `<head><jail>` if it fits and is plain, else the shortened, hashed form (module docs).
fn derive(head: &str, jail: &str) -> String {
    if head.len() + jail.len() <= IFNAME_MAX && simple(jail) {
        return format!("{head}{jail}");
    }
    let room = IFNAME_MAX - head.len() - 8;
    let stem: String =
        jail.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(room).collect();
    format!("{head}{stem}-{}", hash7(jail))
}

/// Check a `--short` name: interface names made from it are used as they are, never
/// shortened, so it must be plain (`[A-Za-z0-9_]`) and short enough for every name jnet
/// makes from it at `index` (`e<i>a_`, `ng<i>_`).
pub fn check_short(short: &str, index: u32) -> Result<(), NameError> {
    if short.is_empty() || !simple(short) {
        return Err(NameError(format!("--short {short:?} must be letters, digits and _ only")));
    }
    let longest = format!("e{index}a_{short}");
    if longest.len() > IFNAME_MAX {
        return Err(NameError(format!(
            "--short {short:?} is too long: {longest} would have {} characters, and FreeBSD allows {IFNAME_MAX}; \
             at most {} characters at index {index}",
            longest.len(),
            IFNAME_MAX - (longest.len() - short.len())
        )));
    }
    Ok(())
}

/// The name of one end of a jail's epair number `index`.
pub fn epair_name(jail: &str, index: u32, end: End) -> String {
    derive(&format!("e{index}{}_", end.letter()), jail)
}

/// The name of a jail's netgraph eiface number `index` (interface and node).
pub fn eiface_name(jail: &str, index: u32) -> String {
    derive(&format!("ng{index}_"), jail)
}

/// The netgraph node name of a jail's eiface number `index`: `jnet-` and 22 characters
/// (132 bits) of SipHash-2-4-128 of the jail name and index, keyed with this host's secret
/// (`hoststate::naming_key`). Interface names must fit 15 characters and so carry a short
/// hash that can be matched on purpose; node names are what release acts on, so two jail
/// names must never map to one node, even chosen by someone who wants them to. 27
/// characters keep every path jnet sends (`name:`) within the 31 that ng_socket accepts.
pub fn eiface_node_name(key: &[u8; 16], jail: &str, index: u32) -> String {
    use siphasher::sip128::{Hasher128, SipHasher24};
    use std::hash::Hasher;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut h = SipHasher24::new_with_key(key);
    h.write(b"jnet-ng-v1\xff");
    h.write(jail.as_bytes());
    h.write(b"\xff");
    h.write(&index.to_be_bytes());
    let v = u128::from_be_bytes(h.finish128().as_bytes());
    let tail: String = (0..22).map(|i| ALPHABET[((v >> (6 * i)) & 63) as usize] as char).collect();
    format!("{NODE_PREFIX}{tail}")
}

/// The prefix of every node name jnet gives an eiface.
pub const NODE_PREFIX: &str = "jnet-";

/// Is `name` of the forms jnet gives interfaces: `e<i>a_...`, `e<i>b_...` (epair ends) or
/// `ng<i>_...` (eifaces), `<i>` 0 to 99?
pub fn is_jnet_style(name: &str) -> bool {
    let rest = |prefix: &str| -> Option<String> {
        let r = name.strip_prefix(prefix)?;
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        (!digits.is_empty() && digits.len() <= 2).then(|| r[digits.len()..].to_string())
    };
    match (rest("e"), rest("ng")) {
        (Some(r), _) => r.starts_with("a_") || r.starts_with("b_"),
        (_, Some(r)) => r.starts_with('_'),
        _ => false,
    }
}

/// Check a jail name as jail(8) would take it; all digits is a jid, not a name.
pub fn check_jail_name(jail: &str) -> Result<(), NameError> {
    if jail.is_empty() {
        return Err(NameError("jail name is empty".into()));
    }
    if jail.len() > JAILNAME_MAX {
        return Err(NameError(format!("jail name is {} bytes long; the limit is {JAILNAME_MAX}", jail.len())));
    }
    if let Some(c) = jail.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(NameError(format!(
            "jail name {jail:?} contains {c:?}; spaces and control characters are not allowed"
        )));
    }
    if jail.starts_with('.') || jail.ends_with('.') || jail.contains("..") {
        return Err(NameError(format!("jail name {jail:?} has an empty component between dots")));
    }
    Ok(())
}

/// Check an interface name given by the user (CNI's ValidateInterfaceName, FreeBSD limits).
pub fn check_ifname(what: &str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError(format!("{what} name is empty")));
    }
    if name.len() > IFNAME_MAX {
        return Err(NameError(format!(
            "{what} name {name:?} is {} characters long; FreeBSD allows at most {IFNAME_MAX} (IFNAMSIZ)",
            name.len()
        )));
    }
    if name == "." || name == ".." {
        return Err(NameError(format!("{what} name {name:?} is not a valid interface name")));
    }
    if let Some(c) = name.chars().find(|&c| !c.is_ascii_graphic() || c == '/' || c == ':' || c == '%') {
        return Err(NameError(format!("{what} name {name:?} contains {c:?}; use letters, digits, '_', '-' or '.'")));
    }
    if name.as_bytes()[0].is_ascii_digit() {
        return Err(NameError(format!("{what} name {name:?} starts with a digit")));
    }
    Ok(())
}

/// Check a netgraph node name (`ng_base.c` ng_name_node: no '.', ':', not `[hex]`).
pub fn check_node_name(what: &str, name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > NGNAME_MAX {
        return Err(NameError(format!("{what} node name {name:?} must have 1 to {NGNAME_MAX} characters")));
    }
    if let Some(c) = name.chars().find(|&c| !c.is_ascii_graphic() || c == '.' || c == ':' || c == '[' || c == ']') {
        return Err(NameError(format!("{what} node name {name:?} contains {c:?}, which netgraph reserves for paths")));
    }
    Ok(())
}

/// Check an interface group name (`if_addgroup`: a name ending in a digit is EINVAL).
pub fn check_group(name: &str) -> Result<(), NameError> {
    check_ifname("group", name)?;
    if name.ends_with(|c: char| c.is_ascii_digit()) {
        return Err(NameError(format!(
            "group name {name:?} ends in a digit, which FreeBSD reserves for interface names"
        )));
    }
    Ok(())
}

/// Check `--index`.
pub fn check_index(index: u32) -> Result<(), NameError> {
    if index > INDEX_MAX {
        return Err(NameError(format!("index {index} is out of range 0-{INDEX_MAX}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn jnet_style_names() {
        for n in ["e0a_www", "e12b_db", "ng0_mail", "ng3_x-abcdefg", &epair_name("a-very-long-jail-name", 7, End::B)] {
            assert!(is_jnet_style(n), "{n}");
        }
        for n in ["igb0", "epair0a", "e0c_www", "ng_x", "e100a_x", "bridge0", "e0a", "ngeth0"] {
            assert!(!is_jnet_style(n), "{n}");
        }
    }

    #[test]
    fn jib_compatible_when_it_fits() {
        assert_eq!(epair_name("www", 0, End::A), "e0a_www");
        assert_eq!(epair_name("www", 0, End::B), "e0b_www");
        assert_eq!(epair_name("www", 3, End::B), "e3b_www");
        assert_eq!(eiface_name("db_1", 1), "ng1_db_1");
        // 11 characters fit exactly.
        assert_eq!(epair_name("abcdefghijk", 0, End::A), "e0a_abcdefghijk");
    }

    #[test]
    fn long_or_dotted_names_are_shortened_with_a_hash() {
        let n = epair_name("abcdefghijkl", 0, End::A);
        assert_eq!(n.len(), 15, "{n}");
        assert!(n.starts_with("e0a_abc-"), "{n}");
        let d = epair_name("www.example", 0, End::B);
        assert!(d.starts_with("e0b_www-") && d.len() == 15, "{d}");
        // The two ends of one jail share the hash, so they are recognisably a pair.
        assert_eq!(epair_name("www.example", 0, End::A)[4..], d[4..]);
        // Deterministic, and pinned: jnet(7) shows this example, and a change would rename
        // every shortened interface on upgrade.
        assert_eq!(d, epair_name("www.example", 0, End::B));
        assert_eq!(epair_name("www.example.org", 0, End::B), "e0b_www-mjzh6ec");
        // A dotted name never maps to the plain name with '_' in its place.
        assert_ne!(epair_name("a.b", 0, End::A), epair_name("a_b", 0, End::A));
        assert_eq!(epair_name("a_b", 0, End::A), "e0a_a_b");
        let g = eiface_name("a-very-long-jail-name", 12);
        assert!(g.len() == 15 && g.starts_with("ng12_a_-"), "{g}");
        let x = epair_name("x".repeat(200).as_str(), 99, End::B);
        assert!(x.len() == 15 && x.starts_with("e99b_xx-"), "{x}");
    }

    #[test]
    fn long_names_sharing_a_prefix_stay_distinct() {
        let a = epair_name("customer-portal-frontend", 0, End::A);
        let b = epair_name("customer-portal-backend", 0, End::A);
        assert_ne!(a, b);
        assert_eq!(a[..8], b[..8]);
        let mut seen = HashSet::new();
        // 2000 jails sharing a prefix: p(collision) ~ 6e-5 with 35 bits.
        for i in 0..2_000 {
            let n = epair_name(&format!("tenant-{i:05}.example.org"), 0, End::B);
            assert!(n.len() <= IFNAME_MAX);
            assert!(seen.insert(n.clone()), "collision at {i}: {n}");
        }
    }

    #[test]
    fn node_names_are_keyed_and_fit_a_path() {
        let k1 = [1u8; 16];
        let k2 = [2u8; 16];
        let a = eiface_node_name(&k1, "www", 0);
        assert_eq!(a.len(), 27, "{a}");
        assert!(check_node_name("eiface", &a).is_ok());
        assert_eq!(a, eiface_node_name(&k1, "www", 0));
        assert_ne!(a, eiface_node_name(&k2, "www", 0), "another host's key gives other names");
        assert_ne!(a, eiface_node_name(&k1, "www", 1));
        assert_ne!(a, eiface_node_name(&k1, "www1", 0));
        // Two jails whose interface names collide still get two nodes.
        let long1 = "customer-portal-frontend";
        assert_ne!(eiface_node_name(&k1, long1, 0), eiface_node_name(&k1, "customer-portal-frontenD", 0));
        let mut seen = HashSet::new();
        for i in 0..5_000 {
            assert!(seen.insert(eiface_node_name(&k1, &format!("t{i}"), 0)));
        }
    }

    #[test]
    fn short_names() {
        assert!(check_short("web1", 0).is_ok());
        assert!(check_short("abcdefghijk", 0).is_ok());
        assert!(check_short("abcdefghijkl", 0).unwrap_err().0.contains("at most 11 characters"));
        assert!(check_short("abcdefghijk", 10).unwrap_err().0.contains("at most 10 characters at index 10"));
        assert!(check_short("a-b", 0).is_err());
        assert!(check_short("", 0).is_err());
        // A short name that passes gives the plain form, never a hashed one.
        assert_eq!(epair_name("abcdefghijk", 0, End::B), "e0b_abcdefghijk");
    }

    #[test]
    fn validation() {
        assert!(check_jail_name("").is_err());
        assert!(check_jail_name("a b").is_err());
        assert!(check_jail_name(&"x".repeat(256)).is_err());
        assert!(check_jail_name("a..b").is_err());
        assert!(check_jail_name("www.example.org").is_ok());
        assert!(check_ifname("bridge", "bridge0").is_ok());
        assert!(check_ifname("bridge", "").is_err());
        assert!(check_ifname("bridge", "abcdefghijklmnop").is_err());
        assert!(check_ifname("bridge", "a/b").is_err());
        assert!(check_ifname("bridge", "a b").is_err());
        assert!(check_ifname("bridge", "0abc").is_err());
        assert!(check_group("jnet").is_ok());
        assert!(check_group("jnet1").is_err());
        assert!(check_node_name("bridge", "igb0bridge").is_ok());
        assert!(check_node_name("bridge", "a.b").is_err());
        assert!(check_node_name("bridge", &"n".repeat(30)).is_ok());
        assert!(check_node_name("bridge", &"n".repeat(31)).is_err(), "bridge: would be a 32-character path");
        assert!(check_index(99).is_ok());
        assert!(check_index(100).is_err());
    }
}
