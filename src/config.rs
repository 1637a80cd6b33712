//! The `dr.yml` model. Parsing is strict (`deny_unknown_fields`), so a typo is an error that
//! names the key, its line and the nearest valid key instead of a silently ignored setting.
//! Secrets are never in the file: `*-env` keys name the environment variable holding them.
//! The JSON Schema (`dr-action config schema`) is generated from these types.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{Dur, Size};

/// Where the config is looked for when `--config` is not given, in order.
pub const DEFAULT_PATHS: [&str; 2] = [".github/dr.yml", "dr.yml"];

/// The whole `dr.yml` file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "dr-action configuration (.github/dr.yml)")]
pub struct Config {
    /// The format version of this file; always 1.
    pub version: u32,
    /// AWS access; omit it for a local store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Aws>,
    /// Where the backups are: a bucket or a local folder.
    pub storage: Storage,
    /// What to check; each target is checked independently.
    pub targets: Vec<Target>,
    /// Who hears about failures.
    #[serde(default)]
    pub notify: Notify,
    /// The committed status badge.
    #[serde(default)]
    pub badge: BadgeConfig,
    /// How the KPI is computed.
    #[serde(default)]
    pub kpi: KpiConfig,
    /// The static status page `run` renders and commits with the badge.
    #[serde(default)]
    pub site: SiteConfig,
    /// Rolling deep reads of the retained backups on the monthly run, for every target (a
    /// target's own `verify:` wins), recorded in the ledger `badges/dr_ledger.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// The prices the cost estimate of each run uses.
    #[serde(default)]
    pub prices: Prices,
}

/// How much the monthly run may read to prove the retained backups, and how often each is
/// proven again.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Verify {
    /// The bytes one monthly run may read for a target.
    #[serde(default = "default_verify_budget")]
    pub budget: Size,
    /// The requests one monthly run may make for a target's deep reads.
    #[serde(default = "default_verify_requests")]
    pub requests: u64,
    /// A proof older than this is read again (when the budget allows).
    #[serde(default = "default_re_read_after")]
    pub re_read_after: Dur,
    /// The share (percent) of retained backups that must be proven within `re-read-after`;
    /// under it, the KPI's reasons say so.
    #[serde(default = "default_min_coverage")]
    #[schemars(range(max = 100))]
    pub min_coverage: u8,
}

impl Config {
    /// Whether any target has rolling deep reads (its own `verify:` or the global one).
    pub fn verifies(&self) -> bool {
        self.verify.is_some() || self.targets.iter().any(|t| t.verify.is_some())
    }
}

impl Default for Verify {
    fn default() -> Self {
        Verify {
            budget: default_verify_budget(),
            requests: default_verify_requests(),
            re_read_after: default_re_read_after(),
            min_coverage: default_min_coverage(),
        }
    }
}

fn default_verify_budget() -> Size {
    Size::parse("20GiB").expect("built-in sizes parse")
}
fn default_verify_requests() -> u64 {
    10_000
}
fn default_re_read_after() -> Dur {
    fixed("90d")
}
fn default_min_coverage() -> u8 {
    100
}

/// Prices of the store, in dollars; the defaults are S3 Standard in us-east-1 (see the README).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Prices {
    /// Per 1,000 LIST requests.
    #[serde(default = "default_list_price")]
    pub list_per_1000: f64,
    /// Per 1,000 GET and HEAD requests.
    #[serde(default = "default_get_price")]
    pub get_per_1000: f64,
    /// Per GB (10^9 bytes) read out of the store.
    #[serde(default = "default_gb_price")]
    pub per_gb: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            list_per_1000: default_list_price(),
            get_per_1000: default_get_price(),
            per_gb: default_gb_price(),
        }
    }
}

fn default_list_price() -> f64 {
    0.005
}
fn default_get_price() -> f64 {
    0.0004
}
fn default_gb_price() -> f64 {
    0.09
}

/// The `aws:` section is the AWS module's own settings model.
pub use crate::aws::Aws;

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Storage {
    /// The S3 bucket holding the backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// A local folder acting as the bucket (relative to the config file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<PathBuf>,
    /// The exact KMS key backups must be encrypted with (key ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// How a large object is read from S3: several ranged GETs at once (on by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_reads: Option<ParallelReads>,
    /// An Azure Blob Storage container holding the backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStorage>,
}

/// Objects larger than `threshold` are read from S3 as ranged GETs of `part-size` bytes,
/// `in-flight` of them at a time, put back in order (each range retried on its own). Memory
/// grows by up to `part-size × in-flight`. `in-flight: 1` reads every object with one GET.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ParallelReads {
    /// The size of each ranged GET (default `8MiB`; at least `64KiB`). Match the multipart
    /// upload's part size, so each GET reads one part.
    #[serde(default = "ParallelReads::default_part_size")]
    pub part_size: crate::units::Size,
    /// Ranged GETs open at a time, counting the one being read (default 4, at most 64).
    #[serde(default = "ParallelReads::default_in_flight")]
    pub in_flight: u32,
    /// Objects up to this size are read with one GET (default `64MiB`).
    #[serde(default = "ParallelReads::default_threshold")]
    pub threshold: crate::units::Size,
}

impl ParallelReads {
    fn default_part_size() -> crate::units::Size {
        crate::units::Size::parse("8MiB").expect("a built-in size parses")
    }

    fn default_in_flight() -> u32 {
        4
    }

    fn default_threshold() -> crate::units::Size {
        crate::units::Size::parse("64MiB").expect("a built-in size parses")
    }
}

impl Default for ParallelReads {
    fn default() -> Self {
        ParallelReads {
            part_size: Self::default_part_size(),
            in_flight: Self::default_in_flight(),
            threshold: Self::default_threshold(),
        }
    }
}

/// An Azure Blob Storage container. Credentials, in order: a connection string or an account key
/// named by `*-env`; in GitHub Actions, OIDC federated credentials (`AZURE_CLIENT_ID`,
/// `AZURE_TENANT_ID`); a service principal secret (`AZURE_CLIENT_SECRET`); the Azure CLI login.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AzureStorage {
    /// The storage account name, e.g. `acmebackups`.
    pub account: String,
    /// The container holding the backups.
    pub container: String,
    /// The blob service URL, for Azurite or a sovereign cloud, e.g.
    /// `http://127.0.0.1:10000/devstoreaccount1`; default `https://ACCOUNT.blob.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The variable holding a connection string (`AccountName=…;AccountKey=…` or
    /// `…;SharedAccessSignature=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string_env: Option<String>,
    /// The variable holding the account's access key (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_key_env: Option<String>,
}

