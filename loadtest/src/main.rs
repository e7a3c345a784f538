//! The `tessera-loadtest` command: parses the options, runs, prints the report (the JSON summary
//! last) on stdout; progress and error details go to stderr.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = tessera_loadtest::Options::parse();
    let report = tessera_loadtest::run(&options).await?;
    print!("{}", report.render());
    Ok(())
}
