"""Write tests/replies/NAME.eml + NAME.expected.txt from cases.py (run after editing the cases)."""

from __future__ import annotations

import sys
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import cases  # noqa: E402


def main() -> None:
    for old in list(HERE.glob("*.eml")) + list(HERE.glob("*.expected.txt")):
        old.unlink()
    for name, kind, body, expected in cases():
        msg = EmailMessage()
        msg["From"] = "Jana Nováková <jana@example.test>"
        msg["To"] = "helpdesk@example.test"
        msg["Subject"] = "Re: [EX #42] Printer"
        msg["Message-ID"] = f"<{name}@example.test>"
        msg.set_content(body, subtype="html" if kind == "html" else "plain", charset="utf-8")
        (HERE / f"{name}.eml").write_bytes(bytes(msg))
        (HERE / f"{name}.expected.txt").write_text(expected.rstrip("\n") + "\n", encoding="utf-8")
    print(f"{len(cases())} cases written to {HERE}")


if __name__ == "__main__":
    main()
