//! Client-side encryption (`encryption:` on a target) end to end through the binary: backups
//! made by the real tools (`sqlite3`, `gzip`, `tar`, `age`, `age-keygen`, `openssl`,
//! `sha256sum`) in a local folder and in moto; the weekly check recognises them, the monthly
//! deep read decrypts and decompresses the whole stream, the quarterly restore decrypts into
//! its engine; a wrong key, a changed byte, a plain backup where an encrypted one is expected
//! and an unset key variable fail and say why; the key never shows in any output.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::moto::{Moto, Sse, put};
use crate::restore::{failed, passed, quarterly};
use crate::sets::{self, run};
use crate::util::{Dir, Run};

const HOUR: Duration = Duration::from_secs(3600);

/// A SQLite database made by `sqlite3` with `rows` orders, gzip'd by `gzip -c`.
fn sqlite_gz(work: &Path, rows: u32) -> Vec<u8> {
    let db = work.join("app.sqlite");
    let _ = std::fs::remove_file(&db);
    let sql = format!(
        "create table orders (id integer primary key, amount integer); with recursive n(i) as (select 1 union all select i + 1 from n where i < {rows}) insert into orders (amount) select i * 10 from n;"
    );
    run(Command::new("sqlite3").arg(&db).arg(sql));
    run(Command::new("gzip").arg("-c").arg(&db))
}

/// `sha256sum`'s line for `bytes` stored as `name`.
fn sidecar(work: &Path, name: &str, bytes: &[u8]) -> String {
    format!("{}  {name}\n", sets::sha256sum(work, "to-hash", bytes))
}

/// `age-keygen`: the identity file's text and its recipient.
fn keygen(work: &Path, name: &str) -> (String, String) {
    let path = work.join(name);
    run(Command::new("age-keygen").arg("-o").arg(&path));
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (text, recipient)
}

/// `age -r RECIPIENT`.
fn age_to(work: &Path, plain: &[u8], recipient: &str) -> Vec<u8> {
    std::fs::write(work.join("plain"), plain).unwrap();
    run(Command::new("age")
        .args(["-r", recipient, "-o"])
        .arg(work.join("sealed"))
        .arg(work.join("plain")));
    std::fs::read(work.join("sealed")).unwrap()
}

/// `age -p`, answering its passphrase prompts on a terminal (it reads them from nowhere else).
fn age_passphrase(work: &Path, plain: &[u8], passphrase: &str) -> Vec<u8> {
    std::fs::write(work.join("plain"), plain).unwrap();
    let script = r#"
import os, pty, sys
out, inp, pw = sys.argv[1], sys.argv[2], sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp("age", ["age", "-p", "-o", out, inp])
seen, answered = b"", 0
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    while answered < 2 and seen.lower().count(b"passphrase") > answered:
        os.write(fd, pw + b"\n")
        answered += 1
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(work.join("sealed"))
        .arg(work.join("plain"))
        .arg(passphrase));
    std::fs::read(work.join("sealed")).unwrap()
}

/// `openssl enc -aes-256-cbc -pbkdf2 -pass env:PASS`.
fn openssl_salted(work: &Path, plain: &[u8], pass: &str) -> Vec<u8> {
    std::fs::write(work.join("plain"), plain).unwrap();
    run(Command::new("openssl")
        .args([
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-salt",
            "-pass",
            "env:PASS",
            "-in",
        ])
        .arg(work.join("plain"))
        .env("PASS", pass))
}

/// Seed 004's layout: `openssl enc -aes-256-cbc -K KEY -iv IV`, the IV written in front.
fn openssl_iv(work: &Path, plain: &[u8], key: &str, iv: &str) -> Vec<u8> {
    std::fs::write(work.join("plain"), plain).unwrap();
    let body = run(Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-K", key, "-iv", iv, "-in"])
        .arg(work.join("plain")));
    let mut sealed = hex::decode(iv).unwrap();
    sealed.extend(body);
    sealed
}

