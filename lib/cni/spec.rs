//! The Container Network Interface as jnet-cni speaks it (CNI spec 1.0.0, and GC and STATUS
//! of 1.1.0): the environment a runtime sets, the network configuration on stdin, the result
//! and the error object on stdout, and the versions they come in.

use crate::error::{Error, Kind};
use crate::kernel::Cidr;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::IpAddr;

/// The versions of the spec jnet-cni answers in (results of 0.3.x and 0.4.0 carry each
/// address's IP `version`; 1.0.0 dropped it).
pub const SUPPORTED: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
/// The version jnet-cni's VERSION answer is in.
pub const CURRENT: &str = "1.1.0";

/// The spec's well-known error codes (SPEC.md "Error").
pub mod code {
    /// Incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Container unknown or does not exist: the runtime need not clean up.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Invalid necessary environment variables.
    pub const INVALID_ENV: u32 = 4;
    /// I/O failure.
    pub const IO_FAILURE: u32 = 5;
    /// Failed to decode content.
    pub const DECODING_FAILURE: u32 = 6;
    /// Invalid network configuration.
    pub const INVALID_CONFIG: u32 = 7;
    /// Try again later.
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin is not available (1.1.0).
    pub const NOT_AVAILABLE: u32 = 50;
    /// jnet's own codes start here: 100 + the sysexits(3) code a hook would exit with.
    pub const JNET_BASE: u32 = 100;
}

/// A CNI error: printed on stdout as the spec's error object, with a non-zero exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniError {
    /// The spec's code (or 100 + sysexits for jnet's own).
    pub code: u32,
    /// The message.
    pub msg: String,
    /// More detail, when there is some.
    pub details: String,
}

impl CniError {
    /// A new error.
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError { code, msg: msg.into(), details: String::new() }
    }

    /// The error object, in `version`.
    pub fn to_json(&self, version: &str) -> Value {
        let mut j = json!({ "cniVersion": version, "code": self.code, "msg": self.msg });
        if !self.details.is_empty() {
            j["details"] = json!(self.details);
        }
        j
    }

    /// The process's exit status: the sysexits code behind a jnet code, else 1.
    pub fn exit_code(&self) -> i32 {
        match self.code.checked_sub(code::JNET_BASE) {
            Some(x) if (64..=78).contains(&x) => x as i32,
            _ => 1,
        }
    }
}

impl From<Error> for CniError {
    /// A jnet error as CNI sees it: the spec's code where one fits, else 100 + sysexits.
    fn from(e: Error) -> CniError {
        let code = match e.kind {
            Kind::NoJail => code::UNKNOWN_CONTAINER,
            Kind::Usage | Kind::Data => code::INVALID_CONFIG,
            Kind::TempFail => code::TRY_AGAIN_LATER,
            Kind::Io => code::IO_FAILURE,
            _ => code::JNET_BASE + e.exit_code() as u32,
        };
        CniError::new(code, e.message)
    }
}

/// Is `v` a version jnet-cni speaks?
pub fn check_version(v: &str) -> Result<(), CniError> {
    if SUPPORTED.contains(&v) {
        return Ok(());
    }
    let mut e = CniError::new(code::INCOMPATIBLE_VERSION, format!("jnet-cni does not speak CNI version {v:?}"));
    e.details = format!("supported versions: {}", SUPPORTED.join(", "));
    Err(e)
}

/// `a` is at least `b` (versions as "X.Y.Z").
pub fn version_at_least(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u32> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) >= parse(b)
}

/// The network configuration on stdin (fields jnet-cni reads; others are ignored, as
/// plugins in a chain must).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    /// The spec version of this configuration.
    pub cni_version: String,
    /// The network's name.
    pub name: String,
    /// The plugin's name (this program's).
    #[serde(rename = "type")]
    pub plugin: String,
    /// The if_bridge the host ends join (made if missing).
    #[serde(default = "default_bridge")]
    pub bridge: String,
    /// A NIC that must be a member of the bridge.
    pub uplink: Option<String>,
    /// A VLAN of the uplink: the bridge's member is the vlan `uplink.vlan`.
    pub vlan: Option<u16>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// Give the bridge each gateway address IPAM returns.
    #[serde(default)]
    pub is_gateway: bool,
    /// Route the jail's default traffic through the gateway (implies `isGateway`).
    #[serde(default)]
    pub is_default_gateway: bool,
    /// Addresses for the bridge, with their prefix length.
    #[serde(default)]
    pub bridge_addr: Vec<String>,
    /// Take the bridge (and jnet's vlan under it) away with the last attachment on it.
    #[serde(default)]
    pub prune: bool,
    /// The IPAM plugin to delegate addresses to.
    pub ipam: Option<Ipam>,
    /// The previous result (CHECK, DEL, and chained ADDs).
    pub prev_result: Option<Value>,
    /// GC: the attachments that are still valid.
    #[serde(rename = "cni.dev/valid-attachments")]
    pub valid_attachments: Option<Vec<AttachmentId>>,
}

fn default_bridge() -> String {
    "cni0".into()
}

/// The IPAM section: its `type` names the plugin; the rest is the plugin's.
#[derive(Clone, Debug, Deserialize)]
pub struct Ipam {
    /// The IPAM plugin's name, found in CNI_PATH.
    #[serde(rename = "type")]
    pub plugin: String,
}

/// One attachment of a GC request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentId {
    /// CNI_CONTAINERID.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// CNI_IFNAME.
    pub ifname: String,
}

/// One address of a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// ADDRESS/PREFIXLEN.
    pub address: String,
    /// The gateway of its network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// The index in `interfaces` of the interface it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// One route of a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteConfig {
    /// NETWORK/PREFIXLEN.
    pub dst: String,
    /// Through this router; absent: the gateway of the address of the same family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

