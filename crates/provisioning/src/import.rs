//! Bulk import of end users from CSV with the header
//! `user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile`.
//!
//! [`parse_users_csv`] checks every row (and reports each bad one with its line number);
//! [`prepare_users`] hashes the PINs in parallel; the operations layer writes everything in one
//! transaction, so a file is imported whole or not at all.
//!
//! [`write_users_csv`] exports users in the same format with the PIN column empty (only hashes
//! are stored). Such a file re-imports with [`Existing::Update`]: a row for a user who exists
//! changes that user, and an empty PIN keeps the user's PIN. A new user still needs a PIN, so an
//! export loaded into another database needs its PINs filled in.

use crate::model::{
    check_pin, check_text, Dn, EndUser, NewUser, ObjectName, SelfServiceId, UserId, NAME_MAX,
};
use crate::secret::SecretHash;
use crate::store::{ExistingKeys, PreparedUser};
use std::collections::HashSet;
use std::io::Read;

pub const HEADER: [&str; 7] = [
    "user_id",
    "first_name",
    "last_name",
    "self_service_id",
    "pin",
    "primary_extension",
    "user_profile",
];

/// What a row for a user who already exists means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Existing {
    /// The row is refused (`user_id … already exists`): the file only creates users.
    #[default]
    Refuse,
    /// The row changes the user: every column as given (empty clears), the PIN only when given.
    Update,
}

impl std::str::FromStr for Existing {
    type Err = crate::model::FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "refuse" => Ok(Existing::Refuse),
            "update" => Ok(Existing::Update),
            _ => Err(crate::model::FieldError::new(
                "existing",
                format!("`{s}` is not `refuse` or `update`"),
            )),
        }
    }
}

/// A refused row: its line number in the file (1 = header) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Line numbers from byte offsets. The csv crate's own line count lags by one after a CRLF line
/// end (the `\n` is counted only when the next record is read), so lines are counted here.
struct Lines(Vec<usize>);

