//! Where codes are hashed: argon2id keyed with the server secret (argon2's
//! "secret" input, a pepper). A stolen database alone cannot be brute-forced
//! offline, which is why the work factor may be small (see README).

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::domain::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self { memory_kib: 8 * 1024, iterations: 1, parallelism: 1 }
    }
}

/// Why hashing did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every permit stayed taken for the whole `max_wait`: the person is
    /// told to try again in a few seconds, as with a full delivery queue.
    #[error("hashing queue full")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct CodeHasher {
    secret: Arc<[u8]>,
    params: Params,
    /// Each hash holds `memory_kib` of RAM; this caps how many run at once so
    /// a flood of requests queues instead of exhausting memory.
    permits: Arc<Semaphore>,
    /// Longest a request waits for a permit: the queue is bounded in time.
    max_wait: Duration,
    /// Verifying against this when there is nothing to verify keeps the work
    /// (and so the timing) the same.
    dummy: Arc<str>,
}

impl CodeHasher {
    pub fn new(secret: &[u8], params: HashParams, max_in_flight: usize, max_wait: Duration) -> anyhow::Result<Self> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let secret: Arc<[u8]> = secret.into();
        let mut hasher = Self {
            secret,
            params,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            max_wait,
            dummy: Arc::from(""),
        };
        hasher.dummy = Arc::from(hasher.hash_blocking("000000")?);
        Ok(hasher)
    }

    fn argon2(&self) -> anyhow::Result<Argon2<'_>> {
        Argon2::new_with_secret(&self.secret, Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .map_err(|e| anyhow::anyhow!("argon2 rejected the server secret: {e}"))
    }

    fn hash_blocking(&self, code: &str) -> anyhow::Result<String> {
        let mut salt_bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt encoding failed: {e}"))?;
        let hash = self
            .argon2()?
            .hash_password(code.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
        Ok(hash.to_string())
    }

    fn verify_blocking(&self, code: &str, phc: &str) -> anyhow::Result<bool> {
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        // argon2's verify compares in constant time.
        match self.argon2()?.verify_password(code.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("argon2 verification failed: {e}")),
        }
    }

    /// A turn at hashing, waited for at most `max_wait`. Callers take it
    /// before they spend anything (a send from the address's allowance, an
    /// attempt from the code's), so a "busy" answer costs the person nothing.
    pub async fn slot(&self) -> Result<HashSlot<'_>, HashError> {
        match tokio::time::timeout(self.max_wait, self.permits.acquire()).await {
            Ok(permit) => Ok(HashSlot(permit.context("hash pool closed")?)),
            Err(_) => Err(HashError::Busy),
        }
    }

    pub async fn hash(&self, _slot: HashSlot<'_>, code: &Code) -> Result<String, HashError> {
        let this = self.clone();
        let code = code.expose().to_owned();
        Ok(spawn_blocking_in_span(move || this.hash_blocking(&code)).await?)
    }

    /// `None` means "nothing stored": the same work is done and `false` comes back.
    pub async fn verify(&self, _slot: HashSlot<'_>, code: &Code, phc: Option<&str>) -> Result<bool, HashError> {
        let this = self.clone();
        let code = code.expose().to_owned();
        let target = phc.map(str::to_owned);
        Ok(spawn_blocking_in_span(move || match target {
            Some(phc) => this.verify_blocking(&code, &phc),
            None => this.verify_blocking(&code, &this.dummy).map(|_| false),
        })
        .await?)
    }
}

/// One of the `max_in_flight` turns at hashing, held until the hash is done.
pub struct HashSlot<'a>(#[allow(dead_code)] tokio::sync::SemaphorePermit<'a>);

async fn spawn_blocking_in_span<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await.context("hashing task panicked")?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodePolicy;

    fn hasher(secret: &[u8]) -> CodeHasher {
        CodeHasher::new(
            secret,
            HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 },
            2,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_after_the_longest_wait() {
        let h = CodeHasher::new(
            &[7; 32],
            HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 },
            1,
            Duration::from_millis(50),
        )
        .unwrap();
        let code = Code::parse("123456", &CodePolicy::default()).unwrap();
        let held = h.permits.acquire().await.unwrap();
        // Bounded here too, so an unbounded queue fails the test instead of
        // hanging it.
        let outcome = tokio::time::timeout(Duration::from_secs(10), h.slot()).await;
        assert!(matches!(outcome, Ok(Err(HashError::Busy))), "{:?}", outcome.map(|r| r.err()));
        drop(held);
        let slot = h.slot().await.expect("a free turn is taken at once");
        assert!(h.hash(slot, &code).await.is_ok());
    }

    #[tokio::test]
    async fn right_code_verifies_and_wrong_does_not() {
        let h = hasher(&[7; 32]);
        let p = CodePolicy::default();
        let code = Code::parse("123456", &p).unwrap();
        let phc = h.hash(h.slot().await.unwrap(), &code).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(!phc.contains("123456"));
        assert!(h.verify(h.slot().await.unwrap(), &code, Some(&phc)).await.unwrap());
        let wrong = Code::parse("123457", &p).unwrap();
        assert!(!h.verify(h.slot().await.unwrap(), &wrong, Some(&phc)).await.unwrap());
        assert!(!h.verify(h.slot().await.unwrap(), &code, None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_keyed_by_the_server_secret() {
        let code = Code::parse("123456", &CodePolicy::default()).unwrap();
        let (one, two) = (hasher(&[1; 32]), hasher(&[2; 32]));
        let phc = one.hash(one.slot().await.unwrap(), &code).await.unwrap();
        assert!(!two.verify(two.slot().await.unwrap(), &code, Some(&phc)).await.unwrap());
    }
}
