"""Config editing is pure text -> text: each bad input refused, removal exactly inverts adding."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnguard.core.errors import RefusedError
from vpnguard.core.model import Action, LevelChoice
from vpnguard.vpnclient.claims import AutoState, Coordinator
from vpnguard.vpnclient.configedit import openvpn, wgquick
from vpnguard.vpnclient.configedit.names import is_valid_interface
from vpnguard.vpnclient.configedit.scripts import HookCommand, networkmanager_script, wg_quick_lines

UP, DOWN = (
    "/usr/bin/python3 -m vpnguard hook run wireguard --event up --interface %i || true",
    ("/usr/bin/python3 -m vpnguard hook run wireguard --event down --interface %i || true"),
)
WG = "[Interface]\nPrivateKey = abc=\nAddress = 10.0.0.2/24\n\n[Peer]\nPublicKey = def=\n"


@pytest.mark.parametrize(
    "text",
    [
        WG,
        WG.rstrip("\n"),
        WG.replace("\n", "\r\n"),
        "# top comment\n" + WG + "# trailing\n",
        "[Interface]\nPrivateKey = abc=",
        "[Interface]\nPostUp = iptables -A x\nPostUp = echo hi # c\n[Peer]\nPublicKey = x\n",
    ],
)
def test_wg_add_then_remove_is_byte_exact_and_idempotent(text: str) -> None:
    added = wgquick.add_hook(text, UP, DOWN)
    assert wgquick.add_hook(added, UP, DOWN) == added
    assert added.count("PostUp = /usr/bin/python3") == 1
    for line in text.splitlines():
        assert line in added.splitlines()
    assert wgquick.remove_hook(added) == text
    # ours sits inside [Interface], before [Peer]
    if "[Peer]" in text:
        assert added.index("vpnguard hook run") < added.index("[Peer]")


@given(
    st.lists(
        st.sampled_from(["# c", "", "Address = 10.0.0.2/24", "PostUp = true", "MTU = 1420"]),
        max_size=6,
    ),
    st.booleans(),
    st.booleans(),
)
def test_wg_inverse_property(lines: list[str], peer: bool, final_newline: bool) -> None:
    text = "\n".join(["[Interface]", *lines] + (["[Peer]", "PublicKey = k"] if peer else []))
    text += "\n" if final_newline else ""
    assert wgquick.remove_hook(wgquick.add_hook(text, UP, DOWN)) == text


def test_wg_level_change_replaces_the_block_in_place() -> None:
    added = wgquick.add_hook(WG, UP, DOWN)
    again = wgquick.add_hook(added, UP.replace("strict", "balanced") + " ", DOWN)
    assert again.count("vpnguard-hook begin") == 1
    assert wgquick.remove_hook(again) == WG


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("PrivateKey = x\n", "a setting before any section"),
        ("[Peer]\nPublicKey = x\n", "no [Interface] section"),
        ("[Interface]\nPrivateKey = x\n[Interface]\n", "a second [Interface]"),
        ("[Interface]\nthis is not a setting\n", "not a 'Key = Value' line"),
        ("[Interfaces]\nPrivateKey = x\n", "unknown section"),
        ("[Interface]\n= value\n", "not a 'Key = Value' line"),
        ("[Interface]\nPostUp = /opt/vpnguard hook run wireguard\n", "already call vpnguard"),
        ("[Interface]\n# vpnguard-hook begin: x\nPostUp = a\n", "markers are damaged"),
    ],
)
def test_wg_bad_configs_are_refused(text: str, why: str) -> None:
    with pytest.raises(RefusedError, match=re.escape(why)):
        wgquick.add_hook(text, UP, DOWN, "wg0.conf")


OVPN = "client\ndev tun\n<ca>\nup inside-inline-file\n</ca>\nremote vpn.example 1194\n"


@pytest.mark.parametrize("text", [OVPN, OVPN.rstrip("\n"), "", "script-security 3\nclient\n"])
def test_openvpn_add_then_remove_is_byte_exact(text: str) -> None:
    added = openvpn.add_hook(text, "/etc/vpnguard/hooks/openvpn-hook.sh")
    assert openvpn.add_hook(added, "/etc/vpnguard/hooks/openvpn-hook.sh") == added
    assert ("script-security 2" in added) == ("script-security" not in text)
    assert openvpn.remove_hook(added) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("up /etc/openvpn/update-resolv-conf\n", "already runs its own 'up'"),
        ("--down /x.sh\n", "already runs its own 'down'"),
        ("script-security 1\n", "forbids user scripts"),
        ("<ca>\nabc\n", "never closed"),
    ],
)
def test_openvpn_bad_configs_are_refused(text: str, why: str) -> None:
    with pytest.raises(RefusedError, match=re.escape(why)):
        openvpn.add_hook(text, "/etc/vpnguard/hooks/openvpn-hook.sh", "office.conf")


@pytest.mark.parametrize("name", ["wg0", "tun-1", "wg0-mullvad", "a.b=c+d_e", "x" * 15])
def test_good_interface_names(name: str) -> None:
    assert is_valid_interface(name)


@pytest.mark.parametrize(
    "name", ["", "x" * 16, "wg0;id", "$(id)", "`id`", "a b", "wg0\n", "..", "tun0|x", "é"]
)
def test_interface_names_with_metacharacters_are_refused(name: str) -> None:
    assert not is_valid_interface(name)


def test_generated_shell_quotes_everything_fixed_at_install() -> None:
    cmd = HookCommand(kind="wireguard", python="/opt/my python/bin/python3", root="/tmp/a'b")
    up, _ = wg_quick_lines(cmd)
    assert up.startswith("'/opt/my python/bin/python3' -m vpnguard")
    assert "'/tmp/a'\"'\"'b'" in up and up.endswith("--interface %i || true")
    nm = networkmanager_script(HookCommand(kind="networkmanager", python="/usr/bin/python3"))
    assert '--arg="$1" --arg="$2"' in nm and nm.startswith("#!/bin/sh\n")


class FakeApply:
    def __init__(self) -> None:
        self.protected = False
        self.calls: list[str] = []

    def __call__(self, action: str, level: object, root: object) -> tuple[int, dict[str, object]]:
        self.calls.append(action)
        changed = self.protected != (action == "protect")
        self.protected = action == "protect"
        changes = [{"path": "/p", "action": "write" if changed else "unchanged", "browsers": ["c"]}]
        return 0, {"schema_version": 1, "ok": True, "changes": changes}


def coordinator(tmp_path: object, apply: FakeApply) -> Coordinator:
    from pathlib import Path

    from vpnguard.core.host import Host
    from vpnguard.core.model import Level

    root = Path(str(tmp_path))
    return Coordinator(
        Host.current(root),
        Level.STRICT,
        root=str(root),
        apply=apply,
        exists=lambda name: name != "gone0",
    )


def test_holders_two_vpns_and_twice_safe(tmp_path: object) -> None:
    fake = FakeApply()
    c = coordinator(tmp_path, fake)
    assert c.update(add={"wireguard:wg0": "wg0"}).action == "protect"
    assert c.update(add={"wireguard:wg0": "wg0"}).changes() == 0  # up twice
    c.update(add={"openvpn:tun0": "tun0"})
    assert c.update(remove=["wireguard:wg0"]).action == "protect"  # tun0 still up
    assert fake.protected
    assert c.update(remove=["openvpn:tun0"]).action == "unprotect"
    assert c.update(remove=["openvpn:tun0"]).action == "none"  # down twice
    assert not fake.protected


def test_protection_the_user_had_before_is_not_undone(tmp_path: object) -> None:
    fake = FakeApply()
    fake.protected = True  # the user ran `vpnguard protect` themselves
    c = coordinator(tmp_path, fake)
    c.update(add={"wireguard:wg0": "wg0"})
    assert c.update(remove=["wireguard:wg0"]).action == "none"
    assert fake.protected and not c.read().owned


def test_vanished_interfaces_do_not_hold_protection(tmp_path: object) -> None:
    fake = FakeApply()
    c = coordinator(tmp_path, fake)
    c.update(add={"openvpn:gone0": "gone0"})
    c.update(add={"wireguard:wg0": "wg0"})
    assert c.update(remove=["wireguard:wg0"]).action == "unprotect"  # gone0 crashed, no down
    assert AutoState.load(c.state_path).holders == {}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the raise runs, no cleanup saves state."""


