"""TURN credentials in the OS keyring, never on the command line or on disk.

FACTS: keyring without a D-Bus session raises ``NoKeyringError``; with
``keyrings.alt`` installed it silently writes a *plaintext* file. We never
rely on that: a missing or plaintext backend is refused with a clear message.
"""

from __future__ import annotations

import logging

from vpnguard.core.errors import RefusedError

log = logging.getLogger(__name__)

SERVICE = "vpnguard-turn"
_PLAINTEXT_BACKENDS = ("keyrings.alt", "PlaintextKeyring")

NO_KEYRING = (
    "no usable OS keyring: TURN credentials are kept only in the system keyring "
    "(GNOME Keyring/KWallet over D-Bus, macOS Keychain, Windows Credential Locker). "
    "Start a desktop session (or a D-Bus session with a keyring daemon), or check with "
    "STUN only."
)


def _key(url: str, username: str) -> str:
    return f"{username}@{url}"


def _backend() -> object:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring) or any(p in name for p in _PLAINTEXT_BACKENDS):
        raise RefusedError(NO_KEYRING + f" (backend: {name})")
    return backend


def store_turn_secret(url: str, username: str, secret: str) -> None:
    """Save a TURN password for ``username`` at ``url`` in the OS keyring."""
    import keyring
    import keyring.errors

    _backend()
    try:
        keyring.set_password(SERVICE, _key(url, username), secret)
    except keyring.errors.KeyringError as exc:
        raise RefusedError(f"{NO_KEYRING} ({exc})") from exc


def load_turn_secret(url: str, username: str) -> str:
    """The stored TURN password; RefusedError when there is no keyring or no entry."""
    import keyring
    import keyring.errors

    _backend()
    try:
        secret = keyring.get_password(SERVICE, _key(url, username))
    except keyring.errors.KeyringError as exc:
        raise RefusedError(f"{NO_KEYRING} ({exc})") from exc
    if secret is None:
        raise RefusedError(
            f"no TURN password for {username!r} at {url} in the keyring: store it first with "
            f"'vpnguard check --turn {url} --turn-user {username} --store-turn-password' "
            "(reads the password from stdin)"
        )
    return str(secret)


def delete_turn_secret(url: str, username: str) -> None:
    import keyring
    import keyring.errors

    _backend()
    try:
        keyring.delete_password(SERVICE, _key(url, username))
    except keyring.errors.PasswordDeleteError:
        log.debug("no stored TURN password for %s", _key(url, username))
