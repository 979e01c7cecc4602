"""The pseudonym key, and the checks that keep example or weak secrets out of a deployment.

Which key pseudonymises a drop:

- ``FENGQIAO_PSEUDONYM_KEY`` (the key itself), else ``FENGQIAO_PSEUDONYM_KEY_FILE`` (a file holding it);
- neither, and the drop is simulated (it has ``truth/``): a random key made once per install and kept in
  ``<FENGQIAO_HOME>/demo-pseudonym.key`` (mode 0600), so repeated demo runs give the same pseudonyms;
- neither, and the drop is real: refused. A real drop is also refused with a key that is a known
  placeholder, the old public development default, or too short: such a key lets anyone who has the
  pseudonyms hash the ~10^10 possible phone numbers and read them back.

A key file readable by group or others is refused (like ``ssh`` does with private keys), simulated
drop or not: the key is the one secret that keeps pseudonyms from being reversed.

The same placeholder list serves ``python -m fengqiao.core.keys``, the one-shot check that
docker-compose.yml runs before anything else starts.
"""
from __future__ import annotations

import base64
import os
import secrets
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

MIN_SECRET_LENGTH = 32
DEMO_KEY_FILE = "demo-pseudonym.key"
# Earlier releases used this key whenever none was set: it is public, so pseudonyms made with it are not secret.
OLD_DEVELOPMENT_KEY = "fengqiao-development-key-not-for-production"
# Values published in docker/env.example (this release's and earlier ones) and the usual stand-ins.
KNOWN_PLACEHOLDERS = frozenset({
    OLD_DEVELOPMENT_KEY, "change-me-to-a-long-random-secret", "change-me-too", "change-me", "changeme",
    "airflow", "postgres", "password", "secret", "example", "test", "xxx",
})
# Every placeholder docker/env.example holds starts with one of these.
PLACEHOLDER_PREFIXES = ("replace-me", "change-me", "changeme", "<")

MAKE_KEY_HINT = ("make one with `(umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' "
                 "> /etc/fengqiao/pseudonym.key)` and set FENGQIAO_PSEUDONYM_KEY_FILE=/etc/fengqiao/pseudonym.key")


# Under Spark Connect the pseudonym UDF carries the key file's path, never the key (fengqiao.core.pseudonyms).
KEY_FILE_UNDER_CONNECT = ("under Spark Connect (SPARK_REMOTE) the pseudonym key must come from a file that the Spark "
                          "workers read, so that it never travels in a plan: set FENGQIAO_PSEUDONYM_KEY_FILE to a file "
                          "of mode 0600 at the same path on every Spark node, and unset FENGQIAO_PSEUDONYM_KEY")


class SecretFileError(RuntimeError):
    """A secret's file is missing, empty or readable by others; the message says why and the remedy, never the
    secret. ``reason`` is the why alone (a caller with a remedy of its own, such as the deployment check, shows it)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


class PseudonymKeyError(SecretFileError):
    """No usable pseudonym key; the message says why and how to make one, never the key."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: str = field(repr=False)
    origin: str  # where it came from, for messages: a variable's name or a file's path
    file: Path | None = None  # the file it was read from (None: a variable), for readers in other processes


def secret_problem(value: str) -> str | None:
    """Why ``value`` must not be used as a secret (placeholder, old default, too short), or None."""
    text = value.strip()
    if text == OLD_DEVELOPMENT_KEY:
        return "is the old public development default"
    if text.lower() in KNOWN_PLACEHOLDERS or text.lower().startswith(PLACEHOLDER_PREFIXES):
        return "is a placeholder from the examples"
    if len(text) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def is_simulated_drop(source_dir: Path) -> bool:
    """A simulator's drop carries its ground truth in ``truth/``; a real export never does."""
    return (source_dir / "truth").is_dir()


def readable_by_others(path: Path) -> int | None:
    """The file's permission bits when its group or others have any right on it (a secret's file must be
    0600, as ssh wants of private keys), else None. Raises OSError when the file cannot be examined."""
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode if mode & (stat.S_IRWXG | stat.S_IRWXO) else None


def read_secret_file(path: Path, what: str, remedy: str, error: type[SecretFileError] = SecretFileError) -> str:
    """The secret held in ``path`` (surrounding whitespace dropped); refused when others may read it. ``what`` and
    ``remedy`` name the file and how to make one in the error, which never shows the secret."""
    def refuse(reason: str, fix: str) -> SecretFileError:
        return error(f"{reason}; {fix}", reason=reason)

    try:
        mode = readable_by_others(path)
    except OSError as exc:
        raise refuse(f"{what} {path} cannot be read ({exc.strerror})", remedy) from None
    if mode is not None:
        raise refuse(f"{what} {path} has mode {mode:04o}: others may read it", f"run `chmod 600 {path}`")
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise refuse(f"{what} {path} is empty", remedy)
    return secret


def read_key_file(path: Path) -> str:
    """The pseudonym key held in ``path``; refused when others may read it."""
    return read_secret_file(path, "pseudonym key file", MAKE_KEY_HINT, PseudonymKeyError)


