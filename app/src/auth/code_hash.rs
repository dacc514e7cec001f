//! Where codes are hashed: argon2id keyed with the server secret (argon2's
//! "secret" input, a pepper). A stolen database alone cannot be brute-forced
//! offline, which is why the work factor may be small (see docs/configuration.md).
//!
//! Memory is bounded by design: each of the `max_in_flight` turns at
//! hashing gets one argon2 working area, allocated the first time it is
//! needed and reused after, so the hashing memory never exceeds
//! `max_in_flight × memory_kib` however many requests come. (argon2's own
//! `hash_password` allocates and frees the area on every call; with 8 MiB
//! per hash the allocator kept hundreds of MiB under load.)

use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// 1 MiB, one pass, one lane: chosen by measurement (docs/codes.md, "Argon2
/// parameters"). The server secret, not the work factor, is what keeps a
/// six-digit code's hash from being guessed offline.
impl Default for HashParams {
    fn default() -> Self {
        Self { memory_kib: 1024, iterations: 1, parallelism: 1 }
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
    /// The working areas not in use: at most one per permit.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Longest a request waits for a permit: the queue is bounded in time.
    max_wait: Duration,
    /// Requests waiting for a permit now (for the metrics).
    waiting: Arc<AtomicUsize>,
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
            memory: Arc::new(Mutex::new(Vec::new())),
            max_wait,
            waiting: Arc::new(AtomicUsize::new(0)),
            dummy: Arc::from(""),
        };
        hasher.dummy = Arc::from(hasher.with_memory(|memory| hasher.hash_blocking("000000", memory))?);
        // Exported from the start, not from the first wait.
        crate::metrics::hash_queue(0);
        Ok(hasher)
    }

    fn argon2(&self, version: Version, params: Params) -> anyhow::Result<Argon2<'_>> {
        Argon2::new_with_secret(&self.secret, Algorithm::Argon2id, version, params)
            .map_err(|e| anyhow::anyhow!("argon2 rejected the server secret: {e}"))
    }

    /// Runs `f` with a working area of its own. Only a permit holder calls
    /// this, so there are never more areas than permits.
    fn with_memory<T>(&self, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let pooled = self.memory.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut memory = pooled.unwrap_or_else(|| vec![Block::default(); self.params.block_count()]);
        let out = f(&mut memory);
        self.memory.lock().unwrap_or_else(PoisonError::into_inner).push(memory);
        out
    }

    /// The PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) that argon2's
    /// own `hash_password` writes, so stored hashes read the same either way.
    fn hash_blocking(&self, code: &str, memory: &mut [Block]) -> anyhow::Result<String> {
        let mut salt_bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt encoding failed: {e}"))?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.argon2(Version::V0x13, self.params.clone())?
            .hash_password_into_with_memory(code.as_bytes(), &salt_bytes, &mut out, memory)
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
        let phc = PasswordHash {
            algorithm: ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
        };
        Ok(phc.to_string())
    }

    /// Checks `code` against a stored PHC string, with the parameters it was
    /// made with (so hashes made before a change of settings still verify).
    fn verify_blocking(&self, code: &str, phc: &str, memory: &mut [Block]) -> anyhow::Result<bool> {
        let malformed = |e: argon2::password_hash::Error| anyhow::anyhow!("stored hash is malformed: {e}");
        let parsed = PasswordHash::new(phc).map_err(malformed)?;
        anyhow::ensure!(parsed.algorithm == ARGON2ID_IDENT, "stored hash is not argon2id");
        let params = Params::try_from(&parsed).map_err(malformed)?;
        let version = parsed.version.map(Version::try_from).transpose().map_err(|e| anyhow::anyhow!("{e}"))?;
        let expected = parsed.hash.context("stored hash has no hash")?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt.context("stored hash has no salt")?.decode_b64(&mut salt).map_err(malformed)?;
        let mut out = vec![0u8; expected.len()];
        // A hash made with more memory than today's setting: a one-off area.
        let mut larger = Vec::new();
        let memory = if params.block_count() > memory.len() {
            larger.resize(params.block_count(), Block::default());
            &mut larger[..]
        } else {
            memory
        };
        self.argon2(version.unwrap_or(Version::V0x13), params)?
            .hash_password_into_with_memory(code.as_bytes(), salt, &mut out, memory)
            .map_err(|e| anyhow::anyhow!("argon2 verification failed: {e}"))?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out).map_err(malformed)? == expected)
    }

    /// A turn at hashing, waited for at most `max_wait`. Callers take it
    /// before they spend anything (a send from the address's allowance, an
    /// attempt from the code's), so a "busy" answer costs the person nothing.
    pub async fn slot(&self) -> Result<HashSlot, HashError> {
        // Counted for the metrics only when there is a wait: a free turn
        // costs no shared counter.
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            crate::metrics::hash_wait(Duration::ZERO);
            return Ok(HashSlot(permit));
        }
        let started = std::time::Instant::now();
        crate::metrics::hash_queue(self.waiting.fetch_add(1, Ordering::Relaxed) + 1);
        let waited = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await;
        crate::metrics::hash_queue(self.waiting.fetch_sub(1, Ordering::Relaxed).saturating_sub(1));
        crate::metrics::hash_wait(started.elapsed());
        match waited {
            Ok(permit) => Ok(HashSlot(permit.context("hash pool closed")?)),
            Err(_) => Err(HashError::Busy),
        }
    }

    pub async fn hash(&self, slot: HashSlot, code: &Code) -> Result<String, HashError> {
        let this = self.clone();
        let code = code.expose().to_owned();
        // The turn goes into the blocking task and ends with the hash, even
        // if the request that asked for it is gone by then.
        Ok(spawn_blocking_in_span(move || {
            let _turn = slot;
            this.with_memory(|memory| this.hash_blocking(&code, memory))
        })
        .await?)
    }

    /// `None` means "nothing stored": the same work is done and `false` comes back.
    pub async fn verify(&self, slot: HashSlot, code: &Code, phc: Option<&str>) -> Result<bool, HashError> {
        let this = self.clone();
        let code = code.expose().to_owned();
        let target = phc.map(str::to_owned);
        Ok(spawn_blocking_in_span(move || {
            let _turn = slot;
            this.with_memory(|memory| match target {
                Some(phc) => this.verify_blocking(&code, &phc, memory),
                None => this.verify_blocking(&code, &this.dummy, memory).map(|_| false),
            })
        })
        .await?)
    }
}

