"""``tresor.kmip.objects``: the managed-object classes of PyKMIP's ``kmip.pie.objects``
(same constructors and attributes), for ``ProxyKmipClient.register`` and what ``get``
returns. ``repr()`` never shows key material."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import kmip_enums as enums


class ManagedObject:
    """The base of every managed object: ``unique_identifier``, ``names``, ``object_type``,
    ``value``, ``operation_policy_name``."""

    object_type: Any = None

    def __init__(self) -> None:
        self.unique_identifier: Optional[str] = None
        self.names: List[str] = []
        self.value: bytes = b""
        self.operation_policy_name: Optional[str] = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(unique_identifier={self.unique_identifier!r}, "
            f"{len(self.value or b'')} bytes)"
        )

    def _fields(self):
        return (self.value,)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


class CryptographicObject(ManagedObject):
    """A managed object with ``cryptographic_usage_masks``."""

    def __init__(self) -> None:
        super().__init__()
        self.cryptographic_usage_masks: List[Any] = []


class Key(CryptographicObject):
    """A key: ``cryptographic_algorithm``, ``cryptographic_length``, ``key_format_type``,
    ``key_wrapping_data``."""

    def __init__(self, key_wrapping_data: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self.cryptographic_algorithm = None
        self.cryptographic_length = None
        self.key_format_type = None
        self.key_wrapping_data = key_wrapping_data or {}

    def _fields(self):
        return (
            self.value,
            _num(self.cryptographic_algorithm),
            self.cryptographic_length,
            _num(self.key_format_type),
        )


def _num(e):
    return e.value if hasattr(e, "value") else e


class SymmetricKey(Key):
    """``SymmetricKey(algorithm, length, value, masks=None, name='Symmetric Key')``."""

    object_type = enums.ObjectType.SYMMETRIC_KEY

    def __init__(self, algorithm, length, value, masks=None, name="Symmetric Key",
                 key_wrapping_data=None, app_specific_info=None):
        super().__init__(key_wrapping_data=key_wrapping_data)
        self.cryptographic_algorithm = algorithm
        self.cryptographic_length = length
        self.value = value
        self.key_format_type = enums.KeyFormatType.RAW
        self.cryptographic_usage_masks = list(masks or [])
        self.names = [name]
        self.app_specific_info = list(app_specific_info or [])


class PublicKey(Key):
    """``PublicKey(algorithm, length, value, format_type=X_509, masks=None, name='Public Key')``."""

    object_type = enums.ObjectType.PUBLIC_KEY

    def __init__(self, algorithm, length, value, format_type=enums.KeyFormatType.X_509,
                 masks=None, name="Public Key", key_wrapping_data=None, app_specific_info=None):
        super().__init__(key_wrapping_data=key_wrapping_data)
        self.cryptographic_algorithm = algorithm
        self.cryptographic_length = length
        self.value = value
        self.key_format_type = format_type
        self.cryptographic_usage_masks = list(masks or [])
        self.names = [name]
        self.app_specific_info = list(app_specific_info or [])


class PrivateKey(Key):
    """``PrivateKey(algorithm, length, value, format_type, masks=None, name='Private Key')``."""

    object_type = enums.ObjectType.PRIVATE_KEY

    def __init__(self, algorithm, length, value, format_type, masks=None, name="Private Key",
                 key_wrapping_data=None, app_specific_info=None):
        super().__init__(key_wrapping_data=key_wrapping_data)
        self.cryptographic_algorithm = algorithm
        self.cryptographic_length = length
        self.value = value
        self.key_format_type = format_type
        self.cryptographic_usage_masks = list(masks or [])
        self.names = [name]
        self.app_specific_info = list(app_specific_info or [])


class SplitKey(Key):
    """A part of a split key (``split_key_parts``, ``key_part_identifier``,
    ``split_key_threshold``, ``split_key_method``, ``prime_field_size``)."""

    object_type = enums.ObjectType.SPLIT_KEY

    def __init__(self, cryptographic_algorithm=None, cryptographic_length=None, key_value=None,
                 cryptographic_usage_masks=None, name="Split Key",
                 key_format_type=enums.KeyFormatType.RAW, key_wrapping_data=None,
                 split_key_parts=None, key_part_identifier=None, split_key_threshold=None,
                 split_key_method=None, prime_field_size=None):
        super().__init__(key_wrapping_data=key_wrapping_data)
        self.cryptographic_algorithm = cryptographic_algorithm
        self.cryptographic_length = cryptographic_length
        self.value = key_value
        self.key_format_type = key_format_type
        self.cryptographic_usage_masks = list(cryptographic_usage_masks or [])
        self.names = [name]
        self.split_key_parts = split_key_parts
        self.key_part_identifier = key_part_identifier
        self.split_key_threshold = split_key_threshold
        self.split_key_method = split_key_method
        self.prime_field_size = prime_field_size


class Certificate(CryptographicObject):
    """``Certificate(certificate_type, value, masks=None, name='Certificate')``."""

    object_type = enums.ObjectType.CERTIFICATE

    def __init__(self, certificate_type, value, masks=None, name="Certificate"):
        super().__init__()
        self.certificate_type = certificate_type
        self.value = value
        self.cryptographic_usage_masks = list(masks or [])
        self.names = [name]

    def _fields(self):
        return (self.value, _num(self.certificate_type))


class X509Certificate(Certificate):
    """``X509Certificate(value, masks=None, name='X.509 Certificate')``."""

    def __init__(self, value, masks=None, name="X.509 Certificate"):
        super().__init__(enums.CertificateType.X_509, value, masks, name)


class SecretData(CryptographicObject):
    """``SecretData(value, data_type, masks=None, name='Secret Data')``."""

    object_type = enums.ObjectType.SECRET_DATA

    def __init__(self, value, data_type, masks=None, name="Secret Data", app_specific_info=None,
                 key_wrapping_data=None):
        super().__init__()
        self.value = value
        self.data_type = data_type
        self.cryptographic_usage_masks = list(masks or [])
        self.names = [name]
        self.app_specific_info = list(app_specific_info or [])
        self.key_wrapping_data = key_wrapping_data or {}

    def _fields(self):
        return (self.value, _num(self.data_type))


class OpaqueObject(ManagedObject):
    """``OpaqueObject(value, opaque_type, name='Opaque Object')``."""

    object_type = enums.ObjectType.OPAQUE_DATA

    def __init__(self, value, opaque_type, name="Opaque Object"):
        super().__init__()
        self.value = value
        self.opaque_type = opaque_type
        self.names = [name]

    def _fields(self):
        return (self.value, _num(self.opaque_type))


__all__ = [
    "Certificate",
    "CryptographicObject",
    "Key",
    "ManagedObject",
    "OpaqueObject",
    "PrivateKey",
    "PublicKey",
    "SecretData",
    "SplitKey",
    "SymmetricKey",
    "X509Certificate",
]
