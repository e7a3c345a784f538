//! The credential report (reference §5.8): one CSV row per user (and one for the root user) saying
//! which credentials exist, when they were rotated and when they were last used.
//!
//! AWS builds the report in the background (`GenerateCredentialReport` answers `STARTED`, later
//! `COMPLETE`). Tessera builds it within the call, which takes one scan of the account, so the
//! first answer is already `COMPLETE`; clients that poll until `COMPLETE` work unchanged. A report
//! younger than four hours is reused, an older one is expired.

use std::fmt::Write as _;

use tessera_proto::error::ErrorCode;
use tessera_store::iam::{
    self, AccessKeyRecord, AccountRecord, CREDENTIAL_REPORT, CredentialReportRecord, KEY_USED, KeyStatus,
    KeyUsedRecord, Millis, PASSWORD_POLICY, PasswordPolicyRecord, ROOT_KEYS, RootKeysRecord, UserRecord,
};
use tessera_store::{Key, Store};

use crate::{Account, Error, Identity, Result};

/// How long a report is reused, and after which it is expired.
pub(crate) const REPORT_TTL_MILLIS: Millis = 4 * 3600 * 1000;

/// The CSV header, exactly as AWS writes it.
pub(crate) const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,\
access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

const NA: &str = "N/A";
const NO_INFORMATION: &str = "no_information";
const NOT_SUPPORTED: &str = "not_supported";

/// `GenerateCredentialReport`'s `State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    Started,
    InProgress,
    Complete,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "STARTED",
            Self::InProgress => "INPROGRESS",
            Self::Complete => "COMPLETE",
        }
    }
}

/// `2026-11-23T10:00:00+00:00`, the timestamp form of AWS's credential reports, from Unix millis.
pub(crate) fn iso8601(ms: Millis) -> String {
    let utc = tessera_awsapi::iso8601_millis(i64::try_from(ms).unwrap_or(i64::MAX));
    format!("{}+00:00", utc.trim_end_matches('Z'))
}

/// `true`/`false` as AWS's reports write them (lowercase, whatever the documentation's `TRUE`).
fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// One CSV field, quoted when it holds a comma, quote or line break (IAM paths may hold commas).
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn row(out: &mut String, fields: &[String]) {
    let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{}", line.join(","));
}

/// The ten `access_key_{1,2}_*` columns of a user's or the root's first two keys, with their last
/// uses (`used[i]` is `keys[i]`'s).
fn key_columns(fields: &mut Vec<String>, keys: &[AccessKeyRecord], used: &[Option<KeyUsedRecord>]) {
    for slot in 0..2 {
        match keys.get(slot) {
            Some(key) => {
                let used = used.get(slot).and_then(Option::as_ref);
                fields.push(flag(key.status == KeyStatus::Active).to_owned());
                fields.push(iso8601(key.create_date));
                fields.push(used.map_or_else(|| NA.to_owned(), |u| iso8601(u.date)));
                fields.push(used.map_or_else(|| NA.to_owned(), |u| u.region.clone()));
                fields.push(used.map_or_else(|| NA.to_owned(), |u| u.service.clone()));
            }
            None => fields.extend(["false", NA, NA, NA, NA].map(str::to_owned)),
        }
    }
}

/// The columns of one user's row.
fn user_row(user: &UserRecord, policy: Option<&PasswordPolicyRecord>, used: &[Option<KeyUsedRecord>]) -> Vec<String> {
    let profile = user.login_profile.as_ref();
    let password_last_used = match (user.password_last_used, profile) {
        (Some(ms), _) => iso8601(ms),
        (None, Some(_)) => NO_INFORMATION.to_owned(),
        (None, None) => NA.to_owned(),
    };
    let next_rotation = match (profile, policy) {
        (Some(p), Some(policy)) if policy.max_password_age > 0 => {
            iso8601(p.password_last_changed + u64::from(policy.max_password_age) * 86_400_000)
        }
        _ => NA.to_owned(),
    };
    let mut fields = vec![
        user.principal.name.clone(),
        user.principal.arn.clone(),
        iso8601(user.principal.create_date),
        flag(profile.is_some()).to_owned(),
        password_last_used,
        profile.map_or_else(|| NA.to_owned(), |p| iso8601(p.password_last_changed)),
        next_rotation,
        flag(!user.mfa_devices.is_empty()).to_owned(),
    ];
    key_columns(&mut fields, &user.access_keys, used);
    // Signing certificates: whether each is active, and when it was uploaded.
    for slot in 0..2 {
        match user.signing_certificates.get(slot) {
            Some(cert) => {
                fields.push(flag(cert.status == KeyStatus::Active).to_owned());
                fields.push(iso8601(cert.upload_date));
            }
            None => fields.extend(["false", NA].map(str::to_owned)),
        }
    }
    fields
}

