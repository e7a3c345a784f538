//! Virtual MFA devices (reference §5.5): created unassigned with a sealed TOTP seed, enabled for a
//! user with two consecutive codes, at most eight per user, and checked replay-safe at sign-in.
//!
//! A device and its user each record the assignment (`device.user`, `user.mfa_devices`), and every
//! change writes both in one transaction.
//!
//! The account root has at most one device, [`ROOT_MFA_DEVICE_NAME`] (AWS's name for it), assigned
//! only through the console (as on AWS, where `EnableMFADevice` takes a user): its record's `user` is
//! [`ROOT_OWNER`], the empty name, and the root has no record of its own to list it in.
//!
//! Code guessing is throttled per device, in the store so that every replica sees it: each attempt
//! to prove a code (`EnableMFADevice`, `ResyncMFADevice`, a sign-in) is counted in the device's
//! [`MfaLockoutRecord`] *before* its code is checked, in one transaction with the lock check, so
//! parallel guesses cannot slip past the count. The [`MFA_MAX_FAILURES`]th unproven attempt locks the
//! device for [`mfa_lock_period`] (one minute, doubling per lock up to an hour); while locked, every code
//! is refused unchecked, correct or not. A correct code deletes the record.

use tessera_arn::{Arn, IamEntity, ValidationError, Violation, validate_mfa_code, validate_mfa_serial};
use tessera_credentials::{Secret, TotpSeed, otpauth_uri, parse_code, qr_png, verify_code, verify_consecutive};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{self, MfaDeviceRecord, MfaLockoutRecord, Millis, Tag};
use tessera_store::{Key, Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::users::{mfa_key, path_or_root};
use crate::{Account, Error, Identity, MfaFailure, Result, tags};

/// MFA devices per user.
pub(crate) const MAX_MFA_DEVICES_PER_USER: usize = 8;

/// The name of the account root's virtual MFA device, as AWS names it
/// (`arn:aws:iam::<account>:mfa/root-account-mfa-device`).
pub const ROOT_MFA_DEVICE_NAME: &str = "root-account-mfa-device";

/// A device's `user` when it is assigned to the account root.
// INVARIANT: user names are 1-64 characters, so the empty name never names a user; an empty user
// name is the root elsewhere too (the root's access keys, `DeactivateMFADevice` without one).
pub const ROOT_OWNER: &str = "";

/// The serial of the account root's device.
pub fn root_mfa_serial(account: &Account) -> String {
    Arn::iam("aws", account.id(), &IamEntity::Mfa { path: "/".into(), name: ROOT_MFA_DEVICE_NAME.into() }).to_string()
}

/// Whether `device` is assigned to the account root.
pub fn assigned_to_root(device: &MfaDeviceRecord) -> bool {
    device.user.as_deref() == Some(ROOT_OWNER)
}

/// Steps either side of now in which `EnableMFADevice` looks for the two codes (people type the
/// second code a little after it appears).
pub(crate) const ENABLE_WINDOW: u64 = 2;

/// Steps either side of now for `ResyncMFADevice`, whose purpose is a drifted clock (±5 minutes).
pub(crate) const RESYNC_WINDOW: u64 = tessera_credentials::totp::MAX_WINDOW;

/// Steps either side of now for a sign-in code.
pub(crate) const SIGN_IN_WINDOW: u64 = 1;

/// Unproven attempts a device allows before it locks (the last of them locks it, and is still
/// checked: a correct code then unlocks it at once).
pub const MFA_MAX_FAILURES: u32 = 5;

/// The first lock; each further lock without a correct code in between doubles it.
const FIRST_LOCK_MILLIS: Millis = 60_000;

/// The longest lock: five guesses an hour make a six-digit code a matter of years.
const MAX_LOCK_MILLIS: Millis = 3_600_000;

/// How long the `lockouts`th lock since the last correct code lasts (1-based), in milliseconds.
pub fn mfa_lock_period(lockouts: u32) -> Millis {
    let doublings = lockouts.saturating_sub(1).min(32);
    FIRST_LOCK_MILLIS.saturating_mul(1 << doublings).min(MAX_LOCK_MILLIS)
}

/// STS's answer to a wrong sign-in code.
const SIGN_IN_INVALID_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";

/// Longest `VirtualMFADeviceName` the model accepts.
const MAX_DEVICE_NAME_LEN: usize = 226;

/// `CreateVirtualMFADevice`'s output: the seed and its QR code are shown this once.
#[derive(Clone)]
pub struct CreatedMfaDevice {
    pub device: MfaDeviceRecord,
    /// The seed in base32, as `Base32StringSeed`.
    pub base32_seed: Secret,
    /// A PNG of the `otpauth://` URI, as `QRCodePNG`. It holds the seed: never log it.
    pub qr_png: Vec<u8>,
}

impl std::fmt::Debug for CreatedMfaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedMfaDevice")
            .field("device", &self.device)
            .field("qr_png_len", &self.qr_png.len())
            .finish_non_exhaustive()
    }
}

