//! The master key that encrypts secrets at rest, its key file, and its key id.
//!
//! The key file holds one line, `tessera-master-key-v1:<standard base64 of 32 bytes>`, and is
//! created with mode 0600. Encryption itself lives in [`seal`](crate::seal).
//!
//! A `MasterKey` is also a key set: during a master-key rotation it carries the previous key(s)
//! ([`MasterKey::with_previous`]), opens a blob under whichever key the blob names, and seals
//! under itself (the current key) only.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tessera_arn::RandomSource;

use crate::KeyFileError;
use crate::secret::wipe;

/// The prefix of the one line of a key file; the `v1` names the format, not the key.
pub const KEY_FILE_PREFIX: &str = "tessera-master-key-v1:";

/// Length of a master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// Length of a [key-check value](MasterKey::key_check) in bytes (HMAC-SHA256).
pub const KEY_CHECK_LEN: usize = 32;
/// What the key-check value is a MAC of; the `v1` names the scheme.
const KEY_CHECK_LABEL: &[u8] = b"tessera-master-key-check-v1";

/// An AES-256-GCM key for secrets at rest.
///
/// `Debug` shows only the [key id](MasterKey::key_id). The key bytes are wiped on drop (best
/// effort).
#[derive(Clone)]
pub struct MasterKey {
    bytes: [u8; MASTER_KEY_LEN],
    key_id: String,
    /// Keys this one still opens with (a rotation in progress), never seals with.
    previous: Vec<MasterKey>,
}

impl MasterKey {
    /// A new key drawn from `rng`.
    pub fn generate(rng: &mut (impl RandomSource + ?Sized)) -> MasterKey {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        rng.fill_bytes(&mut bytes);
        MasterKey::from_bytes(bytes)
    }

