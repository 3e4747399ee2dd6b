"""A KMIP client with PyKMIP's ``kmip.pie.client.ProxyKmipClient`` interface, on tresor's
Rust KMIP client (mutual TLS, the server's certificate and name verified, one kept
connection, every round trip with the interpreter released).

>>> from tresor.kmip import ProxyKmipClient, enums, objects
>>> with ProxyKmipClient(config_file="pykmip.conf") as c:          # doctest: +SKIP
...     uid = c.create(enums.CryptographicAlgorithm.AES, 256)
...     c.activate(uid)
...     data, iv = c.encrypt(b"hello", uid, {"block_cipher_mode": enums.BlockCipherMode.CBC,
...                          "padding_method": enums.PaddingMethod.PKCS5,
...                          "cryptographic_algorithm": enums.CryptographicAlgorithm.AES},
...                          iv_counter_nonce=b"\\0" * 16)
...     key = c.get(uid)                                            # objects.SymmetricKey

Methods, arguments and return shapes are PyKMIP 0.11's: ``create``, ``create_key_pair``,
``register``, ``rekey``, ``derive_key``, ``locate``, ``get``, ``get_attributes``,
``get_attribute_list``, ``activate``, ``revoke``, ``destroy``, ``encrypt``, ``decrypt``,
``sign``, ``signature_verify``, ``mac``, ``check``. ``enums`` has PyKMIP's enumerations
(same names and values; PyKMIP's own enum members are accepted too), ``objects`` the
``kmip.pie.objects`` classes, ``AttributeFactory`` builds ``locate`` filters. A failed
operation raises ``KmipOperationFailure`` (``status``, ``reason``, ``message``); no
connection raises ``ClientConnectionFailure`` (a ``ConnectionError``).

The settings come from the arguments, else from section ``config`` of ``config_file``
(default: PyKMIP's list, ``~/.pykmip/pykmip.conf`` then ``/etc/pykmip/pykmip.conf``), keys
``host``, ``port``, ``certfile``, ``keyfile``, ``ca_certs``, ``timeout`` (PyKMIP's
``ssl_version``, ``cert_reqs``, ``do_handshake_on_connect`` and ``suppress_ragged_eofs``
are ignored: TLS 1.2+ with certificates is always used) and, a tresor extension,
``kmip_version``. Requests speak KMIP 1.0-1.4 or 2.0 (``kmip_version=enums.KMIPVersion.KMIP_2_0``;
default 1.2, as PyKMIP): payloads are built in the 1.x shape and, on a 2.x connection,
rewritten by the native side into 2.x (``Attributes`` instead of ``TemplateAttribute``,
``Attribute Reference`` instead of ``Attribute Name``) and back, as PyKMIP's client does;
``username``/``password`` are refused (mutual TLS identifies the client).
"""

from __future__ import annotations

import configparser
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import kmip_enums as enums
from ._tresor import KmipConnection
from .errors import InvalidArgumentError, KmipConnectionError, KmipOperationFailure

__all__ = [
    "AttributeFactory",
    "ClientConnectionFailure",
    "ClientConnectionNotOpen",
    "KmipOperationFailure",
    "ProxyKmipClient",
    "enums",
    "objects",
]

#: PyKMIP's ``kmip.pie.exceptions.ClientConnectionFailure``.
ClientConnectionFailure = KmipConnectionError


class ClientConnectionNotOpen(KmipConnectionError):
    """A call on a client that is not open (PyKMIP's ``ClientConnectionNotOpen``)."""

    def __init__(self, message: str = "client connection not open") -> None:
        super().__init__(message)


CONFIG_FILE = [
    os.path.join(os.path.expanduser("~"), ".pykmip", "pykmip.conf"),
    os.path.join(os.sep, "etc", "pykmip", "pykmip.conf"),
]

T = enums.Tags
# Item types (KMIP 1.4 section 9.1.1.2).
STRUCT, INT, LONG, BIG, ENUM, BOOL, TEXT, BYTES, DATE, INTERVAL = range(1, 11)
SUCCESS = enums.ResultStatus.SUCCESS.value

_OPS = {name: op.value for name, op in enums.Operation.__members__.items()}


def _v(x: Any) -> Any:
    """The number of an enum member (ours or PyKMIP's), else ``x``."""
    return x.value if hasattr(x, "value") and hasattr(x, "name") else x


# Tags are this module's own enum: their numbers are read as `_value_` (a plain attribute),
# not `.value` (a descriptor call), on the request and answer path of every operation.


def _item(tag, ty, value):
    return (tag._value_, ty, value)


def _text(tag, s):
    return (tag._value_, TEXT, s)


def _enum(tag, e):
    return (tag._value_, ENUM, int(_v(e)))


def _mask(masks) -> int:
    if isinstance(masks, int):
        return masks
    out = 0
    for m in masks or ():
        out |= int(_v(m))
    return out


def _find(items, tag, default=None):
    return _find_num(items, tag._value_, default)


def _find_num(items, t, default=None):
    """`_find` by tag number."""
    for i in items:
        if i[0] == t:
            return i[2]
    return default


def _all(items, tag):
    t = tag._value_
    return [i[2] for i in items if i[0] == t]


