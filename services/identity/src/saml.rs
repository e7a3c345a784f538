//! SAML identity providers (reference §1.1, §1.3, §4.4): who may federate into the account through
//! `AssumeRoleWithSAML`, so every change bumps the policy epoch.
//!
//! A provider is keyed by its name as written (its ARN is `saml-provider/<name>`). Its metadata
//! document is parsed and validated by `tessera-saml` when it is written (an `EntityDescriptor`
//! with one `IDPSSODescriptor` and at least one RSA signing certificate); the document is kept
//! as given and parsed again when an assertion is verified.
//!
//! Encrypted assertions: `AssertionEncryptionMode` (`Allowed`, `Required`) and at most 2 private
//! keys (`AddPrivateKey`, PEM RSA, validated by `tessera-saml`; `RemovePrivateKey` by `KeyId`).
//! A key is sealed under the master key (AAD `saml-private-key:<key id>`) before it is stored,
//! never logged or returned; `GetSAMLProvider` shows each key's id and upload time only, and
//! `AssumeRoleWithSAML` opens them through [`Identity::saml_decryption_keys`]. A provider that
//! requires encryption must keep a key (inferred: it could not be used otherwise).

use tessera_arn::{Arn, IamEntity, RandomSource, ValidationError, Violation};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{self, Millis, SAML, SamlPrivateKeyRecord, SamlProviderRecord, Tag};
use tessera_store::{Key, Store, update};

use crate::{Account, Error, Identity, Result, tags};

/// SAML providers per account.
pub(crate) const MAX_PROVIDERS: usize = 100;
const MIN_METADATA_LEN: usize = 1000;
const MAX_METADATA_LEN: usize = 10_000_000;
const MAX_NAME_LEN: usize = 128;
/// When the metadata has no `validUntil`, the provider is valid for 100 years.
const DEFAULT_VALIDITY_MILLIS: Millis = 100 * 365_250 * 24 * 3600;
/// Private keys per provider (the model's `privateKeyList` maximum).
const MAX_PRIVATE_KEYS: usize = 2;
const MAX_PRIVATE_KEY_LEN: usize = 16_384;
const MIN_KEY_ID_LEN: usize = 22;
const MAX_KEY_ID_LEN: usize = 64;
const REQUIRED: &str = "Required";
const NEEDS_A_KEY: &str = "AssertionEncryptionMode Required needs a private key to decrypt the assertions: \
                           add one with AddPrivateKey.";

/// `CreateSAMLProvider`'s input. `Debug` hides the private key.
#[derive(Clone, Default)]
pub struct CreateSamlProvider {
    pub name: String,
    pub metadata_document: String,
    pub tags: Vec<Tag>,
    pub assertion_encryption_mode: Option<String>,
    pub add_private_key: Option<String>,
}

impl std::fmt::Debug for CreateSamlProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateSamlProvider")
            .field("name", &self.name)
            .field("metadata_document_len", &self.metadata_document.len())
            .field("tags", &self.tags)
            .field("assertion_encryption_mode", &self.assertion_encryption_mode)
            .field("add_private_key", &self.add_private_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `UpdateSAMLProvider`'s input (all optional but the ARN). `Debug` hides the private key.
#[derive(Clone, Default)]
pub struct UpdateSamlProvider {
    pub metadata_document: Option<String>,
    pub assertion_encryption_mode: Option<String>,
    pub add_private_key: Option<String>,
    pub remove_private_key: Option<String>,
}

impl std::fmt::Debug for UpdateSamlProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateSamlProvider")
            .field("metadata_document_len", &self.metadata_document.as_ref().map(String::len))
            .field("assertion_encryption_mode", &self.assertion_encryption_mode)
            .field("add_private_key", &self.add_private_key.as_ref().map(|_| "<redacted>"))
            .field("remove_private_key", &self.remove_private_key)
            .finish()
    }
}

pub(crate) fn provider_not_found(arn: &str) -> Error {
    Error::no_such_entity(format!("Manifest not found for arn {arn}"))
}

fn provider_key(account: &Account, name: &str) -> Key {
    Key::new(account.ns(), SAML, name)
}

fn check_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    let mut violations = Vec::new();
    if len == 0 {
        violations.push(Violation::MinLength(1));
    }
    if len > MAX_NAME_LEN {
        violations.push(Violation::MaxLength(MAX_NAME_LEN));
    }
    if len > 0 && !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        violations.push(Violation::Pattern("[\\w._-]+"));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { field: "name", value: name.to_owned(), violations }.into())
    }
}

