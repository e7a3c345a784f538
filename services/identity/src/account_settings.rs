//! Per-account settings: the account alias (`CreateAccountAlias`, `DeleteAccountAlias`,
//! `ListAccountAliases`) and the STS preferences (`SetSecurityTokenServicePreferences`).
//!
//! An account has at most one alias, and an alias belongs to one account across the whole store.
//! Each alias is written twice: in the global registry (`account-alias:<alias>`, which account
//! owns it) and in the account (`account-alias:`, its one alias). A transaction stays in one
//! namespace, so these are two commits, ordered so that an interruption leaves nothing another
//! account could observe as half done: create claims the registry first, then the account;
//! delete releases the account first, then the registry. A registry entry whose account no longer
//! lists the alias (a delete interrupted between its commits) counts as free.

use tessera_arn::validate_account_alias;
use tessera_store::iam::{self, ACCOUNT_ALIAS, AccountAliasRecord, STS_PREFERENCES, StsPreferencesRecord};
use tessera_store::{Key, Namespace, Store, update};

use crate::page::{Page, PageRequest, paginate};
use crate::{Account, Error, Identity, Result};

/// Aliases per account.
const MAX_ALIASES: usize = 1;

/// The values of `GlobalEndpointTokenVersion`.
const TOKEN_VERSIONS: [&str; 2] = ["v1Token", "v2Token"];

fn account_key(account: &Account) -> Key {
    Key::new(account.ns(), ACCOUNT_ALIAS, "")
}

fn registry_key(alias: &str) -> Key {
    Key::new(&Namespace::global(), ACCOUNT_ALIAS, alias)
}

fn preferences_key(account: &Account) -> Key {
    Key::new(account.ns(), STS_PREFERENCES, "")
}

impl<S: Store> Identity<S> {
    /// The account's alias, if it has one.
    async fn alias_of(&self, account_id: &str) -> Result<Option<String>> {
        let Ok(account) = Account::new(account_id) else { return Ok(None) };
        let record: Option<AccountAliasRecord> = iam::load(&*self.store, &account_key(&account)).await?;
        Ok(record.map(|r| r.alias))
    }

    /// `CreateAccountAlias`: the account's alias, unique across accounts. Creating the alias the
    /// account already has succeeds; a second, different alias is over the quota of one.
    pub async fn create_account_alias(&self, account: &Account, alias: &str) -> Result<()> {
        validate_account_alias(alias)?;
        match self.alias_of(account.id()).await? {
            Some(current) if current == alias => return Ok(()),
            Some(_) => return Err(Error::quota("AccountAliasesPerAccount", MAX_ALIASES)),
            None => {}
        }
        let taken = || Error::already_exists(format!("The account alias {alias} already exists."));
        // Another account's registry entry is free only when that account no longer lists the alias.
        let stale = match iam::load::<S, AccountAliasRecord>(&*self.store, &registry_key(alias)).await? {
            Some(entry) if entry.account != account.id() => {
                if self.alias_of(&entry.account).await?.as_deref() == Some(alias) {
                    return Err(taken());
                }
                Some(entry.account)
            }
            _ => None,
        };
        let record = AccountAliasRecord { alias: alias.to_owned(), account: account.id().to_owned() };
        let (record, stale) = (&record, &stale);
        update(&*self.store, |tx| async move {
            let key = registry_key(alias);
            // The commit is guarded by this read: an owner that appeared meanwhile wins.
            if let Some(entry) = tx.read::<AccountAliasRecord>(&key).await?
                && entry.account != account.id()
                && Some(&entry.account) != stale.as_ref()
            {
                return Err(taken());
            }
            tx.write(key, record);
            Ok(())
        })
        .await?;
        update(&*self.store, |tx| async move {
            let key = account_key(account);
            match tx.read::<AccountAliasRecord>(&key).await? {
                Some(current) if current.alias != alias => Err(Error::quota("AccountAliasesPerAccount", MAX_ALIASES)),
                _ => {
                    tx.write(key, record);
                    Ok(())
                }
            }
        })
        .await
    }