/// Stores `bytes` under `backups/db/NAME` with its `sha256sum` sidecar, aged `age`.
fn store(dir: &Dir, work: &Path, name: &str, bytes: &[u8], age: Duration) {
    let rel = format!("backups/db/{name}");
    dir.write(&rel, bytes);
    dir.age(&rel, age);
    dir.write(&format!("{rel}.sha256"), sidecar(work, name, bytes));
}

fn config(dir: &Dir, pattern: &str, encryption: &str) {
    dir.write(
        "dr.yml",
        format!(
            "version: 1\nstorage:\n  local: ./backups\ntargets:\n  - name: t\n    prefix: db/\n    match: \"{pattern}\"\n    format: sqlite\n    rpo: 1d\n    rto: 5m\n    encryption: {encryption}\n    restore:\n      engine: sqlite\n      validate:\n        - sql: \"select count(*) from orders\"\n          expect-min: 100\n"
        ),
    );
}

/// [`sets::dry_run`] with borrowed values.
fn dry_run(dir: &Dir, schedule: &str, env: &[(&str, &str)]) -> (Run, serde_json::Value) {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
    sets::dry_run(dir, schedule, &env)
}

/// Nothing the run wrote (stdout, stderr, the reports) holds `secret`.
fn assert_never_shown(run: &Run, dir: &Dir, secret: &str) {
    let secret = secret.trim();
    assert!(!run.stdout().contains(secret), "stdout shows the key");
    assert!(!run.stderr().contains(secret), "stderr shows the key");
    for entry in walkdir::WalkDir::new(dir.join("out")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(
                !text.contains(secret),
                "{} shows the key",
                entry.path().display()
            );
        }
    }
}

#[test]
fn encryption_age_backups_pass_weekly_monthly_and_restore_decrypting_in_the_stream() {
    let dir = Dir::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (identity, recipient) = keygen(w, "key.txt");
    store(
        &dir,
        w,
        "2026-11-29.sqlite.gz.age",
        &age_to(w, &sqlite_gz(w, 150), &recipient),
        HOUR * 25,
    );
    let newest = age_to(w, &sqlite_gz(w, 200), &recipient);
    store(&dir, w, "2026-11-30.sqlite.gz.age", &newest, HOUR);
    config(
        &dir,
        "*.sqlite.gz.age",
        "{ kind: age, identity-env: DR_AGE_IDENTITY }",
    );
    let env = [("DR_AGE_IDENTITY", identity.as_str())];

    let (r, t) = dry_run(&dir, "weekly", &env);
    assert_never_shown(&r, &dir, &identity);
    r.expect_code(0);
    let d = passed(&t, "format");
    assert_eq!(d, "age-encrypted, gzip, SQLite database");

    let (r, t) = dry_run(&dir, "monthly", &env);
    r.expect_code(0);
    let d = passed(&t, "format");
    assert!(
        d.contains("age-encrypted, gzip, SQLite database; whole stream intact"),
        "{d}"
    );
    passed(&t, "checksum");

    let (r, t) = quarterly(&dir, &[], &env);
    assert_never_shown(&r, &dir, &identity);
    r.expect_code(0);
    let d = passed(&t, "restore");
    assert!(d.contains("SQLite database"), "{d}");
    assert!(passed(&t, "validate[0]").contains("200"), "{t:#}");
    assert_eq!(
        t["metrics"]["bytes"].as_u64(),
        Some(newest.len() as u64),
        "{t:#}"
    );
}

