"""Static checks of terraform/ that run without the provider registry.

`terraform validate` needs the AWS provider, which cannot be downloaded here,
so these tests parse every .tf file with python-hcl2 and check what validate
would (variables and outputs are documented and typed, module calls pass
inputs their modules declare and every required one), plus what it never
would: every STRATUS_* environment variable the gateways and the compactor
are given is a setting the server reads, as `stratus config env` (derived
from the configuration struct itself) lists them.

Run with scripts/test-terraform, or directly:
    target/py-venv/hcl2/bin/python -m unittest discover -s terraform/tests
"""

import json
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest
from functools import lru_cache
from pathlib import Path

import readme_tables
from tfparse import REPO, TERRAFORM, is_parser_key, labelled, parse_dir, tf_dirs, unquote, without_comments

STRATUS = REPO / "target" / "debug" / "stratus"

# Modules whose containers or functions run `stratus` with the server
# configuration; every STRATUS_* name in them must be a real setting.
SERVER_MODULES = ("gateways", "compactor")
# Arguments of a module block that are Terraform's, not the module's inputs.
META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}
# Blocks that never reach a process's environment; outputs may show client
# variables such as STRATUS_SERVER.
NOT_PASSED = ("output",)

ENV_NAME = re.compile(r"STRATUS_[A-Z0-9_]+")
# A name built from an expression, e.g. "STRATUS_GATEWAY__${upper(k)}",
# cannot be checked statically.
TEMPLATED_NAME = re.compile(r"STRATUS_[A-Z0-9_]*\$\{")


# --- checks: each returns a list of problems, empty when all is well -------------


def variable_problems(directory):
    problems = []
    for name, (file, body) in labelled(parse_dir(directory), "variable").items():
        if not unquote(body.get("description", "")).strip():
            problems.append(f"{file}: variable {name!r} has no description")
        if "type" not in body:
            problems.append(f"{file}: variable {name!r} has no type")
    return problems


def output_problems(directory):
    return [
        f"{file}: output {name!r} has no description"
        for name, (file, body) in labelled(parse_dir(directory), "output").items()
        if not unquote(body.get("description", "")).strip()
    ]


def version_problems(directory):
    """Terraform >= 1.5 and a version constraint on hashicorp/aws, in every directory."""
    settings = [body for _, body in parse_dir(directory).get("terraform", [])]
    if not settings:
        return ["no terraform block (required_version, required_providers)"]
    problems = []
    required = " ".join(unquote(s.get("required_version", "")) for s in settings)
    if ">= 1.5" not in required:
        problems.append(f"required_version is {required!r}, expected \">= 1.5\"")
    providers = {}
    for s in settings:
        for entry in s.get("required_providers", []):
            providers.update({k: v for k, v in entry.items() if not is_parser_key(k)})
    aws = providers.get("aws")
    if not isinstance(aws, dict) or unquote(aws.get("source")) != "hashicorp/aws":
        problems.append("required_providers has no aws = { source = \"hashicorp/aws\" }")
    elif not unquote(aws.get("version", "")).strip():
        problems.append("the hashicorp/aws provider has no version constraint")
    return problems


def module_call_problems(directory):
    """Inputs given to local modules exist there, and required ones are given."""
    problems = []
    for name, (file, body) in labelled(parse_dir(directory), "module").items():
        source = unquote(body.get("source", ""))
        if not source.startswith((".", "/")):
            continue
        target = (Path(directory) / source).resolve()
        if not target.is_dir():
            problems.append(f"{file}: module {name!r} has source {source!r}, which does not exist")
            continue
        declared = labelled(parse_dir(target), "variable")
        given = {k for k in body if not is_parser_key(k)} - META_ARGUMENTS
        for unknown in sorted(given - set(declared)):
            problems.append(
                f"{file}: module {name!r} passes {unknown!r}, which {source} does not declare "
                f"(it has: {', '.join(sorted(declared))})"
            )
        required = {v for v, (_, b) in declared.items() if "default" not in b}
        for missing in sorted(required - given):
            problems.append(f"{file}: module {name!r} does not pass required input {missing!r}")
    return problems


def env_names_in(directory):
    """STRATUS_* names in a directory's code (comments and outputs excluded),
    with problems for names built from expressions, which no static check can
    follow."""
    names, problems = set(), []
    for block_type, entries in parse_dir(directory).items():
        if block_type in NOT_PASSED:
            continue
        for file, entry in entries:
            text = json.dumps(without_comments(entry))
            names.update(ENV_NAME.findall(text))
            for templated in TEMPLATED_NAME.findall(text):
                problems.append(
                    f"{file}: {templated}...}} builds a setting name from an expression; "
                    "write the names out so they can be checked against `stratus config env`"
                )
    return names, problems


def unknown_env_problems(names, known, where):
    return [
        f"{where}: {name} is not a setting the server reads; `stratus config env` lists them "
        "(a wrong name makes the process refuse to start: the configuration denies unknown fields)"
        for name in sorted(names - known)
    ]