    /// A key with the given bytes.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> MasterKey {
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let key_id = digest.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey { bytes, key_id, previous: Vec::new() }
    }

    /// This key, also opening blobs sealed under `previous` (and the keys `previous` carries): the
    /// key set of a master-key rotation. Sealing, the key id and the key-check value stay this
    /// key's. A previous key with this key's id adds nothing.
    #[must_use]
    pub fn with_previous(mut self, previous: MasterKey) -> MasterKey {
        let mut all = vec![previous.only_current()];
        all.extend(previous.previous.iter().cloned());
        for key in all {
            if key.key_id != self.key_id && self.previous.iter().all(|known| known.key_id != key.key_id) {
                self.previous.push(key);
            }
        }
        self
    }

    /// The previous keys this key set still opens with, in the order they were added.
    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// This key alone, without the previous keys it carries.
    #[must_use]
    pub fn only_current(&self) -> MasterKey {
        MasterKey::from_bytes(self.bytes)
    }

    /// The key of this set whose id is `key_id`, current or previous.
    pub(crate) fn by_id(&self, key_id: &str) -> Option<&MasterKey> {
        if key_id == self.key_id {
            return Some(self);
        }
        self.previous.iter().find(|key| key.key_id == key_id)
    }

    /// The raw key bytes, for the AEAD in [`seal`](crate::seal).
    pub(crate) fn bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }

    /// The first 8 hex digits of the SHA-256 of the key: written into every sealed blob so that
    /// opening with another key reports [`SealError::WrongKey`](crate::SealError::WrongKey)
    /// instead of a tampering error. It identifies the key without revealing it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key-check value: HMAC-SHA256 of a fixed label under this key. A store keeps it so that
    /// a server started with another key finds out before it writes anything; like any MAC output
    /// it reveals nothing about the key.
    pub fn key_check(&self) -> [u8; KEY_CHECK_LEN] {
        let tag = ring::hmac::sign(&self.key_check_key(), KEY_CHECK_LABEL);
        let mut out = [0u8; KEY_CHECK_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `value` is this key's [key-check value](MasterKey::key_check), compared in
    /// constant time.
    pub fn matches_key_check(&self, value: &[u8]) -> bool {
        ring::hmac::verify(&self.key_check_key(), KEY_CHECK_LABEL, value).is_ok()
    }

    /// A 32-byte value derived from this key for `label` (HMAC-SHA256 of the label under the
    /// key): a proof, shared by every process holding the key, that reveals nothing about it. The
    /// cluster's internal calls carry `derive_mac(b"tessera internal call v1")`.
    pub fn derive_mac(&self, label: &[u8]) -> [u8; KEY_CHECK_LEN] {
        let tag = ring::hmac::sign(&self.key_check_key(), label);
        let mut out = [0u8; KEY_CHECK_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `value` is [`derive_mac(label)`](MasterKey::derive_mac) under this key or one of the
    /// previous keys it carries (a rotation in progress), compared in constant time.
    pub fn verify_mac(&self, label: &[u8], value: &[u8]) -> bool {
        std::iter::once(self)
            .chain(&self.previous)
            .any(|key| ring::hmac::verify(&key.key_check_key(), label, value).is_ok())
    }

    fn key_check_key(&self) -> ring::hmac::Key {
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.bytes)
    }

    /// The key file contents: `tessera-master-key-v1:<base64>` and a newline.
    pub fn encode(&self) -> String {
        format!("{KEY_FILE_PREFIX}{}\n", STANDARD.encode(self.bytes))
    }

    /// Parses key file contents (surrounding whitespace, such as the trailing newline, is ignored).
    ///
    /// Errors never quote the text, which may be a key.
    pub fn from_encoded(text: &str) -> Result<MasterKey, KeyFileError> {
        let encoded = text.trim().strip_prefix(KEY_FILE_PREFIX).ok_or(KeyFileError::Format)?;
        let mut decoded = STANDARD.decode(encoded).map_err(|_| KeyFileError::Base64)?;
        let len = decoded.len();
        let bytes: Result<[u8; MASTER_KEY_LEN], _> = decoded.as_slice().try_into();
        wipe(std::mem::take(&mut decoded));
        bytes.map(MasterKey::from_bytes).map_err(|_| KeyFileError::Length { len })
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<MasterKey, KeyFileError> {
        let text = fs::read_to_string(path).map_err(|source| io_error("read", path, source))?;
        let key = MasterKey::from_encoded(&text);
        wipe(text.into_bytes());
        key
    }

    /// Reads the key file at `path`, or creates it with a new key from `rng` if it does not exist.
    ///
    /// The new file is written to a temporary file (mode 0600) beside `path`, synced, and then
    /// hard-linked into place. The link fails if `path` already exists, so when several processes
    /// start at once exactly one key wins, and no process ever reads a half-written file: the
    /// losers read the winner's key.
    pub fn load_or_create(path: &Path, rng: &mut (impl RandomSource + ?Sized)) -> Result<MasterKey, KeyFileError> {
        match MasterKey::load(path) {
            Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            loaded => return loaded,
        }
        let key = MasterKey::generate(rng);
        let mut suffix = [0u8; 8];
        rng.fill_bytes(&mut suffix);
        let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(format!(".tmp-{suffix}"));
        let temp = path.with_file_name(temp_name);

        let written = write_new_file(&temp, key.encode().as_bytes());
        let linked = written.and_then(|()| fs::hard_link(&temp, path));
        // The temporary name is removed whatever happened; the key lives on under `path`.
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                sync_parent(path).map_err(|source| io_error("sync the directory of", path, source))?;
                Ok(key)
            }
            Err(source) if source.kind() == io::ErrorKind::AlreadyExists => MasterKey::load(path),
            Err(source) => Err(io_error("create", path, source)),
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("MasterKey");
        debug.field("key_id", &self.key_id);
        if !self.previous.is_empty() {
            let previous: Vec<&str> = self.previous.iter().map(MasterKey::key_id).collect();
            debug.field("previous", &previous);
        }
        debug.finish_non_exhaustive()
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.bytes.fill(0);
        std::hint::black_box(&self.bytes);
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> KeyFileError {
    KeyFileError::Io { action, path: path.to_path_buf(), source }
}

/// Creates `path` (failing if it exists) readable and writable by the owner only, and syncs it.
fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = crate::private_fs::open(path, OpenOptions::new().write(true).create_new(true))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Syncs the directory holding `path`, so that the new name survives a crash.
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(test)]
mod tests {
    use tessera_arn::SeededRandom;

    use super::*;

    #[test]
    fn encode_and_parse_round_trip() {
        let key = MasterKey::generate(&mut SeededRandom::new(1));
        let text = key.encode();
        assert!(text.starts_with(KEY_FILE_PREFIX));
        assert!(text.ends_with('\n'));
        let parsed = MasterKey::from_encoded(&text).unwrap();
        assert_eq!(parsed.bytes(), key.bytes());
        assert_eq!(parsed.key_id(), key.key_id());
        let tolerant = MasterKey::from_encoded(&format!("  {}  \r\n\n", text.trim())).unwrap();
        assert_eq!(tolerant.bytes(), key.bytes());
    }

    #[test]
    fn the_key_check_value_matches_its_own_key_only() {
        let key = MasterKey::generate(&mut SeededRandom::new(1));
        let other = MasterKey::generate(&mut SeededRandom::new(2));
        let check = key.key_check();
        assert_eq!(check, MasterKey::from_bytes(*key.bytes()).key_check(), "deterministic");
        assert!(key.matches_key_check(&check));
        assert!(!other.matches_key_check(&check));
        assert!(!key.matches_key_check(&check[..31]));
        assert!(!key.matches_key_check(&[]));
        // HMAC-SHA256(key = 32 zero bytes, "tessera-master-key-check-v1") computed independently
        // (Python's hmac), so the meaning of stored values never drifts.
        let zero: String = MasterKey::from_bytes([0; 32]).key_check().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(zero, "8e6548e19d1a67a836b3e3a7939864038b00f0fb957c767146c4839f16da9c59");
    }

    #[test]
    fn derived_macs_verify_under_the_key_and_its_previous_keys_only() {
        let old = MasterKey::generate(&mut SeededRandom::new(1));
        let new = MasterKey::generate(&mut SeededRandom::new(2));
        let label = b"tessera internal call v1";
        let proof = old.derive_mac(label);
        assert_eq!(proof, MasterKey::from_bytes(*old.bytes()).derive_mac(label), "deterministic");
        assert_ne!(proof, old.derive_mac(b"another label"));
        assert_ne!(proof, new.derive_mac(label));
        assert!(old.verify_mac(label, &proof));
        assert!(!new.verify_mac(label, &proof));
        assert!(new.clone().with_previous(old.clone()).verify_mac(label, &proof), "during a rotation");
        assert!(!old.verify_mac(b"another label", &proof));
        assert!(!old.verify_mac(label, &proof[..31]));
        assert!(!old.verify_mac(label, &[]));
        // HMAC-SHA256(key = 32 zero bytes, "tessera internal call v1"), computed with Python's hmac.
        let zero: String =
            MasterKey::from_bytes([0; 32]).derive_mac(label).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(zero, "b85db388dfba085c3f203d4ce4dab1984afb94f27380f03a6f28197b660a9345");
    }

    #[test]
    fn key_id_is_a_sha256_prefix() {
        // SHA-256 of 32 zero bytes is 66687aad...
        let key = MasterKey::from_bytes([0; 32]);
        assert_eq!(key.key_id(), "66687aad");
        assert_eq!(format!("{key:?}"), "MasterKey { key_id: \"66687aad\", .. }");
    }

    #[test]
    fn a_key_set_keeps_its_current_key_and_adds_each_previous_key_once() {
        let (a, b, c) =
            (MasterKey::from_bytes([1; 32]), MasterKey::from_bytes([2; 32]), MasterKey::from_bytes([3; 32]));
        let set = c.clone().with_previous(b.clone().with_previous(a.clone())).with_previous(a.clone());
        assert_eq!(set.key_id(), c.key_id());
        assert_eq!(set.key_check(), c.key_check());
        let previous: Vec<&str> = set.previous().iter().map(MasterKey::key_id).collect();
        assert_eq!(previous, [b.key_id(), a.key_id()]);
        assert!(set.clone().with_previous(c.clone()).previous().len() == 2, "the current key is not its own previous");
        assert!(set.only_current().previous().is_empty());
        assert_eq!(set.by_id(a.key_id()).map(MasterKey::key_id), Some(a.key_id()));
        assert!(set.by_id("00000000").is_none());
        let shown = format!("{set:?}");
        assert!(shown.contains(c.key_id()) && shown.contains(a.key_id()), "{shown}");
    }

    #[test]
    fn malformed_key_files_are_rejected_without_quoting_them() {
        let short = format!("{KEY_FILE_PREFIX}{}", STANDARD.encode([7u8; 16]));
        for (text, expected) in [
            ("", KeyFileError::Format),
            ("tessera-master-key-v2:AAAA", KeyFileError::Format),
            (&format!("{KEY_FILE_PREFIX}not base64!"), KeyFileError::Base64),
            (&short, KeyFileError::Length { len: 16 }),
            (KEY_FILE_PREFIX, KeyFileError::Length { len: 0 }),
        ] {
            let error = MasterKey::from_encoded(text).unwrap_err();
            assert_eq!(error.to_string(), expected.to_string(), "{text:?}");
            assert!(!error.to_string().contains("AAAA"));
        }
    }

    #[test]
    fn load_or_create_writes_a_private_file_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let created = MasterKey::load_or_create(&path, &mut SeededRandom::new(2)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), created.encode());
        // Only the key file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        // A second start with another generator reads the existing key.
        let loaded = MasterKey::load_or_create(&path, &mut SeededRandom::new(3)).unwrap();
        assert_eq!(loaded.bytes(), created.bytes());
        assert_eq!(MasterKey::load(&path).unwrap().key_id(), created.key_id());
    }

    #[test]
    fn load_or_create_does_not_overwrite_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        fs::write(&path, "garbage").unwrap();
        let error = MasterKey::load_or_create(&path, &mut SeededRandom::new(4)).unwrap_err();
        assert!(matches!(error, KeyFileError::Format));
        assert_eq!(fs::read_to_string(&path).unwrap(), "garbage");
    }

    #[test]
    fn missing_file_and_missing_directory_are_io_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.key");
        let error = MasterKey::load(&missing).unwrap_err();
        assert!(matches!(&error, KeyFileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound));
        assert!(error.to_string().starts_with("cannot read master key file `"), "{error}");

        let nested = dir.path().join("no-such-dir").join("master.key");
        let error = MasterKey::load_or_create(&nested, &mut SeededRandom::new(5)).unwrap_err();
        assert!(matches!(error, KeyFileError::Io { action: "create", .. }), "{error}");
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let keys: Vec<MasterKey> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|seed| {
                    let path = &path;
                    scope.spawn(move || MasterKey::load_or_create(path, &mut SeededRandom::new(seed)).unwrap())
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        for key in &keys {
            assert_eq!(key.bytes(), keys[0].bytes());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
