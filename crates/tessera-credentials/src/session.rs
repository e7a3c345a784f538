//! Self-contained STS session tokens: the claims of a temporary credential, sealed under a
//! rotating key ring so that any replica verifies a token without a storage lookup.
//!
//! A token is printable ASCII, `T1` + the key id as 8 lowercase hex digits + base64url (unpadded)
//! of `nonce ‖ AES-256-GCM(claims) ‖ tag`:
//!
//! ```text
//! T1 0badf00d 3q2-7wAAAAAA...   (no spaces)
//! ```
//!
//! The first ten characters (version and key id) are the AEAD's associated data, so neither can be
//! changed without the token failing authentication. The claims are a compact hand-written binary
//! encoding (a version byte, a kind byte, the chain depth, a flags byte, LEB128 integers and
//! length-prefixed UTF-8 strings that
//! may leave out the ARN prefix `arn:aws:iam::<account>:`, `arn:aws:sts::<account>:` or
//! `arn:aws:iam::aws:policy/`), not JSON, because opening tokens is on every request's path:
//! decoding is a single pass with no parser state and a handful of small allocations. A typical
//! role session token is about 380 characters. The encoding is canonical (minimal integers, the
//! encoder's choice of prefix, no unknown flags, no trailing bytes), so `decode(encode(c)) == c`
//! and `encode(decode(b)) == b` for every accepted `b`.
//!
//! Issue times are microseconds: revocations compare them with the instant a revocation was made,
//! and a session issued a millisecond after a revocation returned must not fall under it. Claims
//! version 2 is version 1 with the microseconds within the issue second as one more integer right
//! after `issued_at`; an issue time on a whole second is written as version 1 (the encoder's
//! choice keeps the encoding canonical), and tokens sealed before version 2 existed still open,
//! issued on their whole second.
//!
//! Nonces are 96 random bits per token. NIST's bound for random nonces is 2^32 seals per key,
//! which is 50 days at 1,000 tokens a second: rotate the key ring (see [`TokenKeyRing::rotate`])
//! far more often than that, daily for example. A retired key keeps opening the tokens it sealed
//! until they have all expired; then [`TokenKeyRing::prune`] drops it.
//!
//! Revocation is not decided here: a token that opens is authentic and unexpired, and the service
//! then checks its `session_id` against its revocation records.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use tessera_arn::RandomSource;

use crate::secret::{Secret, wipe};
use crate::{KeyRingError, TokenError, TokenTooLarge};

/// The version tag at the start of every token.
pub const TOKEN_VERSION: &str = "T1";

/// The longest token [`TokenKeyRing::open`] reads and [`TokenKeyRing::seal`] produces, in bytes.
///
/// Tokens travel in the `X-Amz-Security-Token` header, and 16 KiB is the largest single header
/// that common proxies accept. Only session tags and session policies make a token this large; the
/// service reports [`TokenTooLarge`] as `PackedPolicyTooLarge`.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The longest lifetime of any STS session, in seconds: GetSessionToken and GetFederationToken
/// allow 36 hours. Pass it to [`TokenKeyRing::prune`].
pub const MAX_SESSION_LIFETIME_SECS: u64 = 129_600;

/// Length of a token key in bytes (AES-256).
pub const TOKEN_KEY_LEN: usize = 32;

/// `T1` and 8 hex digits of key id.
const HEADER_LEN: usize = 10;
/// The AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;
/// The version byte of claims issued on a whole second (and of every token sealed before
/// sub-second issue times).
const CLAIMS_V1: u8 = 1;
/// The version byte of claims whose issue time has a sub-second part.
const CLAIMS_V2: u8 = 2;
/// Microseconds in a second.
const MICROS: u64 = 1_000_000;

// Bits of the claims' flags byte: which optional fields follow.
const HAS_ROLE_ARN: u8 = 1;
const HAS_SOURCE_USER_ARN: u8 = 1 << 1;
const HAS_SESSION_NAME: u8 = 1 << 2;
const HAS_SOURCE_IDENTITY: u8 = 1 << 3;
const HAS_MFA: u8 = 1 << 4;
const HAS_SESSION_POLICY: u8 = 1 << 5;
const HAS_POLICY_INLINE: u8 = 1 << 6;
// Every bit of the flags byte is now taken: another optional field needs a new claims version.
const HAS_SOURCE_USER_ID: u8 = 1 << 7;

/// The kind of principal a session token stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// A role session (AssumeRole, AssumeRoleWithWebIdentity, AssumeRoleWithSAML).
    AssumedRole,
    /// A federated user (GetFederationToken).
    FederatedUser,
    /// A user's or the root's own session (GetSessionToken).
    SessionToken,
}

impl SessionKind {
    fn to_byte(self) -> u8 {
        match self {
            SessionKind::AssumedRole => 0,
            SessionKind::FederatedUser => 1,
            SessionKind::SessionToken => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<SessionKind> {
        match byte {
            0 => Some(SessionKind::AssumedRole),
            1 => Some(SessionKind::FederatedUser),
            2 => Some(SessionKind::SessionToken),
            _ => None,
        }
    }
}

/// The session policies passed when the session was made; the effective permissions are the
/// intersection of the principal's policies and these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionPolicy {
    /// The inline policy document (`Policy`), as passed.
    pub inline: Option<String>,
    /// The managed policy ARNs (`PolicyArns`).
    pub policy_arns: Vec<String>,
}

/// Everything a session token carries: who the session is, until when, with which restrictions,
/// and the secret access key that signs its requests.
///
/// `Debug` shows every field but the secret access key (a [`Secret`]). There is no `PartialEq`,
/// for the same reason [`Secret`] has none.
#[derive(Clone, Debug)]
pub struct SessionClaims {
    /// The account the session belongs to (the role's account for role sessions).
    pub account: String,
    /// What kind of session this is.
    pub kind: SessionKind,
    /// The caller ARN: `assumed-role/...`, `federated-user/...`, or the user's ARN.
    pub principal_arn: String,
    /// The caller's `UserId`: `AROA…:session`, `ACCT:name`, `AIDA…` (or the account for root).
    pub principal_id: String,
    /// For role sessions, the role ARN with its path (`aws:PrincipalArn`).
    pub role_arn: Option<String>,
    /// The IAM user (or root) whose long-term keys started the chain, if any.
    pub source_user_arn: Option<String>,
    /// For federated users, the unique id (`AIDA…`) of the IAM user that made the session: its
    /// permissions are that user's, and only while the user with this id exists (a user deleted
    /// and created again under the same name has another id).
    pub source_user_id: Option<String>,
    /// The role session name or federated user name.
    pub session_name: Option<String>,
    /// This session's id, the key of its revocation record ([`new_session_id`]).
    pub session_id: String,
    /// The temporary access key id (`ASIA…`).
    pub access_key_id: String,
    /// The secret access key that signs requests made with this session.
    pub secret_access_key: Secret,
    /// When the session was issued, unix seconds.
    pub issued_at: u64,
    /// The microseconds within `issued_at`'s second (below 1,000,000; 0 in tokens sealed before
    /// issue times had a sub-second part). See [`SessionClaims::issued_at_micros`].
    pub issued_subsec_micros: u32,
    /// When the session expires, unix seconds; the token is invalid from this second on.
    pub expires_at: u64,
    /// The source identity, immutable across a chain.
    pub source_identity: Option<String>,
    /// Session tags (`aws:PrincipalTag/…`), in the order given.
    pub tags: Vec<(String, String)>,
    /// The tag keys that pass on to chained sessions.
    pub transitive_tag_keys: Vec<String>,
    /// Session policies, if any were passed.
    pub session_policy: Option<SessionPolicy>,
    /// When MFA was last verified for this chain, unix seconds (`aws:MultiFactorAuthAge`).
    pub mfa_authenticated_at: Option<u64>,
    /// How many role sessions precede this one: 0 for a session made with long-term keys.
    pub chain_depth: u8,
}

impl SessionClaims {
    /// Whether the session has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// When the session was issued, unix microseconds (saturating far beyond any real time).
    pub fn issued_at_micros(&self) -> u64 {
        self.issued_at.saturating_mul(MICROS).saturating_add(u64::from(self.issued_subsec_micros))
    }

