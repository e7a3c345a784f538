//! A master-key rotation's part in the identity store: every access-key secret (users' and the
//! root's), every MFA seed, every server certificate's and SAML provider's private key of an account sealed again under the current master key, each record
//! in its own optimistic transaction, so replicas keep serving (and writing) meanwhile.
//!
//! A blob is opened with whichever key of the set it names (`MasterKey::open`) and sealed under
//! the current one; blobs already under the current key are left alone, so a second run, or a run
//! resumed after a failure, only finishes the work.

use tessera_credentials::{MasterKey, sealed_key_id};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{
    self, MfaDeviceRecord, ROOT_KEYS, RootKeysRecord, SamlProviderRecord, ServerCertificateRecord, UserRecord,
};
use tessera_store::{Key, Store, update};

use crate::access_keys::secret_aad;
use crate::mfa::seal_aad;
use crate::saml::private_key_aad;
use crate::server_certificates::key_aad as server_certificate_aad;
use crate::{Account, Error, Identity, Result};

/// What [`Identity::reseal_secrets`] sealed again in one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Access-key secrets (users' and the root's).
    pub access_keys: usize,
    /// Virtual MFA device seeds.
    pub mfa_seeds: usize,
    /// Server certificates' private keys.
    pub server_certificate_keys: usize,
    /// SAML providers' private keys (for encrypted assertions).
    pub saml_private_keys: usize,
}

fn failure(what: &str, owner: &str, error: &tessera_credentials::SealError) -> Error {
    // The owner (a key id or a device serial) and the error are safe to log; no secret is in them.
    tracing::error!(owner, %error, "cannot seal again: {what}");
    Error::new(ErrorCode::ServiceFailure, format!("Cannot seal the {what} of `{owner}` again: {error}."))
}

/// `sealed` again under `key`'s current key, or `None` when it already is.
fn reseal(
    key: &MasterKey,
    env: &crate::Env,
    sealed: &str,
    aad: &str,
    what: &str,
    owner: &str,
) -> Result<Option<String>> {
    if sealed_key_id(sealed) == Some(key.key_id()) {
        return Ok(None);
    }
    let mut plain = key.open(sealed, aad.as_bytes()).map_err(|error| failure(what, owner, &error))?;
    let again = env.random.with(|r| key.seal(&plain, aad.as_bytes(), r));
    plain.fill(0);
    std::hint::black_box(&plain);
    again.map(Some).map_err(|error| failure(what, owner, &error))
}

