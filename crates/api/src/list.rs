//! Lists: `?search=` (a prefix, or `*` wildcards), `sort`, `desc`, `offset` or `after`, `limit`,
//! and the page that answers with the total number of matches and the cursor of the next page.
//! Query strings are parsed so that a wrong parameter is a 422 naming it.
//!
//! `after` is keyset paging: the cursor names the last item seen (its sort key and primary key),
//! so the next page starts there through the index, however deep in the list — where `offset`
//! makes the database walk past every skipped row. The cursor is opaque to clients (URL-safe
//! base64 of a small JSON object) and is refused when it was made for another sort or order.

use crate::problem::Problem;
use axum::extract::FromRequestParts;
use axum::http::{request::Parts, StatusCode};
use base64::Engine;
use selfprov_provisioning::model::FieldError;
use selfprov_provisioning::store::{After, DeviceSort, KeyValue, ListQuery, Pattern, UserSort};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;
/// The largest page.
pub const MAX_LIMIT: u64 = 1000;

/// A query string parsed into `T`; an unknown or malformed parameter is a 422 naming it.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                let msg = e.inner().to_string();
                let field = msg
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split_once('`'))
                    .map(|(f, _)| f.to_owned())
                    .unwrap_or_else(|| e.path().to_string());
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "Invalid input",
                    format!("{field}: {msg}"),
                );
                p.field = Some(field);
                p
            })
    }
}

/// Search, sort and paging of a list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A prefix (`jsm`), or a pattern with `*` wildcards (`*smith`, `00:11:22*`); matches the
    /// list's key columns (users: user ID, first and last name, primary extension, self-service
    /// ID; devices: name, MAC, DN, owner, model; others: the name). Case is ignored.
    pub search: Option<String>,
    /// Sort key: users `user_id`, `last_name`, `primary_extension`; devices `name`, `dn`,
    /// `owner`, `model`, `updated`; others `name`.
    pub sort: Option<String>,
    /// Sort descending.
    pub desc: Option<bool>,
    /// Skip this many matches. For walking a long list, `after` is faster.
    pub offset: Option<u64>,
    /// Start after the item a previous page's `next` names (keyset paging; same `search`,
    /// `sort` and `desc` as that page). Not with `offset`.
    pub after: Option<String>,
    /// At most this many items (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// A list's sort keys.
pub trait SortKey: Sized + Default {
    fn parse(s: &str) -> Result<Self, FieldError>;
    /// The name `sort=` takes for this key.
    fn name(&self) -> &'static str;
}
impl SortKey for UserSort {
    fn parse(s: &str) -> Result<Self, FieldError> {
        s.parse()
    }
    fn name(&self) -> &'static str {
        match self {
            UserSort::UserId => "user_id",
            UserSort::LastName => "last_name",
            UserSort::PrimaryExtension => "primary_extension",
        }
    }
}
impl SortKey for DeviceSort {
    fn parse(s: &str) -> Result<Self, FieldError> {
        s.parse()
    }
    fn name(&self) -> &'static str {
        match self {
            DeviceSort::Name => "name",
            DeviceSort::Dn => "dn",
            DeviceSort::Owner => "owner",
            DeviceSort::Model => "model",
            DeviceSort::Updated => "updated",
        }
    }
}
/// Lists sorted by name only (templates, profiles).
impl SortKey for () {
    fn parse(s: &str) -> Result<Self, FieldError> {
        match s {
            "name" => Ok(()),
            _ => Err(FieldError::new("sort", format!("`{s}` is not one of name"))),
        }
    }
    fn name(&self) -> &'static str {
        "name"
    }
}

/// What a keyset cursor holds: the item it follows, and the order it was made for.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Sort key name.
    s: String,
    /// Descending.
    d: bool,
    /// The item's sort key value.
    k: KeyValue,
    /// The item's primary key.
    t: String,
}

const CURSOR: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn encode_cursor(a: &After, sort: &str, descending: bool) -> String {
    let c = Cursor {
        s: sort.to_owned(),
        d: descending,
        k: a.key.clone(),
        t: a.tie.clone(),
    };
    CURSOR.encode(serde_json::to_vec(&c).unwrap_or_default())
}

