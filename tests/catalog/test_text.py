"""Catalog text: bidi control characters are removed on the way in."""

import pytest

from catalog.text import bidi_strip


@pytest.mark.parametrize("control", [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]])
def test_every_bidi_control_is_removed(control):
    assert bidi_strip(f"evil{control} mug") == ("evil mug", True)


def test_other_text_is_kept_as_it_is():
    # Hebrew and Arabic letters, a zero-width joiner, the left-to-right mark U+200E: not controls
    # that reorder the text around them.
    text = "שלום مرحبا a\u200db\u200e"
    assert bidi_strip(text) == (text, False)
