//! Session-token key rotation across two replicas sharing a store: tokens sealed under the old key
//! stay valid, new tokens use the new key, and a replica that has not seen the new key yet loads it
//! the first time a token needs it.

use std::sync::Arc;

use tessera_credentials::{Argon2Params, MasterKey, SeededRandom};
use tessera_identity::{Account, CreateUser, Env, Identity, Random, SystemClock};
use tessera_store::MemoryStore;
use tessera_sts::{CallerCredentials, Sts};

fn env(seed: u64, master_key: &Arc<MasterKey>) -> Env {
    Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::clone(master_key),
        random: Arc::new(Random::new(SeededRandom::new(seed))),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

/// The key id a token was sealed under (`T1` + 8 hex digits).
fn key_id(token: &str) -> &str {
    &token[2..10]
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_replicas_follow_it() {
    let store = Arc::new(MemoryStore::new());
    let master_key = Arc::new(MasterKey::generate(&mut SeededRandom::new(1)));
    let account = Account::new("123456789012").unwrap();
    let identity = Identity::new(Arc::clone(&store), env(2, &master_key));
    identity.create_user(&account, CreateUser { user_name: "alice".into(), ..CreateUser::default() }).await.unwrap();
    let key = identity.create_access_key(&account, "alice").await.unwrap();
    let caller = CallerCredentials { access_key_id: key.access_key_id, ..CallerCredentials::default() };

    let a = Sts::start(Arc::clone(&store), env(3, &master_key)).await.unwrap();
    let b = Sts::start(Arc::clone(&store), env(4, &master_key)).await.unwrap();
    let caller = a.resolve_caller(&caller).await.unwrap();
    let before = a.get_session_token(&caller, None, None, None).await.unwrap();
    let old_token = before.session_token.expose().to_owned();
    b.verify_session(&before.access_key_id, &old_token).await.unwrap();

    let new_id = a.rotate_token_keys().await.unwrap();
    let after = a.get_session_token(&caller, None, None, None).await.unwrap();
    let new_token = after.session_token.expose().to_owned();
    assert_eq!(key_id(&new_token), format!("{new_id:08x}"), "new tokens are sealed under the new key");
    assert_ne!(key_id(&new_token), key_id(&old_token));

    // B has not seen the new key: it reloads the ring from the store on first sight.
    b.verify_session(&after.access_key_id, &new_token).await.unwrap();
    // Tokens under the retired key are still good on both replicas until they expire.
    a.verify_session(&before.access_key_id, &old_token).await.unwrap();
    b.verify_session(&before.access_key_id, &old_token).await.unwrap();
}