/// The metadata's entity id and the provider's `ValidUntil`, or AWS's errors.
fn check_metadata(document: &str, now: Millis) -> Result<(String, Millis)> {
    let len = document.chars().count();
    if !(MIN_METADATA_LEN..=MAX_METADATA_LEN).contains(&len) {
        let violation = if len < MIN_METADATA_LEN {
            Violation::MinLength(MIN_METADATA_LEN)
        } else {
            Violation::MaxLength(MAX_METADATA_LEN)
        };
        return Err(ValidationError {
            field: "sAMLMetadataDocument",
            // The document can be megabytes: the message names the member, not the value.
            value: "...".to_owned(),
            violations: vec![violation],
        }
        .into());
    }
    let metadata = tessera_saml::parse_metadata(document).map_err(|error| {
        tracing::info!(%error, "SAML metadata refused");
        Error::invalid_input("Could not parse metadata")
    })?;
    let valid_until = match metadata.valid_until {
        Some(secs) => Millis::try_from(secs).unwrap_or(0).saturating_mul(1000),
        None => now.saturating_add(DEFAULT_VALIDITY_MILLIS),
    };
    Ok((metadata.entity_id, valid_until))
}

fn check_mode(mode: Option<&str>) -> Result<()> {
    match mode {
        None | Some("Allowed" | REQUIRED) => Ok(()),
        Some(other) => Err(ValidationError {
            field: "assertionEncryptionMode",
            value: other.to_owned(),
            violations: vec![Violation::Pattern("Enum [Required, Allowed]")],
        }
        .into()),
    }
}

/// `AddPrivateKey`: the model's length and characters, then an unencrypted PEM RSA private key of
/// 2048 to 8192 bits. Neither error quotes the key.
fn check_private_key(pem: &str) -> Result<()> {
    let len = pem.chars().count();
    let mut violations = Vec::new();
    if len == 0 {
        violations.push(Violation::MinLength(1));
    }
    if len > MAX_PRIVATE_KEY_LEN {
        violations.push(Violation::MaxLength(MAX_PRIVATE_KEY_LEN));
    }
    if !pem.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}')) {
        violations.push(Violation::Pattern("[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"));
    }
    if !violations.is_empty() {
        return Err(ValidationError { field: "addPrivateKey", value: "***".to_owned(), violations }.into());
    }
    tessera_saml::DecryptionKey::from_pem(pem)
        .map(drop)
        .map_err(|error| Error::invalid_input(format!("The private key is not valid: {error}.")))
}

fn check_key_id(id: &str) -> Result<()> {
    let len = id.chars().count();
    let mut violations = Vec::new();
    if len < MIN_KEY_ID_LEN {
        violations.push(Violation::MinLength(MIN_KEY_ID_LEN));
    }
    if len > MAX_KEY_ID_LEN {
        violations.push(Violation::MaxLength(MAX_KEY_ID_LEN));
    }
    if !id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        violations.push(Violation::Pattern("[A-Z0-9]+"));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { field: "removePrivateKey", value: id.to_owned(), violations }.into())
    }
}

/// The AAD a provider's private key is sealed with.
pub(crate) fn private_key_aad(key_id: &str) -> String {
    format!("saml-private-key:{key_id}")
}

/// The key of the provider an ARN names in this account; other accounts' ARNs are not found, and
/// anything that is not a SAML provider ARN is `InvalidInput`.
pub(crate) fn key_for_arn(account: &Account, arn: &str) -> Result<Key> {
    let parsed = Arn::parse(arn).map_err(|_| Error::invalid_input(format!("ARN {arn} is not valid.")))?;
    match parsed.entity() {
        Ok(IamEntity::SamlProvider { name }) if parsed.account == account.id() => Ok(provider_key(account, &name)),
        Ok(IamEntity::SamlProvider { .. }) => Err(provider_not_found(arn)),
        _ => Err(Error::invalid_input(format!("ARN {arn} is not valid."))),
    }
}

/// A `SAMLProviderUUID` or a private key's `KeyId`: 26 characters of `[A-Z2-7]`.
fn new_uuid(rng: &mut dyn RandomSource) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 26];
    rng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect()
}

impl<S: Store> Identity<S> {
    /// A new private key record: `pem` (already checked) sealed under the master key.
    fn sealed_private_key(&self, pem: &str, now: Millis) -> Result<SamlPrivateKeyRecord> {
        let key_id = self.env.random.with(new_uuid);
        let sealed = self
            .env
            .random
            .with(|r| self.env.master_key.seal(pem.as_bytes(), private_key_aad(&key_id).as_bytes(), r))
            .map_err(|_| {
                Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
            })?;
        Ok(SamlPrivateKeyRecord { key_id, timestamp: now, sealed_private_key: sealed })
    }

