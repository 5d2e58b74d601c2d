"""Runs in a process of its own: SoftHSM keeps the first token folder a process opens.

``python -m tests.privacy._token DB_URL DATA_DIR`` (with ``SOFTHSM2_CONF`` set
to a fresh token folder) makes an AES-256 key on the token, seals and opens a
field with it as the KEK, checks a wrong label and a missing key, and prints
one line per check.
"""

from __future__ import annotations

import sys
from pathlib import Path

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "evs-privacy-token"
LABEL = "privacy-kek"
PIN = "123456"


def main(url: str, data_dir: str) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType

    from evservice import privacy
    from evservice._context import Context
    from evservice.config import Settings
    from evservice.errors import ConfigurationError, StoreError

    token = pkcs11.lib(str(MODULE)).get_token(token_label=TOKEN)
    with token.open(rw=True, user_pin=PIN) as session:
        session.generate_key(
            KeyType.AES, 256, label=LABEL, store=True,
            template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True},
        )  # fmt: skip

    def settings(label: str) -> Settings:
        return Settings(
            data_dir=Path(data_dir),
            database_url=url,
            pkcs11_module=MODULE,
            pkcs11_token_label=TOKEN,
            pkcs11_pin=PIN,
            privacy_kek_pkcs11_label=label,
            _env_file=None,  # type: ignore[call-arg]
        )

    ctx = Context(settings=settings(LABEL))
    kek = privacy.load_kek(ctx.settings)
    print("kind", type(kek).__name__)
    keys = privacy.keyring(ctx)
    place = privacy.FieldPlace("contract", "draft_json", "c-1")
    sealed = keys.seal("Nguyễn Thị Mai", place, keys.subject_scope("0912345678"))
    fresh = privacy.Keyring(ctx.engine, kek, enabled=True, ctx=ctx)  # unwraps on the token
    print("opened", fresh.open(sealed, place) == "Nguyễn Thị Mai")
    print("sealed", privacy.is_sealed(sealed) and "Mai" not in (sealed or ""))
    print("dev-key", (Path(data_dir) / "keys" / "privacy-kek.key").exists())
    blob = kek.wrap(b"k" * 32, b"one label")
    try:
        kek.unwrap(blob, b"another label")
        print("relabelled", "opened")
    except StoreError:
        print("relabelled", "refused")
    try:
        privacy.load_kek(settings("nope"))
        print("missing", "loaded")
    except ConfigurationError as exc:
        print("missing", "refused", PIN in str(exc))


if __name__ == "__main__":
    main(*sys.argv[1:3])
