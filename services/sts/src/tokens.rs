//! `GetSessionToken`, `GetFederationToken`, `GetCallerIdentity`, `GetAccessKeyInfo` and
//! `DecodeAuthorizationMessage` (reference §4.5, §4.6).

use tessera_arn::{Arn, validate_federation_name};
use tessera_credentials::{SessionClaims, SessionKind};
use tessera_identity::{Account, Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{self, AccessKeyIndexRecord, Tag};

use crate::assume::{IssuedCredentials, duration, packed_size, session_tags};
use crate::caller::{CallerKind, CallerPrincipal};
use crate::revoke::session_key;
use crate::{SessionRecord, Sts};

/// Long-term-key sessions: default 12 hours, at most 36; the root's silently capped at one hour.
const LONG_TERM_DEFAULT: i32 = 43_200;
const LONG_TERM_MAX: i32 = 129_600;
const ROOT_CAP: u64 = 3600;
/// The associated data authorization messages are sealed with.
const MESSAGE_AAD: &[u8] = b"authorization-message";
const MAX_MESSAGE_LEN: usize = 10_240;

/// `GetFederationToken`'s output.
#[derive(Debug, Clone)]
pub struct FederationToken {
    pub credentials: IssuedCredentials,
    /// `ACCT:Name`.
    pub federated_user_id: String,
    pub arn: String,
    pub packed_policy_size: u32,
}

/// `GetCallerIdentity`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

fn long_term_only(caller: &CallerPrincipal, action: &str) -> Result<()> {
    if caller.session().is_some() {
        return Err(Error::new(ErrorCode::AccessDenied, format!("Cannot call {action} with session credentials")));
    }
    Ok(())
}

impl<S: Store> Sts<S> {
    /// `GetSessionToken`: the caller's own permissions, optionally with MFA.
    #[tracing::instrument(name = "sts.get_session_token", skip_all)]
    pub async fn get_session_token(
        &self,
        caller: &CallerPrincipal,
        duration_seconds: Option<i32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> Result<IssuedCredentials> {
        self.check_issuing(Some(caller), None)?;
        long_term_only(caller, "GetSessionToken")?;
        let mut requested = duration(duration_seconds, LONG_TERM_DEFAULT, LONG_TERM_MAX)?;
        if matches!(caller.kind, CallerKind::Root) {
            requested = requested.min(ROOT_CAP);
        }
        let mfa_at = self.verify_mfa(caller, serial_number, token_code).await?;
        let now = self.now_secs();
        let (access_key_id, secret, session_id) = self.fresh_credentials();
        let claims = SessionClaims {
            account: caller.account.id().to_owned(),
            kind: SessionKind::SessionToken,
            principal_arn: caller.arn.clone(),
            principal_id: caller.user_id.clone(),
            role_arn: None,
            source_user_arn: Some(caller.arn.clone()),
            source_user_id: None,
            session_name: None,
            session_id,
            access_key_id,
            secret_access_key: secret,
            issued_at: now,
            issued_subsec_micros: 0,
            expires_at: now + requested,
            source_identity: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policy: None,
            mfa_authenticated_at: mfa_at,
            chain_depth: 0,
        };
        self.issue(claims).await
    }

    /// `GetFederationToken`: a federated user whose permissions are the caller's intersected with
    /// the session policies (none passed means none granted).
    #[tracing::instrument(name = "sts.get_federation_token", skip_all)]
    pub async fn get_federation_token(
        &self,
        caller: &CallerPrincipal,
        name: &str,
        policy: Option<String>,
        policy_arns: Vec<String>,
        duration_seconds: Option<i32>,
        tags: Vec<Tag>,
    ) -> Result<FederationToken> {
        self.check_issuing(Some(caller), None)?;
        long_term_only(caller, "GetFederationToken")?;
        validate_federation_name(name)?;
        let mut requested = duration(duration_seconds, LONG_TERM_DEFAULT, LONG_TERM_MAX)?;
        if matches!(caller.kind, CallerKind::Root) {
            requested = requested.min(ROOT_CAP);
        }
        let tags = session_tags(tags, &[])?;
        let policies = self.session_policies(&caller.account, policy, policy_arns).await?;
        let packed = packed_size(&policies, &tags)?;
        let now = self.now_secs();
        let (access_key_id, secret, session_id) = self.fresh_credentials();
        let arn = Arn::federated_user(caller.account.id(), name).to_string();
        let federated_user_id = format!("{}:{name}", caller.account.id());
        let claims = SessionClaims {
            account: caller.account.id().to_owned(),
            kind: SessionKind::FederatedUser,
            principal_arn: arn.clone(),
            principal_id: federated_user_id.clone(),
            role_arn: None,
            source_user_arn: Some(caller.arn.clone()),
            source_user_id: match &caller.kind {
                CallerKind::User(user) => Some(user.principal.id.clone()),
                _ => None,
            },
            session_name: Some(name.to_owned()),
            session_id,
            access_key_id,
            secret_access_key: secret,
            issued_at: now,
            issued_subsec_micros: 0,
            expires_at: now + requested,
            source_identity: None,
            tags,
            transitive_tag_keys: Vec::new(),
            // No session policy at all still has to mean "no permissions": record an empty one.
            session_policy: Some(policies.policy.unwrap_or_default()),
            mfa_authenticated_at: None,
            chain_depth: 0,
        };
        let credentials = self.issue(claims).await?;
        Ok(FederationToken { credentials, federated_user_id, arn, packed_policy_size: packed })
    }

    /// `GetCallerIdentity`: needs no permission.
    pub fn get_caller_identity(&self, caller: &CallerPrincipal) -> CallerIdentity {
        CallerIdentity {
            user_id: caller.user_id.clone(),
            account: caller.account.id().to_owned(),
            arn: caller.arn.clone(),
        }
    }

    /// `GetAccessKeyInfo`: the account of any access key, long-term or temporary, in any state.
    pub async fn get_access_key_info(&self, access_key_id: &str) -> Result<String> {
        let unknown =
            || Error::new(ErrorCode::ValidationError, format!("The access key ID {access_key_id} is not valid."));
        if access_key_id.len() < 16
            || access_key_id.len() > 128
            || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(unknown());
        }
        if access_key_id.starts_with("ASIA") {
            let record: Option<SessionRecord> = iam::load(&*self.store, &session_key(access_key_id)).await?;
            return record.map(|r| r.account).ok_or_else(unknown);
        }
        let index: Option<AccessKeyIndexRecord> = iam::load(
            &*self.store,
            &tessera_store::Key::new(&tessera_store::Namespace::global(), iam::ACCESS_KEY, access_key_id),
        )
        .await?;
        index.map(|i| i.account).ok_or_else(unknown)
    }

    /// Seals the JSON of a denied decision into the opaque message an `AccessDenied` carries.
    pub fn encode_authorization_message(&self, account: &Account, decoded: &serde_json::Value) -> Result<String> {
        let aad = [MESSAGE_AAD, account.id().as_bytes()].concat();
        let text = decoded.to_string();
        self.env.random.with(|r| self.env.master_key.seal(text.as_bytes(), &aad, r)).map_err(|error| {
            Error::new(ErrorCode::ServiceFailure, format!("cannot encode the authorization message: {error}"))
        })
    }

    /// `DecodeAuthorizationMessage`: only messages made for the caller's account open.
    pub fn decode_authorization_message(&self, caller: &CallerPrincipal, encoded: &str) -> Result<String> {
        let invalid = || {
            Error::new(
                ErrorCode::InvalidAuthorizationMessage,
                "The message is not a valid encoded authorization message.",
            )
        };
        if encoded.is_empty() || encoded.len() > MAX_MESSAGE_LEN {
            return Err(invalid());
        }
        let aad = [MESSAGE_AAD, caller.account.id().as_bytes()].concat();
        let bytes = self.env.master_key.open(encoded, &aad).map_err(|_| invalid())?;
        String::from_utf8(bytes).map_err(|_| invalid())
    }
}
