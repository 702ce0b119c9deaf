//! Devices and the directory numbers they hold, in SQLite.

use super::rows::*;
use super::SqliteTx;
use crate::model::{Device, Dn, DnRange, FieldError};
use crate::store::{Credential, DeviceRows, DeviceSort, ListQuery, Page, StoreError, UnixMillis};
use rusqlite::{params, OptionalExtension};
use std::collections::HashSet;

const DEVICE: &str = "device";

impl SqliteTx<'_> {
    /// A unique or foreign-key failure of a device write, as the error an administrator can act on.
    fn device_conflict(&self, e: rusqlite::Error, d: &Device, inserting: bool) -> StoreError {
        if is_foreign_key_violation(&e) {
            return FieldError::new("owner", "no such user").into();
        }
        if !is_unique_violation(&e) {
            return e.into();
        }
        if inserting && matches!(self.device(d.name.as_str()), Ok(Some(_))) {
            return StoreError::AlreadyExists {
                kind: DEVICE,
                name: d.name.to_string(),
            };
        }
        FieldError::new("dn", "is already the DN of another auto-registered device").into()
    }
}

impl DeviceRows for SqliteTx<'_> {
    fn device(&self, name: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .c
            .prepare_cached(&format!("SELECT {DEVICE_COLS} FROM device WHERE name = ?1"))?
            .query_row([name], row_device)
            .optional()?)
    }

    fn device_by_temporary_dn(&self, dn: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLS} FROM device WHERE dn = ?1 AND auto_registered = 1"
            ))?
            .query_row([dn], row_device)
            .optional()?)
    }

    fn devices(&self, q: &ListQuery<DeviceSort>) -> Result<Page<Device>, StoreError> {
        let like = q.search.as_ref().map(|p| p.to_like());
        let mac = q
            .search
            .as_ref()
            .and_then(|p| p.mac_variant())
            .map(|p| p.to_like());
        // As for users: no condition without a search; each term indexable with one.
        let terms =
            "name LIKE ?1 ESCAPE '\\' OR dn LIKE ?1 ESCAPE '\\' OR owner LIKE ?1 ESCAPE '\\' \
                     OR model LIKE ?1 ESCAPE '\\'";
        // A leading wildcard narrows through the trigram index: rows holding the pattern's
        // runs, or the runs of its MAC form (`*aa:bb*` is `AABB` in a device name).
        let trigrams = q
            .search
            .as_ref()
            .filter(|p| p.leading_wildcard())
            .and_then(|p| {
                let plain = p.trigram_query()?;
                match p.mac_variant() {
                    None => Some(plain),
                    Some(m) => Some(format!("({plain}) OR ({})", m.trigram_query()?)),
                }
            });
        let (mut cond, mut params): (String, Vec<&dyn rusqlite::ToSql>) = match (&like, &mac) {
            (None, _) => ("1".into(), vec![]),
            (Some(l), None) => (format!("({terms})"), vec![l]),
            (Some(l), Some(m)) => (format!("({terms} OR name LIKE ?2 ESCAPE '\\')"), vec![l, m]),
        };
        if let (Some(t), true) = (&trigrams, like.is_some()) {
            cond = format!("({} AND {cond})", in_search("device", params.len() + 1));
            params.push(t);
        }
        let page = Paged {
            cols: DEVICE_COLS,
            table: "device",
            cond: &cond,
            order: device_order(q.sort, q.descending),
            limit: q.limit,
            offset: q.offset,
            after: q.after.as_ref(),
        };
        page.run(self.c, &params, row_device)
    }

    fn insert_device(&self, d: &Device) -> Result<(), StoreError> {
        let r = self.c.execute(
            &format!("INSERT INTO device ({DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            rusqlite::params_from_iter(device_params(d)),
        );
        r.map(|_| ()).map_err(|e| self.device_conflict(e, d, true))
    }

    fn update_device(&self, d: &Device) -> Result<(), StoreError> {
        let r = self.c.execute(
            "UPDATE device SET model=?2, protocol=?3, class=?4, secure=?5, dn=?6, owner=?7, auto_registered=?8, udt=?9, ult=?10, \
             description=?11, created_at=?12, updated_at=?13 WHERE name=?1",
            rusqlite::params_from_iter(device_params(d)),
        );
        match r {
            Ok(n) => one_row(n, DEVICE, d.name.as_str()),
            Err(e) => Err(self.device_conflict(e, d, false)),
        }
    }

    fn delete_device(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used("DELETE FROM device WHERE name = ?1", name, DEVICE, &[])
    }

    fn owned_count(&self, user_id: &str) -> Result<u32, StoreError> {
        let n: i64 = self
            .c
            .prepare_cached("SELECT COUNT(*) FROM device WHERE owner = ?1")?
            .query_row([user_id], |r| r.get(0))?;
        Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn owned_devices(&self, user_id: &str) -> Result<Vec<Device>, StoreError> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {DEVICE_COLS} FROM device WHERE owner = ?1 ORDER BY name"
        ))?;
        let rows = st.query_map([user_id], row_device)?;
        Ok(rows.collect::<rusqlite::Result<Vec<Device>>>()?)
    }

    fn dn_taken(&self, dn: &Dn) -> Result<bool, StoreError> {
        Ok(self
            .c
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM device WHERE dn = ?1) OR EXISTS(SELECT 1 FROM end_user WHERE primary_extension = ?1)",
            )?
            .query_row([dn.as_str()], |r| r.get::<_, bool>(0))?)
    }

    fn used_dns(&self, range: &DnRange) -> Result<HashSet<u128>, StoreError> {
        let mut used = HashSet::new();
        let mut st = self.c.prepare(
            "SELECT dn FROM device WHERE dn BETWEEN ?1 AND ?2 AND length(dn) = ?3 \
             UNION SELECT primary_extension FROM end_user WHERE primary_extension BETWEEN ?1 AND ?2 AND length(primary_extension) = ?3",
        )?;
        let width = range.start().as_str().len() as i64;
        for dn in st.query_map(
            params![range.start().as_str(), range.end().as_str(), width],
            |r| r.get::<_, String>(0),
        )? {
            if let Ok(v) = dn?.parse::<u128>() {
                used.insert(v);
            }
        }
        Ok(used)
    }

    fn credential(&self, device: &str) -> Result<Option<Credential>, StoreError> {
        let row: Option<(i64, i64, Option<i64>)> = self
            .c
            .prepare_cached(
                "SELECT generation, issued_ms, fetched_ms FROM device_credential WHERE device = ?1",
            )?
            .query_row([device], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        Ok(row.map(|(g, i, f)| Credential {
            generation: g.clamp(0, i64::from(u32::MAX)) as u32,
            issued: UnixMillis(i),
            fetched: f.map(UnixMillis),
        }))
    }

    fn put_credential(&self, device: &str, c: &Credential) -> Result<(), StoreError> {
        self.c
            .prepare_cached(
                "INSERT INTO device_credential (device, generation, issued_ms, fetched_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device) DO UPDATE SET generation = excluded.generation, issued_ms = excluded.issued_ms,
                     fetched_ms = excluded.fetched_ms",
            )?
            .execute(params![device, c.generation, c.issued.0, c.fetched.map(|t| t.0)])?;
        Ok(())
    }

    fn mark_seen(&self, device: &str, at: UnixMillis) -> Result<(), StoreError> {
        self.c
            .prepare_cached(
                "INSERT INTO device_seen (device, seen_ms) SELECT name, ?2 FROM device WHERE name = ?1
                 ON CONFLICT (device) DO UPDATE SET seen_ms = MAX(seen_ms, excluded.seen_ms)",
            )?
            .execute(params![device, at.0])?;
        Ok(())
    }

    fn unclaimed_unseen(
        &self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Device>, StoreError> {
        let cols = DEVICE_COLS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {cols} FROM device d
             LEFT JOIN device_seen s ON s.device = d.name
             LEFT JOIN device_credential c ON c.device = d.name
             WHERE d.auto_registered = 1 AND d.owner IS NULL
               AND MAX(COALESCE(s.seen_ms, 0), COALESCE(c.fetched_ms, 0), d.updated_at * 1000) < ?1
             ORDER BY MAX(COALESCE(s.seen_ms, 0), COALESCE(c.fetched_ms, 0), d.updated_at * 1000), d.name
             LIMIT ?2"
        ))?;
        let rows = st.query_map(params![before.0, limit as i64], row_device)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
