"""Report documents are written as JSON with one top-level key, and one item of a top-level list, per line."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.reports import json_document

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_the_text_is_the_same_document(document: dict[str, Any]) -> None:
    assert json.loads(json_document.dumps(document)) == document
    written = io.StringIO()
    json_document.write(document, written)  # streamed, line by line: the same text and a final newline
    assert written.getvalue() == json_document.dumps(document) + "\n"


def test_one_change_per_line() -> None:
    document = {"formatVersion": 1, "changes": [{"address": "a", "fields": [1, 2]}, {"address": "b"}], "empty": []}
    assert json_document.dumps(document).splitlines() == [
        "{",
        '  "formatVersion": 1,',
        '  "changes": [',
        '    {"address": "a", "fields": [1, 2]},',
        '    {"address": "b"}',
        "  ],",
        '  "empty": []',
        "}",
    ]
