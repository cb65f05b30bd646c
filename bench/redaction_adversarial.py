"""Detection throughput on adversarial inputs: texts built to make a detector slow.

Run: .venv/bin/python bench/redaction_adversarial.py [--megabytes M] [--repeat R]

Each input is about M MB (UTF-8) of one pattern: digit runs and separators, tables of
numbers, near misses of every family (a value that fails its check at the last step),
long tokens, key blocks and credential names without values, text outside ASCII.
Throughput is the input's UTF-8 size over the CPU time of the best of R runs of
`PatternDetector.detect` (the native detector when built, else the Python one). Texts
made of valid values (dense PII) are measured apart: each value found costs a span.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable

from stdnum import iban, luhn
from stdnum.es import dni

from policy_engine.redaction import PatternDetector

FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _repeat(unit: Callable[[int], str], size: int) -> str:
    parts, total, i = [], 0, 0
    while total < size:
        part = unit(i)
        parts.append(part)
        total += len(part.encode())
        i += 1
    return "".join(parts)


def inputs(size: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)

    def table_row(i: int) -> str:
        return " ".join(str(rng.randint(0, 10 ** rng.randint(1, 6))) for _ in range(8)) + "\n"

    def failing_card(i: int) -> str:
        body = "4" + _digits(rng, 14)
        check = (int(luhn.calc_check_digit(body)) + 1) % 10
        digits = body + str(check)
        return " ".join(digits[j : j + 4] for j in range(0, 16, 4)) + " x "

    def failing_iban(i: int) -> str:
        body = _digits(rng, 18)
        check = (int(iban.calc_check_digits("DE00" + body)) + 1) % 100
        return f"DE{check:02d}{body} "

    def failing_dni(i: int) -> str:
        body = _digits(rng, 8)
        letters = "TRWAGMYFPDXBNJZSQVHLCKE"
        right = letters.index(dni.calc_check_digit(body))
        return body + letters[(right + 1) % len(letters)] + " "

    return {
        '"1 " repeated': "1 " * (size // 2),
        '"12 " repeated': "12 " * (size // 3),
        "one digit run": "1" * size,
        '"1-" repeated': "1-" * (size // 2),
        '"1." repeated': "1." * (size // 2),
        "table of random numbers": _repeat(table_row, size),
        "table of 4-digit numbers (tabs)": _repeat(
            lambda i: "\t".join(_digits(rng, 4) for _ in range(8)) + "\n", size
        ),
        "table of 10-digit ids": _repeat(
            lambda i: " ".join(_digits(rng, 10) for _ in range(6)) + "\n", size
        ),
        "cards failing Luhn": _repeat(failing_card, size),
        "IBANs failing mod 97": _repeat(failing_iban, size),
        "DNI with a wrong letter": _repeat(failing_dni, size),
        "NINO with a wrong suffix": _repeat(lambda i: "AB" + _digits(rng, 6) + "E ", size),
        "SSN-like 666-xx-xxxx": _repeat(
            lambda i: f"666-{_digits(rng, 2)}-{_digits(rng, 4)} ", size
        ),
        "e-mails with a numeric TLD": _repeat(lambda i: "a@b.c1 ", size),
        "IPv6-like code tokens": _repeat(lambda i: "std::vector<int>::iterator ", size),
        "phone numbers one digit short": _repeat(lambda i: f"+44 20 7946 {_digits(rng, 3)} ", size),
        "one long token": "A" * size,
        "base64 blob": _repeat(lambda i: rng.choice(string.ascii_letters + "+/"), size),
        "hex blob": _repeat(lambda i: f"{rng.getrandbits(256):064x}", size),
        "BEGIN lines without a key": "-----BEGIN PRIVATE KEY-----\n" * (size // 28),
        "credential names without values": "password= api_key: token= " * (size // 26),
        '"@" repeated': "@" * size,
        "sk- prefixes": "sk-" * (size // 3),
        "CJK text": _repeat(lambda i: "数据保护条例要求个人信息的处理必须合法。", size),
        "fullwidth digits and spaces": _repeat(
            lambda i: (_digits(rng, 4) + " ").translate(FULLWIDTH), size
        ),
        "emoji and symbols": "😀👍🏽—«»€ " * (size // 24),
        "prose": _repeat(lambda i: "The quick brown fox jumps over the lazy dog. ", size),
    }


def dense_values(size: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)

    def card(i: int) -> str:
        body = "4" + _digits(rng, 14)
        digits = body + luhn.calc_check_digit(body)
        return f"card {digits} "

    return {
        "cards (valid)": _repeat(card, size),
        "e-mail addresses": _repeat(lambda i: f"user{i}@example.com ", size),
        "phone numbers": _repeat(lambda i: f"call +44 20 7946 {rng.randint(1000, 9999)} ", size),
    }


def throughput(detector: PatternDetector, text: str, repeat: int) -> tuple[float, int]:
    """MB (UTF-8) per CPU second of this thread, best of `repeat`; and the spans found."""
    best = float("inf")
    found = 0
    for _ in range(repeat):
        start = time.thread_time()
        found = len(detector.detect(text))
        best = min(best, time.thread_time() - start)
    return len(text.encode()) / best / 1e6, found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    size = int(args.megabytes * 1_000_000)
    detector = PatternDetector()
    print(f"Detector: {'native' if detector.native else 'Python'}; {args.megabytes} MB per input")
    print()
    print("| adversarial input | MB/s | spans |")
    print("|---|---:|---:|")
    worst = float("inf")
    for name, text in inputs(size, args.seed).items():
        rate, found = throughput(detector, text, args.repeat)
        worst = min(worst, rate)
        print(f"| {name} | {rate:,.1f} | {found:,} |", flush=True)
    print(f"| **worst case** | **{worst:,.1f}** | |")
    print()
    print("| dense valid values | MB/s | spans |")
    print("|---|---:|---:|")
    for name, text in dense_values(size, args.seed).items():
        rate, found = throughput(detector, text, args.repeat)
        print(f"| {name} | {rate:,.1f} | {found:,} |", flush=True)


if __name__ == "__main__":
    main()
