# ruff: noqa: RUF001, RUF003  (look-alike characters, fullwidth forms, are what is generated)
"""Generate the redaction corpus of tests/redaction/data/redaction_corpus.jsonl.

Run: .venv/bin/python bench/redaction_corpus.py [--seed S]

Each case is one text holding one value to redact (with its bounds and type) or one
look-alike that must survive (with its bounds and kind), in one category: the formats
and secret kinds of issue 20, the tidy formats the detector found before, and the
look-alikes a prompt is full of (order numbers, dates, versions, UUIDs, hashes, amounts,
coordinates, timestamps). Values are drawn with a seeded generator and checked with the
libraries a real value would pass (python-stdnum, phonenumbers), so none could not exist.
The file is written once and committed: the test scores the detector against it, and
bench/redaction_bench.py scores Presidio against it too.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberFormat
from stdnum import iban, luhn

OUT = (
    Path(__file__).resolve().parents[1] / "tests" / "redaction" / "data" / "redaction_corpus.jsonl"
)
CASES_PER_CATEGORY = 20
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
FULLWIDTH = str.maketrans(
    {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}  # "!" .. "~" and "＠" for "@"
)
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
MATH_BOLD = str.maketrans({str(d): chr(0x1D7CE + d) for d in range(10)})

Case = dict[str, object]


class Draw:
    """Valid values, drawn from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, items: list[str] | tuple[str, ...] | str) -> str:
        return self.rng.choice(list(items))

    def text(self, alphabet: str, size: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(size))

    def ssn(self, sep: str = "-") -> str:
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        group, serial = self.rng.randint(1, 99), self.rng.randint(1, 9999)
        return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"

    def card(self, groups: str | None = " ") -> str:
        prefix = self.pick(["4", "51", "52", "55", "2221", "6011", "35"])
        body = prefix + self.text(string.digits, 15 - len(prefix))
        digits = body + luhn.calc_check_digit(body)
        if groups is None:
            return digits
        return groups.join(digits[i : i + 4] for i in range(0, 16, 4))

    def phone(self, region: str) -> phonenumbers.PhoneNumber:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        assert metadata is not None and metadata.country_code is not None
        example = phonenumbers.example_number(region)
        assert example is not None
        length = len(str(example.national_number))
        while True:
            national = str(example.national_number)[:2] + self.text(string.digits, length - 2)
            number = phonenumbers.parse(f"+{metadata.country_code}{national}")
            valid = phonenumbers.is_valid_number(number)
            if valid and phonenumbers.region_code_for_number(number) == region:
                return number

    def national(self, region: str) -> str:
        return phonenumbers.format_number(self.phone(region), PhoneNumberFormat.NATIONAL)

    def international(self, region: str) -> str:
        return phonenumbers.format_number(self.phone(region), PhoneNumberFormat.INTERNATIONAL)

    def e164(self, region: str) -> str:
        return phonenumbers.format_number(self.phone(region), PhoneNumberFormat.E164)

    def iban(self, country: str | None = None) -> str:
        country = country or self.pick(["DE", "FR", "GB", "NL", "ES", "IT", "BE", "AT", "CH"])
        shapes = {
            "DE": "n18",
            "FR": "n10c11n2",
            "GB": "a4n14",
            "NL": "a4n10",
            "ES": "n20",
            "IT": "a1n10c12",
            "BE": "n12",
            "AT": "n16",
            "CH": "n5c12",
        }
        while True:
            body = "".join(
                self.text(string.digits if kind == "n" else string.ascii_uppercase, int(size))
                for kind, size in _parts(shapes[country])
            )
            number = country + iban.calc_check_digits(country + "00" + body) + body
            if iban.is_valid(number):
                return number

    def ipv4(self) -> str:
        return ".".join(
            str(n)
            for n in [self.rng.choice([10, 172, 192, 203, 198, 81, 62])]
            + [self.rng.randint(0, 255) for _ in range(3)]
        )

    def ipv6(self) -> str:
        groups = [f"{self.rng.randint(0, 0xFFFF):x}" for _ in range(5)]
        return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[2]

    def email(self) -> str:
        local = self.pick(["jane", "j.roe", "max.mustermann", "li"]) + str(self.rng.randint(1, 99))
        return local + "@" + self.pick(["example.com", "mail.example.org", "corp.example.co.uk"])

    def nanp(self) -> tuple[str, str]:
        region = self.pick(["CA", "JM", "PR", "BS", "TT", "BB", "DO", "GU"])
        return region, self.national(region)


