//! OpenID Connect identity providers (reference §5.6): who may federate into the account through
//! `AssumeRoleWithWebIdentity`, so every change bumps the policy epoch.
//!
//! A provider is keyed by its URL without `https://` (which is also what its ARN and
//! `GetOpenIDConnectProvider` show). Thumbprints are optional, as in AWS today, and nothing is
//! fetched over the network: the service never contacts the issuer.

use tessera_arn::{Arn, IamEntity, ValidationError, Violation};
use tessera_store::iam::{self, OIDC, OidcProviderRecord, Tag};
use tessera_store::{Key, Store, update};

use crate::{Account, Error, Identity, Result, tags};

/// OIDC providers per account.
pub(crate) const MAX_PROVIDERS: usize = 100;

/// Client IDs per provider.
pub(crate) const MAX_CLIENT_IDS: usize = 100;

/// Thumbprints per provider.
pub(crate) const MAX_THUMBPRINTS: usize = 5;

/// Longest URL, client ID.
const MAX_URL_LEN: usize = 255;
const MAX_CLIENT_ID_LEN: usize = 255;

/// `CreateOpenIDConnectProvider`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreateOidcProvider {
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: Vec<Tag>,
}

pub(crate) fn provider_not_found(arn: &str) -> Error {
    Error::no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

/// The provider's key given its URL without the scheme.
fn provider_key(account: &Account, url: &str) -> Key {
    Key::new(account.ns(), OIDC, url)
}

/// Host names are case-insensitive, paths are not: the host part of a provider URL is kept
/// lowercase, so `https://Idp.Example.com` and `https://idp.example.com` are one provider.
fn fold_host(rest: &str) -> String {
    match rest.split_once('/') {
        Some((host, path)) => format!("{}/{path}", host.to_ascii_lowercase()),
        None => rest.to_ascii_lowercase(),
    }
}

/// Whether `port` is a TCP port number (1 to 65535, digits only).
fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0)
}

/// Checks an issuer URL and returns it without `https://`: at most 255 characters, `https`, a host
/// with an optional port, no query or fragment, printable ASCII. Otherwise it is kept as given (a
/// trailing `/` included), since a token's `iss` must match it.
///
/// AWS refuses ports; Tessera allows them (`https://127.0.0.1:8443`, a local or test identity
/// provider), and keeps them in the key, the ARN (`oidc-provider/127.0.0.1:8443`) and the
/// condition-key prefix (`127.0.0.1:8443:aud`).
pub(crate) fn normalize_url(url: &str) -> Result<String> {
    let len = url.chars().count();
    if len == 0 || len > MAX_URL_LEN {
        let violation = if len == 0 { Violation::MinLength(1) } else { Violation::MaxLength(MAX_URL_LEN) };
        return Err(ValidationError { field: "url", value: url.to_owned(), violations: vec![violation] }.into());
    }
    let rest = url
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .ok_or_else(|| Error::invalid_input(format!("Invalid URL {url}: the scheme must be https.")))?;
    let host = rest.split('/').next().unwrap_or_default();
    let problem = if host.is_empty() {
        Some("it has no host")
    } else if host.split_once(':').is_some_and(|(name, port)| name.is_empty() || !valid_port(port)) {
        Some("its port must be a number from 1 to 65535 after a host name")
    } else if rest.contains('?') || rest.contains('#') {
        Some("it must not have a query or fragment")
    } else if rest.contains("//") || !rest.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)) {
        Some("it must be printable ASCII without empty path segments")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::invalid_input(format!("Invalid URL {url}: {problem}."))),
        None => Ok(fold_host(rest)),
    }
}

