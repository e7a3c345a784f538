//! `Tag*`, `Untag*` and `List*Tags` for every taggable IAM resource: users, roles, customer managed
//! policies, OIDC providers and virtual MFA devices, with one implementation.
//!
//! Every change bumps the policy epoch: user and role tags are `aws:PrincipalTag` values, and the
//! tags of any IAM resource are `aws:ResourceTag` / `iam:ResourceTag` values when IAM actions on it
//! are authorized.

use tessera_proto::error::ErrorCode;
use tessera_store::iam::{
    self, InstanceProfileRecord, MfaDeviceRecord, OidcProviderRecord, PolicyRecord, Record, RoleRecord,
    SamlProviderRecord, Tag, UserRecord,
};
use tessera_store::{Key, Store, Tx, update};

use crate::entity;
use crate::page::{Page, PageRequest, paginate};
use crate::{Account, Error, Identity, Result, instance_profiles, mfa, oidc, saml, server_certificates, tags};
use tessera_store::iam::EntityKind;
use tessera_store::iam::ServerCertificateRecord;

/// A resource that carries tags, named as its API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taggable {
    /// A user name.
    User(String),
    /// A role name.
    Role(String),
    /// A customer managed policy ARN (AWS-managed policies cannot be tagged).
    Policy(String),
    /// An OIDC provider ARN.
    OidcProvider(String),
    /// A virtual MFA device serial number.
    MfaDevice(String),
    /// A server certificate name (issue 14, part B).
    ServerCertificate(String),
    /// An instance profile name.
    InstanceProfile(String),
    // SAML providers
    /// A SAML provider ARN.
    SamlProvider(String),
}

impl Taggable {
    /// The quota named in `LimitExceeded` when a resource would carry more than 50 tags.
    fn quota(&self) -> &'static str {
        match self {
            Self::User(_) => "TagsPerUser",
            Self::Role(_) => "TagsPerRole",
            Self::Policy(_) => "TagsPerPolicy",
            Self::ServerCertificate(_) => "TagsPerServerCertificate",
            Self::OidcProvider(_) => "TagsPerOpenIDConnectProvider",
            Self::MfaDevice(_) => "TagsPerVirtualMFADevice",
            Self::InstanceProfile(_) => "TagsPerInstanceProfile",
            Self::SamlProvider(_) => "TagsPerSAMLProvider",
        }
    }
}

/// A taggable record as read.
enum Loaded {
    User(UserRecord),
    Role(RoleRecord),
    ServerCertificate(ServerCertificateRecord),
    Policy(PolicyRecord),
    Oidc(OidcProviderRecord),
    Mfa(MfaDeviceRecord),
    InstanceProfile(InstanceProfileRecord),
    Saml(SamlProviderRecord),
}

impl Loaded {
    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        match self {
            Self::User(r) => &mut r.tags,
            Self::ServerCertificate(r) => &mut r.tags,
            Self::Role(r) => &mut r.tags,
            Self::Policy(r) => &mut r.tags,
            Self::Oidc(r) => &mut r.tags,
            Self::Mfa(r) => &mut r.tags,
            Self::InstanceProfile(r) => &mut r.tags,
            Self::Saml(r) => &mut r.tags,
        }
    }

    fn into_tags(self) -> Vec<Tag> {
        match self {
            Self::User(r) => r.tags,
            Self::Role(r) => r.tags,
            Self::Policy(r) => r.tags,
            Self::Oidc(r) => r.tags,
            Self::Mfa(r) => r.tags,
            Self::InstanceProfile(r) => r.tags,
            Self::Saml(r) => r.tags,
            Self::ServerCertificate(r) => r.tags,
        }
    }

    fn write<S: Store + ?Sized>(&self, tx: &Tx<'_, S>, key: Key) {
        match self {
            Self::User(r) => tx.write(key, r),
            Self::Role(r) => tx.write(key, r),
            Self::Policy(r) => tx.write(key, r),
            Self::Oidc(r) => tx.write(key, r),
            Self::Mfa(r) => tx.write(key, r),
            Self::InstanceProfile(r) => tx.write(key, r),
            Self::Saml(r) => tx.write(key, r),
            Self::ServerCertificate(r) => tx.write(key, r),
        }
    }
}

fn policy_not_found(arn: &str) -> Error {
    Error::no_such_entity(format!("Policy {arn} was not found."))
}

/// Reads in `tx` (guarding the commit) when there is one, else straight from the store.
async fn read<S: Store + ?Sized, R: Record>(store: &S, tx: Option<&Tx<'_, S>>, key: &Key) -> Result<Option<R>> {
    Ok(match tx {
        Some(tx) => tx.read(key).await?,
        None => iam::load(store, key).await?,
    })
}

