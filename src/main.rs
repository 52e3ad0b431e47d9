//! The walletgate binary: settings, telemetry, the application, and a clean
//! shutdown on SIGTERM / Ctrl-C.

use std::sync::Arc;

use clap::Parser;
use walletgate::clock::SystemClock;
use walletgate::error::ApiError;
use walletgate::settings::{Overrides, Settings, SettingsError};
use walletgate::startup::Application;
use walletgate::telemetry;

/// mimalloc: a request allocates many small short-lived objects (JSON,
/// records), which it serves faster than the system allocator, and with
/// less fragmentation as the stored state grows (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A configuration mistake is the operator's to fix: one line per problem
/// on stderr and exit status 2, no backtrace.
fn refuse_to_start(error: SettingsError) -> ! {
    match error {
        SettingsError::Invalid(problems) => {
            for problem in problems {
                eprintln!("walletgate: invalid setting: {problem}");
            }
        }
        SettingsError::Load(error) => eprintln!("walletgate: could not read the settings: {error}"),
    }
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let overrides = Overrides::parse();
    let settings = match Settings::load(&overrides) {
        Ok(settings) => settings,
        Err(error) => refuse_to_start(error),
    };
    telemetry::init_logging(&settings.log);
    for notice in &settings.deprecated {
        tracing::warn!("{notice}");
    }
    tracing::debug!(?settings, "settings loaded");
    let store_kind = settings.store.kind().map_err(anyhow::Error::msg)?;
    let application = Application::build(settings, Arc::new(SystemClock)).await?;
    if let Err(error) = application.load_scenario_files(&overrides.scenarios).await {
        // Like a setting, a scenario that cannot be loaded is the operator's to fix.
        match error {
            ApiError::Internal(cause) => eprintln!("walletgate: could not load a scenario: {cause:#}"),
            refused => eprintln!("walletgate: {refused}"),
        }
        std::process::exit(2)
    }
    tracing::info!(store = %store_kind, "walletgate listening on http://{}", application.address());
    application.run_until_stopped().await?;
    tracing::info!("walletgate stopped");
    Ok(())
}
