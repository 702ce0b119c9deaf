//! Phone vendor families: the file names each asks for, and what a User-Agent says about the
//! phone (its model, its family, sometimes its MAC).

use crate::mac::Mac;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A family of phones sharing file names and formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Cisco,
    Yealink,
    Polycom,
    Snom,
    Grandstream,
    Baresip,
    Linphone,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Family::Cisco,
        Family::Yealink,
        Family::Polycom,
        Family::Snom,
        Family::Grandstream,
        Family::Baresip,
        Family::Linphone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Cisco => "cisco",
            Family::Yealink => "yealink",
            Family::Polycom => "polycom",
            Family::Snom => "snom",
            Family::Grandstream => "grandstream",
            Family::Baresip => "baresip",
            Family::Linphone => "linphone",
        }
    }

    /// The templates of the family, and whether each carries the device's SIP secret.
    pub fn templates(self) -> &'static [(&'static str, bool)] {
        match self {
            Family::Cisco => &[("XmlDefault.cnf.xml", false), ("device.cnf.xml", true)],
            Family::Yealink => &[("common.cfg", false), ("device.cfg", true)],
            Family::Polycom => &[("master.cfg", false), ("device.cfg", true)],
            Family::Snom => &[("device.xml", true)],
            Family::Grandstream => &[("device.xml", true)],
            Family::Baresip => &[("config", false), ("accounts", true)],
            Family::Linphone => &[("device.xml", true)],
        }
    }

    /// The file name a phone of this family asks for, for a template and a MAC.
    pub fn file_name(self, template: &str, mac: &Mac) -> String {
        match (self, template) {
            (Family::Cisco, "device.cnf.xml") => format!("SEP{}.cnf.xml", mac.upper()),
            (Family::Yealink, "common.cfg") => "y000000000000.cfg".into(),
            (Family::Yealink, "device.cfg") => format!("{}.cfg", mac.lower()),
            (Family::Polycom, "master.cfg") => "000000000000.cfg".into(),
            (Family::Polycom, "device.cfg") => format!("{}-selfprov.cfg", mac.lower()),
            (Family::Snom, _) => format!("{}.xml", mac.upper()),
            (Family::Grandstream, _) => format!("cfg{}.xml", mac.lower()),
            (Family::Baresip, t) => format!("baresip/{}/{t}", mac.lower()),
            (Family::Linphone, _) => format!("linphone/{}.xml", mac.lower()),
            (_, t) => t.to_owned(),
        }
    }

    /// The model a phone of this family is registered as when nothing else tells which one (a
    /// TFTP request carries no User-Agent; the file name tells only the family).
    pub fn default_model(self) -> Option<&'static str> {
        match self {
            Family::Cisco => Some("Cisco 8845"),
            Family::Yealink => Some("Yealink T46U"),
            Family::Polycom => Some("Polycom VVX 450"),
            _ => None,
        }
    }

    /// The family of a model name as selfprov knows models (`Cisco 8845`, `Yealink T46U`, …).
    pub fn of_model(model: &str) -> Option<Family> {
        let m = model.to_ascii_lowercase();
        let f = |p: &str| m.starts_with(p);
        if f("cisco ") && !m.contains("jabber") && !m.contains("webex") {
            Some(Family::Cisco)
        } else if f("yealink") {
            Some(Family::Yealink)
        } else if f("polycom") {
            Some(Family::Polycom)
        } else if f("snom") {
            Some(Family::Snom)
        } else if f("grandstream") {
            Some(Family::Grandstream)
        } else if f("baresip") || m == "generic softphone" {
            Some(Family::Baresip)
        } else if f("linphone") {
            Some(Family::Linphone)
        } else {
            None
        }
    }
}

impl FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> Result<Family, String> {
        Family::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a phone family: one of {}",
                    Family::ALL.map(|f| f.as_str()).join(", ")
                )
            })
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a User-Agent tells about the phone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Agent {
    /// A model name as selfprov knows models; `Generic SIP Phone` when unrecognised.
    pub model: String,
    pub family: Option<Family>,
    /// Yealink and Grandstream phones put their MAC in the User-Agent.
    pub mac: Option<Mac>,
}