def _parts(shape: str) -> list[tuple[str, str]]:
    parts, kind, size = [], "", ""
    for char in shape + "x":
        if char.isalpha():
            if kind:
                parts.append((kind, size))
            kind, size = char, ""
        else:
            size += char
    return parts


def _grouped(value: str, separator: str, size: int = 4) -> str:
    return separator.join(value[i : i + size] for i in range(0, len(value), size))


def value_case(category: str, template: str, value: str, entity: str) -> Case:
    """`template` with "{}" where `value` stands."""
    start = template.index("{}")
    text = template.replace("{}", value, 1)
    return {"category": category, "text": text, "values": [[start, start + len(value), entity]]}


def lookalike_case(category: str, template: str, lookalike: str) -> Case:
    start = template.index("{}")
    text = template.replace("{}", lookalike, 1)
    return {"category": category, "text": text, "lookalikes": [[start, start + len(lookalike)]]}


Generator = Callable[[Draw, int], Case]


def after_punctuation(d: Draw, i: int) -> Case:
    cases = [
        ("SSN:{}", d.ssn(), "US_SSN"),
        ("ssn#{}", d.ssn(), "US_SSN"),
        ("applicant ({}) approved", d.ssn(), "US_SSN"),
        ("card:{}", d.card(None), "CREDIT_CARD"),
        ("card={}&exp=12", d.card("-"), "CREDIT_CARD"),
        ("GET /cards/{}/charge", d.card(None), "CREDIT_CARD"),
        ("tel:{}", d.e164("GB"), "PHONE_NUMBER"),
        ('<a href="tel:{}">call us</a>', d.e164("US"), "PHONE_NUMBER"),
        ("?phone={}&ok=1", d.e164("DE"), "PHONE_NUMBER"),
        ("ip:{}", d.ipv4(), "IP_ADDRESS"),
        ("x-forwarded-for:{}", d.ipv4(), "IP_ADDRESS"),
        ("client ({}) refused", d.ipv4(), "IP_ADDRESS"),
        ("[{}] GET /", d.ipv4(), "IP_ADDRESS"),
        ("mailto:{}", d.email(), "EMAIL_ADDRESS"),
        ("iban:{}", d.iban(), "IBAN_CODE"),
    ]
    template, value, entity = cases[i % len(cases)]
    return value_case("after_punctuation", template, value, entity)


def after_a_letter(d: Draw, i: int) -> Case:
    cases = [
        ("card{}", d.card(None), "CREDIT_CARD"),
        ("ref-{}", d.card(None), "CREDIT_CARD"),
        ("acct_{} closed", d.card(" "), "CREDIT_CARD"),
        ("SSN{}", d.ssn(), "US_SSN"),
        ("id-{} on file", d.ssn(), "US_SSN"),
        ("host{} is down", d.ipv4(), "IP_ADDRESS"),
        ("tel{}", d.e164("FR"), "PHONE_NUMBER"),
    ]
    template, value, entity = cases[i % len(cases)]
    return value_case("after_a_letter", template, value, entity)


def ip_with_port(d: Draw, i: int) -> Case:
    port = d.rng.choice([22, 80, 443, 5432, 8080, 9200])
    cases = [
        ("connect to {}:" + str(port) + " now", d.ipv4()),
        ("upstream={}:" + str(port), d.ipv4()),
        ("peer [{}]:" + str(port), d.ipv6()),
        ("tcp {}:" + str(port) + " -> ok", d.ipv4()),
    ]
    template, value = cases[i % len(cases)]
    return value_case("ip_with_port", template, value, "IP_ADDRESS")


def card_separators(d: Draw, i: int) -> Case:
    digits = d.card(None)
    groups = [digits[j : j + 4] for j in range(0, 16, 4)]
    separators = [
        (".", ".", "."),
        (" ", "-", " "),
        ("-", " ", "."),
        (".", " ", "-"),
        ("-", "-", " "),
    ]
    chosen = separators[i % len(separators)]
    value = groups[0] + "".join(s + g for s, g in zip(chosen, groups[1:], strict=True))
    return value_case(
        "card_separators", d.pick(["card {}", "paid with {}.", "CC: {}"]), value, "CREDIT_CARD"
    )


