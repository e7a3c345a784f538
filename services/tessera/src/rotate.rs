//! `tessera admin rotate-master-key` and `rotate-signing-keys`: key rotation while replicas serve.
//!
//! A master-key rotation runs against the store itself (Redis, where replicas keep serving; or the
//! embedded store of a stopped server) with the new key as `--master-key-file` and the old one as
//! `--previous-master-key-file`, the flags every replica is given first. It checks that the
//! store's key-check record names one of the two, carries the session-token ring and the
//! identity-token signing keys over to records named after the new key (removing the old ones),
//! seals every access-key secret and MFA seed of every account again under the new key (one
//! optimistic transaction per record, so concurrent writes are retried, never lost), repeats until
//! a pass finds nothing under the old key, and only then moves the key-check record to the new
//! key; a last pass catches what a replica sealed meanwhile. From then on a server holding only the
//! old key refuses to start. Rerunning it is harmless: it finishes what is left.
//!
//! Signing-key rotation adds a session-token key (`tessera_sts::rotate_token_keys`) and an
//! identity-token key (`tessera_sts::rotate_jwt_keys`); older keys stay until the last token they
//! sealed or signed expires.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, Env, Identity, Random, SystemClock};
use tessera_store::iam::{self, AccountRecord};
use tessera_store::{AnyStore, Namespace, Store as _};

use crate::key_check::{self, KeyCheck};
use crate::serve::{MASTER_KEY_ENV, load_previous_master_key};

/// How many passes a rotation makes before giving up on secrets that keep appearing under the old
/// key (a replica still sealing with it as its current key).
const MAX_PASSES: usize = 5;

/// The store and keys both rotations work with.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// The data directory (the embedded store, whose server must be stopped, and `master.key`).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// The store, when not the embedded one under `--data-dir`: `redis://HOST:PORT/DB` or
    /// `redis+cluster://HOST:PORT[,HOST:PORT...]`.
    #[arg(long, env = "TESSERA_STORE")]
    pub store: Option<String>,
    /// The master key (for a master-key rotation, the new one); `TESSERA_MASTER_KEY`, else
    /// `<data-dir>/master.key`.
    #[arg(long, env = "TESSERA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The previous master key (for a master-key rotation, the old one; required there);
    /// `TESSERA_PREVIOUS_MASTER_KEY` also works.
    #[arg(long, env = "TESSERA_PREVIOUS_MASTER_KEY_FILE")]
    pub previous_master_key_file: Option<PathBuf>,
}

/// `tessera admin rotate-master-key`.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateMasterKeyArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `tessera admin rotate-signing-keys`.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateSigningKeysArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
}

impl KeyArgs {
    fn location(&self) -> String {
        self.store.clone().unwrap_or_else(|| self.data_dir.to_string_lossy().into_owned())
    }

    /// The key set: the current key with the previous one, if given. Never creates a key.
    fn master_key(&self) -> Result<MasterKey> {
        let current = if let Ok(encoded) = std::env::var(MASTER_KEY_ENV) {
            MasterKey::from_encoded(&encoded).with_context(|| format!("{MASTER_KEY_ENV} is not a valid master key"))?
        } else {
            let path = self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"));
            MasterKey::load(&path).with_context(|| format!("cannot load the master key `{}`", path.display()))?
        };
        Ok(match load_previous_master_key(self.previous_master_key_file.as_deref())? {
            Some(previous) => current.with_previous(previous),
            None => current,
        })
    }

    async fn open(&self) -> Result<Arc<AnyStore>> {
        let location = self.location();
        if !location.contains("://")
            && !std::path::Path::new(&location).join(tessera_store::RedbStore::FILE_NAME).is_file()
        {
            bail!("no embedded store at `{location}` (no {})", tessera_store::RedbStore::FILE_NAME);
        }
        let store = AnyStore::open(&location).await.with_context(|| {
            if location.contains("://") {
                format!("cannot open the store `{location}`")
            } else {
                format!("cannot open the embedded store in `{location}` (stop the server using it first)")
            }
        })?;
        Ok(Arc::new(store))
    }
}

fn env(master_key: MasterKey) -> Result<Env> {
    let rng = SystemRng::new().context("the system random source is unavailable")?;
    Ok(Env {
        clock: Arc::new(SystemClock),
        random: Arc::new(Random::new(rng)),
        master_key: Arc::new(master_key),
        password_params: Argon2Params::DEFAULT,
    })
}

fn service(error: tessera_identity::Error) -> anyhow::Error {
    let error = error.into_service_error();
    anyhow::anyhow!("{}: {}", error.code.as_str(), error.message)
}

/// Every account of the store.
async fn accounts(store: &AnyStore) -> Result<Vec<Account>> {
    let records = iam::scan_all::<AnyStore, AccountRecord>(store, &Namespace::global())
        .await
        .context("cannot list the accounts")?;
    records.into_iter().map(|(_, record)| Account::new(&record.id).map_err(service)).collect()
}