/// Read a User-Agent: `Cisco-CP8845/14.2.1`, `Yealink SIP-T46U 108.86.0.45 00:15:65:11:22:33`,
/// `FileTransport PolycomVVX-VVX_450-UA/6.3.0`, `… snomD735-SIP 10.1 …`,
/// `Grandstream Model HW GRP2614 SW 1.0.5 DevId c074ad112233`, `baresip v3.10.1 (x86_64/Linux)`,
/// `Linphone/5.2 …`.
pub fn read_user_agent(ua: Option<&str>) -> Agent {
    let ua = ua.unwrap_or("");
    let l = ua.to_ascii_lowercase();
    let word_after = |key: &str| -> Option<String> {
        let i = l.find(key)? + key.len();
        let w: String = ua[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        (!w.is_empty()).then_some(w)
    };
    let generic = |model: &str, family| Agent {
        model: model.into(),
        family,
        mac: None,
    };
    if let Some(rest) = ua.strip_prefix("Cisco-CP") {
        let num: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !num.is_empty() {
            return generic(&format!("Cisco {num}"), Some(Family::Cisco));
        }
    }
    if l.contains("yealink") {
        let model = word_after("sip-")
            .map(|m| format!("Yealink {}", m.to_ascii_uppercase()))
            .unwrap_or_else(|| "Yealink".into());
        let mac = ua.split_whitespace().last().and_then(|t| t.parse().ok());
        return Agent {
            model,
            family: Some(Family::Yealink),
            mac,
        };
    }
    if l.contains("polycom") {
        let model = word_after("polycomvvx-vvx_")
            .map(|n| format!("Polycom VVX {n}"))
            .unwrap_or_else(|| "Polycom".into());
        return generic(&model, Some(Family::Polycom));
    }
    if let Some(m) = word_after("snom") {
        return generic(
            &format!("Snom {}", m.to_ascii_uppercase()),
            Some(Family::Snom),
        );
    }
    if l.contains("grandstream") {
        let model = ua
            .split_whitespace()
            .skip_while(|w| !w.eq_ignore_ascii_case("HW"))
            .nth(1)
            .map(|m| format!("Grandstream {m}"))
            .unwrap_or_else(|| "Grandstream".into());
        let mac = word_after("devid ").and_then(|m| m.parse().ok());
        return Agent {
            model,
            family: Some(Family::Grandstream),
            mac,
        };
    }
    if l.contains("baresip") {
        return generic("Generic Softphone", Some(Family::Baresip));
    }
    if l.contains("linphone") {
        return generic("Generic Softphone", Some(Family::Linphone));
    }
    if l.contains("jabber") || l.contains("selfprov-phone") {
        return generic("Generic Softphone", None);
    }
    generic("Generic SIP Phone", None)
}

/// A file request, recognised: which family's template, for which MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRequest {
    pub family: Family,
    pub template: &'static str,
    /// The MAC named by the file (none for a file common to every phone of the family).
    pub mac: Option<Mac>,
    /// The file carries the device's SIP secret.
    pub secret: bool,
}

fn hex12(s: &str) -> Option<Mac> {
    (s.len() == 12).then(|| s.parse().ok()).flatten()
}

