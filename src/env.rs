//! The process environment, read once at the edge: what GitHub Actions says about the run
//! (`GITHUB_*`), the tool's own switches (`DR_*`), the AWS and Azure settings the tool resolves
//! itself, and the secrets the config names by variable (token, Slack webhook, restore database
//! URL, Azure keys), which are handed out only as [`SecretString`]s.
//!
//! Nothing else in the library reads the environment; commands receive an [`Env`]. Tests build
//! one from a map with [`Env::from_lookup`].

use std::collections::BTreeMap;

use secrecy::SecretString;

use crate::workflow::RunInfo;
use crate::workflow::Workflow;

/// A snapshot of the environment the tool reads.
#[derive(Clone, Debug)]
pub struct Env {
    /// The `GITHUB_*` view of the run: outputs, summary, event, branch, repository.
    pub workflow: Workflow,
    /// The Actions run this is, when there is one.
    pub run: Option<RunInfo>,
    /// `DR_CHAOS` true/1/yes: a chaos drill.
    pub chaos: bool,
    /// `DR_LOG`: a log filter (`tracing` directives) overriding `-v`/`-q`.
    pub log: Option<String>,
    /// `NO_COLOR`, as set (any value, even empty, turns colour off).
    pub no_color: Option<String>,
    /// `GITHUB_TOKEN`, when set and not blank.
    pub github_token: Option<SecretString>,
    /// The variables of [`INHERITED`] that are set, for the programs a restore runs (the
    /// restore command, validation commands, the PostgreSQL programs found on `PATH`).
    pub inherited: Vec<(String, String)>,
    /// Plain settings (`AWS_*`, `DR_AWS_*`, `GITHUB_*`, the `AZURE_*` identifiers): not secrets.
    plain: BTreeMap<String, String>,
    /// Every other variable, held as a secret until the config names one (`webhook-env`,
    /// `database-url-env`).
    secrets: BTreeMap<String, SecretString>,
}

/// The variables of dr-action's own environment its child programs inherit: where programs
/// are, the home folder, the locale, the time zone, the temporary folder. Nothing else (no token,
/// no key) reaches a program a backup can influence.
pub const INHERITED: &[&str] = &["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

/// The prefixes of the plain settings kept readable; everything else is a potential secret.
/// Of the Azure variables only the identifiers are plain: `AZURE_CLIENT_SECRET`, keys and
/// connection strings stay secret.
const PLAIN_PREFIXES: [&str; 7] = [
    "AWS_",
    "DR_AWS_",
    "GITHUB_",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
];
/// AWS variables that are credentials: they stay secret (the SDK reads them itself anyway).
const AWS_SECRETS: [&str; 2] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

impl Env {
    /// Reads the process environment (variables that are not UTF-8 count as unset).
    pub fn from_process() -> Self {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::from_map(vars)
    }

    /// Reads the variables through `get` for the names the tool knows, plus `names` (the
    /// variables a config points at). Tests pass a map.
    pub fn from_lookup<'a>(
        get: impl Fn(&str) -> Option<String>,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let known = [
            "GITHUB_ACTIONS",
            "GITHUB_EVENT_NAME",
            "GITHUB_REF_NAME",
            "GITHUB_REF",
            "GITHUB_EVENT_PATH",
            "GITHUB_REPOSITORY",
            "GITHUB_RUN_ID",
            "GITHUB_SERVER_URL",
            "GITHUB_API_URL",
            "GITHUB_OUTPUT",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_TOKEN",
            "GITHUB_ACTOR",
            "GITHUB_TRIGGERING_ACTOR",
            "GITHUB_WORKFLOW",
            "DR_CHAOS",
            "DR_LOG",
            "NO_COLOR",
            "DR_AWS_REGION",
            "DR_AWS_ENDPOINT_URL",
            "DR_AWS_ROLE_ARN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ROLE_ARN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_AUTHORITY_HOST",
            "AZURE_CLIENT_SECRET",
        ];
        let vars = known
            .into_iter()
            .chain(INHERITED.iter().copied())
            .chain(names)
            .filter_map(|k| Some((k.to_string(), get(k)?)))
            .collect();
        Self::from_map(vars)
    }

    fn from_map(mut vars: BTreeMap<String, String>) -> Self {
        let workflow = Workflow::from_lookup(|k| vars.get(k).cloned());
        let run = run_info(|k| vars.get(k).cloned());
        let chaos = vars.get("DR_CHAOS").is_some_and(|v| is_truthy(v));
        let log = vars.get("DR_LOG").cloned();
        let no_color = vars.get("NO_COLOR").cloned();
        let inherited = INHERITED
            .iter()
            .filter_map(|k| Some((k.to_string(), vars.get(*k)?.clone())))
            .collect();
        let github_token = vars
            .remove("GITHUB_TOKEN")
            .filter(|t| !t.trim().is_empty())
            .map(SecretString::from);
        let (plain, secrets): (BTreeMap<_, _>, BTreeMap<_, _>) =
            vars.into_iter().partition(|(k, _)| {
                PLAIN_PREFIXES.iter().any(|p| k.starts_with(p))
                    && !AWS_SECRETS.contains(&k.as_str())
            });
        Env {
            workflow,
            run,
            chaos,
            log,
            no_color,
            github_token,
            inherited,
            plain,
            secrets: secrets
                .into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        }
    }

    /// A plain setting (`AWS_*`, `DR_AWS_*`, `GITHUB_*`).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.plain.get(name).cloned()
    }

    /// Who and what started this run, for the history.
    pub fn operator(&self) -> crate::workflow::Operator {
        crate::workflow::Operator {
            actor: self.setting("GITHUB_ACTOR"),
            triggering_actor: self.setting("GITHUB_TRIGGERING_ACTOR"),
            workflow: self.setting("GITHUB_WORKFLOW"),
            event: self.workflow.event_name.clone(),
            run_url: self.run.as_ref().map(|r| r.url.clone()),
        }
    }

    /// The secret held in the variable `name` (a config's `webhook-env`, `database-url-env`),
    /// when it is set and not blank.
    pub fn secret(&self, name: &str) -> Option<SecretString> {
        use secrecy::ExposeSecret;
        self.secrets
            .get(name)
            .filter(|s| !s.expose_secret().trim().is_empty())
            .cloned()
    }
}