    /// The private keys of `provider` (as read from the store), opened and parsed, for
    /// `AssumeRoleWithSAML`. The PEM text is zeroed once parsed.
    pub fn saml_decryption_keys(&self, provider: &SamlProviderRecord) -> Result<Vec<tessera_saml::DecryptionKey>> {
        let failure =
            || Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.");
        let mut keys = Vec::with_capacity(provider.private_keys.len());
        for key in &provider.private_keys {
            let mut plain =
                self.env.master_key.open(&key.sealed_private_key, private_key_aad(&key.key_id).as_bytes()).map_err(
                    |error| {
                        tracing::error!(%error, provider = %provider.arn, key_id = %key.key_id, "cannot open a sealed SAML private key");
                        failure()
                    },
                )?;
            let parsed =
                std::str::from_utf8(&plain).ok().and_then(|pem| tessera_saml::DecryptionKey::from_pem(pem).ok());
            plain.fill(0);
            std::hint::black_box(&plain);
            keys.push(parsed.ok_or_else(|| {
                tracing::error!(provider = %provider.arn, key_id = %key.key_id, "a stored SAML private key does not parse");
                failure()
            })?);
        }
        Ok(keys)
    }

    /// `CreateSAMLProvider`.
    pub async fn create_saml_provider(
        &self,
        account: &Account,
        input: CreateSamlProvider,
    ) -> Result<SamlProviderRecord> {
        check_name(&input.name)?;
        let now = self.env.now_millis();
        let (entity_id, valid_until) = check_metadata(&input.metadata_document, now)?;
        check_mode(input.assertion_encryption_mode.as_deref())?;
        let private_keys = match input.add_private_key.as_deref() {
            Some(pem) => {
                check_private_key(pem)?;
                vec![self.sealed_private_key(pem, now)?]
            }
            None => Vec::new(),
        };
        if input.assertion_encryption_mode.as_deref() == Some(REQUIRED) && private_keys.is_empty() {
            return Err(Error::invalid_input(NEEDS_A_KEY));
        }
        let provider = SamlProviderRecord {
            arn: Arn::iam("aws", account.id(), &IamEntity::SamlProvider { name: input.name.clone() }).to_string(),
            name: input.name,
            metadata_document: input.metadata_document,
            entity_id,
            uuid: self.env.random.with(new_uuid),
            create_date: now,
            valid_until,
            assertion_encryption_mode: input.assertion_encryption_mode,
            tags: tags::new_tags(input.tags, "TagsPerSAMLProvider")?,
            private_keys,
        };
        let key = provider_key(account, &provider.name);
        self.create_provider(account, key, &provider, ("SAMLProvidersPerAccount", MAX_PROVIDERS), || {
            Error::already_exists(format!("SAMLProvider {} already exists.", provider.name))
        })
        .await?;
        Ok(provider)
    }

    /// `GetSAMLProvider`, and the provider `AssumeRoleWithSAML` verifies with.
    pub async fn get_saml_provider(&self, account: &Account, arn: &str) -> Result<SamlProviderRecord> {
        let key = key_for_arn(account, arn)?;
        iam::load(&*self.store, &key).await?.ok_or_else(|| provider_not_found(arn))
    }

    /// `ListSAMLProviders` (not paginated in AWS either).
    pub async fn list_saml_providers(&self, account: &Account) -> Result<Vec<SamlProviderRecord>> {
        let providers = iam::scan_all::<S, SamlProviderRecord>(&*self.store, account.ns()).await?;
        Ok(providers.into_iter().map(|(_, p)| p).collect())
    }

