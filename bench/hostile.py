"""Parse time of inputs that cost more than their size (issue 8): a huge encoded-word subject, deep HTML.

    .venv/bin/python bench/hostile.py

Both are bounded before the expensive code runs: the header block by
limits.max_header_bytes (quarantined as headers-too-large), the HTML by a
nesting check that switches to a linear tag stripper.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maildesk.config import Limits
from maildesk.inbound.parse import parse

INPUTS = {
    "1.1 MB subject of encoded words": ("From: a@b.test\r\nSubject: " + " ".join(["=?utf-8?q?abc?="] * 70000)
                                        + "\r\n\r\nhello\r\n").encode(),
    "2.2 MB of nested <div>": (b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * 200_000 + b"hi"
                               + b"</div>" * 200_000),
}

if __name__ == "__main__":
    for name, raw in INPUTS.items():
        t0 = time.perf_counter()
        mail = parse(raw, Limits(parse_timeout=0))
        print(f"{name}: {time.perf_counter() - t0:.3f} s, outcome {mail.defect or 'parsed'}")