/// `true`, `1` or `yes`, in any case and with spaces around.
pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

/// The GitHub Actions run this is, when there is one.
fn run_info(var: impl Fn(&str) -> Option<String>) -> Option<RunInfo> {
    let repository = var("GITHUB_REPOSITORY")?;
    let run_id = var("GITHUB_RUN_ID")?;
    let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    let url = format!(
        "{}/{repository}/actions/runs/{run_id}",
        server.trim_end_matches('/')
    );
    Some(RunInfo {
        repository,
        run_id,
        url,
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)], names: &[&str]) -> Env {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_lookup(|k| map.get(k).cloned(), names.iter().copied())
    }

    #[test]
    fn chaos_accepts_true_one_yes_in_any_case() {
        for v in ["true", "TRUE", "1", "yes", "Yes", " true "] {
            assert!(is_truthy(v), "{v}");
            assert!(env(&[("DR_CHAOS", v)], &[]).chaos, "{v}");
        }
        for v in ["false", "0", "", "no", "on"] {
            assert!(!is_truthy(v), "{v}");
            assert!(!env(&[("DR_CHAOS", v)], &[]).chaos, "{v}");
        }
    }

    #[test]
    fn child_programs_inherit_path_home_and_locale_from_the_snapshot_and_nothing_else() {
        let e = env(
            &[
                ("PATH", "/opt/pg/bin:/usr/bin"),
                ("HOME", "/home/runner"),
                ("TZ", "UTC"),
                ("GITHUB_TOKEN", "ghs_secret"),
                ("AWS_SECRET_ACCESS_KEY", "aws_secret"),
                ("DR_DB_URL", "postgres://u:p@h/db"),
            ],
            &["DR_DB_URL"],
        );
        assert_eq!(
            e.inherited,
            [
                ("PATH".to_string(), "/opt/pg/bin:/usr/bin".to_string()),
                ("HOME".to_string(), "/home/runner".to_string()),
                ("TZ".to_string(), "UTC".to_string()),
            ]
        );
        assert_eq!(
            crate::process::var(&e.inherited, "PATH"),
            Some("/opt/pg/bin:/usr/bin")
        );
    }

    #[test]
    fn secrets_are_only_given_out_by_name_and_blank_ones_are_unset() {
        let e = env(
            &[
                ("GITHUB_TOKEN", "ghs_x"),
                ("SLACK_URL", "https://hooks.example/1"),
                ("EMPTY", "  "),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_SECRET_ACCESS_KEY", "sk"),
            ],
            &["SLACK_URL", "EMPTY", "AWS_SECRET_ACCESS_KEY"],
        );
        assert_eq!(
            e.github_token.as_ref().map(|t| t.expose_secret()),
            Some("ghs_x")
        );
        assert_eq!(
            e.secret("SLACK_URL").as_ref().map(|s| s.expose_secret()),
            Some("https://hooks.example/1")
        );
        assert!(e.secret("EMPTY").is_none());
        assert_eq!(e.setting("AWS_REGION").as_deref(), Some("eu-west-1"));
        assert!(e.setting("AWS_SECRET_ACCESS_KEY").is_none());
        assert!(e.setting("SLACK_URL").is_none());
        let debug = format!("{e:?}");
        assert!(
            !debug.contains("ghs_x") && !debug.contains("hooks.example") && !debug.contains("sk\"")
        );
    }

    #[test]
    fn run_info_comes_from_the_repository_and_run_id() {
        let e = env(
            &[
                ("GITHUB_REPOSITORY", "o/r"),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_SERVER_URL", "https://ghe.example/"),
            ],
            &[],
        );
        assert_eq!(
            e.run.map(|r| r.url),
            Some("https://ghe.example/o/r/actions/runs/42".to_string())
        );
        assert!(env(&[("GITHUB_RUN_ID", "42")], &[]).run.is_none());
    }
}
