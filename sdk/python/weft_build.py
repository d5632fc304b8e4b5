"""What a plugin hands the host, built from plain Python: the interest `init` returns, its
attribute selections, and the attribute values of edits. `weft.py` re-exports these; import
them from there.
"""

from wit_world.imports import common, traces

_FIELDS = {
    "ids": traces.SpanFields.IDS,
    "trace_state": traces.SpanFields.TRACE_STATE,
    "name": traces.SpanFields.NAME,
    "kind": traces.SpanFields.KIND,
    "times": traces.SpanFields.TIMES,
    "status": traces.SpanFields.STATUS,
    "flags": traces.SpanFields.FLAGS,
    "events": traces.SpanFields.EVENTS,
    "links": traces.SpanFields.LINKS,
    "dropped_counts": traces.SpanFields.DROPPED_COUNTS,
}


def interest(
    *fields: str,
    span_attributes="all",
    event_attributes="all",
    link_attributes="all",
    resource_attributes="all",
    scope_attributes="all",
    packed: bool = True,
) -> traces.Interest:
    """What `init` returns: the span `fields` read (names of the contract's `span-fields`:
    "ids", "trace_state", "name", "kind", "times", "status", "flags", "events", "links",
    "dropped_counts"; none given means all of them) and which attributes of each owner
    ("all", "strings", "none" or None, or a list of keys). Event and link attributes are
    asked for only with the "events" and "links" fields. `packed` asks for the packed layout,
    which `Spans` reads as well as the record one; pass False if the plugin also reads
    `batch.spans` itself."""
    unknown = [f for f in fields if f not in _FIELDS]
    if unknown:
        raise ValueError(f"unknown span field(s) {unknown}; the fields are {list(_FIELDS)}")
    chosen = fields or tuple(_FIELDS)
    flags = traces.SpanFields(0)
    for field in chosen:
        flags |= _FIELDS[field]
    if packed:
        flags |= traces.SpanFields.PACKED
    return traces.Interest(
        span_fields=flags,
        span_attributes=selection(span_attributes),
        event_attributes=selection(event_attributes if "events" in chosen else None),
        link_attributes=selection(link_attributes if "links" in chosen else None),
        resource_attributes=selection(resource_attributes),
        scope_attributes=selection(scope_attributes),
    )


def selection(spec) -> common.AttributeSelection:
    """The contract's `attribute-selection` for "all", "strings", "none" or None, or an
    iterable of keys."""
    if spec is None or spec == "none":
        return common.AttributeSelection_None_()
    if spec == "all":
        return common.AttributeSelection_All()
    if spec == "strings":
        return common.AttributeSelection_Strings()
    if isinstance(spec, (str, bytes)):
        raise ValueError(f"attribute selection {spec!r}: use 'all', 'strings', 'none' or a list of keys")
    return common.AttributeSelection_Keys([str(key) for key in spec])


def value(v) -> common.Value:
    """The contract's `value` for a Python value: str, bool, int, float, bytes, None (empty),
    or a list/tuple (array) or dict (key-value list) of those, nested as deep as needed."""
    if isinstance(v, (list, tuple, dict)):
        nodes = []
        _node(v, nodes)
        return common.Value_Nested(nodes)
    return _scalar(v, _VALUE)


# The scalar cases of `value` and of `value-node`: empty, str, boolean, int, double, bytes.
_VALUE = (
    common.Value_Empty, common.Value_Str, common.Value_Boolean,
    common.Value_Int, common.Value_Double, common.Value_Bytes,
)  # fmt: skip
_NODE = (
    common.ValueNode_Empty, common.ValueNode_Str, common.ValueNode_Boolean,
    common.ValueNode_Int, common.ValueNode_Double, common.ValueNode_Bytes,
)  # fmt: skip


def _scalar(v, cases):
    empty, text, boolean, integer, double, raw = cases
    if v is None:
        return empty()
    if isinstance(v, str):
        return text(v)
    if isinstance(v, bool):  # before int: a bool is an int in Python
        return boolean(v)
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 63):
            raise ValueError(f"{v} does not fit an attribute's signed 64-bit integer")
        return integer(v)
    if isinstance(v, float):
        return double(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return raw(bytes(v))
    raise TypeError(f"cannot write a {type(v).__name__} as an attribute value")


def _node(v, nodes) -> int:
    """Appends `v` to `nodes` as a tree whose children come after their parent; its index."""
    at = len(nodes)
    nodes.append(None)
    if isinstance(v, dict):
        nodes[at] = common.ValueNode_Kvlist([(str(k), _node(x, nodes)) for k, x in v.items()])
    elif isinstance(v, (list, tuple)):
        nodes[at] = common.ValueNode_Array([_node(x, nodes) for x in v])
    else:
        nodes[at] = _scalar(v, _NODE)
    return at
