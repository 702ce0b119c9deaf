//! Versioned schema migrations. Each entry is applied once, in order, inside a transaction;
//! `schema_version` records how far a database has come. Append new migrations; never edit old ones.

pub const MIGRATIONS: &[&str] = &[
    // 1: the provisioning model.
    r#"
CREATE TABLE udt (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    device_pool TEXT NOT NULL,
    device_security_profile TEXT NOT NULL,
    secure INTEGER NOT NULL,
    sip_profile TEXT NOT NULL,
    phone_button_template TEXT NOT NULL,
    description_pattern TEXT NOT NULL
);
CREATE TABLE ult (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    partition_name TEXT NOT NULL,
    calling_search_space TEXT NOT NULL,
    line_text_label TEXT NOT NULL,
    voicemail_profile TEXT NOT NULL
);
CREATE TABLE user_profile (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    system_default INTEGER NOT NULL,
    udt_desk_phone TEXT REFERENCES udt(name),
    udt_mobile_desktop TEXT REFERENCES udt(name),
    udt_profile TEXT REFERENCES udt(name),
    ult TEXT REFERENCES ult(name),
    allow_self_provisioning INTEGER NOT NULL,
    device_limit INTEGER NOT NULL CHECK (device_limit BETWEEN 1 AND 20)
);
CREATE TABLE end_user (
    user_id TEXT PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    self_service_id TEXT UNIQUE,
    primary_extension TEXT,
    user_profile TEXT REFERENCES user_profile(name),
    enabled INTEGER NOT NULL,
    pin_hash TEXT,
    password_hash TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_ms BIGINT
);
CREATE TABLE device (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    protocol TEXT NOT NULL,
    class TEXT NOT NULL,
    secure INTEGER NOT NULL,
    dn TEXT,
    owner TEXT REFERENCES end_user(user_id),
    auto_registered INTEGER NOT NULL,
    udt TEXT,
    ult TEXT,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX device_owner ON device(owner);
CREATE INDEX device_dn ON device(dn);
-- An auto-registered DN is never handed to two devices.
CREATE UNIQUE INDEX device_autoreg_dn ON device(dn) WHERE auto_registered = 1;
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    device TEXT,
    user_id TEXT,
    code TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_time ON audit_log(time_ms);
"#,
    // 2: auto-registration looks DNs up among users' primary extensions.
    "CREATE INDEX end_user_primary_extension ON end_user(primary_extension);",
    // 3: the audit log also records administrative changes (who, what, before and after), and
    // settings changed through the operations layer override the configuration file.
    r#"
CREATE TABLE audit_log_v3 (
    id INTEGER PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    call_id TEXT NOT NULL,
    device TEXT,
    user_id TEXT,
    code TEXT,
    detail TEXT NOT NULL,
    object_kind TEXT,
    object TEXT,
    action TEXT,
    before_json TEXT,
    after_json TEXT
);
INSERT INTO audit_log_v3 (id, time_ms, kind, actor, call_id, device, user_id, code, detail)
    SELECT id, time_ms, 'claim', CASE WHEN call_id LIKE 'cli-%' THEN 'cli' ELSE 'ivr' END,
           call_id, device, user_id, code, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v3 RENAME TO audit_log;
CREATE INDEX audit_time ON audit_log(time_ms);
CREATE INDEX audit_device ON audit_log(device);
CREATE INDEX audit_user ON audit_log(user_id);
CREATE INDEX audit_object ON audit_log(object);
CREATE TABLE setting (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
"#,
    // 4: each device's SIP credential: which generation of its derived secret is in force (a new
    // one at auto-registration, claim and release), since when, and when the phone first fetched
    // the configuration file that carries it.
    r#"
CREATE TABLE device_credential (
    device TEXT PRIMARY KEY REFERENCES device(name) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    issued_ms BIGINT NOT NULL,
    fetched_ms BIGINT
);
"#,
    // 5: administrator accounts (Argon2id password hashes, lockout counters like users' PINs),
    // their API tokens (only the SHA-256 of the secret) and console sessions (only the SHA-256 of
    // the cookie), both gone with their account.
    r#"
CREATE TABLE admin_account (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_ms BIGINT,
    created_ms BIGINT NOT NULL
);
CREATE TABLE api_token (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL REFERENCES admin_account(name) ON DELETE CASCADE,
    role TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    last_used_ms BIGINT
);
CREATE INDEX api_token_owner ON api_token(owner);
CREATE TABLE admin_session (
    secret_sha256 TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES admin_account(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX admin_session_account ON admin_session(account);
"#,
    // 6: lists of 100,000 users and their phones answer in milliseconds: a search term without
    // a leading wildcard is a range of a case-insensitive index on each searched column (the
    // LIKE optimisation, one index per term of the OR), and sorting by last name or model walks
    // an index instead of sorting the table.
    r#"
CREATE INDEX end_user_user_id_nocase ON end_user(user_id COLLATE NOCASE);
CREATE INDEX end_user_first_name_nocase ON end_user(first_name COLLATE NOCASE);
CREATE INDEX end_user_last_name_nocase ON end_user(last_name COLLATE NOCASE);
CREATE INDEX end_user_primary_extension_nocase ON end_user(primary_extension COLLATE NOCASE);
CREATE INDEX end_user_self_service_id_nocase ON end_user(self_service_id COLLATE NOCASE);
CREATE INDEX end_user_by_last_name ON end_user(last_name, user_id);
CREATE INDEX device_name_nocase ON device(name COLLATE NOCASE);
CREATE INDEX device_dn_nocase ON device(dn COLLATE NOCASE);
CREATE INDEX device_owner_nocase ON device(owner COLLATE NOCASE);
CREATE INDEX device_model_nocase ON device(model COLLATE NOCASE);
CREATE INDEX device_by_model ON device(model, name);
CREATE INDEX device_by_updated ON device(updated_at, name);
ANALYZE;
"#,
    // 7: failed claim attempts per user and calling device, so a stranger's wrong PINs lock the
    // user out of the stranger's phone, not of every phone (docs/security.md).
    r#"
CREATE TABLE claim_failure (
    user_id TEXT NOT NULL REFERENCES end_user(user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    device TEXT NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until_ms BIGINT,
    PRIMARY KEY (user_id, device)
);
"#,
    // 8: when each device was last heard from (an accepted REGISTER, a configuration file
    // served), so that auto-registered phones nobody claims and that went away expire and give
    // their DN back (docs/security.md). Gone with the device.
    r#"
CREATE TABLE device_seen (
    device TEXT PRIMARY KEY REFERENCES device(name) ON DELETE CASCADE,
    seen_ms BIGINT NOT NULL
);
"#,
    // 9: searches with a leading wildcard (`*1234*`, seed 004's "contains") use an index too: a
    // trigram full-text index of the searched columns (FTS5, kept by triggers) finds the rows
    // holding each literal run of 3+ characters, and the LIKE terms then check those rows only.
    // Keyed by rowid, which SQLite says a VACUUM may renumber: the store compares the index with
    // its table when it opens and rebuilds it when they differ.
    r#"
CREATE VIRTUAL TABLE end_user_search USING fts5(user_id, first_name, last_name, primary_extension, self_service_id, content='end_user', content_rowid='rowid', tokenize='trigram');
INSERT INTO end_user_search(end_user_search) VALUES ('rebuild');
CREATE TRIGGER end_user_search_insert AFTER INSERT ON end_user BEGIN
    INSERT INTO end_user_search(rowid, user_id, first_name, last_name, primary_extension, self_service_id) VALUES (new.rowid, new.user_id, new.first_name, new.last_name, new.primary_extension, new.self_service_id);
END;
CREATE TRIGGER end_user_search_delete AFTER DELETE ON end_user BEGIN
    INSERT INTO end_user_search(end_user_search, rowid, user_id, first_name, last_name, primary_extension, self_service_id) VALUES ('delete', old.rowid, old.user_id, old.first_name, old.last_name, old.primary_extension, old.self_service_id);
END;
CREATE TRIGGER end_user_search_update AFTER UPDATE ON end_user BEGIN
    INSERT INTO end_user_search(end_user_search, rowid, user_id, first_name, last_name, primary_extension, self_service_id) VALUES ('delete', old.rowid, old.user_id, old.first_name, old.last_name, old.primary_extension, old.self_service_id);
    INSERT INTO end_user_search(rowid, user_id, first_name, last_name, primary_extension, self_service_id) VALUES (new.rowid, new.user_id, new.first_name, new.last_name, new.primary_extension, new.self_service_id);
END;
CREATE VIRTUAL TABLE device_search USING fts5(name, dn, owner, model, content='device', content_rowid='rowid', tokenize='trigram');
INSERT INTO device_search(device_search) VALUES ('rebuild');
CREATE TRIGGER device_search_insert AFTER INSERT ON device BEGIN
    INSERT INTO device_search(rowid, name, dn, owner, model) VALUES (new.rowid, new.name, new.dn, new.owner, new.model);
END;
CREATE TRIGGER device_search_delete AFTER DELETE ON device BEGIN
    INSERT INTO device_search(device_search, rowid, name, dn, owner, model) VALUES ('delete', old.rowid, old.name, old.dn, old.owner, old.model);
END;
CREATE TRIGGER device_search_update AFTER UPDATE ON device BEGIN
    INSERT INTO device_search(device_search, rowid, name, dn, owner, model) VALUES ('delete', old.rowid, old.name, old.dn, old.owner, old.model);
    INSERT INTO device_search(rowid, name, dn, owner, model) VALUES (new.rowid, new.name, new.dn, new.owner, new.model);
END;
"#,
    // 10: whether a profile's users may log in to the self-care portal (docs/self-care.md); on by
    // default, as CUCM's end users reach Self Care through the default end-user group.
    "ALTER TABLE user_profile ADD COLUMN allow_self_care INTEGER NOT NULL DEFAULT 1;",
    // 11: activation codes (docs/activation-codes.md): only a keyed hash of each code; a
    // by-model code's device is filled in when a phone uses it. Failed attempts to use a code,
    // per calling device (a wrong code names no user), for the lockout.
    ACTIVATION_CODES,
    // 12: each activation code also sealed (enciphered under a key derived from the install's
    // secret key file) so that its user sees it in self-care; codes issued before have none.
    CODE_SEALED,
];

/// Migration 12 (SQLite) and 8 (PostgreSQL): the sealed code beside its hash.
pub(crate) const CODE_SEALED: &str = "ALTER TABLE activation_code ADD COLUMN code_sealed TEXT;";

/// Migration 9 (SQLite) and 5 (PostgreSQL): activation codes and the failed attempts to use one.
pub(crate) const ACTIVATION_CODES: &str = r#"
CREATE TABLE activation_code (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES end_user(user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    device TEXT,
    model TEXT,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms BIGINT,
    used_device TEXT,
    revoked_ms BIGINT
);
CREATE INDEX activation_code_user ON activation_code(user_id, created_ms);
CREATE TABLE code_failure (
    device TEXT PRIMARY KEY,
    failed BIGINT NOT NULL DEFAULT 0,
    locked_until_ms BIGINT
);
"#;
