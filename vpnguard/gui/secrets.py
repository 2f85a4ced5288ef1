"""TURN passwords in the OS keyring, never in the settings file.

Same service name and key as the CLI's ``vpnguard check --store-turn-password``
so both see one entry. ``keyrings.alt`` (a plaintext file) is never accepted:
with no real keyring the user gets a message saying so, and nothing is stored.
"""

from __future__ import annotations

SERVICE = "vpnguard-turn"

NO_KEYRING = (
    "There is no usable system keyring, so the TURN password cannot be stored safely. "
    "vpnguard keeps TURN passwords only in the system keyring (GNOME Keyring or KWallet "
    "over D-Bus, macOS Keychain, Windows Credential Locker). Log in to a desktop session "
    "with a keyring, or check with STUN servers only."
)


class KeyringUnavailable(Exception):
    pass


def _key(url: str, username: str) -> str:
    return f"{username}@{url}"


def _backend() -> None:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring) or "keyrings.alt" in name or "Plaintext" in name:
        raise KeyringUnavailable(NO_KEYRING)


def store(url: str, username: str, secret: str) -> None:
    import keyring
    import keyring.errors

    _backend()
    try:
        keyring.set_password(SERVICE, _key(url, username), secret)
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(NO_KEYRING) from exc
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring refused to store the password: {exc}") from exc


def load(url: str, username: str) -> str | None:
    import keyring
    import keyring.errors

    _backend()
    try:
        value = keyring.get_password(SERVICE, _key(url, username))
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(NO_KEYRING) from exc
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring could not be read: {exc}") from exc
    return None if value is None else str(value)
