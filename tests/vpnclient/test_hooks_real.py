"""Generated hooks run for real: wg-quick in a namespace, OpenVPN's and NetworkManager's
scripts with the arguments and environment those clients pass."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.vpnclient.lab import PYTHON, Lab, env_with_pythonpath, policy_files, snapshot

pytestmark = pytest.mark.root


def vg(*argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "vpnguard", *argv],
        env=env_with_pythonpath(),
        capture_output=True,
        text=True,
        timeout=30,
        **kw,  # type: ignore[call-overload]
    )


def hook_log(root: Path) -> str:
    path = root / "var/log/vpnguard/hooks.log"
    return path.read_text() if path.exists() else ""


def results(root: Path) -> list[dict[str, object]]:
    return [
        json.loads(line.split(" result ", 1)[1])
        for line in hook_log(root).splitlines()
        if " result " in line
    ]


def wg_conf(lab: Lab, path: Path) -> bytes:
    data = (
        "# a user's tunnel; comments and order must survive\n"
        "[Interface]\n"
        f"PrivateKey = {lab.keys['c'][0]}\n"
        "Address = 10.66.0.2/24\n"
        "PostUp = echo users-own-postup >&2\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {lab.keys['s'][1]}\n"
        "AllowedIPs = 10.66.0.0/24\n"
        "Endpoint = 172.31.9.1:51820"  # no final newline, on purpose
    ).encode()
    path.write_bytes(data)
    path.chmod(0o600)
    return data


def test_wg_quick_postup_predown_for_real(wglab: Lab, froot: Path) -> None:
    conf = wglab.tmp / f"vgh{wglab.tag}q.conf"
    original = wg_conf(wglab, conf)
    before = snapshot(froot)
    r = vg("hook", "install", "wireguard", "--config", str(conf), "--root", str(froot), "--json")
    assert r.returncode == 0, r.stderr
    installed = conf.read_bytes()
    assert b"PostUp = echo users-own-postup" in installed and installed.count(b"PostUp") == 2
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    r2 = vg("hook", "install", "wireguard", "--config", str(conf), "--root", str(froot), "--json")
    assert [c["action"] for c in json.loads(r2.stdout)["changes"]] == ["unchanged"]
    assert conf.read_bytes() == installed

    env = dict(os.environ, WG_QUICK_USERSPACE_IMPLEMENTATION=str(wglab.wg_quick_userspace()))
    up = subprocess.run(
        ["ip", "netns", "exec", wglab.client, "wg-quick", "up", str(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 0, up.stderr
    assert "users-own-postup" in up.stderr
    assert len(policy_files(froot)) == 2
    down = subprocess.run(
        ["ip", "netns", "exec", wglab.client, "wg-quick", "down", str(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr
    assert snapshot(froot) == before
    assert [r["action"] for r in results(froot)] == ["protect", "unprotect"]

    r = vg("hook", "uninstall", "wireguard", "--config", str(conf), "--root", str(froot))
    assert r.returncode == 0, r.stderr
    assert conf.read_bytes() == original
    assert not conf.with_name(conf.name + ".vpnguard-backup").exists()


def openvpn_env(dev: str, script_type: str) -> dict[str, str]:
    """What OpenVPN 2.6 exports to --up/--down scripts (a tun client)."""
    return dict(
        env_with_pythonpath(),
        script_type=script_type,
        dev=dev,
        dev_type="tun",
        tun_mtu="1500",
        ifconfig_local="10.8.0.2",
        ifconfig_netmask="255.255.255.0",
        script_context="init",
        config="/etc/openvpn/client/office.conf",
        verb="3",
        daemon="0",
    )


def test_openvpn_up_down_scripts_for_real(wglab: Lab, froot: Path, tmp_path: Path) -> None:
    tun = f"vgh{wglab.tag}t"
    subprocess.run(
        ["ip", "netns", "exec", wglab.client, "ip", "tuntap", "add", "dev", tun, "mode", "tun"],
        check=True,
        timeout=10,
    )
    conf = tmp_path / "office.conf"
    original = b"client\ndev tun\nremote vpn.example.net 1194\n<ca>\nup not-a-directive\n</ca>\n"
    conf.write_bytes(original)
    before = snapshot(froot)
    r = vg("hook", "install", "openvpn", "--config", str(conf), "--root", str(froot))
    assert r.returncode == 0, r.stderr
    script = froot / "etc/vpnguard/hooks/openvpn-hook.sh"
    assert b"up /etc/vpnguard/hooks/openvpn-hook.sh\n" in conf.read_bytes()
    assert b"script-security 2\n" in conf.read_bytes()
    for script_type in ("up", "up"):  # OpenVPN may run it again on restart: safe twice
        run = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                wglab.client,
                str(script),
                tun,
                "1500",
                "1553",
                "10.8.0.2",
                "255.255.255.0",
                "init",
            ],
            env=openvpn_env(tun, script_type),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 0, run.stderr
        assert len(policy_files(froot)) == 2
    run = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            wglab.client,
            str(script),
            tun,
            "1500",
            "1553",
            "10.8.0.2",
            "255.255.255.0",
            "init",
        ],
        env=openvpn_env(tun, "down"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert snapshot(froot) == {
        **before,
        **{k: v for k, v in snapshot(froot).items() if k.startswith("etc/vpnguard/")},
    }
    r = vg("hook", "uninstall", "openvpn", "--config", str(conf), "--root", str(froot))
    assert r.returncode == 0, r.stderr
    assert conf.read_bytes() == original
    assert snapshot(froot) == before


def nm_env(action: str, iface: str, filename: str, **extra: str) -> dict[str, str]:
    return dict(
        env_with_pythonpath(),
        NM_DISPATCHER_ACTION=action,
        CONNECTION_ID="office",
        CONNECTION_UUID="0b6a6d2c-7f2e-4c71-9a55-8d0c3c1f0a11",
        CONNECTION_FILENAME=filename,
        CONNECTION_DBUS_PATH="/org/freedesktop/NetworkManager/Settings/3",
        DEVICE_IFACE=iface,
        DEVICE_IP_IFACE=iface,
        **extra,
    )


def test_networkmanager_dispatcher_for_real(wglab: Lab, froot: Path) -> None:
    wg = wglab.client_tunnel()
    wglab.link("up")
    keyfiles = froot / "etc/NetworkManager/system-connections"
    keyfiles.mkdir(parents=True)
    (keyfiles / "office.nmconnection").write_text(
        f"[connection]\nid=office\ntype=wireguard\ninterface-name={wg}\n"
    )
    (keyfiles / "lan.nmconnection").write_text("[connection]\nid=lan\ntype=ethernet\n")
    before = snapshot(froot)
    r = vg("hook", "install", "networkmanager", "--root", str(froot))
    assert r.returncode == 0, r.stderr
    script = froot / "etc/NetworkManager/dispatcher.d/90-vpnguard"
    st = script.stat()
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755  # or NM refuses to run it
    assert vg("hook", "install", "networkmanager", "--root", str(froot)).returncode == 0
    assert script.stat().st_mtime_ns == st.st_mtime_ns  # twice: nothing rewritten

    def dispatch(iface: str, action: str, filename: str, **extra: str) -> None:
        run = subprocess.run(
            ["ip", "netns", "exec", wglab.client, str(script), iface, action],
            env=nm_env(action, iface, filename, **extra),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 0, run.stderr

    lan = f"vgh{wglab.tag}a"
    dispatch(lan, "up", "/etc/NetworkManager/system-connections/lan.nmconnection")
    assert policy_files(froot) == []  # ethernet: not ours
    dispatch(wg, "up", "/etc/NetworkManager/system-connections/office.nmconnection")
    assert len(policy_files(froot)) == 2
    dispatch(wg, "down", "/etc/NetworkManager/system-connections/office.nmconnection")
    assert policy_files(froot) == []
    # A VPN plugin connection (OpenVPN via NM): vpn-up names the tunnel in VPN_IP_IFACE.
    dispatch(
        lan, "vpn-up", "/etc/NetworkManager/system-connections/lan.nmconnection", VPN_IP_IFACE=wg
    )
    assert len(policy_files(froot)) == 2
    dispatch(
        lan, "vpn-down", "/etc/NetworkManager/system-connections/lan.nmconnection", VPN_IP_IFACE=wg
    )
    dispatch(lan, "dhcp4-change", "")
    r = vg("hook", "uninstall", "networkmanager", "--root", str(froot))
    assert r.returncode == 0, r.stderr
    assert snapshot(froot) == before


def test_interface_with_shell_metacharacters_is_refused(froot: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    r = vg("hook", "install", "openvpn", "--interface", f"x;touch {marker}", "--root", str(froot))
    assert r.returncode == 4 and "refused interface name" in r.stderr
    r = vg("hook", "install", "openvpn", "--root", str(froot))
    assert r.returncode == 0, r.stderr
    script = froot / "etc/vpnguard/hooks/openvpn-hook.sh"
    for fail_closed, want in ((False, 0), (True, 4)):
        env = openvpn_env(f"$(touch {marker})", "up")
        argv = [str(script)]
        if fail_closed:
            argv = [
                PYTHON,
                "-m",
                "vpnguard",
                "hook",
                "run",
                "openvpn",
                "--fail-closed",
                "--root",
                str(froot),
            ]
        run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        assert run.returncode == want, run.stderr
        assert "refused interface name" in run.stderr
    assert not marker.exists()
    assert policy_files(froot) == []
    assert "refused interface name" in hook_log(froot)


def test_hook_without_root_logs_and_exits_per_fail_closed(
    froot: Path, request: pytest.FixtureRequest
) -> None:
    logs = Path(tempfile.mkdtemp(prefix="vgh-logs-"))  # pytest's tmp is 0700 for root only
    logs.chmod(0o777)
    request.addfinalizer(lambda: shutil.rmtree(logs, ignore_errors=True))
    # The test venv's interpreter lives under /root (0700): nobody runs the system one.
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    assert system_python is not None, "no system python3 for the unprivileged run"
    for fail_closed, want in ((False, 0), (True, 3)):
        argv = [system_python, "-m", "vpnguard", "hook", "run", "openvpn", "--root", str(froot)]
        if fail_closed:
            argv.append("--fail-closed")
        run = subprocess.run(
            argv,
            env={**openvpn_env("tun0", "up"), "VPNGUARD_LOG_DIR": str(logs)},
            user="nobody",
            capture_output=True,
            text=True,
            timeout=30,
            cwd="/",
        )
        assert run.returncode == want, run.stderr
        assert "needs root but runs as uid 65534" in run.stderr
    text = (logs / "hooks.log").read_text()
    assert text.count("needs root but runs as uid 65534: nothing changed") == 2
    assert "down-root plugin" in text
    assert policy_files(froot) == []
