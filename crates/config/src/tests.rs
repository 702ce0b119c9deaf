use super::*;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("/etc/selfprov/selfprov.toml"))
}

fn keys(e: &ConfigError) -> Vec<&str> {
    e.issues.iter().map(|i| i.key.as_str()).collect()
}

#[test]
fn sample_config_loads_cleanly() {
    let c = Config::from_toml(SAMPLE, Path::new("config/selfprov.toml")).unwrap();
    assert_eq!(c.self_provisioning.auth_mode, AuthMode::Users);
    assert_eq!(c.self_provisioning.route_point.dns[0].as_str(), "2000");
    assert_eq!(c.auto_registration.dn_range.to_string(), "1000..1999");
    assert_eq!(c.database_path, Path::new("config/var/selfprov.db"));
    assert_eq!(c.prompts_dir, Path::new("config/../prompts"));
    assert!(c.raw.demo.load_on_first_start);
    assert!(c.warnings.is_empty());
}

#[test]
fn the_shipped_file_on_disk_loads() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/selfprov.toml");
    Config::load(&p).unwrap();
}

#[test]
fn empty_file_uses_defaults() {
    let c = load("").unwrap();
    assert_eq!(c.raw.sip.max_calls, 10_000);
    assert_eq!(c.database_path, Path::new("/etc/selfprov/var/selfprov.db"));
}

#[test]
fn unknown_key_is_named() {
    let e = load("[sip]\nmax_call = 5\n").unwrap_err();
    assert_eq!(keys(&e), ["sip.max_call"]);
    assert!(
        e.issues[0].reason.contains("unknown field") && e.issues[0].reason.contains("max_calls"),
        "{e}"
    );
}

#[test]
fn bad_type_gives_key_path_and_line() {
    let e = load("[sip]\nlisten = \"127.0.0.1:5060\"\nmax_calls = \"many\"\n").unwrap_err();
    assert_eq!(keys(&e), ["sip.max_calls"]);
    assert!(e.issues[0].reason.contains("line 3"), "{e}");
}

#[test]
fn all_validation_errors_are_reported_together() {
    let e = load(
        r#"
[database]
backend = "postgres"
[self_provisioning]
authentication_mode = "users_and_admins"
languages = []
[route_point]
dns = ["20x0"]
[auto_registration]
dn_range = { start = "1999", end = "1000" }
[media]
codecs = []
ptime_ms = 25
[ivr]
max_attempts = 0
[log]
format = "xml"
"#,
    )
    .unwrap_err();
    let k = keys(&e);
    for want in [
        "database.url",
        "self_provisioning.authentication_code_hash",
        "self_provisioning.languages",
        "route_point.dns[0]",
        "auto_registration.dn_range",
        "media.codecs",
        "media.ptime_ms",
        "ivr.max_attempts",
        "log.format",
    ] {
        assert!(k.contains(&want), "missing {want} in {k:?}");
    }
    let text = e.to_string();
    assert!(
        text.contains("the postgresql backend needs a URL"),
        "{text}"
    );
    assert!(
        text.contains("Selected Language should contain at least one language."),
        "{text}"
    );
}

#[test]
fn dn_range_start_error_names_the_field() {
    let e =
        load("[auto_registration]\ndn_range = { start = \"10x\", end = \"1999\" }\n").unwrap_err();
    assert_eq!(keys(&e), ["auto_registration.dn_range.start"]);
    assert!(e.issues[0].reason.contains("digits only"));
}

#[test]
fn auth_code_hash_must_be_argon2() {
    let e = load("[self_provisioning]\nauthentication_mode = \"users_and_admins\"\nauthentication_code_hash = \"1234\"\n").unwrap_err();
    assert_eq!(keys(&e), ["self_provisioning.authentication_code_hash"]);
    let h = selfprov_provisioning::secret::SecretHash::hash("4321").unwrap();
    let c = load(&format!(
        "[self_provisioning]\nauthentication_mode = \"users_and_admins\"\nauthentication_code_hash = \"{}\"\n",
        h.as_phc()
    ))
    .unwrap();
    assert!(c.self_provisioning.auth_code_hash.unwrap().verify("4321"));
}

#[test]
fn mode_none_warns_loudly() {
    let c = load("[self_provisioning]\nauthentication_mode = \"none\"\n").unwrap();
    assert!(c.warnings[0].contains("Not for day-to-day use"));
}

#[test]
fn external_registrar_needs_an_address_and_trusted_proxies() {
    let e = load("[registrar]\nmode = \"external\"\n").unwrap_err();
    assert_eq!(keys(&e), ["registrar.address", "registrar.trusted_proxies"]);
    let c = load(
        "[registrar]\nmode = \"external\"\naddress = \"192.0.2.10:5060\"\ntrusted_proxies = [\"192.0.2.10\", \"2001:db8::5\"]\n",
    )
    .unwrap();
    assert_eq!(c.trusted_proxies.len(), 2);
}

