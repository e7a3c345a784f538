//! Who is calling: the credentials the gateway verified a signature with, resolved again here
//! (long-term keys through the identity store, session tokens by opening them), and session-token
//! verification for the gateway and the authorizer.

use tessera_arn::Arn;
use tessera_credentials::{SessionClaims, SessionKind, TokenError, constant_time_eq};
use tessera_identity::{AccessKeyIdentity, Account, Error, Result};
use tessera_policy::{Principal, PrincipalKind};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{KeyStatus, UserRecord};

use crate::Sts;

/// The credentials of a signed call.
#[derive(Debug, Clone, Default)]
pub struct CallerCredentials {
    pub access_key_id: String,
    /// For temporary credentials.
    pub session_token: Option<String>,
    pub source_ip: Option<String>,
}

/// What kind of principal is calling.
#[derive(Debug, Clone)]
pub enum CallerKind {
    Root,
    User(Box<UserRecord>),
    Session(Box<SessionClaims>),
}

/// A resolved caller.
#[derive(Debug, Clone)]
pub struct CallerPrincipal {
    pub account: Account,
    /// `Arn` as GetCallerIdentity reports it.
    pub arn: String,
    /// `UserId` as GetCallerIdentity reports it (§1.4).
    pub user_id: String,
    pub kind: CallerKind,
    pub access_key_id: String,
    pub source_ip: Option<String>,
}

impl CallerPrincipal {
    /// The caller a verified session token stands for.
    pub fn of_session(claims: SessionClaims, source_ip: Option<String>) -> Result<Self> {
        Ok(Self {
            account: Account::new(&claims.account)?,
            arn: claims.principal_arn.clone(),
            user_id: claims.principal_id.clone(),
            access_key_id: claims.access_key_id.clone(),
            kind: CallerKind::Session(Box::new(claims)),
            source_ip,
        })
    }

    /// The caller a long-term access key stands for: its user, or the account root.
    pub fn of_key(found: AccessKeyIdentity, access_key_id: &str, source_ip: Option<String>) -> Self {
        let account = found.account;
        match found.user {
            Some(user) => Self {
                arn: user.principal.arn.clone(),
                user_id: user.principal.id.clone(),
                kind: CallerKind::User(Box::new(user)),
                account,
                access_key_id: access_key_id.to_owned(),
                source_ip,
            },
            None => Self {
                arn: Arn::root(account.id()).to_string(),
                user_id: account.id().to_owned(),
                kind: CallerKind::Root,
                account,
                access_key_id: access_key_id.to_owned(),
                source_ip,
            },
        }
    }

    /// The principal the policy engine evaluates.
    pub fn principal(&self) -> Principal {
        let (kind, unique_id, role_arn, source_user_arn) = match &self.kind {
            CallerKind::Root => (PrincipalKind::Root, None, None, None),
            CallerKind::User(user) => (PrincipalKind::User, Some(user.principal.id.clone()), None, None),
            CallerKind::Session(claims) => match claims.kind {
                SessionKind::AssumedRole => {
                    // The role's unique id: `AROA…` before the `:<session>` of the UserId.
                    let role_id = claims.principal_id.split(':').next().map(str::to_owned);
                    (PrincipalKind::AssumedRole, role_id, claims.role_arn.clone(), claims.source_user_arn.clone())
                }
                SessionKind::FederatedUser => {
                    (PrincipalKind::FederatedUser, None, None, claims.source_user_arn.clone())
                }
                SessionKind::SessionToken if claims.principal_arn.ends_with(":root") => {
                    (PrincipalKind::Root, None, None, None)
                }
                SessionKind::SessionToken => (PrincipalKind::User, Some(claims.principal_id.clone()), None, None),
            },
        };
        Principal {
            kind,
            account: self.account.id().to_owned(),
            arn: self.arn.clone(),
            unique_id,
            role_arn,
            source_user_arn,
        }
    }

    /// Whether the caller is the account root: its long-term key, or a session it made with
    /// GetSessionToken (which is the root too, with every rule AWS applies to the root).
    pub fn is_root(&self) -> bool {
        self.principal().kind == PrincipalKind::Root
    }

    /// The session claims, when the caller uses temporary credentials.
    pub fn session(&self) -> Option<&SessionClaims> {
        match &self.kind {
            CallerKind::Session(claims) => Some(claims),
            _ => None,
        }
    }
}

/// AWS's answer to credentials it does not know.
pub(crate) fn invalid_token() -> Error {
    Error::new(ErrorCode::InvalidClientTokenId, "The security token included in the request is invalid.")
}

impl<S: Store> Sts<S> {
    /// Verifies a session token presented with `access_key_id`: it must open under the key ring,
    /// belong to that access key, be unexpired and not revoked. No storage read is needed unless the
    /// token names a key this replica has not loaded yet.
    pub async fn verify_session(&self, access_key_id: &str, token: &str) -> Result<SessionClaims> {
        let claims =
            self.keys.open(&*self.store, &self.env, token, self.now_secs()).await.map_err(|error| match error {
                TokenError::Expired { .. } => {
                    Error::new(ErrorCode::ExpiredToken, "The security token included in the request is expired")
                }
                _ => invalid_token(),
            })?;
        if !constant_time_eq(claims.access_key_id.as_bytes(), access_key_id.as_bytes()) {
            return Err(invalid_token());
        }
        if self.revocations.is_revoked(&claims) {
            return Err(Error::new(
                ErrorCode::InvalidClientTokenId,
                "The security token included in the request has been revoked.",
            ));
        }
        Ok(claims)
    }

    /// Resolves the caller of a signed request.
    pub async fn resolve_caller(&self, credentials: &CallerCredentials) -> Result<CallerPrincipal> {
        let source_ip = credentials.source_ip.clone();
        if let Some(token) = credentials.session_token.as_deref().filter(|t| !t.is_empty()) {
            let claims = self.verify_session(&credentials.access_key_id, token).await?;
            return CallerPrincipal::of_session(claims, source_ip);
        }
        if credentials.access_key_id.starts_with("ASIA") {
            // Temporary keys are useless without their token.
            return Err(invalid_token());
        }
        let found = self.access_key(&credentials.access_key_id).await?;
        let Some(found) = found.filter(|k| k.status == KeyStatus::Active) else { return Err(invalid_token()) };
        Ok(CallerPrincipal::of_key((*found).clone(), &credentials.access_key_id, source_ip))
    }
}
