"""The canonical JSON encoding the Rust tests give Cairn's values (tests/tests/cqlite.rs
`canon`), for values coming from a Python reader: integers beyond 64 bits and decimals as text,
blobs as 0x-hex, inet as "ip:" + packed hex, timestamps as epoch milliseconds, dates as days
since the epoch, times as nanoseconds, durations as [months, days, nanos], UDTs as objects,
sets sorted, maps as sorted [key, value] pairs, and empty collections as null (what CQL shows
for a non-frozen one).

`special(v)` handles a reader's own types: it returns the encoding, or NotImplemented.
"""
import datetime
import decimal
import ipaddress
import json
import uuid

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _key(x):
    return json.dumps(x, sort_keys=True)


def canon(v, special=lambda v: NotImplemented):
    c = special(v)
    if c is not NotImplemented:
        return c
    rec = lambda x: canon(x, special)  # noqa: E731
    if v is None or isinstance(v, (bool, float, str)):
        return v
    if isinstance(v, int):
        return v if -(2**63) <= v < 2**63 else str(v)
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return "ip:" + v.packed.hex()
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000_000 + v.microsecond * 1000
    if hasattr(v, "_fields"):
        # A named tuple: a UDT.
        return {k: rec(getattr(v, k)) for k in v._fields}
    if hasattr(v, "__len__") and len(v) == 0:
        return None
    if hasattr(v, "items"):
        return sorted(([rec(k), rec(x)] for k, x in v.items()), key=lambda p: _key(p[0]))
    if isinstance(v, (list, tuple)):
        return [rec(x) for x in v]
    if hasattr(v, "__iter__"):
        return sorted((rec(x) for x in v), key=_key)
    raise TypeError(f"unhandled value {v!r} of {type(v)}")
