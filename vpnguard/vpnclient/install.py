"""``vpnguard hook install|uninstall|show KIND``: put hooks where VPN clients run them.

* wireguard: a marked ``PostUp``/``PreDown`` block in ``/etc/wireguard/NAME.conf``
  (every other byte kept; a backup of the previous file beside it).
* openvpn: ``/etc/vpnguard/hooks/openvpn-hook.sh`` plus, with ``--config``, a marked
  ``script-security 2`` / ``up`` / ``down`` block in that OpenVPN config.
* networkmanager: ``/etc/NetworkManager/dispatcher.d/90-vpnguard`` (root, 0755:
  NetworkManager ignores scripts that are group/world writable or not root's).

Installing twice changes nothing; uninstalling restores each config byte for byte.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from vpnguard import __version__
from vpnguard.core.errors import NeedsElevationError, RefusedError, UsageError
from vpnguard.core.model import LevelChoice
from vpnguard.core.service import Host
from vpnguard.vpnclient import paths
from vpnguard.vpnclient.configedit import blocks, openvpn, scripts, wgquick
from vpnguard.vpnclient.configedit.names import check_interface
from vpnguard.vpnclient.fsutil import atomic_write

OPENVPN_SCRIPT = "/etc/vpnguard/hooks/openvpn-hook.sh"
NM_SCRIPT = "/etc/NetworkManager/dispatcher.d/90-vpnguard"
BACKUP_SUFFIX = ".vpnguard-backup"


@dataclasses.dataclass(frozen=True)
class FileChange:
    path: str
    action: str  # created | modified | removed | unchanged
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class HookPlan:
    """The result of show/install/uninstall: JSON-able, also printed as text."""

    action: str
    kind: str
    changes: list[FileChange] = dataclasses.field(default_factory=list)
    lines: dict[str, str] = dataclasses.field(default_factory=dict)
    script: str | None = None
    notices: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "ok": True,
            "action": f"hook_{self.action}",
            "kind": self.kind,
            "changes": [c.to_json() for c in self.changes],
            "lines": self.lines,
            "script": self.script,
            "notices": self.notices,
        }


@dataclasses.dataclass(frozen=True)
class HookOptions:
    kind: str
    level: LevelChoice = LevelChoice.STRICT
    interfaces: tuple[str, ...] = ()
    config: str | None = None
    root: str | None = None
    fail_closed: bool = False


def command_for(opts: HookOptions, host: Host) -> scripts.HookCommand:
    python, pythonpath = paths.invocation()
    only = () if opts.kind == "wireguard" else opts.interfaces
    return scripts.HookCommand(
        kind=opts.kind,
        python=python,
        level=opts.level,
        root=str(host.root) if not host.is_live else None,
        fail_closed=opts.fail_closed,
        interfaces=only,
        pythonpath=pythonpath,
        version=__version__,
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise RefusedError(f"{path}: no such file", path=str(path)) from exc
    except PermissionError as exc:
        raise NeedsElevationError(
            f"{path}: permission denied (run as root)", path=str(path)
        ) from exc


def _wg_config(opts: HookOptions, host: Host) -> Path:
    if opts.config:
        return Path(opts.config)
    if len(opts.interfaces) != 1:
        raise UsageError(
            "wireguard: give --interface NAME (for /etc/wireguard/NAME.conf) or --config"
        )
    return host.p(f"/etc/wireguard/{opts.interfaces[0]}.conf")


def _write_config(path: Path, old: bytes, new: str, plan: HookPlan, detail: str) -> None:
    data = new.encode("utf-8")
    if data == old:
        plan.changes.append(FileChange(str(path), "unchanged", detail))
        return
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    atomic_write(backup, old, mode=0o600)  # configs hold keys: never widen access
    atomic_write(path, data)
    plan.changes.append(FileChange(str(path), "modified", f"{detail}; previous file in {backup}"))


def _restore_config(path: Path, old: bytes, new: str, plan: HookPlan) -> None:
    data = new.encode("utf-8")
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if data != old:
        atomic_write(path, data)
        plan.changes.append(FileChange(str(path), "modified", "removed the vpnguard-hook block"))
    else:
        plan.changes.append(FileChange(str(path), "unchanged", "no vpnguard-hook block"))
    try:
        if backup.read_bytes() == data:  # the backup says nothing the file does not
            backup.unlink()
            plan.changes.append(FileChange(str(backup), "removed", "backup no longer needed"))
    except FileNotFoundError:
        pass


def _write_script(path: Path, text: str, plan: HookPlan, marker: str, admin: bool) -> None:
    data = text.encode()
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    if st is not None:
        old = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        if marker.encode() not in old:
            raise RefusedError(
                f"{path} exists and is not vpnguard's; not overwriting", path=str(path)
            )
        ok_perms = (st.st_mode & 0o7777) == 0o755 and st.st_uid == 0
        if old == data and (ok_perms or not admin):
            plan.changes.append(FileChange(str(path), "unchanged"))
            return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    atomic_write(path, data, mode=0o755)
    if admin and hasattr(os, "chown"):
        os.chown(path, 0, 0)
    plan.changes.append(
        FileChange(str(path), "created" if st is None else "modified", "root, 0755")
    )


def _remove_script(path: Path, plan: HookPlan, marker: str) -> None:
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        plan.changes.append(FileChange(str(path), "unchanged", "not installed"))
        return
    if marker.encode() not in old:
        raise RefusedError(f"{path} is not vpnguard's; not removing it", path=str(path))
    try:
        path.unlink()
    except PermissionError as exc:
        raise NeedsElevationError(f"cannot remove {path}: run as root", path=str(path)) from exc
    plan.changes.append(FileChange(str(path), "removed"))


def _marker(kind: str) -> str:
    return f"# vpnguard-hook ({kind})"


def run(action: str, opts: HookOptions) -> HookPlan:
    if action not in {"show", "install", "uninstall"}:
        raise UsageError(f"unknown hook action {action!r}")
    if opts.kind not in scripts.KINDS:
        raise UsageError(f"unknown hook kind {opts.kind!r}; one of {', '.join(scripts.KINDS)}")
    for name in opts.interfaces:
        check_interface(name)
    host = Host.current(opts.root)
    cmd = command_for(opts, host)
    plan = HookPlan(action=action, kind=opts.kind)
    if opts.kind == "wireguard":
        _wireguard(action, opts, host, cmd, plan)
    elif opts.kind == "openvpn":
        _openvpn(action, opts, host, cmd, plan)
    else:
        _networkmanager(action, opts, host, cmd, plan)
    return plan


def _wireguard(
    action: str, opts: HookOptions, host: Host, cmd: scripts.HookCommand, plan: HookPlan
) -> None:
    up, down = scripts.wg_quick_lines(cmd)
    plan.lines = {"PostUp": up, "PreDown": down}
    if action == "show" and not opts.config and not opts.interfaces:
        return
    path = _wg_config(opts, host)
    if action == "show":
        text = blocks.decode(_read(path), str(path))
        wgquick.parse_check(text, str(path))
        plan.notices.append(
            f"{path}: hook {'installed' if wgquick.has_hook(text, str(path)) else 'not installed'}"
        )
        return
    old = _read(path)
    text = blocks.decode(old, str(path))
    if action == "install":
        new = wgquick.add_hook(text, up, down, str(path))
        _write_config(path, old, new, plan, "PostUp/PreDown block in [Interface]")
    else:
        _restore_config(path, old, wgquick.remove_hook(text, str(path)), plan)


def _openvpn(
    action: str, opts: HookOptions, host: Host, cmd: scripts.HookCommand, plan: HookPlan
) -> None:
    script = scripts.openvpn_script(cmd)
    plan.script = script
    plan.lines = {"config": "\n".join(openvpn.block_lines(OPENVPN_SCRIPT, True)[1:-1])}
    script_path = host.p(OPENVPN_SCRIPT)
    config = Path(opts.config) if opts.config else None
    if action == "show":
        return
    if action == "install":
        if config is not None:  # check the config first: a refusal must change nothing
            old = _read(config)
            text = blocks.decode(old, str(config))
            new = openvpn.add_hook(text, OPENVPN_SCRIPT, str(config))
            if openvpn.runs_as_unprivileged_user(text, str(config)):
                plan.notices.append(
                    f"{config} drops root (`user`): OpenVPN runs `down` unprivileged, so "
                    "vpnguard cannot undo there; add the down-root plugin or rely on `watch`"
                )
        _write_script(script_path, script, plan, _marker("openvpn"), host.is_admin)
        if config is not None:
            _write_config(config, old, new, plan, "script-security/up/down block")
        else:
            plan.notices.append("add these lines to your OpenVPN config:\n" + plan.lines["config"])
    else:
        if config is not None:
            old = _read(config)
            text = blocks.decode(old, str(config))
            _restore_config(config, old, openvpn.remove_hook(text, str(config)), plan)
        _remove_script(script_path, plan, _marker("openvpn"))


def _networkmanager(
    action: str, opts: HookOptions, host: Host, cmd: scripts.HookCommand, plan: HookPlan
) -> None:
    script = scripts.networkmanager_script(cmd)
    plan.script = script
    path = host.p(NM_SCRIPT)
    if action == "show":
        return
    if action == "install":
        if host.is_live and not host.p("/etc/NetworkManager").is_dir():
            raise RefusedError("NetworkManager is not installed (/etc/NetworkManager is missing)")
        _write_script(path, script, plan, _marker("networkmanager"), host.is_admin)
    else:
        _remove_script(path, plan, _marker("networkmanager"))


def render_text(plan: HookPlan) -> str:
    out: list[str] = []
    for key, value in plan.lines.items():
        out.append(f"{key} = {value}" if key != "config" else value)
    if plan.script and plan.action == "show":
        out.append(plan.script.rstrip("\n"))
    for change in plan.changes:
        out.append(
            f"{change.action}: {change.path}" + (f" ({change.detail})" if change.detail else "")
        )
    out.extend(f"note: {n}" for n in plan.notices)
    return "\n".join(out)