fn report_missing() -> Error {
    Error::new(
        ErrorCode::ReportNotPresent,
        "The request was rejected because the credential report does not exist. To generate a credential report, use \
         GenerateCredentialReport.",
    )
}

fn report_expired() -> Error {
    Error::new(
        ErrorCode::ReportExpired,
        "The request was rejected because the most recent credential report has expired. To generate a new credential \
         report, use GenerateCredentialReport.",
    )
}

impl<S: Store> Identity<S> {
    /// `GenerateCredentialReport`: reuses a report younger than four hours, otherwise builds one
    /// now. Either way the report is ready when this returns (see the module docs).
    pub async fn generate_credential_report(&self, account: &Account) -> Result<(ReportState, String)> {
        let now = self.env.now_millis();
        let key = Key::new(account.ns(), CREDENTIAL_REPORT, "");
        let existing: Option<CredentialReportRecord> = iam::load(&*self.store, &key).await?;
        if existing.is_some_and(|r| now.saturating_sub(r.generated) < REPORT_TTL_MILLIS) {
            return Ok((
                ReportState::Complete,
                "A credential report generated less than four hours ago is available.".to_owned(),
            ));
        }
        let csv = self.build_report(account).await?;
        iam::put_blind(&*self.store, key, &CredentialReportRecord { generated: now, csv }).await?;
        Ok((ReportState::Complete, "The credential report has been generated.".to_owned()))
    }

    /// `GetCredentialReport`: the CSV and when it was generated.
    pub async fn get_credential_report(&self, account: &Account) -> Result<CredentialReportRecord> {
        let key = Key::new(account.ns(), CREDENTIAL_REPORT, "");
        let report: CredentialReportRecord = iam::load(&*self.store, &key).await?.ok_or_else(report_missing)?;
        if self.env.now_millis().saturating_sub(report.generated) >= REPORT_TTL_MILLIS {
            return Err(report_expired());
        }
        Ok(report)
    }

    async fn build_report(&self, account: &Account) -> Result<String> {
        let store = &*self.store;
        let policy: Option<PasswordPolicyRecord> =
            iam::load(store, &Key::new(account.ns(), PASSWORD_POLICY, "")).await?;
        let created: Option<AccountRecord> = iam::load(store, &Key::new(account.ns(), iam::ACCOUNT, "")).await?;
        let mut out = String::with_capacity(HEADER.len() + 1);
        out.push_str(HEADER);
        out.push('\n');
        // The root's row: its creation time is the account's, when known; its password columns
        // are AWS's `not_supported` (its last sign-in is not recorded); its MFA device is the one
        // the console assigns it; its access keys are its own (`CreateAccessKey` by the root).
        let root_created = created.map_or_else(|| NA.to_owned(), |a| iso8601(a.create_date));
        let root_mfa = self.root_mfa_device(account).await?.is_some();
        let mut root = vec![
            "<root_account>".to_owned(),
            tessera_arn::Arn::root(account.id()).to_string(),
            root_created,
            NOT_SUPPORTED.to_owned(),
            NO_INFORMATION.to_owned(),
            NOT_SUPPORTED.to_owned(),
            NOT_SUPPORTED.to_owned(),
            flag(root_mfa).to_owned(),
        ];
        let root_keys: Option<RootKeysRecord> = iam::load(store, &Key::new(account.ns(), ROOT_KEYS, "")).await?;
        let root_keys = root_keys.map(|r| r.keys).unwrap_or_default();
        let used = self.key_uses(account, &root_keys).await?;
        key_columns(&mut root, &root_keys, &used);
        root.extend(["false", NA, "false", NA].map(str::to_owned));
        row(&mut out, &root);
        for (_, user) in iam::scan_all::<S, UserRecord>(store, account.ns()).await? {
            let used = self.key_uses(account, &user.access_keys).await?;
            row(&mut out, &user_row(&user, policy.as_ref(), &used));
        }
        Ok(out)
    }

    /// When each of the first two of `keys` was last used.
    async fn key_uses(&self, account: &Account, keys: &[AccessKeyRecord]) -> Result<Vec<Option<KeyUsedRecord>>> {
        let mut used = Vec::with_capacity(2);
        for key in keys.iter().take(2) {
            used.push(iam::load::<S, KeyUsedRecord>(&*self.store, &Key::new(account.ns(), KEY_USED, &key.id)).await?);
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::account::testing::{START_SECS, fixture};
    use crate::login::UpdatePasswordPolicy;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(START_SECS * 1000), "2026-11-23T10:00:00+00:00");
        assert_eq!(iso8601(951_782_400_000 + 3_723_000), "2000-02-29T01:02:03+00:00");
        assert_eq!(iso8601(4_107_542_399_000), "2100-02-28T23:59:59+00:00");
    }