/// Finds a taggable resource and its key, or fails as AWS does when it does not exist.
async fn load<S: Store + ?Sized>(
    store: &S,
    tx: Option<&Tx<'_, S>>,
    account: &Account,
    resource: &Taggable,
) -> Result<(Key, Loaded)> {
    match resource {
        Taggable::User(name) => {
            let key = entity::key(account, EntityKind::User, name);
            let user = read(store, tx, &key).await?.ok_or_else(|| entity::not_found(EntityKind::User, name))?;
            Ok((key, Loaded::User(user)))
        }
        Taggable::Role(name) => {
            let key = entity::key(account, EntityKind::Role, name);
            let role = read(store, tx, &key).await?.ok_or_else(|| entity::not_found(EntityKind::Role, name))?;
            Ok((key, Loaded::Role(role)))
        }
        Taggable::Policy(arn) => {
            let policy = entity::parse_policy_arn(account, arn).map_err(|error| match error.code() {
                ErrorCode::NoSuchEntity => policy_not_found(arn),
                _ => error,
            })?;
            if policy.aws_managed {
                return Err(Error::invalid_input(format!(
                    "Policy {arn} is an AWS managed policy and cannot be tagged."
                )));
            }
            let key = policy.key(account);
            let record: Option<PolicyRecord> = read(store, tx, &key).await?;
            let record = record.filter(|r| r.path == policy.path).ok_or_else(|| policy_not_found(arn))?;
            Ok((key, Loaded::Policy(record)))
        }
        Taggable::OidcProvider(arn) => {
            let key = oidc::key_for_arn(account, arn)?;
            let provider = read(store, tx, &key).await?.ok_or_else(|| oidc::provider_not_found(arn))?;
            Ok((key, Loaded::Oidc(provider)))
        }
        Taggable::MfaDevice(serial) => {
            let key = mfa::device_key(account, serial)?;
            let device = read(store, tx, &key)
                .await?
                .filter(|d| mfa::names(d, serial))
                .ok_or_else(|| mfa::device_not_found(serial))?;
            Ok((key, Loaded::Mfa(device)))
        }
        Taggable::InstanceProfile(name) => {
            tessera_arn::validate_instance_profile_name(name)?;
            let key = instance_profiles::profile_key(account, name);
            let profile = read(store, tx, &key).await?.ok_or_else(|| instance_profiles::profile_not_found(name))?;
            Ok((key, Loaded::InstanceProfile(profile)))
        }
        Taggable::SamlProvider(arn) => {
            let key = saml::key_for_arn(account, arn)?;
            let provider = read(store, tx, &key).await?.ok_or_else(|| saml::provider_not_found(arn))?;
            Ok((key, Loaded::Saml(provider)))
        }
        Taggable::ServerCertificate(name) => {
            let key = server_certificates::key(account, name);
            let cert = read(store, tx, &key).await?.ok_or_else(|| server_certificates::not_found(name))?;
            Ok((key, Loaded::ServerCertificate(cert)))
        }
    }
}

impl<S: Store> Identity<S> {
    /// `TagUser`, `TagRole`, `TagPolicy`, `TagOpenIDConnectProvider`, `TagMFADevice`: adds tags,
    /// overwriting the values of keys already there (matched without case). All or nothing.
    pub async fn tag_resource(&self, account: &Account, resource: &Taggable, new: Vec<Tag>) -> Result<()> {
        let new = &new;
        self.change_tags(account, resource, |tags| tags::tag(tags, new.clone(), resource.quota())).await
    }

    /// `Untag*`: removes the tags with these keys (without case); absent keys are ignored.
    pub async fn untag_resource(&self, account: &Account, resource: &Taggable, keys: &[String]) -> Result<()> {
        self.change_tags(account, resource, |tags| tags::untag(tags, keys)).await
    }

