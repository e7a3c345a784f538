//! The `tessera-loadtest` command: parses the options, runs, prints the report (the JSON summary
//! last) on stdout; progress and error details go to stderr.

use clap::Parser;

/// The allocator of the `tessera` binary (see its `main.rs`), so the in-process server allocates
/// as the one it stands for.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = tessera_loadtest::Options::parse();
    let report = tessera_loadtest::run(&options).await?;
    print!("{}", report.render());
    Ok(())
}
