//! `/accounts` and `/tokens`: administrator accounts (administrators manage them; anyone may
//! change their own password) and API tokens (shown once when made; anyone may make tokens for
//! themselves with at most their role, administrators for anyone; revoking likewise).

use crate::auth::{Administer, Allowed, Read};
use crate::body::{blocking, location, parse_json, JsonBody, NoStore};
use crate::list::QueryParams;
use crate::problem::Problem;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use selfprov_operations::accounts::AccountView;
use selfprov_operations::tokens::{NewToken, TokenRequest, TokenView};
use selfprov_operations::Action;
use selfprov_provisioning::accounts::Role;
use selfprov_provisioning::model::FieldError;
use selfprov_provisioning::UnixMillis;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An administrator account (never its password or hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub name: String,
    /// `administrator`, `helpdesk` or `read-only`.
    #[schema(value_type = String)]
    pub role: Role,
    /// Wrong passwords in a row.
    pub failed_attempts: u32,
    pub locked_until_ms: Option<i64>,
    pub created_ms: i64,
}

impl From<AccountView> for Account {
    fn from(a: AccountView) -> Self {
        let AccountView {
            name,
            role,
            failed_attempts,
            locked_until_ms,
            created_ms,
        } = a;
        Account {
            name,
            role,
            failed_attempts,
            locked_until_ms,
            created_ms,
        }
    }
}

/// A new account.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    /// 12 to 256 characters.
    pub password: String,
}

/// A change of role.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(value_type = String)]
    pub role: Role,
}

/// A new password.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// The administrator accounts.
#[utoipa::path(get, path = "/accounts", tag = "accounts", description = "Role: administrator.",
    responses((status = 200, body = Vec<Account>)))]
pub async fn list(
    _: Allowed<Administer>,
    State(s): State<ApiState>,
) -> Result<Json<Vec<Account>>, Problem> {
    blocking(move || {
        Ok(Json(
            s.ops.accounts()?.into_iter().map(Account::from).collect(),
        ))
    })
    .await
}

/// Create an administrator account.
#[utoipa::path(post, path = "/accounts", tag = "accounts", description = "Role: administrator. Audited (never the password).",
    request_body = NewAccount,
    responses((status = 201, body = Account), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    JsonBody(a): JsonBody<NewAccount>,
) -> Result<Response, Problem> {
    blocking(move || {
        let made = s
            .ops
            .create_account(&who.actor(), &a.name, a.role, &a.password)?;
        let mut r = (StatusCode::CREATED, Json(Account::from(made))).into_response();
        if let Ok(l) = HeaderValue::from_str(&location("/accounts", &a.name)) {
            r.headers_mut().insert(header::LOCATION, l);
        }
        Ok(r)
    })
    .await
}

/// Change an account's role (its tokens never exceed it).
#[utoipa::path(patch, path = "/accounts/{name}", tag = "accounts",
    description = "Role: administrator. The last administrator cannot be demoted.",
    params(("name" = String, Path)), request_body = RoleChange,
    responses((status = 200, body = Account), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(c): JsonBody<RoleChange>,
) -> Result<Json<Account>, Problem> {
    blocking(move || {
        Ok(Json(
            s.ops.set_account_role(&who.actor(), &name, c.role)?.into(),
        ))
    })
    .await
}