def unicode_spaces(d: Draw, i: int) -> Case:
    space = ["\u00a0", "\u202f", "\u2009", "\t", "\u200b", "\u2007"][i % 6]
    kind = i % 4
    if kind == 0:
        value, entity = _grouped(d.card(None), space), "CREDIT_CARD"
    elif kind == 1:
        value, entity = d.national("FR").replace(" ", space), "PHONE_NUMBER"
    elif kind == 2:
        value, entity = _grouped(d.iban(), space), "IBAN_CODE"
    else:
        value, entity = d.ssn(space), "US_SSN"
    template = {
        "CREDIT_CARD": "carte {}",
        "PHONE_NUMBER": "tél. {}",
        "IBAN_CODE": "IBAN {}",
        "US_SSN": "SSN {}",
    }[entity]
    return value_case("unicode_spaces", template, value, entity)


def unicode_digits(d: Draw, i: int) -> Case:
    kind = i % 5
    if kind == 0:
        return value_case(
            "unicode_digits", "カード{}です", d.card(None).translate(FULLWIDTH), "CREDIT_CARD"
        )
    if kind == 1:
        email = d.email()
        return value_case(
            "unicode_digits", "メール {}", email.translate(FULLWIDTH), "EMAIL_ADDRESS"
        )
    if kind == 2:
        return value_case("unicode_digits", "SSN {}", d.ssn().translate(ARABIC_INDIC), "US_SSN")
    if kind == 3:
        return value_case(
            "unicode_digits",
            "कार्ड {}",
            _grouped(d.card(None), " ").translate(DEVANAGARI),
            "CREDIT_CARD",
        )
    return value_case(
        "unicode_digits", "card {}", _grouped(d.card(None), " ").translate(MATH_BOLD), "CREDIT_CARD"
    )


def lowercase_iban(d: Draw, i: int) -> Case:
    number = d.iban()
    forms = [
        number.lower(),
        _grouped(number.lower(), " "),
        number[:2].lower() + number[2:],
        _grouped(number, " ").lower(),
    ]
    return value_case(
        "lowercase_iban",
        d.pick(["iban {}", "send to {} please", "konto: {}"]),
        forms[i % 4],
        "IBAN_CODE",
    )


def idn_email(d: Draw, i: int) -> Case:
    addresses = [
        "jöhn.müller@exämple.de",
        "иван@пример.рф",
        "用户@例子.广告",
        "राम@उदाहरण.भारत",
        "josé.garcía@correo.es",
        "jane@xn--bcher-kva.example",
        "θεός@παράδειγμα.ελ",
        "søren@eksempel.dk",
        "renée@société.fr",
        "ユーザー@例え.テスト",
    ]
    templates = ["write to {}", "E-Mail: {}", "请发邮件到{}谢谢", "«{}»", "contact {}."]
    return value_case(
        "idn_email", templates[i % len(templates)], addresses[i % len(addresses)], "EMAIL_ADDRESS"
    )


def ssn_without_dashes(d: Draw, i: int) -> Case:
    templates = [
        "SSN: {}",
        "ssn {}",
        "Social Security Number: {}.",
        "SSN#{}",
        "social security no. {}",
        "soc. sec. {}",
    ]
    return value_case("ssn_without_dashes", templates[i % len(templates)], d.ssn(""), "US_SSN")


def nanp_countries(d: Draw, i: int) -> Case:
    region, national = d.nanp()
    forms = [national, national.replace("(", "").replace(") ", "-"), d.international(region)]
    return value_case(
        "nanp_countries", d.pick(["call {}", "tel. {}", "phone: {}"]), forms[i % 3], "PHONE_NUMBER"
    )