    /// The plaintext binary encoding of the claims (see the module docs). It contains the secret
    /// access key: seal it, never store or log it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out
    }

    /// Decodes what [`SessionClaims::encode`] produced. Any input is safe to pass: malformed input
    /// is a [`TokenError::Malformed`], never a panic.
    pub fn decode(bytes: &[u8]) -> Result<SessionClaims, TokenError> {
        let mut r = Reader { rest: bytes };
        let version = r.byte()?;
        if version != CLAIMS_V1 && version != CLAIMS_V2 {
            return Err(malformed("unsupported claims version"));
        }
        let kind = SessionKind::from_byte(r.byte()?).ok_or(malformed("unknown session kind"))?;
        let chain_depth = r.byte()?;
        let flags = r.byte()?;
        if flags & HAS_POLICY_INLINE != 0 && flags & HAS_SESSION_POLICY == 0 {
            return Err(malformed("inline policy flag without a session policy"));
        }
        let has = |bit: u8| flags & bit != 0;
        let issued_at = r.varint()?;
        let issued_subsec_micros = if version == CLAIMS_V2 {
            // Version 2 only for a sub-second part, and only below a second: canonical.
            match r.varint()? {
                micros @ 1..MICROS => micros as u32,
                _ => return Err(malformed("sub-second issue time out of range")),
            }
        } else {
            0
        };
        let expires_at = r.varint()?;
        let mfa_authenticated_at = if has(HAS_MFA) { Some(r.varint()?) } else { None };
        let account = r.str()?.to_owned();
        let a = account.as_str();
        let principal_arn = r.string(a)?;
        let principal_id = r.string(a)?;
        let role_arn = r.optional_string(a, has(HAS_ROLE_ARN))?;
        let source_user_arn = r.optional_string(a, has(HAS_SOURCE_USER_ARN))?;
        let session_name = r.optional_string(a, has(HAS_SESSION_NAME))?;
        let source_user_id = r.optional_string(a, has(HAS_SOURCE_USER_ID))?;
        let session_id = r.string(a)?;
        let access_key_id = r.string(a)?;
        let secret_access_key = Secret::new(r.string(a)?);
        let source_identity = r.optional_string(a, has(HAS_SOURCE_IDENTITY))?;
        let tag_count = r.count()?;
        let mut tags = Vec::with_capacity(tag_count);
        for _ in 0..tag_count {
            tags.push((r.string(a)?, r.string(a)?));
        }
        let transitive_tag_keys = r.strings(a)?;
        let session_policy = if has(HAS_SESSION_POLICY) {
            let inline = r.optional_string(a, has(HAS_POLICY_INLINE))?;
            Some(SessionPolicy { inline, policy_arns: r.strings(a)? })
        } else {
            None
        };
        if !r.rest.is_empty() {
            return Err(malformed("trailing bytes after the claims"));
        }
        Ok(SessionClaims {
            account,
            kind,
            principal_arn,
            principal_id,
            role_arn,
            source_user_arn,
            source_user_id,
            session_name,
            session_id,
            access_key_id,
            secret_access_key,
            issued_at,
            issued_subsec_micros,
            expires_at,
            source_identity,
            tags,
            transitive_tag_keys,
            session_policy,
            mfa_authenticated_at,
            chain_depth,
        })
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        for (present, bit) in [
            (self.role_arn.is_some(), HAS_ROLE_ARN),
            (self.source_user_arn.is_some(), HAS_SOURCE_USER_ARN),
            (self.session_name.is_some(), HAS_SESSION_NAME),
            (self.source_identity.is_some(), HAS_SOURCE_IDENTITY),
            (self.mfa_authenticated_at.is_some(), HAS_MFA),
            (self.session_policy.is_some(), HAS_SESSION_POLICY),
            (self.session_policy.as_ref().is_some_and(|p| p.inline.is_some()), HAS_POLICY_INLINE),
            (self.source_user_id.is_some(), HAS_SOURCE_USER_ID),
        ] {
            if present {
                flags |= bit;
            }
        }
        // The sub-second part is reduced below a second so that every value encodes (canonically).
        let subsec = u64::from(self.issued_subsec_micros) % MICROS;
        let version = if subsec == 0 { CLAIMS_V1 } else { CLAIMS_V2 };
        out.extend_from_slice(&[version, self.kind.to_byte(), self.chain_depth, flags]);
        put_varint(out, self.issued_at);
        if subsec != 0 {
            put_varint(out, subsec);
        }
        put_varint(out, self.expires_at);
        if let Some(at) = self.mfa_authenticated_at {
            put_varint(out, at);
        }
        let account = self.account.as_str();
        put_str(out, account);
        put_text(out, account, &self.principal_arn);
        put_text(out, account, &self.principal_id);
        for value in
            [&self.role_arn, &self.source_user_arn, &self.session_name, &self.source_user_id].into_iter().flatten()
        {
            put_text(out, account, value);
        }
        put_text(out, account, &self.session_id);
        put_text(out, account, &self.access_key_id);
        put_text(out, account, self.secret_access_key.expose());
        if let Some(value) = &self.source_identity {
            put_text(out, account, value);
        }
        put_varint(out, self.tags.len() as u64);
        for (key, value) in &self.tags {
            put_text(out, account, key);
            put_text(out, account, value);
        }
        put_texts(out, account, &self.transitive_tag_keys);
        if let Some(policy) = &self.session_policy {
            if let Some(inline) = &policy.inline {
                put_text(out, account, inline);
            }
            put_texts(out, account, &policy.policy_arns);
        }
    }

