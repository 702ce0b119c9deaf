//! Who is acting: every operation carries it, and the audit log records it.

use std::fmt;

/// An actor as `channel` or `channel:name`: `cli:root`, `api:helpdesk-token`, `ivr`,
/// `registrar`, `system`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor(String);

impl Actor {
    /// An administrator at the command line, named by the operating-system user.
    pub fn cli(os_user: &str) -> Actor {
        Actor(format!("cli:{}", clean(os_user)))
    }
    /// The command line's operating-system user: `$USER`, else `$LOGNAME`, else the name of the
    /// process's uid in /etc/passwd, else `uid<n>`.
    pub fn cli_from_env() -> Actor {
        let from_env = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|s| !s.is_empty());
        let name = from_env.unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            uid.and_then(|u| user_of_uid(&passwd, u))
                .or_else(|| uid.map(|u| format!("uid{u}")))
                .unwrap_or_else(|| "unknown".into())
        });
        Actor::cli(&name)
    }
    /// A front end's own user (API token owner, console login): `channel:name`.
    pub fn named(channel: &str, name: &str) -> Actor {
        Actor(format!("{}:{}", clean(channel), clean(name)))
    }
    /// A caller of the IVR (the claim's user is recorded separately, once authenticated).
    pub fn ivr() -> Actor {
        Actor("ivr".into())
    }
    /// A phone's screen (the on-screen claim from its idle URL); the device is recorded separately.
    pub fn screen() -> Actor {
        Actor("screen".into())
    }
    /// An end user in the self-care portal, with the address they came from:
    /// `self-care:jsmith@192.0.2.7`, or `self-care:@192.0.2.7` before the user is known (a
    /// failed login), so that the audit's channel filter `self-care` finds both.
    pub fn self_care(user: Option<&str>, source: &str) -> Actor {
        match user {
            Some(u) => Actor(format!("self-care:{}@{}", clean(u), clean(source))),
            None => Actor(format!("self-care:@{}", clean(source))),
        }
    }
    /// The built-in registrar auto-registering a phone.
    pub fn registrar() -> Actor {
        Actor("registrar".into())
    }
    /// selfprov itself (first-start demo data, migrations).
    pub fn system() -> Actor {
        Actor("system".into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user name of `uid` in an /etc/passwd text.
fn user_of_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_owned())
    })
}

/// Names go into logs and the audit: printable, no separators that would confuse `channel:name`,
/// bounded.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(64)
        .collect()
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_strings() {
        assert_eq!(Actor::cli("root").as_str(), "cli:root");
        assert_eq!(
            Actor::self_care(Some("jsmith"), "192.0.2.7").as_str(),
            "self-care:jsmith@192.0.2.7"
        );
        assert_eq!(Actor::self_care(None, "::1").as_str(), "self-care:@::1");
        assert_eq!(Actor::named("api", "ops team\n").as_str(), "api:opsteam");
        assert!(Actor::cli_from_env().as_str().starts_with("cli:"));
        let passwd = "root:x:0:0:root:/root:/bin/bash\nops:x:1001:1001::/home/ops:/bin/sh\n";
        assert_eq!(user_of_uid(passwd, 1001).as_deref(), Some("ops"));
        assert_eq!(user_of_uid(passwd, 7), None);
    }
}