/// `ListVirtualMFADevices`' `AssignmentStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssignmentStatus {
    Assigned,
    Unassigned,
    #[default]
    Any,
}

pub(crate) fn device_not_found(serial: &str) -> Error {
    Error::no_such_entity(format!("VirtualMFADevice with serial number {serial} doesn't exist."))
}

/// IAM's answer to wrong codes for `serial` (`EnableMFADevice`, `ResyncMFADevice`).
fn invalid_code(serial: &str) -> Error {
    Error::mfa(
        serial,
        MfaFailure::InvalidCode,
        ErrorCode::InvalidAuthenticationCode,
        "Authentication code for device is not valid.",
    )
}

/// The answer to any code for a locked device, on every path: `AccessDenied` (403), which AWS
/// clients do not retry, unlike `Throttling`, whose retries would only meet the lock again.
fn locked(serial: &str, until: Millis, now: Millis) -> Error {
    let secs = until.saturating_sub(now).div_ceil(1000).max(1);
    Error::mfa(
        serial,
        MfaFailure::Locked,
        ErrorCode::AccessDenied,
        format!(
            "MultiFactorAuthentication failed: MFA device {serial} is temporarily locked after too many invalid \
             authentication codes. Try again in {secs} seconds."
        ),
    )
}

/// The key of the lockout record of the device named `name`.
fn lockout_key(account: &Account, name: &str) -> Key {
    iam::named(account.ns(), iam::MFA_LOCKOUT, name)
}

fn internal(what: &str) -> Error {
    Error::new(
        ErrorCode::ServiceFailure,
        format!("The request processing has failed because of an unknown error ({what})."),
    )
}

pub(crate) fn seal_aad(serial: &str) -> String {
    format!("mfa:{serial}")
}

/// `VirtualMFADeviceName`: 1–226 characters of `[\w+=,.@-]`.
fn validate_device_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    let mut violations = Vec::new();
    if len < 1 {
        violations.push(Violation::MinLength(1));
    }
    if len > MAX_DEVICE_NAME_LEN {
        violations.push(Violation::MaxLength(MAX_DEVICE_NAME_LEN));
    }
    let name_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !name.is_empty() && !name.chars().all(name_char) {
        violations.push(Violation::Pattern(tessera_arn::NAME_PATTERN));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { field: "virtualMFADeviceName", value: name.to_owned(), violations }.into())
    }
}

/// The record key of a device of this account named by its serial; serials of other accounts or
/// that are no virtual device's ARN are simply not found.
/// Whether `device` is the one `serial` names: the key holds only the (unique) name, so the path
/// of the serial must be checked against the record.
pub(crate) fn names(device: &MfaDeviceRecord, serial: &str) -> bool {
    device.serial.eq_ignore_ascii_case(serial)
}

pub(crate) fn device_key(account: &Account, serial: &str) -> Result<Key> {
    validate_mfa_serial(serial)?;
    let arn = Arn::parse(serial).map_err(|_| device_not_found(serial))?;
    match arn.entity() {
        Ok(IamEntity::Mfa { .. }) if arn.account == account.id() => {
            mfa_key(account, serial).ok_or_else(|| device_not_found(serial))
        }
        _ => Err(device_not_found(serial)),
    }
}

/// A two-code input, validated under the field names of `EnableMFADevice`.
fn two_codes(serial: &str, code1: &str, code2: &str) -> Result<(u32, u32)> {
    for (field, code) in [("authenticationCode1", code1), ("authenticationCode2", code2)] {
        validate_mfa_code(code).map_err(|mut e| {
            e.field = field;
            e
        })?;
    }
    match (parse_code(code1), parse_code(code2)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(invalid_code(serial)),
    }
}

/// `DeactivateMFADevice` of a device the user does not have.
fn not_enabled(serial: &str, user: &str) -> Error {
    Error::no_such_entity(format!("MFA device with serial number {serial} is not enabled for user {user}."))
}