@lru_cache(maxsize=None)
def server_env_names():
    """What `stratus config env` prints, building the binary if it is missing."""
    if not STRATUS.exists():
        subprocess.run(["cargo", "build", "--locked", "-q", "-p", "stratus-cli"], cwd=REPO, check=True)
    result = subprocess.run([str(STRATUS), "config", "env"], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(
            f"`{STRATUS.relative_to(REPO)} config env` failed; if the binary is stale, run "
            f"`cargo build -p stratus-cli`:\n{result.stderr}"
        )
    names = set(result.stdout.split())
    malformed = [n for n in names if not ENV_NAME.fullmatch(n)]
    if not names or malformed:
        raise AssertionError(f"`stratus config env` printed no names or malformed ones: {result.stdout!r}")
    return frozenset(names)


# --- the real tree ------------------------------------------------------------------------


class TerraformTree(unittest.TestCase):
    def test_the_tree_has_modules_and_an_example(self):
        dirs = {d.relative_to(TERRAFORM).as_posix() for d in tf_dirs()}
        for expected in [f"modules/{m}" for m in SERVER_MODULES] + ["examples/aws-complete"]:
            self.assertIn(expected, dirs)

    def test_variables_have_descriptions_and_types(self):
        for directory in tf_dirs():
            with self.subTest(directory=directory.relative_to(TERRAFORM).as_posix()):
                self.assertEqual(variable_problems(directory), [])

    def test_outputs_have_descriptions(self):
        for directory in tf_dirs():
            with self.subTest(directory=directory.relative_to(TERRAFORM).as_posix()):
                self.assertEqual(output_problems(directory), [])

    def test_terraform_and_provider_versions_are_constrained(self):
        for directory in tf_dirs():
            with self.subTest(directory=directory.relative_to(TERRAFORM).as_posix()):
                self.assertEqual(version_problems(directory), [])

    def test_module_calls_match_module_variables(self):
        calls = 0
        for directory in tf_dirs():
            calls += len(labelled(parse_dir(directory), "module"))
            with self.subTest(directory=directory.relative_to(TERRAFORM).as_posix()):
                self.assertEqual(module_call_problems(directory), [])
        self.assertGreater(calls, 0, "no module calls found: is the example root module empty?")

    def test_server_environment_names_are_real_settings(self):
        known = server_env_names()
        checked = set()
        # The example root modules pass extra settings to both server modules.
        places = [TERRAFORM / "modules" / m for m in SERVER_MODULES]
        places += [d for d in (TERRAFORM / "examples").iterdir() if d.is_dir()]
        for directory in places:
            where = directory.relative_to(TERRAFORM).as_posix()
            names, problems = env_names_in(directory)
            checked |= names
            with self.subTest(directory=where):
                self.assertEqual(problems + unknown_env_problems(names, known, where), [])
        # The deployment must at least say where metadata and the WAL are.
        self.assertTrue({"STRATUS_METADATA", "STRATUS_WAL"} <= checked, sorted(checked))


class ReadmeTables(unittest.TestCase):
    def test_every_directory_has_current_tables(self):
        found = dict(readme_tables.sections(readme_tables.README.read_text()))
        dirs = {d.relative_to(TERRAFORM).as_posix() for d in tf_dirs()}
        self.assertEqual(set(found), dirs, "terraform/README.md needs one table section per directory")
        for directory, body in found.items():
            with self.subTest(directory=directory):
                self.assertEqual(
                    body,
                    readme_tables.render(directory),
                    "stale table: run target/py-venv/hcl2/bin/python terraform/tests/readme_tables.py",
                )


# --- the checks themselves can fail ---------------------------------------------------------


class ChecksFindProblems(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, relative, text):
        path = self.dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path.parent

    def test_undocumented_or_untyped_variables_and_outputs(self):
        d = self.write("m/main.tf", """
            variable "a" {
              type = string
            }
            variable "b" {
              description = "b"
            }
            output "c" {
              value = 1
            }
            """)
        self.assertEqual(
            variable_problems(d),
            ["main.tf: variable 'a' has no description", "main.tf: variable 'b' has no type"],
        )
        self.assertEqual(output_problems(d), ["main.tf: output 'c' has no description"])
        self.assertEqual(len(version_problems(d)), 1)

    def test_unknown_and_missing_module_inputs(self):
        self.write("modules/m/variables.tf", """
            variable "required" {
              description = "r"
              type        = string
            }
            variable "optional" {
              description = "o"
              type        = string
              default     = null
            }
            """)
        root = self.write("root/main.tf", """
            module "m" {
              source   = "../modules/m"
              count    = 1
              optinal  = "typo"
            }
            """)
        problems = module_call_problems(root)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("passes 'optinal'", problems[0])
        self.assertIn("required input 'required'", problems[1])

    def test_stale_readme_tables(self):
        text = "<!-- tables: modules/storage -->\n| `old` |\n<!-- end tables -->\n"
        [(directory, body)] = readme_tables.sections(text)
        self.assertEqual(directory, "modules/storage")
        self.assertNotEqual(body, readme_tables.render(directory))
        self.assertEqual(readme_tables.sections(readme_tables.rewrite(text))[0][1], readme_tables.render(directory))

    def test_unknown_and_templated_environment_names(self):
        d = self.write("m/main.tf", """
            locals {
              # STRATUS_IN_A_COMMENT is not passed anywhere
              env = { STRATUS_WAL = "s3://b", STRATUS_GATEWAY__LINGERR = "5ms" }
                more = { for k, v in var.s : "STRATUS_GATEWAY__${upper(k)}" => v }
            }
            output "client" {
              value = "STRATUS_SERVER=http://x:7400"
            }
            """)
        names, problems = env_names_in(d)
        self.assertEqual(names, {"STRATUS_WAL", "STRATUS_GATEWAY__LINGERR", "STRATUS_GATEWAY__"})
        self.assertEqual(len(problems), 1, problems)
        unknown = unknown_env_problems(names, {"STRATUS_WAL"}, "m")
        self.assertEqual(len(unknown), 2, unknown)
        self.assertIn("STRATUS_GATEWAY__LINGERR", unknown[1])


if __name__ == "__main__":
    unittest.main()
