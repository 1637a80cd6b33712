//! The run history `badges/dr_history.jsonl` as a hash chain: one JSON line per run, each
//! bound to the line before it, so that an edited, deleted, inserted or reordered line shows.
//!
//! Every chained line starts with its own digest, `{"sha256":"<hex>",…}`, where `<hex>` is the
//! SHA-256 of the same line with that value empty (`{"sha256":"",…}`): a changed byte anywhere
//! in a line breaks its own digest. Every line after the first also carries `prev`, the SHA-256
//! of the previous line's bytes (without its newline): a removed, inserted or swapped line
//! breaks the `prev` of the line after it. The first chained line is the genesis entry. A
//! history written before chaining is adopted, not rewritten: the genesis entry records how many
//! lines came before it and the SHA-256 of their bytes.
//!
//! Pure: the entry of a run is built from its report, the history text goes in and the new text
//! or the verdict comes out; reading and writing the file is the caller's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Loaded;
use crate::kpi::KpiStatus;
use crate::report::{Mode, Operator, Report, Schedule, rfc3339};

/// One line of `badges/dr_history.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub schedule: Schedule,
    pub kind: String,
    pub ok: bool,
    pub status: KpiStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The slowest measured restore of the run, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_seconds: Option<f64>,
    /// The RTO of the target that restore belongs to, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_seconds: Option<u64>,
}

/// Parses the history; lines that are not entries are skipped (a hand edit must not stop
/// the badge), and the count of skipped lines is returned.
pub fn parse_history(text: &str) -> (Vec<HistoryEntry>, usize) {
    let mut entries = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // The chain's genesis entry marks where chaining began; it is not a run.
        if crate::history::is_genesis(line) {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(e) => entries.push(e),
            Err(_) => skipped += 1,
        }
    }
    (entries, skipped)
}

/// One history line (with its newline).
pub fn history_line(entry: &HistoryEntry) -> String {
    let mut line = serde_json::to_string(entry).unwrap_or_default();
    line.push('\n');
    line
}

/// The name of this chain format, written in the genesis entry.
pub const CHAIN_FORMAT: &str = "dr-action-history/v1";

/// The start every chained line has; the digest follows it.
const HEAD: &str = "{\"sha256\":\"";

/// One target's outcome in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetOutcome {
    pub name: String,
    pub ok: bool,
    /// The names of the checks that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// The newest backup's age, in seconds, when one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
    /// The backups matching the target, and their bytes, when the run listed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The retention slots wanted and filled, when the target has a policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_slots: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_filled: Option<u64>,
    /// The target's health score after this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<u8>,
    /// The restore's measurements (`total_seconds`, `rto_met`, …).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

/// One run's line, without its digest and `prev` (the chain adds them when it appends).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "EntryLine")]
pub struct Entry {
    /// What the trend picture reads: time, schedule, kind, ok, KPI status, slowest restore.
    #[serde(flatten)]
    pub run: HistoryEntry,
    /// `dry-run`, `full-restore` or `chaos-drill`.
    pub action: String,
    pub operator: Operator,
    pub targets: Vec<TargetOutcome>,
    /// The SHA-256 of the report file's bytes.
    pub report_sha256: String,
}

/// An [`Entry`] as read: the same keys, laid flat. Reading through `#[serde(flatten)]` buffers
/// the whole line (every target's outcome) before reading it a second time, which made reading
/// a long history several times slower than it need be.
#[derive(Deserialize)]
struct EntryLine {
    /// Set when the line is a genesis entry, which [`entries`] leaves out.
    #[serde(default, deserialize_with = "present")]
    genesis: bool,
    #[serde(with = "rfc3339")]
    at: DateTime<Utc>,
    schedule: crate::report::Schedule,
    kind: String,
    ok: bool,
    status: KpiStatus,
    #[serde(default)]
    run_url: Option<String>,
    #[serde(default)]
    total_seconds: Option<f64>,
    #[serde(default)]
    rto_seconds: Option<u64>,
    action: String,
    operator: Operator,
    targets: Vec<TargetOutcome>,
    report_sha256: String,
}

