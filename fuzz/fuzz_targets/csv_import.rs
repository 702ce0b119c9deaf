#![no_main]
//! The user CSV importer reports bad rows; it never panics on any file.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = selfprov_provisioning::store::ExistingKeys::default();
    let (users, errors) = selfprov_provisioning::import::parse_users_csv(data, &keys);
    let _ = (users.len(), errors.len());
});
