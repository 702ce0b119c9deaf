//! What each vendor's phone asks for when it boots, in its order, and how it reads its files:
//! where to register and its line (number, digest user name, secret). Cisco reads
//! `XmlDefault.cnf.xml` then `SEP<MAC>.cnf.xml`; Yealink `y0000000000xx.cfg` then `<mac>.cfg`;
//! Polycom the master `000000000000.cfg` and its own `<mac>.cfg`, then the files the master's
//! `CONFIG_FILES` names.

use crate::config_file::{cisco_line, element, xml_unescape, Line};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Cisco,
    Yealink,
    Polycom,
}

impl FromStr for Vendor {
    type Err = String;
    fn from_str(s: &str) -> Result<Vendor, String> {
        match s.to_ascii_lowercase().as_str() {
            "cisco" => Ok(Vendor::Cisco),
            "yealink" => Ok(Vendor::Yealink),
            "polycom" => Ok(Vendor::Polycom),
            _ => Err(format!(
                "unknown vendor {s:?}; use cisco, yealink or polycom"
            )),
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Cisco => "cisco",
            Vendor::Yealink => "yealink",
            Vendor::Polycom => "polycom",
        })
    }
}

/// Where a file says to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registrar {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What one file told the phone (a common file has no line; a master only names files).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Learned {
    pub registrar: Option<Registrar>,
    pub line: Option<Line>,
    /// Further files to fetch (Polycom's `CONFIG_FILES`).
    pub more_files: Vec<String>,
    /// The idle URL (Cisco's `<idleURL>`): the on-screen claim of an unclaimed phone.
    pub idle_url: Option<String>,
}

impl Vendor {
    /// The User-Agent of this vendor's phone with MAC `mac` (12 hex digits), as its files and
    /// SIP requests carry it: the configuration server tells the family from it.
    pub fn user_agent(self, mac: &str) -> String {
        match self {
            Vendor::Cisco => "Cisco-CP8845/14.2.1 (selfprov-phone)".into(),
            Vendor::Yealink => {
                let m = mac.to_ascii_lowercase();
                let pairs: Vec<&str> = (0..6).filter_map(|i| m.get(2 * i..2 * i + 2)).collect();
                format!("Yealink SIP-T46U 108.86.0.45 {}", pairs.join(":"))
            }
            Vendor::Polycom => "FileTransport PolycomVVX-VVX_450-UA/6.3.0.14929".into(),
        }
    }

    /// Whether the phone asks its TFTP server first (Cisco: DHCP option 150).
    pub fn fetches_over_tftp(self) -> bool {
        self == Vendor::Cisco
    }

    /// The files the phone asks for first, in order (Polycom's master then names more).
    pub fn boot_files(self, mac: &str) -> Vec<String> {
        let (upper, lower) = (mac.to_ascii_uppercase(), mac.to_ascii_lowercase());
        match self {
            Vendor::Cisco => vec!["XmlDefault.cnf.xml".into(), format!("SEP{upper}.cnf.xml")],
            // `xx`: the model's code (T46U: 108).
            Vendor::Yealink => vec!["y000000000108.cfg".into(), format!("{lower}.cfg")],
            Vendor::Polycom => vec!["000000000000.cfg".into(), format!("{lower}.cfg")],
        }
    }

    /// Read one fetched file.
    pub fn read(self, body: &str, mac: &str) -> Learned {
        match self {
            Vendor::Cisco => Learned {
                registrar: cisco_registrar(body),
                line: cisco_line(body),
                more_files: Vec::new(),
                idle_url: element(body, "idleURL")
                    .map(xml_unescape)
                    .filter(|u| !u.trim().is_empty()),
            },
            Vendor::Yealink => yealink(body),
            Vendor::Polycom => polycom(body, mac),
        }
    }
}

/// `<processNodeName>` and `<sipPort>` of the call manager.
fn cisco_registrar(xml: &str) -> Option<Registrar> {
    Some(Registrar {
        host: xml_unescape(element(xml, "processNodeName")?),
        port: element(xml, "sipPort")?.trim().parse().ok()?,
    })
}

/// `key = value` lines of a Yealink file; account 1 is the line.
fn yealink(cfg: &str) -> Learned {
    let values: std::collections::HashMap<&str, &str> = cfg
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |k: &str| values.get(k).map(|v| (*v).to_owned());
    let registrar = (|| {
        Some(Registrar {
            host: get("account.1.sip_server.1.address")?,
            port: get("account.1.sip_server.1.port")?.parse().ok()?,
        })
    })();
    let line = (|| {
        Some(Line {
            number: get("account.1.user_name")?,
            auth_user: get("account.1.auth_name")?,
            password: get("account.1.password")?,
        })
    })();
    Learned {
        registrar,
        line,
        more_files: Vec::new(),
        idle_url: None,
    }
}

/// The value of attribute `name="…"` in an XML text.
fn attribute(xml: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = xml.find(&key)? + key.len();
    let end = xml[start..].find('"')? + start;
    Some(xml_unescape(&xml[start..end]))
}