    async fn change_tags(
        &self,
        account: &Account,
        resource: &Taggable,
        change: impl Fn(&mut Vec<Tag>) -> Result<()> + Sync,
    ) -> Result<()> {
        let change = &change;
        let store = &*self.store;
        update(store, |tx| async move {
            let (key, mut record) = load(store, Some(&tx), account, resource).await?;
            change(record.tags_mut())?;
            record.write(&tx, key);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `List*Tags`, in the order the tags were added.
    pub async fn list_resource_tags(
        &self,
        account: &Account,
        resource: &Taggable,
        page: &PageRequest,
    ) -> Result<Page<Tag>> {
        let (_, record) = load(&*self.store, None, account, resource).await?;
        // Tag keys may hold characters a marker cannot, so the marker is the position (≤ 50 tags).
        let numbered: Vec<(String, Tag)> =
            record.into_tags().into_iter().enumerate().map(|(i, t)| (format!("{i:03}"), t)).collect();
        Ok(paginate(numbered, page, |(n, _)| n.clone())?.map(|(_, t)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::fixture;
    use crate::roles::CreateRole;

    fn t(key: &str, value: &str) -> Tag {
        Tag { key: key.into(), value: value.into() }
    }

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    #[tokio::test]
    async fn every_kind_can_be_tagged_listed_and_untagged() {
        let f = fixture();
        f.user("alice").await;
        let role =
            CreateRole { role_name: "app".into(), assume_role_policy_document: TRUST.into(), ..Default::default() };
        f.identity.create_role(&f.account, role).await.unwrap();
        let policy = PolicyRecord {
            name: "Local".into(),
            path: "/".into(),
            id: "ANPAEXAMPLE".into(),
            arn: "arn:aws:iam::123456789012:policy/Local".into(),
            description: None,
            create_date: 0,
            update_date: 0,
            default_version: "v1".into(),
            versions: Vec::new(),
            next_version: 2,
            tags: Vec::new(),
        };
        iam::put_blind(&**f.identity.store(), iam::named(f.account.ns(), iam::POLICY, "Local"), &policy).await.unwrap();
        let provider = oidc::CreateOidcProvider { url: "https://idp.example.com".into(), ..Default::default() };
        let provider = f.identity.create_open_id_connect_provider(&f.account, provider).await.unwrap();
        let device = f.identity.create_virtual_mfa_device(&f.account, None, "phone", Vec::new()).await.unwrap();

        for resource in [
            Taggable::User("ALICE".into()),
            Taggable::Role("app".into()),
            Taggable::Policy(policy.arn.clone()),
            Taggable::OidcProvider(provider.arn.clone()),
            Taggable::MfaDevice(device.device.serial.clone()),
        ] {
            let before = iam::current_epoch(&**f.identity.store(), f.account.ns()).await.unwrap();
            f.identity.tag_resource(&f.account, &resource, vec![t("team", "a"), t("env", "prod")]).await.unwrap();
            f.identity.tag_resource(&f.account, &resource, vec![t("Team", "b")]).await.unwrap();
            assert!(iam::current_epoch(&**f.identity.store(), f.account.ns()).await.unwrap() > before, "{resource:?}");
            let listed = f.identity.list_resource_tags(&f.account, &resource, &PageRequest::default()).await.unwrap();
            assert_eq!(listed.items, [t("Team", "b"), t("env", "prod")], "{resource:?}");
            let first = f
                .identity
                .list_resource_tags(&f.account, &resource, &PageRequest { marker: None, max_items: Some(1) })
                .await
                .unwrap();
            assert_eq!(first.items, [t("Team", "b")]);
            let rest = PageRequest { marker: first.marker, max_items: Some(1) };
            assert_eq!(
                f.identity.list_resource_tags(&f.account, &resource, &rest).await.unwrap().items,
                [t("env", "prod")]
            );
            f.identity.untag_resource(&f.account, &resource, &["TEAM".into(), "absent".into()]).await.unwrap();
            let listed = f.identity.list_resource_tags(&f.account, &resource, &PageRequest::default()).await.unwrap();
            assert_eq!(listed.items, [t("env", "prod")], "{resource:?}");
        }
    }

    #[tokio::test]
    async fn limits_missing_resources_and_aws_policies() {
        let f = fixture();
        f.user("alice").await;
        let alice = Taggable::User("alice".into());
        let many: Vec<Tag> = (0..50).map(|i| t(&format!("k{i}"), "v")).collect();
        f.identity.tag_resource(&f.account, &alice, many).await.unwrap();
        let err = f
            .identity
            .tag_resource(&f.account, &alice, vec![t("one-more", "v")])
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.code, ErrorCode::LimitExceeded);
        assert_eq!(err.message, "Cannot exceed quota for TagsPerUser: 50");
        assert_eq!(
            f.identity.tag_resource(&f.account, &alice, vec![t("aws:x", "v")]).await.unwrap_err().code(),
            ErrorCode::ValidationError
        );

        for (resource, code) in [
            (Taggable::User("nobody".into()), ErrorCode::NoSuchEntity),
            (Taggable::Role("nobody".into()), ErrorCode::NoSuchEntity),
            (Taggable::Policy("arn:aws:iam::123456789012:policy/None".into()), ErrorCode::NoSuchEntity),
            (Taggable::Policy("arn:aws:iam::aws:policy/ReadOnlyAccess".into()), ErrorCode::InvalidInput),
            (Taggable::Policy("not-an-arn".into()), ErrorCode::InvalidInput),
            (
                Taggable::OidcProvider("arn:aws:iam::123456789012:oidc-provider/none.example.com".into()),
                ErrorCode::NoSuchEntity,
            ),
            (Taggable::MfaDevice("arn:aws:iam::123456789012:mfa/none".into()), ErrorCode::NoSuchEntity),
        ] {
            let err = f.identity.tag_resource(&f.account, &resource, vec![t("k", "v")]).await.unwrap_err();
            assert_eq!(err.code(), code, "{resource:?}");
            let err = f.identity.list_resource_tags(&f.account, &resource, &PageRequest::default()).await.unwrap_err();
            assert_eq!(err.code(), code, "{resource:?}");
        }
        let err = f
            .identity
            .tag_resource(&f.account, &Taggable::Policy("arn:aws:iam::123456789012:policy/None".into()), vec![])
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.message, "Policy arn:aws:iam::123456789012:policy/None was not found.");
    }
}
