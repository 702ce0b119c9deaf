//! `selfprov template udt|ult …` and `selfprov profile …`: one create/update/list/show/delete
//! path for the three kinds, each described by a [`Kind`].

use super::{page_footer, query, show, Client};
use crate::cli::{Crud, ProfileArgs, TemplateCmd, UdtArgs, UltArgs};
use crate::client::{path, Payload};
use crate::output::{json, opt, table};
use anyhow::Result;
use axum::http::Method;
use selfprov_api::list::ListPage;
use selfprov_api::profiles::Profile;
use selfprov_api::templates::{Udt, Ult};
use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::templates::{UdtPatch, UltPatch};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How the command line handles one kind of named object.
struct Kind<A, T, P> {
    label: &'static str,
    /// The API's collection, e.g. `/udts`.
    collection: &'static str,
    patch: fn(A) -> (String, P),
    headers: &'static [&'static str],
    row: fn(&T) -> Vec<String>,
}

fn run<A: clap::Args, T: Serialize + DeserializeOwned, P: Serialize>(
    c: &Client,
    k: &Kind<A, T, P>,
    cmd: Crud<A>,
) -> Result<()> {
    let item = |name: &str| path(k.collection, name);
    match cmd {
        Crud::Create(args) => {
            let (name, p) = (k.patch)(args);
            let _: T = c.create(k.collection, "name", &name, &p)?;
            println!("created {} {name}", k.label);
        }
        Crud::Update(args) => {
            let (name, p) = (k.patch)(args);
            let _: T = c.patch(&item(&name), &p)?;
            println!("updated {} {name}", k.label);
        }
        Crud::List(l) => {
            let page: ListPage<T> = c.get_query(&path(k.collection, ""), &query(&l))?;
            if l.json {
                return json(&page.items);
            }
            table(k.headers, &page.items.iter().map(k.row).collect::<Vec<_>>());
            page_footer(&page);
        }
        Crud::Show { name, json: j } => show(&c.get::<T>(&item(&name))?, j)?,
        Crud::Delete { name } => {
            c.no_content(Method::DELETE, &item(&name), Payload::Empty)?;
            println!("deleted {} {name}", k.label);
        }
    }
    Ok(())
}

const UDT: Kind<UdtArgs, Udt, UdtPatch> = Kind {
    label: "universal device template",
    collection: "/udts",
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
    headers: &["NAME", "DEVICE POOL", "SECURE", "DESCRIPTION"],
    row: |t| {
        vec![
            t.name.clone(),
            t.device_pool.clone(),
            t.secure.to_string(),
            t.description.clone(),
        ]
    },
};

const ULT: Kind<UltArgs, Ult, UltPatch> = Kind {
    label: "universal line template",
    collection: "/ults",
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
    headers: &["NAME", "PARTITION", "CSS", "DESCRIPTION"],
    row: |t| {
        vec![
            t.name.clone(),
            t.partition.clone(),
            t.calling_search_space.clone(),
            t.description.clone(),
        ]
    },
};

const PROFILE: Kind<ProfileArgs, Profile, ProfilePatch> = Kind {
    label: "user profile",
    collection: "/profiles",
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
            allow_self_care: a.allow_self_care,
        };
        (a.name, p)
    },
    headers: &[
        "NAME",
        "DEFAULT",
        "ALLOW",
        "LIMIT",
        "SELF-CARE",
        "UDT DESK",
        "UDT MOBILE",
        "UDT PROFILE",
        "ULT",
    ],
    row: |p| {
        vec![
            p.name.clone(),
            p.system_default.to_string(),
            p.allow_self_provisioning.to_string(),
            p.device_limit.to_string(),
            p.allow_self_care.to_string(),
            opt(&p.udt_desk_phone),
            opt(&p.udt_mobile_desktop),
            opt(&p.udt_profile),
            opt(&p.ult),
        ]
    },
};

pub fn template(c: &Client, cmd: TemplateCmd) -> Result<()> {
    match cmd {
        TemplateCmd::Udt(x) => run(c, &UDT, x),
        TemplateCmd::Ult(x) => run(c, &ULT, x),
    }
}

pub fn profile(c: &Client, cmd: Crud<ProfileArgs>) -> Result<()> {
    run(c, &PROFILE, cmd)
}
