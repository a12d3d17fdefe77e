"""The CIDR fast path (``models.common._canonical_v4_network``) agrees with ``ipaddress`` on every input."""

from __future__ import annotations

import ipaddress

from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconciler.spec.models.common import _canonical_v4_network


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
