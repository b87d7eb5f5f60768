"""Reading .tf files with python-hcl2, for the tests and the README tables."""

from pathlib import Path

import hcl2

TERRAFORM = Path(__file__).resolve().parents[1]
REPO = TERRAFORM.parent


def is_parser_key(key):
    """Keys python-hcl2 adds to blocks: __is_block__, __comments__, ..."""
    return key.startswith("__") and key.endswith("__")


def unquote(value):
    """python-hcl2 keeps string literals and block labels in their quotes."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def tf_dirs():
    """Every directory under terraform/ that holds .tf files."""
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf")})


def parse_dir(directory):
    """All top-level blocks of a directory's .tf files: {block type: [(file, body)]}."""
    blocks = {}
    for path in sorted(Path(directory).glob("*.tf")):
        with path.open() as f:
            try:
                parsed = hcl2.load(f)
            except Exception as e:  # the parser raises several unrelated types
                raise AssertionError(f"{path.relative_to(REPO)} does not parse: {e}") from e
        for block_type, entries in parsed.items():
            if is_parser_key(block_type):
                continue
            for entry in entries:
                blocks.setdefault(block_type, []).append((path.name, entry))
    return blocks


def labelled(blocks, block_type):
    """{label: (file, body)} of blocks with one label (variable, output, module)."""
    result = {}
    for file, entry in blocks.get(block_type, []):
        for label, body in entry.items():
            if not is_parser_key(label):
                result[unquote(label)] = (file, body)
    return result


def without_comments(value):
    """A parsed block without the parser's keys (comments, markers)."""
    if isinstance(value, dict):
        return {k: without_comments(v) for k, v in value.items() if not is_parser_key(k)}
    if isinstance(value, list):
        return [without_comments(v) for v in value]
    return value
