"""Text from outside (file names, batch ids, reasons) made safe to print on a terminal or in a message.

A file name or batch id can carry terminal escape sequences (`\\x1b[2J`) or bytes that are not UTF-8 (an SMB
client's `K\\xe4se.csv`, which Python reads with a surrogate in its place); printed as they are, the first
rewrite the terminal and the second cannot be encoded at all.
"""

from __future__ import annotations

import os
import unicodedata

#: Control characters, lone surrogates, format characters (bidi overrides) and line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Zl", "Zp"})


def escape_control(text: str) -> str:
    """`text` with control characters and undecodable bytes written as escapes (`\\x1b`, `\\xe4`), the rest kept."""
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode() carries it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in _ESCAPED_CATEGORIES:
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def is_undecodable_name(name: str) -> bool:
    """Whether a name from the file system held bytes that are not UTF-8 (so it cannot be sent to PostgreSQL)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def escaped_file_name(name: str) -> str:
    """A file name as printable text: its bytes that are not UTF-8 as `\\xe4`, control characters escaped."""
    return escape_control(os.fsdecode(os.fsencode(name)))
