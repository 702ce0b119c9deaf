//! The five operations every named object has — list, create, read, update, delete — written
//! once over [`Resource`], which each kind implements with its calls of the operations layer and
//! its wire types. The [`crud_routes!`] macro gives each kind its own annotated handlers (the
//! OpenAPI document needs one function per route) that only call these.

use crate::body::{blocking, location, parse_json, Created, IfMatch, Tagged};
use crate::list::{ListPage, ListParams, SortKey};
use crate::problem::Problem;
use crate::ApiState;
use axum::http::StatusCode;
use axum::Json;
use selfprov_operations::{Actor, OpError, Operations, Versioned};
use selfprov_provisioning::model::FieldError;
use selfprov_provisioning::store::{ListQuery, Page as StorePage};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A kind of named object, as the API serves it.
pub trait Resource: 'static {
    /// The operations layer's type.
    type Domain: Versioned + Send + 'static;
    /// The JSON of a list item.
    type Wire: Serialize + Send + 'static;
    /// The JSON of one object read, created or updated.
    type Detail: Serialize + Send + 'static;
    /// The changes an administrator sends.
    type Patch: DeserializeOwned + Send + Sync + 'static;
    type Sort: SortKey + Send + 'static;
    /// `/users`
    const COLLECTION: &'static str;
    /// The field that names an object in a create body (`user_id`, `name`).
    const KEY: &'static str;

    fn list(
        ops: &Operations,
        q: &ListQuery<Self::Sort>,
    ) -> Result<StorePage<Self::Domain>, OpError>;
    fn get(ops: &Operations, key: &str) -> Result<Self::Domain, OpError>;
    fn create(
        ops: &Operations,
        who: &Actor,
        key: &str,
        p: &Self::Patch,
    ) -> Result<Self::Domain, OpError>;
    fn update(
        ops: &Operations,
        who: &Actor,
        key: &str,
        p: &Self::Patch,
    ) -> Result<Self::Domain, OpError>;
    fn delete(ops: &Operations, who: &Actor, key: &str) -> Result<(), OpError>;
    fn wire(d: &Self::Domain) -> Self::Wire;
    fn detail(ops: &Operations, d: &Self::Domain) -> Result<Self::Detail, OpError>;
    /// The key of an object (for `Location`).
    fn key_of(d: &Self::Domain) -> String;
}

pub async fn list<R: Resource>(
    s: ApiState,
    p: ListParams,
) -> Result<Json<ListPage<R::Wire>>, Problem> {
    let q = p.query::<R::Sort>()?;
    blocking(move || {
        let page = R::list(&s.ops, &q)?;
        Ok(Json(ListPage::of(page, &q, R::wire)))
    })
    .await
}

pub async fn get<R: Resource>(s: ApiState, key: String) -> Result<Tagged<R::Detail>, Problem> {
    blocking(move || {
        let d = R::get(&s.ops, &key)?;
        Ok(Tagged(d.version(), R::detail(&s.ops, &d)?))
    })
    .await
}

/// Create from a body that holds the key field and the patch's fields.
pub async fn create<R: Resource>(
    s: ApiState,
    who: Actor,
    mut v: serde_json::Value,
) -> Result<Created<R::Detail>, Problem> {
    let key = match v.as_object_mut().map(|o| o.remove(R::KEY)) {
        None => return Err(Problem::bad_request("the body must be a JSON object")),
        Some(Some(serde_json::Value::String(k))) => k,
        Some(_) => {
            return Err(FieldError::new(R::KEY, "is required (a string)").into());
        }
    };
    let patch: R::Patch = parse_json(v.to_string().as_bytes())?;
    blocking(move || {
        let d = R::create(&s.ops, &who, &key, &patch)?;
        Ok(Created(
            location(R::COLLECTION, &R::key_of(&d)),
            d.version(),
            R::detail(&s.ops, &d)?,
        ))
    })
    .await
}

pub async fn update<R: Resource>(
    s: ApiState,
    who: Actor,
    key: String,
    IfMatch(expect): IfMatch,
    patch: R::Patch,
) -> Result<Tagged<R::Detail>, Problem> {
    blocking(move || {
        let ops = s.ops.expecting(expect);
        let d = R::update(&ops, &who, &key, &patch)?;
        Ok(Tagged(d.version(), R::detail(&s.ops, &d)?))
    })
    .await
}