impl From<EntryLine> for Entry {
    fn from(l: EntryLine) -> Self {
        Entry {
            run: HistoryEntry {
                at: l.at,
                schedule: l.schedule,
                kind: l.kind,
                ok: l.ok,
                status: l.status,
                run_url: l.run_url,
                total_seconds: l.total_seconds,
                rto_seconds: l.rto_seconds,
            },
            action: l.action,
            operator: l.operator,
            targets: l.targets,
            report_sha256: l.report_sha256,
        }
    }
}

/// A chained line as written: its `prev` and the entry.
#[derive(Serialize)]
struct Chained<'a> {
    prev: &'a str,
    #[serde(flatten)]
    entry: &'a Entry,
}

#[derive(Serialize)]
struct Genesis<'a> {
    genesis: &'a str,
    #[serde(with = "rfc3339")]
    at: DateTime<Utc>,
    /// The lines written before the chain began, covered by one digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    adopted: Option<Adopted>,
    note: String,
}

#[derive(Serialize)]
struct Adopted {
    lines: usize,
    sha256: String,
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The entry of a run: its outcome per target and the slowest restore against its target's RTO.
/// `status` is the KPI after the run (set again when the entry is appended).
pub fn entry_of(
    loaded: &Loaded,
    report: &Report,
    report_sha256: &str,
    status: KpiStatus,
    operator: Operator,
) -> Entry {
    let mut worst: Option<(f64, Option<u64>)> = None;
    let ratio = |(total, rto): (f64, Option<u64>)| match rto {
        Some(r) if r > 0 => total / r as f64,
        _ => 0.0,
    };
    for t in &report.targets {
        let Some(total) = t.metrics.get("total_seconds").and_then(|v| v.as_f64()) else {
            continue;
        };
        let rto = loaded
            .config
            .targets
            .iter()
            .find(|c| c.name == t.name)
            .and_then(|c| c.rto.as_ref())
            .map(|d| d.secs());
        if worst.is_none_or(|w| ratio((total, rto)) > ratio(w)) {
            worst = Some((total, rto));
        }
    }
    let action = if report.chaos {
        "chaos-drill"
    } else {
        match report.kind {
            Mode::DryRun => "dry-run",
            Mode::FullRestore => "full-restore",
        }
    };
    Entry {
        run: HistoryEntry {
            at: report.finished_at,
            schedule: report.schedule,
            kind: report.kind.as_str().to_string(),
            ok: report.ok,
            status,
            run_url: report.run.as_ref().map(|r| r.url.clone()),
            total_seconds: worst.map(|w| w.0),
            rto_seconds: worst.and_then(|w| w.1),
        },
        action: action.to_string(),
        operator,
        targets: report
            .targets
            .iter()
            .map(|t| TargetOutcome {
                name: t.name.clone(),
                ok: t.ok,
                failed: t.failed_checks().map(|c| c.name.clone()).collect(),
                age_seconds: t.latest.as_ref().map(|l| l.age_seconds),
                objects: t.evidence.objects,
                bytes: t.evidence.bytes,
                retention_slots: t.evidence.retention_slots,
                retention_filled: t.evidence.retention_filled,
                health: None,
                metrics: t.metrics.clone(),
            })
            .collect(),
        report_sha256: report_sha256.to_string(),
    }
}

/// A chained line (without its newline) for `body`, a serialised JSON object.
fn seal(body: &str) -> String {
    let rest = body.strip_prefix('{').unwrap_or(body);
    let sep = if rest.starts_with('}') { "" } else { "," };
    let digest = sha256_hex(format!("{HEAD}\"{sep}{rest}").as_bytes());
    format!("{HEAD}{digest}\"{sep}{rest}")
}

/// Whether `line` carries its own digest and the digest matches its bytes. The digest is fed
/// the line's parts rather than a copy of the line without it: verifying a long history
/// hashes every line, so no line is copied for it.
fn seal_holds(line: &str) -> Result<(), String> {
    let Some(after) = line.strip_prefix(HEAD) else {
        return Err("it does not start with its own sha256".into());
    };
    let (digest, rest) = after.split_at_checked(64).unwrap_or(("", after));
    let rest = rest.strip_prefix('"').unwrap_or("");
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("its sha256 is not 64 hex digits".into());
    }
    let computed = hex::encode(
        Sha256::new()
            .chain_update(HEAD)
            .chain_update("\"")
            .chain_update(rest)
            .finalize(),
    );
    if computed != digest {
        return Err(format!(
            "its content does not match its own sha256 (edited after it was written: the \
             line hashes to {}…, it claims {}…)",
            &computed[..12],
            &digest[..12]
        ));
    }
    Ok(())
}

