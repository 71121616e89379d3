//! The ownership tag jnet puts on everything it creates.
//!
//! Interfaces carry the description `jnet:<jail>:<role>` (it survives a vnet move) and, on
//! the host, the interface group `jnet`. Shared objects (a bridge several jails use) have
//! an empty jail field: `jnet::bridge`. Anything without a tag, or tagged for another jail,
//! is not ours to touch.

use std::fmt;

/// The interface group of everything jnet creates on the host.
pub const GROUP: &str = "jnet";
const PREFIX: &str = "jnet:";

/// What an object is to its jail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Host end of epair `index`.
    EpairHost(u32),
    /// Jail end of epair `index`.
    EpairJail(u32),
    /// Netgraph eiface `index`.
    Eiface(u32),
    /// An if_bridge or ng_bridge jnet created (shared).
    Bridge,
    /// A vlan interface jnet created on a NIC for jails (shared).
    Vlan,
    /// A NIC handed to the jail: the record of its host name, for release.
    Nic,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::EpairHost(i) => write!(f, "epair{i}a"),
            Role::EpairJail(i) => write!(f, "epair{i}b"),
            Role::Eiface(i) => write!(f, "eiface{i}"),
            Role::Bridge => f.write_str("bridge"),
            Role::Vlan => f.write_str("vlan"),
            Role::Nic => f.write_str("nic"),
        }
    }
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        let num = |p: &str, suffix: &str| -> Option<u32> {
            let digits = s.strip_prefix(p)?.strip_suffix(suffix)?;
            if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
                return None;
            }
            digits.parse().ok()
        };
        match s {
            "bridge" => Some(Role::Bridge),
            "vlan" => Some(Role::Vlan),
            "nic" => Some(Role::Nic),
            _ => num("epair", "a")
                .map(Role::EpairHost)
                .or_else(|| num("epair", "b").map(Role::EpairJail))
                .or_else(|| num("eiface", "").map(Role::Eiface)),
        }
    }
}

/// A parsed tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    /// The owning jail's name; None for shared objects.
    pub jail: Option<String>,
    /// What the object is.
    pub role: Role,
}

impl Tag {
    /// A tag for `jail`.
    pub fn jail(jail: &str, role: Role) -> Tag {
        Tag { jail: Some(jail.to_string()), role }
    }
    /// A tag for a shared object.
    pub fn shared(role: Role) -> Tag {
        Tag { jail: None, role }
    }
    /// The description string.
    pub fn description(&self) -> String {
        format!("{PREFIX}{}:{}", self.jail.as_deref().unwrap_or(""), self.role)
    }
    /// Parse a description; None if it is not a jnet tag. The role is after the last ':'
    /// so jail names containing ':' still parse.
    pub fn parse(descr: &str) -> Option<Tag> {
        let rest = descr.strip_prefix(PREFIX)?;
        let (jail, role) = rest.rsplit_once(':')?;
        let role = Role::parse(role)?;
        Some(Tag { jail: (!jail.is_empty()).then(|| jail.to_string()), role })
    }
    /// Is this tag for `jail`?
    pub fn is_for(&self, jail: &str) -> bool {
        self.jail.as_deref() == Some(jail)
    }
}

impl serde::Serialize for Tag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.description())
    }
}

impl<'de> serde::Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tag, D::Error> {
        let s = String::deserialize(d)?;
        Tag::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a jnet tag")))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for t in [
            Tag::jail("www", Role::EpairHost(0)),
            Tag::jail("www", Role::EpairJail(12)),
            Tag::jail("a:b.c", Role::Eiface(3)),
            Tag::jail("db", Role::Nic),
            Tag::shared(Role::Bridge),
        ] {
            assert_eq!(Tag::parse(&t.description()), Some(t.clone()), "{t}");
        }
        assert_eq!(Tag::jail("www", Role::EpairHost(0)).description(), "jnet:www:epair0a");
        assert_eq!(Tag::shared(Role::Bridge).description(), "jnet::bridge");
    }

    #[test]
    fn foreign_descriptions_are_not_tags() {
        for d in [
            "",
            "jail:www",
            "vnet0 host interface for Bastille jail www",
            "jnet:www",
            "jnet:www:epair",
            "jnet:www:epair01a",
            "jnet:www:router",
            "JNET:www:nic",
        ] {
            assert_eq!(Tag::parse(d), None, "{d}");
        }
        assert!(Tag::jail("www", Role::Nic).is_for("www"));
        assert!(!Tag::jail("www", Role::Nic).is_for("ww"));
        assert!(!Tag::shared(Role::Bridge).is_for(""));
    }
}
