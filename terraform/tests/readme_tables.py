"""The input and output tables of terraform/README.md, generated from the .tf
files so they cannot drift from them: test_terraform.py checks that the README
holds exactly what this renders, and running this rewrites the tables:

    target/py-venv/hcl2/bin/python terraform/tests/readme_tables.py

A table goes between `<!-- tables: DIR -->` and `<!-- end tables -->`, DIR
relative to terraform/.
"""

import re

from tfparse import TERRAFORM, is_parser_key, labelled, parse_dir, unquote

README = TERRAFORM / "README.md"
SECTION = re.compile(
    r"(?P<open><!-- tables: (?P<dir>[\w./-]+) -->\n)(?P<body>.*?)(?P<close><!-- end tables -->)",
    re.S,
)


def hcl(value):
    """A parsed value written back the way it reads in the .tf file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value[2:-1] if value.startswith("${") and value.endswith("}") else value
    if isinstance(value, list):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{k} = {hcl(v)}" for k, v in value.items() if not is_parser_key(k)]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return str(value)


def cell(text):
    return text.replace("\\\"", '"').replace("|", "\\|").replace("\n", " ")


def render(directory):
    """Markdown tables of a directory's variables and outputs, in file order."""
    blocks = parse_dir(TERRAFORM / directory)
    lines = ["| input | type | default | description |", "|---|---|---|---|"]
    for name, (_, body) in labelled(blocks, "variable").items():
        default = f"`{cell(hcl(body['default']))}`" if "default" in body else "**required**"
        kind = cell(hcl(body.get("type", "any")))
        lines.append(f"| `{name}` | `{kind}` | {default} | {cell(unquote(body.get('description', '')))} |")
    outputs = labelled(blocks, "output")
    if outputs:
        lines += ["", "| output | description |", "|---|---|"]
        for name, (_, body) in outputs.items():
            lines.append(f"| `{name}` | {cell(unquote(body.get('description', '')))} |")
    return "\n".join(lines) + "\n"


def sections(text):
    """(directory, current body) of every table section in the README text."""
    return [(m.group("dir"), m.group("body")) for m in SECTION.finditer(text)]


def rewrite(text):
    return SECTION.sub(lambda m: m.group("open") + render(m.group("dir")) + m.group("close"), text)


if __name__ == "__main__":
    README.write_text(rewrite(README.read_text()))
    print(f"rewrote {len(sections(README.read_text()))} tables in {README}")
