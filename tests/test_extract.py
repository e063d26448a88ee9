"""Reply extraction and #command parsing on small texts."""

from __future__ import annotations

from conftest import ROOT

from maildesk.config import load
from maildesk.decide.commands import Command, parse_commands
from maildesk.inbound.extract import latest_reply

CFG = load(ROOT / "rules.toml")


def test_interleaved_answers_are_relayed_whole():
    text = "Hi,\n\nOn Mon, Alice wrote:\n> Does it print?\nNo, it does not.\n> And scan?\nYes.\n"
    got = latest_reply(text)
    assert not got.confident and got.text == text.strip()


def test_only_quotes_is_relayed_whole():
    text = "> quoted only\n> nothing new"
    got = latest_reply(text)
    assert got.text == text and not got.confident


def test_signature_and_sent_from_are_dropped():
    got = latest_reply("Restart it please.\n\nSent from my iPhone\n\n-- \nJana\n+420 123")
    assert got.text == "Restart it please." and got.confident


def test_answer_words_like_dekuji_are_kept():
    got = latest_reply("Děkuji, že jste napsali.\nProblém je v ovladači.\n\nDne 1. 1. 2026 Jan napsal(a):\n> x")
    assert got.text == "Děkuji, že jste napsali.\nProblém je v ovladači."


def test_slovak_and_original_message_headers():
    assert latest_reply("Hotovo.\n\nDňa 1. 1. 2026 o 9:00 Ján napísal(a):\n> x").text == "Hotovo."
    assert latest_reply("Done.\n\n-----Original Message-----\nFrom: a\nhistory").text == "Done."
    assert latest_reply("Hotovo.\n\n-----Původní zpráva-----\nOd: a\nhistorie").text == "Hotovo."


def test_commands_parse_in_order_and_stop_at_text():
    cmds, rest, errors = parse_commands("#take\n\n#status Waiting\n#price 99,50 eur\nHello\n#not a command", CFG)
    assert cmds == [Command("take"), Command("status", "waiting"), Command("price", "99.50 EUR")]
    assert rest == "Hello\n#not a command" and errors == []


def test_command_errors_name_the_problem():
    _, _, errors = parse_commands("#assign nobody@x.test\n#due 2026-13-01\n#priority high\n#take me\n#x", CFG)
    assert len(errors) == 5
    assert "not a consultant" in errors[0] and "YYYY-MM-DD" in errors[1] and "normal, express" in errors[2]
    assert "takes no value" in errors[3] and "unknown command" in errors[4]