#[test]
fn encryption_a_wrong_identity_a_changed_byte_and_an_unset_variable_fail_naming_the_cause() {
    let dir = Dir::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (_, recipient) = keygen(w, "theirs.txt");
    let (mine, _) = keygen(w, "mine.txt");
    store(
        &dir,
        w,
        "2026-11-30.sqlite.gz.age",
        &age_to(w, &sqlite_gz(w, 200), &recipient),
        HOUR,
    );
    config(
        &dir,
        "*.sqlite.gz.age",
        "{ kind: age, identity-env: DR_AGE_IDENTITY }",
    );

    // Weekly: the first chunk does not open.
    let (r, t) = dry_run(&dir, "weekly", &[("DR_AGE_IDENTITY", mine.as_str())]);
    assert_never_shown(&r, &dir, &mine);
    r.expect_code(1);
    let d = failed(&t, "format");
    assert!(d.contains("no identity matches"), "{d}");
    // Quarterly: refused before any engine runs.
    let (r, t) = quarterly(&dir, &[], &[("DR_AGE_IDENTITY", mine.as_str())]);
    r.expect_code(1);
    let d = failed(&t, "restore");
    assert!(d.contains("no identity matches"), "{d}");
    // The variable unset: named, for every schedule.
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    assert_eq!(
        failed(&t, "format"),
        "the variable DR_AGE_IDENTITY (encryption) is not set"
    );

    // A byte changed past the first chunk, its sidecar made anew (the store holds what it was
    // given): weekly cannot see it, monthly reads the whole stream and fails.
    let (identity, recipient) = keygen(w, "key.txt");
    let mut sealed = age_to(w, &sqlite_gz(w, 20_000), &recipient);
    // Past the first 64 KiB chunk, which is all the weekly check decrypts.
    assert!(sealed.len() > 80_000, "{}", sealed.len());
    let at = sealed.len() - 1000;
    sealed[at] ^= 0x40;
    store(&dir, w, "2026-11-30.sqlite.gz.age", &sealed, HOUR);
    let env = [("DR_AGE_IDENTITY", identity.as_str())];
    let (r, _) = dry_run(&dir, "weekly", &env);
    r.expect_code(0);
    let (r, t) = dry_run(&dir, "monthly", &env);
    r.expect_code(1);
    let d = failed(&t, "format");
    assert!(d.contains("decompression failed after reading"), "{d}");
    assert!(d.contains("age: a chunk did not authenticate"), "{d}");
}

#[test]
fn encryption_a_plain_backup_where_an_encrypted_one_is_expected_fails_and_the_reverse() {
    let dir = Dir::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    store(&dir, w, "2026-11-30.sqlite.gz", &sqlite_gz(w, 200), HOUR);
    config(
        &dir,
        "*.sqlite.gz",
        "{ kind: openssl, key-env: DR_BACKUP_KEY }",
    );
    let (r, t) = dry_run(&dir, "weekly", &[("DR_BACKUP_KEY", "pw")]);
    r.expect_code(1);
    let d = failed(&t, "format");
    assert_eq!(
        d,
        "the object is not encrypted (gzip) but the target's encryption is openssl aes-256-cbc"
    );

    let (_, recipient) = keygen(w, "key.txt");
    let sealed = age_to(w, &sqlite_gz(w, 200), &recipient);
    store(&dir, w, "2026-11-30.sqlite.gz", &sealed, HOUR);
    let plain = std::fs::read_to_string(dir.join("dr.yml"))
        .unwrap()
        .replace(
            "    encryption: { kind: openssl, key-env: DR_BACKUP_KEY }\n",
            "",
        );
    dir.write("dr.yml", plain);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    assert_eq!(
        failed(&t, "format"),
        "the object is age-encrypted and the target has no `encryption` to open it"
    );
}

