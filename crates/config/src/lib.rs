//! selfprov configuration: one TOML file (`config/selfprov.toml`), deserialised into typed
//! sections with serde and validated on load. Every error names the key path and the rule, and
//! all errors of a file are reported at once. Every key has a default, so a nearly empty file works;
//! `docs/configuration.md` documents each key.

mod host_port;
mod raw;

pub use host_port::HostPort;
pub use raw::*;

use selfprov_provisioning::model::{Dn, DnRange, FieldError, ObjectName};
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::settings::{
    ApplicationUser, AutoRegistrationSettings, CredentialPolicy, LanguagePreference,
    RegistrarMode as CoreRegistrarMode, RoutePoint, SelfProvisioningSettings,
};
use selfprov_provisioning::AuthMode;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path, e.g. `auto_registration.dn_range.start`.
    pub key: String,
    pub reason: String,
}

/// Everything wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} configuration error(s)",
            self.file.display(),
            self.issues.len()
        )?;
        for i in &self.issues {
            write!(f, "\n  config error at {}: {}", i.key, i.reason)?;
        }
        Ok(())
    }
}

/// A loaded, validated configuration, with the typed settings the provisioning core uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from (relative paths resolve against its directory).
    pub file: PathBuf,
    pub raw: RawConfig,
    pub self_provisioning: SelfProvisioningSettings,
    pub auto_registration: AutoRegistrationSettings,
    pub credential_policy: CredentialPolicy,
    /// Where the provisioning data lives.
    pub database: DatabaseTarget,
    /// Absolute path of the SQLite database (`<data_dir>/selfprov.db` by default; its directory
    /// also keeps the prompt cache, whichever backend is in use).
    pub database_path: PathBuf,
    /// Absolute path of the prompts directory.
    pub prompts_dir: PathBuf,
    /// Absolute path of the phone-configuration template overrides.
    pub templates_dir: PathBuf,
    /// Absolute path of the device-secret key file.
    pub secret_key_file: PathBuf,
    /// Where the first start writes the first administrator's password
    /// (`<data_dir>/initial-admin-password`).
    pub initial_admin_password_file: PathBuf,
    /// The HTTPS listener's certificate and key files, when `phone_config.https_listen` is set.
    pub tls: Option<TlsFiles>,
    /// The admin listener's certificate and key, when it serves HTTPS (`admin.tls_certificate`).
    pub admin_tls: Option<TlsFiles>,
    /// The SIP-over-TLS listener's certificate and key, when `sip.tls_listen` is set.
    pub sip_tls: Option<TlsFiles>,
    /// `sip.tls_ca_file`, as an absolute path.
    pub sip_tls_ca_file: Option<PathBuf>,
    /// Where out-of-dialog requests to phones go (`sip.outbound_proxy`), if anywhere.
    pub outbound_proxy: Option<HostPort>,
    /// `registrar.trusted_proxies`: the sources whose `P-Asserted-Identity` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Warnings to log at start (e.g. authentication mode `none`).
    pub warnings: Vec<String>,
}

/// A TLS listener's certificate chain and private key (PEM files, absolute paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

impl Config {
    /// The admin listener's base URL (`http://` or `https://`, and its address).
    pub fn admin_url(&self) -> String {
        let scheme = if self.admin_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.raw.admin.listen)
    }

    /// Whether the configuration server runs (over HTTP, HTTPS or both).
    pub fn serves_phone_files(&self) -> bool {
        self.raw.phone_config.http_listen.is_some() || self.raw.phone_config.https_listen.is_some()
    }

    /// Read, parse and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            issues: vec![ConfigIssue {
                key: "(file)".into(),
                reason: format!("cannot read: {e}"),
            }],
        })?;
        Self::from_toml(&text, path)
    }

    /// Parse and validate configuration text; `path` is used for messages and relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let err = |issues| ConfigError {
            file: path.to_owned(),
            issues,
        };
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let mut reason = inner.message().to_owned();
            if let Some(span) = inner.span() {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                reason = format!("{reason} (line {line})");
            }
            err(vec![ConfigIssue {
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                reason,
            }])
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        raw.validate(&base, path).map_err(err)
    }
}

/// A TLS listener's keys: the certificate and key are needed when it listens, and mean nothing
/// when it does not.
struct TlsListener<'a> {
    section: &'a str,
    listen_key: &'a str,
    /// What setting the listen key does (in the message when it is missing).
    purpose: &'a str,
    listening: bool,
    certificate: Option<&'a Path>,
    private_key: Option<&'a Path>,
}

