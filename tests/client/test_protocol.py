"""notes_client.protocol: what a client may send, and the frames it gets back."""

import json
import subprocess
import sys

import pytest

from notes_client.protocol import (
    MAX_FRAME_BYTES,
    MAX_MARK_READ_IDS,
    MAX_NOTE_ID,
    Delete,
    MarkRead,
    Ping,
    ProtocolError,
    error,
    hello,
    is_note_id,
    is_resume_point,
    note,
    parse_after,
    parse_command,
    synced,
)
from tests.client.listener import ROOT


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ('{"type":"ping"}', Ping()),
        ('{"type":"mark_read","ids":[3,4]}', MarkRead(ids=(3, 4))),
        ('{"type":"mark_read","all":true}', MarkRead(all=True)),
        ('{"type":"mark_read","ids":[]}', MarkRead(ids=())),
        ('{"type":"delete","ids":[5,6]}', Delete(ids=(5, 6))),
    ],
)
def test_commands_a_client_may_send(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "bad_json"),
        ("[" * 100_000 + "]" * 100_000, "bad_json"),  # deeper than the parser's recursion
        ('{"type":"mark_read","ids":[' + "9" * 5000 + "]}", "bad_json"),  # over int digits
        ("[1,2]", "bad_request"),
        ('{"type":3}', "bad_request"),
        ('{"kind":"ping"}', "bad_request"),
        ('{"type":"mark_read"}', "bad_request"),
        ('{"type":"mark_read","all":"yes"}', "bad_request"),
        ('{"type":"mark_read","ids":"1,2"}', "bad_request"),
        ('{"type":"mark_read","ids":[1.5]}', "bad_request"),
        ('{"type":"mark_read","ids":[true]}', "bad_request"),
        ('{"type":"mark_read","ids":[0]}', "bad_request"),
        ('{"type":"mark_read","ids":[9223372036854775808]}', "bad_request"),
        (
            json.dumps({"type": "mark_read", "ids": list(range(1, MAX_MARK_READ_IDS + 2))}),
            "bad_request",
        ),
        ('{"type":"delete"}', "bad_request"),
        ('{"type":"delete","ids":[-1]}', "bad_request"),
        ('{"type":"subscribe"}', "unknown_type"),
    ],
)
def test_bad_frames_name_what_is_wrong(text, code):
    with pytest.raises(ProtocolError) as raised:
        parse_command(text)
    assert raised.value.code == code and raised.value.message


@pytest.mark.parametrize(
    ("query", "after"),
    [(b"", None), (b"after=0", 0), (b"after=42", 42), (b"x=1&after=7", 7)],
)
def test_after_is_a_note_id_or_absent(query, after):
    assert parse_after(query) == after


@pytest.mark.parametrize(
    "query", [b"after=-1", b"after=abc", b"after=1.5", b"after=%D9%A3", b"after=" + b"9" * 30]
)
def test_a_bad_after_is_refused(query):
    with pytest.raises(ProtocolError):
        parse_after(query)


def test_frames_are_compact_json_with_the_contract_fields():
    assert json.loads(hello(user="alice", unread=3, last_id=42)) == {
        "type": "hello",
        "protocol": 1,
        "user": "alice",
        "unread": 3,
        "last_id": 42,
    }
    assert synced(last_id=43) == '{"type":"synced","last_id":43}'
    assert json.loads(error("bad_json", "nope")) == {
        "type": "error",
        "code": "bad_json",
        "message": "nope",
    }


@pytest.mark.parametrize("value", [1, 42, MAX_NOTE_ID])
def test_note_ids_are_positive_64_bit_ints(value):
    assert is_note_id(value) and is_resume_point(value)


@pytest.mark.parametrize("value", [0, -1, MAX_NOTE_ID + 1, True, 1.0, "1", None])
def test_anything_else_is_no_note_id(value):
    assert not is_note_id(value)


def test_zero_is_a_resume_point_but_false_is_not():
    assert is_resume_point(0)
    assert not is_resume_point(False)
    assert not is_resume_point(-1)


WIRE = {"id": 7, "kind": "k", "title": "t", "content": "c", "url": "/", "actor": None}


def test_a_note_frame_carries_the_note_as_given():
    assert json.loads(note(WIRE)) == {"type": "note", "note": WIRE}


@pytest.mark.parametrize("char", ["x", "é", "😀"])
def test_a_note_over_the_frame_limit_is_clipped_to_fit_and_says_so(char):
    chars = MAX_FRAME_BYTES // len(char.encode()) + 100  # a little over the limit
    text = note({**WIRE, "content": char * chars})
    assert len(text.encode()) <= MAX_FRAME_BYTES
    clipped = json.loads(text)["note"]
    assert clipped["truncated"] is True
    assert clipped["content"].endswith("…")
    assert clipped["content"].startswith(char * (chars // 2))
    assert clipped["title"] == "t"


def test_the_protocol_module_imports_only_the_standard_library():
    """The server's bottom layer imports it: no websockets, no Django come with it."""
    probe = (
        "import sys, notes_client.protocol\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'websockets', 'django'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
