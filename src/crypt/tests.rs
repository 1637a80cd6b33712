//! Decryption against ciphertexts made by the real `openssl` and `age` command-line tools.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use super::*;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Bytes that are not a multiple of the block size and not all alike.
fn plaintext(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn secrets(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::from(v.to_string())))
        .collect()
}

fn openssl(key_env: &str, iterations: u32) -> Encryption {
    Encryption::Openssl {
        cipher: "aes-256-cbc".into(),
        key_env: key_env.into(),
        iterations,
    }
}

fn age_identity(var: &str) -> Encryption {
    Encryption::Age {
        identity_env: Some(var.into()),
        passphrase_env: None,
    }
}

fn decrypt(d: &Decryption, sealed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    d.reader(Box::new(std::io::Cursor::new(sealed.to_vec())))?
        .read_to_end(&mut out)?;
    Ok(out)
}

/// `openssl enc -aes-256-cbc -pbkdf2 [-iter N] -pass env:PASS`.
fn openssl_salted(dir: &Path, plain: &[u8], pass: &str, iter: Option<u32>) -> Vec<u8> {
    std::fs::write(dir.join("plain"), plain).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args([
        "enc",
        "-aes-256-cbc",
        "-pbkdf2",
        "-salt",
        "-pass",
        "env:PASS",
    ])
    .env("PASS", pass)
    .arg("-in")
    .arg(dir.join("plain"))
    .arg("-out")
    .arg(dir.join("sealed"));
    if let Some(n) = iter {
        cmd.args(["-iter", &n.to_string()]);
    }
    run(&mut cmd);
    std::fs::read(dir.join("sealed")).unwrap()
}

#[test]
fn an_openssl_pbkdf2_file_decrypts_with_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    for (len, iter) in [(0, None), (15, None), (16, Some(2000)), (700_001, None)] {
        let plain = plaintext(len);
        let sealed = openssl_salted(dir.path(), &plain, "correct horse", iter);
        assert_eq!(Sealed::detect(&sealed), Some(Sealed::OpensslSalted));
        let d = Decryption::from_config(
            &openssl("K", iter.unwrap_or(10_000)),
            &secrets(&[("K", "correct horse")]),
        )
        .unwrap();
        assert_eq!(
            d.expect(&sealed, sealed.len() as u64, None),
            Ok(Sealed::OpensslSalted)
        );
        let got = decrypt(&d, &sealed).unwrap();
        assert!(got == plain, "{len} bytes differ after decryption");
    }
}

#[test]
fn a_raw_key_with_the_iv_in_front_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let iv = "0f0e0d0c0b0a09080706050403020100";
    let plain = plaintext(300_000);
    std::fs::write(dir.path().join("plain"), &plain).unwrap();
    let body = run(Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-K", key, "-iv", iv, "-in"])
        .arg(dir.path().join("plain")));
    let mut sealed = hex::decode(iv).unwrap();
    sealed.extend(body);
    let d = Decryption::from_config(&openssl("K", 10_000), &secrets(&[("K", key)])).unwrap();
    assert_eq!(
        d.expect(&sealed, sealed.len() as u64, None),
        Ok(Sealed::OpensslIv)
    );
    assert!(decrypt(&d, &sealed).unwrap() == plain);
    // Cut short by a block: not the plaintext, and an error at the end.
    let cut = &sealed[..sealed.len() - 16];
    assert!(decrypt(&d, cut).is_err_and(|e| e.to_string().contains("padding")));
    // Not whole blocks.
    let odd = &sealed[..sealed.len() - 5];
    assert!(decrypt(&d, odd).is_err_and(|e| e.to_string().contains("not whole AES blocks")));
}

#[test]
fn a_raw_key_must_be_64_hex_digits() {
    let d = Decryption::from_config(&openssl("K", 10_000), &secrets(&[("K", "short")])).unwrap();
    let sealed = vec![7u8; 64];
    let err = decrypt(&d, &sealed).unwrap_err().to_string();
    assert!(err.contains("64 hex digits"), "{err}");
    assert!(!err.contains("short"), "the key is not quoted: {err}");
}