impl TlsListener<'_> {
    /// The files (absolute paths), or the issue with them.
    fn files(&self, base: &Path, issues: &mut Vec<ConfigIssue>) -> Option<TlsFiles> {
        let (section, listen) = (self.section, self.listen_key);
        let key = format!("{section}.{listen}");
        match (self.listening, self.certificate, self.private_key) {
            (true, Some(c), Some(k)) => Some(TlsFiles {
                certificate: resolve(base, c),
                private_key: resolve(base, k),
            }),
            (true, c, _) => {
                let missing = if c.is_none() {
                    "tls_certificate"
                } else {
                    "tls_private_key"
                };
                issues.push(issue(
                    &key,
                    format!("needs {section}.{missing} (a PEM file)"),
                ));
                None
            }
            (false, None, None) => None,
            (false, _, _) => {
                issues.push(issue(
                    &key,
                    format!(
                        "is not set: set it {}, or remove tls_certificate and tls_private_key",
                        self.purpose
                    ),
                ));
                None
            }
        }
    }
}

fn issue(key: &str, reason: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        key: key.into(),
        reason: reason.into(),
    }
}

fn field_issue(prefix: &str, e: FieldError) -> ConfigIssue {
    ConfigIssue {
        key: format!("{prefix}.{}", e.field),
        reason: e.rule,
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

/// The configured backend of the store.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    Postgresql(selfprov_provisioning::store::PgOptions),
}

impl DatabaseTarget {
    /// For messages: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(p) => p.display().to_string(),
            DatabaseTarget::Postgresql(o) => without_password(&o.url),
        }
    }
}

/// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

impl RawConfig {
    fn database_target(
        &self,
        base: &Path,
        sqlite_path: &Path,
        issues: &mut Vec<ConfigIssue>,
    ) -> DatabaseTarget {
        let d = &self.database;
        match d.backend.as_str() {
            "sqlite" => {}
            "postgresql" | "postgres" => {
                let url = d.url.clone().unwrap_or_default();
                if url.trim().is_empty() {
                    issues.push(issue(
                        "database.url",
                        "the postgresql backend needs a URL, e.g. postgresql://selfprov@db.example.net:5432/selfprov",
                    ));
                }
                if !(1..=1000).contains(&d.pool_size) {
                    issues.push(issue("database.pool_size", "must be between 1 and 1000"));
                }
                let ca_file = d.ca_file.as_ref().map(|p| resolve(base, p));
                if d.tls && ca_file.is_none() {
                    issues.push(issue(
                        "database.ca_file",
                        "database.tls needs the PEM file of the authority that signed the server's certificate",
                    ));
                }
                return DatabaseTarget::Postgresql(selfprov_provisioning::store::PgOptions {
                    url,
                    pool_size: d.pool_size,
                    tls: d.tls,
                    ca_file,
                    // Needs the device-secret key: filled in when the store is opened.
                    subscriber: None,
                });
            }
            other => issues.push(issue(
                "database.backend",
                format!("`{other}` is not a backend; use `sqlite` or `postgresql`"),
            )),
        }
        if self.registrar.subscriber_realm.is_some() {
            issues.push(issue(
                "registrar.subscriber_realm",
                "Kamailio's subscriber table lives in PostgreSQL: set database.backend = \"postgresql\"",
            ));
        }
        if d.url.is_some() {
            issues.push(issue(
                "database.url",
                "is for the postgresql backend; set database.backend = \"postgresql\" or remove it",
            ));
        }
        DatabaseTarget::Sqlite(sqlite_path.to_owned())
    }

    fn validate(self, base: &Path, file: &Path) -> Result<Config, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut warnings = Vec::new();

        // [database]
        let data_dir = resolve(base, &self.service.data_dir);
        let database_path = self
            .database
            .path
            .as_ref()
            .map(|p| resolve(base, p))
            .unwrap_or_else(|| data_dir.join("selfprov.db"));
        let database = self.database_target(base, &database_path, &mut issues);

