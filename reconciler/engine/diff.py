"""Field-level differences between a desired and an observed object, after normalization.

Normalization (per kind, from ``kinds``): names compared case-insensitively where the real system
does, set-like lists compared without order, only the fields the spec manages compared, ignored fields
dropped. The diff itself is deepdiff's; paths come back dotted (``subnets[0].prefix``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.changes import FieldChange
from reconciler.core.kinds import KindInfo

_ABSENT = object()


def _fold(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return [_fold(v) for v in value]
    if isinstance(value, dict):
        return {k: _fold(v) for k, v in value.items()}
    return value


def _sort_key(value: Any) -> str:
    return repr(sorted(value.items())) if isinstance(value, dict) else repr(value)


def _restrict(value: Any, like: Any) -> Any:
    """Keep only the keys of mapping ``value`` that ``like`` has: the spec manages those keys alone
    (a BIOS has hundreds of attributes; the spec names one). In a list of mappings (subnets), each
    item keeps the keys the desired items have, whatever the order (a live subnet also has an id)."""
    if isinstance(value, dict) and isinstance(like, dict):
        return {k: _restrict(value[k], like[k]) for k in like if k in value}
    if isinstance(value, list) and isinstance(like, list) and like and all(isinstance(x, dict) for x in like):
        keys = {k for x in like for k in x}
        return [{k: v for k, v in item.items() if k in keys} if isinstance(item, dict) else item for item in value]
    return value


def comparable(
    info: KindInfo, data: Mapping[str, Any], fields: Iterable[str], like: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The fields of ``data`` named in ``fields``, normalized for comparison; mappings are cut down to
    the keys ``like`` (the desired object) has."""
    out: dict[str, Any] = {}
    for name in fields:
        value = data.get(name)
        if like is not None:
            value = _restrict(value, like.get(name))
        value = info.canonical(name, value)
        if name in info.case_insensitive:
            value = _fold(value)
        if name in info.unordered and isinstance(value, list):
            value = sorted(value, key=_sort_key)
        out[name] = value
    return out


def _format(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _get(data: Any, path: list[str | int]) -> Any:
    """The value at ``path``, or None where the path does not exist."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _ignored(path: str, ignore: Iterable[str]) -> bool:
    """Is ``path`` ignored? ``*`` ignores every field: the item's differences are accepted as they are."""
    return any(f in ("*", path) or path.startswith((f + ".", f + "[")) for f in ignore)


def field_changes(
    info: KindInfo, desired: Mapping[str, Any], observed: Mapping[str, Any], ignore: Iterable[str] = ()
) -> tuple[FieldChange, ...]:
    """What must change on the live object to match ``desired`` (fields outside ``desired`` are left alone).

    A list compared as a whole (set-like lists, lists of objects) is reported as one change of that
    field, which reads better than per-index noise; nested mappings are reported per key."""
    ignore = tuple(ignore)
    if not ignore and all(observed.get(k, _ABSENT) == v for k, v in desired.items()):
        return ()  # written exactly as wanted (what the tool itself wrote): no normalization needed
    names = [n for n in desired if not _ignored(n, ignore)]
    want = comparable(info, desired, names)
    have = comparable(info, observed, names, like=desired)
    if want == have:  # the common case on a converged estate: nothing to explain
        return ()
    paths: dict[str, list[str | int]] = {}
    nested_want: dict[str, Any] = {}
    nested_have: dict[str, Any] = {}
    for name in names:
        if want[name] == have[name]:
            continue
        if isinstance(want[name], dict) and isinstance(have[name], dict):
            nested_want[name], nested_have[name] = want[name], have[name]
        else:  # a scalar or a list: reported as a change of the field itself
            paths[name] = [name]
    if nested_want:
        # Mappings (BIOS attributes, cloud capacity): deepdiff finds which keys inside them differ.
        diff = DeepDiff(nested_have, nested_want, view="tree", verbose_level=2)
        for level in diff.values():
            for item in level:
                path = item.path(output_format="list")
                # Changes inside lists are reported at the list; inside dicts, per key.
                cut: list[str | int] = []
                for part in path:
                    if isinstance(part, int):
                        break
                    cut.append(part)
                    if not isinstance(_get(desired, cut), dict) and not isinstance(_get(observed, cut), dict):
                        break
                paths.setdefault(_format(cut), cut)
    out = []
    for text, path in sorted(paths.items()):
        if _ignored(text, ignore):
            continue
        top = str(path[0])
        old = _restrict(_get(observed, path), _get(desired, path))
        out.append(FieldChange(path=text, old=old, new=_get(desired, path), immutable=top in info.immutable))
    return tuple(out)
