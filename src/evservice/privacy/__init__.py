"""Personal data at rest: field encryption, data keys, rotation and crypto-shredding.

Fields holding personal data are sealed with AES-256-GCM under data keys that
a key-encryption key (KEK: PKCS#11 token, environment, file or a development
file) wraps; the associated data binds each value to its table, column and row.
Lookups by phone or e-mail go through a keyed blind index. See README,
"Personal data".
"""

from evservice.privacy._cipher import FieldPlace, is_sealed, key_id_of
from evservice.privacy._forget import Forgotten, forget
from evservice.privacy._kek import KeyEncryptionKey, LocalKek, Pkcs11Kek, load_kek
from evservice.privacy._keyring import (
    ERASED,
    INDEX_SCOPE,
    RETENTION_SCOPE,
    Keyring,
    keyring,
    normalise_identity,
)
from evservice.privacy._reseal import (
    ColumnReport,
    PassResult,
    Plain,
    SealedTable,
    StoreReport,
    migrate,
    retire,
    rotate,
    verify,
)

__all__ = [
    "ERASED",
    "INDEX_SCOPE",
    "RETENTION_SCOPE",
    "ColumnReport",
    "FieldPlace",
    "Forgotten",
    "KeyEncryptionKey",
    "Keyring",
    "LocalKek",
    "PassResult",
    "Pkcs11Kek",
    "Plain",
    "SealedTable",
    "StoreReport",
    "forget",
    "is_sealed",
    "key_id_of",
    "keyring",
    "load_kek",
    "migrate",
    "normalise_identity",
    "retire",
    "rotate",
    "verify",
]