def ensure_secret_file(path: Path) -> Path:
    """``path``, made once with a random secret (mode 0600) and kept for the next runs: the demo's pseudonym
    key, the local Spark Connect server's token.

    Written to a private temporary file and linked into place, so two tasks starting together agree
    on one secret and nobody reads a half-written file.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another task made it first: use theirs
    finally:
        os.unlink(tmp)
    return path


def ensure_demo_key(home: Path) -> Path:
    """``<home>/demo-pseudonym.key``, made once (random, mode 0600) and kept for the next runs."""
    return ensure_secret_file(home / DEMO_KEY_FILE)


def resolve_pseudonym_key(source_dir: Path, home: Path, key: str | None = None,
                          key_file: Path | None = None) -> PseudonymKey:
    """The key that pseudonymises the drop in ``source_dir``: ``key`` (FENGQIAO_PSEUDONYM_KEY), else the one in
    ``key_file`` (FENGQIAO_PSEUDONYM_KEY_FILE), else for a simulated drop the per-install key under ``home``;
    raises :class:`PseudonymKeyError` when there is none (``Settings.resolved_pseudonym_key`` passes its own)."""
    simulated = is_simulated_drop(source_dir)
    if key:
        found = PseudonymKey(key, "FENGQIAO_PSEUDONYM_KEY")
    elif key_file:
        found = PseudonymKey(read_key_file(key_file), str(key_file), key_file)
    elif simulated:
        path = ensure_demo_key(home)
        found = PseudonymKey(read_key_file(path), str(path), path)
    else:
        raise PseudonymKeyError(f"no pseudonym key for the real drop {source_dir} (it has no truth/): "
                                f"{MAKE_KEY_HINT}")
    problem = None if simulated else secret_problem(found.secret)
    if problem:
        raise PseudonymKeyError(f"the pseudonym key from {found.origin} {problem}: refused for the real drop "
                                f"{source_dir}; {MAKE_KEY_HINT}")
    return found


# --- the deployment's secrets (docker-compose.yml) ------------------------------------------------------

# Variable of the containers -> its name in the operator's .env, and how to make a good value (as in
# docker/env.example).
DEPLOYMENT_SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": ("AIRFLOW_JWT_SECRET",
                                      "python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"),
    "AIRFLOW__CORE__FERNET_KEY": ("AIRFLOW_FERNET_KEY", "python3 -c 'import base64, os; "
                                  "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"),
    "POSTGRES_PASSWORD": ("POSTGRES_PASSWORD", "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"),
}
# The pseudonym key reaches the containers as a file (a compose secret), never as a variable; the operator's .env
# names the file on the host.
DEPLOYMENT_KEY_FILE_VARIABLE = "FENGQIAO_PSEUDONYM_KEY_FILE"
DEPLOYMENT_KEY_HOST_FILE = "FENGQIAO_PSEUDONYM_KEY_HOST_FILE"
MAKE_DEPLOYMENT_KEY = ("python3 -c 'import secrets; print(secrets.token_hex(32))' | sudo install -D -m 600 "
                       "-o 50000 /dev/stdin /etc/fengqiao/pseudonym.key")


def _fernet_problem(value: str) -> str | None:
    try:
        decoded = base64.urlsafe_b64decode(value.encode("ascii"))
    except ValueError:  # binascii.Error and UnicodeEncodeError are ValueErrors
        decoded = b""
    return None if len(decoded) == 32 else "is not a Fernet key (32 bytes, URL-safe base64)"


def deployment_secret_problems(env: Mapping[str, str]) -> list[str]:
    """One line per deployment secret that is missing, an example value or too weak (values never shown)."""
    problems = []
    key_file = env.get(DEPLOYMENT_KEY_FILE_VARIABLE, "").strip()
    if "FENGQIAO_PSEUDONYM_KEY" in env:
        problems.append("FENGQIAO_PSEUDONYM_KEY is set as a variable: remove it; the key is a file "
                        f"({DEPLOYMENT_KEY_HOST_FILE} in .env), which no container's environment shows")
    problem = f"{DEPLOYMENT_KEY_FILE_VARIABLE} is not set" if not key_file else None
    if key_file:
        try:
            weakness = secret_problem(read_key_file(Path(key_file)))
            problem = weakness and f"the pseudonym key in {key_file} {weakness}"
        except PseudonymKeyError as exc:
            problem = exc.reason  # the deployment's own remedy follows
    if problem:
        problems.append(f"{DEPLOYMENT_KEY_HOST_FILE}: {problem}: make the file with `{MAKE_DEPLOYMENT_KEY}` "
                        "(50000: the containers' user, AIRFLOW_UID if set)")
    for name, (env_file_name, command) in DEPLOYMENT_SECRETS.items():
        value = env.get(name, "")
        problem = ("is not set" if not value.strip() else
                   secret_problem(value) or (_fernet_problem(value) if name == "AIRFLOW__CORE__FERNET_KEY" else None))
        if problem:
            problems.append(f"{env_file_name} {problem}: make one with `{command}` and put it in .env")
    return problems


def main() -> int:
    """``python -m fengqiao.core.keys``: exit 1, naming each bad secret, when the environment holds example values."""
    problems = deployment_secret_problems(os.environ)
    for line in problems:
        print(f"fengqiao-secrets-check: {line}", file=sys.stderr)
    if not problems:
        print("fengqiao-secrets-check: secrets set and not the examples")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
