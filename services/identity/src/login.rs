//! Console passwords (reference §5.4): the account password policy, login profiles hashed with
//! Argon2id, `ChangePassword` with reuse prevention, and the password check a console sign-in uses.
//!
//! Hashing and verifying are slow on purpose, so they happen before the optimistic transaction
//! (whose closure may run several times); the transaction then only checks that the hash it
//! replaces is still the one that was verified.

use tessera_arn::{ValidationError, Violation};
use tessera_credentials::{hash_password_with, verify_password};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{
    self, LoginProfileRecord, Millis, PASSWORD_POLICY, PasswordPolicyRecord, RootPasswordRecord, UserRecord,
};
use tessera_store::{Key, Store, update};

use crate::entity::{self, AnyEntity};
use crate::{Account, Error, Identity, Result};

/// The symbols `RequireSymbols` asks for (AWS's list).
pub(crate) const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// Longest password the model accepts.
pub(crate) const MAX_PASSWORD_LEN: usize = 128;

/// `UpdateAccountPasswordPolicy`'s input. Every field is optional, and an omitted field reverts to
/// its default: the call replaces the whole policy.
#[derive(Debug, Clone, Default)]
pub struct UpdatePasswordPolicy {
    pub minimum_password_length: Option<i32>,
    pub require_symbols: Option<bool>,
    pub require_numbers: Option<bool>,
    pub require_uppercase_characters: Option<bool>,
    pub require_lowercase_characters: Option<bool>,
    pub allow_users_to_change_password: Option<bool>,
    pub max_password_age: Option<i32>,
    pub password_reuse_prevention: Option<i32>,
    pub hard_expiry: Option<bool>,
}

/// `LoginProfile` as AWS returns it (the record keeps the hash, which never leaves the service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfile {
    pub user_name: String,
    pub create_date: Millis,
    pub password_reset_required: bool,
}

fn profile_of(user: &UserRecord, profile: &LoginProfileRecord) -> LoginProfile {
    LoginProfile {
        user_name: user.principal.name.clone(),
        create_date: profile.create_date,
        password_reset_required: profile.password_reset_required,
    }
}

fn policy_key(account: &Account) -> Key {
    Key::new(account.ns(), PASSWORD_POLICY, "")
}

fn profile_not_found(user: &str) -> Error {
    Error::no_such_entity(format!("Login Profile for User {user} cannot be found."))
}

fn internal(what: &str) -> Error {
    Error::new(
        ErrorCode::ServiceFailure,
        format!("The request processing has failed because of an unknown error ({what})."),
    )
}

/// Checks an optional number against an inclusive range, collecting the violation.
fn ranged(
    field: &'static str,
    value: Option<i32>,
    min: u32,
    max: u32,
    default: u32,
    errors: &mut Vec<ValidationError>,
) -> u32 {
    let Some(value) = value else { return default };
    let violation = if i64::from(value) < i64::from(min) {
        Violation::MinValue(min.into())
    } else if i64::from(value) > i64::from(max) {
        Violation::MaxValue(max.into())
    } else {
        return value.unsigned_abs();
    };
    errors.push(ValidationError { field, value: value.to_string(), violations: vec![violation] });
    default
}

/// AWS's message for several failed constraints: `N validation errors detected: …; …`.
fn validation_errors(errors: Vec<ValidationError>) -> Error {
    if errors.len() == 1 {
        return errors.into_iter().next().map_or_else(|| Error::invalid_input("invalid input"), Error::from);
    }
    let clauses: Vec<String> = errors
        .iter()
        .flat_map(|e| {
            e.violations
                .iter()
                .map(move |v| format!("Value '{}' at '{}' failed to satisfy constraint: {v}", e.value, e.field))
        })
        .collect();
    Error::new(
        ErrorCode::ValidationError,
        format!("{} validation errors detected: {}", clauses.len(), clauses.join("; ")),
    )
}

/// The model's constraint on a password (1–128 characters of `[\t\n\r\u0020-\u00FF]`), reported
/// without echoing the value, which AWS treats as sensitive.
fn check_password_shape(field: &str, password: &str) -> Result<()> {
    let len = password.chars().count();
    let constraint = if len < 1 {
        "Member must have length greater than or equal to 1".to_owned()
    } else if len > MAX_PASSWORD_LEN {
        format!("Member must have length less than or equal to {MAX_PASSWORD_LEN}")
    } else if !password.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}')) {
        "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorCode::ValidationError,
        format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"),
    ))
}