def _as_enum(cls, value):
    # The member map first: calling the class costs a micro-second per call, and a Get
    # makes several (about a tenth of a Get's time on a local server).
    try:
        return cls._value2member_map_[value]
    except (KeyError, TypeError):
        pass
    try:
        return cls(value)
    except ValueError:
        return value


# -- attributes --------------------------------------------------------------------------

_ENUM_ATTRS = {
    "Cryptographic Algorithm": enums.CryptographicAlgorithm,
    "Object Type": enums.ObjectType,
    "State": enums.State,
    "Certificate Type": enums.CertificateType,
}
_INT_ATTRS = {"Cryptographic Length", "Cryptographic Usage Mask", "Lease Time"}
_DATE_ATTRS = {
    "Initial Date",
    "Activation Date",
    "Process Start Date",
    "Protect Stop Date",
    "Deactivation Date",
    "Destroy Date",
    "Compromise Occurrence Date",
    "Compromise Date",
    "Archive Date",
    "Last Change Date",
    "Original Creation Date",
}


class _Box:
    """A value with ``.value`` (PyKMIP's primitive wrappers)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Box) and other.value == self.value

    def __repr__(self):
        return f"{type(self).__name__}({self.value!r})"


class Name:
    """A ``Name`` attribute value: ``name_value.value``, ``name_type.value``."""

    def __init__(self, name_value: str, name_type=enums.NameType.UNINTERPRETED_TEXT_STRING):
        self.name_value = _Box(name_value)
        self.name_type = _Box(_as_enum(enums.NameType, _v(name_type)))

    @classmethod
    def create(cls, name_value, name_type):
        return cls(name_value, name_type)

    def __eq__(self, other):
        return (
            isinstance(other, Name)
            and other.name_value == self.name_value
            and other.name_type == self.name_type
        )

    def __repr__(self):
        return f"Name({self.name_value.value!r}, {self.name_type.value})"


class Attribute:
    """One attribute (PyKMIP's ``kmip.core.objects.Attribute`` shape): ``attribute_name.value``,
    ``attribute_index`` (``.value`` or None) and ``attribute_value`` (``.value``, or a
    ``Name``)."""

    def __init__(self, attribute_name, attribute_index=None, attribute_value=None):
        self.attribute_name = attribute_name if isinstance(attribute_name, _Box) else _Box(attribute_name)
        if attribute_index is not None and not isinstance(attribute_index, _Box):
            attribute_index = _Box(attribute_index)
        self.attribute_index = attribute_index
        self.attribute_value = attribute_value

    def __repr__(self):
        return f"Attribute({self.attribute_name.value!r}, {self.attribute_value!r})"

    def _ttlv(self):
        name = self.attribute_name.value
        items = [_text(T.ATTRIBUTE_NAME, name)]
        if self.attribute_index is not None:
            items.append(_item(T.ATTRIBUTE_INDEX, INT, int(self.attribute_index.value)))
        items.append(_attr_value_ttlv(name, self.attribute_value))
        return _item(T.ATTRIBUTE, STRUCT, items)


def _attr_value_ttlv(name, value):
    v = value.value if isinstance(value, _Box) else value
    if isinstance(value, Name):
        return _item(
            T.ATTRIBUTE_VALUE,
            STRUCT,
            [
                _text(T.NAME_VALUE, value.name_value.value),
                _enum(T.NAME_TYPE, value.name_type.value),
            ],
        )
    if name in _ENUM_ATTRS:
        return _enum(T.ATTRIBUTE_VALUE, v)
    if name == "Cryptographic Usage Mask":
        return _item(T.ATTRIBUTE_VALUE, INT, _mask(v))
    if name in _INT_ATTRS:
        return _item(T.ATTRIBUTE_VALUE, INT, int(v))
    if name in _DATE_ATTRS:
        return _item(T.ATTRIBUTE_VALUE, DATE, int(v))
    if isinstance(v, bool):
        return _item(T.ATTRIBUTE_VALUE, BOOL, v)
    if isinstance(v, int):
        return _item(T.ATTRIBUTE_VALUE, INT, v)
    if isinstance(v, bytes):
        return _item(T.ATTRIBUTE_VALUE, BYTES, v)
    if isinstance(v, str):
        return _text(T.ATTRIBUTE_VALUE, v)
    raise InvalidArgumentError(f"attribute '{name}': cannot encode a {type(v).__name__} value")


def _attr_from_ttlv(items) -> Attribute:
    name = _find(items, T.ATTRIBUTE_NAME)
    index = _find(items, T.ATTRIBUTE_INDEX)
    raw = next((i for i in items if i[0] == T.ATTRIBUTE_VALUE._value_), None)
    if raw is None:
        value = None
    elif raw[1] == STRUCT and name == "Name":
        value = Name(_find(raw[2], T.NAME_VALUE), _find(raw[2], T.NAME_TYPE))
    elif raw[1] == STRUCT:
        value = _Box(raw[2])
    elif name in _ENUM_ATTRS:
        value = _Box(_as_enum(_ENUM_ATTRS[name], raw[2]))
    else:
        value = _Box(raw[2])
    return Attribute(name, index, value)


class AttributeFactory:
    """PyKMIP's ``kmip.core.factories.attributes.AttributeFactory``: ``create_attribute(
    enums.AttributeType.NAME, "my key")`` (a name, an enum member, a mask list...)."""

    def create_attribute(self, name, value, index=None) -> Attribute:
        attr_name = _v(name) if not isinstance(name, str) else name
        if attr_name == "Name" and not isinstance(value, Name):
            value = Name(value)
        elif not isinstance(value, (Name, _Box)):
            value = _Box(value)
        return Attribute(attr_name, index, value)


def _template(tag, attributes: Iterable[Attribute]):
    return _item(tag, STRUCT, [a._ttlv() for a in attributes])


_factory = AttributeFactory()


def _key_attrs(algorithm, length, masks) -> List[Attribute]:
    out = [
        _factory.create_attribute("Cryptographic Algorithm", algorithm),
        _factory.create_attribute("Cryptographic Length", length),
    ]
    if masks:
        out.append(_factory.create_attribute("Cryptographic Usage Mask", masks))
    return out


def _crypto_params(params: Optional[Dict[str, Any]]):
    if not params:
        return []
    fields = [
        ("block_cipher_mode", T.BLOCK_CIPHER_MODE, ENUM),
        ("padding_method", T.PADDING_METHOD, ENUM),
        ("hashing_algorithm", T.HASHING_ALGORITHM, ENUM),
        ("key_role_type", T.KEY_ROLE_TYPE, ENUM),
        ("digital_signature_algorithm", T.DIGITAL_SIGNATURE_ALGORITHM, ENUM),
        ("cryptographic_algorithm", T.CRYPTOGRAPHIC_ALGORITHM, ENUM),
        ("random_iv", T.RANDOM_IV, BOOL),
        ("iv_length", T.IV_LENGTH, INT),
        ("tag_length", T.TAG_LENGTH, INT),
        ("fixed_field_length", T.FIXED_FIELD_LENGTH, INT),
        ("invocation_field_length", T.INVOCATION_FIELD_LENGTH, INT),
        ("counter_length", T.COUNTER_LENGTH, INT),
        ("initial_counter_value", T.INITIAL_COUNTER_VALUE, INT),
    ]
    unknown = set(params) - {f[0] for f in fields}
    if unknown:
        raise InvalidArgumentError(f"cryptographic_parameters: unknown keys {sorted(unknown)}")
    items = []
    for key, tag, ty in fields:
        if params.get(key) is not None:
            v = params[key]
            items.append(_item(tag, ty, int(_v(v)) if ty in (ENUM, INT) else bool(v)))
    return [_item(T.CRYPTOGRAPHIC_PARAMETERS, STRUCT, items)]


# -- managed objects (kmip.pie.objects) -------------------------------------------------

from . import kmip_objects as objects  # noqa: E402

_OBJ_TAGS = {
    enums.ObjectType.SYMMETRIC_KEY: T.SYMMETRIC_KEY,
    enums.ObjectType.PUBLIC_KEY: T.PUBLIC_KEY,
    enums.ObjectType.PRIVATE_KEY: T.PRIVATE_KEY,
    enums.ObjectType.SECRET_DATA: T.SECRET_DATA,
    enums.ObjectType.OPAQUE_DATA: T.OPAQUE_OBJECT,
    enums.ObjectType.CERTIFICATE: T.CERTIFICATE,
    enums.ObjectType.SPLIT_KEY: T.SPLIT_KEY,
}

# By number (an enum member's hash is a Python-level call).
_OBJ_TAG_NUMS = {ot._value_: tag._value_ for ot, tag in _OBJ_TAGS.items()}
_TAG_KEY_BLOCK = T.KEY_BLOCK._value_
_TAG_KEY_FORMAT_TYPE = T.KEY_FORMAT_TYPE._value_
_TAG_KEY_VALUE = T.KEY_VALUE._value_
_TAG_CRYPTOGRAPHIC_ALGORITHM = T.CRYPTOGRAPHIC_ALGORITHM._value_
_TAG_CRYPTOGRAPHIC_LENGTH = T.CRYPTOGRAPHIC_LENGTH._value_
_TAG_KEY_WRAPPING_DATA = T.KEY_WRAPPING_DATA._value_


def _key_block(fmt, material: bytes, algorithm=None, length=None, wrapping=None):
    block = [_enum(T.KEY_FORMAT_TYPE, fmt)]
    block.append(_item(T.KEY_VALUE, STRUCT, [_item(T.KEY_MATERIAL, BYTES, material)]))
    if algorithm is not None:
        block.append(_enum(T.CRYPTOGRAPHIC_ALGORITHM, algorithm))
    if length is not None:
        block.append(_item(T.CRYPTOGRAPHIC_LENGTH, INT, int(length)))
    return _item(T.KEY_BLOCK, STRUCT, block)


def _object_ttlv(obj) -> Tuple[int, Any]:
    """(object type, object structure) of a ``objects`` instance."""
    ot = obj.object_type
    tag = _OBJ_TAGS.get(ot)
    if isinstance(obj, objects.SymmetricKey):
        body = [_key_block(obj.key_format_type, obj.value, obj.cryptographic_algorithm, obj.cryptographic_length)]
    elif isinstance(obj, (objects.PublicKey, objects.PrivateKey)):
        body = [_key_block(obj.key_format_type, obj.value, obj.cryptographic_algorithm, obj.cryptographic_length)]
    elif isinstance(obj, objects.SecretData):
        body = [_enum(T.SECRET_DATA_TYPE, obj.data_type), _key_block(enums.KeyFormatType.OPAQUE, obj.value)]
    elif isinstance(obj, objects.OpaqueObject):
        body = [_enum(T.OPAQUE_DATA_TYPE, obj.opaque_type), _item(T.OPAQUE_DATA_VALUE, BYTES, obj.value)]
    elif isinstance(obj, objects.Certificate):
        body = [_enum(T.CERTIFICATE_TYPE, obj.certificate_type), _item(T.CERTIFICATE_VALUE, BYTES, obj.value)]
    else:
        raise InvalidArgumentError(f"cannot register a {type(obj).__name__}")
    return ot, _item(tag, STRUCT, body)


def _object_from_ttlv(object_type, items):
    ot = _as_enum(enums.ObjectType, object_type)
    tag = _OBJ_TAG_NUMS.get(ot._value_) if isinstance(ot, enums.ObjectType) else None
    body = _find_num(items, tag) if tag is not None else None
    if body is None:
        raise KmipOperationFailure(
            enums.ResultStatus.OPERATION_FAILED,
            enums.ResultReason.GENERAL_FAILURE,
            f"Get answered object type {ot} without its object",
        )
    if ot == enums.ObjectType.OPAQUE_DATA:
        return objects.OpaqueObject(
            _find(body, T.OPAQUE_DATA_VALUE), _as_enum(enums.OpaqueDataType, _find(body, T.OPAQUE_DATA_TYPE))
        )
    if ot == enums.ObjectType.CERTIFICATE:
        ct = _as_enum(enums.CertificateType, _find(body, T.CERTIFICATE_TYPE))
        value = _find(body, T.CERTIFICATE_VALUE)
        if ct == enums.CertificateType.X_509:
            return objects.X509Certificate(value)
        return objects.Certificate(ct, value)
    # The key block read once into a map by tag (first of each, as `_find` would): every
    # Get of a key goes through here, and eight list scans were most of its Python time.
    block = {i[0]: i for i in reversed(_find_num(body, _TAG_KEY_BLOCK) or [])}
    fmt = block.get(_TAG_KEY_FORMAT_TYPE)
    fmt = _as_enum(enums.KeyFormatType, fmt[2] if fmt is not None else None)
    kv = block.get(_TAG_KEY_VALUE)
    if kv is None:
        material = b""
    elif kv[1] == BYTES:  # wrapped: the key value is a byte string
        material = kv[2]
    else:
        material = _find(kv[2], T.KEY_MATERIAL, b"")
        if isinstance(material, list):  # a structured key (transparent formats)
            material = b""
    alg = block.get(_TAG_CRYPTOGRAPHIC_ALGORITHM)
    alg = _as_enum(enums.CryptographicAlgorithm, alg[2]) if alg is not None else None
    length = block.get(_TAG_CRYPTOGRAPHIC_LENGTH)
    length = length[2] if length is not None else None
    wrapping = block.get(_TAG_KEY_WRAPPING_DATA)
    wrapping_data = _wrapping_data(wrapping[2]) if wrapping is not None else None
    if ot == enums.ObjectType.SECRET_DATA:
        sdt = _find(body, T.SECRET_DATA_TYPE)
    elif ot == enums.ObjectType.SPLIT_KEY:
        return objects.SplitKey(
            cryptographic_algorithm=alg,
            cryptographic_length=length,
            key_value=material,
            key_format_type=fmt,
            split_key_parts=_find(body, T.SPLIT_KEY_PARTS),
            key_part_identifier=_find(body, T.KEY_PART_IDENTIFIER),
            split_key_threshold=_find(body, T.SPLIT_KEY_THRESHOLD),
            split_key_method=_as_enum(enums.SplitKeyMethod, _find(body, T.SPLIT_KEY_METHOD)),
            prime_field_size=_find(body, T.PRIME_FIELD_SIZE),
        )
    else:
        sdt = None
    return _key_object(ot, fmt, material, alg, length, sdt, wrapping_data)


def _key_object(ot, fmt, material, alg, length, secret_data_type, wrapping_data):
    """The object of a key block: ``ot``, ``fmt`` and ``alg`` as enumerations, the secret
    data type as its number (None for other objects)."""
    if ot == enums.ObjectType.SYMMETRIC_KEY:
        return objects.SymmetricKey(alg, length, material, key_wrapping_data=wrapping_data)
    if ot == enums.ObjectType.PUBLIC_KEY:
        return objects.PublicKey(alg, length, material, fmt, key_wrapping_data=wrapping_data)
    if ot == enums.ObjectType.PRIVATE_KEY:
        return objects.PrivateKey(alg, length, material, fmt, key_wrapping_data=wrapping_data)
    if ot == enums.ObjectType.SECRET_DATA:
        return objects.SecretData(
            material, _as_enum(enums.SecretDataType, secret_data_type),
            key_wrapping_data=wrapping_data,
        )
    raise InvalidArgumentError(f"Get answered object type {ot}, which tresor.kmip does not read")


def _clear_key_object(fields):
    """The object of a Get answer the native side read as a key in the clear:
    ``(object_type, key_format_type, material, algorithm, length, secret_data_type)``."""
    ot, fmt, material, alg, length, sdt = fields
    return _key_object(
        _as_enum(enums.ObjectType, ot),
        _as_enum(enums.KeyFormatType, fmt),
        material,
        _as_enum(enums.CryptographicAlgorithm, alg) if alg is not None else None,
        length,
        sdt,
        None,
    )


def _check(status, reason, message) -> None:
    """Raises ``KmipOperationFailure`` for an answer that is not a success."""
    if status != SUCCESS:
        raise KmipOperationFailure(
            _as_enum(enums.ResultStatus, status),
            _as_enum(enums.ResultReason, reason) if reason is not None else None,
            message,
        )


def _wrapping_data(items) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "wrapping_method": _as_enum(enums.WrappingMethod, _find(items, T.WRAPPING_METHOD)),
    }
    eki = _find(items, T.ENCRYPTION_KEY_INFORMATION)
    if eki is not None:
        out["encryption_key_information"] = {"unique_identifier": _find(eki, T.UNIQUE_IDENTIFIER)}
    mki = _find(items, T.MAC_SIGNATURE_KEY_INFORMATION)
    if mki is not None:
        out["mac_signature_key_information"] = {"unique_identifier": _find(mki, T.UNIQUE_IDENTIFIER)}
    for key, tag in (
        ("mac_signature", T.MAC_SIGNATURE),
        ("iv_counter_nonce", T.IV_COUNTER_NONCE),
    ):
        v = _find(items, tag)
        if v is not None:
            out[key] = v
    enc = _find(items, T.ENCODING_OPTION)
    if enc is not None:
        out["encoding_option"] = _as_enum(enums.EncodingOption, enc)
    return out


def _wrapping_spec(spec: Dict[str, Any]):
    items = [_enum(T.WRAPPING_METHOD, spec["wrapping_method"])]
    for key, tag in (
        ("encryption_key_information", T.ENCRYPTION_KEY_INFORMATION),
        ("mac_signature_key_information", T.MAC_SIGNATURE_KEY_INFORMATION),
    ):
        info = spec.get(key)
        if info:
            sub = [_text(T.UNIQUE_IDENTIFIER, info["unique_identifier"])]
            sub += _crypto_params(info.get("cryptographic_parameters"))
            items.append(_item(tag, STRUCT, sub))
    for name in spec.get("attribute_names") or ():
        items.append(_text(T.ATTRIBUTE_NAME, name))
    if spec.get("encoding_option") is not None:
        items.append(_enum(T.ENCODING_OPTION, spec["encoding_option"]))
    return _item(T.KEY_WRAPPING_SPECIFICATION, STRUCT, items)


# -- the client ---------------------------------------------------------------------------


def _is_uid(uid, what="uid"):
    if uid is not None and not isinstance(uid, str):
        raise TypeError(f"The {what} must be a string.")


class ProxyKmipClient:
    """PyKMIP's ``ProxyKmipClient`` on tresor's Rust KMIP client (see the module docstring).
    Use it as a context manager, or call ``open()``/``close()``."""

    def __init__(
        self,
        hostname: Optional[str] = None,
        port: Optional[int] = None,
        cert: Optional[str] = None,
        key: Optional[str] = None,
        ca: Optional[str] = None,
        ssl_version: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        config: str = "client",
        config_file: Optional[str] = None,
        kmip_version=None,
    ) -> None:
        conf = configparser.ConfigParser(interpolation=None)
        files = [config_file] if config_file else CONFIG_FILE
        if config_file and not os.path.exists(config_file):
            raise InvalidArgumentError(f"config_file '{config_file}' does not exist")
        conf.read(files)
        base = os.path.dirname(os.path.abspath(config_file)) if config_file else "."

        def pick(direct, option, default=None):
            if direct is not None:
                return direct
            if conf.has_section(config) and conf.has_option(config, option):
                v = conf.get(config, option)
                return None if v == "None" else v
            return default

        if pick(username, "username") is not None or pick(password, "password") is not None:
            raise InvalidArgumentError(
                "username/password authentication is not supported: tresor.kmip identifies "
                "the client by its certificate (mutual TLS); drop username and password"
            )
        self._host = pick(hostname, "host", "127.0.0.1")
        self._port = int(pick(port, "port", 5696))
        paths = {}
        for arg, option, value in (("cert", "certfile", cert), ("key", "keyfile", key), ("ca", "ca_certs", ca)):
            p = pick(value, option)
            if p is None:
                raise InvalidArgumentError(
                    f"no {option}: pass {arg}=... or set '{option}' in section [{config}] of "
                    f"{config_file or ' or '.join(CONFIG_FILE)}"
                )
            paths[arg] = p if value is not None or os.path.isabs(p) else os.path.join(base, p)
        timeout = pick(None, "timeout")
        self._timeout = float(timeout) if timeout is not None else 30.0
        version = _v(kmip_version) if kmip_version is not None else pick(None, "kmip_version", 1.2)
        try:
            self._version = f"{float(version):.1f}"
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"kmip_version {version!r} is not a KMIP version: use enums.KMIPVersion "
                "(KMIP_1_0 .. KMIP_1_4, KMIP_2_0)"
            ) from None
        if self._version not in ("1.0", "1.1", "1.2", "1.3", "1.4", "2.0"):
            raise InvalidArgumentError(
                f"kmip_version {self._version}: tresor.kmip.ProxyKmipClient speaks KMIP 1.0-1.4 "
                "and 2.0 (as PyKMIP's client): use enums.KMIPVersion.KMIP_1_2 .. KMIP_2_0"
            )
        self._paths = paths
        self._conn: Optional[KmipConnection] = None
        self._is_open = False

    @property
    def kmip_version(self):
        """The KMIP version requests use (an ``enums.KMIPVersion``)."""
        return enums.KMIPVersion(float(self._version))

    @kmip_version.setter
    def kmip_version(self, value) -> None:
        """Sets the KMIP version (an ``enums.KMIPVersion``, as PyKMIP); an open client
        reconnects with it."""
        if not isinstance(value, (enums.KMIPVersion,)) and not (
            hasattr(value, "value") and hasattr(value, "name") and type(value).__name__ == "KMIPVersion"
        ):
            raise ValueError("KMIP version must be a KMIPVersion enumeration")
        v = f"{float(value.value):.1f}"
        if v not in ("1.0", "1.1", "1.2", "1.3", "1.4", "2.0"):
            raise ValueError(f"KMIP version {v} is not supported")
        self._version = v
        if self._is_open:
            self.close()
            self.open()

    def open(self) -> None:
        """Opens the connection (checks the certificate files; connects on the first call)."""
        if self._is_open:
            raise ClientConnectionFailure("client connection already open")
        self._conn = KmipConnection(
            self._host,
            self._port,
            self._paths["cert"],
            self._paths["key"],
            self._paths["ca"],
            timeout=self._timeout,
            kmip_version=self._version,
        )
        self._is_open = True

    def close(self) -> None:
        """Closes the connection (TLS close_notify)."""
        if not self._is_open:
            return
        assert self._conn is not None
        self._conn.close()
        self._is_open = False

    def __enter__(self) -> "ProxyKmipClient":
        self.open()
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.close()

    def _call(self, operation: str, payload: list) -> list:
        if not self._is_open or self._conn is None:
            raise ClientConnectionNotOpen()
        status, reason, message, items = self._conn.call(_OPS[operation], payload)
        _check(status, reason, message)
        return items

    # -- operations ----------------------------------------------------------------

    def create(self, algorithm, length, operation_policy_name=None, name=None,
               cryptographic_usage_mask=None) -> str:
        """Creates a symmetric key; returns its unique identifier."""
        if not hasattr(algorithm, "value"):
            raise TypeError("algorithm must be a CryptographicAlgorithm enumeration")
        if not isinstance(length, int) or length <= 0:
            raise TypeError("length must be a positive integer")
        attrs = _key_attrs(algorithm, length, cryptographic_usage_mask)
        if operation_policy_name is not None:
            attrs.append(_factory.create_attribute("Operation Policy Name", operation_policy_name))
        if name is not None:
            attrs.append(_factory.create_attribute("Name", name))
        items = self._call(
            "CREATE",
            [_enum(T.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY), _template(T.TEMPLATE_ATTRIBUTE, attrs)],
        )
        return _find(items, T.UNIQUE_IDENTIFIER)

    def create_key_pair(self, algorithm, length, operation_policy_name=None, public_name=None,
                        public_usage_mask=None, private_name=None, private_usage_mask=None):
        """Creates an asymmetric key pair; returns ``(public_uid, private_uid)``."""
        if not hasattr(algorithm, "value"):
            raise TypeError("algorithm must be a CryptographicAlgorithm enumeration")
        if not isinstance(length, int) or length <= 0:
            raise TypeError("length must be a positive integer")
        common = _key_attrs(algorithm, length, None)
        if operation_policy_name is not None:
            common.append(_factory.create_attribute("Operation Policy Name", operation_policy_name))
        private, public = [], []
        if private_name is not None:
            private.append(_factory.create_attribute("Name", private_name))
        if private_usage_mask:
            private.append(_factory.create_attribute("Cryptographic Usage Mask", private_usage_mask))
        if public_name is not None:
            public.append(_factory.create_attribute("Name", public_name))
        if public_usage_mask:
            public.append(_factory.create_attribute("Cryptographic Usage Mask", public_usage_mask))
        payload = [_template(T.COMMON_TEMPLATE_ATTRIBUTE, common)]
        if private:
            payload.append(_template(T.PRIVATE_KEY_TEMPLATE_ATTRIBUTE, private))
        if public:
            payload.append(_template(T.PUBLIC_KEY_TEMPLATE_ATTRIBUTE, public))
        items = self._call("CREATE_KEY_PAIR", payload)
        return (
            _find(items, T.PUBLIC_KEY_UNIQUE_IDENTIFIER),
            _find(items, T.PRIVATE_KEY_UNIQUE_IDENTIFIER),
        )

    def register(self, managed_object) -> str:
        """Registers a ``objects`` instance; returns its unique identifier."""
        if not isinstance(managed_object, objects.ManagedObject):
            raise TypeError("managed object must be a Pie ManagedObject")
        attrs = []
        masks = getattr(managed_object, "cryptographic_usage_masks", None)
        if masks:
            attrs.append(_factory.create_attribute("Cryptographic Usage Mask", masks))
        policy = getattr(managed_object, "operation_policy_name", None)
        if policy is not None:
            attrs.append(_factory.create_attribute("Operation Policy Name", policy))
        for n in getattr(managed_object, "names", None) or ():
            attrs.append(_factory.create_attribute("Name", n))
        ot, body = _object_ttlv(managed_object)
        items = self._call("REGISTER", [_enum(T.OBJECT_TYPE, ot), _template(T.TEMPLATE_ATTRIBUTE, attrs), body])
        return _find(items, T.UNIQUE_IDENTIFIER)

    def rekey(self, uid=None, offset=None, **kwargs) -> str:
        """Replaces a symmetric key with a new one; returns the new key's identifier.
        ``kwargs``: ``activation_date``, ``process_start_date``, ``protect_stop_date``,
        ``deactivation_date`` (seconds since the epoch)."""
        _is_uid(uid, "unique identifier")
        if offset is not None and not isinstance(offset, int):
            raise TypeError("The offset must be an integer.")
        payload = []
        if uid is not None:
            payload.append(_text(T.UNIQUE_IDENTIFIER, uid))
        if offset is not None:
            payload.append(_item(T.OFFSET, INTERVAL, offset))
        attrs = []
        for key, name in (
            ("activation_date", "Activation Date"),
            ("process_start_date", "Process Start Date"),
            ("protect_stop_date", "Protect Stop Date"),
            ("deactivation_date", "Deactivation Date"),
        ):
            if kwargs.get(key):
                attrs.append(_factory.create_attribute(name, kwargs[key]))
        payload.append(_template(T.TEMPLATE_ATTRIBUTE, attrs))
        return _find(self._call("REKEY", payload), T.UNIQUE_IDENTIFIER)

    def derive_key(self, object_type, unique_identifiers, derivation_method,
                   derivation_parameters, **kwargs) -> str:
        """Derives a symmetric key or secret data; returns its identifier.
        ``derivation_parameters``: ``cryptographic_parameters`` (dict),
        ``initialization_vector``, ``derivation_data``, ``salt``, ``iteration_count``;
        ``kwargs``: ``cryptographic_length``, ``cryptographic_algorithm``."""
        if not isinstance(unique_identifiers, list) or not all(isinstance(u, str) for u in unique_identifiers):
            raise TypeError("Unique identifiers must be a list of strings.")
        params = []
        p = derivation_parameters or {}
        params += _crypto_params(p.get("cryptographic_parameters"))
        for key, tag, ty in (
            ("initialization_vector", T.INITIALIZATION_VECTOR, BYTES),
            ("derivation_data", T.DERIVATION_DATA, BYTES),
            ("salt", T.SALT, BYTES),
            ("iteration_count", T.ITERATION_COUNT, INT),
        ):
            if p.get(key) is not None:
                params.append(_item(tag, ty, p[key]))
        attrs = []
        if kwargs.get("cryptographic_length"):
            attrs.append(_factory.create_attribute("Cryptographic Length", kwargs["cryptographic_length"]))
        if kwargs.get("cryptographic_algorithm"):
            attrs.append(_factory.create_attribute("Cryptographic Algorithm", kwargs["cryptographic_algorithm"]))
        payload = [_enum(T.OBJECT_TYPE, object_type)]
        payload += [_text(T.UNIQUE_IDENTIFIER, u) for u in unique_identifiers]
        payload += [_enum(T.DERIVATION_METHOD, derivation_method), _item(T.DERIVATION_PARAMETERS, STRUCT, params)]
        payload.append(_template(T.TEMPLATE_ATTRIBUTE, attrs))
        return _find(self._call("DERIVE_KEY", payload), T.UNIQUE_IDENTIFIER)

    def locate(self, maximum_items=None, storage_status_mask=None, object_group_member=None,
               attributes=None, offset_items=None) -> List[str]:
        """Finds objects matching ``attributes`` (from ``AttributeFactory``); returns their
        identifiers."""
        payload = []
        if maximum_items is not None:
            payload.append(_item(T.MAXIMUM_ITEMS, INT, int(maximum_items)))
        if offset_items is not None:
            payload.append(_item(T.OFFSET_ITEMS, INT, int(offset_items)))
        if storage_status_mask is not None:
            payload.append(_item(T.STORAGE_STATUS_MASK, INT, _mask(storage_status_mask)))
        if object_group_member is not None:
            payload.append(_enum(T.OBJECT_GROUP_MEMBER, object_group_member))
        for a in attributes or ():
            if not isinstance(a, Attribute):
                raise TypeError("attributes must be tresor.kmip.Attribute objects (AttributeFactory)")
            payload.append(a._ttlv())
        return _all(self._call("LOCATE", payload), T.UNIQUE_IDENTIFIER)

    def get(self, uid=None, key_wrapping_specification=None):
        """The object ``uid`` as a ``objects`` instance."""
        _is_uid(uid)
        # As PyKMIP: the object's unique_identifier is left None (the caller has it).
        if key_wrapping_specification is None:
            # The native side reads a key in the clear itself (most Gets); anything else
            # comes back as items.
            if not self._is_open or self._conn is None:
                raise ClientConnectionNotOpen()
            status, reason, message, key, items = self._conn.get(uid)
            _check(status, reason, message)
            if key is not None:
                return _clear_key_object(key)
            return _object_from_ttlv(_find(items, T.OBJECT_TYPE), items)
        payload = []
        if uid is not None:
            payload.append(_text(T.UNIQUE_IDENTIFIER, uid))
        payload.append(_wrapping_spec(key_wrapping_specification))
        items = self._call("GET", payload)
        return _object_from_ttlv(_find(items, T.OBJECT_TYPE), items)

    def get_attributes(self, uid=None, attribute_names=None):
        """``(uid, [Attribute, ...])``: all attributes, or those named."""
        _is_uid(uid)
        payload = []
        if uid is not None:
            payload.append(_text(T.UNIQUE_IDENTIFIER, uid))
        for n in attribute_names or ():
            payload.append(_text(T.ATTRIBUTE_NAME, n))
        items = self._call("GET_ATTRIBUTES", payload)
        attrs = [_attr_from_ttlv(v) for v in _all(items, T.ATTRIBUTE)]
        return _find(items, T.UNIQUE_IDENTIFIER), attrs

    def get_attribute_list(self, uid=None) -> List[str]:
        """The sorted names of ``uid``'s attributes."""
        _is_uid(uid)
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        return sorted(_all(self._call("GET_ATTRIBUTE_LIST", payload), T.ATTRIBUTE_NAME))

    def activate(self, uid=None) -> None:
        """Activates ``uid``."""
        _is_uid(uid)
        self._call("ACTIVATE", [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)])

    def revoke(self, revocation_reason, uid=None, revocation_message=None,
               compromise_occurrence_date=None) -> None:
        """Revokes ``uid`` for ``revocation_reason`` (a ``RevocationReasonCode``)."""
        if not hasattr(revocation_reason, "value"):
            raise TypeError("revocation_reason must be a RevocationReasonCode enumeration")
        _is_uid(uid)
        reason = [_enum(T.REVOCATION_REASON_CODE, revocation_reason)]
        if revocation_message is not None:
            reason.append(_text(T.REVOCATION_MESSAGE, revocation_message))
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        payload.append(_item(T.REVOCATION_REASON, STRUCT, reason))
        if compromise_occurrence_date is not None:
            payload.append(_item(T.COMPROMISE_OCCURRENCE_DATE, DATE, int(compromise_occurrence_date)))
        self._call("REVOKE", payload)

    def destroy(self, uid=None) -> None:
        """Destroys ``uid``'s material."""
        _is_uid(uid)
        self._call("DESTROY", [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)])

    def encrypt(self, data, uid=None, cryptographic_parameters=None, iv_counter_nonce=None):
        """``(ciphertext, iv_counter_nonce or None)``."""
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        payload += _crypto_params(cryptographic_parameters)
        payload.append(_item(T.DATA, BYTES, bytes(data)))
        if iv_counter_nonce is not None:
            payload.append(_item(T.IV_COUNTER_NONCE, BYTES, bytes(iv_counter_nonce)))
        items = self._call("ENCRYPT", payload)
        return _find(items, T.DATA), _find(items, T.IV_COUNTER_NONCE)

    def decrypt(self, data, uid=None, cryptographic_parameters=None, iv_counter_nonce=None):
        """The plaintext."""
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        payload += _crypto_params(cryptographic_parameters)
        payload.append(_item(T.DATA, BYTES, bytes(data)))
        if iv_counter_nonce is not None:
            payload.append(_item(T.IV_COUNTER_NONCE, BYTES, bytes(iv_counter_nonce)))
        return _find(self._call("DECRYPT", payload), T.DATA)

    def sign(self, data, uid=None, cryptographic_parameters=None):
        """The signature of ``data``."""
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        payload += _crypto_params(cryptographic_parameters)
        payload.append(_item(T.DATA, BYTES, bytes(data)))
        return _find(self._call("SIGN", payload), T.SIGNATURE_DATA)

    def signature_verify(self, message, signature, uid=None, cryptographic_parameters=None):
        """``enums.ValidityIndicator.VALID`` or ``INVALID``."""
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        payload += _crypto_params(cryptographic_parameters)
        payload.append(_item(T.DATA, BYTES, bytes(message)))
        payload.append(_item(T.SIGNATURE_DATA, BYTES, bytes(signature)))
        items = self._call("SIGNATURE_VERIFY", payload)
        return _as_enum(enums.ValidityIndicator, _find(items, T.VALIDITY_INDICATOR))

    def mac(self, data, uid=None, algorithm=None):
        """``(uid, mac_data)``; ``algorithm``: e.g. ``enums.CryptographicAlgorithm.HMAC_SHA256``."""
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        if algorithm is not None:
            payload += _crypto_params({"cryptographic_algorithm": algorithm})
        payload.append(_item(T.DATA, BYTES, bytes(data)))
        items = self._call("MAC", payload)
        return _find(items, T.UNIQUE_IDENTIFIER), _find(items, T.MAC_DATA)

    def check(self, uid=None, usage_limits_count=None, cryptographic_usage_mask=None,
              lease_time=None) -> str:
        """Checks ``uid`` against a usage mask, usage count or lease time; returns ``uid``."""
        _is_uid(uid)
        payload = [] if uid is None else [_text(T.UNIQUE_IDENTIFIER, uid)]
        if usage_limits_count is not None:
            payload.append(_item(T.USAGE_LIMITS_COUNT, LONG, int(usage_limits_count)))
        if cryptographic_usage_mask is not None:
            payload.append(_item(T.CRYPTOGRAPHIC_USAGE_MASK, INT, _mask(cryptographic_usage_mask)))
        if lease_time is not None:
            payload.append(_item(T.LEASE_TIME, INTERVAL, int(lease_time)))
        return _find(self._call("CHECK", payload), T.UNIQUE_IDENTIFIER)
