//! Devices and the directory numbers they hold, in PostgreSQL.

use super::rows::*;
use super::{Checked, PgTx};
use crate::model::{Device, Dn, DnRange, FieldError};
use crate::store::{Credential, DeviceRows, DeviceSort, ListQuery, Page, StoreError, UnixMillis};
use std::collections::HashSet;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

const DEVICE: &str = "device";

impl PgTx<'_, '_> {
    /// A device write under its constraints, failures as the error an administrator can act on.
    fn write_device(&self, sql: &str, d: &Device, inserting: bool) -> Result<u64, StoreError> {
        let p: [&(dyn ToSql + Sync); 13] = [
            &d.name.as_str(),
            &d.model,
            &d.protocol,
            &d.class.as_str(),
            &d.secure,
            &d.dn.as_ref().map(|x| x.as_str()),
            &d.owner.as_ref().map(|x| x.as_str()),
            &d.auto_registered,
            &d.udt,
            &d.ult,
            &d.description,
            &d.created_at,
            &d.updated_at,
        ];
        let r: Checked<u64> = self.checked(sql, &p)?;
        match r {
            Ok(n) => Ok(n),
            Err(c) if c == SqlState::FOREIGN_KEY_VIOLATION => {
                Err(FieldError::new("owner", "no such user").into())
            }
            Err(c) if c == SqlState::UNIQUE_VIOLATION => {
                if inserting && self.device(d.name.as_str())?.is_some() {
                    return Err(StoreError::AlreadyExists {
                        kind: DEVICE,
                        name: d.name.to_string(),
                    });
                }
                Err(
                    FieldError::new("dn", "is already the DN of another auto-registered device")
                        .into(),
                )
            }
            Err(c) => Err(StoreError::Database(format!(
                "device `{}`: constraint {} failed",
                d.name,
                c.code()
            ))),
        }
    }
}

impl DeviceRows for PgTx<'_, '_> {
    fn device(&self, name: &str) -> Result<Option<Device>, StoreError> {
        self.row(
            &format!("SELECT {DEVICE_COLS} FROM device WHERE name = $1"),
            &[&name],
            row_device,
        )
    }

    fn device_by_temporary_dn(&self, dn: &str) -> Result<Option<Device>, StoreError> {
        self.row(
            &format!("SELECT {DEVICE_COLS} FROM device WHERE dn = $1 AND auto_registered"),
            &[&dn],
            row_device,
        )
    }

    fn devices(&self, q: &ListQuery<DeviceSort>) -> Result<Page<Device>, StoreError> {
        let like = q.search.as_ref().map(|p| p.to_like().to_ascii_lowercase());
        let mac = q
            .search
            .as_ref()
            .and_then(|p| p.mac_variant())
            .map(|p| p.to_like().to_ascii_lowercase());
        let terms = "lower(name) LIKE $1 OR lower(dn) LIKE $1 OR lower(owner) LIKE $1 \
                     OR lower(model) LIKE $1";
        let (cond, params): (String, Vec<&(dyn ToSql + Sync)>) = match (&like, &mac) {
            (None, _) => ("TRUE".into(), vec![]),
            (Some(l), None) => (format!("({terms})"), vec![l]),
            (Some(l), Some(m)) => (format!("({terms} OR lower(name) LIKE $2)"), vec![l, m]),
        };
        Paged {
            cols: DEVICE_COLS,
            table: "device",
            cond: &cond,
            order: device_order(q.sort, q.descending),
            limit: q.limit,
            offset: q.offset,
            after: q.after.as_ref(),
        }
        .run(self, &params, row_device)
    }

    fn insert_device(&self, d: &Device) -> Result<(), StoreError> {
        self.write_device(
            &format!(
                "INSERT INTO device ({DEVICE_COLS}) VALUES ({})",
                placeholders(13)
            ),
            d,
            true,
        )
        .map(|_| ())
    }

