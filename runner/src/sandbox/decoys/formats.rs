//! The formats decoys are written in: fresh random material (tokens, keys), hex and base58,
//! and the files and variables wallets and deploy tools keep keys in (Solana's keypair, an
//! Ethereum v3 keystore, Bitcoin Core's, Electrum's and Exodus's wallets, private-key
//! variables, a `.env`), each with the needles its value is found by.

use std::io;

use super::{decode, Decoy, KeyForm};

/// `n` random bytes from the kernel's CSPRNG (`getrandom(2)`: no descriptor to open, and a
/// run plants a few dozen values).
pub(super) fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        let rest = &mut bytes[filled..];
        // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`, which we own.
        let got = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(got) {
            Ok(k) if k > 0 => filled += k,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    if filled < n {
        // Fall back to time, pid and a counter: still unique per run, which is all a decoy
        // needs.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut x = now
            ^ u64::from(std::process::id()) << 32
            ^ COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 48
            | 1;
        for b in &mut bytes {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    bytes
}

/// Lowercase hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random token: 24 hex digits from the kernel's CSPRNG, after an `AIRLOCK` tag.
pub(super) fn token() -> String {
    format!("AIRLOCK{}", hex(&random(12)))
}

/// Base58 (Bitcoin's alphabet), as Solana and Bitcoin keys are written.
pub(super) fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new(); // little-endian base-58 digits
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in &mut digits {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n(b'1', zeros)
        .chain(digits.iter().rev().map(|&d| ALPHABET[d as usize]))
        .map(char::from)
        .collect()
}

/// A Solana keypair: its 64 bytes, their base58 (the key as wallets export it) and the
/// `id.json` text (`[12,250,...]`, as `solana-keygen` writes it). Needles: the base58 and the
/// bytes in every encoding, and the JSON text.
pub(super) fn solana_keypair() -> (Vec<u8>, String, String, Vec<Vec<u8>>) {
    let bytes = random(64);
    let b58 = base58(&bytes);
    let json = format!(
        "[{}]",
        bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut needles = decode::encodings(&b58);
    needles.extend(decode::encodings(&bytes));
    needles.push(json.clone().into_bytes());
    (bytes, b58, json, needles)
}

/// A random base58 string of `n` characters.
fn base58_chars(n: usize) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    random(n)
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % 58]))
        .collect()
}

