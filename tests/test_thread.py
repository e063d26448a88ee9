"""Thread stage: tags behind reply/forward prefixes in many languages."""

from __future__ import annotations

import pytest

from maildesk.decide.thread import strip_tag, tagged_number


@pytest.mark.parametrize("subject", [
    "[EX #42] Printer", "Re: [EX #42] Printer", "RE: Fwd: [EX #42] Printer", "AW: [ex #42] Printer",
    "Odp: PD: [EX #42] Printer", "VS: Re[2]: [EX#42] Printer", "Printer [EX # 42]",
])
def test_tag_found_behind_prefixes(subject):
    assert tagged_number(subject, "EX") == 42


@pytest.mark.parametrize("subject", ["[XY #42] Printer", "EX #42 Printer", "[EX #] x", "[EX #abc]"])
def test_no_tag(subject):
    assert tagged_number(subject, "EX") is None


def test_strip_tag_leaves_the_subject():
    assert strip_tag("Re: AW: [EX #42] Printer on fire", "EX") == "Printer on fire"
    assert strip_tag("Odp: Printer", "EX") == "Printer"
