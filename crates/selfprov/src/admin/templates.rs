//! `selfprov template udt|ult …` and `selfprov profile …`: one create/update/list/show/delete
//! path for the three kinds, each described by a [`Kind`].

use super::{page_footer, query, show, Admin};
use crate::cli::{Crud, ProfileArgs, TemplateCmd, UdtArgs, UltArgs};
use crate::output::{json, opt, table};
use anyhow::Result;
use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::templates::{NameQuery, UdtPatch, UltPatch};
use selfprov_operations::{Actor, OpError, Operations};
use selfprov_provisioning::model::{UniversalDeviceTemplate, UniversalLineTemplate, UserProfile};
use selfprov_provisioning::store::Page;
use serde::Serialize;

type Upsert<T, P> = fn(&Operations, &Actor, &str, &P) -> Result<T, OpError>;

/// How the command line handles one kind of named object.
struct Kind<A, T, P> {
    label: &'static str,
    patch: fn(A) -> (String, P),
    create: Upsert<T, P>,
    update: Upsert<T, P>,
    get: fn(&Operations, &str) -> Result<T, OpError>,
    list: fn(&Operations, &NameQuery) -> Result<Page<T>, OpError>,
    delete: fn(&Operations, &Actor, &str) -> Result<(), OpError>,
    headers: &'static [&'static str],
    row: fn(&T) -> Vec<String>,
}

fn run<A: clap::Args, T: Serialize, P>(a: &Admin, k: &Kind<A, T, P>, cmd: Crud<A>) -> Result<()> {
    let (ops, who) = (&a.ops, &a.actor);
    match cmd {
        Crud::Create(args) => {
            let (name, p) = (k.patch)(args);
            (k.create)(ops, who, &name, &p)?;
            println!("created {} {name}", k.label);
        }
        Crud::Update(args) => {
            let (name, p) = (k.patch)(args);
            (k.update)(ops, who, &name, &p)?;
            println!("updated {} {name}", k.label);
        }
        Crud::List(l) => {
            let page = (k.list)(ops, &query(&l)?)?;
            if l.json {
                return json(&page.items);
            }
            table(k.headers, &page.items.iter().map(k.row).collect::<Vec<_>>());
            page_footer(&page);
        }
        Crud::Show { name, json: j } => show(&(k.get)(ops, &name)?, j)?,
        Crud::Delete { name } => {
            (k.delete)(ops, who, &name)?;
            println!("deleted {} {name}", k.label);
        }
    }
    Ok(())
}

const UDT: Kind<UdtArgs, UniversalDeviceTemplate, UdtPatch> = Kind {
    label: "universal device template",
    patch: |a| {
        let p = UdtPatch {
            description: a.description,
            device_pool: a.device_pool,
            device_security_profile: a.device_security_profile,
            secure: a.secure,
            sip_profile: a.sip_profile,
            phone_button_template: a.phone_button_template,
            description_pattern: a.description_pattern,
        };
        (a.name, p)
    },
    create: Operations::create_udt,
    update: Operations::update_udt,
    get: Operations::udt,
    list: Operations::udts,
    delete: Operations::delete_udt,
    headers: &["NAME", "DEVICE POOL", "SECURE", "DESCRIPTION"],
    row: |t| {
        vec![
            t.name.to_string(),
            t.device_pool.clone(),
            t.secure.to_string(),
            t.description.clone(),
        ]
    },
};

const ULT: Kind<UltArgs, UniversalLineTemplate, UltPatch> = Kind {
    label: "universal line template",
    patch: |a| {
        let p = UltPatch {
            description: a.description,
            partition: a.partition,
            calling_search_space: a.calling_search_space,
            line_text_label: a.line_text_label,
            voicemail_profile: a.voicemail_profile,
        };
        (a.name, p)
    },
    create: Operations::create_ult,
    update: Operations::update_ult,
    get: Operations::ult,
    list: Operations::ults,
    delete: Operations::delete_ult,
    headers: &["NAME", "PARTITION", "CSS", "DESCRIPTION"],
    row: |t| {
        vec![
            t.name.to_string(),
            t.partition.clone(),
            t.calling_search_space.clone(),
            t.description.clone(),
        ]
    },
};

const PROFILE: Kind<ProfileArgs, UserProfile, ProfilePatch> = Kind {
    label: "user profile",
    patch: |a| {
        let p = ProfilePatch {
            description: a.description,
            system_default: a.system_default,
            udt_desk_phone: a.udt_desk_phone,
            udt_mobile_desktop: a.udt_mobile_desktop,
            udt_profile: a.udt_profile,
            ult: a.ult,
            allow_self_provisioning: a.allow_self_provisioning,
            device_limit: a.device_limit,
        };
        (a.name, p)
    },
    create: Operations::create_profile,
    update: Operations::update_profile,
    get: Operations::profile,
    list: Operations::profiles,
    delete: Operations::delete_profile,
    headers: &[
        "NAME",
        "DEFAULT",
        "ALLOW",
        "LIMIT",
        "UDT DESK",
        "UDT MOBILE",
        "UDT PROFILE",
        "ULT",
    ],
    row: |p| {
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
    },
};

pub fn template(a: &Admin, cmd: TemplateCmd) -> Result<()> {
    match cmd {
        TemplateCmd::Udt(c) => run(a, &UDT, c),
        TemplateCmd::Ult(c) => run(a, &ULT, c),
    }
}

pub fn profile(a: &Admin, cmd: Crud<ProfileArgs>) -> Result<()> {
    run(a, &PROFILE, cmd)
}