def real_coordinator(root: object, apply: object) -> Coordinator:
    from pathlib import Path

    from vpnguard.core.host import Host
    from vpnguard.core.model import LevelChoice

    return Coordinator(
        Host.current(Path(str(root))),
        LevelChoice.STRICT,
        root=str(root),
        apply=apply,  # type: ignore[arg-type]
        exists=lambda name: True,
    )


def test_killed_after_protect_wrote_still_undoes_its_own_protection(froot: object) -> None:
    from pathlib import Path

    from tests.vpnclient.lab import snapshot
    from vpnguard.vpnclient.claims import cli_apply

    before = snapshot(Path(str(froot)))

    def protect_then_die(action: object, level: object, root: object) -> object:
        cli_apply(action, level, root)  # type: ignore[arg-type]
        raise Killed  # killed after the policy files were written, before auto.json

    with pytest.raises(Killed):
        real_coordinator(froot, protect_then_die).update(add={"watch:wg0": "wg0"})
    assert snapshot(Path(str(froot))) != before  # protection was written
    restarted = real_coordinator(froot, cli_apply)
    assert restarted.update(add={"watch:wg0": "wg0"}).changes() == 0  # already in place
    assert restarted.read().owned and restarted.read().pending is None
    assert restarted.update(remove=["watch:wg0"]).action == "unprotect"
    assert snapshot(Path(str(froot))) == before


def test_killed_while_the_user_protection_stood_leaves_it_to_the_user(froot: object) -> None:
    from pathlib import Path

    from tests.vpnclient.lab import snapshot
    from vpnguard.vpnclient.claims import cli_apply

    cli_apply(Action.PROTECT, LevelChoice.STRICT, str(froot))  # the user protected first
    protected = snapshot(Path(str(froot)))

    def die(action: object, level: object, root: object) -> object:
        raise Killed

    with pytest.raises(Killed):
        real_coordinator(froot, die).update(add={"watch:wg0": "wg0"})
    restarted = real_coordinator(froot, cli_apply)
    restarted.update(add={"watch:wg0": "wg0"})
    assert not restarted.read().owned
    assert restarted.update(remove=["watch:wg0"]).action == "none"
    assert snapshot(Path(str(froot))) == protected
