//! Measures what one code hash costs for a few argon2id settings, to choose
//! the defaults (docs/codes.md, "Argon2 parameters").
//!
//!     cargo run -p app --features ssr --release --example argon2_cost

use std::time::Instant;

use app::auth::{CodeHasher, HashParams};
use app::domain::{Code, CodePolicy};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let code = Code::generate(&CodePolicy::default());
    println!("| memory | passes | lanes | hash (median of 21) | 50 concurrent hashes |");
    println!("|---|---|---|---|---|");
    for (memory_kib, iterations) in [(1024, 1), (8 * 1024, 1), (19 * 1024, 2), (64 * 1024, 3)] {
        let params = HashParams { memory_kib, iterations, parallelism: 1 };
        let hasher = CodeHasher::new(&[42; 32], params, 4, std::time::Duration::from_secs(60))?;
        let mut times = Vec::new();
        for _ in 0..21 {
            let start = Instant::now();
            hasher.hash(hasher.slot().await?, &code).await?;
            times.push(start.elapsed());
        }
        times.sort();
        let start = Instant::now();
        let jobs: Vec<_> = (0..50)
            .map(|_| {
                let h = hasher.clone();
                let c = code.clone();
                tokio::spawn(async move { h.hash(h.slot().await?, &c).await })
            })
            .collect();
        for j in jobs {
            j.await??;
        }
        println!(
            "| {} MiB | {iterations} | 1 | {:.1} ms | {:.0} ms |",
            memory_kib / 1024,
            times[10].as_secs_f64() * 1e3,
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