fn check_client_ids(ids: &[String]) -> Result<Vec<String>> {
    let mut unique: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let len = id.chars().count();
        if len == 0 || len > MAX_CLIENT_ID_LEN {
            let violation = if len == 0 { Violation::MinLength(1) } else { Violation::MaxLength(MAX_CLIENT_ID_LEN) };
            return Err(ValidationError {
                field: "clientIDList.member",
                value: id.clone(),
                violations: vec![violation],
            }
            .into());
        }
        if !unique.contains(id) {
            unique.push(id.clone());
        }
        // Checked as the list grows, so that finding duplicates stays linear in the input.
        if unique.len() > MAX_CLIENT_IDS {
            return Err(Error::quota("ClientIDsPerOpenIdConnectProvider", MAX_CLIENT_IDS));
        }
    }
    Ok(unique)
}

/// Thumbprints are 40 hex digits (a SHA-1); kept lowercase, without duplicates.
fn check_thumbprints(thumbprints: &[String]) -> Result<Vec<String>> {
    let mut unique: Vec<String> = Vec::with_capacity(thumbprints.len());
    for thumbprint in thumbprints {
        let len = thumbprint.chars().count();
        if len != 40 {
            let violation = if len < 40 { Violation::MinLength(40) } else { Violation::MaxLength(40) };
            return Err(ValidationError {
                field: "thumbprintList.member",
                value: thumbprint.clone(),
                violations: vec![violation],
            }
            .into());
        }
        if !thumbprint.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid_input(format!("Thumbprint {thumbprint} is not 40 hexadecimal digits.")));
        }
        let lower = thumbprint.to_ascii_lowercase();
        if !unique.contains(&lower) {
            unique.push(lower);
        }
        // Checked as the list grows, so that finding duplicates stays linear in the input.
        if unique.len() > MAX_THUMBPRINTS {
            return Err(Error::quota("ThumbprintsPerOpenIdConnectProvider", MAX_THUMBPRINTS));
        }
    }
    Ok(unique)
}

/// The key of the provider an ARN names in this account; other accounts' ARNs are not found, and
/// anything that is not an OIDC provider ARN is `InvalidInput`.
pub(crate) fn key_for_arn(account: &Account, arn: &str) -> Result<Key> {
    let parsed = Arn::parse(arn).map_err(|_| Error::invalid_input(format!("ARN {arn} is not valid.")))?;
    match parsed.entity() {
        Ok(IamEntity::OidcProvider { url }) if parsed.account == account.id() => {
            Ok(provider_key(account, &fold_host(&url)))
        }
        Ok(IamEntity::OidcProvider { .. }) => Err(provider_not_found(arn)),
        _ => Err(Error::invalid_input(format!("ARN {arn} is not valid."))),
    }
}

impl<S: Store> Identity<S> {
    /// `CreateOpenIDConnectProvider`.
    pub async fn create_open_id_connect_provider(
        &self,
        account: &Account,
        input: CreateOidcProvider,
    ) -> Result<OidcProviderRecord> {
        let url = normalize_url(&input.url)?;
        let provider = OidcProviderRecord {
            arn: Arn::iam("aws", account.id(), &IamEntity::OidcProvider { url: url.clone() }).to_string(),
            url,
            client_ids: check_client_ids(&input.client_ids)?,
            thumbprints: check_thumbprints(&input.thumbprints)?,
            create_date: self.env.now_millis(),
            tags: tags::new_tags(input.tags, "TagsPerOpenIDConnectProvider")?,
        };
        let key = provider_key(account, &provider.url);
        self.create_provider(account, key, &provider, ("OpenIdConnectProvidersPerAccount", MAX_PROVIDERS), || {
            Error::already_exists(format!("Provider with url https://{} already exists.", provider.url))
        })
        .await?;
        Ok(provider)
    }

    /// `GetOpenIDConnectProvider`.
    pub async fn get_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<OidcProviderRecord> {
        let key = key_for_arn(account, arn)?;
        iam::load(&*self.store, &key).await?.ok_or_else(|| provider_not_found(arn))
    }

