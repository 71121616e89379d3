//! MAC addresses: parsing, printing and the stable derivation jnet uses.
//!
//! A derived MAC is a function of (host, jail, index, end) only, so a jail keeps its MACs
//! across restarts (DHCP reservations, registered-MAC networks) while two hosts or two jails
//! practically never share one: 46 of the 48 bits come from a 64-bit hash, leaving the
//! unicast bit clear and the locally-administered bit set.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Multicast (group) bit of the first octet.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
    /// Locally-administered bit of the first octet.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
    /// All zeros.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// The derived address for one end of one of a jail's interfaces on one host.
    /// `host` is the host's identity (`kern.hostuuid`), `end` a short label ("a", "b", "ng").
    pub fn derive(host: &str, jail: &str, index: u32, end: &str) -> Mac {
        let mut h = Fnv64::new();
        for part in [b"jnet-mac-v1".as_slice(), host.as_bytes(), jail.as_bytes(), &index.to_le_bytes(), end.as_bytes()]
        {
            h.write(part);
            // A separator that cannot occur inside the parts' encodings keeps
            // ("ab","c") and ("a","bc") apart.
            h.write(&[0xff]);
        }
        let v = mix64(h.finish());
        let b = v.to_be_bytes();
        let mut m = [b[0], b[1], b[2], b[3], b[4], b[5]];
        m[0] = (m[0] & 0xfc) | 0x02;
        Mac(m)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// Why a MAC string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacError(pub String);

impl fmt::Display for MacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Mac {
    type Err = MacError;
    /// Six hex octets separated by ':' or '-' (one or two digits each, as ifconfig takes).
    fn from_str(s: &str) -> Result<Mac, MacError> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(MacError(format!(
                "invalid MAC address {s:?}: expected 6 octets like 02:00:5e:10:00:01, got {}",
                parts.len()
            )));
        }
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(MacError(format!(
                    "invalid MAC address {s:?}: octet {} ({p:?}) is not one or two hex digits",
                    i + 1
                )));
            }
            m[i] = u8::from_str_radix(p, 16).expect("checked hex");
        }
        Ok(Mac(m))
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A MAC that may be given to an interface: unicast and not all zeros.
pub fn check_assignable(m: Mac) -> Result<Mac, MacError> {
    if m.is_multicast() {
        return Err(MacError(format!(
            "MAC address {m} is multicast (first octet odd): an interface needs a unicast address"
        )));
    }
    if m.is_zero() {
        return Err(MacError("MAC address 00:00:00:00:00:00 cannot be assigned".into()));
    }
    Ok(m)
}

/// FNV-1a, 64-bit: tiny and stable forever, unlike std's DefaultHasher whose output may
/// change between Rust releases (names and MACs must not change when jnet is rebuilt).
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    pub(crate) fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// splitmix64's finalizer: spreads FNV's weak high bits across all 64.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn parse_and_print() {
        let m: Mac = "02:0A:b:c0:ff:1".parse().unwrap();
        assert_eq!(m.0, [0x02, 0x0a, 0x0b, 0xc0, 0xff, 0x01]);
        assert_eq!(m.to_string(), "02:0a:0b:c0:ff:01");
        assert_eq!("02-00-00-00-00-01".parse::<Mac>().unwrap().0, [2, 0, 0, 0, 0, 1]);
        for bad in
            ["", "02:00:00:00:00", "02:00:00:00:00:00:00", "02:00:00:00:00:xyz", "020:0:0:0:0:0", "g2:00:00:00:00:00"]
        {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn assignable() {
        assert!(check_assignable("01:00:5e:00:00:01".parse().unwrap()).is_err());
        assert!(check_assignable("00:00:00:00:00:00".parse().unwrap()).is_err());
        assert!(check_assignable("58:9c:fc:00:00:01".parse().unwrap()).is_ok());
    }

    #[test]
    fn derived_macs_are_stable_local_unicast_and_distinct() {
        let a = Mac::derive("uuid-1", "www", 0, "a");
        assert_eq!(a, Mac::derive("uuid-1", "www", 0, "a"), "deterministic");
        // Pinned: a change here would change every jail's MAC on upgrade.
        assert_eq!(a.to_string(), "c6:25:60:9b:2f:a9");
        let mut seen = HashSet::new();
        for host in ["uuid-1", "uuid-2"] {
            for jail in ["www", "db", "mail", "ww", "wwwa"] {
                for index in 0..4 {
                    for end in ["a", "b", "ng"] {
                        let m = Mac::derive(host, jail, index, end);
                        assert!(!m.is_multicast() && m.is_local(), "{m}");
                        assert!(seen.insert(m), "duplicate {m}");
                    }
                }
            }
        }
        assert_ne!(Mac::derive("h", "ab", 0, "c"), Mac::derive("h", "a", 0, "bc"));
        // 100k jails on one host: no collision expected with 46 bits (p ~ 7e-5).
        let mut many = HashSet::new();
        for i in 0..100_000 {
            assert!(many.insert(Mac::derive("h", &format!("jail{i}"), 0, "b")));
        }
    }

    #[test]
    fn fnv_reference_values() {
        // FNV-1a 64 test vectors (Fowler/Noll/Vo reference).
        let mut h = Fnv64::new();
        assert_eq!(h.finish(), 0xcbf29ce484222325);
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63dc4c8601ec8c);
        let mut h = Fnv64::new();
        h.write(b"foobar");
        assert_eq!(h.finish(), 0x85944171f73967e8);
    }
}