/// Which store the config names, once validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Bucket(String),
    Local(PathBuf),
    Azure(AzureStorage),
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Target {
    /// A unique name, used in reports, alerts and `--target`.
    pub name: String,
    /// The key prefix the backups live under, e.g. `pwm/orders/`.
    #[serde(default)]
    pub prefix: String,
    /// A glob over the last segment of the key, e.g. `*.dump.gz`.
    #[serde(default = "default_match", rename = "match")]
    pub pattern: String,
    /// What the backup contains (after decompression).
    pub format: BackupFormat,
    /// Where the expected SHA-256 comes from.
    #[serde(default)]
    pub checksum: ChecksumMode,
    /// The newest backup must be younger than this.
    pub rpo: Dur,
    /// A full restore must finish within this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<Dur>,
    /// The smallest acceptable size of the newest backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<Size>,
    /// The retention slots that must each hold a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Whether a failure of this target is critical.
    #[serde(default = "default_true")]
    pub critical: bool,
    /// How the quarterly full restore is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// The backups are encrypted client-side: how to decrypt them (in the stream, never to
    /// disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// When the newest backup is in an S3 archive class (GLACIER, DEEP_ARCHIVE), the
    /// quarterly restore asks S3 for a readable copy first and waits for it, up to the `rto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_request: Option<RestoreRequest>,
    /// A backup is a folder of parts (`full_<timestamp>/`) rather than one object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<BackupSet>,
    /// This target's rolling deep reads (instead of the global `verify:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// Client-side encryption of a target's backups. Only names of environment variables are kept
/// here; their values are read at the edge and never written anywhere.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Encryption {
    /// age (age-encryption.org/v1), binary or ASCII-armored.
    #[serde(rename_all = "kebab-case")]
    Age {
        /// The variable holding one or more X25519 identities (`AGE-SECRET-KEY-1…`, an
        /// identity file's text).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity_env: Option<String>,
        /// The variable holding the passphrase of backups encrypted with `age -p`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passphrase_env: Option<String>,
    },
    /// `openssl enc -aes-256-cbc -pbkdf2` files (`Salted__` header, key from a passphrase),
    /// or a 32-byte key given as 64 hex digits with the 16-byte IV in front of the ciphertext.
    #[serde(rename_all = "kebab-case")]
    Openssl {
        /// The cipher; only `aes-256-cbc`.
        #[serde(default = "default_cipher")]
        cipher: String,
        /// The variable holding the passphrase (for `Salted__` files) or the key as 64 hex
        /// digits (for files with the IV in front).
        key_env: String,
        /// PBKDF2-HMAC-SHA256 iterations of `Salted__` files (`openssl enc -iter N`).
        #[serde(default = "default_pbkdf2_iterations")]
        iterations: u32,
    },
}

fn default_cipher() -> String {
    "aes-256-cbc".to_string()
}

/// `openssl enc -pbkdf2` without `-iter`.
fn default_pbkdf2_iterations() -> u32 {
    10_000
}

impl Encryption {
    /// The environment variables the decryption reads.
    pub fn variables(&self) -> Vec<&str> {
        match self {
            Encryption::Age {
                identity_env,
                passphrase_env,
            } => identity_env
                .iter()
                .chain(passphrase_env.iter())
                .map(String::as_str)
                .collect(),
            Encryption::Openssl { key_env, .. } => vec![key_env.as_str()],
        }
    }
}

/// A backup kept as a set of parts in one folder under the prefix (`full_<timestamp>/`): the
/// folder's name matches `match`, and the newest complete folder is the backup.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BackupSet {
    /// The manifest inside each folder listing the parts with their size and SHA-256
    /// (e.g. `metadata.json`). Without it, every other object of the folder is a part and
    /// needs a `PART.sha256` sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The engine each part is restored with, by part name; a part not named here uses
    /// `restore.engine`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub engines: std::collections::BTreeMap<String, RestoreEngine>,
}

fn default_match() -> String {
    "*".to_string()
}

