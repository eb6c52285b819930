"""Reading the user's YAML files (config, acting scripts) with one-line errors.

Hostile files are refused before they cost memory or time: aliases may not expand
a document past MAX_EXPANDED_NODES values (a "billion laughs" alias bomb), and an
integer may not have more than MAX_INT_DIGITS digits."""

from __future__ import annotations

from pathlib import Path

MAX_EXPANDED_NODES = 100_000  # values in the document once every alias is expanded
MAX_INT_DIGITS = 30


def load_yaml_file(path: str | Path, what: str, error: type[Exception]):
    """`yaml.safe_load` of a file; a missing, unreadable, malformed or hostile file
    raises `error` with a one-line message naming `what` ("config file", "script file") and the path."""
    import yaml

    path = Path(path)
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
        node = loader.get_single_node()
        if node is None:
            return None
        expanded = _expanded_size(node, {})
        if expanded > MAX_EXPANDED_NODES:
            raise _Refused(f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node, sizes: dict) -> int:
    """Values in `node` with every alias expanded; each node is measured once, so a bomb is
    measured in linear time. Recursive (self-referencing) documents count as unbounded."""
    import yaml

    key = id(node)
    if key in sizes:
        if sizes[key] is None:  # met again while measuring itself: a recursive alias
            return MAX_EXPANDED_NODES + 1
        return sizes[key]
    sizes[key] = None
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes)
            if total > MAX_EXPANDED_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        for child_key, child_value in node.value:
            total += _expanded_size(child_key, sizes) + _expanded_size(child_value, sizes)
            if total > MAX_EXPANDED_NODES:
                break
    sizes[key] = total
    return total
