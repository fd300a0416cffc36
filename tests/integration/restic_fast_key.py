"""Make a test repository's key cheap to open (tests only; never on a box).

`restic init` calibrates scrypt to ~0.5 s of CPU per open on the machine that runs it, and every
restic command opens the key: a test doing 40 restic calls spends most of its time there. restic
0.14 has no switch for it, so this re-wraps the repository's master key under low scrypt
parameters, exactly as restic stores keys (scrypt -> AES-256-CTR + Poly1305-AES over the
ciphertext; file = IV || ciphertext || MAC). The repository stays a normal restic repository
with a real password; only the password hashing is weaker. Without `cryptography` it does
nothing (the tests are then just slower).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

FAST = {"N": 1024, "r": 8, "p": 1}


def _keys(password: bytes, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
    derived = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=2**31 - 1, dklen=64)
    return derived[:32], derived[32:48], derived[48:64]  # AES key, MAC k, MAC r


def _mac(aes: Any, k: bytes, r: bytes, nonce: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    from cryptography.hazmat.primitives.poly1305 import Poly1305

    enc = Cipher(aes(k), modes.ECB()).encryptor()  # noqa: S305 - one block: Poly1305-AES's s
    s = enc.update(nonce) + enc.finalize()
    return Poly1305.generate_tag(r + s, data)


def _ctr(aes: Any, key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    c = Cipher(aes(key), modes.CTR(iv)).encryptor()
    return c.update(data) + c.finalize()


def weaken(repo: Path, password: str) -> bool:
    """Rewrite every key of `repo` with FAST scrypt parameters; False if not possible here."""
    try:
        from cryptography.hazmat.primitives.ciphers import algorithms
    except ImportError:
        return False
    aes = algorithms.AES
    for path in (repo / "keys").iterdir():
        doc = json.loads(path.read_text())
        blob = base64.b64decode(doc["data"])
        iv, body, tag = blob[:16], blob[16:-16], blob[-16:]
        enc, mk, mr = _keys(password.encode(), base64.b64decode(doc["salt"]),
                            doc["N"], doc["r"], doc["p"])
        if _mac(aes, mk, mr, iv, body) != tag:
            raise ValueError("restic key does not open with this password")
        master = _ctr(aes, enc, iv, body)
        salt, iv2 = os.urandom(64), os.urandom(16)
        enc2, mk2, mr2 = _keys(password.encode(), salt, FAST["N"], FAST["r"], FAST["p"])
        body2 = _ctr(aes, enc2, iv2, master)
        doc.update(FAST, salt=base64.b64encode(salt).decode(),
                   data=base64.b64encode(iv2 + body2 + _mac(aes, mk2, mr2, iv2, body2)).decode())
        text = json.dumps(doc).encode()
        new = path.with_name(hashlib.sha256(text).hexdigest())  # keys are named by content
        new.write_bytes(text)
        new.chmod(path.stat().st_mode & 0o777)
        if new != path:
            path.unlink()
    return True