fn default_true() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BackupFormat {
    /// `pg_dump` output: custom (`-Fc`), tar (`-Ft`) or plain SQL.
    PgDump,
    /// A plain SQL script.
    Sql,
    /// A SQLite database file.
    Sqlite,
    /// A tar archive.
    Tar,
    /// Any file; only compression is checked.
    File,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumMode {
    /// A `KEY.sha256` file beside each backup, in `sha256sum` format.
    #[default]
    Sidecar,
    /// The store's own SHA-256 (`x-amz-checksum-sha256`).
    S3,
    /// No checksum.
    None,
}

/// The most slots of each kind a policy may ask for: ten years of days and of weeks, a century
/// of months. Each slot is a line of work and a name in the report; counts past these are
/// mistakes, and in the millions they would exhaust memory or run off the calendar.
pub const MAX_DAILY: u32 = 3660;
pub const MAX_WEEKLY: u32 = 520;
pub const MAX_MONTHLY: u32 = 1200;

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Retention {
    /// The last N days must each hold a backup (at most 3660).
    #[serde(default)]
    #[schemars(range(max = MAX_DAILY))]
    pub daily: u32,
    /// The last N ISO weeks must each hold a backup (at most 520).
    #[serde(default)]
    #[schemars(range(max = MAX_WEEKLY))]
    pub weekly: u32,
    /// The last N calendar months must each hold a backup (at most 1200).
    #[serde(default)]
    #[schemars(range(max = MAX_MONTHLY))]
    pub monthly: u32,
}

impl Retention {
    /// The first count of `policy` above its limit: `(kind, count, limit)`.
    pub fn over_limit(&self) -> Option<(&'static str, u32, u32)> {
        [
            ("daily", self.daily, MAX_DAILY),
            ("weekly", self.weekly, MAX_WEEKLY),
            ("monthly", self.monthly, MAX_MONTHLY),
        ]
        .into_iter()
        .find(|(_, n, max)| n > max)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Restore {
    /// The engine the backup is restored into.
    pub engine: RestoreEngine,
    /// The variable holding the URL of a PostgreSQL server to restore into (a throwaway role
    /// and a scratch database owned by it are created there). Without it, `engine: postgres`
    /// restores into a private cluster started for the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url_env: Option<String>,
    /// For `engine: postgres`: extensions the admin creates in the scratch database before the
    /// dump runs (the dump's role may not create untrusted ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// For `engine: command`: the command the decompressed stream is piped into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// For `engine: files` and `sqlite`: the most bytes the backup may unpack to on disk
    /// (default 1000x compressed, at least 1 MiB, and at most the temporary folder's free
    /// space less a margin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unpacked: Option<Size>,
    /// Checks run on the restored data.
    #[serde(default)]
    pub validate: Vec<Validation>,
}

/// The readable copy of an archived object the quarterly restore asks S3 for (RestoreObject).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RestoreRequest {
    /// How many days S3 keeps the restored copy (1 is enough for one restore).
    #[serde(default = "default_restore_days")]
    #[schemars(range(min = 1))]
    pub days: u32,
    /// How fast (and how dear) the copy is made: `Expedited` (minutes, GLACIER only),
    /// `Standard` (hours) or `Bulk` (the slowest, the cheapest).
    #[serde(default)]
    pub tier: RestoreTier,
}

fn default_restore_days() -> u32 {
    1
}

/// S3's retrieval tiers, spelled as S3 spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum RestoreTier {
    #[default]
    Standard,
    Bulk,
    Expedited,
}

impl RestoreTier {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreTier::Standard => "Standard",
            RestoreTier::Bulk => "Bulk",
            RestoreTier::Expedited => "Expedited",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreEngine {
    Postgres,
    Sqlite,
    Files,
    Command,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Validation {
    /// A query whose first column of the first row is compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// A command run after the restore; exit code 0 passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Notify {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_issue: Option<GithubIssue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<Slack>,
    /// An email on failure and on recovery, through an SMTP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// A dead-man switch pinged on every run (healthchecks.io ping protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    /// A JSON summary posted to any URL, signed with HMAC-SHA256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Email {
    /// The variable holding the SMTP server URL, with the login when the server wants one:
    /// `smtp://` (STARTTLS when offered), `smtp+starttls://` (STARTTLS required) or `smtps://`
    /// (implicit TLS), e.g. `smtps://user:password@smtp.example.com:465`.
    pub smtp_url_env: String,
    /// The sender, e.g. `DR checks <dr@example.com>`.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Heartbeat {
    /// The variable holding the ping URL, e.g. `https://hc-ping.com/<uuid>`.
    pub url_env: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Webhook {
    /// The variable holding the URL the summary is posted to.
    pub url_env: String,
    /// The variable holding the shared secret the `X-DR-Signature-256` header is made with.
    pub secret_env: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GithubIssue {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// A link to the runbook, put in the issue body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
}

impl Default for GithubIssue {
    /// The issue Actions runs open when the config has no `notify.github-issue`.
    fn default() -> Self {
        GithubIssue {
            enabled: true,
            labels: default_labels(),
            runbook: None,
        }
    }
}

fn default_labels() -> Vec<String> {
    vec!["dr-failure".to_string()]
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Slack {
    /// The variable holding the incoming-webhook URL.
    #[serde(default = "default_webhook_env")]
    pub webhook_env: String,
}

/// The webhook variable Slack alerts use when the config has no `notify.slack`.
pub const DEFAULT_WEBHOOK_ENV: &str = "SLACK_WEBHOOK_URL";

fn default_webhook_env() -> String {
    DEFAULT_WEBHOOK_ENV.to_string()
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BadgeConfig {
    #[serde(default = "default_badge_path")]
    pub path: PathBuf,
    /// The badge's left-hand text (at most 200 characters).
    #[serde(default = "default_badge_label")]
    pub label: String,
}

impl Default for BadgeConfig {
    fn default() -> Self {
        BadgeConfig {
            path: default_badge_path(),
            label: default_badge_label(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SiteConfig {
    /// The folder of the status page in the repository (e.g. `docs/dr` to serve it with GitHub
    /// Pages from `docs/`).
    #[serde(default = "default_site_path")]
    pub path: PathBuf,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            path: default_site_path(),
        }
    }
}

fn default_site_path() -> PathBuf {
    PathBuf::from("site")
}

fn default_badge_path() -> PathBuf {
    PathBuf::from("badges/backup_status.svg")
}

/// The badge's label when neither the config nor `--label` names one.
pub fn default_badge_label() -> String {
    "Backup & DR".to_string()
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KpiConfig {
    #[serde(default)]
    pub max_age: MaxAge,
    /// The health score (0-100) under which a critical target fails its `health` check.
    #[serde(default = "default_min_health")]
    #[schemars(range(max = 100))]
    pub min_health: u8,
}

fn default_min_health() -> u8 {
    80
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            max_age: MaxAge::default(),
            min_health: default_min_health(),
        }
    }
}

/// How old a report may be before it counts as stale (not ok).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MaxAge {
    #[serde(default = "default_weekly_age")]
    pub weekly: Dur,
    #[serde(default = "default_monthly_age")]
    pub monthly: Dur,
    #[serde(default = "default_quarterly_age")]
    pub quarterly: Dur,
}

impl Default for MaxAge {
    fn default() -> Self {
        MaxAge {
            weekly: default_weekly_age(),
            monthly: default_monthly_age(),
            quarterly: default_quarterly_age(),
        }
    }
}

fn fixed(text: &str) -> Dur {
    Dur::parse(text).expect("built-in durations parse")
}
fn default_weekly_age() -> Dur {
    fixed("8d")
}
fn default_monthly_age() -> Dur {
    fixed("32d")
}
fn default_quarterly_age() -> Dur {
    fixed("93d")
}

/// A config that could not be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

/// A loaded config and the folder relative paths in it are resolved against.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    pub base_dir: PathBuf,
}

impl Loaded {
    /// The validated store the config names, with a local folder resolved to an absolute path.
    pub fn storage(&self) -> StorageKind {
        if let Some(azure) = &self.config.storage.azure {
            return StorageKind::Azure(azure.clone());
        }
        match (&self.config.storage.bucket, &self.config.storage.local) {
            (Some(bucket), _) => StorageKind::Bucket(bucket.clone()),
            (None, Some(local)) => StorageKind::Local(self.resolve(local)),
            (None, None) => unreachable!("validate() requires bucket or local"),
        }
    }

    /// A path from the config, resolved against [`Loaded::base_dir`] (an absolute one stays as
    /// it is), without `.` segments: `./backups` next to `dr.yml` is `./backups`, not
    /// `././backups`.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        let joined: PathBuf = self
            .base_dir
            .join(path)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        if joined.is_absolute() {
            joined
        } else {
            Path::new(".").join(joined)
        }
    }
}

/// Finds the config: `explicit` when given, else the first of [`DEFAULT_PATHS`] that exists.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(path) = explicit {
        anyhow::ensure!(
            path.exists(),
            "config file {} does not exist",
            path.display()
        );
        return Ok(Some(path.to_path_buf()));
    }
    Ok(DEFAULT_PATHS.iter().map(PathBuf::from).find(|p| p.exists()))
}

/// The config named by `--config`, or found at the default paths; an error when there is none.
pub fn load_required(explicit: Option<&Path>) -> Result<Loaded> {
    match locate(explicit)? {
        Some(path) => load(&path),
        None => anyhow::bail!(
            "no config found: looked for {}; pass --config PATH",
            DEFAULT_PATHS.join(" and ")
        ),
    }
}

/// The config when one exists (commands that work without one use defaults).
pub fn load_optional(explicit: Option<&Path>) -> Result<Option<Loaded>> {
    locate(explicit)?.map(|p| load(&p)).transpose()
}

/// The folder the relative paths of the config at `path` start from: the config's folder, or
/// the repository root for `.github/dr.yml` (that file describes the repository).
pub fn base_dir_of(path: &Path) -> PathBuf {
    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if base_dir.file_name().is_some_and(|n| n == ".github") {
        base_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    } else {
        base_dir
    }
}

/// Reads, parses and validates the config at `path`.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    let config = parse(&text).map_err(|e| ConfigError {
        path: path.display().to_string(),
        message: e,
    })?;
    let base_dir = base_dir_of(path);
    Ok(Loaded {
        config,
        path: path.to_path_buf(),
        base_dir,
    })
}