/// What an IPAM plugin returns (the parts jnet-cni uses, and `dns` as it came).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct IpamResult {
    /// The addresses.
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    /// The routes.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// DNS settings, passed through.
    #[serde(default)]
    pub dns: Value,
}

impl IpamResult {
    /// The addresses, parsed.
    pub fn cidrs(&self) -> Result<Vec<(Cidr, Option<IpAddr>)>, CniError> {
        self.ips
            .iter()
            .map(|ip| {
                let c: Cidr = ip.address.parse().map_err(|e: Error| {
                    CniError::new(code::DECODING_FAILURE, format!("the IPAM result's address: {}", e.message))
                })?;
                if ip.gateway.is_some_and(|g| g.is_ipv6() != c.addr.is_ipv6()) {
                    return Err(CniError::new(
                        code::DECODING_FAILURE,
                        format!("the IPAM result gives {} a gateway of the other family", ip.address),
                    ));
                }
                Ok((c, ip.gateway))
            })
            .collect()
    }
}

/// A route's destination, `NETWORK/LEN` (host bits are cleared, as Go's ParseCIDR does for
/// the runtimes): 0.0.0.0/0 and ::/0 are the default routes.
pub fn route_dst(dst: &str) -> Result<Cidr, CniError> {
    let bad = || CniError::new(code::DECODING_FAILURE, format!("route destination {dst:?} is not NETWORK/PREFIXLEN"));
    let (a, p) = dst.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = a.parse().map_err(|_| bad())?;
    let prefixlen: u8 = p.parse().map_err(|_| bad())?;
    if prefixlen > if addr.is_ipv4() { 32 } else { 128 } {
        return Err(bad());
    }
    Ok(Cidr { addr, prefixlen }.network())
}

/// An interface of a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceConfig {
    /// Its name (in the jail for the sandbox interface).
    pub name: String,
    /// Its MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The jail it is in (CNI_NETNS); absent for the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

/// The result of an ADD, in `version` (0.3.x and 0.4.0 add each address's IP `version`).
pub fn result_json(
    version: &str,
    interfaces: &[InterfaceConfig],
    ips: &[IpConfig],
    routes: &[RouteConfig],
    dns: &Value,
) -> Value {
    let ips: Vec<Value> = ips
        .iter()
        .map(|ip| {
            let mut j = json!(ip);
            if !version_at_least(version, "1.0.0") {
                let v6 = ip.address.contains(':');
                j["version"] = json!(if v6 { "6" } else { "4" });
            }
            j
        })
        .collect();
    let mut j = json!({ "cniVersion": version, "interfaces": interfaces, "ips": ips, "routes": routes });
    j["dns"] = if dns.is_null() { json!({}) } else { dns.clone() };
    j
}

/// The answer to VERSION.
pub fn version_json() -> Value {
    json!({ "cniVersion": CURRENT, "supportedVersions": SUPPORTED })
}

/// CNI_CONTAINERID as the spec allows it (libcni's ValidateContainerID): a letter or digit,
/// then letters, digits, `_`, `.` and `-`.
pub fn check_container_id(id: &str) -> Result<(), CniError> {
    let ok = id.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        && id.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(CniError::new(
            code::INVALID_ENV,
            format!(
                "CNI_CONTAINERID {:?} is not a container ID (a letter or digit, then letters, digits, '_', '.', '-')",
                crate::cli::escape_text(id)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_spec_codes() {
        let e: CniError = Error::new(Kind::NoJail, "no jail c9").into();
        assert_eq!((e.code, e.exit_code()), (3, 1));
        let e: CniError = Error::conflict("taken").into();
        assert_eq!((e.code, e.exit_code()), (178, 78));
        let e: CniError = Error::data("bad address").into();
        assert_eq!(e.code, 7);
        assert_eq!(CniError::new(7, "x").to_json("1.0.0"), json!({ "cniVersion": "1.0.0", "code": 7, "msg": "x" }));
    }

    #[test]
    fn versions() {
        assert!(check_version("1.0.0").is_ok());
        assert_eq!(check_version("2.0.0").unwrap_err().code, 1);
        assert!(version_at_least("1.0.0", "0.4.0"));
        assert!(!version_at_least("0.3.1", "0.4.0"));
        assert!(version_at_least("0.10.0", "0.4.0"));
    }

    #[test]
    fn results_carry_the_ip_version_before_1_0_0() {
        let ips = [IpConfig { address: "10.0.0.2/24".into(), gateway: None, interface: Some(1) }];
        let old = result_json("0.4.0", &[], &ips, &[], &Value::Null);
        assert_eq!(old["ips"][0]["version"], "4");
        let new = result_json("1.0.0", &[], &ips, &[], &Value::Null);
        assert!(new["ips"][0].get("version").is_none());
        assert_eq!(new["dns"], json!({}));
    }

    #[test]
    fn default_routes_and_container_ids() {
        assert!(route_dst("0.0.0.0/0").unwrap().is_default());
        assert!(route_dst("::/0").unwrap().addr.is_ipv6());
        assert_eq!(route_dst("10.1.2.3/16").unwrap().to_string(), "10.1.0.0/16");
        for bad in ["10.1.0.0", "10.1.0.0/33", "x/8", "::/129"] {
            assert_eq!(route_dst(bad).unwrap_err().code, code::DECODING_FAILURE, "{bad}");
        }
        assert!(check_container_id("c1").is_ok());
        assert!(check_container_id("abc-1.2_3").is_ok());
        for bad in ["", "-a", "a/b", "a b", "../x"] {
            assert_eq!(check_container_id(bad).unwrap_err().code, 4, "{bad}");
        }
    }
}
