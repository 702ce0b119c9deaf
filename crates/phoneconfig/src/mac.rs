//! MAC addresses as phones write them in file names and User-Agents.

use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

impl Mac {
    /// Twelve uppercase hex digits, as Cisco writes it (`SEP001122AABBCC`).
    pub fn upper(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
    /// Twelve lowercase hex digits, as Yealink, Polycom and Grandstream write it.
    pub fn lower(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// The Cisco-style device name `SEP<MAC>` every device of selfprov is known by.
    pub fn device_name(&self) -> String {
        format!("SEP{}", self.upper())
    }
    /// The MAC of a `SEP<MAC>` device name.
    pub fn of_device_name(name: &str) -> Option<Mac> {
        name.strip_prefix("SEP").and_then(|m| m.parse().ok())
    }
}

impl FromStr for Mac {
    type Err = String;
    /// Twelve hex digits, optionally separated by `:`, `-` or `.`.
    fn from_str(s: &str) -> Result<Mac, String> {
        let hex: Vec<u8> = s
            .bytes()
            .filter(|b| !matches!(b, b':' | b'-' | b'.'))
            .collect();
        if hex.len() != 12 || !hex.iter().all(u8::is_ascii_hexdigit) || s.len() > 17 {
            return Err(format!("`{s}` is not a MAC address (12 hex digits)"));
        }
        let mut out = [0u8; 6];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            out[i] = u8::from_str_radix(text, 16).map_err(|e| e.to_string())?;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.upper())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let m: Mac = "00:11:22:aa:BB:cc".parse().unwrap();
        assert_eq!(
            (m.upper().as_str(), m.lower().as_str()),
            ("001122AABBCC", "001122aabbcc")
        );
        assert_eq!(m.device_name(), "SEP001122AABBCC");
        assert_eq!(Mac::of_device_name("SEP001122AABBCC"), Some(m));
        assert!("00112233445".parse::<Mac>().is_err());
        assert!("0011223344gg".parse::<Mac>().is_err());
        assert!("SEP001122334455".parse::<Mac>().is_err());
    }
}
