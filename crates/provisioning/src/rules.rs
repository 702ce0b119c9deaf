//! The assign rules of SPEC "Assigning a device to a user", as a pure function over what the
//! store has loaded. Every backend calls this inside its transaction, so the rules live once.

use crate::model::{model_class, Device, DeviceClass, Dn, EndUser, ObjectName, UserProfile};
use crate::OutcomeCode;
use serde::Serialize;

/// Why a device cannot be assigned. One stable code per variant ([`AssignError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("account locked after too many failed attempts")]
    AccountLocked,
    #[error("the user's profile does not allow self-provisioning, or the user is disabled")]
    NotAllowed,
    #[error("the user has no primary extension")]
    NoPrimaryExtension,
    #[error("the calling device is not an auto-registered device")]
    NotAutoregistered,
    #[error("the device uses a secure profile; self-provisioning is not supported for secured endpoints")]
    SecureDevice,
    #[error("the device model `{0}` is unknown or not provisionable")]
    InvalidModel(String),
    #[error("no universal device template in the user profile for {0} devices")]
    NoTemplate(&'static str),
    #[error("the user already owns {owned} devices (limit {limit})")]
    DeviceLimit { owned: u32, limit: u32 },
    #[error("internal error: {0}")]
    Internal(String),
    /// The database could not be reached; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    #[error("no such activation code")]
    CodeInvalid,
    #[error("the activation code expired")]
    CodeExpired,
    #[error("the activation code was already used")]
    CodeUsed,
    #[error("the activation code is for {0}, not this phone")]
    CodeWrongDevice(String),
}

impl AssignError {
    pub fn code(&self) -> OutcomeCode {
        match self {
            AssignError::InvalidCredentials => OutcomeCode::InvalidCredentials,
            AssignError::AccountLocked => OutcomeCode::AccountLocked,
            AssignError::NotAllowed => OutcomeCode::SelfprovNotAllowed,
            AssignError::NoPrimaryExtension => OutcomeCode::NoPrimaryExtension,
            AssignError::NotAutoregistered => OutcomeCode::NotAutoregistered,
            AssignError::SecureDevice => OutcomeCode::SecureDeviceNotSupported,
            AssignError::InvalidModel(_) => OutcomeCode::InvalidDeviceModel,
            AssignError::NoTemplate(_) => OutcomeCode::ModelPhonetemplateNotFound,
            AssignError::DeviceLimit { .. } => OutcomeCode::SelfprovDeviceLimit,
            AssignError::Internal(_) => OutcomeCode::InternalError,
            AssignError::Unavailable(_) => OutcomeCode::DatabaseUnavailable,
            AssignError::CodeInvalid => OutcomeCode::ActivationCodeInvalid,
            AssignError::CodeExpired => OutcomeCode::ActivationCodeExpired,
            AssignError::CodeUsed => OutcomeCode::ActivationCodeUsed,
            AssignError::CodeWrongDevice(_) => OutcomeCode::ActivationCodeWrongDevice,
        }
    }
}

/// What an assignment would do (shown to the caller before confirming).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssignmentPreview {
    pub user_id: String,
    pub extension: Dn,
    pub udt: ObjectName,
    pub ult: Option<ObjectName>,
    /// The device already belongs to this user: assigning again changes nothing.
    pub already_assigned: bool,
}

/// Everything the rules look at, loaded in one transaction.
pub struct AssignContext<'a> {
    pub user: &'a EndUser,
    /// The user's profile, or the system default; `None` if neither exists.
    pub profile: Option<&'a UserProfile>,
    /// The calling device; `None` if unknown.
    pub device: Option<&'a Device>,
    /// Devices the user owns now.
    pub owned: u32,
}

/// The rules about the device alone: it exists, is auto-registered (or already the claiming
/// user's: `owner_claiming`), is not secure, and is of a known model. A front end runs them
/// before asking for any credential (`owner_claiming` false): a phone that cannot be claimed is
/// told so first, so it cannot be used to test PINs.
pub fn check_device(
    device: Option<&Device>,
    owner_claiming: bool,
) -> Result<DeviceClass, AssignError> {
    let device = device.ok_or(AssignError::NotAutoregistered)?;
    if !device.auto_registered && !owner_claiming {
        return Err(AssignError::NotAutoregistered);
    }
    if device.secure {
        return Err(AssignError::SecureDevice);
    }
    model_class(&device.model).ok_or_else(|| AssignError::InvalidModel(device.model.clone()))
}

/// Apply the rules in the SPEC's order (after credentials, which the caller checked).
pub fn evaluate(ctx: &AssignContext<'_>) -> Result<AssignmentPreview, AssignError> {
    let profile = match ctx.profile {
        Some(p) if p.allow_self_provisioning && ctx.user.enabled => p,
        _ => return Err(AssignError::NotAllowed),
    };
    let extension = ctx
        .user
        .primary_extension
        .clone()
        .ok_or(AssignError::NoPrimaryExtension)?;
    let already_assigned = ctx
        .device
        .is_some_and(|d| d.owner.as_ref() == Some(&ctx.user.user_id));
    let class = check_device(ctx.device, already_assigned)?;
    let udt = profile
        .udt_for(class)
        .cloned()
        .ok_or(AssignError::NoTemplate(class.as_str()))?;
    if !already_assigned && ctx.owned >= profile.device_limit {
        return Err(AssignError::DeviceLimit {
            owned: ctx.owned,
            limit: profile.device_limit,
        });
    }
    Ok(AssignmentPreview {
        user_id: ctx.user.user_id.to_string(),
        extension,
        udt,
        ult: profile.ult.clone(),
        already_assigned,
    })
}