impl Lines {
    fn of(bytes: &[u8]) -> Lines {
        Lines(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }
    /// The 1-based line of the record starting at `byte` (a record may be reported as starting
    /// on the `\n` of the previous line's CRLF).
    fn at(&self, pos: Option<&csv::Position>) -> u64 {
        pos.map_or(0, |p| {
            1 + self.0.partition_point(|nl| *nl as u64 <= p.byte()) as u64
        })
    }
}

/// Parse and check every row. `existing` holds the keys already in the database.
pub fn parse_users_csv(
    mut input: impl Read,
    existing: &ExistingKeys,
    mode: Existing,
) -> (Vec<NewUser>, Vec<RowError>) {
    let mut bytes = Vec::new();
    if let Err(e) = input.read_to_end(&mut bytes) {
        return (
            Vec::new(),
            vec![RowError {
                line: 0,
                reason: format!("cannot read the file: {e}"),
            }],
        );
    }
    let lines = Lines::of(&bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let mut users = Vec::new();
    let mut errors = Vec::new();
    match rdr.headers() {
        Ok(h) => {
            let got: Vec<&str> = h.iter().collect();
            if got != HEADER {
                errors.push(RowError {
                    line: 1,
                    reason: format!(
                        "header must be `{}`, found `{}`",
                        HEADER.join(","),
                        got.join(",")
                    ),
                });
                return (users, errors);
            }
        }
        Err(e) => {
            errors.push(RowError {
                line: 1,
                reason: format!("cannot read the header: {e}"),
            });
            return (users, errors);
        }
    }
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut seen_ssids: HashSet<String> = HashSet::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = lines.at(e.position());
                errors.push(RowError {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = lines.at(rec.position());
        if rec.len() != HEADER.len() {
            errors.push(RowError {
                line,
                reason: format!("expected {} columns, found {}", HEADER.len(), rec.len()),
            });
            continue;
        }
        match check_row(&rec, existing, mode, &seen_ids, &seen_ssids) {
            Ok(u) => {
                seen_ids.insert(u.user_id.to_string());
                if let Some(s) = u.effective_self_service_id() {
                    seen_ssids.insert(s.to_string());
                }
                users.push(u);
            }
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    (users, errors)
}

fn check_row(
    rec: &csv::StringRecord,
    existing: &ExistingKeys,
    mode: Existing,
    seen_ids: &HashSet<String>,
    seen_ssids: &HashSet<String>,
) -> Result<NewUser, String> {
    let f = |i: usize| rec.get(i).unwrap_or("");
    let user_id: UserId = f(0).parse().map_err(|e| format!("{e}"))?;
    if seen_ids.contains(user_id.as_str()) {
        return Err(format!("user_id `{user_id}` appears twice in the file"));
    }
    let update = existing.user_ids.contains(user_id.as_str());
    if update && mode == Existing::Refuse {
        return Err(format!(
            "user_id `{user_id}` already exists (import with existing users updated to change it)"
        ));
    }
    let primary_extension: Option<Dn> = if f(5).is_empty() {
        None
    } else {
        Some(
            f(5).parse()
                .map_err(|e| format!("primary_extension: {e}"))?,
        )
    };
    let self_service_id: Option<SelfServiceId> = if f(3).is_empty() {
        None
    } else {
        Some(f(3).parse().map_err(|e| format!("{e}"))?)
    };
    let pin = f(4);
    if pin.is_empty() && !update {
        return Err("pin: must not be empty for a new user".into());
    }
    if !pin.is_empty() {
        check_pin(pin).map_err(|e| e.to_string())?;
    }
    let user_profile: Option<ObjectName> = if f(6).is_empty() {
        None
    } else {
        let p: ObjectName = f(6).parse().map_err(|e| format!("user_profile: {e}"))?;
        if !existing.profiles.contains(p.as_str()) {
            return Err(format!("user_profile `{p}` does not exist"));
        }
        Some(p)
    };
    for (field, i) in [("first_name", 1), ("last_name", 2)] {
        check_text(field, f(i), NAME_MAX).map_err(|e| e.to_string())?;
    }
    let u = NewUser {
        user_id,
        first_name: f(1).to_owned(),
        last_name: f(2).to_owned(),
        self_service_id,
        primary_extension,
        user_profile,
        enabled: true,
        pin: (!pin.is_empty()).then(|| pin.to_owned()),
        password: None,
    };
    match u.effective_self_service_id() {
        None => return Err("self_service_id: empty and no primary_extension to default to".into()),
        Some(s) if seen_ssids.contains(s.as_str()) => {
            return Err(format!("self_service_id `{s}` appears twice in the file"))
        }
        Some(s)
            if existing
                .self_service_ids
                .get(s.as_str())
                .is_some_and(|owner| owner != u.user_id.as_str()) =>
        {
            return Err(format!(
                "self_service_id `{s}` is already used by another user"
            ))
        }
        Some(_) => {}
    }
    Ok(u)
}

/// Write users in the import format, the PIN column empty.
pub fn write_users_csv<'a>(
    users: impl IntoIterator<Item = &'a EndUser>,
    out: impl std::io::Write,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    let opt = |o: Option<&str>| o.unwrap_or_default().to_owned();
    for u in users {
        w.write_record([
            u.user_id.as_str().to_owned(),
            u.first_name.clone(),
            u.last_name.clone(),
            opt(u.self_service_id.as_ref().map(|s| s.as_str())),
            String::new(),
            opt(u.primary_extension.as_ref().map(|d| d.as_str())),
            opt(u.user_profile.as_ref().map(|p| p.as_str())),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Hash every PIN (the slow part) on all cores, reporting progress as `(done, total)`.
pub fn prepare_users(
    users: Vec<NewUser>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<PreparedUser>, String> {
    let total = users.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let chunk = total.div_ceil(threads).max(1);
    let mut out: Vec<Result<Vec<PreparedUser>, String>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = users
            .chunks(chunk)
            .map(|part| {
                let done = &done;
                s.spawn(move || {
                    part.iter()
                        .map(|u| {
                            let pin_hash = u
                                .pin
                                .as_deref()
                                .map(|p| SecretHash::hash(p).map(|h| h.as_phc().to_owned()))
                                .transpose()
                                .map_err(|e| e.to_string())?;
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            progress(n, total);
                            Ok(PreparedUser {
                                user: NewUser {
                                    pin: None,
                                    ..u.clone()
                                },
                                pin_hash,
                                password_hash: None,
                            })
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
            })
            .collect();
        for h in handles {
            out.push(
                h.join()
                    .unwrap_or_else(|_| Err("hashing thread panicked".into())),
            );
        }
    });
    let mut all = Vec::with_capacity(total);
    for part in out {
        all.extend(part?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ExistingKeys {
        let mut k = ExistingKeys::default();
        k.profiles.insert("Standard".into());
        k.user_ids.insert("taken".into());
        k.self_service_ids.insert("5555".into(), "taken".into());
        k
    }

    #[test]
    fn good_file() {
        let csv =
            "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
                   alice,Alice,A,,1234,1001,Standard\n\
                   bob,Bob,B,7777,4321,1002,\n";
        let (u, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Refuse);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].effective_self_service_id().unwrap().as_str(), "1001");
        assert_eq!(u[1].effective_self_service_id().unwrap().as_str(), "7777");
    }

    #[test]
    fn every_bad_row_reason() {
        let csv =
            "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
                   ok1,A,A,,1234,1001,\n\
                   ok1,B,B,,1234,1002,\n\
                   taken,C,C,,1234,1003,\n\
                   d,D,D,,12a4,1004,\n\
                   e,E,E,,1234,10x5,\n\
                   f,F,F,,1234,1006,Nope\n\
                   g,G,G,5555,1234,1007,\n\
                   h,H,H,,1234,1001,\n\
                   i,I,I,,1234,\n\
                   j,J,J,,,1010,\n\
                   k,K,K,,1234,,\n\
                   bad id,L,L,,1234,1012,\n";
        let (u, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Refuse);
        assert_eq!(u.len(), 1);
        let by_line: Vec<(u64, &str)> = e.iter().map(|r| (r.line, r.reason.as_str())).collect();
        let expect = [
            (3, "appears twice"),
            (4, "already exists"),
            (5, "digits only"),
            (6, "primary_extension"),
            (7, "does not exist"),
            (8, "already used"),
            (9, "appears twice"),
            (10, "expected 7 columns"),
            (11, "pin: must not be empty for a new user"),
            (12, "no primary_extension"),
            (13, "spaces"),
        ];
        assert_eq!(by_line.len(), expect.len(), "{by_line:?}");
        for ((line, reason), (el, er)) in by_line.iter().zip(expect) {
            assert_eq!(*line, el, "{reason}");
            assert!(
                reason.contains(er),
                "line {line}: `{reason}` should contain `{er}`"
            );
        }
        // A bad PIN is never echoed back.
        assert!(!e.iter().any(|r| r.reason.contains("12a4")));
    }

    #[test]
    fn crlf_files_report_the_same_lines() {
        let csv =
            "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\r\n\
                   ok1,A,A,,1234,1001,\r\n\
                   bad,B,B,,12x4,1002,\r\n\
                   ok2,C,C,,1234,1003,\r\n";
        let (u, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Refuse);
        assert_eq!(u.len(), 2);
        assert_eq!(e.iter().map(|r| r.line).collect::<Vec<_>>(), [3], "{e:?}");
    }

    #[test]
    fn names_are_bounded_and_printable() {
        let long = "x".repeat(10_000);
        let csv = format!(
            "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
             a,{long},A,,1234,1001,\n\
             b,B,\"B{bell}\",,1234,1002,\n",
            bell = '\u{7}'
        );
        let (u, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Refuse);
        assert!(u.is_empty());
        let reasons: Vec<(u64, &str)> = e.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert!(
            reasons[0].0 == 2
                && reasons[0]
                    .1
                    .contains("first_name: must be at most 64 characters"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].0 == 3
                && reasons[1]
                    .1
                    .contains("last_name: must not contain control characters"),
            "{reasons:?}"
        );
    }

    #[test]
    fn update_mode_changes_existing_users_and_keeps_their_pin_when_empty() {
        let csv =
            "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
                   taken,T,T,5555,,1001,\n\
                   new1,N,N,,,1002,\n\
                   new2,N,N,5555,1234,1003,\n";
        let (u, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Update);
        // The existing user keeps its own self-service ID and its PIN; a new user needs a PIN
        // and cannot take another user's self-service ID.
        assert_eq!(u.len(), 1, "{e:?}");
        assert_eq!(
            (u[0].user_id.as_str(), u[0].pin.as_deref()),
            ("taken", None)
        );
        let lines: Vec<(u64, &str)> = e.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert!(
            lines[0].0 == 3 && lines[0].1.contains("pin: must not be empty"),
            "{lines:?}"
        );
        assert!(
            lines[1].0 == 4 && lines[1].1.contains("`5555`"),
            "{lines:?}"
        );
        let (_, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Refuse);
        assert!(e[0].reason.contains("already exists"), "{e:?}");
    }

    #[test]
    fn export_reimports_as_the_same_users() {
        let csv =
            "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
                   a,\"Ann, Jr.\",A,77,1234,1001,Standard\n\
                   b,Bob,\"O\"\"Neil\",,4321,1002,\n";
        let (users, e) = parse_users_csv(csv.as_bytes(), &keys(), Existing::Refuse);
        assert!(e.is_empty(), "{e:?}");
        let stored: Vec<EndUser> = users
            .iter()
            .map(|n| EndUser {
                user_id: n.user_id.clone(),
                first_name: n.first_name.clone(),
                last_name: n.last_name.clone(),
                self_service_id: n.self_service_id.clone(),
                primary_extension: n.primary_extension.clone(),
                user_profile: n.user_profile.clone(),
                enabled: true,
                pin_hash: Some("h".into()),
                password_hash: None,
            })
            .collect();
        let mut out = Vec::new();
        write_users_csv(&stored, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&HEADER.join(",")), "{text}");
        let mut k = keys();
        k.user_ids.extend(["a".to_owned(), "b".to_owned()]);
        k.self_service_ids.insert("77".into(), "a".into());
        k.self_service_ids.insert("1002".into(), "b".into());
        let (again, e) = parse_users_csv(text.as_bytes(), &k, Existing::Update);
        assert!(e.is_empty(), "{e:?}");
        for (x, y) in users.iter().zip(&again) {
            assert_eq!(
                (
                    &x.user_id,
                    &x.first_name,
                    &x.last_name,
                    &x.self_service_id,
                    &x.primary_extension,
                    &x.user_profile
                ),
                (
                    &y.user_id,
                    &y.first_name,
                    &y.last_name,
                    &y.self_service_id,
                    &y.primary_extension,
                    &y.user_profile
                )
            );
            assert_eq!(y.pin, None);
        }
    }

    #[test]
    fn bad_header() {
        let (_, e) = parse_users_csv("id,name\nx,y\n".as_bytes(), &keys(), Existing::Refuse);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 1);
        assert!(e[0].reason.contains("header must be"));
    }
}