impl<S: Store> Identity<S> {
    /// Seals every secret of `account` that is not under the current master key again under it.
    pub async fn reseal_secrets(&self, account: &Account) -> Result<Resealed> {
        let key = &*self.env.master_key;
        let env = &self.env;
        let mut done = Resealed::default();
        let stale = |sealed: &str| sealed_key_id(sealed) != Some(key.key_id());

        for (name, user) in iam::scan_all::<S, UserRecord>(&*self.store, account.ns()).await? {
            if !user.access_keys.iter().any(|k| stale(&k.sealed_secret)) {
                continue;
            }
            let record = Key::new(account.ns(), iam::USER, &name);
            done.access_keys += update(&*self.store, |tx| {
                let record = record.clone();
                async move {
                    let Some(mut user) = tx.read::<UserRecord>(&record).await? else { return Ok(0) };
                    let mut count = 0;
                    for access_key in &mut user.access_keys {
                        let aad = secret_aad(&access_key.id);
                        if let Some(again) =
                            reseal(key, env, &access_key.sealed_secret, &aad, "secret", &access_key.id)?
                        {
                            access_key.sealed_secret = again;
                            count += 1;
                        }
                    }
                    if count > 0 {
                        tx.write(record, &user);
                    }
                    Ok::<_, Error>(count)
                }
            })
            .await?;
        }

        let root = Key::new(account.ns(), ROOT_KEYS, "");
        done.access_keys += update(&*self.store, |tx| {
            let root = root.clone();
            async move {
                let Some(mut keys) = tx.read::<RootKeysRecord>(&root).await? else { return Ok(0) };
                let mut count = 0;
                for access_key in &mut keys.keys {
                    let aad = secret_aad(&access_key.id);
                    if let Some(again) = reseal(key, env, &access_key.sealed_secret, &aad, "secret", &access_key.id)? {
                        access_key.sealed_secret = again;
                        count += 1;
                    }
                }
                if count > 0 {
                    tx.write(root, &keys);
                }
                Ok::<_, Error>(count)
            }
        })
        .await?;

        for (name, device) in iam::scan_all::<S, MfaDeviceRecord>(&*self.store, account.ns()).await? {
            if !stale(&device.sealed_seed) {
                continue;
            }
            let record = Key::new(account.ns(), iam::MFA, &name);
            done.mfa_seeds += update(&*self.store, |tx| {
                let record = record.clone();
                async move {
                    let Some(mut device) = tx.read::<MfaDeviceRecord>(&record).await? else { return Ok(0) };
                    let aad = seal_aad(&device.serial);
                    let Some(again) = reseal(key, env, &device.sealed_seed, &aad, "seed", &device.serial)? else {
                        return Ok(0);
                    };
                    device.sealed_seed = again;
                    tx.write(record, &device);
                    Ok::<_, Error>(1)
                }
            })
            .await?;
        }

        for (record, cert) in iam::scan_all::<S, ServerCertificateRecord>(&*self.store, account.ns()).await? {
            if !stale(&cert.sealed_private_key) {
                continue;
            }
            let record = Key::new(account.ns(), iam::SERVER_CERTIFICATE, &record);
            done.server_certificate_keys += update(&*self.store, |tx| {
                let record = record.clone();
                async move {
                    let Some(mut cert) = tx.read::<ServerCertificateRecord>(&record).await? else { return Ok(0) };
                    let aad = server_certificate_aad(&cert.id);
                    let Some(again) = reseal(key, env, &cert.sealed_private_key, &aad, "private key", &cert.id)? else {
                        return Ok(0);
                    };
                    cert.sealed_private_key = again;
                    tx.write(record, &cert);
                    Ok::<_, Error>(1)
                }
            })
            .await?;
        }

        for (record, provider) in iam::scan_all::<S, SamlProviderRecord>(&*self.store, account.ns()).await? {
            if !provider.private_keys.iter().any(|k| stale(&k.sealed_private_key)) {
                continue;
            }
            let record = Key::new(account.ns(), iam::SAML, &record);
            done.saml_private_keys += update(&*self.store, |tx| {
                let record = record.clone();
                async move {
                    let Some(mut provider) = tx.read::<SamlProviderRecord>(&record).await? else { return Ok(0) };
                    let mut count = 0;
                    for private_key in &mut provider.private_keys {
                        let aad = private_key_aad(&private_key.key_id);
                        let sealed = &private_key.sealed_private_key;
                        if let Some(again) = reseal(key, env, sealed, &aad, "SAML private key", &private_key.key_id)? {
                            private_key.sealed_private_key = again;
                            count += 1;
                        }
                    }
                    if count > 0 {
                        tx.write(record, &provider);
                    }
                    Ok::<_, Error>(count)
                }
            })
            .await?;
        }
        Ok(done)
    }

    /// How many secrets of `account` are sealed under another key than the current one.
    pub async fn secrets_not_under_current_key(&self, account: &Account) -> Result<usize> {
        let key_id = self.env.master_key.key_id();
        let stale = |sealed: &str| usize::from(sealed_key_id(sealed) != Some(key_id));
        let mut count = 0;
        for (_, user) in iam::scan_all::<S, UserRecord>(&*self.store, account.ns()).await? {
            count += user.access_keys.iter().map(|k| stale(&k.sealed_secret)).sum::<usize>();
        }
        let root: Option<RootKeysRecord> = iam::load(&*self.store, &Key::new(account.ns(), ROOT_KEYS, "")).await?;
        count += root.map_or(0, |r| r.keys.iter().map(|k| stale(&k.sealed_secret)).sum());
        for (_, device) in iam::scan_all::<S, MfaDeviceRecord>(&*self.store, account.ns()).await? {
            count += stale(&device.sealed_seed);
        }
        for (_, cert) in iam::scan_all::<S, ServerCertificateRecord>(&*self.store, account.ns()).await? {
            count += stale(&cert.sealed_private_key);
        }
        for (_, provider) in iam::scan_all::<S, SamlProviderRecord>(&*self.store, account.ns()).await? {
            count += provider.private_keys.iter().map(|k| stale(&k.sealed_private_key)).sum::<usize>();
        }
        Ok(count)
    }
}