/// Checks `password` against the account password policy (`None`: no policy set, so only the
/// model's 1–128 characters apply). Every unmet rule is listed in one `PasswordPolicyViolation`.
pub(crate) fn check_password(policy: Option<&PasswordPolicyRecord>, password: &str) -> Result<()> {
    check_password_shape("password", password)?;
    let Some(policy) = policy else { return Ok(()) };
    let mut failures = Vec::new();
    let len = password.chars().count();
    if len < usize::try_from(policy.minimum_password_length).unwrap_or(usize::MAX) {
        failures.push(format!("Password should have a minimum length of {}", policy.minimum_password_length));
    }
    if policy.require_lowercase_characters && !password.chars().any(|c| c.is_ascii_lowercase()) {
        failures.push("Password should have at least one lowercase letter".to_owned());
    }
    if policy.require_uppercase_characters && !password.chars().any(|c| c.is_ascii_uppercase()) {
        failures.push("Password should have at least one uppercase letter".to_owned());
    }
    if policy.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
        failures.push("Password should have at least one number".to_owned());
    }
    if policy.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
        failures.push("Password should have at least one symbol".to_owned());
    }
    if failures.is_empty() { Ok(()) } else { Err(Error::new(ErrorCode::PasswordPolicyViolation, failures.join("; "))) }
}

/// Whether the password last changed at `changed` has expired under `policy` at `now`.
fn expired(policy: Option<&PasswordPolicyRecord>, changed: Millis, now: Millis) -> bool {
    policy.is_some_and(|p| {
        p.max_password_age > 0 && now.saturating_sub(changed) >= u64::from(p.max_password_age) * 86_400_000
    })
}

/// How many previous passwords (the current one included) a new password must differ from.
fn reuse_window(policy: Option<&PasswordPolicyRecord>) -> usize {
    policy.map_or(0, |p| usize::try_from(p.password_reuse_prevention).unwrap_or(0))
}

/// Whether `password` matches `phc`; an unreadable stored hash is a server fault, not a mismatch.
pub(crate) fn matches(password: &str, phc: &str) -> Result<bool> {
    verify_password(password, phc).map_err(|error| {
        tracing::error!(%error, "stored password hash cannot be checked");
        internal("cannot check the password")
    })
}

impl<S: Store> Identity<S> {
    /// `UpdateAccountPasswordPolicy`: replaces the whole policy; omitted fields take their defaults.
    pub async fn update_account_password_policy(&self, account: &Account, input: UpdatePasswordPolicy) -> Result<()> {
        let mut errors = Vec::new();
        let policy = PasswordPolicyRecord {
            minimum_password_length: ranged(
                "minimumPasswordLength",
                input.minimum_password_length,
                6,
                128,
                6,
                &mut errors,
            ),
            require_symbols: input.require_symbols.unwrap_or(false),
            require_numbers: input.require_numbers.unwrap_or(false),
            require_uppercase_characters: input.require_uppercase_characters.unwrap_or(false),
            require_lowercase_characters: input.require_lowercase_characters.unwrap_or(false),
            allow_users_to_change_password: input.allow_users_to_change_password.unwrap_or(false),
            max_password_age: ranged("maxPasswordAge", input.max_password_age, 1, 1095, 0, &mut errors),
            password_reuse_prevention: ranged(
                "passwordReusePrevention",
                input.password_reuse_prevention,
                1,
                24,
                0,
                &mut errors,
            ),
            hard_expiry: input.hard_expiry.unwrap_or(false),
        };
        if !errors.is_empty() {
            return Err(validation_errors(errors));
        }
        iam::put_blind(&*self.store, policy_key(account), &policy).await?;
        Ok(())
    }

    /// `GetAccountPasswordPolicy` (`ExpirePasswords` is `max_password_age > 0`).
    pub async fn get_account_password_policy(&self, account: &Account) -> Result<PasswordPolicyRecord> {
        self.password_policy(account).await?.ok_or_else(|| {
            Error::no_such_entity(format!("The Password Policy with domain name {} cannot be found.", account.id()))
        })
    }

    async fn password_policy(&self, account: &Account) -> Result<Option<PasswordPolicyRecord>> {
        Ok(iam::load(&*self.store, &policy_key(account)).await?)
    }