impl<S: Store> Identity<S> {
    /// `CreateVirtualMFADevice`: a new unassigned device; names are unique in the account without
    /// regard to case or path.
    pub async fn create_virtual_mfa_device(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<CreatedMfaDevice> {
        validate_device_name(name)?;
        let path = path_or_root(path)?;
        let tags = tags::new_tags(tags, "TagsPerVirtualMFADevice")?;
        let serial =
            Arn::iam("aws", account.id(), &IamEntity::Mfa { path: path.clone(), name: name.to_owned() }).to_string();
        let (seed, sealed) = self.env.random.with(|r| {
            let seed = TotpSeed::generate(r);
            let sealed = self.env.master_key.seal(seed.as_bytes(), seal_aad(&serial).as_bytes(), r);
            (seed, sealed)
        });
        let sealed = sealed.map_err(|_| internal("cannot seal the seed"))?;
        let qr = qr_png(&otpauth_uri(account.id(), name, &seed)).map_err(|_| internal("cannot draw the QR code"))?;
        let device = MfaDeviceRecord {
            name: name.to_owned(),
            path,
            serial: serial.clone(),
            sealed_seed: sealed,
            create_date: self.env.now_millis(),
            user: None,
            enable_date: None,
            last_counter: None,
            tags,
        };
        let key = iam::named(account.ns(), iam::MFA, name);
        let (device, key) = (&device, &key);
        update(&*self.store, |tx| async move {
            if tx.read::<MfaDeviceRecord>(key).await?.is_some() {
                return Err(Error::already_exists("MFADevice entity at the same path and name already exists."));
            }
            tx.write(key.clone(), device);
            Ok::<_, Error>(())
        })
        .await?;
        Ok(CreatedMfaDevice { device: device.clone(), base32_seed: Secret::new(seed.to_base32()), qr_png: qr })
    }

    /// The device and its opened seed, read outside any transaction (the slow part of a check).
    async fn device_and_seed(&self, account: &Account, serial: &str) -> Result<(MfaDeviceRecord, TotpSeed)> {
        let key = device_key(account, serial)?;
        let device: MfaDeviceRecord = iam::load(&*self.store, &key)
            .await?
            .filter(|d| names(d, serial))
            .ok_or_else(|| device_not_found(serial))?;
        let bytes =
            self.env.master_key.open(&device.sealed_seed, seal_aad(&device.serial).as_bytes()).map_err(|error| {
                tracing::error!(%error, serial = %device.serial, "cannot open a sealed MFA seed");
                internal("cannot open the seed")
            })?;
        let seed = TotpSeed::from_bytes(&bytes).map_err(|_| internal("the stored seed is malformed"))?;
        Ok((device, seed))
    }

    fn unix_secs(&self) -> u64 {
        self.env.now_millis() / 1000
    }

    /// Counts an attempt to prove a code of `device` before the code is checked, or refuses it while
    /// the device is locked. The check and the count are one transaction, so at most
    /// [`MFA_MAX_FAILURES`] codes are ever checked per lock period, however many arrive at once; an
    /// attempt that cannot be counted (contention, a store failure) is refused unchecked.
    async fn count_attempt(&self, account: &Account, device: &MfaDeviceRecord) -> Result<()> {
        let key = lockout_key(account, &device.name);
        let now = self.env.now_millis();
        let (key, serial) = (&key, device.serial.as_str());
        let record = update(&*self.store, |tx| async move {
            let mut record: MfaLockoutRecord = tx.read(key).await?.unwrap_or_default();
            if let Some(until) = record.locked_until.filter(|&until| until > now) {
                return Err(locked(serial, until, now));
            }
            if record.failures >= MFA_MAX_FAILURES {
                // The lock has passed: a fresh allowance, but the next lock is longer.
                record.failures = 0;
                record.locked_until = None;
            }
            record.failures += 1;
            if record.failures >= MFA_MAX_FAILURES {
                record.lockouts = record.lockouts.saturating_add(1);
                record.locked_until = Some(now.saturating_add(mfa_lock_period(record.lockouts)));
            }
            tx.write(key.clone(), &record);
            Ok::<_, Error>(record)
        })
        .await;
        match &record {
            Ok(MfaLockoutRecord { lockouts, locked_until: Some(until), .. }) => {
                tessera_telemetry::metrics().mfa_lockout();
                tracing::warn!(
                    serial,
                    lockouts,
                    locked_for_secs = until.saturating_sub(now) / 1000,
                    "mfa device locked after too many unproven codes"
                );
            }
            Err(Error::Mfa(_)) => tracing::info!(serial, "mfa code refused: the device is locked"),
            _ => {}
        }
        record.map(drop)
    }

    /// Checks two consecutive codes newer than anything the device accepted before, returning the
    /// counter of the second.
    fn check_two_codes(
        &self,
        device: &MfaDeviceRecord,
        seed: &TotpSeed,
        codes: (u32, u32),
        window: u64,
    ) -> Result<u64> {
        let invalid = || invalid_code(&device.serial);
        let last = verify_consecutive(seed, codes.0, codes.1, self.unix_secs(), window).ok_or_else(invalid)?;
        if device.last_counter.is_some_and(|used| last.saturating_sub(1) <= used) {
            return Err(invalid());
        }
        Ok(last)
    }

    /// `EnableMFADevice`: assigns an unassigned device to a user, proven by two consecutive codes.
    pub async fn enable_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let codes = two_codes(serial, code1, code2)?;
        // The empty name is no user (the root's device is enabled by `enable_root_mfa_device`).
        self.get_user(account, user_name).await?;
        self.enable(account, Some(user_name), serial, codes).await
    }