    #[test]
    fn fields_with_commas_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(field("plain"), "plain");
    }

    #[tokio::test]
    async fn report_lifecycle_and_columns() {
        let f = fixture();
        let err = f.identity.get_credential_report(&f.account).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ReportNotPresent);

        f.identity.create_account(&f.account).await.unwrap();
        f.user("alice").await;
        f.user("bob").await;
        let policy = UpdatePasswordPolicy { max_password_age: Some(90), ..Default::default() };
        f.identity.update_account_password_policy(&f.account, policy).await.unwrap();
        f.identity.create_login_profile(&f.account, "alice", "password-1", false).await.unwrap();
        let k1 = f.identity.create_access_key(&f.account, "alice").await.unwrap().access_key_id;
        let k2 = f.identity.create_access_key(&f.account, "alice").await.unwrap().access_key_id;
        f.identity.update_access_key(&f.account, "alice", &k2, KeyStatus::Inactive).await.unwrap();
        f.clock.advance(Duration::from_secs(60));
        f.identity.record_access_key_use(&f.account, &k1, "s3", "eu-west-1").await.unwrap();

        let (state, _) = f.identity.generate_credential_report(&f.account).await.unwrap();
        assert_eq!(state.as_str(), "COMPLETE");
        let report = f.identity.get_credential_report(&f.account).await.unwrap();
        let lines: Vec<&str> = report.csv.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines.len(), 4);
        let t0 = "2026-11-23T10:00:00+00:00";
        let t1 = "2026-11-23T10:01:00+00:00";
        assert_eq!(
            lines[1],
            format!(
                "<root_account>,arn:aws:iam::123456789012:root,{t0},not_supported,no_information,not_supported,\
                 not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "alice,arn:aws:iam::123456789012:user/alice,{t0},true,no_information,{t0},2027-02-21T10:00:00+00:00,\
                 false,true,{t0},{t1},eu-west-1,s3,false,{t0},N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );
        assert_eq!(
            lines[3],
            format!(
                "bob,arn:aws:iam::123456789012:user/bob,{t0},false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,\
                 false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );
        for line in &lines {
            assert_eq!(line.split(',').count(), 22, "{line}");
        }

        // Within four hours the report is reused, even though bob changed meanwhile.
        f.identity.create_login_profile(&f.account, "bob", "password-2", false).await.unwrap();
        f.clock.advance(Duration::from_secs(3 * 3600));
        f.identity.generate_credential_report(&f.account).await.unwrap();
        assert_eq!(f.identity.get_credential_report(&f.account).await.unwrap(), report);

        // After four hours it is expired, until a new one is generated.
        f.clock.advance(Duration::from_secs(3600));
        assert_eq!(f.identity.get_credential_report(&f.account).await.unwrap_err().code(), ErrorCode::ReportExpired);
        f.identity.generate_credential_report(&f.account).await.unwrap();
        let fresh = f.identity.get_credential_report(&f.account).await.unwrap();
        assert!(fresh.generated > report.generated);
        assert!(
            fresh
                .csv
                .lines()
                .nth(3)
                .unwrap()
                .starts_with("bob,arn:aws:iam::123456789012:user/bob,2026-11-23T10:00:00+00:00,true,")
        );
    }

    /// The root's row reports the root's own access keys as a user's row does, and
    /// `GetAccessKeyLastUsed` finds a root key (with the root's empty name).
    #[tokio::test]
    async fn the_root_row_reports_the_roots_keys() {
        let f = fixture();
        f.identity.create_account(&f.account).await.unwrap();
        let key = f.identity.create_access_key(&f.account, "").await.unwrap().access_key_id;
        let unused = f.identity.get_access_key_last_used(&f.account, &key).await.unwrap();
        assert_eq!((unused.user_name.as_str(), unused.last_used_date), ("", None));
        f.clock.advance(Duration::from_secs(60));
        f.identity.record_access_key_use(&f.account, &key, "iam", "us-east-1").await.unwrap();
        let used = f.identity.get_access_key_last_used(&f.account, &key).await.unwrap();
        assert_eq!((used.user_name.as_str(), used.service_name.as_str()), ("", "iam"));

        f.identity.generate_credential_report(&f.account).await.unwrap();
        let report = f.identity.get_credential_report(&f.account).await.unwrap();
        let (t0, t1) = ("2026-11-23T10:00:00+00:00", "2026-11-23T10:01:00+00:00");
        assert_eq!(
            report.csv.lines().nth(1).unwrap(),
            format!(
                "<root_account>,arn:aws:iam::123456789012:root,{t0},not_supported,no_information,not_supported,\
                 not_supported,false,true,{t0},{t1},us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );

        // Deleted, the key is gone from both.
        f.identity.delete_access_key(&f.account, "", &key).await.unwrap();
        let err = f.identity.get_access_key_last_used(&f.account, &key).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
    }
}
