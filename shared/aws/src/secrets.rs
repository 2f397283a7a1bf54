//! Secrets on AWS: the routing config names its secrets (webhook signing secrets, API keys) by
//! reference, never by value. On AWS a reference is `ssm:/path`, an SSM Parameter Store
//! SecureString; the functions fetch every one the config names once per cold start, with
//! `GetParameters` (decrypted, ten names a call), and resolve the config's references from that
//! map. Nothing secret is ever in an environment variable or a CloudFormation parameter.
//!
//! On AWS only `ssm:` references resolve: an `env:NAME` reference (local mode) is reported by
//! [`Source::resolve_auth`](leadrouter_domain::config::Source::resolve_auth) as not set, naming
//! the reference, which stops the cold start with a clear message rather than refusing every
//! delivery later. The function's IAM policy allows `ssm:GetParameters` on the parameters under
//! one prefix (`/leadrouter/` by default: the template's `SecretsPrefix`).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use leadrouter_domain::config::RoutingConfig;

use crate::env::StartError;

/// `GetParameters` takes at most this many names a call.
const SSM_MAX_NAMES: usize = 10;

/// The parameter name of an `ssm:/path` reference.
fn ssm_name(reference: &str) -> Option<&str> {
    reference
        .strip_prefix("ssm:")
        .filter(|name| !name.is_empty())
}

/// Secret values fetched from SSM, keyed by their whole reference (`ssm:/leadrouter/typeform`).
/// Its `Debug` never shows a value.
#[derive(Default, Clone)]
pub struct Secrets {
    values: HashMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Secrets")
            .field("references", &names)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// The secret for `reference` (`ssm:/path`), if it was fetched; `None` for anything else.
    /// Pass it as the lookup of `resolve_sources` / `resolve_auth`.
    pub fn lookup(&self, reference: &str) -> Option<String> {
        if ssm_name(reference).is_some() {
            self.values.get(reference).cloned()
        } else {
            None
        }
    }

    /// How many secrets were fetched.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none was fetched.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Every `ssm:` reference the config names, in order: its sources' auth settings and its pools'
/// notification settings ([`notify_references`]). (The sources keep their auth settings
/// private; resolving them with a recording lookup lists exactly what they will ask.)
pub fn ssm_references(cfg: &RoutingConfig) -> BTreeSet<String> {
    let seen = std::cell::RefCell::new(BTreeSet::new());
    for source in cfg.sources.values() {
        // The result is irrelevant here: the config was validated when it was loaded.
        let _ = source.resolve_auth(&|reference| {
            if ssm_name(reference).is_some() {
                seen.borrow_mut().insert(reference.to_owned());
            }
            Some("placeholder".to_owned())
        });
    }
    let mut all = seen.into_inner();
    all.extend(notify_references(cfg));
    all
}

/// Every `ssm:` reference of the pools' notification settings (`slack_webhook`,
/// `webhook_secret`): what the notifier fetches at cold start.
pub fn notify_references(cfg: &RoutingConfig) -> BTreeSet<String> {
    cfg.pools
        .iter()
        .flat_map(|p| [&p.notify.slack_webhook, &p.notify.webhook_secret])
        .flatten()
        .filter(|r| ssm_name(r).is_some())
        .cloned()
        .collect()
}

/// Fetches `references` (`ssm:/path` each; anything else is ignored) with `GetParameters`,
/// decrypted, at most ten a call. A parameter that does not exist is simply absent from the
/// result (its reference is then reported by `resolve_auth`); a failed call (no permission,
/// throttling, no network) is an error naming the operation and the error code, never a value.
pub async fn fetch(
    client: &Client,
    references: impl IntoIterator<Item = String>,
) -> Result<Secrets, StartError> {
    let names: BTreeSet<String> = references
        .into_iter()
        .filter_map(|r| ssm_name(&r).map(str::to_owned))
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    let mut values = HashMap::new();
    for chunk in names.chunks(SSM_MAX_NAMES) {
        let out = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or("no error code").to_owned();
                StartError(format!(
                    "SSM GetParameters for {} failed: {code} (does the function's role allow \
                     ssm:GetParameters on these names and kms:Decrypt through SSM?)",
                    chunk.join(", ")
                ))
            })?;
        for p in out.parameters.unwrap_or_default() {
            if let (Some(name), Some(value)) = (p.name, p.value) {
                values.insert(format!("ssm:{name}"), value);
            }
        }
    }
    Ok(Secrets { values })
}

/// The secrets `cfg` names ([`ssm_references`]), fetched with the default SDK configuration (the
/// Lambda role): the ingest and notifier functions' cold start. Makes no SSM call when there is
/// none.
pub async fn for_config(cfg: &RoutingConfig) -> Result<Secrets, StartError> {
    for_references(ssm_references(cfg)).await
}

/// `references` fetched with the default SDK configuration (the Lambda role), e.g.
/// [`notify_references`] for the notifier. Makes no SSM call when none is an `ssm:` reference.
pub async fn for_references(references: BTreeSet<String>) -> Result<Secrets, StartError> {
    if !references.iter().any(|r| ssm_name(r).is_some()) {
        return Ok(Secrets::default());
    }
    let sdk = crate::sdk::from_env().await;
    fetch(&Client::new(&sdk), references).await
}
