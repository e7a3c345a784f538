//! The operating system's random number generator behind the workspace's [`RandomSource`] trait.
//!
//! Every function of this crate that needs randomness takes a [`RandomSource`] (the trait of
//! `tessera-arn`), so tests pass a fixed generator such as [`SeededRandom`](tessera_arn::SeededRandom).
//! Services pass a [`SystemRng`]. ring's own `SecureRandom` trait is sealed in ring 0.17, so it cannot
//! be implemented by a test generator and is not used in signatures.

use ring::rand::SecureRandom as _;
use tessera_arn::RandomSource;

use crate::RandomError;

/// The operating system's cryptographically secure generator (ring's `SystemRandom`, which calls
/// `getrandom(2)` on Linux).
///
/// Build it with [`SystemRng::new`], which draws once so that a missing or broken OS generator is
/// reported as an error at startup instead of at the first key or salt.
#[derive(Clone, Debug)]
pub struct SystemRng {
    inner: ring::rand::SystemRandom,
}

impl SystemRng {
    /// Opens the OS generator and checks that it answers.
    pub fn new() -> Result<SystemRng, RandomError> {
        let inner = ring::rand::SystemRandom::new();
        let mut probe = [0u8; 32];
        inner.fill(&mut probe).map_err(|_| RandomError)?;
        Ok(SystemRng { inner })
    }

    /// Fills `dest`, reporting a failure of the OS generator.
    pub fn try_fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.inner.fill(dest).map_err(|_| RandomError)
    }
}

impl RandomSource for SystemRng {
    /// Fills `dest` with OS randomness.
    ///
    /// [`RandomSource`] cannot report errors, and returning predictable bytes would silently
    /// produce guessable keys, salts and seeds. A generator that answered in [`SystemRng::new`]
    /// and fails later is a broken host, so this aborts the process (fail closed) rather than
    /// panicking, which a task boundary could catch and carry on from.
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.try_fill(dest).is_err() {
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_rng_fills_with_varying_bytes() {
        let mut rng = SystemRng::new().expect("the OS generator works on the test host");
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut a);
        rng.fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