#[test]
fn phone_auth_defaults_to_digest_and_trusted_proxies_are_addresses() {
    let c = load("").unwrap();
    assert_eq!(c.raw.registrar.phone_auth, PhoneAuth::Digest);
    assert!(c.trusted_proxies.is_empty());
    let c =
        load("[registrar]\nphone_auth = \"binding\"\ntrusted_proxies = [\"127.0.0.5\"]\n").unwrap();
    assert_eq!(c.raw.registrar.phone_auth, PhoneAuth::Binding);
    assert_eq!(
        c.trusted_proxies,
        ["127.0.0.5".parse::<std::net::IpAddr>().unwrap()]
    );
    let e = load("[registrar]\ntrusted_proxies = [\"proxy.example.com\"]\n").unwrap_err();
    assert_eq!(keys(&e), ["registrar.trusted_proxies[0]"]);
    let e = load("[registrar]\nphone_auth = \"none\"\n").unwrap_err();
    assert_eq!(keys(&e), ["registrar.phone_auth"]);
}

#[test]
fn password_never_in_debug() {
    let c = load(
        "[application_user]\nuser_id = \"a\"\nsip_username = \"b\"\nsip_password = \"s3cret\"\n",
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn codec_names_include_g722_and_l16_at_8000() {
    let c = load("[media]\ncodecs = [\"G722\", \"L16_8000\", \"L16\"]\n").unwrap();
    assert_eq!(
        c.raw.media.codecs,
        [CodecName::G722, CodecName::L16Narrowband, CodecName::L16]
    );
    // The shipped file and the built-in default put G.722 first (docs/configuration.md).
    let sample = Config::from_toml(SAMPLE, Path::new("config/selfprov.toml")).unwrap();
    assert_eq!(sample.raw.media.codecs, load("").unwrap().raw.media.codecs);
    assert_eq!(sample.raw.media.codecs[0], CodecName::G722);
    let e = load("[media]\ncodecs = [\"G.722\"]\n").unwrap_err();
    assert_eq!(keys(&e), ["media.codecs[0]"]);
    assert!(
        e.issues[0].reason.contains("G722") && e.issues[0].reason.contains("L16_8000"),
        "{e}"
    );
}

#[test]
fn outbound_proxy_is_host_port_or_a_named_error() {
    assert_eq!(load("").unwrap().outbound_proxy, None);
    let c = load("[sip]\noutbound_proxy = \"kamailio.example.com:5060\"\n").unwrap();
    let p = c.outbound_proxy.unwrap();
    assert_eq!((p.host.as_str(), p.port), ("kamailio.example.com", 5060));
    let e = load("[sip]\noutbound_proxy = \"sip:kamailio\"\n").unwrap_err();
    assert_eq!(keys(&e), ["sip.outbound_proxy"]);
    assert!(e.issues[0].reason.contains("not a port"), "{e}");
    let e = load("[sip]\noutbound_proxy = \"192.0.2.10\"\n").unwrap_err();
    assert!(e.issues[0].reason.contains("is not host:port"), "{e}");
}

#[test]
fn https_needs_a_certificate_and_a_key_and_they_need_https() {
    let c = load(
        "[phone_config]\nhttps_listen = \"0.0.0.0:6971\"\ntls_certificate = \"tls/cert.pem\"\ntls_private_key = \"/srv/key.pem\"\n",
    )
    .unwrap();
    assert!(c.serves_phone_files());
    assert_eq!(
        c.tls,
        Some(TlsFiles {
            certificate: PathBuf::from("/etc/selfprov/tls/cert.pem"),
            private_key: PathBuf::from("/srv/key.pem"),
        })
    );
    let e = load("[phone_config]\nhttps_listen = \"0.0.0.0:6971\"\ntls_certificate = \"c.pem\"\n")
        .unwrap_err();
    assert_eq!(keys(&e), ["phone_config.https_listen"]);
    assert!(e.to_string().contains("tls_private_key"), "{e}");
    let e = load("[phone_config]\ntls_certificate = \"c.pem\"\n").unwrap_err();
    assert_eq!(keys(&e), ["phone_config.https_listen"]);
    assert!(!load("").unwrap().serves_phone_files());
}

#[test]
fn sip_over_tls_needs_a_certificate_and_a_key_and_they_need_tls_listen() {
    let c = load(
        "[sip]\ntls_listen = \"0.0.0.0:5061\"\ntls_certificate = \"tls/sip.pem\"\ntls_private_key = \"/srv/sip.key\"\ntls_ca_file = \"ca.pem\"\n",
    )
    .unwrap();
    assert_eq!(
        c.sip_tls,
        Some(TlsFiles {
            certificate: PathBuf::from("/etc/selfprov/tls/sip.pem"),
            private_key: PathBuf::from("/srv/sip.key"),
        })
    );
    assert_eq!(
        c.sip_tls_ca_file,
        Some(PathBuf::from("/etc/selfprov/ca.pem"))
    );
    assert_eq!(load("").unwrap().sip_tls, None, "off by default");
    let e =
        load("[sip]\ntls_listen = \"0.0.0.0:5061\"\ntls_certificate = \"c.pem\"\n").unwrap_err();
    assert_eq!(keys(&e), ["sip.tls_listen"]);
    assert!(e.to_string().contains("sip.tls_private_key"), "{e}");
    let e = load("[sip]\ntls_private_key = \"k.pem\"\n").unwrap_err();
    assert_eq!(keys(&e), ["sip.tls_listen"]);
    let e = load(
        "[sip]\nlisten = \"0.0.0.0:5061\"\ntls_listen = \"0.0.0.0:5061\"\ntls_certificate = \"c.pem\"\ntls_private_key = \"k.pem\"\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("must differ from sip.listen"), "{e}");
}

#[test]
fn postgresql_backend_is_configured_with_a_url() {
    let c = load(
        "[database]\nbackend = \"postgresql\"\nurl = \"postgresql://selfprov:s3cret@db.example.net:5433/prov\"\npool_size = 4\n",
    )
    .unwrap();
    match &c.database {
        DatabaseTarget::Postgresql(o) => {
            assert_eq!(
                o.url,
                "postgresql://selfprov:s3cret@db.example.net:5433/prov"
            );
            assert_eq!((o.pool_size, o.tls), (4, false));
        }
        other => panic!("{other:?}"),
    }
    // Messages never show the password.
    assert_eq!(
        c.database.describe(),
        "postgresql://selfprov:***@db.example.net:5433/prov"
    );
    assert_eq!(
        without_password("host=db user=s password=x dbname=p"),
        "host=db user=s password=*** dbname=p"
    );
    // TLS without the authority to check the server against is refused, and so is a URL on
    // the SQLite backend (it would be silently ignored).
    let e =
        load("[database]\nbackend = \"postgresql\"\nurl = \"postgresql://db/prov\"\ntls = true\n")
            .unwrap_err();
    assert!(keys(&e).contains(&"database.ca_file"), "{e}");
    let e = load("[database]\nurl = \"postgresql://db/prov\"\n").unwrap_err();
    assert!(keys(&e).contains(&"database.url"), "{e}");
}

#[test]
fn unclaimed_devices_expire_after_a_duration_or_never() {
    let c = load("").unwrap();
    let a = &c.raw.auto_registration;
    assert_eq!(
        a.expire_unclaimed,
        Some(std::time::Duration::from_secs(7 * 86_400))
    );
    assert_eq!((a.new_devices_per_second, a.new_devices_burst), (10, 100));
    for off in ["\"off\"", "\"0\"", "0"] {
        let c = load(&format!("[auto_registration]\nexpire_unclaimed = {off}\n")).unwrap();
        assert_eq!(c.raw.auto_registration.expire_unclaimed, None, "{off}");
    }
    let c = load("[auto_registration]\nexpire_unclaimed = \"36h\"\n").unwrap();
    assert_eq!(
        c.raw.auto_registration.expire_unclaimed,
        Some(std::time::Duration::from_secs(36 * 3600))
    );
    for bad in ["\"soon\"", "\"2h\""] {
        let e = load(&format!("[auto_registration]\nexpire_unclaimed = {bad}\n")).unwrap_err();
        assert_eq!(keys(&e), ["auto_registration.expire_unclaimed"], "{bad}");
    }
}

#[test]
fn activation_dn_and_code_lifetime() {
    let c = load("[route_point]\ndns = [\"2000\"]\nactivation_dn = \"2001\"\n").unwrap();
    let rp = &c.self_provisioning.route_point;
    assert_eq!(rp.dn_strings(), ["2000", "2001"]);
    assert!(rp.is_activation("2001") && !rp.is_activation("2000"));
    assert_eq!(
        c.raw.self_provisioning.activation_code_lifetime,
        std::time::Duration::from_secs(7 * 86_400)
    );
    for bad in ["\"2000\"", "\"20x1\""] {
        let e = load(&format!(
            "[route_point]\ndns = [\"2000\"]\nactivation_dn = {bad}\n"
        ))
        .unwrap_err();
        assert_eq!(keys(&e), ["route_point.activation_dn"], "{bad}");
    }
    let e = load("[self_provisioning]\nactivation_code_lifetime = \"0s\"\n").unwrap_err();
    assert_eq!(keys(&e), ["self_provisioning.activation_code_lifetime"]);
    let c = load("[self_provisioning]\nactivation_code_lifetime = \"2d\"\n").unwrap();
    assert_eq!(
        c.raw.self_provisioning.activation_code_lifetime,
        std::time::Duration::from_secs(2 * 86_400)
    );
}