/// Recognise a requested path (HTTP path or TFTP file name). A `family/` prefix decides the
/// family; a bare `<mac>.cfg` (Yealink's device file, Polycom's per-phone master) is decided by
/// the User-Agent's family, else `known` (the family of a device already known by that MAC).
pub fn recognise(
    path: &str,
    agent: &Agent,
    known: impl Fn(Mac) -> Option<Family>,
) -> Option<FileRequest> {
    let path = path.trim_start_matches('/');
    let (prefix, name) = match path.split_once('/') {
        Some((p, rest))
            if p.parse::<Family>().is_ok() && !rest.contains('/')
                || p.eq_ignore_ascii_case("baresip") =>
        {
            (p.parse::<Family>().ok(), rest)
        }
        _ => (None, path),
    };
    let req = |family: Family, template: &'static str, mac: Option<Mac>| {
        let secret = family.templates().iter().any(|(t, s)| *t == template && *s);
        Some(FileRequest {
            family,
            template,
            mac,
            secret,
        })
    };
    let want = |f: Family| prefix.is_none_or(|p| p == f);
    let lower = name.to_ascii_lowercase();
    if prefix == Some(Family::Baresip) {
        let (mac, file) = name.split_once('/')?;
        let mac = hex12(mac)?;
        return match file {
            "accounts" => req(Family::Baresip, "accounts", Some(mac)),
            "config" => req(Family::Baresip, "config", Some(mac)),
            _ => None,
        };
    }
    if lower == "xmldefault.cnf.xml" && want(Family::Cisco) {
        return req(Family::Cisco, "XmlDefault.cnf.xml", None);
    }
    if let Some(m) = lower
        .strip_prefix("sep")
        .and_then(|r| r.strip_suffix(".cnf.xml"))
        .and_then(hex12)
    {
        return want(Family::Cisco)
            .then(|| req(Family::Cisco, "device.cnf.xml", Some(m)))
            .flatten();
    }
    // y0000000000xx.cfg: `y` and twelve digits ending in the model's code (T46U: y000000000108.cfg).
    if lower.len() == 17
        && lower.starts_with("y000000000")
        && lower.ends_with(".cfg")
        && want(Family::Yealink)
    {
        return lower[1..13]
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| req(Family::Yealink, "common.cfg", None))
            .flatten();
    }
    if lower == "000000000000.cfg" && want(Family::Polycom) {
        return req(Family::Polycom, "master.cfg", None);
    }
    if let Some(m) = lower.strip_suffix("-selfprov.cfg").and_then(hex12) {
        return want(Family::Polycom)
            .then(|| req(Family::Polycom, "device.cfg", Some(m)))
            .flatten();
    }
    if let Some(m) = lower.strip_suffix(".cfg").and_then(hex12) {
        return match prefix.or(agent.family).or_else(|| known(m)) {
            Some(Family::Polycom) => req(Family::Polycom, "master.cfg", Some(m)),
            Some(Family::Yealink) => req(Family::Yealink, "device.cfg", Some(m)),
            _ => None,
        };
    }
    if let Some(m) = lower
        .strip_prefix("cfg")
        .and_then(|r| r.strip_suffix(".xml"))
        .and_then(hex12)
    {
        return want(Family::Grandstream)
            .then(|| req(Family::Grandstream, "device.xml", Some(m)))
            .flatten();
    }
    if let Some(m) = lower.strip_suffix(".xml").and_then(hex12) {
        return match prefix {
            Some(Family::Linphone) => req(Family::Linphone, "device.xml", Some(m)),
            None | Some(Family::Snom) => req(Family::Snom, "device.xml", Some(m)),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str, ua: Option<&str>) -> Option<(Family, &'static str, Option<String>, bool)> {
        recognise(path, &read_user_agent(ua), |_| None)
            .map(|r| (r.family, r.template, r.mac.map(|m| m.upper()), r.secret))
    }

    #[test]
    fn file_names_per_family() {
        assert_eq!(
            rec("/XmlDefault.cnf.xml", None),
            Some((Family::Cisco, "XmlDefault.cnf.xml", None, false))
        );
        assert_eq!(
            rec("SEP001122AABBCC.cnf.xml", None),
            Some((
                Family::Cisco,
                "device.cnf.xml",
                Some("001122AABBCC".into()),
                true
            ))
        );
        assert_eq!(
            rec("/y000000000108.cfg", None),
            Some((Family::Yealink, "common.cfg", None, false))
        );
        assert_eq!(
            rec(
                "/001565aabbcc.cfg",
                Some("Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cc")
            )
            .unwrap()
            .1,
            "device.cfg"
        );
        assert_eq!(
            rec(
                "/0004f2aabbcc.cfg",
                Some("FileTransport PolycomVVX-VVX_450-UA/6.3.0")
            )
            .unwrap()
            .1,
            "master.cfg"
        );
        assert_eq!(
            rec("/polycom/0004f2aabbcc-selfprov.cfg", None).unwrap().0,
            Family::Polycom
        );
        assert_eq!(
            rec("/yealink/001565aabbcc.cfg", None).unwrap().0,
            Family::Yealink
        );
        // A bare <mac>.cfg with nothing to tell the family is not guessed.
        assert_eq!(rec("/001565aabbcc.cfg", None), None);
        assert_eq!(rec("/000413AABBCC.xml", None).unwrap().0, Family::Snom);
        assert_eq!(
            rec("/cfgc074ad112233.xml", None).unwrap().0,
            Family::Grandstream
        );
        assert_eq!(
            rec("/baresip/0011223344aa/accounts", None),
            Some((
                Family::Baresip,
                "accounts",
                Some("0011223344AA".into()),
                true
            ))
        );
        assert_eq!(
            rec("/linphone/0011223344aa.xml", None).unwrap().0,
            Family::Linphone
        );
        for bad in [
            "/etc/passwd",
            "/SEPXYZ.cnf.xml",
            "/../SEP001122AABBCC.cnf.xml",
            "/cisco/000000000000.cfg",
            "/y0000000000ab.cfg",
            "/y000000000000.cfg.bak",
            "",
        ] {
            assert_eq!(rec(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn user_agents() {
        let a = read_user_agent(Some("Cisco-CP8845/14.2.1"));
        assert_eq!(
            (a.model.as_str(), a.family),
            ("Cisco 8845", Some(Family::Cisco))
        );
        let a = read_user_agent(Some("Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cc"));
        assert_eq!(
            (a.model.as_str(), a.mac.map(|m| m.lower())),
            ("Yealink T46U", Some("001565aabbcc".into()))
        );
        assert_eq!(
            read_user_agent(Some("FileTransport PolycomVVX-VVX_450-UA/6.3.0")).model,
            "Polycom VVX 450"
        );
        assert_eq!(
            read_user_agent(Some("Mozilla/4.0 (compatible; snomD735-SIP 10.1.46.16)")).model,
            "Snom D735"
        );
        let a = read_user_agent(Some(
            "Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad112233",
        ));
        assert_eq!(
            (a.model.as_str(), a.mac.map(|m| m.lower())),
            ("Grandstream GRP2614", Some("c074ad112233".into()))
        );
        assert_eq!(
            read_user_agent(Some("baresip v3.10.1 (x86_64/Linux)")).family,
            Some(Family::Baresip)
        );
        assert_eq!(read_user_agent(None).model, "Generic SIP Phone");
        for f in [Family::Cisco, Family::Yealink, Family::Polycom] {
            assert_eq!(f.default_model().and_then(Family::of_model), Some(f));
        }
        assert_eq!(Family::of_model("Cisco 8845"), Some(Family::Cisco));
        assert_eq!(Family::of_model("Cisco Jabber"), None);
    }
}
