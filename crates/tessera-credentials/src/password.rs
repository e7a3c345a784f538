//! Password hashing with Argon2id, stored as PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
//!
//! The PHC string carries its own parameters, so [`verify_password`] checks hashes made with any
//! [`Argon2Params`], and raising the parameters later needs no migration of stored hashes.

use argon2::password_hash::{CustomizedPasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use tessera_arn::RandomSource;

use crate::PasswordError;

/// Salt length in bytes (the PHC recommendation).
pub const SALT_LEN: usize = 16;

/// The Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Argon2Params {
    /// The argon2 crate's defaults (OWASP's minimum for Argon2id): 19 MiB, 2 passes, 1 lane,
    /// about 33 ms per hash on the reference machine. Use these in services.
    pub const DEFAULT: Argon2Params =
        Argon2Params { m_cost: Params::DEFAULT_M_COST, t_cost: Params::DEFAULT_T_COST, p_cost: Params::DEFAULT_P_COST };

    /// The smallest parameters argon2 accepts (8 KiB, 1 pass, 1 lane), so tests elsewhere hash in
    /// microseconds. **Never use them for real passwords**: they offer no resistance to guessing.
    pub const FAST_FOR_TESTS: Argon2Params =
        Argon2Params { m_cost: Params::MIN_M_COST, t_cost: Params::MIN_T_COST, p_cost: Params::MIN_P_COST };
}

impl Default for Argon2Params {
    fn default() -> Argon2Params {
        Argon2Params::DEFAULT
    }
}

/// Hashes `password` with [`Argon2Params::DEFAULT`] and a salt from `rng`.
pub fn hash_password(password: &str, rng: &mut (impl RandomSource + ?Sized)) -> Result<String, PasswordError> {
    hash_password_with(password, rng, Argon2Params::DEFAULT)
}

/// Hashes `password` with `params` and a salt from `rng`, returning a PHC string.
pub fn hash_password_with(
    password: &str,
    rng: &mut (impl RandomSource + ?Sized),
    params: Argon2Params,
) -> Result<String, PasswordError> {
    let params = Params::new(params.m_cost, params.t_cost, params.p_cost, None)
        .map_err(|error| PasswordError::Params { reason: error.to_string() })?;
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let hash = Argon2::default()
        .hash_password_customized(
            password.as_bytes(),
            &salt,
            Some(Algorithm::Argon2id.ident().as_str()),
            Some(Version::V0x13.into()),
            params,
        )
        .map_err(|_| PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`.
///
/// A wrong password is `Ok(false)`; a `phc` that cannot be parsed or uses an unsupported
/// algorithm is an error. The final comparison is constant-time (done by argon2).
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(phc).map_err(|_| PasswordError::Malformed)?;
    match Argon2::default().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use tessera_arn::SeededRandom;

    use super::*;

    const FAST: Argon2Params = Argon2Params::FAST_FOR_TESTS;

    #[test]
    fn hash_then_verify() {
        let phc = hash_password_with("correct horse", &mut SeededRandom::new(1), FAST).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password("correct horse", &phc).unwrap());
        assert!(!verify_password("correct horse ", &phc).unwrap());
        assert!(!verify_password("", &phc).unwrap());
    }

    #[test]
    fn salts_come_from_the_rng() {
        let a = hash_password_with("pw", &mut SeededRandom::new(1), FAST).unwrap();
        let b = hash_password_with("pw", &mut SeededRandom::new(1), FAST).unwrap();
        let c = hash_password_with("pw", &mut SeededRandom::new(2), FAST).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(verify_password("pw", &c).unwrap());
    }

    #[test]
    fn default_params_produce_the_documented_phc_prefix() {
        assert_eq!(Argon2Params::default(), Argon2Params { m_cost: 19_456, t_cost: 2, p_cost: 1 });
        let phc = hash_password("pw", &mut SeededRandom::new(3)).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("pw", &phc).unwrap());
    }

    #[test]
    fn empty_and_unicode_passwords() {
        for password in ["", "pässwörd ✓", "\0"] {
            let phc = hash_password_with(password, &mut SeededRandom::new(4), FAST).unwrap();
            assert!(verify_password(password, &phc).unwrap(), "{password:?}");
        }
    }

    #[test]
    fn invalid_params_are_rejected() {
        let error =
            hash_password_with("pw", &mut SeededRandom::new(5), Argon2Params { m_cost: 1, t_cost: 1, p_cost: 1 })
                .unwrap_err();
        assert!(matches!(error, PasswordError::Params { .. }), "{error:?}");
        let error =
            hash_password_with("pw", &mut SeededRandom::new(5), Argon2Params { t_cost: 0, ..FAST }).unwrap_err();
        assert!(matches!(error, PasswordError::Params { .. }), "{error:?}");
    }

    #[test]
    fn malformed_hashes_are_errors() {
        let phc = hash_password_with("pw", &mut SeededRandom::new(6), FAST).unwrap();
        for bad in
            ["", "plaintext", "$argon2id$", "$unknown$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", &phc[..phc.len() / 2]]
        {
            assert!(matches!(verify_password("pw", bad), Err(PasswordError::Malformed)), "{bad:?}");
        }
    }
}