/// Parses and validates config text. The error is one line a user can act on.
pub fn parse(text: &str) -> Result<Config, String> {
    // Editors on Windows save a byte-order mark; it is not part of the YAML, and it holds no
    // line break, so line numbers stay right without it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let de = serde_norway::Deserializer::from_str(text);
    let config: Config = serde_path_to_error::deserialize(de)
        .map_err(|e| describe_yaml_error(&e.path().to_string(), e.inner(), text))?;
    validate(&config, text)?;
    Ok(config)
}

/// Turns serde's message into one that names the key, the line and the nearest valid key.
fn describe_yaml_error(path: &str, err: &serde_norway::Error, text: &str) -> String {
    let raw = err.to_string();
    // serde_norway prefixes the path of the failing node ("targets[0]: ..."); the full path
    // comes from serde_path_to_error instead.
    let message = match raw.split_once(": ") {
        Some((node, rest)) if !node.contains(' ') => rest,
        _ => raw.as_str(),
    };
    let message = strip_location(message);
    // serde_path_to_error says `?` when the YAML broke before any key was known.
    let mut node = (!path.is_empty() && path != "." && path != "?").then(|| path.to_string());
    let mut line = err
        .location()
        .map(|l| format!(" at line {} column {}", l.line(), l.column()));
    // For a bad value serde reports the enclosing mapping; find the key whose value is the
    // one the message quotes, below where the mapping starts.
    if let (Some(loc), Some(value)) = (err.location(), quoted(message))
        && !message.starts_with("unknown field")
        && let Some((n, key)) = key_line_with(text, value, loc.line())
    {
        node = Some(match node {
            Some(parent) if !parent.ends_with(&format!(".{key}")) => {
                format!("{parent}.{key}")
            }
            Some(same) => same,
            None => key,
        });
        line = Some(format!(" at line {n}"));
    }
    let node = node.as_deref();
    let location = line.unwrap_or_default();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (unknown, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let parent = node.and_then(|n| n.rsplit_once('.').map(|(p, _)| p));
        let place = parent.map(|n| format!(" in `{n}`")).unwrap_or_default();
        let hint = nearest(unknown, &candidates)
            .map(|k| format!(", did you mean `{k}`?"))
            .unwrap_or_else(|| format!(" (valid keys: {})", candidates.join(", ")));
        return format!("unknown key `{unknown}`{place}{location}{hint}");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (unknown, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let key = node
            .map(|n| format!("`{n}`"))
            .unwrap_or_else(|| "value".to_string());
        let hint = nearest(unknown, &candidates)
            .map(|k| format!(", did you mean `{k}`?"))
            .unwrap_or_default();
        return format!(
            "{key}{location}: `{unknown}` is not one of {}{hint}",
            candidates.join(", ")
        );
    }
    match node {
        Some(node) => format!("`{node}`{location}: {message}"),
        None => format!("{message}{location}"),
    }
}

/// The first `` `quoted` `` part of a message.
fn quoted(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once('`')?;
    rest.split_once('`')
        .map(|(q, _)| q)
        .filter(|q| !q.is_empty())
}

/// The first `key: value` line at or after line `from` (1-based) holding `value`: its line
/// number and key.
fn key_line_with(text: &str, value: &str, from: usize) -> Option<(usize, String)> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(|(i, l)| {
            let (key, rest) = l.trim_start().trim_start_matches("- ").split_once(':')?;
            rest.contains(value)
                .then(|| (i + 1, key.trim().to_string()))
        })
}

fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The `notify` keys the types cannot check: addresses that parse, variables that are named.
/// Keys are placed by the first line holding them inside their section (`url-env:` is in both
/// `heartbeat:` and `webhook:`).
fn validate_notify(notify: &Notify, text: &str) -> Result<(), String> {
    let at = |key: &str, section: &str, needle: &str| -> String {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.iter().position(|l| holds(l, section)).unwrap_or(0);
        match lines
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, l)| holds(l, needle))
        {
            Some((i, _)) => format!("`{key}` at line {}", i + 1),
            None => format!("`{key}`"),
        }
    };
    let named = [
        notify.email.as_ref().map(|e| {
            (
                "notify.email.smtp-url-env",
                "email:",
                "smtp-url-env:",
                &e.smtp_url_env,
            )
        }),
        notify.heartbeat.as_ref().map(|h| {
            (
                "notify.heartbeat.url-env",
                "heartbeat:",
                "url-env:",
                &h.url_env,
            )
        }),
        notify
            .webhook
            .as_ref()
            .map(|w| ("notify.webhook.url-env", "webhook:", "url-env:", &w.url_env)),
        notify.webhook.as_ref().map(|w| {
            (
                "notify.webhook.secret-env",
                "webhook:",
                "secret-env:",
                &w.secret_env,
            )
        }),
    ];
    for (key, section, needle, var) in named.into_iter().flatten() {
        if var.trim().is_empty() {
            return Err(format!(
                "{}: name the environment variable",
                at(key, section, needle)
            ));
        }
    }
    if let Some(email) = &notify.email {
        if let Err(e) = email.from.parse::<lettre::message::Mailbox>() {
            return Err(format!(
                "{}: `{}` is not an email address ({e})",
                at("notify.email.from", "email:", "from:"),
                email.from
            ));
        }
        if email.to.is_empty() {
            return Err(format!(
                "{}: list at least one recipient",
                at("notify.email.to", "email:", "to:")
            ));
        }
        for (i, to) in email.to.iter().enumerate() {
            if let Err(e) = to.parse::<lettre::message::Mailbox>() {
                return Err(format!(
                    "{}: `{to}` is not an email address ({e})",
                    at(&format!("notify.email.to[{i}]"), "email:", to)
                ));
            }
        }
    }
    Ok(())
}

/// `encryption`: one secret variable for age, a cipher dr-action can decrypt for openssl.
fn validate_encryption(
    encryption: &Encryption,
    key: &str,
    at: &dyn Fn(&str, &str) -> String,
) -> Result<(), String> {
    match encryption {
        Encryption::Age {
            identity_env,
            passphrase_env,
        } => match (identity_env, passphrase_env) {
            (None, None) | (Some(_), Some(_)) => {
                return Err(format!(
                    "{}: give one of `identity-env` (X25519 identities) or `passphrase-env`",
                    at(key, "encryption:")
                ));
            }
            _ => {}
        },
        Encryption::Openssl {
            cipher, iterations, ..
        } => {
            if cipher != "aes-256-cbc" {
                return Err(format!(
                    "{}: `{cipher}` is not supported (only aes-256-cbc)",
                    at(&format!("{key}.cipher"), "cipher:")
                ));
            }
            if *iterations == 0 {
                return Err(format!(
                    "{}: must be at least 1",
                    at(&format!("{key}.iterations"), "iterations:")
                ));
            }
        }
    }
    for var in encryption.variables() {
        if var.trim().is_empty() {
            return Err(format!(
                "{}: name the environment variable",
                at(key, "encryption:")
            ));
        }
    }
    Ok(())
}

/// `storage.azure`: alone, with names Azure accepts, an endpoint that is a URL, and one
/// credential variable at most.
fn validate_azure(
    config: &Config,
    azure: &AzureStorage,
    at: &dyn Fn(&str, &str) -> String,
) -> Result<(), String> {
    if config.storage.bucket.is_some() || config.storage.local.is_some() {
        return Err(format!(
            "{}: give one of `bucket`, `azure` or `local`",
            at("storage", "storage:")
        ));
    }
    if config.storage.kms_key_arn.is_some() {
        return Err(format!(
            "{}: is an AWS KMS key and does not apply to `storage.azure` (Azure encrypts every blob at rest; the encryption check reports the scope)",
            at("storage.kms-key-arn", "kms-key-arn:")
        ));
    }
    let account_ok = (3..=24).contains(&azure.account.len())
        && azure
            .account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !account_ok {
        return Err(format!(
            "{}: `{}` is not a storage account name (3-24 lowercase letters and digits)",
            at("storage.azure.account", "account:"),
            azure.account
        ));
    }
    let c = azure.container.as_str();
    let container_ok = (3..=63).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !c.starts_with('-')
        && !c.ends_with('-')
        && !c.contains("--");
    if !container_ok {
        return Err(format!(
            "{}: `{c}` is not a container name (3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)",
            at("storage.azure.container", "container:")
        ));
    }
    if let Some(endpoint) = &azure.endpoint {
        let parsed = url::Url::parse(endpoint).ok();
        if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
            return Err(format!(
                "{}: `{endpoint}` is not an http(s) URL (e.g. http://127.0.0.1:10000/devstoreaccount1)",
                at("storage.azure.endpoint", "endpoint:")
            ));
        }
    }
    if azure.connection_string_env.is_some() && azure.account_key_env.is_some() {
        return Err(format!(
            "{}: give `connection-string-env` or `account-key-env`, not both",
            at("storage.azure", "azure:")
        ));
    }
    Ok(())
}