    /// An upper bound of the encoded length, so that encoding allocates once.
    fn encoded_len_hint(&self) -> usize {
        let str_len = |s: &str| s.len() + 10;
        let opt_len = |s: &Option<String>| s.as_deref().map_or(0, str_len);
        let strs_len = |v: &[String]| 10 + v.iter().map(|s| str_len(s)).sum::<usize>();
        4 + 40
            + str_len(&self.account)
            + str_len(&self.principal_arn)
            + str_len(&self.principal_id)
            + opt_len(&self.role_arn)
            + opt_len(&self.source_user_arn)
            + opt_len(&self.session_name)
            + opt_len(&self.source_user_id)
            + str_len(&self.session_id)
            + str_len(&self.access_key_id)
            + str_len(self.secret_access_key.expose())
            + opt_len(&self.source_identity)
            + 10
            + self.tags.iter().map(|(k, v)| str_len(k) + str_len(v)).sum::<usize>()
            + strs_len(&self.transitive_tag_keys)
            + self.session_policy.as_ref().map_or(0, |p| opt_len(&p.inline) + strs_len(&p.policy_arns))
    }
}

/// A new temporary access key: an `ASIA…` key id and a 40-character secret of `[A-Za-z0-9+/]`
/// (the shape of AWS secrets; 240 random bits).
pub fn issue_credentials(rng: &mut (impl RandomSource + ?Sized)) -> (String, Secret) {
    let access_key_id = tessera_arn::access_key_id(true, &mut &mut *rng);
    let mut bytes = [0u8; 30];
    rng.fill_bytes(&mut bytes);
    // 30 bytes are exactly 40 standard base64 characters, without padding.
    let secret = Secret::new(STANDARD.encode(bytes));
    bytes.fill(0);
    std::hint::black_box(&bytes);
    (access_key_id, secret)
}

