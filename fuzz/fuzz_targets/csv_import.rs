#![no_main]
//! The user CSV importer reports bad rows; it never panics on any file, whether rows may only
//! create users or may also update existing ones.
use libfuzzer_sys::fuzz_target;
use selfprov_provisioning::import::{parse_users_csv, Existing};

fuzz_target!(|data: &[u8]| {
    let keys = selfprov_provisioning::store::ExistingKeys::default();
    for mode in [Existing::Refuse, Existing::Update] {
        let (users, errors) = parse_users_csv(data, &keys, mode);
        let _ = (users.len(), errors.len());
    }
});
