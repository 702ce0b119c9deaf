//! `selfprov-bench-api --config FILE --users N --devices M`: write N users (`user000000`…, last
//! names `Name0000`… ten users each, extensions 200000…) and M devices (`SEP000000000000`…, the
//! first M users' phones) straight into the configured database, in one transaction, all users
//! with one PIN hash (1234) computed once. For the API benchmark (`benches/api/run.sh`): the
//! import's way would spend minutes hashing PINs, which is not what is measured.

use selfprov_provisioning::model::{Device, DeviceClass, EndUser};
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::store::sqlite_durability::Durability;
use selfprov_provisioning::store::{SqliteStore, StoreExt};
use std::path::PathBuf;
use std::process::ExitCode;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(cfg), Some(users)) = (arg(&args, "--config"), arg(&args, "--users")) else {
        eprintln!("usage: selfprov-bench-api --config FILE --users N [--devices M]");
        return ExitCode::from(2);
    };
    let n: usize = users.parse().unwrap_or(100_000);
    let m: usize = arg(&args, "--devices")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
        .min(n);
    let cfg = match selfprov_config::Config::load(&PathBuf::from(&cfg)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match fill(&cfg.database_path, n, m) {
        Ok(()) => {
            println!(
                "{n} users and {m} devices written to {}",
                cfg.database_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fill(db: &std::path::Path, n: usize, m: usize) -> Result<(), String> {
    let store = SqliteStore::open_with(db, Durability::Normal).map_err(|e| e.to_string())?;
    let pin = SecretHash::hash("1234").map_err(|e| e.to_string())?;
    store
        .writing(|tx| {
            for i in 0..n {
                tx.insert_user(&EndUser {
                    user_id: format!("user{i:06}").parse()?,
                    first_name: "First".into(),
                    last_name: format!("Name{:04}", i % 10_000),
                    self_service_id: None,
                    primary_extension: Some(format!("{}", 200_000 + i).parse()?),
                    user_profile: None,
                    enabled: true,
                    pin_hash: Some(pin.as_phc().to_owned()),
                    password_hash: None,
                })?;
            }
            for i in 0..m {
                tx.insert_device(&Device {
                    name: format!("SEP{i:012X}").parse()?,
                    model: "Cisco 8845".into(),
                    protocol: "SIP".into(),
                    class: DeviceClass::DeskPhone,
                    secure: false,
                    dn: Some(format!("{}", 200_000 + i).parse()?),
                    owner: Some(format!("user{i:06}").parse()?),
                    auto_registered: false,
                    udt: None,
                    ult: None,
                    description: format!("First Name{:04} (Cisco 8845)", i % 10_000),
                    created_at: 0,
                    updated_at: 0,
                })?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}
