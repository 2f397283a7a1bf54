//! `leadrouter-lambda`: the one binary behind all four Lambda functions. Each function's
//! `Handler` property (`ingest`, `router`, `sweeper` or `notifier`, which Lambda passes to a
//! custom runtime as `_HANDLER`) says which function's `run` it starts; that `run` builds its
//! `Deps` once per cold start and serves its events (see each function crate).
//!
//! Why one binary and not four: each release binary is a thin-LTO link of the whole AWS SDK,
//! about 100 CPU-seconds apiece, so four links were most of a release build (for SAM, CI and
//! the benchmarks alike); the functions share nearly all their code, so the one package is
//! about a tenth larger than the largest of the four was (docs/benchmarks.md, "One Lambda
//! binary").

use lambda_runtime::Error;

/// mimalloc rather than the system allocator: a lead's decoding, normalization and routing
/// make a few hundred small allocations (docs/benchmarks.md, "Fifth round: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The handlers this binary runs, as the template's `Handler` properties name them.
const HANDLERS: &str = "ingest, router, sweeper or notifier";

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrouter_aws::env::init_json_logs();
    // An unknown handler stops the cold start with the reason in the function's init error,
    // rather than serving one function's events with another's code.
    match std::env::var("_HANDLER").as_deref() {
        Ok("ingest") => leadrouter_ingest::run().await,
        Ok("router") => leadrouter_router::run().await,
        Ok("sweeper") => leadrouter_sweeper::run().await,
        Ok("notifier") => leadrouter_notifier::run().await,
        Ok(other) => Err(format!("_HANDLER is `{other}`: expected {HANDLERS}").into()),
        Err(_) => Err(format!(
            "_HANDLER is not set: set it to {HANDLERS} (Lambda sets it from the function's Handler)"
        )
        .into()),
    }
}