def secret_tokens(d: Draw, i: int) -> Case:
    makers = [
        lambda: "sk-proj-" + d.text(ALNUM, 48),
        lambda: "sk-ant-api03-" + d.text(ALNUM, 93) + "AA",
        lambda: "AKIA" + d.text(string.ascii_uppercase + "234567", 16),
        lambda: "ghp_" + d.text(ALNUM, 36),
        lambda: "github_pat_11" + d.text(ALNUM, 80),
        lambda: "glpat-" + d.text(ALNUM, 20),
        lambda: (
            "xoxb-"
            + d.text(string.digits, 12)
            + "-"
            + d.text(string.digits, 13)
            + "-"
            + d.text(ALNUM, 24)
        ),
        lambda: (
            "xoxp-" + "-".join(d.text(string.digits, 12) for _ in range(3)) + "-" + d.text(HEX, 32)
        ),
        lambda: "sk_live_" + d.text(ALNUM, 24),
        lambda: "rk_test_" + d.text(ALNUM, 24),
        lambda: "AIza" + d.text(ALNUM + "-_", 35),
        lambda: "SG." + d.text(ALNUM, 22) + "." + d.text(ALNUM, 43),
        lambda: "npm_" + d.text(ALNUM, 36),
        lambda: "hf_" + d.text(string.ascii_letters, 34),
        lambda: "dop_v1_" + d.text(HEX, 64),
        lambda: "shpat_" + d.text(HEX, 32),
        lambda: "pplx-" + d.text(ALNUM, 48),
        lambda: "gsk_" + d.text(ALNUM, 52),
        lambda: "SK" + d.text(HEX, 32),
        lambda: "hvs." + d.text(ALNUM, 95),
    ]
    token = makers[i % len(makers)]()
    template = (
        ["token {} here", '{{"key": "{}"}}', "export KEY={}", "use `{}`"][i % 4]
        .replace("{{", "{")
        .replace("}}", "}")
    )
    return value_case(
        "secret_tokens", template if template.count("{}") == 1 else "token {}", token, "SECRET"
    )


def secret_assignments(d: Draw, i: int) -> Case:
    password = d.text(ALNUM + "!#%^*", d.rng.randint(8, 16))
    key = d.text(ALNUM, 24) + str(d.rng.randint(0, 9))
    cases = [
        ("password={}", password),
        ("password: {}", password),
        ("DB_PASSWORD={}", password),
        ("export MYSQL_ROOT_PASSWORD='{}'", password),
        ('{{"password": "{}"}}', password),
        ("spring.datasource.password = {}", password),
        ("?user=bob&passwd={}&next=/", password),
        ("PGPASSWORD={} psql", password),
        ("client_secret: {}", key),
        ("API_KEY={}", key),
        ("x-api-key: {}", key),
        ("GITHUB_TOKEN={}", key),
        ("access_token: {}", key),
        ("<password>{}</password>", password),
        ("pwd={}", password),
        ("secret_key = '{}'", key),
    ]
    template, value = cases[i % len(cases)]
    template = template.replace("{{", "{").replace("}}", "}")
    return value_case("secret_assignments", template, value, "SECRET")


def aws_secret() -> Callable[[Draw], str]:
    def make(d: Draw) -> str:
        while True:
            key = d.text(ALNUM + "/+", 40)
            if (
                any(c.isupper() for c in key)
                and any(c.islower() for c in key)
                and any(c.isdigit() for c in key)
            ):
                return key

    return make


def secret_aws(d: Draw, i: int) -> Case:
    key = aws_secret()(d)
    # The access key id beside it is made from the secret's own characters: no fixed key
    # id is written in this file, and the draws (so every other case) stay as they were.
    key_id = "AKIA" + "".join(c for c in key.upper() if c.isalnum()).ljust(16, "7")[:16]
    templates = [
        "aws_secret_access_key = {}",
        "AWS_SECRET_ACCESS_KEY={}",
        '"SecretAccessKey": "{}"',
        "key id " + key_id + ", secret {}",
        "here it is: {}",
    ]
    return value_case("secret_aws", templates[i % len(templates)], key, "SECRET")


def secret_http_auth(d: Draw, i: int) -> Case:
    basic = base64.b64encode(
        f"{d.pick(['bob', 'admin', 'svc'])}:{d.text(ALNUM, 12)}".encode()
    ).decode()
    token = d.text(HEX, 32)
    cases = [
        ("Authorization: Basic {}", basic),
        ("authorization: basic {}", basic),
        ('"Authorization": "Basic {}"', basic),
        ("Proxy-Authorization: Basic {}", basic),
        ("Authorization: Token {}", token),
        ("Authorization: Bearer {}", token),
        ("curl -H 'Authorization: Basic {}' https://api.example.com", basic),
    ]
    template, value = cases[i % len(cases)]
    return value_case("secret_http_auth", template, value, "SECRET")


