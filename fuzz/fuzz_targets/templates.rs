#![no_main]
//! An administrator's template override, whatever it says: it is loaded or refused with a
//! problem, and `selfprov config check` (rendering every template for the sample phones) reports
//! problems without a panic.
use libfuzzer_sys::fuzz_target;
use selfprov_phoneconfig::{Family, Templates};

fuzz_target!(|data: &[u8]| {
    let Some((pick, source)) = data.split_first() else {
        return;
    };
    let family = Family::ALL[*pick as usize % Family::ALL.len()];
    let names = family.templates();
    let (template, _) = names[(*pick as usize / 8) % names.len()];
    let mut t = Templates::shipped();
    let rel = format!("{family}/{template}");
    if t.add_override(&rel, String::from_utf8_lossy(source).into_owned())
        .is_ok()
    {
        let _ = t.check();
    }
});
