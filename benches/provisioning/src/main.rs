//! Benchmark: assignments per second and authentications per second on the embedded SQLite
//! database (file-backed, WAL) or on PostgreSQL (`--postgresql URL`, an empty database), from
//! several threads.
//!
//! `cargo run --release -p selfprov-bench-provisioning -- [--assignments N] [--auths N] [--threads T] [--durability normal|full] [--postgresql URL]`
//!
//! Prints one Markdown table row per measurement (see docs/benchmarks.md).

use selfprov_operations::{Actor, ClaimContext, Operations};
use selfprov_provisioning::model::*;
use selfprov_provisioning::settings::*;
use selfprov_provisioning::store::sqlite_durability::Durability;
use selfprov_provisioning::store::{PgOptions, PgStore, SqliteStore, Store, StoreExt, UnixMillis};
use selfprov_provisioning::AuthMode;
use std::sync::Arc;
use std::time::Instant;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].clone())
        .unwrap_or_else(|| default.to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let assignments: usize = arg(&args, "--assignments", "20000")
        .parse()
        .expect("--assignments N");
    let auths: usize = arg(&args, "--auths", "400").parse().expect("--auths N");
    let threads: usize = arg(&args, "--threads", "2").parse().expect("--threads T");
    let durability = match arg(&args, "--durability", "normal").as_str() {
        "full" => Durability::Full,
        _ => Durability::Normal,
    };
    let dir = std::env::temp_dir().join(format!("selfprov-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let postgresql = arg(&args, "--postgresql", "");
    let store: Arc<dyn Store> = if postgresql.is_empty() {
        Arc::new(SqliteStore::open_with(&dir.join("bench.db"), durability).expect("open db"))
    } else {
        Arc::new(
            PgStore::open(&PgOptions {
                url: postgresql.clone(),
                pool_size: threads.max(2),
                tls: false,
                ca_file: None,
                subscriber: None,
            })
            .expect("open the PostgreSQL database"),
        )
    };
    let ops = Operations::new(store.clone());
    let claims = ops.claims().clone();

    // Set-up: one profile (limit 20), a user per 20 devices, devices auto-registered.
    store
        .writing(|tx| {
            tx.insert_udt(&UniversalDeviceTemplate {
                name: "Desk".parse().unwrap(),
                description: String::new(),
                device_pool: "Default".into(),
                device_security_profile: String::new(),
                secure: false,
                sip_profile: String::new(),
                phone_button_template: String::new(),
                description_pattern: "#FirstName# #LastName# (#Product#)".into(),
            })
        })
        .unwrap();
    store
        .writing(|tx| {
            tx.insert_profile(&UserProfile {
                name: "P".parse().unwrap(),
                description: String::new(),
                system_default: true,
                udt_desk_phone: Some("Desk".parse().unwrap()),
                udt_mobile_desktop: None,
                udt_profile: None,
                ult: None,
                allow_self_provisioning: true,
                device_limit: 20,
                allow_self_care: true,
            })
        })
        .unwrap();
    let n_users = assignments.div_ceil(20).max(threads);
    let t0 = Instant::now();
    let users: Vec<_> = (0..n_users)
        .map(|i| selfprov_provisioning::store::PreparedUser {
            user: NewUser {
                user_id: format!("u{i}").parse().unwrap(),
                first_name: "F".into(),
                last_name: format!("L{i}"),
                self_service_id: None,
                primary_extension: Some(format!("{}", 10_000_000 + i).parse().unwrap()),
                user_profile: None,
                enabled: true,
                pin: None,
                password: None,
            },
            pin_hash: Some(
                selfprov_provisioning::secret::SecretHash::hash("12345")
                    .unwrap()
                    .as_phc()
                    .to_owned(),
            ),
            password_hash: None,
        })
        .collect();
    ops.import_users(
        &Actor::system(),
        &users,
        selfprov_provisioning::import::Existing::Refuse,
        "bench",
    )
    .unwrap();
    let ar = AutoRegistrationSettings {
        enabled: true,
        udt: None,
        ult: None,
        dn_range: DnRange::new("20000000".parse().unwrap(), "29999999".parse().unwrap()).unwrap(),
    };
    let now = UnixMillis::now();
    for i in 0..assignments {
        let d = Device {
            name: format!("SEP{i:012X}").parse().unwrap(),
            model: "Cisco 8845".into(),
            protocol: "SIP".into(),
            class: DeviceClass::DeskPhone,
            secure: false,
            dn: Some(format!("{}", 20_000_000 + i).parse().unwrap()),
            owner: None,
            auto_registered: true,
            udt: None,
            ult: None,
            description: String::new(),
            created_at: 0,
            updated_at: 0,
        };
        store.writing(|tx| tx.insert_device(&d)).unwrap();
    }
    let _ = ar;
    eprintln!(
        "set-up: {n_users} users, {assignments} devices in {:.1?}",
        t0.elapsed()
    );

    // Assignments: thread t takes devices t, t+T, ...; device i goes to user i/20.
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let claims = claims.clone();
            s.spawn(move || {
                let how = ClaimContext::ivr("bench");
                for i in (t..assignments).step_by(threads) {
                    let user: UserId = format!("u{}", i / 20).parse().unwrap();
                    claims
                        .claim(&format!("SEP{i:012X}"), &user, &how, now)
                        .expect("assign");
                }
            });
        }
    });
    let el = t0.elapsed();
    let sync = match (postgresql.is_empty(), durability) {
        (false, _) => "PostgreSQL (server's fsync/synchronous_commit)",
        (true, Durability::Normal) => "synchronous=NORMAL",
        (true, Durability::Full) => "synchronous=FULL",
    };
    println!(
        "| assignments | {assignments} | {threads} | {sync} | {:.0}/s | {:.3} ms |",
        assignments as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1000.0 / assignments as f64
    );

    // Authentications (argon2 PIN check + counters).
    let settings = SelfProvisioningSettings {
        ivr_enabled: true,
        auth_mode: AuthMode::Users,
        auth_code_hash: None,
        languages: LanguagePreference::default(),
        route_point: RoutePoint {
            name: "RP".into(),
            dns: vec![],
            activation_dn: None,
        },
        application_user: None,
        registrar_mode: RegistrarMode::Builtin,
    };
    let policy = CredentialPolicy::default();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let claims = claims.clone();
            let settings = settings.clone();
            s.spawn(move || {
                for i in (t..auths).step_by(threads) {
                    let ssid = format!("{}", 10_000_000 + (i % n_users));
                    claims
                        .authenticate(&ssid, Some("12345"), None, &settings, &policy, now)
                        .expect("auth");
                }
            });
        }
    });
    let el = t0.elapsed();
    println!(
        "| authentications | {auths} | {threads} | {sync} | {:.0}/s | {:.3} ms |",
        auths as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1000.0 / auths as f64
    );

    // One PIN check alone (argon2 cost), single thread.
    let h = selfprov_provisioning::secret::SecretHash::hash("12345").unwrap();
    let n = 50;
    let t0 = Instant::now();
    for _ in 0..n {
        assert!(h.verify("12345"));
    }
    println!(
        "| one PIN check (argon2id m=4096 KiB, t=2, p=1) | {n} | 1 | - | {:.0}/s | {:.3} ms |",
        n as f64 / t0.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
    if !postgresql.is_empty() {
        compare_drivers(&store_pg(&postgresql), &postgresql);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn store_pg(url: &str) -> PgStore {
    PgStore::open(&PgOptions {
        url: url.to_owned(),
        pool_size: 1,
        tls: false,
        ca_file: None,
        subscriber: None,
    })
    .expect("open the PostgreSQL database")
}

/// The cost of one round trip (a prepared single-row query) through the store's driver
/// (tokio-postgres driven by its own small runtime, callable from any thread) and through the
/// `postgres` crate's blocking client (a runtime per client; it panics when called from a tokio
/// worker thread, which is why the store does not use it).
fn compare_drivers(store: &PgStore, url: &str) {
    let n = 20_000;
    let ours = store.time_round_trips(n).expect("round trips");
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let st = c
        .prepare("SELECT generation FROM device_credential WHERE device = $1")
        .expect("prepare");
    let t0 = Instant::now();
    for i in 0..n {
        let name = format!("SEP{i:012X}");
        c.query_opt(&st, &[&name]).expect("query");
    }
    let theirs = t0.elapsed();
    for (what, d) in [("store driver (tokio-postgres)", ours), ("postgres crate (blocking)", theirs)] {
        println!(
            "| round trip, {what} | {n} | 1 | - | {:.0}/s | {:.3} ms |",
            f64::from(n) / d.as_secs_f64(),
            d.as_secs_f64() * 1000.0 / f64::from(n)
        );
    }
}
