"""Fast paths in validation agree with the plain forms they replace: the CIDR check
(``models.common._canonical_v4_network``) with ``ipaddress``, the secret scan with a scan of every value,
each naming rule's one-regex check with its character-by-character check; and in reports, orjson's JSON text with
the standard library's, the markup escape's shortcut with rich's escape."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.markup import escape

from reconciler.core import jsontext
from reconciler.core.redact import inline_secrets, looks_secret
from reconciler.reports import values
from reconciler.spec import naming
from reconciler.spec.models.common import _canonical_v4_network
from reconciler.spec.secrets import has_secret


def _canonical(value: str) -> bool:
    try:
        return str(ipaddress.ip_network(value, strict=True)) == value
    except ValueError:
        return False


_octet = st.one_of(
    st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "255", "256", "1\u0660", "\u0661"])
)
_prefix = st.one_of(st.integers(0, 40).map(str), st.sampled_from(["", "08", "032", "\u0668", "255.255.255.0"]))
_written = st.builds(
    lambda o, p, sep: ".".join(o) + sep + p,
    st.lists(_octet, min_size=3, max_size=5),
    _prefix,
    st.sampled_from(["/", "", " /", "/ "]),
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_written, st.text(max_size=20)))
@example("10.0.1.0/24")
@example("10.0.1.1/24")
@example("0.0.0.0/0")
@example("255.255.255.255/32")
@example("10.0.0.0/8\n")
def test_the_fast_path_accepts_exactly_canonical_ipv4_networks(value: str) -> None:
    fast = _canonical_v4_network(value)
    assert fast == (_canonical(value) and isinstance(ipaddress.ip_network(value), ipaddress.IPv4Network))


_SECRETISH = st.sampled_from(
    [
        "password",
        "adminPassword",
        "apiKey",
        "bmcPass",
        "pass_word",
        "\u0440\u0430ssword",  # Cyrillic look-alikes
        "name",
        "subnet",
        "AccountKey=abc;",
        "x=y",
        "sig=" + "A" * 20,
        "https://h/x?sv=1&token=abc",
        "https://u:p@h/",
        "a@b",
        "plain",
    ]
)
_spec_data = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _SECRETISH, st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_SECRETISH, st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=20,
)


def _reference_has_secret(value: Any) -> bool:
    """The scan as first written: every key checked, the pattern run on every string."""
    if isinstance(value, dict):
        return any(looks_secret(k) or _reference_has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_reference_has_secret(v) for v in value)
    return isinstance(value, str) and bool(inline_secrets(value))


@settings(max_examples=1000, deadline=None)
@given(_spec_data)
def test_the_secret_scan_finds_what_the_plain_scan_finds(value: Any) -> None:
    assert has_secret(value) == _reference_has_secret(value)


_NAME_CHARACTERS = st.sampled_from(list("aZ09-_.() $:\\/'\"`|<>*?#%&+=;,@!~\u00e9\u6771\u00a0\u2003\t\n\x1b"))
_names = st.one_of(st.text(_NAME_CHARACTERS, min_size=1, max_size=12), st.text(min_size=1, max_size=12))


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(naming.RULES), _names)
@example(naming.VMM_OBJECT, " Acme")
@example(naming.HYPERV_VM, "VM01.")
@example(naming.AZURE_RESOURCE_GROUP, "R\u00e9seau(1)")
def test_each_naming_rule_accepts_in_one_regex_exactly_what_it_accepts_character_by_character(
    rule: naming.NameRule, value: str
) -> None:
    fast = rule._pattern().fullmatch(value) is not None
    assert fast == (rule.character_problem(value) is None), (rule.code, value)


_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=1500, deadline=None)
@given(_json_values, st.booleans())
@example({"small": 1e-05, "large": 1e16, "tiny": 5e-324}, True)
@example({"a": 5e-05, "b": -1e-07, "c": 2.5e-09, "d": "0.0000 e-1"}, False)
@example({"b": 1, "a": ["\u2028", "\x00", "\ud800"]}, False)
def test_the_fast_json_text_is_the_standard_librarys(value: Any, sort_keys: bool) -> None:
    """A plan's checksum hashes this text: it must be byte for byte what ``json.dumps`` writes."""
    expected = json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=str)
    assert jsontext.dumps(value, sort_keys=sort_keys) == expected
    assert jsontext.loads(expected) == json.loads(expected)


@settings(max_examples=1500, deadline=None)
@given(st.text(st.sampled_from(list("ab[]/\\@#x= ")), max_size=12) | st.text(max_size=12))
@example("[bold]")
@example("trailing\\")
@example("two\\\\")
def test_the_markup_escape_is_richs(value: str) -> None:
    assert values.markup(value) == escape(value)