/// One of the `max_in_flight` turns at hashing, held until the hash is done.
pub struct HashSlot(#[allow(dead_code)] OwnedSemaphorePermit);

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
    async fn hashes_from_argon2s_own_api_still_verify() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let h = CodeHasher::new(
            &[7; 32],
            HashParams { memory_kib: 2048, iterations: 1, parallelism: 1 },
            2,
            Duration::from_secs(5),
        )
        .unwrap();
        let code = Code::parse("123456", &CodePolicy::default()).unwrap();
        let wrong = Code::parse("654321", &CodePolicy::default()).unwrap();
        // As stored before the working areas were reused, with less and with
        // more memory than today's setting.
        for memory_kib in [1024, 4096] {
            let params = Params::new(memory_kib, 1, 1, None).unwrap();
            let argon2 = Argon2::new_with_secret(&[7; 32], Algorithm::Argon2id, Version::V0x13, params).unwrap();
            let salt = SaltString::encode_b64(&[9; 16]).unwrap();
            let phc = argon2.hash_password(b"123456", &salt).unwrap().to_string();
            assert!(h.verify(h.slot().await.unwrap(), &code, Some(&phc)).await.unwrap(), "{phc}");
            assert!(!h.verify(h.slot().await.unwrap(), &wrong, Some(&phc)).await.unwrap(), "{phc}");
        }
        // Ours is, byte for byte, what argon2's own API writes for the same
        // salt, and its verifier accepts it.
        let ours = h.hash(h.slot().await.unwrap(), &code).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        let argon2 = Argon2::new_with_secret(&[7; 32], Algorithm::Argon2id, Version::V0x13, h.params.clone()).unwrap();
        let theirs = argon2.hash_password(b"123456", parsed.salt.unwrap()).unwrap().to_string();
        assert_eq!(ours, theirs);
        assert!(argon2.verify_password(b"123456", &parsed).is_ok());
    }

    #[tokio::test]
    async fn working_areas_are_never_more_than_the_turns() {
        let h = CodeHasher::new(
            &[7; 32],
            HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 },
            3,
            Duration::from_secs(30),
        )
        .unwrap();
        let code = Code::parse("123456", &CodePolicy::default()).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let (h, code) = (h.clone(), code.clone());
            tasks.spawn(async move {
                let phc = h.hash(h.slot().await.unwrap(), &code).await.unwrap();
                h.verify(h.slot().await.unwrap(), &code, Some(&phc)).await.unwrap()
            });
        }
        while let Some(ok) = tasks.join_next().await {
            assert!(ok.unwrap());
        }
        let areas = h.memory.lock().unwrap();
        assert!((1..=3).contains(&areas.len()), "{} areas for 3 turns", areas.len());
        assert!(areas.iter().all(|a| a.len() == 1024), "1 KiB blocks: 1024 of them for 1 MiB");
    }

    #[tokio::test]
    async fn hashes_are_keyed_by_the_server_secret() {
        let code = Code::parse("123456", &CodePolicy::default()).unwrap();
        let (one, two) = (hasher(&[1; 32]), hasher(&[2; 32]));
        let phc = one.hash(one.slot().await.unwrap(), &code).await.unwrap();
        assert!(!two.verify(two.slot().await.unwrap(), &code, Some(&phc)).await.unwrap());
    }
}
