"""Tracking numbers: format, alphabet, the check character's guarantees, normalisation."""

from __future__ import annotations

import random
import re

import pytest

from chatserver.tracking import (
    ALPHABET,
    COLLISION_SPACE,
    check_character,
    is_valid,
    new_tracking_number,
    normalize,
)

FORMAT = re.compile(r"[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]")


def seeded(seed: int):
    rng = random.Random(seed)
    return rng.randbytes


def sample(count: int = 2000, seed: int = 20261124) -> list[str]:
    source = seeded(seed)
    return [new_tracking_number(source) for _ in range(count)]


def compact(number: str) -> str:
    return number.replace("-", "")


def test_alphabet_has_no_look_alikes_and_a_prime_size():
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("01OIU") & set(ALPHABET)
    assert all(len(ALPHABET) % d for d in range(2, len(ALPHABET)))  # prime
    assert all(c.isdigit() or c.isupper() for c in ALPHABET)


def test_format_and_alphabet():
    numbers = sample()
    assert all(FORMAT.fullmatch(number) for number in numbers)
    assert all(is_valid(number) for number in numbers)
    assert all(normalize(number) == number for number in numbers)
    assert set("".join(compact(n) for n in numbers)) == set(ALPHABET)  # every character used


def test_the_default_randomness_works():
    number = new_tracking_number()
    assert FORMAT.fullmatch(number)
    assert is_valid(number)


def test_injected_randomness_is_deterministic():
    assert sample(50, seed=7) == sample(50, seed=7)
    assert sample(50, seed=7) != sample(50, seed=8)
    assert new_tracking_number(lambda n: bytes(range(n))) == "2345-6789-" + check_character(
        "23456789"
    )


def test_biased_bytes_are_drawn_again():
    """Bytes >= 248 would make byte % 31 uneven; they are skipped, not folded in."""
    chunks = iter([bytes([255, 248, 0, 1]) + bytes([249] * 4), bytes([30, 31, 247, 2] * 2)])
    number = new_tracking_number(lambda n: next(chunks))
    # 0, 1 from the first draw; then 30 -> Z, 31 -> 2, 247 -> Z, 2 -> 4, 30 -> Z, 31 -> 2
    assert compact(number)[:8] == "23Z2Z4Z2"


def test_a_broken_random_source_fails_instead_of_spinning():
    with pytest.raises(RuntimeError, match="random"):
        new_tracking_number(lambda n: b"\xff" * n)


def test_every_single_substitution_is_detected():
    for number in sample(500):
        chars = compact(number)
        for position in range(len(chars)):
            for replacement in ALPHABET:
                if replacement != chars[position]:
                    typo = chars[:position] + replacement + chars[position + 1 :]
                    assert not is_valid(typo), (number, typo)


def test_every_transposition_is_detected_adjacent_or_not():
    for number in sample(500):
        chars = list(compact(number))
        for i in range(len(chars)):
            for j in range(i + 1, len(chars)):
                if chars[i] != chars[j]:
                    swapped = chars.copy()
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    assert not is_valid("".join(swapped)), (number, i, j)


def test_exactly_one_check_character_fits():
    for number in sample(200):
        data = compact(number)[:8]
        fits = [c for c in ALPHABET if is_valid(data + c)]
        assert fits == [check_character(data)] == [number[-1]]


@pytest.mark.parametrize("bad", ["2345678", "234567890", "2345678O", "ABCD-EFGH", ""])
def test_check_character_wants_eight_alphabet_characters(bad):
    with pytest.raises(ValueError, match="expected 8"):
        check_character(bad)


def test_normalisation_tolerates_case_spaces_dashes_and_full_width():
    number = sample(1)[0]
    raw = compact(number)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in raw)
    for typed in [
        raw,
        raw.lower(),
        f"  {number.lower()} ",
        f"{raw[:4]} {raw[4:8]} {raw[8]}",
        "-".join(raw),
        f"{raw[:4]}\u2013{raw[4:8]}\u2212{raw[8]}",  # en dash, minus sign
        f"{full_width[:4]}ー{full_width[4:8]}－{full_width[8]}",  # a Japanese IME
        f"{raw[:4]}\u3000{raw[4:]}",  # ideographic space
    ]:
        assert normalize(typed) == number, typed


def test_u_is_read_as_v():
    number = next(n for n in sample() if "V" in n)
    assert normalize(number.replace("V", "U")) == number
    assert normalize(number.replace("V", "u")) == number


@pytest.mark.parametrize("look_alike", ["0", "O", "o", "1", "I", "i"])
def test_characters_outside_the_alphabet_are_rejected_not_guessed(look_alike):
    for number in sample(100):
        typo = look_alike + number[1:]
        assert normalize(typo) is None
        assert not is_valid(typo)


@pytest.mark.parametrize(
    "bad",
    ["", "----", "K7PX-4QR9", "K7PX-4QR9-MM", "K7PX_4QR9_M", "K7PX.4QR9.M", "x" * 10_000, "😀" * 9],
)
def test_malformed_text_is_not_a_number(bad):
    assert normalize(bad) is None
    assert not is_valid(bad)


def test_collision_space():
    assert COLLISION_SPACE == 31**8 == 852_891_037_441
    assert COLLISION_SPACE > 2**39
    numbers = sample(20_000, seed=1)
    # 20,000 numbers: expected clashes n^2 / 2N = 0.00023; a clash here means broken randomness
    assert len(set(numbers)) == len(numbers)