    /// The provider whose URL is `issuer` (a token's `iss`, with its `https://`), for
    /// `AssumeRoleWithWebIdentity`; `None` when the account trusts no such issuer.
    pub async fn find_open_id_connect_provider(
        &self,
        account: &Account,
        issuer: &str,
    ) -> Result<Option<OidcProviderRecord>> {
        let Ok(url) = normalize_url(issuer) else { return Ok(None) };
        Ok(iam::load(&*self.store, &provider_key(account, &url)).await?)
    }

    /// `ListOpenIDConnectProviders` (not paginated in AWS either).
    pub async fn list_open_id_connect_providers(&self, account: &Account) -> Result<Vec<OidcProviderRecord>> {
        let providers = iam::scan_all::<S, OidcProviderRecord>(&*self.store, account.ns()).await?;
        Ok(providers.into_iter().map(|(_, p)| p).collect())
    }

    /// Changes a provider in one transaction and bumps the epoch (it changes who can federate).
    async fn change_provider(
        &self,
        account: &Account,
        arn: &str,
        change: impl Fn(&mut OidcProviderRecord) -> Result<()> + Sync,
    ) -> Result<()> {
        let key = key_for_arn(account, arn)?;
        let (key, change) = (&key, &change);
        update(&*self.store, |tx| async move {
            let mut provider: OidcProviderRecord = tx.read(key).await?.ok_or_else(|| provider_not_found(arn))?;
            change(&mut provider)?;
            tx.write(key.clone(), &provider);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `DeleteOpenIDConnectProvider`.
    pub async fn delete_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<()> {
        let key = key_for_arn(account, arn)?;
        self.delete_provider::<OidcProviderRecord>(account, key, arn, provider_not_found).await
    }

    /// `AddClientIDToOpenIDConnectProvider`: adding an ID that is already there changes nothing.
    pub async fn add_client_id_to_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        let id = check_client_ids(&[client_id.to_owned()])?.remove(0);
        self.change_provider(account, arn, |provider| {
            if !provider.client_ids.contains(&id) {
                if provider.client_ids.len() >= MAX_CLIENT_IDS {
                    return Err(Error::quota("ClientIDsPerOpenIdConnectProvider", MAX_CLIENT_IDS));
                }
                provider.client_ids.push(id.clone());
            }
            Ok(())
        })
        .await
    }

    /// `RemoveClientIDFromOpenIDConnectProvider`: removing an absent ID is not an error (AWS's
    /// documented behaviour).
    pub async fn remove_client_id_from_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        self.change_provider(account, arn, |provider| {
            provider.client_ids.retain(|id| id != client_id);
            Ok(())
        })
        .await
    }

    /// `UpdateOpenIDConnectProviderThumbprint`: replaces the whole list.
    pub async fn update_open_id_connect_provider_thumbprint(
        &self,
        account: &Account,
        arn: &str,
        thumbprints: &[String],
    ) -> Result<()> {
        let thumbprints = check_thumbprints(thumbprints)?;
        self.change_provider(account, arn, |provider| {
            provider.thumbprints.clone_from(&thumbprints);
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use tessera_proto::error::ErrorCode;

    use super::*;
    use crate::account::testing::fixture;

    const THUMB: &str = "990F4193972F2BECF12DDEDA5237F9C952F20D9E";

    fn github() -> CreateOidcProvider {
        CreateOidcProvider {
            url: "https://token.actions.githubusercontent.com".into(),
            client_ids: vec!["sts.amazonaws.com".into(), "sts.amazonaws.com".into()],
            thumbprints: vec![THUMB.into()],
            tags: Vec::new(),
        }
    }

    #[test]
    fn urls_must_be_https_without_query() {
        assert_eq!(normalize_url("https://Accounts.Example.com/Tenant/").unwrap(), "accounts.example.com/Tenant/");
        assert_eq!(normalize_url("HTTPS://idp.example.com").unwrap(), "idp.example.com");
        // A port is kept (a deviation from AWS, for local and test identity providers).
        assert_eq!(normalize_url("https://127.0.0.1:8443").unwrap(), "127.0.0.1:8443");
        assert_eq!(normalize_url("https://Idp.Example.com:8443/Path").unwrap(), "idp.example.com:8443/Path");
        for bad in [
            "http://x.example.com",
            "https://",
            "https://x.example.com:",
            "https://x.example.com:0",
            "https://x.example.com:65536",
            "https://x.example.com:84a3",
            "https://x.example.com:1:2",
            "https://:8443",
            "https://x.example.com/?a=b",
            "x",
        ] {
            assert_eq!(normalize_url(bad).unwrap_err().code(), ErrorCode::InvalidInput, "{bad}");
        }
        let long = format!("https://{}", "a".repeat(250));
        assert_eq!(normalize_url(&long).unwrap_err().code(), ErrorCode::ValidationError);
    }

    #[test]
    fn long_client_id_and_thumbprint_lists_stop_at_the_quota() {
        // Duplicates are found by scanning what is kept, so the scan must stop at the quota:
        // the bad last entry is never reached.
        let mut ids: Vec<String> = (0..5_000).map(|i| format!("client-{i}")).collect();
        ids.push(String::new());
        assert_eq!(check_client_ids(&ids).unwrap_err().code(), ErrorCode::LimitExceeded);
        let mut thumbprints: Vec<String> = (0..5_000).map(|i| format!("{i:040x}")).collect();
        thumbprints.push("short".into());
        assert_eq!(check_thumbprints(&thumbprints).unwrap_err().code(), ErrorCode::LimitExceeded);
        // Duplicates still count once.
        let repeated = vec!["sts.amazonaws.com".to_owned(); 1_000];
        assert_eq!(check_client_ids(&repeated).unwrap(), ["sts.amazonaws.com"]);
    }

    #[tokio::test]
    async fn create_get_list_and_duplicates() {
        let f = fixture();
        let created = f.identity.create_open_id_connect_provider(&f.account, github()).await.unwrap();
        assert_eq!(created.arn, "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com");
        assert_eq!(created.client_ids, ["sts.amazonaws.com"]);
        assert_eq!(created.thumbprints, [THUMB.to_ascii_lowercase()]);
        assert_eq!(f.identity.get_open_id_connect_provider(&f.account, &created.arn).await.unwrap(), created);
        let found =
            f.identity.find_open_id_connect_provider(&f.account, "https://token.actions.githubusercontent.com").await;
        assert_eq!(found.unwrap(), Some(created.clone()));
        assert_eq!(
            f.identity.find_open_id_connect_provider(&f.account, "https://other.example.com").await.unwrap(),
            None
        );
        assert_eq!(f.identity.list_open_id_connect_providers(&f.account).await.unwrap().len(), 1);

        // A provider with a port keeps it in its URL and ARN, and is found by an `iss` with it.
        let local = CreateOidcProvider { url: "https://127.0.0.1:8443".into(), ..Default::default() };
        let local = f.identity.create_open_id_connect_provider(&f.account, local).await.unwrap();
        assert_eq!(local.arn, "arn:aws:iam::123456789012:oidc-provider/127.0.0.1:8443");
        assert_eq!(f.identity.get_open_id_connect_provider(&f.account, &local.arn).await.unwrap(), local);
        let found = f.identity.find_open_id_connect_provider(&f.account, "https://127.0.0.1:8443").await.unwrap();
        assert_eq!(found, Some(local.clone()));
        assert_eq!(f.identity.find_open_id_connect_provider(&f.account, "https://127.0.0.1:9443").await.unwrap(), None);
        f.identity.delete_open_id_connect_provider(&f.account, &local.arn).await.unwrap();

        let err =
            f.identity.create_open_id_connect_provider(&f.account, github()).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::EntityAlreadyExists);
        assert_eq!(err.message, "Provider with url https://token.actions.githubusercontent.com already exists.");

        // Thumbprints are optional.
        let input = CreateOidcProvider { url: "https://idp.example.com".into(), ..Default::default() };
        assert!(f.identity.create_open_id_connect_provider(&f.account, input).await.unwrap().thumbprints.is_empty());

        let missing = "arn:aws:iam::123456789012:oidc-provider/nope.example.com";
        let err = f.identity.get_open_id_connect_provider(&f.account, missing).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::NoSuchEntity);
        assert_eq!(err.message, format!("OpenIDConnect Provider not found for arn {missing}"));
        let other = "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com";
        assert_eq!(
            f.identity.get_open_id_connect_provider(&f.account, other).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        let role = "arn:aws:iam::123456789012:role/x";
        assert_eq!(
            f.identity.get_open_id_connect_provider(&f.account, role).await.unwrap_err().code(),
            ErrorCode::InvalidInput
        );
    }

    #[tokio::test]
    async fn lists_are_validated_and_limited() {
        let f = fixture();
        let mut input = github();
        input.thumbprints = vec!["abc".into()];
        assert_eq!(
            f.identity.create_open_id_connect_provider(&f.account, input).await.unwrap_err().code(),
            ErrorCode::ValidationError
        );
        let mut input = github();
        input.thumbprints = vec!["z".repeat(40)];
        assert_eq!(
            f.identity.create_open_id_connect_provider(&f.account, input).await.unwrap_err().code(),
            ErrorCode::InvalidInput
        );
        let mut input = github();
        input.thumbprints = (0..6).map(|i| format!("{i:040x}")).collect();
        assert_eq!(
            f.identity.create_open_id_connect_provider(&f.account, input).await.unwrap_err().code(),
            ErrorCode::LimitExceeded
        );
        let mut input = github();
        input.client_ids = (0..101).map(|i| format!("client-{i}")).collect();
        assert_eq!(
            f.identity.create_open_id_connect_provider(&f.account, input).await.unwrap_err().code(),
            ErrorCode::LimitExceeded
        );
        let mut input = github();
        input.client_ids = vec![String::new()];
        assert_eq!(
            f.identity.create_open_id_connect_provider(&f.account, input).await.unwrap_err().code(),
            ErrorCode::ValidationError
        );
    }

    #[tokio::test]
    async fn client_ids_thumbprints_and_delete() {
        let f = fixture();
        let arn = f.identity.create_open_id_connect_provider(&f.account, github()).await.unwrap().arn;
        let store = &**f.identity.store();
        let before = iam::current_epoch(store, f.account.ns()).await.unwrap();
        f.identity.add_client_id_to_open_id_connect_provider(&f.account, &arn, "my-app").await.unwrap();
        f.identity.add_client_id_to_open_id_connect_provider(&f.account, &arn, "my-app").await.unwrap();
        assert!(iam::current_epoch(store, f.account.ns()).await.unwrap() > before, "who can federate changed");
        let provider = f.identity.get_open_id_connect_provider(&f.account, &arn).await.unwrap();
        assert_eq!(provider.client_ids, ["sts.amazonaws.com", "my-app"]);
        f.identity.remove_client_id_from_open_id_connect_provider(&f.account, &arn, "sts.amazonaws.com").await.unwrap();
        f.identity.remove_client_id_from_open_id_connect_provider(&f.account, &arn, "absent").await.unwrap();
        let other = "a".repeat(40);
        f.identity
            .update_open_id_connect_provider_thumbprint(&f.account, &arn, std::slice::from_ref(&other))
            .await
            .unwrap();
        let provider = f.identity.get_open_id_connect_provider(&f.account, &arn).await.unwrap();
        assert_eq!((provider.client_ids, provider.thumbprints), (vec!["my-app".to_owned()], vec![other]));

        f.identity.delete_open_id_connect_provider(&f.account, &arn).await.unwrap();
        for err in [
            f.identity.delete_open_id_connect_provider(&f.account, &arn).await.unwrap_err(),
            f.identity.add_client_id_to_open_id_connect_provider(&f.account, &arn, "x").await.unwrap_err(),
        ] {
            assert_eq!(err.code(), ErrorCode::NoSuchEntity);
        }
    }
}