/// A v4 UUID's text from random bytes.
fn uuid() -> String {
    let mut b = random(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The wallets and keystores payloads look for, each as (path in the home, content, decoy):
/// Solana's keypair, an Ethereum v3 keystore, Bitcoin Core's and Electrum's wallets, Exodus's
/// seed file.
pub(super) fn wallets() -> Vec<(String, Vec<u8>, Decoy)> {
    let mut out = Vec::new();
    // solana-keygen's default keypair: a JSON array of the 64 bytes.
    let (_, b58, json, needles) = solana_keypair();
    let keypair = Decoy::with_needles("solana-keypair", b58, needles);
    out.push((".config/solana/id.json".into(), json.into_bytes(), keypair));

    // geth's keystore: a v3 JSON whose file name ends with the address.
    let secret = hex(&random(32));
    let address = hex(&random(20));
    let keystore = format!(
        "{{\"address\":\"{address}\",\"crypto\":{{\"cipher\":\"aes-128-ctr\",\
         \"ciphertext\":\"{secret}\",\"cipherparams\":{{\"iv\":\"{}\"}},\
         \"kdf\":\"scrypt\",\"kdfparams\":{{\"dklen\":32,\"n\":262144,\"p\":1,\"r\":8,\
         \"salt\":\"{}\"}},\"mac\":\"{}\"}},\"id\":\"{}\",\"version\":3}}",
        hex(&random(16)),
        hex(&random(32)),
        hex(&random(32)),
        uuid()
    );
    let rel = format!(".ethereum/keystore/UTC--2024-03-11T09-27-41.512408193Z--{address}");
    let decoy = Decoy::new("ethereum-keystore", secret, None);
    out.push((rel, keystore.into_bytes(), decoy));

    // Bitcoin Core's legacy wallet: a Berkeley DB btree file holding the keys.
    let key = random(32);
    let mut wallet = vec![0u8; 12];
    wallet.extend_from_slice(&0x0005_3162u32.to_le_bytes()); // the btree magic
    wallet.extend_from_slice(&[0u8; 16]);
    wallet.extend_from_slice(b"\x03key\x21\x03");
    wallet.extend_from_slice(&random(32));
    wallet.extend_from_slice(b"\x30\x81\xd3\x02\x01\x01\x04\x20");
    wallet.extend_from_slice(&key);
    wallet.extend_from_slice(b"\x04name\x22");
    wallet.extend_from_slice(base58_chars(34).as_bytes());
    let decoy = Decoy::with_needles("bitcoin-wallet", hex(&key), decode::encodings(&key));
    out.push((".bitcoin/wallet.dat".into(), wallet, decoy));

    // Electrum's default wallet (unencrypted): the master private key in JSON.
    let xprv = format!("xprv9s21ZrQH143K{}", base58_chars(95));
    let electrum = format!(
        "{{\n    \"keystore\": {{\n        \"type\": \"bip32\",\n        \"xprv\": \"{xprv}\",\n        \
         \"xpub\": \"xpub661MyMwAqRbc{}\"\n    }},\n    \"seed_version\": 18,\n    \
         \"use_encryption\": false,\n    \"wallet_type\": \"standard\"\n}}\n",
        base58_chars(95)
    );
    let decoy = Decoy::new("electrum-wallet", xprv, None);
    out.push((
        ".electrum/wallets/default_wallet".into(),
        electrum.into_bytes(),
        decoy,
    ));

    // Exodus's encrypted seed: a SECO container around ciphertext.
    let sealed = random(64);
    let mut seco = b"SECO\0\0\0\x01\0\0\0\0seco-v0-scrypt-aes\0".to_vec();
    seco.extend_from_slice(&random(32));
    seco.extend_from_slice(&sealed);
    let decoy = Decoy::with_needles("exodus-wallet", hex(&sealed), decode::encodings(&sealed));
    out.push((".config/Exodus/exodus.wallet/seed.seco".into(), seco, decoy));
    out
}

/// A decoy private key variable's value and its decoy.
pub(super) fn private_key(name: &str, form: KeyForm) -> (String, Decoy) {
    match form {
        KeyForm::Hex => {
            let key = random(32);
            let text = format!("0x{}", hex(&key));
            (
                text,
                Decoy::with_needles(name, hex(&key), decode::encodings(&key)),
            )
        }
        KeyForm::Base58Keypair => {
            let (_, b58, _, needles) = solana_keypair();
            (b58.clone(), Decoy::with_needles(name, b58, needles))
        }
        KeyForm::OpenSsh => {
            let value = token();
            let text = format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{value}\n-----END OPENSSH PRIVATE KEY-----\n"
            );
            (text, Decoy::new(name, value, None))
        }
    }
}

/// A decoy `.env`'s text and its decoy, `dotenv`: a database password, an API secret and a
/// private key, any of which is found.
pub(super) fn dotenv() -> (String, Decoy) {
    let password = token();
    let secret = token();
    let key = random(32);
    let text = format!(
        "# local settings; never commit this file\n\
         DATABASE_URL=postgres://app:{password}@127.0.0.1:5432/app\n\
         API_SECRET_KEY={secret}\n\
         PRIVATE_KEY=0x{}\n",
        hex(&key)
    );
    let mut needles = decode::encodings(&password);
    needles.extend(decode::encodings(&secret));
    needles.extend(decode::encodings(&key));
    (text, Decoy::with_needles("dotenv", secret, needles))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_matches_the_reference_encoding() {
        assert_eq!(base58(b"hello world"), "StV1DL6CwTryKyV");
        assert_eq!(base58(&[0, 0, 1]), "112");
        assert_eq!(base58(&[]), "");
    }
}
