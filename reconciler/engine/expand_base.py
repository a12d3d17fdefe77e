"""What every part of expand shares: a spec item's lifecycle merged into a ``Policy``, its ``file:line:column``,
and the ``Resource`` builder (``res``) each spec family's expansion yields through."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, cast

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.resources import Mode, Policy, Resource, SourceText
from reconciler.spec.loader import SpecDocument
from reconciler.spec.models.common import Lifecycle
from reconciler.spec.yamlsource import FieldPath


@functools.cache
def default_policy(kind: str) -> Policy:
    """The policy of a resource no lifecycle touches (most of them): one shared object per kind."""
    return Policy(creatable=kinds.info(kind).creatable)


def policy(kind: str, *lifecycles: Lifecycle | None, prefix: str = "") -> Policy:
    """Merge lifecycles (outer first, inner wins); ``prefix`` selects and strips ignoreFields like
    ``memory.priority`` when one spec item (a VM) feeds several resources."""
    if not any(lifecycles):
        return default_policy(kind)
    protect = prune = adopt = False
    mode = Mode.ENFORCE
    ignore: list[str] = []
    for lc in lifecycles:
        if lc is None:
            continue
        protect = protect or lc.protect
        prune = prune or lc.prune
        adopt = adopt or lc.adopt
        if lc.mode.value == Mode.OBSERVE.value:
            mode = Mode.OBSERVE
        for f in lc.ignore_fields:
            if not prefix:
                ignore.append(f)
            elif f.startswith(prefix + "."):
                ignore.append(f[len(prefix) + 1 :])
    return Policy(
        protect=protect,
        prune=prune,
        ignore_fields=tuple(ignore),
        mode=mode,
        creatable=kinds.info(kind).creatable,
        adopt=adopt,
    )


def source(doc: SpecDocument[Any], path: FieldPath) -> str:
    """``file:line:column`` of a spec item, for messages (the fast path: the item's own position)."""
    mark = doc.source.values.get(path)
    if mark is not None:
        return f"{doc.source.file}:{mark.line + 1}:{mark.column + 1}"
    return str(doc.where(path))


def res(
    doc: SpecDocument[Any],
    path: FieldPath,
    address: Address,
    desired: Mapping[str, object],
    *deps: Address,
    lifecycle: tuple[Lifecycle | None, ...] = (),
    prefix: str = "",
    site: str,
    tenant: str | None = None,
) -> Resource:
    return Resource(
        address=address,
        desired=cast(dict[str, Any], desired),  # a kind's TypedDict (core.desired): a dict at run time
        depends_on=tuple(deps),
        site=site,
        tenant=tenant,
        policy=policy(address.kind, *lifecycle, prefix=prefix),
        source=SourceText(functools.partial(source, doc, path)),
    )