/// A new session id: 16 random bytes as 32 lowercase hex digits.
pub fn new_session_id(rng: &mut (impl RandomSource + ?Sized)) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let mut id = String::with_capacity(32);
    for byte in bytes {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One AES-256-GCM key of a [`TokenKeyRing`].
///
/// `Debug` shows the id and dates, never the key. The key bytes are wiped on drop (best effort:
/// ring's expanded key schedule is not).
#[derive(Clone)]
pub struct TokenKey {
    id: u32,
    bytes: [u8; TOKEN_KEY_LEN],
    created_at: u64,
    retired_at: Option<u64>,
    /// The key schedule, expanded once: building it per token would cost as much as the rest of
    /// opening a token.
    aead: LessSafeKey,
}

impl TokenKey {
    /// A new key with a random id, created at `now` (unix seconds).
    pub fn generate(rng: &mut (impl RandomSource + ?Sized), now: u64) -> TokenKey {
        let mut id = [0u8; 4];
        rng.fill_bytes(&mut id);
        let mut bytes = [0u8; TOKEN_KEY_LEN];
        rng.fill_bytes(&mut bytes);
        TokenKey::from_parts(u32::from_be_bytes(id), bytes, now, None)
    }

    fn from_parts(id: u32, bytes: [u8; TOKEN_KEY_LEN], created_at: u64, retired_at: Option<u64>) -> TokenKey {
        // INVARIANT: AES-256-GCM accepts every 32-byte key; `UnboundKey::new` fails only on a
        // length mismatch, which the array type rules out.
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).expect("a 32-byte key is a valid AES-256 key");
        TokenKey { id, bytes, created_at, retired_at, aead: LessSafeKey::new(unbound) }
    }

    /// The key id written into every token this key seals.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// When the key was created, unix seconds.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// When the key stopped sealing new tokens, unix seconds; `None` for the current key.
    pub fn retired_at(&self) -> Option<u64> {
        self.retired_at
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("id", &format_args!("{:08x}", self.id))
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenKey {
    fn drop(&mut self) {
        self.bytes.fill(0);
        std::hint::black_box(&self.bytes);
    }
}

/// The keys that seal and open session tokens: one current key that seals, and retired keys that
/// still open the tokens they sealed until those expire.
///
/// The ring is shared by every replica: the service stores [`TokenKeyRing::to_bytes`] sealed under
/// the master key and reloads it after a rotation.
#[derive(Clone, Debug)]
pub struct TokenKeyRing {
    // INVARIANT: never empty; the last key is the current one and the only one not retired; ids
    // are unique.
    keys: Vec<TokenKey>,
}

/// The magic bytes at the start of [`TokenKeyRing::to_bytes`].
const RING_MAGIC: &[u8; 4] = b"TKR1";
/// Bytes per key in [`TokenKeyRing::to_bytes`]: id, key, created, retired flag, retired.
const RING_ENTRY_LEN: usize = 4 + TOKEN_KEY_LEN + 8 + 1 + 8;

impl TokenKeyRing {
    /// A ring whose only (and current) key is `first`.
    pub fn new(mut first: TokenKey) -> TokenKeyRing {
        first.retired_at = None;
        TokenKeyRing { keys: vec![first] }
    }

    /// A ring with one new key created at `now`.
    pub fn generate(rng: &mut (impl RandomSource + ?Sized), now: u64) -> TokenKeyRing {
        TokenKeyRing::new(TokenKey::generate(rng, now))
    }

    /// The key that seals new tokens.
    pub fn current(&self) -> &TokenKey {
        // INVARIANT: the ring is never empty.
        &self.keys[self.keys.len() - 1]
    }

    /// All keys, oldest first; the last is [`current`](TokenKeyRing::current).
    pub fn keys(&self) -> &[TokenKey] {
        &self.keys
    }

    /// The key with id `id`.
    pub fn get(&self, id: u32) -> Option<&TokenKey> {
        self.keys.iter().find(|key| key.id == id)
    }

    /// Makes a new key current and retires the old current key at `now`. Returns the new key's id.
    pub fn rotate(&mut self, rng: &mut (impl RandomSource + ?Sized), now: u64) -> u32 {
        let mut next = TokenKey::generate(rng, now);
        while self.get(next.id).is_some() {
            next = TokenKey::generate(rng, now);
        }
        let id = next.id;
        for key in &mut self.keys {
            key.retired_at.get_or_insert(now);
        }
        self.keys.push(next);
        id
    }

    /// Drops the keys retired at least `max_token_lifetime_secs` before `now`: every token they
    /// sealed has expired. Returns how many were dropped. The current key always stays.
    ///
    /// Pass [`MAX_SESSION_LIFETIME_SECS`] plus a margin for replicas that still sealed with the old
    /// key until they reloaded the ring.
    pub fn prune(&mut self, now: u64, max_token_lifetime_secs: u64) -> usize {
        let before = self.keys.len();
        self.keys.retain(|key| key.retired_at.is_none_or(|at| at.saturating_add(max_token_lifetime_secs) > now));
        before - self.keys.len()
    }

    /// Seals `claims` under the current key, with a nonce from `rng`.
    ///
    /// Fails only when the token would be longer than [`MAX_TOKEN_LEN`] (many large tags or a
    /// large session policy).
    pub fn seal(
        &self,
        claims: &SessionClaims,
        rng: &mut (impl RandomSource + ?Sized),
    ) -> Result<String, TokenTooLarge> {
        let key = self.current();
        let mut payload = Vec::with_capacity(NONCE_LEN + claims.encoded_len_hint() + TAG_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        payload.extend_from_slice(&nonce);
        claims.encode_into(&mut payload);
        let len = HEADER_LEN + base64_len(payload.len() + TAG_LEN);
        if len > MAX_TOKEN_LEN {
            wipe(payload);
            return Err(TokenTooLarge { len });
        }
        let header = header(key.id);
        let tag = key
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header.as_bytes()),
                &mut payload[NONCE_LEN..],
            )
            // INVARIANT: AES-GCM refuses only plaintexts of about 64 GiB, and the length was
            // checked against `MAX_TOKEN_LEN` above.
            .map_err(|_| TokenTooLarge { len })?;
        payload.extend_from_slice(tag.as_ref());
        let mut token = String::with_capacity(len);
        token.push_str(&header);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        Ok(token)
    }

    /// Opens a token sealed by a key of this ring and checks that it has not expired at `now`
    /// (unix seconds). Expiry is checked only after authentication, so an `Expired` error is
    /// never reported for a forged token.
    ///
    /// Any input is safe to pass: failures are errors, never panics, and no error quotes the
    /// token.
    pub fn open(&self, token: &str, now: u64) -> Result<SessionClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("longer than the limit"));
        }
        let (header, payload) = match (token.get(..HEADER_LEN), token.get(HEADER_LEN..)) {
            (Some(header), Some(payload)) => (header, payload),
            _ => return Err(malformed("the header is not `T1` and 8 hex digits")),
        };
        let key_id = header.strip_prefix(TOKEN_VERSION).ok_or(malformed("unknown version"))?;
        let key_id = parse_hex_u32(key_id).ok_or(malformed("the key id is not 8 lowercase hex digits"))?;
        let key = self.get(key_id).ok_or(TokenError::UnknownKey { key_id })?;

        let mut bytes = Vec::with_capacity(payload.len() / 4 * 3 + 3);
        URL_SAFE_NO_PAD.decode_vec(payload, &mut bytes).map_err(|_| malformed("the payload is not base64url"))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(malformed("the payload is too short"));
        }
        let (nonce, ciphertext) = bytes.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| malformed("the payload is too short"))?;
        let claims = match key.aead.open_in_place(nonce, Aad::from(header.as_bytes()), ciphertext) {
            Ok(plaintext) => SessionClaims::decode(plaintext),
            Err(_) => Err(TokenError::Tampered),
        };
        wipe(bytes);
        let claims = claims?;
        if claims.is_expired(now) {
            return Err(TokenError::Expired { expired_at: claims.expires_at });
        }
        Ok(claims)
    }

    /// The ring for storage: every key's id, bytes and dates. The bytes are secret: seal them
    /// under the master key ([`MasterKey::seal`](crate::MasterKey::seal)) right away.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RING_MAGIC.len() + 2 + self.keys.len() * RING_ENTRY_LEN);
        out.extend_from_slice(RING_MAGIC);
        // The ring holds a handful of keys; `from_bytes` rejects more than `u16::MAX`.
        out.extend_from_slice(&u16::try_from(self.keys.len()).unwrap_or(u16::MAX).to_be_bytes());
        for key in self.keys.iter().take(usize::from(u16::MAX)) {
            out.extend_from_slice(&key.id.to_be_bytes());
            out.extend_from_slice(&key.bytes);
            out.extend_from_slice(&key.created_at.to_be_bytes());
            out.push(u8::from(key.retired_at.is_some()));
            out.extend_from_slice(&key.retired_at.unwrap_or(0).to_be_bytes());
        }
        out
    }

    /// Reads what [`TokenKeyRing::to_bytes`] wrote. Any input is safe to pass.
    pub fn from_bytes(bytes: &[u8]) -> Result<TokenKeyRing, KeyRingError> {
        let rest = bytes.strip_prefix(RING_MAGIC).ok_or(KeyRingError::Malformed { reason: "unknown format" })?;
        let (count, entries) = rest.split_first_chunk::<2>().ok_or(KeyRingError::Malformed { reason: "truncated" })?;
        let count = usize::from(u16::from_be_bytes(*count));
        if count == 0 {
            return Err(KeyRingError::Malformed { reason: "the ring has no keys" });
        }
        if entries.len() != count * RING_ENTRY_LEN {
            return Err(KeyRingError::Malformed { reason: "the length does not match the key count" });
        }
        let mut keys: Vec<TokenKey> = Vec::with_capacity(count);
        for entry in entries.chunks_exact(RING_ENTRY_LEN) {
            let (id, entry) = split::<4>(entry);
            let (key, entry) = split::<TOKEN_KEY_LEN>(entry);
            let (created_at, entry) = split::<8>(entry);
            let (retired, entry) = split::<1>(entry);
            let (retired_at, _) = split::<8>(entry);
            let retired_at = match retired {
                [0] if retired_at == [0; 8] => None,
                [1] => Some(u64::from_be_bytes(retired_at)),
                _ => return Err(KeyRingError::Malformed { reason: "invalid retirement field" }),
            };
            let key = TokenKey::from_parts(u32::from_be_bytes(id), key, u64::from_be_bytes(created_at), retired_at);
            if keys.iter().any(|other| other.id == key.id) {
                return Err(KeyRingError::Malformed { reason: "two keys have the same id" });
            }
            keys.push(key);
        }
        let (current, retired) = keys.split_last().ok_or(KeyRingError::Malformed { reason: "the ring has no keys" })?;
        if current.retired_at.is_some() || retired.iter().any(|key| key.retired_at.is_none()) {
            return Err(KeyRingError::Malformed { reason: "the last key, and only it, must be current" });
        }
        Ok(TokenKeyRing { keys })
    }
}

/// The first `N` bytes of `bytes` as an array, and the rest. The caller guarantees the length
/// (every entry is exactly `RING_ENTRY_LEN` bytes); a short slice yields zeros, never a panic.
fn split<const N: usize>(bytes: &[u8]) -> ([u8; N], &[u8]) {
    match bytes.split_first_chunk::<N>() {
        Some((head, rest)) => (*head, rest),
        None => ([0; N], &[]),
    }
}

