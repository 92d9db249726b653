//! The run-time decoys in a real sandbox: wallets in the decoy home, private keys in the
//! variables, and the `.env` planted in a working directory the tool owns. Each read is a
//! `leak/decoy-read`, each value that leaves (a file written) a `leak/decoy-output`. Everything
//! stays in the test's own directories.

use std::fs;
use std::path::Path;

use runner::events::{Decision, Event, Kind, Phase};
use runner::runtime::{self, RuntimeRun};

use crate::support::Scene;

/// The leak event of `action` naming `decoy`, if any.
fn leak<'a>(events: &'a [Event], action: &str, decoy: &str) -> Option<&'a Event> {
    events.iter().find(|e| {
        e.kind == Kind::Leak
            && e.action == action
            && e.decision == Decision::Flagged
            && e.detail.get("decoy").and_then(|d| d.as_str()) == Some(decoy)
    })
}

/// `sh -c SCRIPT` as a load run would start it: in `work` (writable, owned by the test), with
/// the decoy `.env` planted there when `dotenv`.
fn run_in(s: &Scene, script: &str, dotenv: bool) -> runner::sandbox::RunOutcome {
    let work = s.path("work");
    fs::create_dir_all(&work).unwrap();
    let run = RuntimeRun {
        args: vec!["-c".into(), script.into()],
        cwd: Some(work.clone()),
        write: vec![work],
        decoy_dotenv: dotenv,
        entry: Some("load".into()),
        timeout: Some(std::time::Duration::from_secs(60)),
        ..RuntimeRun::new(
            Path::new("/bin/sh"),
            Phase::Load,
            "fixture 0.1.0",
            &s.path("victim"),
        )
    };
    runtime::run(&run).expect("the sandbox runs")
}

#[track_caller]
fn expect_leak<'a>(
    outcome: &'a runner::sandbox::RunOutcome,
    action: &str,
    decoy: &str,
) -> &'a Event {
    leak(&outcome.events, action, decoy)
        .unwrap_or_else(|| panic!("no leak/{action} of {decoy}; events: {:#?}", outcome.events))
}

airtest!(a_solana_keypair_read_and_copied_is_a_leak, |s| {
    let outcome = run_in(&s, "cat ~/.config/solana/id.json > stolen.json", false);
    assert_eq!(outcome.termination.exit_code(), 0, "{:#?}", outcome.events);
    let read = expect_leak(&outcome, "decoy-read", "solana-keypair");
    assert!(read.detail["location"]
        .as_str()
        .unwrap()
        .ends_with(".config/solana/id.json"));
    assert_eq!(read.entry.as_deref(), Some("load"));
    let out = expect_leak(&outcome, "decoy-output", "solana-keypair");
    assert!(out.detail["location"]
        .as_str()
        .unwrap()
        .ends_with("work/stolen.json"));
});

airtest!(every_wallet_is_there_and_its_read_recorded, |s| {
    let outcome = run_in(
        &s,
        "cat ~/.ethereum/keystore/UTC--* ~/.bitcoin/wallet.dat ~/.electrum/wallets/default_wallet \
         ~/.config/Exodus/exodus.wallet/seed.seco > /dev/null",
        false,
    );
    assert_eq!(outcome.termination.exit_code(), 0, "{:#?}", outcome.events);
    for decoy in [
        "ethereum-keystore",
        "bitcoin-wallet",
        "electrum-wallet",
        "exodus-wallet",
    ] {
        expect_leak(&outcome, "decoy-read", decoy);
    }
});

airtest!(
    the_dotenv_of_an_owned_cwd_is_a_decoy_read_and_removed_after,
    |s| {
        let outcome = run_in(&s, "cat .env > copied", true);
        assert_eq!(outcome.termination.exit_code(), 0, "{:#?}", outcome.events);
        let read = expect_leak(&outcome, "decoy-read", "dotenv");
        assert!(read.detail["location"]
            .as_str()
            .unwrap()
            .ends_with("work/.env"));
        let out = expect_leak(&outcome, "decoy-output", "dotenv");
        assert!(out.detail["location"]
            .as_str()
            .unwrap()
            .ends_with("work/copied"));
        assert!(
            leak(&outcome.events, "decoy-output", "dotenv")
                .is_some_and(|e| !e.detail["location"].as_str().unwrap().ends_with(".env")),
            "the .env as planted is no leak"
        );
        assert!(!s.path("work/.env").exists(), "removed with the run");
        assert!(s.path("work/copied").is_file());
    }
);

airtest!(no_dotenv_unless_asked_and_no_leak_unless_read, |s| {
    let outcome = run_in(&s, "test ! -e .env", false);
    assert_eq!(outcome.termination.exit_code(), 0, "a .env was planted");
    assert!(leak(&outcome.events, "decoy-read", "dotenv").is_none());
    // Planted and left alone: no event (the scan after the run is the tool's, not the run's).
    let outcome = run_in(&s, "test -s .env && echo ok > out", true);
    assert_eq!(outcome.termination.exit_code(), 0, "{:#?}", outcome.events);
    assert!(
        !outcome.events.iter().any(|e| e.kind == Kind::Leak),
        "{:#?}",
        outcome.events
    );
});

airtest!(a_private_key_variable_written_out_is_a_leak, |s| {
    let outcome = run_in(&s, "echo $ETH_PRIVATE_KEY > out", false);
    assert_eq!(outcome.termination.exit_code(), 0, "{:#?}", outcome.events);
    let e = expect_leak(&outcome, "decoy-output", "env:ETH_PRIVATE_KEY");
    assert!(e.detail["location"].as_str().unwrap().ends_with("work/out"));
    assert!(outcome.suspicious());
});

airtest!(
    an_append_to_authorized_keys_is_recorded_and_a_cache_write_is_not,
    |s| {
        let key = format!("ssh-ed25519 AAAAC3Nz{} attacker", std::process::id());
        let outcome = run_in(
            &s,
            &format!(
                "echo '{key}' >> ~/.ssh/authorized_keys; mkdir -p ~/.cache; echo x > ~/.cache/x; \
                 true"
            ),
            false,
        );
        assert_eq!(outcome.termination.exit_code(), 0, "{:#?}", outcome.events);
        let persistence = outcome
            .events
            .iter()
            .find(|e| {
                e.kind == Kind::Fs
                    && (e.action == "create" || e.action == "write")
                    && e.detail_str("reason") == Some("persistence")
            })
            .unwrap_or_else(|| panic!("no persistence event: {:#?}", outcome.events));
        assert_eq!(
            persistence.decision,
            Decision::Denied,
            "the decoy home is read-only"
        );
        for key in ["path", "named", "resolved"] {
            assert!(
                persistence
                    .detail_str(key)
                    .is_some_and(|p| p.ends_with("/.ssh/authorized_keys")),
                "{key}: {persistence:?}"
            );
        }
        assert_eq!(
            persistence.detail_str("persistence"),
            Some("ssh authorized keys")
        );
        assert!(persistence.is_notable() && outcome.suspicious());
        assert!(
            !outcome.events.iter().any(|e| e.kind == Kind::Fs
                && e.detail
                    .values()
                    .any(|v| v.as_str().is_some_and(|p| p.ends_with(".cache/x")))),
            "a cache write stays quiet: {:#?}",
            outcome.events
        );
        // The real home is untouched.
        if let Some(home) = std::env::var_os("HOME") {
            let real = Path::new(&home).join(".ssh/authorized_keys");
            let content = fs::read_to_string(real).unwrap_or_default();
            assert!(!content.contains(&key));
        }
    }
);