def secret_private_keys(d: Draw, i: int) -> Case:
    header = [
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "EC PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ][i % 5]
    lines = [d.text(ALNUM + "+/", 64) for _ in range(d.rng.randint(2, 5))]
    kind = i % 4
    if kind == 0:
        block = f"-----BEGIN {header}-----\n" + "\n".join(lines) + f"\n-----END {header}-----"
    elif kind == 1:
        block = f"-----BEGIN {header}-----\n" + "\n".join(lines)
    elif kind == 2:
        block = f"-----BEGIN {header}-----\\n" + "\\n".join(lines) + f"\\n-----END {header}-----"
    else:
        block = f"-----BEGIN {header}-----\\n" + "\\n".join(lines[:2])
    template = (
        ["my key:\n{}\nthanks", '{{"private_key": "{}"}}', "{}"][i % 3]
        .replace("{{", "{")
        .replace("}}", "}")
    )
    return value_case("secret_private_keys", template, block, "SECRET")


def tidy(d: Draw, i: int) -> Case:
    cases = [
        ("Please note: {}, thanks.", d.email(), "EMAIL_ADDRESS"),
        ("call {} today", d.international("GB"), "PHONE_NUMBER"),
        ("call {} today", d.national("US"), "PHONE_NUMBER"),
        ("Tel. {} bitte", d.national("DE"), "PHONE_NUMBER"),
        ("card {} ok", d.card(" "), "CREDIT_CARD"),
        ("IBAN {} ok", _grouped(d.iban(), " "), "IBAN_CODE"),
        ("SSN {} ok", d.ssn(), "US_SSN"),
        ("from {} ok", d.ipv4(), "IP_ADDRESS"),
        ("from {} ok", d.ipv6(), "IP_ADDRESS"),
        ("mobile {} ok", d.national("FR"), "PHONE_NUMBER"),
    ]
    template, value, entity = cases[i % len(cases)]
    return value_case("tidy", template, value, entity)


def order_numbers(d: Draw, i: int) -> Case:
    forms = [
        f"order #{d.rng.randint(10**7, 10**8 - 1)}",
        f"ORD-{d.rng.randint(2019, 2025)}-{d.rng.randint(100000, 999999)}",
        f"INV-{d.rng.randint(0, 10**9 - 1):09d}",
        f"ticket JIRA-{d.rng.randint(100, 99999)}",
        f"PO {d.rng.randint(10**7, 10**8 - 1)}",
        f"case {d.rng.randint(100000, 999999)}-{d.rng.randint(10, 99)}",
        f"SKU {d.text(string.ascii_uppercase, 3)}-{d.rng.randint(1000, 9999)}"
        f"-{d.rng.randint(10, 99)}",
    ]
    return lookalike_case("order_number", "See {} for details.", forms[i % len(forms)])


def dates(d: Draw, i: int) -> Case:
    year, month, day = d.rng.randint(1990, 2030), d.rng.randint(1, 12), d.rng.randint(1, 28)
    forms = [
        f"{year}-{month:02d}-{day:02d}",
        f"{day:02d}.{month:02d}.{year}",
        f"{month:02d}/{day:02d}/{year}",
        f"{year}-{month:02d}-{day:02d}T{d.rng.randint(0, 23):02d}:{d.rng.randint(0, 59):02d}"
        f":{d.rng.randint(0, 59):02d}.{d.rng.randint(0, 999999):06d}Z",
        f"{day} {['Jan', 'Mar', 'Oct'][i % 3]} {year}",
        f"{year}{month:02d}{day:02d}",
    ]
    return lookalike_case("date", "on {} we met", forms[i % len(forms)])


def versions(d: Draw, i: int) -> Case:
    a, b, c, e = (d.rng.randint(0, 30) for _ in range(4))
    forms = [
        f"v{a}.{b}.{c}",
        f"version {a}.{b}.{c}.{d.rng.randint(1000, 99999)}",
        f"release {a}.{b}.{c}.{e}",
        f"Python 3.{b}.{c}",
        f"node v{a}.{b}.{c}",
        f"{a}.{b}.{c}+{d.rng.randint(20200101, 20251231)}",
        f"build {d.rng.randint(10000, 99999)}.{d.rng.randint(100, 999)}",
    ]
    return lookalike_case("version", "running {} in prod", forms[i % len(forms)])


def uuids(d: Draw, i: int) -> Case:
    return lookalike_case(
        "uuid", "request {} failed", str(uuid.UUID(int=d.rng.getrandbits(128), version=4))
    )


def hashes(d: Draw, i: int) -> Case:
    forms = [
        d.text(HEX, 40),
        d.text(HEX, 64),
        d.text(HEX, 32),
        d.text(HEX, 7),
        "sha256:" + d.text(HEX, 64),
        "sha256-" + base64.b64encode(d.rng.randbytes(32)).decode(),
    ]
    return lookalike_case("hash", "commit {} merged", forms[i % len(forms)])


def amounts(d: Draw, i: int) -> Case:
    whole = d.rng.randint(1000, 9999999)
    forms = [
        f"${whole:,}.{d.rng.randint(0, 99):02d}",
        f"{whole:,}.{d.rng.randint(0, 99):02d} €".replace(",", " "),
        f"EUR {whole:,}".replace(",", "."),
        f"₹{whole:,}.00",
        f"¥{whole:,}",
        f"{whole}.{d.rng.randint(10, 99)} USD",
        f"CHF {whole:,}.–".replace(",", "'"),
    ]
    return lookalike_case("amount", "total {} due", forms[i % len(forms)])


def coordinates(d: Draw, i: int) -> Case:
    lat, lon = d.rng.uniform(-89, 89), d.rng.uniform(-179, 179)
    forms = [
        f"{lat:.4f}, {lon:.4f}",
        f"lat={lat:.6f}&lon={lon:.6f}",
        f"{abs(int(lat))}°{d.rng.randint(0, 59)}′{d.rng.randint(0, 59)}″N "
        f"{abs(int(lon))}°{d.rng.randint(0, 59)}′{d.rng.randint(0, 59)}″W",
        f"({lat:.5f}, {lon:.5f})",
        f"POINT({lon:.6f} {lat:.6f})",
    ]
    return lookalike_case("coordinate", "located at {} today", forms[i % len(forms)])


def timestamps(d: Draw, i: int) -> Case:
    forms = [
        str(d.rng.randint(1_000_000_000, 1_999_999_999)),
        str(d.rng.randint(1_000_000_000_000, 1_999_999_999_999)),
        f"{d.rng.randint(0, 23):02d}:{d.rng.randint(0, 59):02d}:{d.rng.randint(0, 59):02d}"
        f".{d.rng.randint(0, 999):03d}",
        f"took {d.rng.randint(1, 999)}.{d.rng.randint(0, 999):03d} ms",
    ]
    return lookalike_case("timestamp", "at {} UTC", forms[i % len(forms)])


GENERATORS: dict[str, Generator] = {
    "after_punctuation": after_punctuation,
    "after_a_letter": after_a_letter,
    "ip_with_port": ip_with_port,
    "card_separators": card_separators,
    "unicode_spaces": unicode_spaces,
    "unicode_digits": unicode_digits,
    "lowercase_iban": lowercase_iban,
    "idn_email": idn_email,
    "ssn_without_dashes": ssn_without_dashes,
    "nanp_countries": nanp_countries,
    "secret_tokens": secret_tokens,
    "secret_assignments": secret_assignments,
    "secret_aws": secret_aws,
    "secret_http_auth": secret_http_auth,
    "secret_private_keys": secret_private_keys,
    "tidy": tidy,
    "order_number": order_numbers,
    "date": dates,
    "version": versions,
    "uuid": uuids,
    "hash": hashes,
    "amount": amounts,
    "coordinate": coordinates,
    "timestamp": timestamps,
}


def corpus(seed: int) -> list[Case]:
    draw = Draw(seed)
    return [
        generate(draw, i) for generate in GENERATORS.values() for i in range(CASES_PER_CATEGORY)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    cases = corpus(args.seed)
    with args.out.open("w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases in {len(GENERATORS)} categories -> {args.out}")


if __name__ == "__main__":
    main()