    /// The console's "Assign MFA device" for the account root, which AWS offers only there: the
    /// root's device ([`root_mfa_serial`], made by [`Self::create_root_mfa_device`]) is assigned
    /// to the root, proven by two consecutive codes as `EnableMFADevice` proves a user's.
    pub async fn enable_root_mfa_device(
        &self,
        account: &Account,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let codes = two_codes(serial, code1, code2)?;
        if !serial.eq_ignore_ascii_case(&root_mfa_serial(account)) {
            return Err(device_not_found(serial));
        }
        self.enable(account, None, serial, codes).await
    }

    /// Assigns `serial` to `user_name`, or to the root (`None`), once its codes are proven.
    async fn enable(&self, account: &Account, user_name: Option<&str>, serial: &str, codes: (u32, u32)) -> Result<()> {
        let (device, seed) = self.device_and_seed(account, serial).await?;
        if device.user.is_some() {
            return Err(Error::already_exists(format!("MFA device {serial} is already in use.")));
        }
        self.count_attempt(account, &device).await?;
        let counter = self.check_two_codes(&device, &seed, codes, ENABLE_WINDOW)?;
        let now = self.env.now_millis();
        let key = device_key(account, serial)?;
        let lockout = lockout_key(account, &device.name);
        let (key, lockout, verified) = (&key, &lockout, &device.sealed_seed);
        update(&*self.store, |tx| async move {
            let mut device: MfaDeviceRecord =
                tx.read(key).await?.filter(|d| names(d, serial)).ok_or_else(|| device_not_found(serial))?;
            // The device was recreated (another seed) or used meanwhile: the codes prove nothing now.
            if device.sealed_seed != *verified
                || device.last_counter.is_some_and(|used| counter.saturating_sub(1) <= used)
            {
                return Err(invalid_code(&device.serial));
            }
            if device.user.is_some() {
                return Err(Error::already_exists(format!("MFA device {serial} is already in use.")));
            }
            match user_name {
                Some(user_name) => {
                    let mut user = entity::read_user(&tx, account, user_name).await?;
                    if user.mfa_devices.len() >= MAX_MFA_DEVICES_PER_USER {
                        return Err(Error::quota("MFADevicesPerUser", MAX_MFA_DEVICES_PER_USER));
                    }
                    user.mfa_devices.push(device.serial.clone());
                    device.user = Some(user.principal.name.clone());
                    entity::write(&tx, account, &AnyEntity::User(user));
                }
                None => device.user = Some(ROOT_OWNER.to_owned()),
            }
            device.enable_date = Some(now);
            device.last_counter = Some(counter);
            tx.write(key.clone(), &device);
            tx.delete(lockout.clone());
            Ok(())
        })
        .await
    }

    /// The console's first step of "Assign MFA device" for the root: a new device named
    /// [`ROOT_MFA_DEVICE_NAME`] (its seed shown once). An unassigned device of that name (an
    /// assignment left unfinished) is replaced, as the root could delete it anyway; one in use is
    /// `EntityAlreadyExists`.
    pub async fn create_root_mfa_device(&self, account: &Account) -> Result<CreatedMfaDevice> {
        let serial = root_mfa_serial(account);
        match self.delete_virtual_mfa_device(account, &serial).await {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::NoSuchEntity => {}
            Err(e) if e.code() == ErrorCode::DeleteConflict => {
                return Err(Error::already_exists(format!("MFA device {serial} is already in use.")));
            }
            Err(e) => return Err(e),
        }
        self.create_virtual_mfa_device(account, None, ROOT_MFA_DEVICE_NAME, Vec::new()).await
    }

    /// The account root's device when one is assigned to it.
    pub async fn root_mfa_device(&self, account: &Account) -> Result<Option<MfaDeviceRecord>> {
        let key = iam::named(account.ns(), iam::MFA, ROOT_MFA_DEVICE_NAME);
        Ok(iam::load::<S, MfaDeviceRecord>(&*self.store, &key).await?.filter(assigned_to_root))
    }