    fn update_device(&self, d: &Device) -> Result<(), StoreError> {
        let n = self.write_device(
            "UPDATE device SET model=$2, protocol=$3, class=$4, secure=$5, dn=$6, owner=$7, auto_registered=$8, udt=$9, ult=$10, \
             description=$11, created_at=$12, updated_at=$13 WHERE name=$1",
            d,
            false,
        )?;
        one_row(n as usize, DEVICE, d.name.as_str())?;
        self.subscriber_dn(d.name.as_str(), d.dn.as_ref().map(|x| x.as_str()))
    }

    fn delete_device(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used("DELETE FROM device WHERE name = $1", name, DEVICE, &[])?;
        self.drop_subscriber(name)
    }

    fn owned_count(&self, user_id: &str) -> Result<u32, StoreError> {
        let r = self.one("SELECT COUNT(*) FROM device WHERE owner = $1", &[&user_id])?;
        Ok(count(col(&r, 0)?))
    }

    fn owned_devices(&self, user_id: &str) -> Result<Vec<Device>, StoreError> {
        self.list(
            &format!("SELECT {DEVICE_COLS} FROM device WHERE owner = $1 ORDER BY name"),
            &[&user_id],
            row_device,
        )
    }

    fn dn_taken(&self, dn: &Dn) -> Result<bool, StoreError> {
        let r = self.one(
            "SELECT EXISTS(SELECT 1 FROM device WHERE dn = $1) OR EXISTS(SELECT 1 FROM end_user WHERE primary_extension = $1)",
            &[&dn.as_str()],
        )?;
        col(&r, 0)
    }

    fn used_dns(&self, range: &DnRange) -> Result<HashSet<u128>, StoreError> {
        let width = range.start().as_str().len() as i64;
        let rows = self.query(
            "SELECT dn FROM device WHERE dn BETWEEN $1 AND $2 AND length(dn) = $3::bigint \
             UNION SELECT primary_extension FROM end_user WHERE primary_extension BETWEEN $1 AND $2 AND length(primary_extension) = $3::bigint",
            &[&range.start().as_str(), &range.end().as_str(), &width],
        )?;
        let mut used = HashSet::new();
        for r in rows {
            if let Ok(v) = col::<String>(&r, 0)?.parse::<u128>() {
                used.insert(v);
            }
        }
        Ok(used)
    }

    fn credential(&self, device: &str) -> Result<Option<Credential>, StoreError> {
        let r = self.opt(
            "SELECT generation, issued_ms, fetched_ms FROM device_credential WHERE device = $1",
            &[&device],
        )?;
        r.map(|r| {
            Ok(Credential {
                generation: count(col(&r, 0)?),
                issued: UnixMillis(col(&r, 1)?),
                fetched: col::<Option<i64>>(&r, 2)?.map(UnixMillis),
            })
        })
        .transpose()
    }

    fn put_credential(&self, device: &str, c: &Credential) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO device_credential (device, generation, issued_ms, fetched_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device) DO UPDATE SET generation = excluded.generation, issued_ms = excluded.issued_ms,
                 fetched_ms = excluded.fetched_ms",
            &[&device, &i64::from(c.generation), &c.issued.0, &c.fetched.map(|t| t.0)],
        )?;
        self.sync_subscriber(device, c.generation)
    }

    fn mark_seen(&self, device: &str, at: UnixMillis) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO device_seen (device, seen_ms) SELECT name, $2 FROM device WHERE name = $1
             ON CONFLICT (device) DO UPDATE SET seen_ms = GREATEST(device_seen.seen_ms, excluded.seen_ms)",
            &[&device, &at.0],
        )?;
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
        let last =
            "GREATEST(COALESCE(s.seen_ms, 0), COALESCE(c.fetched_ms, 0), d.updated_at * 1000)";
        self.list(
            &format!(
                "SELECT {cols} FROM device d
                 LEFT JOIN device_seen s ON s.device = d.name
                 LEFT JOIN device_credential c ON c.device = d.name
                 WHERE d.auto_registered AND d.owner IS NULL AND {last} < $1
                 ORDER BY {last}, d.name
                 LIMIT $2"
            ),
            &[&before.0, &(limit.min(i64::MAX as usize) as i64)],
            row_device,
        )
    }
}