    /// `UpdateSAMLProvider`: a new metadata document (its `validUntil` too) and the encryption
    /// settings. Returns the provider as updated.
    pub async fn update_saml_provider(
        &self,
        account: &Account,
        arn: &str,
        input: UpdateSamlProvider,
    ) -> Result<SamlProviderRecord> {
        let key = key_for_arn(account, arn)?;
        let now = self.env.now_millis();
        let metadata = match &input.metadata_document {
            Some(document) => Some(check_metadata(document, now)?),
            None => None,
        };
        check_mode(input.assertion_encryption_mode.as_deref())?;
        let added = match input.add_private_key.as_deref() {
            Some(pem) => {
                check_private_key(pem)?;
                Some(self.sealed_private_key(pem, now)?)
            }
            None => None,
        };
        if let Some(id) = input.remove_private_key.as_deref() {
            check_key_id(id)?;
        }
        if input.metadata_document.is_none()
            && input.assertion_encryption_mode.is_none()
            && input.add_private_key.is_none()
            && input.remove_private_key.is_none()
        {
            // AWS's wording (IAM User Guide, "Troubleshoot SAML federation with IAM").
            return Err(Error::invalid_input(
                "Unable to update identity provider. No updates are defined for metadata or encryption assertion.",
            ));
        }
        let (key, input, metadata, added) = (&key, &input, &metadata, &added);
        let updated = update(&*self.store, |tx| async move {
            let mut provider: SamlProviderRecord = tx.read(key).await?.ok_or_else(|| provider_not_found(arn))?;
            if let (Some(document), Some((entity_id, valid_until))) = (&input.metadata_document, metadata) {
                provider.metadata_document.clone_from(document);
                provider.entity_id.clone_from(entity_id);
                provider.valid_until = *valid_until;
            }
            if input.assertion_encryption_mode.is_some() {
                provider.assertion_encryption_mode.clone_from(&input.assertion_encryption_mode);
            }
            // A removal first, so one request can replace a key when two are held.
            if let Some(id) = &input.remove_private_key {
                let before = provider.private_keys.len();
                provider.private_keys.retain(|k| &k.key_id != id);
                if provider.private_keys.len() == before {
                    return Err(Error::invalid_input(format!(
                        "The private key {id} does not exist for this SAML provider."
                    )));
                }
            }
            if let Some(added) = added {
                if provider.private_keys.len() >= MAX_PRIVATE_KEYS {
                    return Err(Error::quota("PrivateKeysPerSAMLProvider", MAX_PRIVATE_KEYS));
                }
                provider.private_keys.push(added.clone());
            }
            if provider.assertion_encryption_mode.as_deref() == Some(REQUIRED) && provider.private_keys.is_empty() {
                return Err(Error::invalid_input(NEEDS_A_KEY));
            }
            tx.write(key.clone(), &provider);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(provider)
        })
        .await?;
        self.published(account).await;
        Ok(updated)
    }

    /// `DeleteSAMLProvider`.
    pub async fn delete_saml_provider(&self, account: &Account, arn: &str) -> Result<()> {
        let key = key_for_arn(account, arn)?;
        self.delete_provider::<SamlProviderRecord>(account, key, arn, provider_not_found).await
    }
}

#[cfg(test)]
mod tests {
    use tessera_proto::error::ErrorCode;

    use super::*;
    use crate::account::testing::fixture;

    /// A self-signed RSA-2048 certificate (made once with openssl for these tests).
    pub(crate) const CERT: &str = include_str!("../tests/data/saml-idp-cert.b64");