pub async fn delete<R: Resource>(
    s: ApiState,
    who: Actor,
    key: String,
    IfMatch(expect): IfMatch,
) -> Result<StatusCode, Problem> {
    blocking(move || {
        R::delete(&s.ops.expecting(expect), &who, &key)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// [`Resource`] for a kind whose detail is its list item, from the operations layer's calls:
/// `resource!(UdtResource: UniversalDeviceTemplate as Udt, UdtPatch, sort (), "/udts" by "name",
/// list udts, get udt, create create_udt, update update_udt, delete delete_udt, key |d| d.name)`.
#[macro_export]
macro_rules! resource {
    ($res:ident: $domain:ty as $wire:ty, $patch:ty, sort $sort:ty, $coll:literal by $key:literal,
     list $list:ident, get $get:ident, create $create:ident, update $update:ident, delete $delete:ident,
     key |$d:ident| $key_expr:expr) => {
        pub struct $res;

        impl $crate::crud::Resource for $res {
            type Domain = $domain;
            type Wire = $wire;
            type Detail = $wire;
            type Patch = $patch;
            type Sort = $sort;
            const COLLECTION: &'static str = $coll;
            const KEY: &'static str = $key;
            fn list(
                ops: &selfprov_operations::Operations,
                q: &selfprov_provisioning::store::ListQuery<$sort>,
            ) -> Result<selfprov_provisioning::store::Page<$domain>, selfprov_operations::OpError> {
                ops.$list(q)
            }
            fn get(ops: &selfprov_operations::Operations, key: &str) -> Result<$domain, selfprov_operations::OpError> {
                ops.$get(key)
            }
            fn create(
                ops: &selfprov_operations::Operations,
                who: &selfprov_operations::Actor,
                key: &str,
                p: &$patch,
            ) -> Result<$domain, selfprov_operations::OpError> {
                ops.$create(who, key, p)
            }
            fn update(
                ops: &selfprov_operations::Operations,
                who: &selfprov_operations::Actor,
                key: &str,
                p: &$patch,
            ) -> Result<$domain, selfprov_operations::OpError> {
                ops.$update(who, key, p)
            }
            fn delete(
                ops: &selfprov_operations::Operations,
                who: &selfprov_operations::Actor,
                key: &str,
            ) -> Result<(), selfprov_operations::OpError> {
                ops.$delete(who, key)
            }
            fn wire(d: &$domain) -> $wire {
                <$wire>::from(d)
            }
            fn detail(_: &selfprov_operations::Operations, d: &$domain) -> Result<$wire, selfprov_operations::OpError> {
                Ok(<$wire>::from(d))
            }
            fn key_of($d: &$domain) -> String {
                $key_expr.to_string()
            }
        }
    };
}

/// The annotated handlers of one kind: `crud_routes!(Resource, "tag", "/things", "/things/{name}",
/// "name", CreateBody, Wire, Detail, Patch, [summaries: list, create, get, update, delete])`
/// defines `list`, `create`, `get`, `update`, `delete` in the calling module and a `crud()`
/// router of them. Reading needs any role; changing needs `$change` (normally `Administer`).
#[macro_export]
macro_rules! crud_routes {
    (
        $r:ty, tag = $tag:literal, collection = $coll:literal, item = $item:literal, key = $key:literal,
        create = $create:ty, wire = $wire:ty, detail = $detail:ty, patch = $patch:ty,
        summaries = [$s_list:literal, $s_create:literal, $s_get:literal, $s_update:literal, $s_delete:literal]
    ) => {
        // utoipa names a generic body by its last path segment, looked up in this module.
        use $crate::list::ListPage;

        #[utoipa::path(get, path = $coll, tag = $tag, summary = $s_list,
            description = "Role: any. Search, sort and page with the query parameters.",
            params($crate::list::ListParams),
            responses((status = 200, body = ListPage<$wire>),
                      (status = 422, description = "A bad query parameter", body = $crate::problem::Problem)))]
        pub async fn list(
            _: $crate::auth::Allowed<$crate::auth::Read>,
            axum::extract::State(s): axum::extract::State<$crate::ApiState>,
            $crate::list::QueryParams(p): $crate::list::QueryParams<$crate::list::ListParams>,
        ) -> Result<axum::Json<$crate::list::ListPage<$wire>>, $crate::problem::Problem> {
            $crate::crud::list::<$r>(s, p).await
        }

        #[utoipa::path(post, path = $coll, tag = $tag, summary = $s_create,
            description = "Role: administrator. Answers 201 with `Location` and `ETag`.",
            request_body = $create,
            responses((status = 201, body = $detail),
                      (status = 409, description = "The name is taken", body = $crate::problem::Problem),
                      (status = 422, description = "A field is wrong", body = $crate::problem::Problem)))]
        pub async fn create(
            who: $crate::auth::Allowed<$crate::auth::Administer>,
            axum::extract::State(s): axum::extract::State<$crate::ApiState>,
            body: $crate::body::JsonBody<serde_json::Value>,
        ) -> Result<$crate::body::Created<$detail>, $crate::problem::Problem> {
            $crate::crud::create::<$r>(s, who.actor(), body.0).await
        }

        #[utoipa::path(get, path = $item, tag = $tag, summary = $s_get,
            description = "Role: any. The `ETag` is the version to send back in `If-Match` with a change.",
            params(($key = String, Path)),
            responses((status = 200, body = $detail, headers(("ETag" = String))),
                      (status = 404, body = $crate::problem::Problem)))]
        pub async fn get(
            _: $crate::auth::Allowed<$crate::auth::Read>,
            axum::extract::State(s): axum::extract::State<$crate::ApiState>,
            axum::extract::Path(key): axum::extract::Path<String>,
        ) -> Result<$crate::body::Tagged<$detail>, $crate::problem::Problem> {
            $crate::crud::get::<$r>(s, key).await
        }

        #[utoipa::path(patch, path = $item, tag = $tag, summary = $s_update,
            description = "Role: administrator. Only the fields given change. With `If-Match: <ETag>`, a change based on an outdated read is refused with 412.",
            params(($key = String, Path), ("If-Match" = Option<String>, Header)),
            request_body = $patch,
            responses((status = 200, body = $detail, headers(("ETag" = String))),
                      (status = 404, body = $crate::problem::Problem),
                      (status = 412, description = "Changed by someone else since the ETag was read", body = $crate::problem::Problem),
                      (status = 422, body = $crate::problem::Problem)))]
        pub async fn update(
            who: $crate::auth::Allowed<$crate::auth::Administer>,
            axum::extract::State(s): axum::extract::State<$crate::ApiState>,
            axum::extract::Path(key): axum::extract::Path<String>,
            if_match: $crate::body::IfMatch,
            $crate::body::JsonBody(p): $crate::body::JsonBody<$patch>,
        ) -> Result<$crate::body::Tagged<$detail>, $crate::problem::Problem> {
            $crate::crud::update::<$r>(s, who.actor(), key, if_match, p).await
        }

        #[utoipa::path(delete, path = $item, tag = $tag, summary = $s_delete,
            description = "Role: administrator. `If-Match` as for a change.",
            params(($key = String, Path), ("If-Match" = Option<String>, Header)),
            responses((status = 204, description = "Deleted"),
                      (status = 404, body = $crate::problem::Problem),
                      (status = 409, description = "Still in use", body = $crate::problem::Problem),
                      (status = 412, body = $crate::problem::Problem)))]
        pub async fn delete(
            who: $crate::auth::Allowed<$crate::auth::Administer>,
            axum::extract::State(s): axum::extract::State<$crate::ApiState>,
            axum::extract::Path(key): axum::extract::Path<String>,
            if_match: $crate::body::IfMatch,
        ) -> Result<axum::http::StatusCode, $crate::problem::Problem> {
            $crate::crud::delete::<$r>(s, who.actor(), key, if_match).await
        }

        /// The five routes of this kind.
        pub fn crud() -> utoipa_axum::router::OpenApiRouter<$crate::ApiState> {
            utoipa_axum::router::OpenApiRouter::new()
                .routes(utoipa_axum::routes!(list, create))
                .routes(utoipa_axum::routes!(get, update, delete))
        }
    };
}