    pub async fn delete_account_password_policy(&self, account: &Account) -> Result<()> {
        update(&*self.store, |tx| async move {
            let key = policy_key(account);
            if tx.read::<PasswordPolicyRecord>(&key).await?.is_none() {
                return Err(Error::no_such_entity(format!(
                    "The Password Policy with domain name {} cannot be found.",
                    account.id()
                )));
            }
            tx.delete(key);
            Ok(())
        })
        .await
    }

    pub(crate) fn hash(&self, password: &str) -> Result<String> {
        let params = self.env.password_params;
        self.env.random.with(|r| hash_password_with(password, r, params)).map_err(|error| {
            tracing::error!(%error, "cannot hash a password");
            internal("cannot hash the password")
        })
    }

    /// `CreateLoginProfile`: gives the user a console password.
    pub async fn create_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: &str,
        password_reset_required: bool,
    ) -> Result<LoginProfile> {
        let user = self.get_user(account, user_name).await?;
        if user.login_profile.is_some() {
            return Err(Error::already_exists(format!(
                "Login Profile for user {} already exists.",
                user.principal.name
            )));
        }
        check_password(self.password_policy(account).await?.as_ref(), password)?;
        let now = self.env.now_millis();
        let profile = LoginProfileRecord {
            create_date: now,
            password_hash: self.hash(password)?,
            password_reset_required,
            password_last_changed: now,
            previous_hashes: Vec::new(),
        };
        let profile = &profile;
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            if user.login_profile.is_some() {
                return Err(Error::already_exists(format!(
                    "Login Profile for user {} already exists.",
                    user.principal.name
                )));
            }
            user.login_profile = Some(profile.clone());
            let out = profile_of(&user, profile);
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(out)
        })
        .await
    }

    pub async fn get_login_profile(&self, account: &Account, user_name: &str) -> Result<LoginProfile> {
        if user_name.is_empty() {
            return self.root_login_profile(account).await;
        }
        let user = self.get_user(account, user_name).await?;
        let profile = user.login_profile.as_ref().ok_or_else(|| profile_not_found(&user.principal.name))?;
        Ok(profile_of(&user, profile))
    }

    /// `GetLoginProfile` by the account root without `UserName`: its console password (set by
    /// `tessera admin set-root-password` or at first start), with an empty user name that the
    /// gateway words; `NoSuchEntity` when it has none. The record keeps only when the password
    /// last changed, which stands for its creation.
    async fn root_login_profile(&self, account: &Account) -> Result<LoginProfile> {
        let record: Option<RootPasswordRecord> =
            iam::load(&*self.store, &Key::new(account.ns(), iam::ROOT_PASSWORD, "")).await?;
        let record = record.ok_or_else(|| profile_not_found("root"))?;
        Ok(LoginProfile {
            user_name: String::new(),
            create_date: record.password_last_changed,
            password_reset_required: false,
        })
    }

    /// `UpdateLoginProfile`: an administrator sets a new password, the reset flag, or both. The
    /// policy's rules apply to the password, its reuse rule does not (it is about users' own
    /// changes); the old password joins the history all the same.
    pub async fn update_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: Option<&str>,
        password_reset_required: Option<bool>,
    ) -> Result<()> {
        let user = self.get_user(account, user_name).await?;
        if user.login_profile.is_none() {
            return Err(profile_not_found(&user.principal.name));
        }
        let policy = self.password_policy(account).await?;
        let new_hash = match password {
            Some(password) => {
                check_password(policy.as_ref(), password)?;
                Some(self.hash(password)?)
            }
            None => None,
        };
        let keep = reuse_window(policy.as_ref()).saturating_sub(1);
        let now = self.env.now_millis();
        let new_hash = &new_hash;
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let name = user.principal.name.clone();
            let profile = user.login_profile.as_mut().ok_or_else(|| profile_not_found(&name))?;
            if let Some(hash) = new_hash {
                let old = std::mem::replace(&mut profile.password_hash, hash.clone());
                profile.previous_hashes.insert(0, old);
                profile.previous_hashes.truncate(keep);
                profile.password_last_changed = now;
            }
            if let Some(required) = password_reset_required {
                profile.password_reset_required = required;
            }
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(())
        })
        .await
    }

    pub async fn delete_login_profile(&self, account: &Account, user_name: &str) -> Result<()> {
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            if user.login_profile.take().is_none() {
                return Err(profile_not_found(&user.principal.name));
            }
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(())
        })
        .await
    }

    /// `ChangePassword`: a user changes their own password (the caller resolves who "self" is and
    /// answers `InvalidUserType` for callers that are not IAM users).
    ///
    /// Decisions where AWS documents no behaviour:
    /// - A wrong old password is `AccessDenied` ("The old password is incorrect."): it is an
    ///   authentication failure, and AWS lists no error of its own for it.
    /// - `AllowUsersToChangePassword` is not checked here. In AWS it *grants* every user
    ///   `iam:ChangePassword` on themselves; a user granted that action by a policy may change
    ///   their password without it. That is authorization's call, made before this runs.
    /// - With `HardExpiry`, an expired password can only be reset by an administrator, so the
    ///   change is `AccessDenied`.
    pub async fn change_password(&self, account: &Account, user_name: &str, old: &str, new: &str) -> Result<()> {
        check_password_shape("oldPassword", old)?;
        check_password_shape("newPassword", new)?;
        let user = self.get_user(account, user_name).await?;
        let profile = user.login_profile.as_ref().ok_or_else(|| profile_not_found(&user.principal.name))?;
        if !matches(old, &profile.password_hash)? {
            return Err(Error::new(ErrorCode::AccessDenied, "The old password is incorrect."));
        }
        let policy = self.password_policy(account).await?;
        let now = self.env.now_millis();
        if policy.as_ref().is_some_and(|p| p.hard_expiry)
            && expired(policy.as_ref(), profile.password_last_changed, now)
        {
            return Err(Error::new(
                ErrorCode::AccessDenied,
                "The password has expired and the account password policy does not let users change an expired \
                 password; an administrator must reset it.",
            ));
        }
        check_password(policy.as_ref(), new)?;
        let window = reuse_window(policy.as_ref());
        if window > 0 {
            let recent = std::iter::once(&profile.password_hash).chain(profile.previous_hashes.iter().take(window - 1));
            for phc in recent {
                if matches(new, phc)? {
                    return Err(Error::new(
                        ErrorCode::PasswordPolicyViolation,
                        format!("Password should not be one of your last {window} passwords"),
                    ));
                }
            }
        }
        let verified = profile.password_hash.clone();
        let new_hash = self.hash(new)?;
        let (verified, new_hash) = (&verified, &new_hash);
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let name = user.principal.name.clone();
            let profile = user.login_profile.as_mut().ok_or_else(|| profile_not_found(&name))?;
            // The password changed between the check and this commit: the old password we verified
            // is no longer the current one.
            if profile.password_hash != *verified {
                return Err(Error::new(
                    ErrorCode::EntityTemporarilyUnmodifiable,
                    format!("Login Profile for User {name} was changed meanwhile; try again."),
                ));
            }
            let old = std::mem::replace(&mut profile.password_hash, new_hash.clone());
            profile.previous_hashes.insert(0, old);
            profile.previous_hashes.truncate(window.saturating_sub(1));
            profile.password_last_changed = now;
            profile.password_reset_required = false;
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(())
        })
        .await
    }

    /// A console-style sign-in check: whether `password` is the user's password. A user without a
    /// login profile (or without the user) is `false`. Success records `password_last_used`.
    pub async fn verify_password(&self, account: &Account, user_name: &str, password: &str) -> Result<bool> {
        let user = match self.get_user(account, user_name).await {
            Ok(user) => user,
            Err(error) if error.code() == ErrorCode::NoSuchEntity => return Ok(false),
            Err(error) => return Err(error),
        };
        let Some(profile) = &user.login_profile else { return Ok(false) };
        if !matches(password, &profile.password_hash)? {
            return Ok(false);
        }
        let verified = &profile.password_hash;
        let now = self.env.now_millis();
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let current = user.login_profile.as_ref().map(|p| &p.password_hash);
            if current != Some(verified) {
                return Ok(false);
            }
            user.password_last_used = Some(now);
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::fixture;

    fn strict() -> PasswordPolicyRecord {
        PasswordPolicyRecord {
            minimum_password_length: 8,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            allow_users_to_change_password: true,
            max_password_age: 0,
            password_reuse_prevention: 0,
            hard_expiry: false,
        }
    }

    #[test]
    fn check_password_lists_every_unmet_rule() {
        check_password(None, "x").unwrap();
        assert_eq!(check_password(None, "").unwrap_err().code(), ErrorCode::ValidationError);
        let long = "a".repeat(129);
        assert_eq!(check_password(None, &long).unwrap_err().code(), ErrorCode::ValidationError);
        let err = check_password(None, "snow\u{2603}man").unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(!err.message.contains("snow"), "the password is not echoed: {}", err.message);

        let policy = strict();
        check_password(Some(&policy), "Abcdef1!").unwrap();
        check_password(Some(&policy), "Abcdef1'").unwrap();
        let err = check_password(Some(&policy), "abc").unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::PasswordPolicyViolation);
        assert_eq!(
            err.message,
            "Password should have a minimum length of 8; Password should have at least one uppercase letter; \
             Password should have at least one number; Password should have at least one symbol"
        );
        let err = check_password(Some(&policy), "ABCDEFG1~").unwrap_err().into_service_error();
        assert_eq!(
            err.message,
            "Password should have at least one lowercase letter; Password should have at least one symbol"
        );
    }

    #[tokio::test]
    async fn policy_defaults_ranges_and_absence() {
        let f = fixture();
        let err = f.identity.get_account_password_policy(&f.account).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::NoSuchEntity);
        assert_eq!(err.message, "The Password Policy with domain name 123456789012 cannot be found.");
        assert_eq!(
            f.identity.delete_account_password_policy(&f.account).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );

        let input =
            UpdatePasswordPolicy { require_numbers: Some(true), max_password_age: Some(90), ..Default::default() };
        f.identity.update_account_password_policy(&f.account, input).await.unwrap();
        let policy = f.identity.get_account_password_policy(&f.account).await.unwrap();
        assert_eq!(policy.minimum_password_length, 6);
        assert!(policy.require_numbers && !policy.require_symbols && !policy.allow_users_to_change_password);
        assert_eq!((policy.max_password_age, policy.password_reuse_prevention), (90, 0));

        // A second update replaces the whole policy: omitted fields revert to their defaults.
        let input = UpdatePasswordPolicy { minimum_password_length: Some(12), ..Default::default() };
        f.identity.update_account_password_policy(&f.account, input).await.unwrap();
        let policy = f.identity.get_account_password_policy(&f.account).await.unwrap();
        assert_eq!((policy.minimum_password_length, policy.max_password_age), (12, 0));
        assert!(!policy.require_numbers);

        let err = f
            .identity
            .update_account_password_policy(
                &f.account,
                UpdatePasswordPolicy { minimum_password_length: Some(5), ..Default::default() },
            )
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(
            err.message,
            "1 validation error detected: Value '5' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value greater than or equal to 6"
        );
        let input = UpdatePasswordPolicy {
            max_password_age: Some(1096),
            password_reuse_prevention: Some(0),
            ..Default::default()
        };
        let err = f.identity.update_account_password_policy(&f.account, input).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(
            err.message.starts_with("2 validation errors detected: Value '1096' at 'maxPasswordAge'"),
            "{}",
            err.message
        );
        assert!(err.message.contains("Value '0' at 'passwordReusePrevention' failed to satisfy constraint: Member must have value greater than or equal to 1"));
        // The rejected update changed nothing.
        assert_eq!(f.identity.get_account_password_policy(&f.account).await.unwrap().minimum_password_length, 12);

        f.identity.delete_account_password_policy(&f.account).await.unwrap();
        assert!(f.identity.get_account_password_policy(&f.account).await.is_err());
    }

    #[tokio::test]
    async fn login_profile_lifecycle() {
        let f = fixture();
        f.user("alice").await;
        let err = f.identity.get_login_profile(&f.account, "alice").await.unwrap_err().into_service_error();
        assert_eq!(err.message, "Login Profile for User alice cannot be found.");

        let created = f.identity.create_login_profile(&f.account, "alice", "first-pass", true).await.unwrap();
        assert!(created.password_reset_required);
        let err =
            f.identity.create_login_profile(&f.account, "alice", "x", false).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::EntityAlreadyExists);
        assert_eq!(err.message, "Login Profile for user alice already exists.");

        let user = f.identity.get_user(&f.account, "alice").await.unwrap();
        let hash = &user.login_profile.as_ref().unwrap().password_hash;
        assert!(hash.starts_with("$argon2id$"));
        assert!(!format!("{user:?}").contains(hash.as_str()));

        assert!(f.identity.verify_password(&f.account, "alice", "first-pass").await.unwrap());
        assert!(!f.identity.verify_password(&f.account, "alice", "wrong").await.unwrap());
        assert!(!f.identity.verify_password(&f.account, "nobody", "first-pass").await.unwrap());
        let user = f.identity.get_user(&f.account, "alice").await.unwrap();
        assert!(user.password_last_used.is_some());

        f.identity.update_login_profile(&f.account, "alice", Some("second-pass"), Some(false)).await.unwrap();
        assert!(f.identity.verify_password(&f.account, "alice", "second-pass").await.unwrap());
        assert!(!f.identity.get_login_profile(&f.account, "alice").await.unwrap().password_reset_required);

        // A login profile blocks deleting the user until it is gone.
        assert_eq!(f.identity.delete_user(&f.account, "alice").await.unwrap_err().code(), ErrorCode::DeleteConflict);
        f.identity.delete_login_profile(&f.account, "alice").await.unwrap();
        assert_eq!(
            f.identity.delete_login_profile(&f.account, "alice").await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        assert_eq!(
            f.identity.update_login_profile(&f.account, "alice", None, Some(true)).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        f.identity.delete_user(&f.account, "alice").await.unwrap();
    }

    #[tokio::test]
    async fn policy_applies_to_new_passwords() {
        let f = fixture();
        f.user("alice").await;
        let input = UpdatePasswordPolicy { minimum_password_length: Some(10), ..Default::default() };
        f.identity.update_account_password_policy(&f.account, input).await.unwrap();
        let err = f.identity.create_login_profile(&f.account, "alice", "short", false).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::PasswordPolicyViolation);
        f.identity.create_login_profile(&f.account, "alice", "long enough", false).await.unwrap();
        let err = f.identity.update_login_profile(&f.account, "alice", Some("short"), None).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::PasswordPolicyViolation);
    }

    #[tokio::test]
    async fn change_password_checks_the_old_one_the_policy_and_reuse() {
        let f = fixture();
        f.user("alice").await;
        let input = UpdatePasswordPolicy { password_reuse_prevention: Some(2), ..Default::default() };
        f.identity.update_account_password_policy(&f.account, input).await.unwrap();
        f.identity.create_login_profile(&f.account, "alice", "password-1", true).await.unwrap();

        let err = f.identity.change_password(&f.account, "alice", "nope-nope", "password-2").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::AccessDenied);
        let err = f.identity.change_password(&f.account, "alice", "password-1", "short").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::PasswordPolicyViolation);
        // The current password counts as one of the last two.
        let err = f.identity.change_password(&f.account, "alice", "password-1", "password-1").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::PasswordPolicyViolation);

        f.identity.change_password(&f.account, "alice", "password-1", "password-2").await.unwrap();
        assert!(!f.identity.get_login_profile(&f.account, "alice").await.unwrap().password_reset_required);
        let err = f.identity.change_password(&f.account, "alice", "password-2", "password-1").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::PasswordPolicyViolation);
        f.identity.change_password(&f.account, "alice", "password-2", "password-3").await.unwrap();
        // password-1 is now three changes back, outside a window of two.
        f.identity.change_password(&f.account, "alice", "password-3", "password-1").await.unwrap();
        let user = f.identity.get_user(&f.account, "alice").await.unwrap();
        assert_eq!(user.login_profile.unwrap().previous_hashes.len(), 1);

        f.user("bob").await;
        let err = f.identity.change_password(&f.account, "bob", "a", "b").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
    }

    #[tokio::test]
    async fn hard_expiry_blocks_changing_an_expired_password() {
        let f = fixture();
        f.user("alice").await;
        let input = UpdatePasswordPolicy { max_password_age: Some(1), hard_expiry: Some(true), ..Default::default() };
        f.identity.update_account_password_policy(&f.account, input).await.unwrap();
        f.identity.create_login_profile(&f.account, "alice", "password-1", false).await.unwrap();
        f.identity.change_password(&f.account, "alice", "password-1", "password-2").await.unwrap();
        f.clock.advance(std::time::Duration::from_secs(86_400));
        let err = f.identity.change_password(&f.account, "alice", "password-2", "password-3").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::AccessDenied);
    }
}
