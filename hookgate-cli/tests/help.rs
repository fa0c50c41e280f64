//! Every command's `--help` has an example; the top-level and main commands list the exit codes.

mod support;

use support::{hookgate, run};

#[tokio::test]
async fn every_command_has_an_example_and_the_exit_codes() {
    let leaves: &[&[&str]] = &[
        &["sign"],
        &["verify"],
        &["send"],
        &["events"],
        &["ayrshare", "webhook", "register"],
        &["ayrshare", "webhook", "list"],
        &["ayrshare", "webhook", "unregister"],
        &["ayrshare", "webhook", "rotate-secret"],
        &["zernio", "webhook", "create"],
        &["zernio", "webhook", "update"],
        &["zernio", "webhook", "list"],
        &["zernio", "webhook", "test"],
        &["zernio", "webhook", "logs"],
        &["zernio", "webhook", "redeliver"],
    ];
    for path in leaves {
        let help = run(hookgate().args(*path).arg("--help"), None).await;
        assert_eq!(help.code, 0, "{path:?}: {help:?}");
        assert!(help.stdout.contains("Example"), "{path:?}: {}", help.stdout);
        assert!(
            help.stdout
                .contains(&format!("hookgate {}", path.join(" "))),
            "{path:?}: the example runs the command: {}",
            help.stdout
        );
    }
    for path in [
        &[][..],
        &["sign"],
        &["verify"],
        &["send"],
        &["ayrshare"],
        &["zernio"],
    ] {
        let help = run(hookgate().args(path).arg("--help"), None).await;
        assert!(
            help.stdout.contains("Exit status:\n  0  success"),
            "{path:?}: {}",
            help.stdout
        );
    }
    // Usage errors from clap itself exit 2, like ours.
    let bad = run(hookgate().args(["send", "nowhere", "x"]), None).await;
    assert_eq!(bad.code, 2, "{bad:?}");
}