fn decode_cursor(text: &str, sort: &str, descending: bool) -> Result<After, FieldError> {
    let bad = || {
        FieldError::new(
            "after",
            "is not a cursor this list gave (use a page's `next`)",
        )
    };
    let c: Cursor = CURSOR
        .decode(text.trim())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(bad)?;
    if c.s != sort || c.d != descending {
        return Err(FieldError::new(
            "after",
            format!(
                "was made for sort={}{}: ask again from the first page with this order",
                c.s,
                if c.d { "&desc=true" } else { "" }
            ),
        ));
    }
    Ok(After { key: c.k, tie: c.t })
}

impl ListParams {
    pub fn query<S: SortKey>(&self) -> Result<ListQuery<S>, Problem> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit > MAX_LIMIT {
            return Err(FieldError::new("limit", format!("must be at most {MAX_LIMIT}")).into());
        }
        let sort: S = self
            .sort
            .as_deref()
            .map(S::parse)
            .transpose()?
            .unwrap_or_default();
        let descending = self.desc.unwrap_or(false);
        if self.after.is_some() && self.offset.is_some() {
            return Err(FieldError::new("after", "cannot be given with `offset`: use one").into());
        }
        let after = self
            .after
            .as_deref()
            .map(|a| decode_cursor(a, sort.name(), descending))
            .transpose()?;
        Ok(ListQuery {
            search: self.search.as_deref().map(Pattern::new).transpose()?,
            sort,
            descending,
            offset: self.offset.unwrap_or(0),
            limit: Some(limit),
            after,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: u64,
    /// The `offset` asked for (0 with `after`).
    pub offset: u64,
    pub limit: u64,
    /// The cursor of the next page (pass it as `after`); absent on the last page.
    pub next: Option<String>,
}

impl<T> ListPage<T> {
    pub fn of<D, S: SortKey>(
        p: selfprov_provisioning::store::Page<D>,
        q: &ListQuery<S>,
        f: impl Fn(&D) -> T,
    ) -> ListPage<T> {
        ListPage {
            items: p.items.iter().map(f).collect(),
            total: p.total,
            offset: q.offset,
            limit: q.limit.unwrap_or(DEFAULT_LIMIT),
            next: p
                .next
                .map(|a| encode_cursor(&a, q.sort.name(), q.descending)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_checked() {
        let p = ListParams {
            limit: Some(5000),
            ..Default::default()
        };
        assert_eq!(
            p.query::<UserSort>().unwrap_err().field.as_deref(),
            Some("limit")
        );
        let p = ListParams {
            sort: Some("colour".into()),
            ..Default::default()
        };
        assert_eq!(p.query::<()>().unwrap_err().field.as_deref(), Some("sort"));
        let p = ListParams {
            search: Some("*smith".into()),
            sort: Some("last_name".into()),
            desc: Some(true),
            ..Default::default()
        };
        let q = p.query::<UserSort>().unwrap();
        assert_eq!(
            (q.sort, q.descending, q.limit),
            (UserSort::LastName, true, Some(100))
        );
    }

    #[test]
    fn cursors_come_back_for_the_order_they_were_made_for() {
        let a = After {
            key: KeyValue::Text("Smith".into()),
            tie: "jsmith".into(),
        };
        let text = encode_cursor(&a, "last_name", true);
        let p = |after: &str, desc| ListParams {
            sort: Some("last_name".into()),
            desc: Some(desc),
            after: Some(after.into()),
            ..Default::default()
        };
        assert_eq!(p(&text, true).query::<UserSort>().unwrap().after, Some(a));
        let e = p(&text, false).query::<UserSort>().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("after"));
        assert!(
            e.detail.contains("sort=last_name&desc=true"),
            "{}",
            e.detail
        );
        let e = p("not-a-cursor", true).query::<UserSort>().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("after"));
        let both = ListParams {
            offset: Some(5),
            ..p(&text, true)
        };
        assert_eq!(
            both.query::<UserSort>().unwrap_err().field.as_deref(),
            Some("after")
        );
    }
}
