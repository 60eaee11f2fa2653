"""docs/protocol.md, notes_client/protocol.py and protocol.js tell one protocol.

The close codes (name, number, meaning), the limits and the version are
written three times: for readers, for Python and for browsers. A change to
one that the others do not follow fails here.
"""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

from notes_client import protocol
from notes_client.protocol import PROTOCOL_VERSION, CloseCode

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "protocol.md").read_text()
JS = (ROOT / "frontend" / "static" / "frontend" / "protocol.js").read_text()
PYTHON = Path(protocol.__file__).read_text()


def markdown_table(heading: str) -> list[dict[str, str]]:
    """The rows of the first table under ``## heading``, keyed by its header, backticks dropped."""
    section = DOC.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header, _rule, *rows = [
        [cell.strip().strip("`") for cell in line.strip("|").split(" | ")] for line in lines
    ]
    assert all(len(row) == len(header) for row in rows), f"a row of {heading!r} is misshapen"
    return [dict(zip(header, row, strict=True)) for row in rows]


OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: pow}


def js_number(expression: str) -> int:
    """A JS constant made of integer literals (BigInt ``n`` too) and + - * **."""

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            return OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise AssertionError(f"not a constant number: {expression!r}")

    return value(ast.parse(re.sub(r"(\d)n\b", r"\1", expression), mode="eval").body)


def js_constants() -> dict[str, int]:
    return {
        name: js_number(expression)
        for name, expression in re.findall(r"^export const (\w+) = ([^;{]+);$", JS, re.M)
    }


def js_close_codes() -> dict[str, tuple[int, str]]:
    """``CloseCode``'s members: name -> (number, the comment that says what it means)."""
    block = re.search(r"^export const CloseCode = Object\.freeze\(\{$(.*?)^\}\);$", JS, re.M | re.S)
    assert block, "protocol.js exports no CloseCode = Object.freeze({...})"
    members = re.findall(r"^  (\w+): (\d+), // (.+)$", block.group(1), re.M)
    assert len(members) == block.group(1).strip().count("\n") + 1, "a member without a comment"
    return {name: (int(number), meaning) for name, number, meaning in members}


def python_meanings() -> dict[str, str]:
    """The comment beside each ``CloseCode`` member in notes_client/protocol.py."""
    return dict(re.findall(r"^    (\w+) = \d+  # (.+)$", PYTHON, re.M))


def test_the_close_codes_have_the_same_names_and_numbers_in_all_three():
    python = {code.name: code.value for code in CloseCode}
    doc = {row["name"]: int(row["code"]) for row in markdown_table("Close codes")}
    js = {name: number for name, (number, _) in js_close_codes().items()}
    assert doc == python
    assert js == python


def test_every_close_code_says_what_it_means_and_what_to_do():
    meanings = python_meanings()
    assert set(meanings) == {code.name for code in CloseCode}
    assert {name: meaning for name, (_, meaning) in js_close_codes().items()} == meanings
    for row in markdown_table("Close codes"):
        assert row["meaning"] and row["what a client should do"], row


def test_the_close_code_table_is_in_numeric_order():
    numbers = [int(row["code"]) for row in markdown_table("Close codes")]
    assert numbers == sorted(numbers)


def test_the_limits_are_the_same_in_all_three():
    python = {name: getattr(protocol, name) for name in dir(protocol) if name.startswith("MAX_")}
    doc = {
        row["name"]: int(re.match(r"\d+", row["value"]).group()) for row in markdown_table("Limits")
    }
    js = {name: value for name, value in js_constants().items() if name.startswith("MAX_")}
    assert doc == python
    assert js == python
    for row in markdown_table("Limits"):
        assert row["what it limits"], row


def test_the_protocol_version_is_the_same_in_all_three():
    assert js_constants()["PROTOCOL_VERSION"] == PROTOCOL_VERSION
    assert DOC.startswith(f"# The WebSocket protocol (v{PROTOCOL_VERSION})")
    assert f'"protocol":{PROTOCOL_VERSION},' in DOC


def test_the_channels_are_the_same_in_python_and_javascript():
    block = re.search(r"^export const Channel = Object\.freeze\(\{(.*?)\}\);$", JS, re.M)
    assert block, "protocol.js exports no Channel = Object.freeze({...})"
    js = dict(re.findall(r'(\w+): "(\w+)"', block.group(1)))
    assert js == {channel.upper(): channel for channel in protocol.CHANNELS}