/// Rules the types cannot express. Errors name the key and, where it can be found, its line.
fn validate(config: &Config, text: &str) -> Result<(), String> {
    let at = |key: &str, needle: &str| -> String {
        match line_of(text, needle) {
            Some(line) => format!("`{key}` at line {line}"),
            None => format!("`{key}`"),
        }
    };
    if config.version != 1 {
        return Err(format!(
            "{}: version {} is not supported (this dr-action reads version 1)",
            at("version", "version:"),
            config.version
        ));
    }
    if let Some(azure) = &config.storage.azure {
        validate_azure(config, azure, &at)?;
    }
    match (&config.storage.bucket, &config.storage.local) {
        _ if config.storage.azure.is_some() => {}
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: give either `bucket` or `local`, not both",
                at("storage", "storage:")
            ));
        }
        (None, None) => {
            return Err(format!(
                "{}: needs `bucket` (S3), `azure` (Azure Blob) or `local` (a folder)",
                at("storage", "storage:")
            ));
        }
        (Some(bucket), None) if bucket.trim().is_empty() => {
            return Err(format!("{}: is empty", at("storage.bucket", "bucket:")));
        }
        _ => {}
    }
    if let Some(key) = &config.storage.kms_key_arn
        && let Err(why) = crate::aws::arn::KmsKeyArn::parse_arn(key)
    {
        return Err(format!(
            "{}: `{key}` {why}",
            at("storage.kms-key-arn", "kms-key-arn:")
        ));
    }
    let p = &config.prices;
    for (name, value) in [
        ("list-per-1000", p.list_per_1000),
        ("get-per-1000", p.get_per_1000),
        ("per-gb", p.per_gb),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(format!(
                "{}: `{value}` is not a price (a number of dollars, 0 or more)",
                at(&format!("prices.{name}"), &format!("{name}:"))
            ));
        }
    }
    if let Some(p) = &config.storage.parallel_reads {
        if p.part_size.bytes < 64 * 1024 {
            return Err(format!(
                "{}: `{}` is too small (at least 64KiB)",
                at("storage.parallel-reads.part-size", "part-size:"),
                p.part_size
            ));
        }
        if !(1..=64).contains(&p.in_flight) {
            return Err(format!(
                "{}: {} is out of range (1 to 64)",
                at("storage.parallel-reads.in-flight", "in-flight:"),
                p.in_flight
            ));
        }
    }
    if config.targets.is_empty() {
        return Err(format!(
            "{}: list at least one target",
            at("targets", "targets:")
        ));
    }
    let mut names = BTreeSet::new();
    for (i, target) in config.targets.iter().enumerate() {
        let key = |k: &str| format!("targets[{i}].{k}");
        let name_needle = format!("name: {}", target.name);
        if target.name.trim().is_empty() {
            return Err(format!("{}: is empty", at(&key("name"), "name:")));
        }
        if !names.insert(target.name.as_str()) {
            return Err(format!(
                "{}: target name `{}` is used twice",
                at(&key("name"), &name_needle),
                target.name
            ));
        }
        if let Err(e) = globset::Glob::new(&target.pattern) {
            return Err(format!(
                "{}: `{}` is not a valid glob: {e}",
                at(&key("match"), &format!("match: \"{}\"", target.pattern)),
                target.pattern
            ));
        }
        if target.prefix.split('/').any(|seg| seg == "..") || target.prefix.starts_with('/') {
            return Err(format!(
                "{}: `{}` must be a relative key prefix without `..`",
                at(&key("prefix"), "prefix:"),
                target.prefix
            ));
        }
        if let Some(restore) = &target.restore {
            validate_restore(restore, &key("restore"), &|k, n| at(k, n))?;
        }
        if let Some(encryption) = &target.encryption {
            validate_encryption(encryption, &key("encryption"), &|k, n| at(k, n))?;
        }
        if let Some(request) = &target.restore_request {
            let at_key = at(&key("restore-request"), "restore-request:");
            if config.storage.bucket.is_none() {
                return Err(format!(
                    "{at_key}: only an S3 bucket has archive restores; remove it (an Azure Archive blob is rehydrated by setting its tier)"
                ));
            }
            if target.rto.is_none() {
                return Err(format!(
                    "{at_key}: needs the target's `rto`, which bounds the wait for the restored copy"
                ));
            }
            if request.days == 0 {
                return Err(format!(
                    "{}: 0 is not a number of days to keep the restored copy (1 or more)",
                    at(&key("restore-request.days"), "days:")
                ));
            }
        }
        if let Some(set) = &target.set {
            validate_set(set, target.restore.as_ref(), &key("set"), &|k, n| at(k, n))?;
        }
        if let Some((kind, n, max)) = target.retention.as_ref().and_then(Retention::over_limit) {
            let line = text
                .lines()
                .position(|l| l.contains(kind) && l.contains(&n.to_string()))
                .map(|i| format!(" at line {}", i + 1))
                .unwrap_or_default();
            return Err(format!(
                "`{}`{line}: {n} slots is more than the {max} this check supports",
                key(&format!("retention.{kind}"))
            ));
        }
    }
    validate_notify(&config.notify, text)?;
    if let Err(e) = crate::limits::check_text(&config.badge.label) {
        return Err(format!("{}: {e}", at("badge.label", "label:")));
    }
    if config.kpi.min_health > 100 {
        return Err(format!(
            "{}: {} is not a score from 0 to 100",
            at("kpi.min-health", "min-health:"),
            config.kpi.min_health
        ));
    }
    Ok(())
}

fn validate_set(
    set: &BackupSet,
    restore: Option<&Restore>,
    key: &str,
    at: &dyn Fn(&str, &str) -> String,
) -> Result<(), String> {
    if let Some(m) = &set.manifest
        && (m.is_empty() || m.contains('/') || m.contains('\\') || m == "." || m == "..")
    {
        return Err(format!(
            "{}: `{m}` must be a file name inside the set's folder",
            at(&format!("{key}.manifest"), "manifest:")
        ));
    }
    let has_command = restore.is_some_and(|r| r.command.as_ref().is_some_and(|c| !c.is_empty()));
    for (part, engine) in &set.engines {
        if let Err(e) = crate::limits::check_part_name(part) {
            return Err(format!(
                "{}: {e}",
                at(&format!("{key}.engines"), "engines:")
            ));
        }
        if *engine == RestoreEngine::Command && !has_command {
            return Err(format!(
                "{}: part `{part}` uses engine `command`, which needs `restore.command: [program, args...]`",
                at(&format!("{key}.engines"), "engines:")
            ));
        }
    }
    Ok(())
}