    /// `ResyncMFADevice`: re-proves a device of the user with two consecutive codes within a wide
    /// window, moving its replay counter forward.
    pub async fn resync_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let codes = two_codes(serial, code1, code2)?;
        let user = self.get_user(account, user_name).await?;
        let (device, seed) = self.device_and_seed(account, serial).await?;
        if device.user.as_deref().is_none_or(|u| iam::folded(u) != iam::folded(&user.principal.name)) {
            return Err(device_not_found(serial));
        }
        self.count_attempt(account, &device).await?;
        let counter = self.check_two_codes(&device, &seed, codes, RESYNC_WINDOW)?;
        let key = device_key(account, serial)?;
        let lockout = lockout_key(account, &device.name);
        let (key, lockout, verified) = (&key, &lockout, &device.sealed_seed);
        update(&*self.store, |tx| async move {
            let mut device: MfaDeviceRecord =
                tx.read(key).await?.filter(|d| names(d, serial)).ok_or_else(|| device_not_found(serial))?;
            if device.sealed_seed != *verified
                || device.last_counter.is_some_and(|used| counter.saturating_sub(1) <= used)
            {
                return Err(invalid_code(&device.serial));
            }
            device.last_counter = Some(counter);
            tx.write(key.clone(), &device);
            tx.delete(lockout.clone());
            Ok(())
        })
        .await
    }

    /// `DeactivateMFADevice`: unassigns the device from the user (the device itself remains, and
    /// keeps its replay counter).
    /// An empty `user_name` is the account root acting on itself: its device (assigned in the
    /// console) is unassigned.
    pub async fn deactivate_mfa_device(&self, account: &Account, user_name: &str, serial: &str) -> Result<()> {
        let key = device_key(account, serial)?;
        let key = &key;
        if user_name.is_empty() {
            return update(&*self.store, |tx| async move {
                let mut device = tx
                    .read::<MfaDeviceRecord>(key)
                    .await?
                    .filter(|d| names(d, serial) && assigned_to_root(d))
                    .ok_or_else(|| not_enabled(serial, "root"))?;
                device.user = None;
                device.enable_date = None;
                tx.write(key.clone(), &device);
                Ok(())
            })
            .await;
        }
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let before = user.mfa_devices.len();
            user.mfa_devices.retain(|s| !s.eq_ignore_ascii_case(serial));
            if user.mfa_devices.len() == before {
                return Err(not_enabled(serial, &user.principal.name));
            }
            if let Some(mut device) = tx.read::<MfaDeviceRecord>(key).await? {
                device.user = None;
                device.enable_date = None;
                tx.write(key.clone(), &device);
            }
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(())
        })
        .await
    }

    /// `DeleteVirtualMFADevice`: only once it is deactivated. Its lock goes with it (a device
    /// created later under the name has another seed).
    pub async fn delete_virtual_mfa_device(&self, account: &Account, serial: &str) -> Result<()> {
        let key = device_key(account, serial)?;
        let key = &key;
        update(&*self.store, |tx| async move {
            let device: MfaDeviceRecord =
                tx.read(key).await?.filter(|d| names(d, serial)).ok_or_else(|| device_not_found(serial))?;
            if device.user.is_some() {
                return Err(Error::delete_conflict("MFA device is still in use."));
            }
            tx.delete(key.clone());
            tx.delete(lockout_key(account, &device.name));
            Ok(())
        })
        .await
    }

    /// `ListMFADevices`: the devices enabled for a user, by serial; the empty name is the
    /// account root (its one device, when assigned).
    pub async fn list_mfa_devices(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>> {
        if user_name.is_empty() {
            let devices = self.root_mfa_device(account).await?.into_iter().collect();
            return paginate(devices, page, |d| d.serial.clone());
        }
        let user = self.get_user(account, user_name).await?;
        let mut devices = Vec::with_capacity(user.mfa_devices.len());
        for serial in &user.mfa_devices {
            let Some(key) = mfa_key(account, serial) else { continue };
            if let Some(device) = iam::load::<S, MfaDeviceRecord>(&*self.store, &key).await? {
                devices.push(device);
            }
        }
        devices.sort_by(|a, b| a.serial.cmp(&b.serial));
        paginate(devices, page, |d| d.serial.clone())
    }

    /// `ListVirtualMFADevices`, by folded name.
    pub async fn list_virtual_mfa_devices(
        &self,
        account: &Account,
        status: AssignmentStatus,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>> {
        let devices = iam::scan_all::<S, MfaDeviceRecord>(&*self.store, account.ns()).await?;
        let devices = devices
            .into_iter()
            .filter(|(_, d)| match status {
                AssignmentStatus::Assigned => d.user.is_some(),
                AssignmentStatus::Unassigned => d.user.is_none(),
                AssignmentStatus::Any => true,
            })
            .collect();
        Ok(paginate(devices, page, |(k, _)| k.clone())?.map(|(_, d)| d))
    }

    /// A sign-in check for STS (`SerialNumber` + `TokenCode`), and the one place a sign-in code is
    /// checked: `Ok(true)` when `code` is a fresh code of an assigned device; `Ok(false)` when there
    /// is no device to check it against (unknown or unassigned device, malformed code), which counts
    /// nothing. Otherwise the attempt is counted against the device and refused with STS's
    /// `AccessDenied` as an [`Error::Mfa`]: a wrong code, a replayed one (each code is accepted once:
    /// the device remembers the last counter used), or any code while the device is locked.
    #[tracing::instrument(name = "identity.verify_mfa_code", skip_all)]
    pub async fn verify_mfa_code(&self, account: &Account, serial: &str, code: &str) -> Result<bool> {
        let Some(code) = parse_code(code) else { return Ok(false) };
        let (device, seed) = match self.device_and_seed(account, serial).await {
            Ok(found) => found,
            Err(error) if matches!(error.code(), ErrorCode::NoSuchEntity | ErrorCode::ValidationError) => {
                return Ok(false);
            }
            Err(error) => return Err(error),
        };
        if device.user.is_none() {
            return Ok(false);
        }
        self.count_attempt(account, &device).await?;
        let wrong =
            || Error::mfa(&device.serial, MfaFailure::InvalidCode, ErrorCode::AccessDenied, SIGN_IN_INVALID_CODE);
        let Some(counter) = verify_code(&seed, code, self.unix_secs(), SIGN_IN_WINDOW, device.last_counter) else {
            return Err(wrong());
        };
        let key = device_key(account, serial)?;
        let lockout = lockout_key(account, &device.name);
        let (key, lockout, verified) = (&key, &lockout, &device.sealed_seed);
        let accepted = update(&*self.store, |tx| async move {
            let Some(mut device) = tx.read::<MfaDeviceRecord>(key).await? else { return Ok(false) };
            if device.sealed_seed != *verified
                || device.user.is_none()
                || device.last_counter.is_some_and(|used| counter <= used)
            {
                return Ok(false);
            }
            device.last_counter = Some(counter);
            tx.write(key.clone(), &device);
            tx.delete(lockout.clone());
            Ok::<_, Error>(true)
        })
        .await?;
        if accepted { Ok(true) } else { Err(wrong()) }
    }
}

// Issue 14, part A.
impl<S: Store> Identity<S> {
    /// `GetMFADevice`: the device, its user and when it was enabled. With `user_name`, the
    /// device must be enabled for that user.
    pub async fn get_mfa_device(
        &self,
        account: &Account,
        serial: &str,
        user_name: Option<&str>,
    ) -> Result<MfaDeviceRecord> {
        validate_mfa_serial(serial)?;
        if let Some(name) = user_name {
            let user = self.get_user(account, name).await?;
            if !user.mfa_devices.iter().any(|s| s.eq_ignore_ascii_case(serial)) {
                return Err(device_not_found(serial));
            }
        }
        let key = device_key(account, serial)?;
        iam::load::<S, MfaDeviceRecord>(&*self.store, &key)
            .await?
            .filter(|d| names(d, serial))
            .ok_or_else(|| device_not_found(serial))
    }
}

#[cfg(test)]
mod tests {
    use tessera_credentials::{format_code, hotp, step};

    use super::*;
    use crate::account::testing::{Fixture, fixture};

    async fn device(f: &Fixture, name: &str) -> (String, TotpSeed) {
        let created = f.identity.create_virtual_mfa_device(&f.account, None, name, Vec::new()).await.unwrap();
        let seed = TotpSeed::from_base32(created.base32_seed.expose()).unwrap();
        (created.device.serial, seed)
    }

    /// The codes of the previous and the current step, as a user types them.
    fn pair(f: &Fixture, seed: &TotpSeed) -> (String, String) {
        let now = step(f.clock.unix_secs());
        (format_code(hotp(seed, now - 1)), format_code(hotp(seed, now)))
    }

    #[tokio::test]
    async fn create_gives_the_seed_once_and_names_are_unique() {
        let f = fixture();
        let created =
            f.identity.create_virtual_mfa_device(&f.account, Some("/team/".into()), "Phone", Vec::new()).await.unwrap();
        assert_eq!(created.device.serial, "arn:aws:iam::123456789012:mfa/team/Phone");
        assert!(created.qr_png.starts_with(b"\x89PNG"));
        assert_eq!(created.base32_seed.len(), 32);
        let shown = format!("{created:?}");
        assert!(!shown.contains(created.base32_seed.expose()) && !shown.contains(&created.device.sealed_seed));

        let err = f.identity.create_virtual_mfa_device(&f.account, None, "phone", Vec::new()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::EntityAlreadyExists);
        let err = f.identity.create_virtual_mfa_device(&f.account, None, "bad name", Vec::new()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
    }

    #[tokio::test]
    async fn enable_with_consecutive_codes_and_reject_the_rest() {
        let f = fixture();
        f.user("alice").await;
        f.user("bob").await;
        let (serial, seed) = device(&f, "phone").await;
        let (c1, c2) = pair(&f, &seed);

        // Wrong order, wrong digits, malformed codes.
        let err = f
            .identity
            .enable_mfa_device(&f.account, "alice", &serial, &c2, &c1)
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.code, ErrorCode::InvalidAuthenticationCode);
        assert_eq!(err.message, "Authentication code for device is not valid.");
        let wrong = format_code((c1.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(
            f.identity.enable_mfa_device(&f.account, "alice", &serial, &wrong, &c2).await.unwrap_err().code(),
            ErrorCode::InvalidAuthenticationCode
        );
        assert_eq!(
            f.identity.enable_mfa_device(&f.account, "alice", &serial, "12345", &c2).await.unwrap_err().code(),
            ErrorCode::ValidationError
        );
        assert_eq!(
            f.identity.enable_mfa_device(&f.account, "nobody", &serial, &c1, &c2).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );

        f.identity.enable_mfa_device(&f.account, "alice", &serial, &c1, &c2).await.unwrap();
        let listed = f.identity.list_mfa_devices(&f.account, "alice", &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].user.as_deref(), Some("alice"));
        assert!(listed.items[0].enable_date.is_some());

        // Already assigned, to anyone.
        let err = f.identity.enable_mfa_device(&f.account, "bob", &serial, &c1, &c2).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::EntityAlreadyExists);

        // In use: neither the user nor the device can be deleted.
        assert_eq!(
            f.identity.delete_virtual_mfa_device(&f.account, &serial).await.unwrap_err().code(),
            ErrorCode::DeleteConflict
        );
        assert_eq!(f.identity.delete_user(&f.account, "alice").await.unwrap_err().code(), ErrorCode::DeleteConflict);

        let assigned = f
            .identity
            .list_virtual_mfa_devices(&f.account, AssignmentStatus::Assigned, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(assigned.items.len(), 1);
        let unassigned = f
            .identity
            .list_virtual_mfa_devices(&f.account, AssignmentStatus::Unassigned, &PageRequest::default())
            .await
            .unwrap();
        assert!(unassigned.items.is_empty());

        f.identity.deactivate_mfa_device(&f.account, "alice", &serial).await.unwrap();
        assert_eq!(
            f.identity.deactivate_mfa_device(&f.account, "alice", &serial).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        // The codes that enabled it cannot enable it again (they are spent).
        assert_eq!(
            f.identity.enable_mfa_device(&f.account, "bob", &serial, &c1, &c2).await.unwrap_err().code(),
            ErrorCode::InvalidAuthenticationCode
        );
        f.identity.delete_virtual_mfa_device(&f.account, &serial).await.unwrap();
        assert_eq!(
            f.identity.delete_virtual_mfa_device(&f.account, &serial).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        f.identity.delete_user(&f.account, "alice").await.unwrap();
    }

    #[tokio::test]
    async fn sign_in_codes_are_accepted_once() {
        let f = fixture();
        f.user("alice").await;
        let (serial, seed) = device(&f, "phone").await;
        let now = step(f.clock.unix_secs());
        // Unassigned devices authenticate nothing.
        assert!(!f.identity.verify_mfa_code(&f.account, &serial, &format_code(hotp(&seed, now))).await.unwrap());
        let (c1, c2) = pair(&f, &seed);
        f.identity.enable_mfa_device(&f.account, "alice", &serial, &c1, &c2).await.unwrap();
        // The enabling code itself is spent: refused as STS refuses a wrong code, for the audit
        // trail a rejection of this device.
        let spent = f.identity.verify_mfa_code(&f.account, &serial, &c2).await.unwrap_err();
        let rejection = spent.mfa_rejection().expect("an MFA rejection").clone();
        assert_eq!((rejection.serial.as_str(), rejection.failure), (serial.as_str(), MfaFailure::InvalidCode));
        assert_eq!(rejection.error.code, ErrorCode::AccessDenied);
        assert_eq!(rejection.error.message, SIGN_IN_INVALID_CODE);

        f.clock.advance(std::time::Duration::from_secs(30));
        let next = format_code(hotp(&seed, now + 1));
        assert!(f.identity.verify_mfa_code(&f.account, &serial, &next).await.unwrap());
        let replay = f.identity.verify_mfa_code(&f.account, &serial, &next).await.unwrap_err();
        assert_eq!(replay.mfa_rejection().map(|r| r.failure), Some(MfaFailure::InvalidCode), "replay");
        assert!(!f.identity.verify_mfa_code(&f.account, &serial, "abc").await.unwrap());
        assert!(!f.identity.verify_mfa_code(&f.account, "arn:aws:iam::123456789012:mfa/none", &next).await.unwrap());
        assert!(!f.identity.verify_mfa_code(&f.account, "arn:aws:iam::999999999999:mfa/phone", &next).await.unwrap());

        // Resync with the next two codes (a minute later).
        f.clock.advance(std::time::Duration::from_secs(60));
        let (r1, r2) = pair(&f, &seed);
        f.identity.resync_mfa_device(&f.account, "alice", &serial, &r1, &r2).await.unwrap();
        assert_eq!(
            f.identity.resync_mfa_device(&f.account, "alice", &serial, &r1, &r2).await.unwrap_err().code(),
            ErrorCode::InvalidAuthenticationCode
        );
        f.user("bob").await;
        assert_eq!(
            f.identity.resync_mfa_device(&f.account, "bob", &serial, &r1, &r2).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
    }

    /// The root's device: made and enabled only by its own calls (never `EnableMFADevice` with
    /// an empty user), then listed, counted, reported, checked at sign-in and deactivated as the
    /// root's.
    #[tokio::test]
    async fn the_root_has_one_device_of_its_own() {
        let f = fixture();
        let serial = root_mfa_serial(&f.account);
        assert_eq!(serial, "arn:aws:iam::123456789012:mfa/root-account-mfa-device");
        let created = f.identity.create_root_mfa_device(&f.account).await.unwrap();
        assert_eq!(created.device.serial, serial);
        // An unfinished assignment is replaced (another seed).
        let created = f.identity.create_root_mfa_device(&f.account).await.unwrap();
        let seed = TotpSeed::from_base32(created.base32_seed.expose()).unwrap();
        let (c1, c2) = pair(&f, &seed);
        assert_eq!(
            f.identity.enable_mfa_device(&f.account, "", &serial, &c1, &c2).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity,
            "EnableMFADevice takes a user"
        );
        let (other, other_seed) = device(&f, "other").await;
        let (o1, o2) = pair(&f, &other_seed);
        assert_eq!(
            f.identity.enable_root_mfa_device(&f.account, &other, &o1, &o2).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity,
            "only the root's own device"
        );
        assert!(f.identity.root_mfa_device(&f.account).await.unwrap().is_none());
        let page = PageRequest::default();
        assert!(f.identity.list_mfa_devices(&f.account, "", &page).await.unwrap().items.is_empty());
        assert_eq!(f.identity.get_account_summary(&f.account).await.unwrap()["AccountMFAEnabled"], 0);

        f.identity.enable_root_mfa_device(&f.account, &serial, &c1, &c2).await.unwrap();
        let listed = f.identity.list_mfa_devices(&f.account, "", &page).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert!(assigned_to_root(&listed.items[0]) && listed.items[0].enable_date.is_some());
        let assigned = f.identity.list_virtual_mfa_devices(&f.account, AssignmentStatus::Assigned, &page).await;
        assert_eq!(assigned.unwrap().items.iter().map(|d| d.serial.as_str()).collect::<Vec<_>>(), [serial.as_str()]);
        assert_eq!(f.identity.get_account_summary(&f.account).await.unwrap()["AccountMFAEnabled"], 1);
        f.identity.generate_credential_report(&f.account).await.unwrap();
        let report = f.identity.get_credential_report(&f.account).await.unwrap().csv;
        let root_row = report.lines().find(|l| l.starts_with("<root_account>,")).unwrap();
        assert_eq!(root_row.split(',').nth(7), Some("true"), "{root_row}");
        assert_eq!(
            f.identity.create_root_mfa_device(&f.account).await.unwrap_err().code(),
            ErrorCode::EntityAlreadyExists
        );
        assert_eq!(
            f.identity.delete_virtual_mfa_device(&f.account, &serial).await.unwrap_err().code(),
            ErrorCode::DeleteConflict
        );
        f.clock.advance(std::time::Duration::from_secs(30));
        let next = format_code(hotp(&seed, step(f.clock.unix_secs())));
        assert!(f.identity.verify_mfa_code(&f.account, &serial, &next).await.unwrap());

        // A user's device is not the root's to deactivate, nor the root's a user's.
        f.user("alice").await;
        assert_eq!(
            f.identity.deactivate_mfa_device(&f.account, "", &other).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        assert_eq!(
            f.identity.deactivate_mfa_device(&f.account, "alice", &serial).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        f.identity.deactivate_mfa_device(&f.account, "", &serial).await.unwrap();
        assert!(f.identity.root_mfa_device(&f.account).await.unwrap().is_none());
        assert_eq!(f.identity.get_account_summary(&f.account).await.unwrap()["AccountMFAEnabled"], 0);
        assert_eq!(
            f.identity.deactivate_mfa_device(&f.account, "", &serial).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        f.identity.delete_virtual_mfa_device(&f.account, &serial).await.unwrap();
    }

    #[test]
    fn lock_periods_double_up_to_the_cap() {
        let periods: Vec<Millis> = (1..=8).map(mfa_lock_period).collect();
        assert_eq!(periods[..6], [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000]);
        assert_eq!(periods[6..], [MAX_LOCK_MILLIS, MAX_LOCK_MILLIS]);
        assert_eq!(mfa_lock_period(u32::MAX), MAX_LOCK_MILLIS);
        assert_eq!(mfa_lock_period(0), FIRST_LOCK_MILLIS);
    }

    #[tokio::test]
    async fn at_most_eight_devices_per_user() {
        let f = fixture();
        f.user("alice").await;
        for i in 0..=MAX_MFA_DEVICES_PER_USER {
            let (serial, seed) = device(&f, &format!("d{i}")).await;
            let (c1, c2) = pair(&f, &seed);
            let result = f.identity.enable_mfa_device(&f.account, "alice", &serial, &c1, &c2).await;
            if i < MAX_MFA_DEVICES_PER_USER {
                result.unwrap();
            } else {
                let err = result.unwrap_err().into_service_error();
                assert_eq!(err.message, "Cannot exceed quota for MFADevicesPerUser: 8");
            }
        }
    }
}