/// Delete an account with its tokens and sessions.
#[utoipa::path(delete, path = "/accounts/{name}", tag = "accounts",
    description = "Role: administrator. The last administrator cannot be deleted.",
    params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn delete(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    blocking(move || {
        s.ops.delete_account(&who.actor(), &name)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Set an account's password (and clear its lockout).
#[utoipa::path(post, path = "/accounts/{name}/password", tag = "accounts",
    description = "Role: administrator, or any role for one's own account.",
    params(("name" = String, Path)), request_body = NewPassword,
    responses((status = 204, description = "Changed"), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn password(
    who: Allowed<Read>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<StatusCode, Problem> {
    // Whose password, before what the body says.
    if who.who.name.as_str() != name && !who.who.may(Action::Administer) {
        return Err(Problem::forbidden(
            "setting another account's password needs the administrator role",
        ));
    }
    let p: NewPassword = parse_json(&body)?;
    blocking(move || {
        s.ops.set_password(&who.actor(), &name, &p.password)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Clear an account's lockout after too many wrong passwords.
#[utoipa::path(post, path = "/accounts/{name}/unlock", tag = "accounts", description = "Role: administrator.",
    params(("name" = String, Path)),
    responses((status = 200, body = Account), (status = 404, body = Problem)))]
pub async fn unlock(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Account>, Problem> {
    blocking(move || Ok(Json(s.ops.unlock_account(&who.actor(), &name)?.into()))).await
}

/// An API token (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Token {
    /// The public part (`spt_<id>_…`), for listing and revoking.
    pub id: String,
    pub owner: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub description: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

impl From<TokenView> for Token {
    fn from(t: TokenView) -> Self {
        let TokenView {
            id,
            owner,
            role,
            description,
            created_ms,
            expires_ms,
            last_used_ms,
        } = t;
        Token {
            id,
            owner,
            role,
            description,
            created_ms,
            expires_ms,
            last_used_ms,
        }
    }
}

/// A token just made, with its secret: shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: Token,
    /// Send it as `Authorization: Bearer <secret>`. It cannot be shown again.
    pub secret: String,
}

impl From<NewToken> for CreatedToken {
    fn from(t: NewToken) -> Self {
        CreatedToken {
            token: t.token.into(),
            secret: t.secret,
        }
    }
}

/// What token to make.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Whose token (default: the caller). Only administrators make tokens for others.
    pub owner: Option<String>,
    /// Default: the owner's role; never more.
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    #[serde(default)]
    pub description: String,
    /// Days until it expires (default 90; 0: never).
    pub expires_in_days: Option<u32>,
    /// Or seconds until it expires (at least 1), instead of `expires_in_days`.
    pub expires_in_seconds: Option<u64>,
}

/// Whose tokens to list.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenListParams {
    /// Only this account's tokens.
    pub owner: Option<String>,
}

/// The tokens: an administrator sees every one, others their own.
#[utoipa::path(get, path = "/tokens", tag = "tokens", description = "Role: any.",
    params(TokenListParams),
    responses((status = 200, body = Vec<Token>)))]
pub async fn tokens(
    who: Allowed<Read>,
    State(s): State<ApiState>,
    QueryParams(p): QueryParams<TokenListParams>,
) -> Result<Json<Vec<Token>>, Problem> {
    let owner = if who.who.may(Action::Administer) {
        p.owner
    } else if p
        .owner
        .as_deref()
        .is_some_and(|o| o != who.who.name.as_str())
    {
        // Others see their own tokens only: someone else's are none of theirs.
        return Ok(Json(Vec::new()));
    } else {
        Some(who.who.name.to_string())
    };
    blocking(move || {
        Ok(Json(
            s.ops
                .tokens(owner.as_deref())?
                .into_iter()
                .map(Token::from)
                .collect(),
        ))
    })
    .await
}

/// Make a token; its secret is answered once.
#[utoipa::path(post, path = "/tokens", tag = "tokens",
    description = "Role: any, for oneself and at most one's own role; administrators for anyone. The answer is not cached (`Cache-Control: no-store`); only the token's SHA-256 is stored.",
    request_body = TokenSpec,
    responses((status = 201, body = CreatedToken), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    who: Allowed<Read>,
    State(s): State<ApiState>,
    JsonBody(t): JsonBody<TokenSpec>,
) -> Result<NoStore<CreatedToken>, Problem> {
    let owner = t.owner.unwrap_or_else(|| who.who.name.to_string());
    if owner != who.who.name.as_str() && !who.who.may(Action::Administer) {
        return Err(Problem::forbidden(
            "a token for another account needs the administrator role",
        ));
    }
    const MAX_SECONDS: u64 = 3650 * 86_400;
    let seconds = match (t.expires_in_days, t.expires_in_seconds) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "expires_in_seconds",
                "give either expires_in_days or expires_in_seconds",
            )
            .into())
        }
        (Some(days), None) if days > 3650 => {
            return Err(FieldError::new("expires_in_days", "must be at most 3650").into())
        }
        (None, Some(s)) if !(1..=MAX_SECONDS).contains(&s) => {
            return Err(FieldError::new(
                "expires_in_seconds",
                format!("must be 1 to {MAX_SECONDS}"),
            )
            .into())
        }
        (None, Some(s)) => s,
        (days, None) => u64::from(days.unwrap_or(90)) * 86_400,
    };
    let now = UnixMillis::now();
    let req = TokenRequest {
        owner,
        role: t.role,
        description: t.description,
        expires: (seconds > 0).then(|| now.plus(std::time::Duration::from_secs(seconds))),
    };
    blocking(move || {
        let made = s.ops.create_token(&who.actor(), &req, now)?;
        Ok(NoStore(StatusCode::CREATED, made.into()))
    })
    .await
}

/// Revoke a token: it stops working at once.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens",
    description = "Role: any for one's own tokens; administrators for any.",
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    who: Allowed<Read>,
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    blocking(move || {
        if !who.who.may(Action::Administer) {
            let own = s.ops.tokens(Some(who.who.name.as_str()))?;
            if !own.iter().any(|t| t.id == id) {
                return Err(Problem::forbidden(
                    "revoking another account's token needs the administrator role",
                ));
            }
        }
        s.ops.revoke_token(&who.actor(), &id)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
        .routes(routes!(password))
        .routes(routes!(unlock))
        .routes(routes!(tokens, create_token))
        .routes(routes!(revoke))
}