fn validate_restore(
    restore: &Restore,
    key: &str,
    at: &dyn Fn(&str, &str) -> String,
) -> Result<(), String> {
    match restore.engine {
        RestoreEngine::Command if restore.command.as_ref().is_none_or(Vec::is_empty) => {
            return Err(format!(
                "{}: engine `command` needs `command: [program, args...]`",
                at(&format!("{key}.engine"), "engine: command")
            ));
        }
        _ => {}
    }
    for (j, v) in restore.validate.iter().enumerate() {
        let vkey = format!("{key}.validate[{j}]");
        match (&v.sql, &v.command) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(format!(
                    "{}: give exactly one of `sql` or `command`",
                    at(&vkey, "validate:")
                ));
            }
            (None, Some(cmd)) if cmd.is_empty() => {
                return Err(format!("{}: `command` is empty", at(&vkey, "command:")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The 1-based line of the first line starting with `needle` (after leading spaces and `- `);
/// in flow style or JSON (`{"version": 2}`), of the first line holding it anywhere, quotes
/// aside; failing that (a value written with escapes), of the first line holding its key.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    let bare = |s: &str| s.replace(['"', '\''], "");
    let key = format!("{}:", needle.split(':').next().unwrap_or(needle));
    let find = |pred: &dyn Fn(&str) -> bool| text.lines().position(pred);
    find(&|l| l.trim_start().trim_start_matches("- ").starts_with(needle))
        .or_else(|| find(&|l| holds(&bare(l), &bare(needle))))
        .or_else(|| find(&|l| holds(&bare(l), &key)))
        .map(|i| i + 1)
}

/// Whether `line` holds `needle` at the start of a word (`name:` is not in `rename:`).
fn holds(line: &str, needle: &str) -> bool {
    line.match_indices(needle)
        .any(|(i, _)| !line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_'))
}

/// The JSON Schema of `dr.yml`, generated from the types above.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).expect("a schema serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_folder_was_shown_as_dot_slash_dot_slash_backups() {
        let loaded = |path: &str, base: &str| {
            Loaded {
            config: parse("version: 1\nstorage:\n  local: ./backups\ntargets:\n  - name: db\n    prefix: db/\n    format: file\n    rpo: 1d\n").unwrap(),
            path: PathBuf::from(path),
            base_dir: PathBuf::from(base),
        }
        };
        let local = |l: &Loaded| match l.storage() {
            StorageKind::Local(p) => p.display().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(local(&loaded("dr.yml", ".")), "./backups");
        assert_eq!(local(&loaded("ops/dr.yml", "ops")), "./ops/backups");
        assert_eq!(local(&loaded("/srv/dr.yml", "/srv")), "/srv/backups");
    }

    const GOOD: &str = r#"version: 1
storage:
  local: ./backups
targets:
  - name: orders-db
    prefix: pwm/orders/
    match: "*.dump.gz"
    format: pg-dump
    rpo: 24h
    min-size: 1KiB
    retention: { daily: 30, weekly: 12, monthly: 12 }
"#;

    #[test]
    fn a_good_config_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.targets[0].rpo.secs(), 86_400);
        assert_eq!(c.targets[0].checksum, ChecksumMode::Sidecar);
        assert_eq!(c.targets[0].min_size.as_ref().unwrap().bytes, 1024);
        // The only defaults of the KPI's max ages (the KPI rule's tests use the same values).
        let ages = &c.kpi.max_age;
        assert_eq!(
            (
                ages.weekly.secs(),
                ages.monthly.secs(),
                ages.quarterly.secs()
            ),
            (8 * 86_400, 32 * 86_400, 93 * 86_400)
        );
        assert_eq!(c.badge.label, "Backup & DR");
    }

    #[test]
    fn restore_request_parses_and_its_mistakes_name_key_and_line() {
        let bucket = GOOD.replace("local: ./backups", "bucket: b");
        let with = |rest: &str| format!("{bucket}    rto: 4h\n{rest}");
        let c = parse(&with("    restore-request: { days: 2, tier: Bulk }\n")).unwrap();
        let r = c.targets[0].restore_request.unwrap();
        assert_eq!((r.days, r.tier), (2, RestoreTier::Bulk));
        let c = parse(&with("    restore-request: {}\n")).unwrap();
        let r = c.targets[0].restore_request.unwrap();
        assert_eq!((r.days, r.tier), (1, RestoreTier::Standard));
        for (text, want) in [
            (
                with("    restore-request: { days: 0 }\n"),
                "`targets[0].restore-request.days` at line 13: 0 is not a number of days",
            ),
            (with("    restore-request: { tier: Slow }\n"), "Standard"),
            (
                with("    restore-request: { days: 1, teir: Bulk }\n"),
                "teir",
            ),
            (
                format!("{bucket}    restore-request: {{ days: 1 }}\n"),
                "`targets[0].restore-request` at line 12: needs the target's `rto`",
            ),
            (
                format!("{GOOD}    rto: 4h\n    restore-request: {{ days: 1 }}\n"),
                "`targets[0].restore-request` at line 13: only an S3 bucket",
            ),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(want), "{text}\n{err}");
        }
    }

    #[test]
    fn min_health_defaults_to_80_and_must_be_a_score() {
        assert_eq!(parse(GOOD).unwrap().kpi.min_health, 80);
        let text = format!("{GOOD}kpi:\n  min-health: 90\n");
        assert_eq!(parse(&text).unwrap().kpi.min_health, 90);
        let text = format!("{GOOD}kpi:\n  min-health: 120\n");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("kpi.min-health"), "{err}");
        assert!(err.contains("line 13"), "{err}");
        assert!(err.ends_with("120 is not a score from 0 to 100"), "{err}");
    }

    #[test]
    fn unknown_top_level_key_names_key_line_and_suggestion() {
        let text = GOOD.replace("targets:", "targts:");
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("unknown key `targts` at line 4"), "{err}");
        assert!(err.ends_with("did you mean `targets`?"), "{err}");
    }

    #[test]
    fn unknown_nested_key_names_its_path() {
        let text = GOOD.replace("    rpo: 24h", "    rpoo: 24h");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("unknown key `rpoo`"), "{err}");
        assert!(err.contains("targets[0]"), "{err}");
        assert!(err.contains("line 9"), "{err}");
        assert!(err.contains("did you mean `rpo`?"), "{err}");
    }

    #[test]
    fn bad_duration_names_key_and_line() {
        let text = GOOD.replace("rpo: 24h", "rpo: 24 hourz");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("targets[0].rpo"), "{err}");
        assert!(err.contains("line 9"), "{err}");
        assert!(err.contains("invalid duration `24 hourz`"), "{err}");
    }

    #[test]
    fn bad_enum_value_lists_the_choices() {
        let text = GOOD.replace("format: pg-dump", "format: pgdump");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("targets[0].format"), "{err}");
        assert!(err.contains("did you mean `pg-dump`?"), "{err}");
    }

    #[test]
    fn parallel_reads_out_of_range_name_the_key_and_line() {
        let with = |p: &str| {
            GOOD.replace(
                "  local: ./backups\n",
                &format!("  local: ./backups\n  parallel-reads: {p}\n"),
            )
        };
        let ok = parse(&with("{ part-size: 16MiB, in-flight: 8 }")).unwrap();
        let p = ok.storage.parallel_reads.unwrap();
        assert_eq!(
            (p.part_size.bytes, p.in_flight, p.threshold.bytes),
            (16 << 20, 8, 64 << 20)
        );
        let err = parse(&with("{ in-flight: 0 }")).unwrap_err();
        assert!(
            err.contains("storage.parallel-reads.in-flight") && err.contains("line 4"),
            "{err}"
        );
        let err = parse(&with("{ part-size: 1KiB }")).unwrap_err();
        assert!(
            err.contains("storage.parallel-reads.part-size") && err.contains("too small"),
            "{err}"
        );
    }

    #[test]
    fn malformed_yaml_says_where() {
        let err = parse("version: 1\nstorage: [unclosed\n").unwrap_err();
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let text = GOOD.replace("  local: ./backups", "  local: ./backups\n  bucket: b");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("`storage` at line 2"), "{err}");
        let text = GOOD.replace("\"*.dump.gz\"", "\"[unclosed\"");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("targets[0].match` at line 7"), "{err}");
    }

    #[test]
    fn a_notify_key_is_named_at_its_line_in_its_own_section() {
        let notify = "notify:\n  webhook:\n    url-env: HOOK\n    secret-env: S\n  heartbeat:\n    url-env: \"\"\n";
        let err = parse(&format!("{GOOD}{notify}")).unwrap_err();
        assert!(
            err.contains("`notify.heartbeat.url-env` at line 17: name the environment variable"),
            "{err}"
        );
        let notify = "notify:\n  email:\n    smtp-url-env: SMTP\n    from: dr@example.com\n    to: [\"not an address\"]\n";
        let err = parse(&format!("{GOOD}{notify}")).unwrap_err();
        assert!(err.contains("`notify.email.to[0]` at line 16"), "{err}");
        let notify = "notify:\n  email: { smtp-url-env: SMTP, from: dr@example.com, to: [] }\n";
        let err = parse(&format!("{GOOD}{notify}")).unwrap_err();
        assert!(
            err.contains("`notify.email.to` at line 13: list at least one"),
            "{err}"
        );
    }

    #[test]
    fn storage_azure_parses_and_its_mistakes_name_key_and_line() {
        let azure = "  azure:\n    account: acmebackups\n    container: prod\n    endpoint: http://127.0.0.1:10000/devstoreaccount1\n    connection-string-env: AZ_CONN\n";
        let ok = parse(&GOOD.replace("  local: ./backups\n", azure)).unwrap();
        let a = ok.storage.azure.as_ref().unwrap();
        assert_eq!(
            (a.account.as_str(), a.container.as_str()),
            ("acmebackups", "prod")
        );
        assert_eq!(a.connection_string_env.as_deref(), Some("AZ_CONN"));
        for (from, to, want) in [
            (
                "acmebackups",
                "Acme_Backups",
                "`storage.azure.account` at line 4",
            ),
            ("prod", "Prod--x", "`storage.azure.container` at line 5"),
            (
                "http://127.0.0.1:10000/devstoreaccount1",
                "127.0.0.1:10000",
                "`storage.azure.endpoint` at line 6",
            ),
            ("AZ_CONN\n", "AZ_CONN\n    account-key-env: K\n", "not both"),
            (
                "  azure:",
                "  bucket: b\n  azure:",
                "give one of `bucket`, `azure` or `local`",
            ),
            (
                "AZ_CONN\n",
                "AZ_CONN\n  kms-key-arn: arn:aws:kms:eu-west-1:1:key/1\n",
                "does not apply to `storage.azure`",
            ),
            ("container:", "containr:", "containr"),
        ] {
            let text = GOOD.replace("  local: ./backups\n", &azure.replace(from, to));
            let err = parse(&text).unwrap_err();
            assert!(err.contains(want), "{to}: {err}");
        }
    }

    #[test]
    fn encryption_parses_and_its_mistakes_name_key_and_line() {
        let with = |enc: &str| {
            GOOD.replace(
                "    min-size: 1KiB\n",
                &format!("    min-size: 1KiB\n{enc}"),
            )
        };
        let age = "    encryption:\n      kind: age\n      identity-env: DR_AGE_IDENTITY\n";
        let ok = parse(&with(age)).unwrap();
        assert_eq!(
            ok.targets[0].encryption,
            Some(Encryption::Age {
                identity_env: Some("DR_AGE_IDENTITY".into()),
                passphrase_env: None
            })
        );
        let openssl = "    encryption: { kind: openssl, key-env: BACKUP_ENCRYPTION_KEY }\n";
        let ok = parse(&with(openssl)).unwrap();
        assert_eq!(
            ok.targets[0].encryption,
            Some(Encryption::Openssl {
                cipher: "aes-256-cbc".into(),
                key_env: "BACKUP_ENCRYPTION_KEY".into(),
                iterations: 10_000
            })
        );
        for (enc, want) in [
            (
                "    encryption:\n      kind: age\n",
                "`targets[0].encryption` at line 11: give one of `identity-env`",
            ),
            (
                "    encryption:\n      kind: age\n      identity-env: A\n      passphrase-env: B\n",
                "give one of `identity-env` (X25519 identities) or `passphrase-env`",
            ),
            (
                "    encryption:\n      kind: openssl\n      cipher: aes-128-cbc\n      key-env: K\n",
                "`targets[0].encryption.cipher` at line 13: `aes-128-cbc` is not supported",
            ),
            (
                "    encryption:\n      kind: openssl\n      key-env: K\n      iterations: 0\n",
                "`targets[0].encryption.iterations` at line 14: must be at least 1",
            ),
            ("    encryption:\n      kind: gpg\n", "gpg"),
            ("    encryption:\n      kind: openssl\n", "key-env"),
        ] {
            let err = parse(&with(enc)).unwrap_err();
            assert!(err.contains(want), "{enc}: {err}");
        }
    }

    #[test]
    fn kms_alias_is_refused_with_a_reason() {
        let text = GOOD.replace(
            "  local: ./backups",
            "  local: ./backups\n  kms-key-arn: arn:aws:kms:eu-west-1:1:alias/backups",
        );
        assert!(parse(&text).unwrap_err().contains("is an alias"));
    }

    #[test]
    fn duplicate_target_names_are_refused() {
        let extra = "  - name: orders-db\n    format: sql\n    rpo: 1h\n";
        let err = parse(&format!("{GOOD}{extra}")).unwrap_err();
        assert!(err.contains("used twice"), "{err}");
    }

    #[test]
    fn schema_names_every_top_level_key() {
        let schema = schema();
        let props = schema["properties"].as_object().unwrap();
        for key in [
            "version", "aws", "storage", "targets", "notify", "badge", "kpi",
        ] {
            assert!(props.contains_key(key), "{key} missing");
        }
    }
}

#[cfg(test)]
mod schema_file {
    /// The committed schema (for editors) is the generated one. To refresh it:
    /// `cargo run -- config schema > schema/dr.schema.json`.
    #[test]
    fn committed_schema_matches_the_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/dr.schema.json");
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            committed,
            super::schema(),
            "schema/dr.schema.json is out of date: run `cargo run -- config schema > schema/dr.schema.json`"
        );
    }
}
