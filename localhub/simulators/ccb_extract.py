"""CCB's initial extract for DACS (DA-01), as CCB's batch would write it to S3: JSON Lines, one line per
person in person id order, with the person's service agreements and their service points.

:func:`ccb_extract_lines` makes ``persons`` persons deterministically: every fifth person has no active
agreement (ineligible), every person has one active electricity agreement over one service point and
every third also a closed gas agreement over a second one (not eligible), and names carry hostile text
(tabs, newlines, backslashes, CR, non-ASCII) in every fifth person. :func:`expected_counts` says what an initial
sync must find in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

# names a file must carry intact (TAB and LF are text; other control characters are refused at the source)
HOSTILE_NAMES = ("Tab\tName", "Line\nBreak", "Back\\slash \\t", "O'Brien \"; DROP TABLE--", "Ünïcødé 日本 🚰")


def _person(n: int) -> dict[str, object]:
    pid = f"{n:010d}"
    changed = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
    name = HOSTILE_NAMES[(n // 5) % len(HOSTILE_NAMES)] if n % 5 == 1 else f"Person {n}"
    eligible = n % 5 != 0
    agreements: list[dict[str, object]] = [
        {
            "saId": f"{n:09d}1",
            "changedAt": changed,
            "status": "ACTIVE" if eligible else "CLOSED",
            "accountId": f"{n:09d}0",
            "servicePointIds": [f"{n:09d}7"],
            "saType": "E-RES",
            "startDate": "2020-01-01",
        }
    ]
    points: list[dict[str, object]] = [{"spId": f"{n:09d}7", "changedAt": changed, "premiseId": f"{n:09d}5", "spType": "E-RES"}]
    if n % 3 == 0:
        agreements.append(
            {
                "saId": f"{n:09d}2",
                "changedAt": changed,
                "status": "CLOSED",
                "accountId": f"{n:09d}0",
                "servicePointIds": [f"{n:09d}8"],
                "saType": "G-RES",
                "startDate": "2019-01-01",
                "endDate": "2021-06-30",
            }
        )
        points.append({"spId": f"{n:09d}8", "changedAt": changed, "premiseId": f"{n:09d}5", "spType": "G-RES"})
    return {
        "personId": pid,
        "changedAt": changed,
        "person": {"name": name, "personType": "PERSON", "address": {"line1": f"{n} Main St", "city": "Springfield"}},
        "serviceAgreements": agreements,
        "servicePoints": points,
    }


def ccb_extract_lines(persons: int, *, first: int = 1) -> Iterator[bytes]:
    for n in range(first, first + persons):
        yield json.dumps(_person(n), ensure_ascii=False).encode("utf-8") + b"\n"


def expected_counts(persons: int, *, first: int = 1) -> dict[str, int]:
    eligible = sum(1 for n in range(first, first + persons) if n % 5 != 0)
    return {
        "personsRead": persons,
        "personsIneligible": persons - eligible,
        "contacts": eligible,
        "meteredServicePoints": eligible,
        "meteredServices": eligible,
    }