        // [self_provisioning]
        let sp = &self.self_provisioning;
        let auth_code_hash = match sp.authentication_code_hash.as_deref() {
            None | Some("") => None,
            Some(h) => match h.parse::<SecretHash>() {
                Ok(h) => Some(h),
                Err(e) => {
                    issues.push(issue(
                        "self_provisioning.authentication_code_hash",
                        format!("{e} (make one with `selfprov hash-secret`)"),
                    ));
                    None
                }
            },
        };
        if sp.authentication_mode == AuthMode::UsersAndAdmins
            && auth_code_hash.is_none()
            && sp.authentication_code_hash.is_none()
        {
            issues.push(issue(
                "self_provisioning.authentication_code_hash",
                "required when authentication_mode is \"users_and_admins\": the code must be 1 to 20 digits, never empty (make the hash with `selfprov hash-secret`)",
            ));
        }
        if sp.authentication_mode == AuthMode::None {
            warnings.push(
                "self_provisioning.authentication_mode is \"none\": anyone who knows a self-service ID can take a phone. Not for day-to-day use.".into(),
            );
        }
        let languages = match sp
            .languages
            .iter()
            .map(|l| l.parse())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) => match LanguagePreference::new(v) {
                Ok(p) => p,
                Err(e) => {
                    issues.push(issue("self_provisioning.languages", e.rule));
                    LanguagePreference::default()
                }
            },
            Err(e) => {
                issues.push(issue("self_provisioning.languages", e));
                LanguagePreference::default()
            }
        };

        // [route_point]
        let mut dns = Vec::new();
        for (i, d) in self.route_point.dns.iter().enumerate() {
            match d.parse() {
                Ok(d) => dns.push(d),
                Err(e) => issues.push(issue(
                    &format!("route_point.dns[{i}]"),
                    FieldError::rule_of(e),
                )),
            }
        }
        let activation_dn = match self
            .route_point
            .activation_dn
            .as_deref()
            .map(str::parse::<Dn>)
        {
            None => None,
            Some(Ok(d)) if dns.contains(&d) => {
                issues.push(issue(
                    "route_point.activation_dn",
                    format!("`{d}` is also in route_point.dns"),
                ));
                None
            }
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                issues.push(issue("route_point.activation_dn", FieldError::rule_of(e)));
                None
            }
        };
        if sp.activation_code_lifetime.is_zero() {
            issues.push(issue(
                "self_provisioning.activation_code_lifetime",
                "must be more than zero",
            ));
        }

        // [registrar] and [application_user]
        let registrar_mode = match self.registrar.mode {
            RegistrarMode::Builtin => CoreRegistrarMode::Builtin,
            RegistrarMode::External => CoreRegistrarMode::External,
        };
        if registrar_mode == CoreRegistrarMode::External && self.registrar.address.is_none() {
            issues.push(issue(
                "registrar.address",
                "required when registrar.mode is \"external\" (host:port of the registrar)",
            ));
        }
        let mut trusted_proxies = Vec::new();
        for (i, p) in self.registrar.trusted_proxies.iter().enumerate() {
            match p.trim().parse::<std::net::IpAddr>() {
                Ok(ip) => trusted_proxies.push(ip),
                Err(_) => issues.push(issue(
                    &format!("registrar.trusted_proxies[{i}]"),
                    format!("`{p}` is not an IP address (e.g. \"192.0.2.5\" or \"2001:db8::5\")"),
                )),
            }
        }
        if registrar_mode == CoreRegistrarMode::External
            && self.registrar.trusted_proxies.is_empty()
        {
            issues.push(issue(
                "registrar.trusted_proxies",
                "required when registrar.mode is \"external\": the addresses of the proxies whose P-Asserted-Identity names the calling phone (a From header never does)",
            ));
        }
        let app = &self.application_user;
        let application_user =
            (!app.user_id.is_empty() || !app.sip_username.is_empty()).then(|| ApplicationUser {
                user_id: app.user_id.clone(),
                sip_username: app.sip_username.clone(),
                sip_password: app.sip_password.clone(),
            });

        // [auto_registration]
        let ar = &self.auto_registration;
        let start = ar.dn_range.start.parse().map_err(|e| {
            field_issue(
                "auto_registration.dn_range",
                FieldError::renamed(e, "start"),
            )
        });
        let end =
            ar.dn_range.end.parse().map_err(|e| {
                field_issue("auto_registration.dn_range", FieldError::renamed(e, "end"))
            });
        let dn_range = match (start, end) {
            (Ok(s), Ok(e)) => match DnRange::new(s, e) {
                Ok(r) => Some(r),
                Err(e) => {
                    issues.push(issue("auto_registration.dn_range", e.rule));
                    None
                }
            },
            (s, e) => {
                issues.extend(s.err());
                issues.extend(e.err());
                None
            }
        };
        let template =
            |key: &str, v: &Option<String>, issues: &mut Vec<ConfigIssue>| -> Option<ObjectName> {
                v.as_deref()
                    .filter(|s| !s.is_empty())
                    .and_then(|s| match s.parse() {
                        Ok(n) => Some(n),
                        Err(e) => {
                            issues.push(issue(key, FieldError::rule_of(e)));
                            None
                        }
                    })
            };
        let udt = template(
            "auto_registration.universal_device_template",
            &ar.universal_device_template,
            &mut issues,
        );
        let ult = template(
            "auto_registration.universal_line_template",
            &ar.universal_line_template,
            &mut issues,
        );

        if ar
            .expire_unclaimed
            .is_some_and(|d| d < std::time::Duration::from_secs(86_400))
        {
            issues.push(issue(
                "auto_registration.expire_unclaimed",
                "must be at least 1d, or \"off\" (a phone is recorded as seen at most once an hour, and may be switched off for a night)",
            ));
        }

        // [credential_policy]
        let cp = &self.credential_policy;
        let credential_policy = CredentialPolicy {
            failed_attempts_threshold: cp.failed_attempts_threshold,
            lockout_duration: cp.lockout_duration,
            reset_on_success: cp.reset_on_success,
        };

        // [sip], [media], [ivr], [shutdown]
        if self.sip.answer_delay > std::time::Duration::from_secs(30) {
            issues.push(issue(
                "sip.answer_delay",
                "must be at most 30s (phones give up ringing calls)",
            ));
        }
        if self.sip.tcp_max_connections_per_source == 0 {
            issues.push(issue(
                "sip.tcp_max_connections_per_source",
                "must be at least 1 (a phone needs a connection)",
            ));
        }
        if self.sip.tcp_idle_timeout < std::time::Duration::from_secs(1) {
            issues.push(issue("sip.tcp_idle_timeout", "must be at least 1s"));
        }
        if self.sip.rate_limit_burst < std::time::Duration::from_secs(1) {
            issues.push(issue(
                "sip.rate_limit_burst",
                "must be at least 1s (a phone's REGISTER, its digest answer and its SUBSCRIBEs come at once)",
            ));
        }
        for (section, idle, per_source, total) in [
            (
                "admin",
                self.admin.connection_idle_timeout,
                self.admin.max_connections_per_source,
                self.admin.max_connections,
            ),
            (
                "phone_config",
                self.phone_config.connection_idle_timeout,
                self.phone_config.max_connections_per_source,
                self.phone_config.max_connections,
            ),
        ] {
            if idle < std::time::Duration::from_secs(1) {
                issues.push(issue(
                    &format!("{section}.connection_idle_timeout"),
                    "must be at least 1s",
                ));
            }
            if per_source == 0 || per_source > total {
                issues.push(issue(
                    &format!("{section}.max_connections_per_source"),
                    format!("must be 1 to {section}.max_connections ({total})"),
                ));
            }
        }
        if self.sip.max_calls == 0 {
            issues.push(issue("sip.max_calls", "must be at least 1"));
        }
        let outbound_proxy = match self.sip.outbound_proxy.as_deref() {
            None => None,
            Some(v) => match v.parse::<HostPort>() {
                Ok(hp) => Some(hp),
                Err(why) => {
                    issues.push(issue("sip.outbound_proxy", why));
                    None
                }
            },
        };
        if self.media.codecs.is_empty() {
            issues.push(issue("media.codecs", "list at least one codec"));
        }
        for (i, c) in self.media.codecs.iter().enumerate() {
            if self.media.codecs[..i].contains(c) {
                issues.push(issue(
                    &format!("media.codecs[{i}]"),
                    format!("{c:?} is listed twice"),
                ));
            }
        }
        if !(10..=60).contains(&self.media.ptime_ms) || !self.media.ptime_ms.is_multiple_of(10) {
            issues.push(issue(
                "media.ptime_ms",
                format!(
                    "{} is not one of 10, 20, 30, 40, 50, 60",
                    self.media.ptime_ms
                ),
            ));
        }
        let pr = &self.media.rtp_port_range;
        if pr.start == 0 || pr.start > pr.end || !pr.start.is_multiple_of(2) {
            issues.push(issue(
                "media.rtp_port_range",
                format!(
                    "{}..{} must be a non-empty range starting at an even port > 0",
                    pr.start, pr.end
                ),
            ));
        }
        if self.ivr.max_attempts == 0 {
            issues.push(issue("ivr.max_attempts", "must be at least 1"));
        }
        if self.ivr.max_digits == 0 || self.ivr.max_digits > 24 {
            issues.push(issue("ivr.max_digits", "must be 1 to 24"));
        }
        if self.ivr.first_digit_timeout.is_zero() {
            issues.push(issue("ivr.first_digit_timeout", "must be longer than 0s"));
        }
        if self.ivr.inter_digit_timeout.is_zero() {
            issues.push(issue("ivr.inter_digit_timeout", "must be longer than 0s"));
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            issues.push(issue(
                "log.format",
                format!("`{}` is not `text` or `json`", self.log.format),
            ));
        }

        let prompts_dir = resolve(base, &self.prompts.dir);
        let templates_dir = resolve(base, &self.phone_config.templates_dir);
        let secret_key_file = self
            .phone_config
            .secret_key_file
            .as_ref()
            .map(|p| resolve(base, p))
            .unwrap_or_else(|| data_dir.join("device-secret.key"));
        let pc = &self.phone_config;
        if pc.realm.is_empty()
            || pc.realm.contains(['"', '\\'])
            || pc.realm.chars().any(char::is_control)
        {
            issues.push(issue(
                "phone_config.realm",
                "must be non-empty, without quotes, backslashes or control characters",
            ));
        }
        if let Some(u) = &pc.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.ends_with('/') {
                issues.push(issue(
                    "phone_config.public_url",
                    format!("`{u}` must start with http:// or https:// and not end with /"),
                ));
            }
        }
        for (key, d) in [
            ("admin.session_lifetime", self.admin.session_lifetime),
            (
                "admin.session_idle_timeout",
                self.admin.session_idle_timeout,
            ),
        ] {
            if d < std::time::Duration::from_secs(60) {
                issues.push(issue(key, "must be at least 1m"));
            }
        }
        let tls = TlsListener {
            section: "phone_config",
            listen_key: "https_listen",
            purpose: "to serve HTTPS with the certificate",
            listening: pc.https_listen.is_some(),
            certificate: pc.tls_certificate.as_deref(),
            private_key: pc.tls_private_key.as_deref(),
        }
        .files(base, &mut issues);
        let sip = &self.sip;
        let sip_tls = TlsListener {
            section: "sip",
            listen_key: "tls_listen",
            purpose: "(usually to port 5061) to take SIP over TLS",
            listening: sip.tls_listen.is_some(),
            certificate: sip.tls_certificate.as_deref(),
            private_key: sip.tls_private_key.as_deref(),
        }
        .files(base, &mut issues);
        if sip.tls_listen.is_some() && sip.tls_listen == Some(sip.listen) {
            issues.push(issue(
                "sip.tls_listen",
                "must differ from sip.listen (TCP listens there)",
            ));
        }
        let sip_tls_ca_file = sip.tls_ca_file.as_ref().map(|f| resolve(base, f));
        let admin_tls = match (&self.admin.tls_certificate, &self.admin.tls_private_key) {
            (Some(c), Some(k)) => Some(TlsFiles {
                certificate: resolve(base, c),
                private_key: resolve(base, k),
            }),
            (Some(_), None) => {
                issues.push(issue(
                    "admin.tls_certificate",
                    "needs admin.tls_private_key (a PEM file)",
                ));
                None
            }
            (None, Some(_)) => {
                issues.push(issue(
                    "admin.tls_private_key",
                    "needs admin.tls_certificate (a PEM file)",
                ));
                None
            }
            (None, None) => None,
        };
        if pc.first_fetch_window.is_zero() {
            issues.push(issue(
                "phone_config.first_fetch_window",
                "must be longer than 0s",
            ));
        }
        let self_provisioning = SelfProvisioningSettings {
            ivr_enabled: sp.ivr_enabled,
            auth_mode: sp.authentication_mode,
            auth_code_hash,
            languages,
            route_point: RoutePoint {
                name: self.route_point.name.clone(),
                dns,
                activation_dn,
            },
            application_user,
            registrar_mode,
        };
        match (issues.is_empty(), dn_range) {
            (true, Some(dn_range)) => Ok(Config {
                file: file.to_owned(),
                auto_registration: AutoRegistrationSettings {
                    enabled: ar.enabled,
                    udt,
                    ult,
                    dn_range,
                },
                self_provisioning,
                credential_policy,
                database,
                database_path,
                prompts_dir,
                templates_dir,
                secret_key_file,
                initial_admin_password_file: data_dir.join("initial-admin-password"),
                tls,
                admin_tls,
                sip_tls,
                sip_tls_ca_file,
                outbound_proxy,
                trusted_proxies,
                warnings,
                raw: self,
            }),
            _ => Err(issues),
        }
    }
}

trait RuleOf {
    fn rule_of(e: FieldError) -> String;
    fn renamed(e: FieldError, field: &str) -> FieldError;
}

impl RuleOf for FieldError {
    fn rule_of(e: FieldError) -> String {
        e.rule
    }
    fn renamed(e: FieldError, field: &str) -> FieldError {
        FieldError::new(field, e.rule)
    }
}

/// The shipped sample configuration (for tests and `selfprov` defaults).
pub const SAMPLE: &str = include_str!("../../../config/selfprov.toml");

#[cfg(test)]
mod tests;