/// What one pass over every account sealed again.
async fn reseal_all(identity: &Identity<AnyStore>, accounts: &[Account]) -> Result<(usize, usize, usize)> {
    let (mut keys, mut seeds, mut certs) = (0, 0, 0);
    for account in accounts {
        let done = identity.reseal_secrets(account).await.map_err(service)?;
        keys += done.access_keys;
        seeds += done.mfa_seeds;
        certs += done.server_certificate_keys + done.saml_private_keys;
    }
    Ok((keys, seeds, certs))
}

/// Runs `tessera admin rotate-master-key`; returns what it did, for the operator.
pub async fn rotate_master_key(args: &RotateMasterKeyArgs) -> Result<Vec<String>> {
    let master_key = args.keys.master_key()?;
    if master_key.previous().is_empty() {
        bail!(
            "rotating the master key needs the new key (--master-key-file or {MASTER_KEY_ENV}) and the old one \
             (--previous-master-key-file or {})",
            crate::serve::PREVIOUS_MASTER_KEY_ENV
        );
    }
    let store = args.keys.open().await?;
    let record =
        store.get(&key_check::key()).await.context("cannot read the store's key-check record")?.context(
            "the store has no key-check record: no server has started on it yet, so there is nothing to rotate",
        )?;
    let before = key_check::compare_set(&record.value, &master_key)?;
    let (new_id, old_ids) = (
        master_key.key_id().to_owned(),
        master_key.previous().iter().map(|k| k.key_id().to_owned()).collect::<Vec<_>>().join(", "),
    );
    let env = env(master_key)?;
    let mut said = Vec::new();

    let ring = tessera_sts::carry_over_token_keys(&*store, &env).await.map_err(service)?;
    let jwt = tessera_sts::carry_over_jwt_keys(&*store, &env).await.map_err(service)?;
    said.push(format!(
        "session-token key ring and identity-token signing keys stored under key {new_id}{}",
        if ring || jwt { format!(" (the records under {old_ids} removed)") } else { String::new() }
    ));

    let identity = Identity::new(Arc::clone(&store), env.clone());
    let accounts = accounts(&store).await?;
    let (mut keys, mut seeds, mut certs) = (0, 0, 0);
    let mut left = 0;
    for _ in 0..MAX_PASSES {
        let (k, s, c) = reseal_all(&identity, &accounts).await?;
        keys += k;
        seeds += s;
        certs += c;
        left = 0;
        for account in &accounts {
            left += identity.secrets_not_under_current_key(account).await.map_err(service)?;
        }
        if left == 0 {
            break;
        }
    }
    if left > 0 {
        bail!(
            "{left} secrets are still sealed under another key after {MAX_PASSES} passes: a server is sealing under \
             the old key as its current one (give every server --master-key-file NEW --previous-master-key-file OLD), \
             then run this again; the store's key check still names the old key"
        );
    }
    key_check::rotate_to(&*store, &env.master_key).await?;
    // What a server sealed under the old key between the last pass and the switch.
    let (late_keys, late_seeds, late_certs) = reseal_all(&identity, &accounts).await?;
    said.push(format!(
        "sealed again under key {new_id}: {} access-key secrets, {} MFA seeds and {} server certificate and SAML provider private keys in {} \
         accounts",
        keys + late_keys,
        seeds + late_seeds,
        certs + late_certs,
        accounts.len()
    ));
    said.push(match before {
        KeyCheck::Matched => format!("the store's key check already named key {new_id}"),
        _ => format!("the store's key check now names key {new_id}; servers holding only key {old_ids} will not start"),
    });
    said.push(format!(
        "keep --previous-master-key-file on every server until identity tokens and encoded authorization messages \
         sealed before now have expired (an hour), then restart them with key {new_id} alone"
    ));
    Ok(said)
}

/// Runs `tessera admin rotate-signing-keys`; returns what it did, for the operator.
pub async fn rotate_signing_keys(args: &RotateSigningKeysArgs) -> Result<Vec<String>> {
    let master_key = args.keys.master_key()?;
    let store = args.keys.open().await?;
    // Refuse a key the store is not sealed under before writing anything.
    let record = store
        .get(&key_check::key())
        .await
        .context("cannot read the store's key-check record")?
        .context("the store has no key-check record: no server has started on it yet")?;
    key_check::compare_set(&record.value, &master_key)?;
    let env = env(master_key)?;
    let (token_key, token_keys) = tessera_sts::rotate_token_keys(&*store, &env).await.map_err(service)?;
    let jwt = tessera_sts::rotate_jwt_keys(&*store, &env).await.map_err(service)?;
    Ok(vec![
        format!(
            "session tokens: new key {token_key} ({token_keys} keys in the ring; older keys open tokens until they \
             expire; servers seal with the new key once they reload the ring, within a minute)"
        ),
        format!(
            "identity tokens: new key {} published now, signing from {} (unix seconds); {} keys in the JWKS, {} \
             pruned",
            jwt.kid, jwt.signs_from, jwt.published, jwt.pruned
        ),
    ])
}
