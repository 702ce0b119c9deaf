//! The configuration file's sections as serde types, with their defaults. Unknown keys are
//! refused so that a typo is an error, not a silently ignored setting.

use selfprov_provisioning::AuthMode;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub service: Service,
    pub database: Database,
    pub self_provisioning: SelfProvisioning,
    pub route_point: RoutePointCfg,
    pub application_user: ApplicationUserCfg,
    pub registrar: Registrar,
    pub auto_registration: AutoRegistration,
    pub credential_policy: CredentialPolicyCfg,
    pub sip: Sip,
    pub media: Media,
    pub ivr: Ivr,
    pub prompts: Prompts,
    pub admin: Admin,
    pub phone_config: PhoneConfig,
    pub log: Log,
    pub shutdown: Shutdown,
    pub demo: Demo,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    /// Node name, shown in logs and status.
    pub name: String,
    /// Where the service keeps its data (relative to the config file).
    pub data_dir: PathBuf,
}
impl Default for Service {
    fn default() -> Self {
        Service {
            name: "selfprov".into(),
            data_dir: PathBuf::from("var"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite` (embedded, one node) or `postgresql` (shared by several nodes).
    pub backend: String,
    /// SQLite: the database file; default `<data_dir>/selfprov.db`.
    pub path: Option<PathBuf>,
    /// PostgreSQL: `postgresql://user[:password]@host[:port]/database`.
    pub url: Option<String>,
    /// PostgreSQL: connections this node keeps at most.
    pub pool_size: usize,
    /// PostgreSQL: encrypt the connection and verify the server's certificate.
    pub tls: bool,
    /// PostgreSQL with `tls`: PEM file of the authority that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
}
impl Default for Database {
    fn default() -> Self {
        Database {
            backend: "sqlite".into(),
            path: None,
            url: None,
            pool_size: 16,
            tls: false,
            ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfProvisioning {
    pub ivr_enabled: bool,
    pub authentication_mode: AuthMode,
    /// Argon2 PHC string of the administrator authentication code (`selfprov hash-secret`).
    pub authentication_code_hash: Option<String>,
    pub languages: Vec<String>,
    /// How long an activation code an administrator issues stays usable (default 7 days).
    #[serde(with = "humantime_serde")]
    pub activation_code_lifetime: Duration,
}
impl Default for SelfProvisioning {
    fn default() -> Self {
        SelfProvisioning {
            ivr_enabled: true,
            authentication_mode: AuthMode::Users,
            authentication_code_hash: None,
            languages: vec!["en_US".into()],
            activation_code_lifetime: Duration::from_secs(7 * 86_400),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutePointCfg {
    pub name: String,
    pub dns: Vec<String>,
    /// A DN where callers type an activation code instead of an ID and PIN (none by default).
    pub activation_dn: Option<String>,
}
impl Default for RoutePointCfg {
    fn default() -> Self {
        RoutePointCfg {
            name: "SelfProvisioning_RP".into(),
            dns: vec!["2000".into()],
            activation_dn: None,
        }
    }
}

#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApplicationUserCfg {
    pub user_id: String,
    pub sip_username: String,
    pub sip_password: String,
}
impl std::fmt::Debug for ApplicationUserCfg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationUserCfg")
            .field("user_id", &self.user_id)
            .field("sip_username", &self.sip_username)
            .field("sip_password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrarMode {
    /// selfprov is the phones' registrar (auto-registration included); no external server.
    #[default]
    Builtin,
    /// The route point registers to an external registrar with the application user.
    External,
}

/// How the built-in registrar knows which phone is registering and calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneAuth {
    /// REGISTER and INVITE are digest-challenged against the device's own credentials (user name
    /// = device name), which a phone gets from its first configuration fetch.
    #[default]
    Digest,
    /// For phones set up by hand without a configuration file: a phone is auto-registered at its
    /// first REGISTER, and an INVITE is tied to a registration by source address and Contact.
    Binding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Registrar {
    pub mode: RegistrarMode,
    /// host:port of the external registrar.
    pub address: Option<String>,
    pub transport: Transport,
    /// Requested registration lifetime in seconds.
    pub expires: u32,
    pub realm: Option<String>,
    /// Built-in registrar: how phones prove who they are.
    pub phone_auth: PhoneAuth,
    /// IP addresses of proxies whose `P-Asserted-Identity` names the calling phone.
    pub trusted_proxies: Vec<String>,
    /// Phones register at Kamailio (mode `external`, PostgreSQL backend): selfprov keeps
    /// Kamailio's `subscriber` table in the same database, each device's digest credentials in
    /// this realm (Kamailio's `auth_check` realm). Unset: no `subscriber` rows are kept.
    pub subscriber_realm: Option<String>,
}
impl Default for Registrar {
    fn default() -> Self {
        Registrar {
            mode: RegistrarMode::Builtin,
            address: None,
            transport: Transport::Udp,
            expires: 3600,
            realm: None,
            phone_auth: PhoneAuth::Digest,
            trusted_proxies: Vec::new(),
            subscriber_realm: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnRangeCfg {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoRegistration {
    pub enabled: bool,
    pub universal_device_template: Option<String>,
    pub universal_line_template: Option<String>,
    pub dn_range: DnRangeCfg,
    /// New devices auto-registration may create a second, from all sources together (0: no
    /// limit); above it a new phone is told to come back (`503`). Sizing: docs/security.md.
    pub new_devices_per_second: u32,
    /// ...and at once.
    pub new_devices_burst: u32,
    /// Delete auto-registered devices never claimed and not heard from (REGISTER, file fetch)
    /// for this long, giving their DN back; `"off"` (or 0) keeps them.
    #[serde(with = "off_or_duration")]
    pub expire_unclaimed: Option<Duration>,
}

/// A duration (`"7d"`), or `"off"` / `"0"` / `0` for none.
mod off_or_duration {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_str("off"),
            Some(d) => {
                s.serialize_str(&humantime_serde::re::humantime::format_duration(*d).to_string())
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(0) => Ok(None),
            Raw::Text(t) if t == "off" || t == "0" => Ok(None),
            Raw::Text(t) => humantime_serde::re::humantime::parse_duration(&t)
                .map(Some)
                .map_err(|e| {
                    D::Error::custom(format!("`{t}`: {e} (a duration like \"7d\", or \"off\")"))
                }),
            Raw::Number(n) => Err(D::Error::custom(format!(
                "{n}: a duration like \"7d\", or \"off\" (0)"
            ))),
        }
    }
}
impl Default for AutoRegistration {
    fn default() -> Self {
        AutoRegistration {
            new_devices_per_second: 10,
            new_devices_burst: 100,
            expire_unclaimed: Some(Duration::from_secs(7 * 86_400)),
            enabled: true,
            universal_device_template: None,
            universal_line_template: None,
            dn_range: DnRangeCfg {
                start: "1000".into(),
                end: "1999".into(),
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialPolicyCfg {
    pub failed_attempts_threshold: u32,
    #[serde(with = "humantime_serde")]
    pub lockout_duration: Duration,
    pub reset_on_success: bool,
}
impl Default for CredentialPolicyCfg {
    fn default() -> Self {
        CredentialPolicyCfg {
            failed_attempts_threshold: 5,
            lockout_duration: Duration::from_secs(900),
            reset_on_success: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sip {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// SIP-over-TLS listen address (usually port 5061; needs `tls_certificate` and
    /// `tls_private_key`); unset: no TLS listener.
    pub tls_listen: Option<SocketAddr>,
    /// The TLS listener's certificate chain (PEM). Read at start and again at SIGHUP.
    pub tls_certificate: Option<PathBuf>,
    /// The private key of `tls_certificate` (PEM).
    pub tls_private_key: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted, besides the system's, for the certificates of
    /// peers selfprov connects to over TLS (a phone's `;transport=tls` contact, a proxy).
    pub tls_ca_file: Option<PathBuf>,
    /// Address advertised in Via/Contact when it differs from `listen` (NAT).
    pub public_address: Option<String>,
    /// Simultaneous IVR calls; above it new calls get 486 Busy Here.
    pub max_calls: u32,
    pub user_agent: String,
    /// Ring (180 Ringing) this long before answering; 0 answers at once.
    #[serde(with = "humantime_serde")]
    pub answer_delay: Duration,
    /// `host:port` of the proxy out-of-dialog requests to phones go through (NOTIFY check-sync to
    /// a phone registered at an external registrar).
    pub outbound_proxy: Option<String>,
    /// Close a SIP/TCP connection after this long without a byte from the peer (CRLF keep-alives
    /// count).
    #[serde(with = "humantime_serde")]
    pub tcp_idle_timeout: Duration,
    /// SIP/TCP connections at once from one address (`registrar.trusted_proxies` exempt).
    pub tcp_max_connections_per_source: u32,
    /// SIP/TCP connections at once in all; 0: the process's file limit less 1,024 kept for
    /// everything else (at least 256).
    pub tcp_max_connections: u32,
    /// REGISTERs a second from one address before `503` (0: no limit; docs/security.md).
    pub rate_limit_register: u32,
    /// INVITEs (new calls) a second from one address.
    pub rate_limit_invite: u32,
    /// OPTIONS a second from one address.
    pub rate_limit_options: u32,
    /// Other requests outside a call (SUBSCRIBE, NOTIFY, MESSAGE, ...) a second from one address.
    pub rate_limit_other: u32,
    /// How long's worth of its rate a source may send at once (the bucket's depth).
    #[serde(with = "humantime_serde")]
    pub rate_limit_burst: Duration,
}
impl Default for Sip {
    fn default() -> Self {
        Sip {
            rate_limit_register: 10,
            rate_limit_invite: 10,
            rate_limit_options: 10,
            rate_limit_other: 20,
            rate_limit_burst: Duration::from_secs(10),
            tcp_idle_timeout: Duration::from_secs(300),
            tcp_max_connections_per_source: 64,
            tcp_max_connections: 0,
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            tls_listen: None,
            tls_certificate: None,
            tls_private_key: None,
            tls_ca_file: None,
            public_address: None,
            max_calls: 10_000,
            answer_delay: Duration::ZERO,
            outbound_proxy: None,
            user_agent: concat!("selfprov/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum CodecName {
    PCMU,
    PCMA,
    G722,
    G729,
    /// L16 at 16 kHz (the name predates L16_8000).
    L16,
    #[serde(rename = "L16_8000")]
    L16Narrowband,
    OPUS,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Media {
    pub bind: std::net::IpAddr,
    pub public_address: Option<String>,
    pub rtp_port_range: PortRange,
    /// Codec preference, first = most preferred.
    pub codecs: Vec<CodecName>,
    pub ptime_ms: u32,
    /// Send encoded silence while no prompt plays, so the caller gets a steady stream (NAT
    /// bindings, SBC and phone media-inactivity timers); false sends nothing between prompts.
    pub continuous_rtp: bool,
    /// Which packets are the caller's: `strict` (only the SDP address) or `nat` (see
    /// docs/security.md, "Media").
    pub latching: LatchingMode,
}

/// `media.latching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LatchingMode {
    #[default]
    Strict,
    Nat,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            continuous_rtp: true,
            latching: LatchingMode::Strict,
            bind: std::net::IpAddr::from([127, 0, 0, 1]),
            public_address: None,
            rtp_port_range: PortRange {
                start: 20000,
                end: 29999,
            },
            // Why this order: docs/configuration.md, [media].
            codecs: vec![
                CodecName::G722,
                CodecName::OPUS,
                CodecName::PCMU,
                CodecName::PCMA,
                CodecName::L16,
                CodecName::L16Narrowband,
                CodecName::G729,
            ],
            ptime_ms: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ivr {
    #[serde(with = "humantime_serde")]
    pub first_digit_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub inter_digit_timeout: Duration,
    pub max_attempts: u32,
    pub language_menu: bool,
    pub max_digits: u32,
}
impl Default for Ivr {
    fn default() -> Self {
        Ivr {
            first_digit_timeout: Duration::from_secs(10),
            inter_digit_timeout: Duration::from_secs(5),
            max_attempts: 3,
            language_menu: true,
            max_digits: 24,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prompts {
    /// Folder with one sub-folder per language (relative to the config file).
    pub dir: PathBuf,
}
impl Default for Prompts {
    fn default() -> Self {
        Prompts {
            dir: PathBuf::from("../prompts"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// HTTP listener for /health, /status, /metrics and the API (/api/v1).
    pub listen: SocketAddr,
    /// Mark the console's session cookie `Secure` (sent over HTTPS only; browsers count
    /// `http://localhost` as secure).
    pub secure_cookies: bool,
    /// A console session ends this long after the login at the latest...
    #[serde(with = "humantime_serde")]
    pub session_lifetime: Duration,
    /// ...or after this long without a request.
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    /// Wrong passwords in a row that lock an administrator account (0 = never)...
    pub login_failed_attempts: u32,
    /// ...for this long.
    #[serde(with = "humantime_serde")]
    pub login_lockout: Duration,
    /// Login attempts per source address and minute before 429 (0 = unlimited).
    pub logins_per_minute: u32,
    /// Close a connection whose request headers are not complete this long after the listener
    /// started waiting for them (slow senders, and idle keep-alive connections).
    #[serde(with = "humantime_serde")]
    pub connection_idle_timeout: Duration,
    /// Connections at once from one address.
    pub max_connections_per_source: u32,
    /// Connections at once in all.
    pub max_connections: u32,
    /// Serve the admin listener over HTTPS with this certificate chain (PEM; with
    /// `tls_private_key`). Read again at SIGHUP. Unset: plain HTTP.
    pub tls_certificate: Option<PathBuf>,
    /// The private key of `tls_certificate` (PEM).
    pub tls_private_key: Option<PathBuf>,
}
impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            secure_cookies: true,
            session_lifetime: Duration::from_secs(8 * 3600),
            session_idle_timeout: Duration::from_secs(30 * 60),
            login_failed_attempts: 5,
            login_lockout: Duration::from_secs(15 * 60),
            logins_per_minute: 10,
            connection_idle_timeout: Duration::from_secs(30),
            max_connections_per_source: 32,
            max_connections: 256,
            tls_certificate: None,
            tls_private_key: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneConfig {
    /// HTTP listener phones fetch their configuration files from; unset: no configuration server.
    pub http_listen: Option<SocketAddr>,
    /// HTTPS listener (needs `tls_certificate` and `tls_private_key`); unset: none.
    pub https_listen: Option<SocketAddr>,
    /// PEM certificate chain of the HTTPS listener, server certificate first (relative to the
    /// config file; read again at SIGHUP, so a renewed certificate needs no restart).
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub tls_private_key: Option<PathBuf>,
    /// TFTP listener for phones that fetch only over TFTP (69 is the standard port); unset: none.
    pub tftp_listen: Option<SocketAddr>,
    /// The base URL written into phones' files (default `http://<http_listen>`, else
    /// `https://<https_listen>`): what phones reach.
    pub public_url: Option<String>,
    /// The SIP registrar address written into phones' files (default `sip.public_address`, else
    /// `sip.listen`).
    pub sip_address: Option<String>,
    /// Template overrides (relative to the config file); a missing folder means the shipped ones.
    pub templates_dir: PathBuf,
    /// The key device secrets are derived from (created on first start; default
    /// `<data_dir>/device-secret.key`). Nodes sharing a database need the same file.
    pub secret_key_file: Option<PathBuf>,
    /// Digest realm of phones' credentials (configuration files and registrar).
    pub realm: String,
    /// How long after auto-registration a phone may fetch its first file without credentials.
    #[serde(with = "humantime_serde")]
    pub first_fetch_window: Duration,
    /// Requests for unknown MACs allowed per source address and minute (scanning is refused above).
    pub unknown_per_minute: u32,
    /// The on-screen claim: unclaimed phones' files carry an idle URL that opens the login screen
    /// (`/screen/…` on these listeners; docs/screen-claim.md).
    pub screen_claim: bool,
    /// Login attempts (user ID and PIN sent) per phone and minute on screen; more get a "try
    /// later" screen without a check (the claim engine's lockout applies anyway).
    pub screen_attempts_per_minute: u32,
    /// As `admin.connection_idle_timeout`, for the HTTP and HTTPS listeners (each).
    #[serde(with = "humantime_serde")]
    pub connection_idle_timeout: Duration,
    /// Connections at once from one address, per listener.
    pub max_connections_per_source: u32,
    /// Connections at once in all, per listener.
    pub max_connections: u32,
}
impl Default for PhoneConfig {
    fn default() -> Self {
        PhoneConfig {
            http_listen: None,
            https_listen: None,
            tls_certificate: None,
            tls_private_key: None,
            tftp_listen: None,
            public_url: None,
            sip_address: None,
            templates_dir: PathBuf::from("templates"),
            secret_key_file: None,
            realm: "selfprov".into(),
            first_fetch_window: Duration::from_secs(600),
            unknown_per_minute: 60,
            screen_claim: true,
            screen_attempts_per_minute: 5,
            connection_idle_timeout: Duration::from_secs(15),
            max_connections_per_source: 64,
            max_connections: 512,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter: `info`, `debug`, `selfprov=debug,info`, ...
    pub level: String,
}
impl Default for Log {
    fn default() -> Self {
        Log {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    #[serde(with = "humantime_serde")]
    pub drain_deadline: Duration,
    /// Retry-After seconds in 503 answers while draining or not ready.
    pub retry_after: u32,
}
impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            drain_deadline: Duration::from_secs(30),
            retry_after: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Demo {
    /// Load the demo data set (templates, a profile, two users) into an empty database.
    pub load_on_first_start: bool,
}