/// `T1` and the key id as 8 lowercase hex digits.
fn header(key_id: u32) -> String {
    format!("{TOKEN_VERSION}{key_id:08x}")
}

fn parse_hex_u32(text: &str) -> Option<u32> {
    if text.len() != 8 {
        return None;
    }
    text.bytes().try_fold(0u32, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u32::from(digit))
    })
}

/// Length of unpadded base64 of `n` bytes.
fn base64_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

fn malformed(reason: &'static str) -> TokenError {
    TokenError::Malformed { reason }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// A string after the account: its header is `remainder length << 2 | prefix code`, and the
/// remainder follows (see [`ArnPrefix`]).
fn put_text(out: &mut Vec<u8>, account: &str, value: &str) {
    let (prefix, rest) = ArnPrefix::split(account, value);
    put_varint(out, (rest.len() as u64) << 2 | u64::from(prefix as u8));
    out.extend_from_slice(rest.as_bytes());
}

fn put_texts(out: &mut Vec<u8>, account: &str, values: &[String]) {
    put_varint(out, values.len() as u64);
    for value in values {
        put_text(out, account, value);
    }
}

/// The ARN prefixes a claim string may leave out, which shrinks a typical token by a quarter: the
/// principal, role and source user ARNs all start with one of them.
///
/// INVARIANT: [`ArnPrefix::split`] is the only way a prefix is chosen, and the decoder rejects a
/// string whose code differs from what `split` would choose for the whole string, so the
/// encoding stays canonical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArnPrefix {
    /// No prefix left out.
    None = 0,
    /// `arn:aws:iam::<account>:`.
    Iam = 1,
    /// `arn:aws:sts::<account>:`.
    Sts = 2,
    /// `arn:aws:iam::aws:policy/`, AWS managed policies.
    AwsPolicy = 3,
}

const AWS_POLICY_PREFIX: &str = "arn:aws:iam::aws:policy/";

impl ArnPrefix {
    /// The prefix `value` starts with (the AWS managed policy prefix first, so that an account
    /// named `aws` still gives one answer), and the rest of `value`.
    fn split<'v>(account: &str, value: &'v str) -> (ArnPrefix, &'v str) {
        if let Some(rest) = value.strip_prefix(AWS_POLICY_PREFIX) {
            return (ArnPrefix::AwsPolicy, rest);
        }
        let in_account = |service: &str| value.strip_prefix(service)?.strip_prefix(account)?.strip_prefix(':');
        if let Some(rest) = in_account("arn:aws:iam::") {
            (ArnPrefix::Iam, rest)
        } else if let Some(rest) = in_account("arn:aws:sts::") {
            (ArnPrefix::Sts, rest)
        } else {
            (ArnPrefix::None, value)
        }
    }

    fn from_code(code: u64) -> ArnPrefix {
        match code & 3 {
            1 => ArnPrefix::Iam,
            2 => ArnPrefix::Sts,
            3 => ArnPrefix::AwsPolicy,
            _ => ArnPrefix::None,
        }
    }

    /// `prefix ‖ rest` as a new string.
    fn join(self, account: &str, rest: &str) -> String {
        let service = match self {
            ArnPrefix::None => return rest.to_owned(),
            ArnPrefix::AwsPolicy => return [AWS_POLICY_PREFIX, rest].concat(),
            ArnPrefix::Iam => "arn:aws:iam::",
            ArnPrefix::Sts => "arn:aws:sts::",
        };
        [service, account, ":", rest].concat()
    }
}