/// What a verified history holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chain {
    /// No lines at all.
    Empty,
    /// Lines, and no genesis entry: written before chaining; the next run adopts them.
    Unchained { lines: usize },
    /// A chain from its genesis on line `genesis_line` (1-based) to the last line, intact.
    Intact {
        lines: usize,
        genesis_line: usize,
        /// The SHA-256 of the last line, the `prev` of the next one.
        head: String,
    },
}

/// The first line that breaks the chain (1-based), and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Broken {
    pub line: usize,
    pub reason: String,
}

/// The lines of a history file, without their newlines; a last line without one counts.
fn lines_of(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

fn parse(line: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str::<serde_json::Value>(line).ok()? {
        serde_json::Value::Object(o) => Some(o),
        _ => None,
    }
}

/// The keys the chain is checked by, read from a line without building the rest of it (a run
/// entry carries every target's outcome; only these two keys matter to the chain).
#[derive(Deserialize)]
struct Keys {
    /// Whether the line has a `genesis` key, whatever its value.
    #[serde(default, deserialize_with = "present")]
    genesis: bool,
    /// The `prev` key's value, when the line has one.
    #[serde(default, deserialize_with = "some_value")]
    prev: Option<serde_json::Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

fn some_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// A line's chain keys, if it is a JSON object.
fn keys(line: &str) -> Option<Keys> {
    // A struct also reads from a JSON array; only an object is an entry.
    if !line.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

/// Checks the whole chain and names the first line that breaks it.
pub fn verify(text: &str) -> Result<Chain, Broken> {
    let lines = lines_of(text);
    if lines.is_empty() {
        return Ok(Chain::Empty);
    }
    let broken = |i: usize, reason: String| Broken {
        line: i + 1,
        reason,
    };
    // Lines before the genesis were written before chaining; none of them may look chained.
    let mut genesis = None;
    for (i, line) in lines.iter().enumerate() {
        let obj = keys(line);
        let is_genesis = obj.as_ref().is_some_and(|o| o.genesis);
        if is_genesis {
            genesis = Some(i);
            break;
        }
        if line.starts_with(HEAD) || obj.as_ref().is_some_and(|o| o.prev.is_some()) {
            // A chained line whose `prev` names something else than the line above it: that
            // line is where the chain broke (a genesis entry changed beyond recognition).
            let prev = obj
                .as_ref()
                .and_then(|o| o.prev.as_ref()?.as_str().map(str::to_string));
            if i > 0 && prev.is_some_and(|p| p != sha256_hex(lines[i - 1].as_bytes())) {
                return Err(broken(
                    i - 1,
                    "not the line the chain's next line names (the genesis entry was changed \
                     or removed)"
                        .into(),
                ));
            }
            return Err(broken(
                i,
                "a chained line before any genesis entry (the genesis entry was removed, or \
                 lines were moved above it)"
                    .into(),
            ));
        }
    }
    let Some(g) = genesis else {
        return Ok(Chain::Unchained { lines: lines.len() });
    };
    seal_holds(lines[g]).map_err(|r| broken(g, format!("the genesis entry: {r}")))?;
    let obj = parse(lines[g]).unwrap_or_default();
    let adopted_bytes: String = lines[..g].iter().map(|l| format!("{l}\n")).collect();
    let recorded = obj.get("adopted");
    let want_lines = recorded
        .and_then(|a| a.get("lines"))
        .and_then(serde_json::Value::as_u64);
    let want_sha = recorded
        .and_then(|a| a.get("sha256"))
        .and_then(serde_json::Value::as_str);
    match (g, want_lines, want_sha) {
        (0, None, None) => {}
        (_, None, None) => {
            return Err(broken(
                0,
                "above a genesis entry that adopted no lines: added after the chain began".into(),
            ));
        }
        (n, Some(l), Some(sha))
            if l as usize == n && sha == sha256_hex(adopted_bytes.as_bytes()) => {}
        (n, _, _) => {
            return Err(broken(
                g,
                format!(
                    "the genesis entry adopted {} unchained lines; the {n} lines above it no \
                     longer match what it recorded (one of them was changed, removed or added)",
                    want_lines.unwrap_or(0)
                ),
            ));
        }
    }
    // Each line is hashed once: its digest is the `prev` the next line must name.
    let mut want = sha256_hex(lines[g].as_bytes());
    for (i, &line) in lines.iter().enumerate().skip(g + 1) {
        seal_holds(line).map_err(|r| broken(i, r))?;
        let obj = keys(line).ok_or_else(|| broken(i, "not a JSON object".into()))?;
        if obj.genesis {
            return Err(broken(
                i,
                format!("a second genesis entry (the chain began on line {})", g + 1),
            ));
        }
        match obj.prev.as_ref().and_then(serde_json::Value::as_str) {
            Some(prev) if prev == want => {}
            Some(_) => {
                return Err(broken(
                    i,
                    format!(
                        "its prev does not match line {} (a line was removed, inserted or \
                         moved before it)",
                        i
                    ),
                ));
            }
            None => return Err(broken(i, "no prev: it is not chained".into())),
        }
        want = sha256_hex(line.as_bytes());
    }
    Ok(Chain::Intact {
        lines: lines.len(),
        genesis_line: g + 1,
        head: want,
    })
}

/// Checks an intact chain against the last line's SHA-256 recorded elsewhere (the KPI state
/// committed with it): a history whose end was cut off, or that was replaced whole, verifies on
/// its own but no longer ends where the record says.
pub fn check_head(text: &str, chain: &Chain, recorded: &str) -> Result<(), Broken> {
    let lines = lines_of(text);
    match chain {
        Chain::Intact { head, .. } if head == recorded => Ok(()),
        _ => match lines
            .iter()
            .position(|l| sha256_hex(l.as_bytes()) == recorded)
        {
            Some(i) => Err(Broken {
                line: i + 2,
                reason: format!(
                    "the KPI state committed with the history ends it at line {}; the lines \
                     after it were added by something else",
                    i + 1
                ),
            }),
            None => Err(Broken {
                line: lines.len() + 1,
                reason: format!(
                    "missing: the KPI state committed with the history names a last line \
                     ({}…) that is not in it; lines were removed from its end, or it was replaced",
                    recorded.get(..12).unwrap_or(recorded)
                ),
            }),
        },
    }
}

/// The SHA-256 of the last line of a history (what [`check_head`] compares with).
pub fn head_of(text: &str) -> Option<String> {
    lines_of(text).last().map(|l| sha256_hex(l.as_bytes()))
}

/// The history with `entry` appended: on an intact chain after its last line, on an empty
/// history after a new genesis entry, on an unchained history after a genesis entry that adopts
/// its lines. A broken chain is never appended to.
pub fn append(text: &str, entry: &Entry, now: DateTime<Utc>) -> Result<String, Broken> {
    append_all(text, std::slice::from_ref(entry), now)
}

/// The history with `entries` appended in order, as [`append`] would one by one, with the
/// chain verified once (a backfill, or a long history generated for a test).
pub fn append_all(text: &str, entries: &[Entry], now: DateTime<Utc>) -> Result<String, Broken> {
    let chain = verify(text)?;
    Ok(append_verified(text, &chain, entries, now).0)
}

/// [`append_all`] on a history whose chain the caller has just verified (`chain` is what
/// [`verify`] said of `text`), and the chain of the result, so neither is checked again.
pub fn append_verified(
    text: &str,
    chain: &Chain,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> (String, Chain) {
    let mut out: String = lines_of(text).iter().map(|l| format!("{l}\n")).collect();
    let (head, genesis_line, before) = match chain.clone() {
        Chain::Intact {
            head,
            genesis_line,
            lines,
        } => (head, genesis_line, lines),
        start => {
            let adopted = match start {
                Chain::Unchained { lines } => Some(Adopted {
                    lines,
                    sha256: sha256_hex(out.as_bytes()),
                }),
                _ => None,
            };
            let note = match &adopted {
                Some(a) => format!(
                    "the {} lines above were written before the history was chained; they are \
                     adopted as they are, covered by their SHA-256, not checked one by one",
                    a.lines
                ),
                None => "the history starts here".to_string(),
            };
            let body = serde_json::to_string(&Genesis {
                genesis: CHAIN_FORMAT,
                at: now,
                adopted,
                note,
            })
            .unwrap_or_default();
            let line = seal(&body);
            out.push_str(&line);
            out.push('\n');
            let above = match start {
                Chain::Unchained { lines } => lines,
                _ => 0,
            };
            (sha256_hex(line.as_bytes()), above + 1, above + 1)
        }
    };
    let mut head = head;
    for entry in entries {
        let body = serde_json::to_string(&Chained { prev: &head, entry }).unwrap_or_default();
        let line = seal(&body);
        head = sha256_hex(line.as_bytes());
        out.push_str(&line);
        out.push('\n');
    }
    let chain = Chain::Intact {
        lines: before + entries.len(),
        genesis_line,
        head,
    };
    (out, chain)
}

/// The run entries of a history, oldest first; lines that are not chained run entries (the
/// genesis, lines written before chaining, junk) are left out.
pub fn entries(text: &str) -> Vec<Entry> {
    lines_of(text)
        .into_iter()
        .filter(|l| l.starts_with(HEAD))
        // One reading per line: the genesis key is read with the entry.
        .filter_map(|l| serde_json::from_str::<EntryLine>(l).ok())
        .filter(|l| !l.genesis)
        .map(Entry::from)
        .collect()
}

/// Whether a history line is a genesis entry (no run to draw).
pub fn is_genesis(line: &str) -> bool {
    line.starts_with(HEAD) && keys(line).is_some_and(|o| o.genesis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Schedule;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap()
    }

    fn entry(day: u32, ok: bool) -> Entry {
        Entry {
            run: HistoryEntry {
                at: at(day),
                schedule: Schedule::Weekly,
                kind: "dry-run".into(),
                ok,
                status: if ok {
                    KpiStatus::Green
                } else {
                    KpiStatus::Amber
                },
                run_url: Some(format!("https://github.com/acme/app/actions/runs/{day}")),
                total_seconds: None,
                rto_seconds: None,
            },
            action: "dry-run".into(),
            operator: Operator {
                actor: Some("octocat".into()),
                triggering_actor: Some("octocat".into()),
                workflow: Some("dr-weekly".into()),
                event: Some("schedule".into()),
                run_url: Some(format!("https://github.com/acme/app/actions/runs/{day}")),
            },
            targets: vec![TargetOutcome {
                name: "orders-db".into(),
                ok,
                failed: if ok { vec![] } else { vec!["freshness".into()] },
                age_seconds: Some(3600),
                objects: Some(30),
                bytes: Some(30 << 20),
                retention_slots: None,
                retention_filled: None,
                health: None,
                metrics: serde_json::Map::new(),
            }],
            report_sha256: sha256_hex(format!("report {day}").as_bytes()),
        }
    }

    /// A chain of a genesis and five entries.
    fn chain() -> String {
        let mut text = String::new();
        for day in 1..=5 {
            text = append(&text, &entry(day, day != 3), at(day)).unwrap();
        }
        text
    }

    #[test]
    fn the_chain_append_verified_reports_is_the_one_verify_finds_in_what_it_wrote() {
        let unchained = history_line(&entry(1, true).run) + &history_line(&entry(2, false).run);
        let two = [entry(6, true), entry(7, false)];
        for start in [String::new(), unchained, chain()] {
            for n in 0..=2 {
                let before = verify(&start).unwrap();
                let (text, after) = append_verified(&start, &before, &two[..n], at(8));
                assert_eq!(
                    after,
                    verify(&text).unwrap(),
                    "from {before:?}, {n} entries"
                );
                assert_eq!(text, append_all(&start, &two[..n], at(8)).unwrap());
                assert_eq!(entries(&text).len(), entries(&start).len() + n);
            }
        }
    }

    #[test]
    fn a_chain_built_by_appending_verifies_and_its_lines_are_trend_entries() {
        let text = chain();
        let lines = lines_of(&text);
        assert_eq!(lines.len(), 6);
        assert!(is_genesis(lines[0]));
        assert_eq!(
            verify(&text).unwrap(),
            Chain::Intact {
                lines: 6,
                genesis_line: 1,
                head: sha256_hex(lines[5].as_bytes()),
            }
        );
        let (entries, skipped) = parse_history(&text);
        assert_eq!((entries.len(), skipped), (5, 0));
        // Each entry names the one before it by the SHA-256 of its bytes.
        let second: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(second["prev"], sha256_hex(lines[1].as_bytes()));
        assert_eq!(second["operator"]["actor"], "octocat");
        assert_eq!(second["action"], "dry-run");
    }

    #[test]
    fn changing_any_byte_of_any_line_is_caught_on_that_line() {
        let text = chain();
        let lines = lines_of(&text);
        for (n, line) in lines.iter().enumerate() {
            for pos in 0..line.len() {
                let mut bytes = line.as_bytes().to_vec();
                // Flip a bit that keeps ASCII ASCII (and never makes a newline).
                bytes[pos] ^= 1;
                let Ok(changed) = String::from_utf8(bytes) else {
                    continue;
                };
                let mut all: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                all[n] = changed;
                let tampered: String = all.iter().map(|l| format!("{l}\n")).collect();
                let err = verify(&tampered).expect_err(&format!("line {} byte {pos}", n + 1));
                assert_eq!(err.line, n + 1, "byte {pos} of line {}: {err}", n + 1);
            }
        }
    }

    #[test]
    fn a_deleted_line_is_named_by_the_line_after_it() {
        let text = chain();
        let mut lines = lines_of(&text);
        lines.remove(3);
        let tampered: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let err = verify(&tampered).unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(err.reason.contains("prev does not match line 3"), "{err}");
    }

    #[test]
    fn a_history_cut_short_is_caught_by_the_head_recorded_with_it() {
        let text = chain();
        let head = head_of(&text).unwrap();
        let intact = verify(&text).unwrap();
        assert_eq!(check_head(&text, &intact, &head), Ok(()));
        // The last line removed: the chain alone still holds, the recorded head does not.
        let mut lines = lines_of(&text);
        lines.pop();
        let cut: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let chain = verify(&cut).unwrap();
        let err = check_head(&cut, &chain, &head).unwrap_err();
        assert_eq!(err.line, 6, "{err}");
        assert!(err.reason.starts_with("missing:"), "{err}");
        // A line appended behind the tool's back.
        let more = append(&text, &entry(9, true), at(9)).unwrap();
        let err = check_head(&more, &verify(&more).unwrap(), &head).unwrap_err();
        assert_eq!(err.line, 7, "{err}");
    }

    #[test]
    fn two_swapped_lines_are_named() {
        let text = chain();
        let mut lines = lines_of(&text);
        lines.swap(2, 4);
        let tampered: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert_eq!(verify(&tampered).unwrap_err().line, 3);
        // The genesis moved down is caught too.
        let mut lines = lines_of(&text);
        lines.swap(0, 1);
        let tampered: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let err = verify(&tampered).unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        assert!(err.reason.contains("before any genesis"), "{err}");
        // A line slipped in above the genesis.
        let err = verify(&format!("{{\"ok\":true}}\n{text}")).unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        assert!(err.reason.contains("added after the chain began"), "{err}");
    }

    #[test]
    fn an_unchained_history_is_adopted_and_a_change_to_it_later_is_caught() {
        let old = history_line(&entry(1, true).run) + &history_line(&entry(2, false).run);
        assert_eq!(verify(&old).unwrap(), Chain::Unchained { lines: 2 });
        let text = append(&old, &entry(3, true), at(3)).unwrap();
        assert!(text.starts_with(&old), "adopted lines are kept as they are");
        let lines = lines_of(&text);
        assert!(is_genesis(lines[2]));
        let genesis: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(genesis["adopted"]["lines"], 2);
        assert!(
            genesis["note"]
                .as_str()
                .unwrap()
                .contains("before the history was chained")
        );
        assert!(matches!(
            verify(&text),
            Ok(Chain::Intact {
                genesis_line: 3,
                ..
            })
        ));
        let (entries, skipped) = parse_history(&text);
        assert_eq!((entries.len(), skipped), (3, 0));
        let tampered = text.replacen("\"ok\":false", "\"ok\":true", 1);
        let err = verify(&tampered).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.reason.contains("no longer match"), "{err}");
        // And a broken chain is never appended to.
        assert_eq!(
            append(&tampered, &entry(4, true), at(4)).unwrap_err().line,
            3
        );
    }
}