#[test]
fn encryption_openssl_passphrase_files_restore_and_a_wrong_passphrase_is_named() {
    let dir = Dir::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let pass = "seed 004 passphrase, not a real one";
    let sealed = openssl_salted(w, &sqlite_gz(w, 300), pass);
    store(&dir, w, "2026-11-30.sqlite.gz.enc", &sealed, HOUR);
    config(
        &dir,
        "*.sqlite.gz.enc",
        "{ kind: openssl, cipher: aes-256-cbc, key-env: DR_BACKUP_KEY }",
    );
    let env = [("DR_BACKUP_KEY", pass)];
    let (r, t) = dry_run(&dir, "weekly", &env);
    r.expect_code(0);
    assert_eq!(
        passed(&t, "format"),
        "aes-256-cbc (openssl Salted__, PBKDF2), gzip, SQLite database"
    );
    let (r, t) = dry_run(&dir, "monthly", &env);
    r.expect_code(0);
    assert!(passed(&t, "format").contains("whole stream intact"));
    let (r, t) = quarterly(&dir, &[], &env);
    assert_never_shown(&r, &dir, pass);
    r.expect_code(0);
    assert!(passed(&t, "validate[0]").contains("300"), "{t:#}");

    // CBC does not authenticate: a wrong passphrase decrypts to noise, named as such.
    let (r, t) = dry_run(&dir, "weekly", &[("DR_BACKUP_KEY", "wrong")]);
    r.expect_code(1);
    let d = failed(&t, "format");
    assert!(d.contains("a wrong key, or a damaged object"), "{d}");
    let (r, t) = quarterly(&dir, &[], &[("DR_BACKUP_KEY", "wrong")]);
    r.expect_code(1);
    let d = failed(&t, "restore");
    assert!(d.contains("a wrong key"), "{d}");
}

