from vpnguard.core.browsers.catalog import BY_ID, CATALOG, CHROMIUM_KEY, EDGE_KEY
from vpnguard.core.model import Family


def test_ids_unique_and_known_browsers_present() -> None:
    ids = [s.id for s in CATALOG]
    assert len(ids) == len(set(ids))
    for wanted in (
        "chrome",
        "chromium",
        "chromium-browser",
        "edge",
        "brave",
        "vivaldi",
        "opera",
        "firefox",
        "firefox-esr",
        "librewolf",
        "tor-browser",
    ):
        assert wanted in BY_ID


def test_policy_key_names_are_the_ones_browsers_honor() -> None:
    # FACTS: "WebRtcIPHandlingPolicy" is silently ignored; Edge has its own name.
    assert CHROMIUM_KEY == "WebRtcIPHandling"
    assert BY_ID["edge"].webrtc_key == EDGE_KEY == "WebRtcLocalhostIpHandling"
    for spec in CATALOG:
        if spec.family is Family.CHROMIUM:
            assert spec.webrtc_key in (CHROMIUM_KEY, EDGE_KEY)
        else:
            assert spec.webrtc_key is None


def test_linux_locations_are_absolute_and_esr_skips_ignored_dir() -> None:
    for spec in CATALOG:
        for d in spec.linux.policy_dirs:
            assert d.startswith("/etc/") and d.endswith("/policies/managed")
        for f in spec.linux.policy_files:
            assert f.endswith("policies.json")
    assert all("firefox-esr/policies" not in f for f in BY_ID["firefox-esr"].linux.policy_files)


def test_tor_browser_is_never_written() -> None:
    tor = BY_ID["tor-browser"]
    assert tor.self_managed and not tor.linux.policy_files and not tor.linux.policy_dirs


def test_restart_needed_only_for_browsers_that_read_policy_at_start() -> None:
    assert BY_ID["edge"].restart_to_apply and BY_ID["firefox"].restart_to_apply
    assert not BY_ID["chromium"].restart_to_apply and not BY_ID["chrome"].restart_to_apply
