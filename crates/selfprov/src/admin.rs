//! Admin commands over the provisioning store.

use crate::cli::*;
use crate::output::{fields, json, opt, table};
use anyhow::{bail, Context, Result};
use selfprov_config::Config;
use selfprov_provisioning::import;
use selfprov_provisioning::model::*;
use selfprov_provisioning::store::{AuditFilter, SqliteStore, Store, UnixMillis};
use std::io::Read;

pub fn open_store(cfg: &Config) -> Result<SqliteStore> {
    SqliteStore::open(&cfg.database_path)
        .with_context(|| format!("opening database {}", cfg.database_path.display()))
}

/// "" means "clear"; anything else must parse.
fn opt_parse<T: std::str::FromStr<Err = FieldError>>(
    v: Option<String>,
    current: Option<T>,
) -> Result<Option<T>> {
    match v {
        None => Ok(current),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => Ok(Some(s.parse()?)),
    }
}

pub fn template(store: &SqliteStore, cmd: TemplateCmd) -> Result<()> {
    match cmd {
        TemplateCmd::Udt(c) => match c {
            Crud::Create(a) => {
                let t = merge_udt(
                    a,
                    UniversalDeviceTemplate {
                        name: "x".parse()?,
                        description: String::new(),
                        device_pool: "Default".into(),
                        device_security_profile: String::new(),
                        secure: false,
                        sip_profile: String::new(),
                        phone_button_template: String::new(),
                        description_pattern: "#FirstName# #LastName# (#Product#)".into(),
                    },
                )?;
                store.create_udt(&t)?;
                println!("created universal device template {}", t.name);
            }
            Crud::Update(a) => {
                let cur = store.get_udt(&a.name)?;
                let t = merge_udt(a, cur)?;
                store.update_udt(&t)?;
                println!("updated universal device template {}", t.name);
            }
            Crud::List { json: true } => json(&store.list_udts()?)?,
            Crud::List { json: false } => table(
                &["NAME", "DEVICE POOL", "SECURE", "DESCRIPTION"],
                &store
                    .list_udts()?
                    .into_iter()
                    .map(|t| {
                        vec![
                            t.name.to_string(),
                            t.device_pool,
                            t.secure.to_string(),
                            t.description,
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Crud::Show { name, json: j } => show(&store.get_udt(&name)?, j)?,
            Crud::Delete { name } => {
                store.delete_udt(&name)?;
                println!("deleted universal device template {name}");
            }
        },
        TemplateCmd::Ult(c) => match c {
            Crud::Create(a) => {
                let t = merge_ult(
                    a,
                    UniversalLineTemplate {
                        name: "x".parse()?,
                        description: String::new(),
                        partition: String::new(),
                        calling_search_space: String::new(),
                        line_text_label: String::new(),
                        voicemail_profile: String::new(),
                    },
                )?;
                store.create_ult(&t)?;
                println!("created universal line template {}", t.name);
            }
            Crud::Update(a) => {
                let cur = store.get_ult(&a.name)?;
                let t = merge_ult(a, cur)?;
                store.update_ult(&t)?;
                println!("updated universal line template {}", t.name);
            }
            Crud::List { json: true } => json(&store.list_ults()?)?,
            Crud::List { json: false } => table(
                &["NAME", "PARTITION", "CSS", "DESCRIPTION"],
                &store
                    .list_ults()?
                    .into_iter()
                    .map(|t| {
                        vec![
                            t.name.to_string(),
                            t.partition,
                            t.calling_search_space,
                            t.description,
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Crud::Show { name, json: j } => show(&store.get_ult(&name)?, j)?,
            Crud::Delete { name } => {
                store.delete_ult(&name)?;
                println!("deleted universal line template {name}");
            }
        },
    }
    Ok(())
}

fn show<T: serde::Serialize>(v: &T, as_json: bool) -> Result<()> {
    if as_json {
        json(v)
    } else {
        fields(v)
    }
}

fn merge_udt(a: UdtArgs, mut t: UniversalDeviceTemplate) -> Result<UniversalDeviceTemplate> {
    t.name = a.name.parse()?;
    if let Some(v) = a.description {
        t.description = v;
    }
    if let Some(v) = a.device_pool {
        t.device_pool = v;
    }
    if let Some(v) = a.device_security_profile {
        t.device_security_profile = v;
    }
    if let Some(v) = a.secure {
        t.secure = v;
    }
    if let Some(v) = a.sip_profile {
        t.sip_profile = v;
    }
    if let Some(v) = a.phone_button_template {
        t.phone_button_template = v;
    }
    if let Some(v) = a.description_pattern {
        t.description_pattern = v;
    }
    Ok(t)
}

fn merge_ult(a: UltArgs, mut t: UniversalLineTemplate) -> Result<UniversalLineTemplate> {
    t.name = a.name.parse()?;
    if let Some(v) = a.description {
        t.description = v;
    }
    if let Some(v) = a.partition {
        t.partition = v;
    }
    if let Some(v) = a.calling_search_space {
        t.calling_search_space = v;
    }
    if let Some(v) = a.line_text_label {
        t.line_text_label = v;
    }
    if let Some(v) = a.voicemail_profile {
        t.voicemail_profile = v;
    }
    Ok(t)
}

fn merge_profile(a: ProfileArgs, mut p: UserProfile) -> Result<UserProfile> {
    p.name = a.name.parse()?;
    if let Some(v) = a.description {
        p.description = v;
    }
    if let Some(v) = a.system_default {
        p.system_default = v;
    }
    p.udt_desk_phone = opt_parse(a.udt_desk_phone, p.udt_desk_phone).context("--udt-desk-phone")?;
    p.udt_mobile_desktop =
        opt_parse(a.udt_mobile_desktop, p.udt_mobile_desktop).context("--udt-mobile-desktop")?;
    p.udt_profile = opt_parse(a.udt_profile, p.udt_profile).context("--udt-profile")?;
    p.ult = opt_parse(a.ult, p.ult).context("--ult")?;
    if let Some(v) = a.allow_self_provisioning {
        p.allow_self_provisioning = v;
    }
    if let Some(v) = a.device_limit {
        p.device_limit = v;
    }
    p.check()?;
    Ok(p)
}

pub fn profile(store: &SqliteStore, cmd: ProfileCmd) -> Result<()> {
    match cmd {
        ProfileCmd::Create(a) => {
            let p = merge_profile(
                a,
                UserProfile {
                    name: "x".parse()?,
                    description: String::new(),
                    system_default: false,
                    udt_desk_phone: None,
                    udt_mobile_desktop: None,
                    udt_profile: None,
                    ult: None,
                    allow_self_provisioning: true,
                    device_limit: DEFAULT_DEVICE_LIMIT,
                },
            )?;
            store.create_profile(&p)?;
            println!("created user profile {}", p.name);
        }
        ProfileCmd::Update(a) => {
            let cur = store.get_profile(&a.name)?;
            let p = merge_profile(a, cur)?;
            store.update_profile(&p)?;
            println!("updated user profile {}", p.name);
        }
        ProfileCmd::List { json: true } => json(&store.list_profiles()?)?,
        ProfileCmd::List { json: false } => table(
            &[
                "NAME",
                "DEFAULT",
                "ALLOW",
                "LIMIT",
                "UDT DESK",
                "UDT MOBILE",
                "UDT PROFILE",
                "ULT",
            ],
            &store
                .list_profiles()?
                .into_iter()
                .map(|p| {
                    vec![
                        p.name.to_string(),
                        p.system_default.to_string(),
                        p.allow_self_provisioning.to_string(),
                        p.device_limit.to_string(),
                        opt(&p.udt_desk_phone),
                        opt(&p.udt_mobile_desktop),
                        opt(&p.udt_profile),
                        opt(&p.ult),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        ProfileCmd::Show { name, json: j } => show(&store.get_profile(&name)?, j)?,
        ProfileCmd::Delete { name } => {
            store.delete_profile(&name)?;
            println!("deleted user profile {name}");
        }
    }
    Ok(())
}

fn read_pin_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the PIN from stdin")?;
    Ok(s.trim().to_owned())
}

fn user_from(a: UserArgs, cur: Option<EndUser>) -> Result<NewUser> {
    let pin = if a.pin_stdin {
        Some(read_pin_stdin()?)
    } else {
        a.pin
    };
    let cur_ssid = cur.as_ref().and_then(|u| u.self_service_id.clone());
    let cur_ext = cur.as_ref().and_then(|u| u.primary_extension.clone());
    let primary_extension =
        opt_parse(a.primary_extension, cur_ext.clone()).context("--primary-extension")?;
    // A self-service ID that was only the default follows a changed extension.
    let ssid_was_default =
        cur_ssid.as_ref().map(|s| s.as_str()) == cur_ext.as_ref().map(|d| d.as_str());
    let self_service_id = match a.self_service_id {
        Some(s) if s.is_empty() => None,
        Some(s) => Some(s.parse().context("--self-service-id")?),
        None if ssid_was_default => None,
        None => cur_ssid,
    };
    Ok(NewUser {
        user_id: a.user_id.parse()?,
        first_name: a
            .first_name
            .or_else(|| cur.as_ref().map(|u| u.first_name.clone()))
            .unwrap_or_default(),
        last_name: a
            .last_name
            .or_else(|| cur.as_ref().map(|u| u.last_name.clone()))
            .unwrap_or_default(),
        self_service_id,
        primary_extension,
        user_profile: opt_parse(a.profile, cur.as_ref().and_then(|u| u.user_profile.clone()))
            .context("--profile")?,
        enabled: a
            .enabled
            .or(cur.as_ref().map(|u| u.enabled))
            .unwrap_or(true),
        pin,
        password: None,
    })
}

pub fn user(store: &SqliteStore, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create(a) => {
            let u = user_from(a, None)?;
            if u.pin.is_none() {
                bail!("a PIN is required: give --pin-stdin (or --pin)");
            }
            store.create_user(&u)?;
            println!("created user {}", u.user_id);
        }
        UserCmd::Update(a) => {
            let cur = store.get_user(&a.user_id)?;
            let u = user_from(a, Some(cur))?;
            store.update_user(&u)?;
            println!("updated user {}", u.user_id);
        }
        UserCmd::List { json: true } => json(&store.list_users()?)?,
        UserCmd::List { json: false } => table(
            &[
                "USER ID",
                "NAME",
                "SELF-SERVICE ID",
                "EXTENSION",
                "PROFILE",
                "ENABLED",
            ],
            &store
                .list_users()?
                .into_iter()
                .map(|u| {
                    vec![
                        u.user_id.to_string(),
                        format!("{} {}", u.first_name, u.last_name),
                        opt(&u.self_service_id),
                        opt(&u.primary_extension),
                        u.user_profile
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "(system default)".into()),
                        u.enabled.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        UserCmd::Show { user_id, json: j } => {
            let u = store.get_user(&user_id)?;
            let (failed, locked) = store.lock_state(&user_id)?;
            #[derive(serde::Serialize)]
            struct Shown {
                #[serde(flatten)]
                user: EndUser,
                pin_set: bool,
                failed_attempts: u32,
                locked_until_ms: Option<i64>,
            }
            let shown = Shown {
                pin_set: u.pin_hash.is_some(),
                user: u,
                failed_attempts: failed,
                locked_until_ms: locked.map(|l| l.0),
            };
            show(&shown, j)?
        }
        UserCmd::Delete { user_id } => {
            store.delete_user(&user_id)?;
            println!("deleted user {user_id}");
        }
        UserCmd::Unlock { user_id } => {
            store.unlock_user(&user_id)?;
            println!("unlocked user {user_id}");
        }
    }
    Ok(())
}

/// The JSON shape of `device list --json`.
#[derive(serde::Serialize)]
struct DeviceOut<'a> {
    name: &'a str,
    model: &'a str,
    class: &'a str,
    dn: Option<&'a str>,
    owner: Option<&'a str>,
    auto_registered: bool,
    secure: bool,
    udt: Option<&'a str>,
    ult: Option<&'a str>,
    description: &'a str,
}

fn device_out(d: &Device) -> DeviceOut<'_> {
    DeviceOut {
        name: d.name.as_str(),
        model: &d.model,
        class: d.class.as_str(),
        dn: d.dn.as_ref().map(|x| x.as_str()),
        owner: d.owner.as_ref().map(|x| x.as_str()),
        auto_registered: d.auto_registered,
        secure: d.secure,
        udt: d.udt.as_deref(),
        ult: d.ult.as_deref(),
        description: &d.description,
    }
}

fn device_from(a: DeviceArgs, cur: Option<Device>) -> Result<Device> {
    let now = UnixMillis::now().0 / 1000;
    let model = a
        .model
        .or_else(|| cur.as_ref().map(|d| d.model.clone()))
        .unwrap_or_else(|| "Generic SIP Phone".into());
    let class = match a.class {
        Some(c) => c.parse()?,
        None => cur
            .as_ref()
            .map(|d| d.class)
            .or_else(|| model_class(&model))
            .unwrap_or(DeviceClass::DeskPhone),
    };
    Ok(Device {
        name: a.name.parse()?,
        protocol: "SIP".into(),
        class,
        secure: a.secure.or(cur.as_ref().map(|d| d.secure)).unwrap_or(false),
        dn: opt_parse(a.dn, cur.as_ref().and_then(|d| d.dn.clone())).context("--dn")?,
        owner: opt_parse(a.owner, cur.as_ref().and_then(|d| d.owner.clone())).context("--owner")?,
        auto_registered: a
            .auto_registered
            .or(cur.as_ref().map(|d| d.auto_registered))
            .unwrap_or(false),
        udt: cur.as_ref().and_then(|d| d.udt.clone()),
        ult: cur.as_ref().and_then(|d| d.ult.clone()),
        description: a
            .description
            .or_else(|| cur.as_ref().map(|d| d.description.clone()))
            .unwrap_or_default(),
        created_at: cur.as_ref().map(|d| d.created_at).unwrap_or(now),
        updated_at: now,
        model,
    })
}

pub fn device(store: &SqliteStore, cfg: &Config, cmd: DeviceCmd) -> Result<()> {
    match cmd {
        DeviceCmd::Create(a) => {
            let d = device_from(a, None)?;
            store.create_device(&d)?;
            println!("created device {}", d.name);
        }
        DeviceCmd::Update(a) => {
            let cur = store.get_device(&a.name)?;
            let d = device_from(a, Some(cur))?;
            store.update_device(&d)?;
            println!("updated device {}", d.name);
        }
        DeviceCmd::List { json: true } => {
            let ds = store.list_devices()?;
            json(&ds.iter().map(device_out).collect::<Vec<_>>())?
        }
        DeviceCmd::List { json: false } => table(
            &["NAME", "MODEL", "DN", "OWNER", "AUTO-REGISTERED", "UDT"],
            &store
                .list_devices()?
                .into_iter()
                .map(|d| {
                    vec![
                        d.name.to_string(),
                        d.model,
                        opt(&d.dn),
                        opt(&d.owner),
                        d.auto_registered.to_string(),
                        opt(&d.udt),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        DeviceCmd::Show { name, json: j } => show(&device_out(&store.get_device(&name)?), j)?,
        DeviceCmd::Delete { name } => {
            store.delete_device(&name)?;
            println!("deleted device {name}");
        }
        DeviceCmd::Autoregister { name, model } => {
            let d = store.auto_register(
                &name.parse()?,
                &model,
                &cfg.auto_registration,
                UnixMillis::now(),
            )?;
            println!("device {} auto-registered with DN {}", d.name, opt(&d.dn));
        }
        DeviceCmd::Assign { name, user_id } => {
            let call_id = format!("cli-{}", UnixMillis::now().0);
            match store.assign(&name, &user_id.parse()?, &call_id, UnixMillis::now()) {
                Ok(o) => {
                    use selfprov_provisioning::store::AssignOutcome::*;
                    match o {
                        Assigned(p) => println!(
                            "device {name} assigned to {} with extension {}",
                            p.user_id, p.extension
                        ),
                        AlreadyAssigned(p) => println!(
                            "device {name} already belongs to {} (extension {}); nothing changed",
                            p.user_id, p.extension
                        ),
                    }
                }
                Err(e) => bail!("{}: {e}", e.code()),
            }
        }
    }
    Ok(())
}

pub fn import_users(store: &SqliteStore, file: &std::path::Path, dry_run: bool) -> Result<bool> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let existing = store.existing_keys()?;
    let (users, errors) = import::parse_users_csv(std::io::BufReader::new(f), &existing);
    for e in &errors {
        eprintln!("{}:{e}", file.display());
    }
    let total_rows = users.len() + errors.len();
    if !errors.is_empty() {
        println!(
            "import: {} row(s) read, {} bad, nothing imported{}",
            total_rows,
            errors.len(),
            if dry_run {
                " (dry run)"
            } else {
                " (fix the rows above; a file is imported whole or not at all)"
            }
        );
        return Ok(false);
    }
    if dry_run {
        println!(
            "import: {} row(s) read, all valid; nothing imported (dry run)",
            users.len()
        );
        return Ok(true);
    }
    let bar = indicatif::ProgressBar::new(users.len() as u64);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) && users.len() >= 100 {
        bar.set_style(
            indicatif::ProgressStyle::with_template("hashing PINs {bar:40} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let prepared = import::prepare_users(users, &|done, _| bar.set_position(done as u64))
        .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let summary = store.import_users(&prepared)?;
    println!("import: {} user(s) imported, 0 failed", summary.imported);
    Ok(true)
}

pub fn audit(
    store: &SqliteStore,
    as_json: bool,
    limit: Option<usize>,
    device: Option<String>,
    user: Option<String>,
) -> Result<()> {
    let entries = store.audit_log(&AuditFilter {
        limit,
        device,
        user,
        code: None,
    })?;
    if as_json {
        return json(&entries);
    }
    table(
        &["TIME (UTC)", "CALL ID", "DEVICE", "USER", "CODE", "DETAIL"],
        &entries
            .into_iter()
            .map(|e| {
                vec![
                    utc(e.time_ms),
                    e.call_id,
                    opt(&e.device),
                    opt(&e.user),
                    e.code.to_string(),
                    e.detail,
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(())
}

fn utc(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
