"""Compact JSON text, fast: orjson where it writes exactly what the standard library would, the standard library
where it might not.

A 1,000-tenant plan is 35 MB of JSON, encoded twice per run (its checksum, and the copy kept in the history
store): the standard library's encoder took about a second of that run, orjson a tenth of it. The text must stay
byte for byte what ``json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)`` writes (a plan's
checksum is a hash of it, and files saved by earlier versions are checked against it), so orjson is only trusted
where the two agree: dates and dataclasses go through ``default`` as they would, and any answer with a float
orjson spells differently (below 1e-4: ``0.00001`` against ``1e-05``), or any value orjson refuses (integers
beyond 64 bits, lone surrogates), is encoded by the standard library instead. One difference remains: a float
NaN or infinity is ``null`` here (the standard library writes ``NaN``, which is not JSON); specs and live systems
do not produce them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# Floats orjson spells otherwise than Python: from 1e-5 to 1e-4 as ``0.0000...`` (Python: ``5e-05``), below that
# with a one-digit exponent (``1e-7``; Python: ``1e-07``). Searched as plain substrings (a 35 MB plan in 30 ms; a
# pattern anchored on the number's start took 0.6 s): a hit inside a string only costs the standard encoder.
_ZEROS = b"0.0000"
_SHORT_EXPONENT = re.compile(rb"e-\d(?!\d)")
_LONG_NUMBER = re.compile(r"\d{19}")  # maybe beyond 64 bits (in a string too: then it only costs the fallback)


def dumps(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] = str) -> str:
    """``json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=default)``."""
    data = _orjson(value, sort_keys, default)
    return data.decode("utf-8") if data is not None else _standard(value, sort_keys, default)


def dumps_bytes(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] = str) -> bytes:
    """:func:`dumps` as UTF-8 bytes, without a ``str`` copy in between (a large plan's text is tens of megabytes:
    hashed or compressed, it need never be a ``str``). A lone surrogate, which only the standard encoder lets
    through, is written as ``surrogatepass`` does."""
    data = _orjson(value, sort_keys, default)
    return data if data is not None else _standard(value, sort_keys, default).encode("utf-8", "surrogatepass")


def _orjson(value: Any, sort_keys: bool, default: Callable[[Any], Any]) -> bytes | None:
    """orjson's text where it is the standard library's, else None."""
    try:
        data = orjson.dumps(value, default=default, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0))
    except (TypeError, orjson.JSONEncodeError):
        return None
    if _ZEROS in data or _SHORT_EXPONENT.search(data):
        return None
    return data


def _standard(value: Any, sort_keys: bool, default: Callable[[Any], Any]) -> str:
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=default)


def loads(text: str) -> Any:
    """JSON text to Python values: orjson's parser, the standard library's for what orjson refuses (NaN) or reads
    otherwise (an integer of 19 digits or more, which orjson turns into a float)."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
