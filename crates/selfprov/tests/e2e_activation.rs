//! Activation codes end to end: an administrator issues a code with the command line (the API
//! in process on the database, while the service runs), a brand-new phone dials the activation
//! DN and types it, and is provisioned on the user's extension; the code is then spent.

mod common;

use common::*;

#[test]
fn a_code_issued_at_the_command_line_provisions_the_phone_that_types_it() {
    let s = config("e2e-activation");
    s.edit("# activation_dn = \"2001\"", "activation_dn = \"2001\"");
    let (_svc, _err) = start_service(&s);
    let dev = "SEP00000000AC01";
    let issued = cli(
        &s,
        &["activation", "issue", "jsmith", "--device", dev, "--json"],
    );
    let code = issued["code"].as_str().expect("the code, once").to_owned();
    assert_eq!(code.len(), 16, "{issued:#}");
    assert_eq!(issued["state"], "pending");

    let (exit, r) = phone(
        &s,
        &[
            "--device",
            dev,
            "--dial",
            "2001",
            "--digits",
            &format!("{code}#"),
        ],
    );
    assert_eq!(exit, 0, "{r:#}");
    assert_eq!(r["outcome"], "provisioned", "{r:#}");
    assert_eq!(r["check_sync"], true, "{r:#}");
    let h = heard(&r);
    assert!(h.contains(&"enter_activation_code".to_owned()), "{h:?}");
    assert!(!h.contains(&"enter_self_service_id".to_owned()), "{h:?}");
    let d = device(&s, dev).expect("device");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004"))
    );

    // Listed as used by that phone, never with the code; audited as a claim.
    let listed = cli(&s, &["activation", "list", "jsmith", "--json"]);
    assert_eq!(listed[0]["state"], "used", "{listed:#}");
    assert_eq!(listed[0]["used_by"], dev);
    assert!(!listed.to_string().contains(&code));
    let a = cli(&s, &["audit", "--json", "--kind", "claim", "--device", dev]);
    assert_eq!(a[0]["code"], "SUCCESS", "{a:#}");
    assert!(!a.to_string().contains(&code));
}