    pub(crate) fn metadata(entity_id: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{CERT}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    fn okta() -> CreateSamlProvider {
        CreateSamlProvider {
            name: "Okta".into(),
            metadata_document: metadata("https://idp.example.com/metadata"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn create_get_update_list_delete() {
        let f = fixture();
        let created = f.identity.create_saml_provider(&f.account, okta()).await.unwrap();
        assert_eq!(created.arn, "arn:aws:iam::123456789012:saml-provider/Okta");
        assert_eq!(created.entity_id, "https://idp.example.com/metadata");
        assert_eq!(created.uuid.len(), 26);
        assert!(created.valid_until > created.create_date);
        assert_eq!(f.identity.get_saml_provider(&f.account, &created.arn).await.unwrap(), created);

        let err = f.identity.create_saml_provider(&f.account, okta()).await.unwrap_err().into_service_error();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::EntityAlreadyExists, "SAMLProvider Okta already exists.")
        );

        let update =
            UpdateSamlProvider { metadata_document: Some(metadata("https://other.example.com")), ..Default::default() };
        let updated = f.identity.update_saml_provider(&f.account, &created.arn, update).await.unwrap();
        assert_eq!(updated.entity_id, "https://other.example.com");
        assert_eq!(f.identity.list_saml_providers(&f.account).await.unwrap(), [updated]);

        f.identity.delete_saml_provider(&f.account, &created.arn).await.unwrap();
        let err = f.identity.get_saml_provider(&f.account, &created.arn).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::NoSuchEntity);
        assert_eq!(err.message, format!("Manifest not found for arn {}", created.arn));
        assert_eq!(
            f.identity.delete_saml_provider(&f.account, &created.arn).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        let role = "arn:aws:iam::123456789012:role/x";
        assert_eq!(f.identity.get_saml_provider(&f.account, role).await.unwrap_err().code(), ErrorCode::InvalidInput);
    }

    #[tokio::test]
    async fn inputs_are_validated() {
        let f = fixture();
        let cases = [
            (CreateSamlProvider { name: "a b".into(), ..okta() }, ErrorCode::ValidationError),
            (CreateSamlProvider { name: "x".repeat(129), ..okta() }, ErrorCode::ValidationError),
            (CreateSamlProvider { metadata_document: "<x/>".into(), ..okta() }, ErrorCode::ValidationError),
            (
                CreateSamlProvider { metadata_document: format!("<x>{}</x>", " ".repeat(1000)), ..okta() },
                ErrorCode::InvalidInput,
            ),
            (
                CreateSamlProvider {
                    metadata_document: metadata("x").replace(CERT, &"A".repeat(CERT.len())),
                    ..okta()
                },
                ErrorCode::InvalidInput,
            ),
            (
                CreateSamlProvider { assertion_encryption_mode: Some("Required".into()), ..okta() },
                ErrorCode::InvalidInput,
            ),
            (
                CreateSamlProvider { assertion_encryption_mode: Some("Sometimes".into()), ..okta() },
                ErrorCode::ValidationError,
            ),
            (CreateSamlProvider { add_private_key: Some("key".into()), ..okta() }, ErrorCode::InvalidInput),
        ];
        for (input, code) in cases {
            let name = input.name.clone();
            assert_eq!(f.identity.create_saml_provider(&f.account, input).await.unwrap_err().code(), code, "{name}");
        }
        let err = f
            .identity
            .create_saml_provider(
                &f.account,
                CreateSamlProvider { metadata_document: format!("<x>{}</x>", " ".repeat(1000)), ..okta() },
            )
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.message, "Could not parse metadata");
        assert!(f.identity.list_saml_providers(&f.account).await.unwrap().is_empty(), "nothing half-written");
    }

    /// A throwaway RSA-2048 private key (made with openssl for these tests).
    const SP_KEY: &str = include_str!("../tests/data/saml-sp-key.pem");

    #[tokio::test]
    async fn private_keys_are_sealed_limited_and_removable() {
        let f = fixture();
        let input = CreateSamlProvider {
            assertion_encryption_mode: Some("Required".into()),
            add_private_key: Some(SP_KEY.into()),
            ..okta()
        };
        let created = f.identity.create_saml_provider(&f.account, input).await.unwrap();
        let [first] = created.private_keys.as_slice() else { panic!("one key: {created:?}") };
        assert_eq!(first.key_id.len(), 26);
        assert!(!first.sealed_private_key.contains("PRIVATE KEY") && !first.sealed_private_key.is_empty());
        assert!(!format!("{created:?}").contains(&first.sealed_private_key), "Debug leaves the sealed key out");
        let keys = f.identity.saml_decryption_keys(&created).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].bits(), 2048);

        let arn = created.arn.clone();
        let add = || UpdateSamlProvider { add_private_key: Some(SP_KEY.into()), ..Default::default() };
        let two = f.identity.update_saml_provider(&f.account, &arn, add()).await.unwrap();
        assert_eq!(two.private_keys.len(), 2);
        assert_ne!(two.private_keys[0].key_id, two.private_keys[1].key_id);
        let err = f.identity.update_saml_provider(&f.account, &arn, add()).await.unwrap_err().into_service_error();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::LimitExceeded, "Cannot exceed quota for PrivateKeysPerSAMLProvider: 2")
        );

        let remove = |id: &str| UpdateSamlProvider { remove_private_key: Some(id.to_owned()), ..Default::default() };
        let unknown = f.identity.update_saml_provider(&f.account, &arn, remove(&"A".repeat(26))).await.unwrap_err();
        assert_eq!(unknown.code(), ErrorCode::InvalidInput);
        let short = f.identity.update_saml_provider(&f.account, &arn, remove("ABC")).await.unwrap_err();
        assert_eq!(short.code(), ErrorCode::ValidationError);
        let one = f.identity.update_saml_provider(&f.account, &arn, remove(&first.key_id)).await.unwrap();
        assert_eq!(one.private_keys, two.private_keys[1..]);
        // Required keeps its last key; a bad key is refused without quoting it.
        let last = f.identity.update_saml_provider(&f.account, &arn, remove(&one.private_keys[0].key_id)).await;
        assert_eq!(last.unwrap_err().code(), ErrorCode::InvalidInput);
        let bad = UpdateSamlProvider { add_private_key: Some(SP_KEY.replace('A', "B")), ..Default::default() };
        let err = f.identity.update_saml_provider(&f.account, &arn, bad).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(!err.message.contains("BEGIN"), "{}", err.message);
        assert_eq!(f.identity.secrets_not_under_current_key(&f.account).await.unwrap(), 0);
    }
}
