//! The `tessera-loadtest` command: parses the options, runs, prints the report (the JSON summary
//! last) on stdout; progress and error details go to stderr.

use clap::Parser;

/// The allocator of the `tessera` binary (see its `main.rs`), so the in-process server allocates
/// as the one it stands for.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let options = tessera_loadtest::Options::parse();
    // The client's runtime, on its share of the cores (`--client-threads`); the in-process
    // server's is built by `run` on the rest.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads())
        .thread_name("loadtest-client")
        .enable_all()
        .build()?
        .block_on(drive(&options))
}

async fn drive(options: &tessera_loadtest::Options) -> anyhow::Result<()> {
    let (telemetry, collector) = telemetry(options).await?;
    let report = tessera_loadtest::run(options).await?;
    print!("{}", report.render());
    if let Some(telemetry) = telemetry {
        telemetry.shutdown(std::time::Duration::from_secs(2));
    }
    if let Some(collector) = collector {
        eprintln!(
            "the in-process collector received {} spans and {} metric exports",
            collector.span_count(),
            collector.metric_exports()
        );
    }
    Ok(())
}

/// Sets up `--telemetry` for this process (the in-process server's): nothing, logs and metrics,
/// or those and OTLP export (to an in-process collector when no endpoint is given).
async fn telemetry(
    options: &tessera_loadtest::Options,
) -> anyhow::Result<(Option<tessera_telemetry::Telemetry>, Option<tessera_telemetry::collector::Collector>)> {
    use tessera_loadtest::Telemetry;
    let (otlp, collector) = match (options.telemetry, &options.otlp_endpoint) {
        (Telemetry::Off, _) => return Ok((None, None)),
        (Telemetry::On, _) => (tessera_telemetry::OtlpConfig::default(), None),
        (Telemetry::Otlp, Some(endpoint)) => (tessera_telemetry::OtlpConfig::endpoint(endpoint.clone()), None),
        (Telemetry::Otlp, None) => {
            let collector = tessera_telemetry::collector::Collector::counting().await?;
            eprintln!("exporting to an in-process OTLP collector at {}", collector.endpoint());
            (tessera_telemetry::OtlpConfig::endpoint(collector.endpoint()), Some(collector))
        }
    };
    let config = tessera_telemetry::Config { otlp, ..Default::default() };
    Ok((Some(tessera_telemetry::init(config).map_err(anyhow::Error::msg)?), collector))
}
