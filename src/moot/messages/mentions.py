"""Finding mentions in a message: `@everyone`, and `@` followed by someone's display name.

Display names may hold spaces ("Ada Lovelace"), so a mention is the longest display name
that the text after an `@` starts with (case-insensitively), ending where a word ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from moot.messages.schemas import Mentionable

EVERYONE = "everyone"


def _ends_a_word(text: str, end: int) -> bool:
    return end >= len(text) or not (text[end].isalnum() or text[end] == "_")


def find_mentions(content: str, people: Sequence[Mentionable]) -> tuple[set[uuid.UUID], bool]:
    """(the accounts mentioned by name, whether `@everyone` is written)."""
    folded = content.casefold()
    if "@" not in folded:
        return set(), False
    names = sorted(
        ((person.display_name.casefold(), person.account_id) for person in people),
        key=lambda item: -len(item[0]),
    )
    found: set[uuid.UUID] = set()
    everyone = False
    at = folded.find("@")
    while at != -1:
        rest = at + 1
        if folded.startswith(EVERYONE, rest) and _ends_a_word(folded, rest + len(EVERYONE)):
            everyone = True
        else:
            for name, account_id in names:
                if (
                    name
                    and folded.startswith(name, rest)
                    and _ends_a_word(folded, rest + len(name))
                ):
                    found.add(account_id)
                    break
        at = folded.find("@", rest)
    return found, everyone