    /// `DeleteAccountAlias`: only the account's own alias.
    pub async fn delete_account_alias(&self, account: &Account, alias: &str) -> Result<()> {
        validate_account_alias(alias)?;
        let missing = || Error::no_such_entity(format!("The account alias {alias} cannot be found."));
        update(&*self.store, |tx| async move {
            let key = account_key(account);
            match tx.read::<AccountAliasRecord>(&key).await? {
                Some(current) if current.alias == alias => {
                    tx.delete(key);
                    Ok(())
                }
                _ => Err(missing()),
            }
        })
        .await?;
        update(&*self.store, |tx| async move {
            let key = registry_key(alias);
            if tx.read::<AccountAliasRecord>(&key).await?.is_some_and(|entry| entry.account == account.id()) {
                tx.delete(key);
            }
            Ok::<_, Error>(())
        })
        .await
    }

    /// `ListAccountAliases`: the account's alias, if any (a list of at most one).
    pub async fn list_account_aliases(&self, account: &Account, page: &PageRequest) -> Result<Page<String>> {
        let aliases: Vec<String> = self.alias_of(account.id()).await?.into_iter().collect();
        paginate(aliases, page, Clone::clone)
    }

    /// `SetSecurityTokenServicePreferences`: which tokens the global STS endpoint issues.
    pub async fn set_security_token_service_preferences(&self, account: &Account, version: &str) -> Result<()> {
        if !TOKEN_VERSIONS.contains(&version) {
            return Err(Error::new(
                tessera_proto::ErrorCode::ValidationError,
                format!(
                    "1 validation error detected: Value '{version}' at 'globalEndpointTokenVersion' failed to satisfy \
                     constraint: Member must satisfy enum value set: [{}]",
                    TOKEN_VERSIONS.join(", ")
                ),
            ));
        }
        let record = StsPreferencesRecord { global_endpoint_token_version: version.to_owned() };
        iam::put_blind(&*self.store, preferences_key(account), &record).await?;
        Ok(())
    }

    /// The account's `GlobalEndpointTokenVersion` as `GetAccountSummary` counts it: 1 or 2.
    pub(crate) async fn global_endpoint_token_version(&self, account: &Account) -> Result<i64> {
        let record: Option<StsPreferencesRecord> = iam::load(&*self.store, &preferences_key(account)).await?;
        Ok(match record.as_ref().map(|r| r.global_endpoint_token_version.as_str()) {
            Some("v2Token") => 2,
            _ => 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use tessera_proto::ErrorCode;

    use crate::account::testing::fixture;

    use super::*;

    #[tokio::test]
    async fn an_alias_is_one_per_account_and_unique_across_accounts() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        let other = Account::new("210987654321").unwrap();
        id.create_account_alias(a, "my-co").await.unwrap();
        id.create_account_alias(a, "my-co").await.unwrap();
        let err = id.create_account_alias(a, "second").await.unwrap_err().into_service_error();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::LimitExceeded, "Cannot exceed quota for AccountAliasesPerAccount: 1")
        );
        assert_eq!(id.create_account_alias(&other, "my-co").await.unwrap_err().code(), ErrorCode::EntityAlreadyExists);
        assert_eq!(id.list_account_aliases(a, &PageRequest::default()).await.unwrap().items, ["my-co"]);
        assert_eq!(id.delete_account_alias(&other, "my-co").await.unwrap_err().code(), ErrorCode::NoSuchEntity);
        id.delete_account_alias(a, "my-co").await.unwrap();
        assert!(id.list_account_aliases(a, &PageRequest::default()).await.unwrap().items.is_empty());
        id.create_account_alias(&other, "my-co").await.unwrap();
        for bad in ["ab", "-abc", "abc-", "a--b", "ABC", "a_b"] {
            assert_eq!(id.create_account_alias(a, bad).await.unwrap_err().code(), ErrorCode::ValidationError, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_registry_entry_left_by_an_interrupted_delete_counts_as_free() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        let stale = AccountAliasRecord { alias: "stale".into(), account: "210987654321".into() };
        iam::put_blind(&**id.store(), registry_key("stale"), &stale).await.unwrap();
        id.create_account_alias(a, "stale").await.unwrap();
        assert_eq!(id.list_account_aliases(a, &PageRequest::default()).await.unwrap().items, ["stale"]);
    }

    #[tokio::test]
    async fn token_version_preferences_show_in_the_summary() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        assert_eq!(id.get_account_summary(a).await.unwrap()["GlobalEndpointTokenVersion"], 1);
        id.set_security_token_service_preferences(a, "v2Token").await.unwrap();
        assert_eq!(id.get_account_summary(a).await.unwrap()["GlobalEndpointTokenVersion"], 2);
        let err = id.set_security_token_service_preferences(a, "v3Token").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
    }
}
