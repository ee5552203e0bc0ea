"""The errors of reading and writing, and a reader's exception in words (one line, no source locations)."""

from __future__ import annotations

import re


class InputError(ValueError):
    """A bad input; the message names the file or folder and the problem."""


def itk_reason(error: Exception) -> str:
    """The words of an ITK exception without its source file, line and object address, on one line."""
    text = str(error)
    if "ITK ERROR:" in text:
        text = text.split("ITK ERROR:", 1)[1].split("):", 1)[-1]
    return " ".join(text.split())


def read_error_reason(error: Exception) -> str:
    """A reader's exception in words, on one line: truncated files say so, ITK's source locations go."""
    text = itk_reason(error)
    truncated = re.search(r"[Ee]xpected (\d+) bytes, got (\d+) bytes", text)
    if truncated:
        need, got = truncated.groups()
        return f"file truncated: {got} of {need} bytes of image data; the file is damaged or incomplete"
    return f"{type(error).__name__}: {text}"
