"""Reading the user's YAML files (config, acting scripts) with one-line errors.

Hostile files are refused before they cost memory or time: the file must be a regular file
of at most MAX_FILE_BYTES; aliases may not expand a document past MAX_EXPANDED_NODES values
or MAX_EXPANDED_BYTES of text (a "billion laughs" alias bomb, of many small values or of one
long string aliased many times); nesting may not go deeper than MAX_DEPTH; and an integer may
not have more than MAX_INT_DIGITS digits. All of it is measured on the composed node graph,
before any Python value is built. Values echoed in messages are cut short (`shown`)."""

from __future__ import annotations

import reprlib
from pathlib import Path

MAX_FILE_BYTES = 1 << 20        # 1 MiB: a scene of thousands of lines; a config is a few KB
MAX_EXPANDED_NODES = 100_000    # values in the document once every alias is expanded
MAX_EXPANDED_BYTES = 4 << 20    # their text, once every alias is expanded
MAX_DEPTH = 64
MAX_INT_DIGITS = 30


def shown(value) -> str:
    """A value as an error message echoes it: its repr, cut short while it is made."""
    shortened = reprlib.Repr()  # keyword arguments only from Python 3.12
    shortened.maxstring = shortened.maxother = 60
    shortened.maxlist = shortened.maxdict = 6
    return shortened.repr(value)


def load_yaml_file(path: str | Path, what: str, error: type[Exception]):
    """`yaml.safe_load` of a file; a missing, unreadable, malformed or hostile file
    raises `error` with a one-line message naming `what` ("config file", "script file") and the path."""
    import yaml

    from acting_mirror.files import check_input_file

    path = Path(path)
    check_input_file(path, what, MAX_FILE_BYTES, error)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(f"{what} {path} not found") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not a text file (not UTF-8)") from None
    except OSError as problem:
        from acting_mirror.sinks import os_error_reason

        raise error(f"{what} {path} cannot be read ({os_error_reason(problem)})") from None
    try:
        return _bounded_safe_load(text)
    except _Refused as problem:
        raise error(f"{what} {path} is refused: {problem}") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{what} {path} is not valid YAML{where}") from None


class _Refused(ValueError):
    pass


def _bounded_safe_load(text: str):
    """yaml.safe_load, but the node graph is composed and measured before anything is built."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def construct_yaml_int(self, node):
            digits = sum(ch.isdigit() for ch in str(node.value))
            if digits > MAX_INT_DIGITS:
                line = node.start_mark.line + 1
                raise _Refused(f"the number at line {line} has {digits} digits (at most {MAX_INT_DIGITS})")
            return super().construct_yaml_int(node)

    BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)
    loader = BoundedLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # the composer recurses once per level
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        values, text_bytes = _expanded_size(node, {}, 0)
        if values > MAX_EXPANDED_NODES:
            raise _Refused(f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values")
        if text_bytes > MAX_EXPANDED_BYTES:
            raise _Refused(f"its aliases expand to more than {MAX_EXPANDED_BYTES >> 20} MB of text")
        return loader.construct_document(node)
    finally:
        loader.dispose()


TOO_BIG = (MAX_EXPANDED_NODES + 1, MAX_EXPANDED_BYTES + 1)


def _expanded_size(node, sizes: dict, depth: int) -> tuple[int, int]:
    """(values, bytes of text) in `node` with every alias expanded; each node is measured once,
    so a bomb is measured in linear time. Recursive (self-referencing) documents count as
    unbounded; nesting past MAX_DEPTH is refused."""
    import yaml

    if depth > MAX_DEPTH:
        raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep")
    key = id(node)
    if key in sizes:
        return TOO_BIG if sizes[key] is None else sizes[key]  # None: met again inside itself (recursive)
    sizes[key] = None
    if isinstance(node, yaml.ScalarNode):
        sizes[key] = (1, len(node.value))
        return sizes[key]
    children = node.value if isinstance(node, yaml.SequenceNode) else [c for pair in node.value for c in pair]
    values, text_bytes = 1, 0
    for child in children:
        child_values, child_bytes = _expanded_size(child, sizes, depth + 1)
        values, text_bytes = values + child_values, text_bytes + child_bytes
        if values > MAX_EXPANDED_NODES or text_bytes > MAX_EXPANDED_BYTES:
            break
    sizes[key] = (values, text_bytes)
    return sizes[key]
