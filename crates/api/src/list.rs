//! Lists: `?search=` (a prefix, or `*` wildcards), `sort`, `desc`, `offset`, `limit`, and the
//! page that answers with the total number of matches. Query strings are parsed so that a wrong
//! parameter is a 422 naming it.

use crate::problem::Problem;
use axum::extract::FromRequestParts;
use axum::http::{request::Parts, StatusCode};
use selfprov_provisioning::model::FieldError;
use selfprov_provisioning::store::{DeviceSort, ListQuery, Pattern, UserSort};
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
    /// Skip this many matches.
    pub offset: Option<u64>,
    /// At most this many items (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// A list's sort keys.
pub trait SortKey: Sized + Default {
    fn parse(s: &str) -> Result<Self, FieldError>;
}
impl SortKey for UserSort {
    fn parse(s: &str) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl SortKey for DeviceSort {
    fn parse(s: &str) -> Result<Self, FieldError> {
        s.parse()
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
}

impl ListParams {
    pub fn query<S: SortKey>(&self) -> Result<ListQuery<S>, Problem> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit > MAX_LIMIT {
            return Err(FieldError::new("limit", format!("must be at most {MAX_LIMIT}")).into());
        }
        Ok(ListQuery {
            search: self.search.as_deref().map(Pattern::new).transpose()?,
            sort: self
                .sort
                .as_deref()
                .map(S::parse)
                .transpose()?
                .unwrap_or_default(),
            descending: self.desc.unwrap_or(false),
            offset: self.offset.unwrap_or(0),
            limit: Some(limit),
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

impl<T> ListPage<T> {
    pub fn of<D, S>(
        p: selfprov_provisioning::store::Page<D>,
        q: &ListQuery<S>,
        f: impl Fn(&D) -> T,
    ) -> ListPage<T> {
        ListPage {
            items: p.items.iter().map(f).collect(),
            total: p.total,
            offset: q.offset,
            limit: q.limit.unwrap_or(DEFAULT_LIMIT),
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
}