/// A Polycom master (`CONFIG_FILES`, `[PHONE_MAC_ADDRESS]` standing for the MAC) or a file with
/// registration 1 (`reg.1.*`).
fn polycom(xml: &str, mac: &str) -> Learned {
    let more_files = attribute(xml, "CONFIG_FILES")
        .map(|files| {
            files
                .split(',')
                .map(|f| {
                    f.trim()
                        .replace("[PHONE_MAC_ADDRESS]", &mac.to_ascii_lowercase())
                })
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let registrar = (|| {
        Some(Registrar {
            host: attribute(xml, "reg.1.server.1.address")?,
            port: attribute(xml, "reg.1.server.1.port")?.parse().ok()?,
        })
    })();
    let line = (|| {
        Some(Line {
            number: attribute(xml, "reg.1.address")?,
            auth_user: attribute(xml, "reg.1.auth.userId")?,
            password: attribute(xml, "reg.1.auth.password")?,
        })
    })();
    Learned {
        registrar,
        line,
        more_files,
        idle_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: &str, u: &str, p: &str) -> Option<Line> {
        Some(Line {
            number: n.into(),
            auth_user: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn each_vendor_asks_for_its_files_in_its_order() {
        let mac = "0011223344AB";
        assert_eq!(
            Vendor::Cisco.boot_files(mac),
            ["XmlDefault.cnf.xml", "SEP0011223344AB.cnf.xml"]
        );
        assert_eq!(
            Vendor::Yealink.boot_files(mac),
            ["y000000000108.cfg", "0011223344ab.cfg"]
        );
        assert_eq!(
            Vendor::Polycom.boot_files(mac),
            ["000000000000.cfg", "0011223344ab.cfg"]
        );
        assert!(Vendor::Yealink
            .user_agent(mac)
            .ends_with(" 00:11:22:33:44:ab"));
        assert_eq!("Polycom".parse(), Ok(Vendor::Polycom));
        assert!("snom".parse::<Vendor>().is_err());
    }

    #[test]
    fn reads_a_cisco_file() {
        let xml = "<device><processNodeName>127.0.0.1</processNodeName><sipPort>5070</sipPort>\
                   <line button=\"1\"><name>1000</name><authName>SEP1</authName><authPassword>s&amp;t</authPassword></line></device>";
        let l = Vendor::Cisco.read(xml, "1");
        assert_eq!(l.registrar.unwrap().to_string(), "127.0.0.1:5070");
        assert_eq!(l.line, line("1000", "SEP1", "s&t"));
        assert_eq!(l.idle_url, None);
        let idle = Vendor::Cisco.read("<idleURL>http://h/screen/SEP1/t?a=1&amp;b=2</idleURL>", "1");
        assert_eq!(
            idle.idle_url.as_deref(),
            Some("http://h/screen/SEP1/t?a=1&b=2")
        );
        assert_eq!(
            Vendor::Cisco.read("<idleURL></idleURL>", "1").idle_url,
            None
        );
        // XmlDefault: where to register, no line.
        let d = Vendor::Cisco.read(
            "<Default><sipPort>5060</sipPort><processNodeName>pbx</processNodeName></Default>",
            "1",
        );
        assert_eq!((d.registrar.unwrap().port, d.line), (5060, None));
    }

    #[test]
    fn reads_a_yealink_file() {
        let cfg = "#!version:1.0.0.1\n## comment = not a key\naccount.1.user_name = 1004\n\
                   account.1.auth_name = SEP1\naccount.1.password = a=b\n\
                   account.1.sip_server.1.address = 127.0.0.1\naccount.1.sip_server.1.port = 5070\n";
        let l = Vendor::Yealink.read(cfg, "1");
        assert_eq!(l.line, line("1004", "SEP1", "a=b"));
        assert_eq!(l.registrar.unwrap().to_string(), "127.0.0.1:5070");
        assert_eq!(
            Vendor::Yealink.read("account.1.sip_server.1.port = 1\n", "1"),
            Learned::default()
        );
    }

    #[test]
    fn reads_a_polycom_master_and_line() {
        let master = "<APPLICATION APP_FILE_PATH=\"sip.ld\" CONFIG_FILES=\"[PHONE_MAC_ADDRESS]-selfprov.cfg, site.cfg\"/>";
        let m = Vendor::Polycom.read(master, "0011223344AB");
        assert_eq!(m.more_files, ["0011223344ab-selfprov.cfg", "site.cfg"]);
        assert_eq!(m.line, None);
        let reg = "<reg reg.1.address=\"1000\" reg.1.auth.userId=\"SEP1\" reg.1.auth.password=\"x&lt;y\" \
                   reg.1.server.1.address=\"127.0.0.1\" reg.1.server.1.port=\"5070\"/>";
        let l = Vendor::Polycom.read(reg, "1");
        assert_eq!(l.line, line("1000", "SEP1", "x<y"));
        assert_eq!(l.registrar.unwrap().to_string(), "127.0.0.1:5070");
    }
}