/// A cursor over untrusted claim bytes. Every read checks the remaining length first.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, TokenError> {
        let (&first, rest) = self.rest.split_first().ok_or(malformed("truncated claims"))?;
        self.rest = rest;
        Ok(first)
    }

    /// An unsigned LEB128 integer in its shortest form (canonical: at most 10 bytes, no trailing
    /// zero groups, no bits beyond 64).
    fn varint(&mut self) -> Result<u64, TokenError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let group = u64::from(byte & 0x7f);
            if shift == 63 && group > 1 {
                return Err(malformed("integer overflows 64 bits"));
            }
            value |= group << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(malformed("integer is not in its shortest form"));
                }
                return Ok(value);
            }
        }
        Err(malformed("integer overflows 64 bits"))
    }

    /// A count of items that each take at least one byte, so it cannot exceed what is left.
    fn count(&mut self) -> Result<usize, TokenError> {
        let count = self.varint()?;
        usize::try_from(count)
            .ok()
            .filter(|&count| count <= self.rest.len())
            .ok_or(malformed("a length runs past the end of the claims"))
    }

    /// `len` bytes of UTF-8.
    fn utf8(&mut self, len: usize) -> Result<&'a str, TokenError> {
        let (head, rest) =
            self.rest.split_at_checked(len).ok_or(malformed("a length runs past the end of the claims"))?;
        self.rest = rest;
        std::str::from_utf8(head).map_err(|_| malformed("a string is not UTF-8"))
    }

    /// A plain length-prefixed string (the account).
    fn str(&mut self) -> Result<&'a str, TokenError> {
        let len = self.count()?;
        self.utf8(len)
    }

    /// A string written by [`put_text`].
    fn string(&mut self, account: &str) -> Result<String, TokenError> {
        let header = self.varint()?;
        let len = usize::try_from(header >> 2).map_err(|_| malformed("a length runs past the end of the claims"))?;
        let rest = self.utf8(len)?;
        let prefix = ArnPrefix::from_code(header);
        let value = prefix.join(account, rest);
        // Only the encoder's own choice is accepted, so every claim set has one encoding.
        if ArnPrefix::split(account, &value).0 != prefix {
            return Err(malformed("a string is not in its canonical form"));
        }
        Ok(value)
    }

    fn optional_string(&mut self, account: &str, present: bool) -> Result<Option<String>, TokenError> {
        if present { self.string(account).map(Some) } else { Ok(None) }
    }

    fn strings(&mut self, account: &str) -> Result<Vec<String>, TokenError> {
        let count = self.count()?;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            values.push(self.string(account)?);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tessera_arn::SeededRandom;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    /// A role session as AssumeRole makes it, without tags or policies.
    fn typical(rng: &mut SeededRandom) -> SessionClaims {
        let (access_key_id, secret_access_key) = issue_credentials(rng);
        SessionClaims {
            account: "123456789012".into(),
            kind: SessionKind::AssumedRole,
            principal_arn: "arn:aws:sts::123456789012:assumed-role/deploy-role/ci-build-42".into(),
            principal_id: "AROA3XFRBF535PLBIFPI4:ci-build-42".into(),
            role_arn: Some("arn:aws:iam::123456789012:role/service/deploy-role".into()),
            source_user_arn: Some("arn:aws:iam::123456789012:user/alice".into()),
            source_user_id: None,
            session_name: Some("ci-build-42".into()),
            session_id: new_session_id(rng),
            access_key_id,
            secret_access_key,
            issued_at: NOW,
            issued_subsec_micros: 0,
            expires_at: NOW + 3600,
            source_identity: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policy: None,
            mfa_authenticated_at: None,
            chain_depth: 0,
        }
    }

    fn full(rng: &mut SeededRandom) -> SessionClaims {
        SessionClaims {
            source_identity: Some("alice@example.com".into()),
            source_user_id: Some("AIDAEXAMPLEUSERID0001".into()),
            tags: vec![("team".into(), "platform".into()), ("env".into(), "prod".into()), ("é".into(), String::new())],
            transitive_tag_keys: vec!["team".into()],
            session_policy: Some(SessionPolicy {
                inline: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
                policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            }),
            mfa_authenticated_at: Some(NOW - 60),
            chain_depth: 2,
            ..typical(rng)
        }
    }

    /// Claims have no `PartialEq` (the secret); `Debug` shows every other field.
    fn assert_same(a: &SessionClaims, b: &SessionClaims) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(a.secret_access_key.expose(), b.secret_access_key.expose());
    }

    fn ring() -> TokenKeyRing {
        TokenKeyRing::generate(&mut SeededRandom::new(1), NOW - 86_400)
    }

    #[test]
    fn credentials_have_aws_shapes() {
        let mut rng = SeededRandom::new(3);
        let (id, secret) = issue_credentials(&mut rng);
        assert!(id.starts_with("ASIA") && id.len() == 20, "{id}");
        assert_eq!(secret.len(), 40);
        assert!(secret.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
        let (id2, secret2) = issue_credentials(&mut rng);
        assert_ne!(id, id2);
        assert!(!secret.ct_eq(secret2.expose().as_bytes()));

        let session_id = new_session_id(&mut rng);
        assert_eq!(session_id.len(), 32);
        assert!(session_id.bytes().all(|b| HEX.contains(&b)), "{session_id}");
        assert_ne!(session_id, new_session_id(&mut rng));

        // Works through a trait object too.
        let dynamic: &mut dyn RandomSource = &mut rng;
        assert!(issue_credentials(dynamic).0.starts_with("ASIA"));
    }

    #[test]
    fn seal_open_round_trip_and_size() {
        let ring = ring();
        let mut rng = SeededRandom::new(2);
        for claims in [typical(&mut rng), full(&mut rng)] {
            let token = ring.seal(&claims, &mut rng).unwrap();
            assert!(token.starts_with(&format!("T1{:08x}", ring.current().id())), "{token}");
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert!(!token.contains(claims.secret_access_key.expose()));
            assert_same(&ring.open(&token, NOW).unwrap(), &claims);
        }
        let token = ring.seal(&typical(&mut rng), &mut rng).unwrap();
        assert!(token.len() < 400, "a typical token is {} characters", token.len());
    }

    #[test]
    fn seal_is_deterministic_under_a_fixed_rng_and_fresh_otherwise() {
        let ring = ring();
        let claims = typical(&mut SeededRandom::new(4));
        let a = ring.seal(&claims, &mut SeededRandom::new(9)).unwrap();
        let b = ring.seal(&claims, &mut SeededRandom::new(9)).unwrap();
        assert_eq!(a, b);
        let mut rng = SeededRandom::new(9);
        assert_ne!(ring.seal(&claims, &mut rng).unwrap(), ring.seal(&claims, &mut rng).unwrap());
    }

    #[test]
    fn expiry_is_checked_after_authentication() {
        let ring = ring();
        let claims = typical(&mut SeededRandom::new(5));
        let token = ring.seal(&claims, &mut SeededRandom::new(6)).unwrap();
        assert!(ring.open(&token, claims.expires_at - 1).is_ok());
        for now in [claims.expires_at, claims.expires_at + 1, u64::MAX] {
            match ring.open(&token, now) {
                Err(TokenError::Expired { expired_at }) => assert_eq!(expired_at, claims.expires_at),
                other => panic!("expected Expired, got {other:?}"),
            }
        }
        // A forged expired token is Tampered, not Expired.
        let mut forged = token.into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(matches!(ring.open(&forged, u64::MAX), Err(TokenError::Tampered | TokenError::Malformed { .. })));
    }

    #[test]
    fn every_flipped_payload_byte_and_the_header_are_authenticated() {
        let ring = ring();
        let token = ring.seal(&typical(&mut SeededRandom::new(5)), &mut SeededRandom::new(7)).unwrap();
        let (header, payload) = token.split_at(HEADER_LEN);
        let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x01;
            let forged = format!("{header}{}", URL_SAFE_NO_PAD.encode(&flipped));
            assert!(matches!(ring.open(&forged, NOW), Err(TokenError::Tampered)), "byte {i}");
        }
        // The same payload under another key id of the ring fails authentication.
        let mut rotated = ring.clone();
        rotated.rotate(&mut SeededRandom::new(8), NOW);
        let moved = format!("{}{payload}", super::header(rotated.current().id()));
        assert!(matches!(rotated.open(&moved, NOW), Err(TokenError::Tampered)));
    }

    #[test]
    fn unknown_keys_and_foreign_rings() {
        let ring = ring();
        let token = ring.seal(&typical(&mut SeededRandom::new(5)), &mut SeededRandom::new(7)).unwrap();
        let other = TokenKeyRing::generate(&mut SeededRandom::new(99), NOW);
        match other.open(&token, NOW) {
            Err(TokenError::UnknownKey { key_id }) => assert_eq!(key_id, ring.current().id()),
            res => panic!("expected UnknownKey, got {res:?}"),
        }
        let error = other.open(&token, NOW).unwrap_err().to_string();
        assert!(!error.contains(&token[HEADER_LEN..HEADER_LEN + 8]), "{error}");
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_pruned() {
        let mut ring = ring();
        let mut rng = SeededRandom::new(10);
        let claims = typical(&mut rng);
        let old_token = ring.seal(&claims, &mut rng).unwrap();
        let old_id = ring.current().id();

        let new_id = ring.rotate(&mut rng, NOW);
        assert_ne!(new_id, old_id);
        assert_eq!(ring.current().id(), new_id);
        assert_eq!(ring.current().retired_at(), None);
        assert_eq!(ring.get(old_id).unwrap().retired_at(), Some(NOW));
        assert_eq!(ring.keys().len(), 2);
        let new_token = ring.seal(&claims, &mut rng).unwrap();
        assert!(new_token.starts_with(&format!("T1{new_id:08x}")));
        assert_same(&ring.open(&old_token, NOW + 10).unwrap(), &claims);
        assert_same(&ring.open(&new_token, NOW + 10).unwrap(), &claims);

        // Not yet: a token sealed at the last moment may still be valid.
        assert_eq!(ring.prune(NOW + MAX_SESSION_LIFETIME_SECS - 1, MAX_SESSION_LIFETIME_SECS), 0);
        assert_eq!(ring.prune(NOW + MAX_SESSION_LIFETIME_SECS, MAX_SESSION_LIFETIME_SECS), 1);
        assert_eq!(ring.keys().len(), 1);
        assert_eq!(ring.current().id(), new_id);
        assert!(matches!(ring.open(&old_token, NOW + 10), Err(TokenError::UnknownKey { .. })));
        // The current key is never pruned.
        assert_eq!(ring.prune(u64::MAX, 0), 0);

        // A second rotation retires only the then-current key.
        ring.rotate(&mut rng, NOW + 100);
        ring.rotate(&mut rng, NOW + 200);
        let retired: Vec<_> = ring.keys().iter().map(TokenKey::retired_at).collect();
        assert_eq!(retired, [Some(NOW + 100), Some(NOW + 200), None]);
    }

    #[test]
    fn ring_bytes_round_trip() {
        let mut ring = ring();
        let mut rng = SeededRandom::new(11);
        ring.rotate(&mut rng, NOW);
        let claims = typical(&mut rng);
        let token = ring.seal(&claims, &mut rng).unwrap();
        let bytes = ring.to_bytes();
        let loaded = TokenKeyRing::from_bytes(&bytes).unwrap();
        assert_eq!(format!("{loaded:?}"), format!("{ring:?}"));
        assert_eq!(loaded.to_bytes(), bytes);
        assert_same(&loaded.open(&token, NOW).unwrap(), &claims);
        // A new instance of the ring opens what the first sealed and vice versa.
        let token = loaded.seal(&claims, &mut rng).unwrap();
        assert_same(&ring.open(&token, NOW).unwrap(), &claims);
    }

    #[test]
    fn malformed_rings_are_rejected() {
        let ring = ring();
        let mut two = ring.clone();
        two.rotate(&mut SeededRandom::new(12), NOW);
        let good = two.to_bytes();
        let mut duplicate = good.clone();
        duplicate[6 + RING_ENTRY_LEN..6 + RING_ENTRY_LEN + 4].copy_from_slice(&good[6..10]);
        let mut current_retired = good.clone();
        let last_flag = 6 + 2 * RING_ENTRY_LEN - 9;
        current_retired[last_flag] = 1;
        let mut bad_flag = good.clone();
        bad_flag[last_flag] = 2;
        let mut junk_retired_at = good.clone();
        junk_retired_at[last_flag + 1] = 1;
        let mut empty = RING_MAGIC.to_vec();
        empty.extend_from_slice(&[0, 0]);
        for bytes in [
            Vec::new(),
            b"TKR2".to_vec(),
            RING_MAGIC.to_vec(),
            empty,
            good[..good.len() - 1].to_vec(),
            [good.as_slice(), &[0]].concat(),
            duplicate,
            current_retired,
            bad_flag,
            junk_retired_at,
        ] {
            assert!(TokenKeyRing::from_bytes(&bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let ring = ring();
        let claims = typical(&mut SeededRandom::new(13));
        let debug = format!("{claims:?}");
        assert!(!debug.contains(claims.secret_access_key.expose()), "{debug}");
        assert!(debug.contains("Secret(***)") && debug.contains("ci-build-42"), "{debug}");
        let debug = format!("{ring:?}");
        let key_hex: String = ring.current().bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!debug.contains(&key_hex), "{debug}");
        assert!(!debug.contains(&format!("{:?}", ring.current().bytes)), "{debug}");
        assert!(debug.contains(&format!("{:08x}", ring.current().id())), "{debug}");
    }

    #[test]
    fn too_large_claims_are_refused_at_seal() {
        let ring = ring();
        let mut claims = typical(&mut SeededRandom::new(14));
        claims.tags = (0..50).map(|i| (format!("key-{i:0>124}"), "v".repeat(256))).collect();
        let error = ring.seal(&claims, &mut SeededRandom::new(15)).unwrap_err();
        assert!(error.len > MAX_TOKEN_LEN);
        claims.tags.truncate(20);
        let token = ring.seal(&claims, &mut SeededRandom::new(15)).unwrap();
        assert!(token.len() <= MAX_TOKEN_LEN);
        assert_same(&ring.open(&token, NOW).unwrap(), &claims);
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        let ring = ring();
        let id = format!("{:08x}", ring.current().id());
        let short = URL_SAFE_NO_PAD.encode([0u8; NONCE_LEN + TAG_LEN - 1]);
        let inputs = [
            String::new(),
            "T1".into(),
            format!("T1{id}"),
            format!("T1{}", &id[..7]),
            format!("T2{id}AAAA"),
            format!("t1{id}AAAA"),
            format!("T1{}AAAA", id.to_uppercase()),
            "T1zzzzzzzzAAAA".into(),
            "T1éééé".into(),
            format!("T1{id}{short}"),
            format!("T1{id}***"),
            format!("T1{id}A"),
            format!("T1{id}AAA="),
            format!("T1{id}{}", "A".repeat(MAX_TOKEN_LEN)),
        ];
        for input in &inputs {
            let error = ring.open(input, NOW).unwrap_err();
            assert!(
                matches!(error, TokenError::Malformed { .. } | TokenError::Tampered | TokenError::UnknownKey { .. }),
                "{input:?}: {error:?}"
            );
        }
        assert!(matches!(ring.open(&format!("T1{id}{short}"), NOW), Err(TokenError::Malformed { .. })));
    }

    #[test]
    fn decode_rejects_non_canonical_claims() {
        let good = typical(&mut SeededRandom::new(16)).encode();
        assert!(SessionClaims::decode(&good).is_ok());
        // The principal ARN written out in full instead of without its `arn:aws:sts::` prefix.
        let mut claims = typical(&mut SeededRandom::new(16));
        claims.account = "999999999999".into();
        let mut literal = claims.encode();
        let full = "arn:aws:sts::123456789012:assumed-role/deploy-role/ci-build-42";
        let account_at = literal.windows(12).position(|w| w == b"999999999999").unwrap();
        literal[account_at..account_at + 12].copy_from_slice(b"123456789012");
        assert!(literal.windows(full.len()).any(|w| w == full.as_bytes()));
        assert!(matches!(SessionClaims::decode(&literal), Err(TokenError::Malformed { reason })
            if reason.contains("canonical")));
        let mut cases: Vec<Vec<u8>> =
            vec![Vec::new(), good[..good.len() - 1].to_vec(), [good.as_slice(), &[0]].concat()];
        for (index, value) in [(0, 0), (0, 3), (1, 3), (3, 0x80), (3, HAS_POLICY_INLINE)] {
            let mut bad = good.clone();
            bad[index] = value;
            cases.push(bad);
        }
        // An overlong integer: issued_at with a redundant zero group.
        let mut overlong = good[..4].to_vec();
        let mut issued = Vec::new();
        put_varint(&mut issued, NOW);
        let last = issued.len() - 1;
        issued[last] |= 0x80;
        issued.push(0);
        overlong.extend_from_slice(&issued);
        overlong.extend_from_slice(&good[4 + last + 1..]);
        cases.push(overlong);
        // More than 64 bits.
        cases.push([&good[..4], &[0xff; 10][..], &[0x01]].concat());
        cases.push([&good[..4], &[0xff; 9][..], &[0x02]].concat());
        for bytes in &cases {
            assert!(matches!(SessionClaims::decode(bytes), Err(TokenError::Malformed { .. })), "{bytes:?}");
        }
        // The largest integer is fine.
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(Reader { rest: &max }.varint().unwrap(), u64::MAX);
        assert_eq!(max.len(), 10);
    }

    #[test]
    fn sub_second_issue_times_are_version_2_and_whole_seconds_stay_version_1() {
        let whole = typical(&mut SeededRandom::new(17));
        let v1 = whole.encode();
        assert_eq!(v1[0], CLAIMS_V1, "a whole second is the format every earlier token has");
        assert_eq!(SessionClaims::decode(&v1).unwrap().issued_at_micros(), NOW * 1_000_000);

        let precise = SessionClaims { issued_subsec_micros: 123_456, ..whole.clone() };
        let v2 = precise.encode();
        assert_eq!(v2[0], CLAIMS_V2);
        let decoded = SessionClaims::decode(&v2).unwrap();
        assert_same(&decoded, &precise);
        assert_eq!(decoded.issued_at_micros(), NOW * 1_000_000 + 123_456);
        assert_eq!(decoded.issued_at, NOW, "seconds keep their meaning for every other reader");
        let ring = ring();
        let token = ring.seal(&precise, &mut SeededRandom::new(18)).unwrap();
        assert_eq!(ring.open(&token, NOW).unwrap().issued_subsec_micros, 123_456);

        // Version 2 without a sub-second part, or with a second or more of it, is not canonical.
        let mut issued = Vec::new();
        put_varint(&mut issued, NOW);
        for subsec in [0, 1_000_000, u64::MAX] {
            let mut bad = vec![CLAIMS_V2];
            bad.extend_from_slice(&v1[1..4]);
            bad.extend_from_slice(&issued);
            put_varint(&mut bad, subsec);
            bad.extend_from_slice(&v1[4 + issued.len()..]);
            assert!(matches!(SessionClaims::decode(&bad), Err(TokenError::Malformed { .. })), "{subsec}");
        }
        // The smallest and largest sub-second parts round-trip.
        for subsec in [1, 999_999] {
            let claims = SessionClaims { issued_subsec_micros: subsec, ..whole.clone() };
            assert_eq!(SessionClaims::decode(&claims.encode()).unwrap().issued_subsec_micros, subsec);
        }
    }

    /// Strings, many starting with (or almost with) the ARN prefixes the encoding leaves out.
    fn arb_string() -> impl Strategy<Value = String> {
        let prefix = proptest::sample::select(vec![
            "arn:aws:iam::123456789012:",
            "arn:aws:sts::123456789012:",
            "arn:aws:iam::aws:policy/",
            "arn:aws:iam::aws:",
            "arn:aws:sts::aws:",
            "arn:aws:iam:::",
            "arn:aws:iam::123456789012",
            "arn:aws-cn:iam::123456789012:",
        ]);
        prop_oneof![
            Just(String::new()),
            "[a-zA-Z0-9:/_+=,.@-]{1,40}",
            ".{0,200}",
            (prefix, "[a-z/:-]{0,20}").prop_map(|(prefix, rest)| format!("{prefix}{rest}")),
        ]
    }

    fn arb_account() -> impl Strategy<Value = String> {
        prop_oneof![Just("123456789012".to_owned()), Just("aws".to_owned()), Just(String::new()), "[0-9a-z:]{0,12}"]
    }

    /// Whole seconds (claims version 1) as often as sub-second issue times (version 2).
    fn subsec_micros() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0u32), 1..1_000_000u32, Just(999_999u32)]
    }

    fn arb_claims() -> impl Strategy<Value = SessionClaims> {
        let kind = prop_oneof![
            Just(SessionKind::AssumedRole),
            Just(SessionKind::FederatedUser),
            Just(SessionKind::SessionToken)
        ];
        let opt = || proptest::option::of(arb_string());
        let strings = || proptest::collection::vec(arb_string(), 0..4);
        let policy = proptest::option::of(
            (opt(), strings()).prop_map(|(inline, policy_arns)| SessionPolicy { inline, policy_arns }),
        );
        (
            (kind, arb_account(), arb_string(), arb_string(), opt(), opt(), opt(), arb_string()),
            (arb_string(), arb_string(), any::<u64>(), any::<u64>(), opt(), any::<u8>(), subsec_micros()),
            (
                proptest::collection::vec((arb_string(), arb_string()), 0..4),
                strings(),
                policy,
                proptest::option::of(any::<u64>()),
                opt(),
            ),
        )
            .prop_map(
                |(
                    (kind, account, principal_arn, principal_id, role_arn, source_user_arn, session_name, session_id),
                    (access_key_id, secret, issued_at, expires_at, source_identity, chain_depth, issued_subsec_micros),
                    (tags, transitive_tag_keys, session_policy, mfa_authenticated_at, source_user_id),
                )| SessionClaims {
                    account,
                    kind,
                    principal_arn,
                    principal_id,
                    role_arn,
                    source_user_arn,
                    source_user_id,
                    session_name,
                    session_id,
                    access_key_id,
                    secret_access_key: Secret::new(secret),
                    issued_at,
                    issued_subsec_micros,
                    expires_at,
                    source_identity,
                    tags,
                    transitive_tag_keys,
                    session_policy,
                    mfa_authenticated_at,
                    chain_depth,
                },
            )
    }

    proptest! {
        #[test]
        fn claims_round_trip(claims in arb_claims()) {
            let bytes = claims.encode();
            let decoded = SessionClaims::decode(&bytes).unwrap();
            assert_same(&decoded, &claims);
            prop_assert_eq!(decoded.encode(), bytes);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(claims) = SessionClaims::decode(&bytes) {
                // The encoding is canonical: whatever decodes re-encodes to the same bytes.
                prop_assert_eq!(claims.encode(), bytes);
            }
        }

        #[test]
        fn mutated_claims_never_panic(claims in arb_claims(), index in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = claims.encode();
            let i = index % bytes.len();
            bytes[i] = byte;
            if let Ok(claims) = SessionClaims::decode(&bytes) {
                prop_assert_eq!(claims.encode(), bytes);
            }
        }
    }
}