/// Seed 004: a set folder of `*.gz.enc` parts encrypted with a raw 32-byte key, the IV in
/// front, and a `metadata.json` listing each part's size and SHA-256.
#[test]
fn encryption_a_set_of_raw_key_parts_with_a_manifest_restores_each_part() {
    let dir = Dir::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let key = "8f2c1d7e4b6a90355e1f0c2d8b7a6e5f4c3b2a1908f7e6d5c4b3a29180706f5e";
    std::fs::create_dir_all(w.join("site/uploads")).unwrap();
    std::fs::write(w.join("site/uploads/a.txt"), "uploaded file\n").unwrap();
    run(Command::new("tar")
        .arg("-czf")
        .arg(w.join("files.tar.gz"))
        .arg("-C")
        .arg(w)
        .arg("site"));
    std::fs::write(w.join("config.json"), r#"{"retention": {"daily": 30}}"#).unwrap();
    let config_gz = run(Command::new("gzip").arg("-c").arg(w.join("config.json")));
    let plain = [
        ("app.sqlite.gz.enc", sqlite_gz(w, 120)),
        (
            "files.tar.gz.enc",
            std::fs::read(w.join("files.tar.gz")).unwrap(),
        ),
        ("config.json.gz.enc", config_gz),
    ];
    let ivs = [
        "000102030405060708090a0b0c0d0e0f",
        "101112131415161718191a1b1c1d1e1f",
        "202122232425262728292a2b2c2d2e2f",
    ];
    let mut listed = Vec::new();
    for ((name, bytes), iv) in plain.iter().zip(ivs) {
        let sealed = openssl_iv(w, bytes, key, iv);
        let rel = format!("backups/app/full_2000/{name}");
        dir.write(&rel, &sealed);
        dir.age(&rel, HOUR);
        let sum = sidecar(w, name, &sealed);
        listed.push(serde_json::json!({
            "name": name,
            "size": sealed.len(),
            "sha256": sum.split_whitespace().next().unwrap(),
        }));
    }
    let manifest = serde_json::json!({ "id": "full_2000", "encrypted": true, "parts": listed });
    dir.write(
        "backups/app/full_2000/metadata.json",
        serde_json::to_vec(&manifest).unwrap(),
    );
    dir.age("backups/app/full_2000/metadata.json", HOUR);
    dir.write(
        "dr.yml",
        r#"version: 1
storage:
  local: ./backups
targets:
  - name: app
    prefix: app/
    match: "full_*"
    format: file
    rpo: 2d
    rto: 10m
    encryption: { kind: openssl, key-env: BACKUP_ENCRYPTION_KEY }
    set:
      manifest: metadata.json
      engines:
        app.sqlite.gz.enc: sqlite
        files.tar.gz.enc: files
        config.json.gz.enc: command
    restore:
      engine: files
      command: ["sh", "-c", "grep -c retention >/dev/null"]
      validate:
        - command: ["sh", "-c", "test -f \"$DR_RESTORE_DIR/site/uploads/a.txt\""]
"#,
    );
    let env = [("BACKUP_ENCRYPTION_KEY", key)];
    let (r, t) = dry_run(&dir, "weekly", &env);
    r.expect_code(0);
    let d = passed(&t, "part files.tar.gz.enc");
    assert!(
        d.contains("aes-256-cbc (IV in front), gzip, tar archive"),
        "{d}"
    );
    let (r, t) = dry_run(&dir, "monthly", &env);
    r.expect_code(0);
    for (name, _) in &plain {
        let d = passed(&t, &format!("part {name}"));
        assert!(d.contains("matches, whole stream intact"), "{d}");
    }
    let (r, t) = quarterly(&dir, &[], &env);
    assert_never_shown(&r, &dir, key);
    r.expect_code(0);
    let d = passed(&t, "restore");
    assert!(d.contains("3 parts of full_2000 restored"), "{d}");
    assert!(passed(&t, "part app.sqlite.gz.enc").starts_with("sqlite: "));
    assert!(passed(&t, "part files.tar.gz.enc").starts_with("files: "));

    // Another key: every part is noise, and the first one names it.
    let other = "00".repeat(32);
    let (r, t) = dry_run(&dir, "weekly", &[("BACKUP_ENCRYPTION_KEY", other.as_str())]);
    r.expect_code(1);
    let d = failed(&t, "part app.sqlite.gz.enc");
    assert!(d.contains("a wrong key"), "{d}");
}

#[test]
fn encryption_an_age_passphrase_backup_in_s3_passes_the_monthly_deep_read() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let pass = "a passphrase age -p was given";
    let sealed = age_passphrase(w, &sqlite_gz(w, 500), pass);
    assert!(sealed.starts_with(b"age-encryption.org/v1\n-> scrypt"));
    let line = sidecar(w, "2026-11-30.sqlite.gz.age", &sealed);
    rt.block_on(async {
        moto.create_bucket("sealed").await;
        let kms = moto.create_kms_key().await;
        let s3 = moto.s3();
        let sse = Sse::Kms(&kms);
        put(
            &s3,
            "sealed",
            "db/2026-11-30.sqlite.gz.age",
            sealed,
            sse,
            false,
        )
        .await;
        put(
            &s3,
            "sealed",
            "db/2026-11-30.sqlite.gz.age.sha256",
            line.into_bytes(),
            sse,
            false,
        )
        .await;
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        format!(
            "version: 1\naws:\n  region: eu-west-1\n  endpoint: {}\nstorage:\n  bucket: sealed\ntargets:\n  - name: t\n    prefix: db/\n    match: \"*.sqlite.gz.age\"\n    format: sqlite\n    rpo: 1d\n    encryption: {{ kind: age, passphrase-env: DR_AGE_PASSPHRASE }}\n",
            moto.endpoint()
        ),
    );
    let r = crate::s3::s3_command(&dir)
        .args(["check", "--schedule", "monthly"])
        .env("DR_AGE_PASSPHRASE", pass)
        .output();
    assert_never_shown(&r, &dir, pass);
    r.expect_code(0);
    let t = dir.json("out/dr_dryrun_result.json")["targets"][0].clone();
    let d = passed(&t, "format");
    assert!(
        d.starts_with("age-encrypted, gzip, SQLite database; whole stream intact"),
        "{d}"
    );
    passed(&t, "checksum");
}