#[test]
fn a_plain_object_where_an_encrypted_one_is_expected_is_named() {
    let d = Decryption::from_config(&openssl("K", 10_000), &secrets(&[("K", "pw")])).unwrap();
    let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0];
    let err = d.expect(&gz, 64, Some("gzip")).unwrap_err();
    assert!(err.contains("not encrypted (gzip)"), "{err}");
    let age = Decryption::from_config(&age_identity("I"), &secrets(&[("I", IDENTITY)])).unwrap();
    let err = age.expect(b"Salted__12345678", 64, None).unwrap_err();
    assert!(err.contains("aes-256-cbc") && err.contains("age"), "{err}");
}

#[test]
fn a_missing_variable_is_named_without_a_value() {
    let err = Decryption::from_config(&openssl("DR_KEY", 10_000), &secrets(&[])).unwrap_err();
    assert_eq!(err, "the variable DR_KEY (encryption) is not set");
    let err =
        Decryption::from_config(&age_identity("I"), &secrets(&[("I", "not a key")])).unwrap_err();
    assert!(err.contains("does not hold age identities") && !err.contains("not a key"));
}

/// An identity `age-keygen` made once (a test key that protects nothing), for the tests that
/// only need a valid one.
const IDENTITY: &str = "AGE-SECRET-KEY-1EA04TWGRSDW59THLQ0NETQVENAJSYZQLPKZLDEKJJYNEKU4KGZ5S7YRPZ8";

/// `age-keygen`: the identity file's text and its recipient.
fn keygen(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    run(Command::new("age-keygen").arg("-o").arg(&path));
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (text, recipient)
}

fn age_encrypt(dir: &Path, plain: &[u8], recipient: &str, armor: bool) -> Vec<u8> {
    std::fs::write(dir.join("plain"), plain).unwrap();
    let mut cmd = Command::new("age");
    cmd.args(["-r", recipient]);
    if armor {
        cmd.arg("-a");
    }
    run(cmd.arg("-o").arg(dir.join("sealed")).arg(dir.join("plain")));
    std::fs::read(dir.join("sealed")).unwrap()
}

#[test]
fn an_age_file_decrypts_with_its_identity_binary_and_armored() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = keygen(dir.path(), "key.txt");
    let d = Decryption::from_config(&age_identity("I"), &secrets(&[("I", &identity)])).unwrap();
    for armor in [false, true] {
        let plain = plaintext(200_000);
        let sealed = age_encrypt(dir.path(), &plain, &recipient, armor);
        let want = if armor {
            Sealed::AgeArmored
        } else {
            Sealed::Age
        };
        assert_eq!(d.expect(&sealed, sealed.len() as u64, None), Ok(want));
        assert!(decrypt(&d, &sealed).unwrap() == plain, "armor: {armor}");
        // The first bytes alone decrypt as far as they go.
        let head = &sealed[..(PREFIX_BYTES as usize).min(sealed.len())];
        assert_eq!(d.prefix(head, 4096).unwrap(), plain[..4096]);
    }
}

#[test]
fn an_age_file_for_another_identity_or_with_a_changed_byte_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (_, recipient) = keygen(dir.path(), "theirs.txt");
    let (mine, _) = keygen(dir.path(), "mine.txt");
    let plain = plaintext(200_000);
    let sealed = age_encrypt(dir.path(), &plain, &recipient, false);
    let d = Decryption::from_config(&age_identity("I"), &secrets(&[("I", &mine)])).unwrap();
    let err = decrypt(&d, &sealed).unwrap_err().to_string();
    assert!(err.contains("no identity matches"), "{err}");

    let (identity, recipient) = keygen(dir.path(), "key2.txt");
    let mut sealed = age_encrypt(dir.path(), &plain, &recipient, false);
    let mid = sealed.len() / 2;
    sealed[mid] ^= 0x01;
    let d = Decryption::from_config(&age_identity("I"), &secrets(&[("I", &identity)])).unwrap();
    let err = decrypt(&d, &sealed).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("did not authenticate"), "{err}");
    // Cut short by a byte: the last chunk does not authenticate either.
    let mut cut = age_encrypt(dir.path(), &plain, &recipient, false);
    cut.pop();
    let err = decrypt(&d, &cut).unwrap_err();
    assert!(err.to_string().contains("did not authenticate"), "{err}");
}

#[test]
fn inner_names_drop_the_encryption_extension() {
    assert_eq!(inner_name("a/db.sql.gz.enc"), "a/db.sql.gz");
    assert_eq!(inner_name("a/db.dump.zst.age"), "a/db.dump.zst");
    assert_eq!(inner_name("a/db.dump.gz"), "a/db.dump.gz");
}
