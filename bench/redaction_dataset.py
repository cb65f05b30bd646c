"""A labelled, synthetic PII set for the redaction bench, generated with Faker.

Every document is a few sentences; each sentence carries one PII value (with its
span and type), one look-alike that must not be redacted (with its span and kind),
or neither. Values are drawn per locale and checked with the same public validators
(python-stdnum, phonenumbers) a real value would pass, so the gold set holds no
value that could not exist. Secrets are random strings in the providers' shapes.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field

import phonenumbers
from faker import Faker
from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale
from stdnum.nl import bsn

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN")
REGION = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "es_ES": "ES",
    "it_IT": "IT",
    "nl_NL": "NL",
    "en_IN": "IN",
}
NATIONAL = {
    "en_US": ["US_SSN"],
    "en_GB": ["UK_NINO"],
    "de_DE": ["DE_TAX_ID"],
    "fr_FR": ["FR_NIR"],
    "es_ES": ["ES_NIF", "ES_NIE"],
    "it_IT": ["IT_FISCAL_CODE"],
    "nl_NL": ["NL_BSN"],
    "en_IN": ["IN_AADHAAR"],
}
COMMON = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "SECRET"]
LOOKALIKES = [
    "order_number",
    "date",
    "timestamp",
    "price",
    "version",
    "uuid",
    "card_failing_luhn",
    "reference_number",
]
LABEL = {
    "EMAIL_ADDRESS": ["email", "e-mail address", "contact"],
    "PHONE_NUMBER": ["phone", "mobile", "tel."],
    "CREDIT_CARD": ["card number", "credit card", "card"],
    "IBAN_CODE": ["IBAN", "bank account", "account"],
    "IP_ADDRESS": ["IP", "client address", "server IP"],
    "SECRET": ["API key", "token", "credential"],
    "US_SSN": ["SSN", "social security number"],
    "UK_NINO": ["NI number", "National Insurance number"],
    "DE_TAX_ID": ["Steuer-ID", "tax id"],
    "FR_NIR": ["numéro de sécurité sociale", "NIR"],
    "ES_NIF": ["NIF", "DNI"],
    "ES_NIE": ["NIE"],
    "IT_FISCAL_CODE": ["codice fiscale", "CF"],
    "NL_BSN": ["BSN", "burgerservicenummer"],
    "IN_AADHAAR": ["Aadhaar", "Aadhaar number"],
}
TEMPLATES = [
    "My {label} is {value}.",
    "Please use {value} for this.",
    "{Label}: {value}",
    "Can you check {value} against the records from last week?",
    "The customer wrote that {value} is correct ({label}).",
]
LOOKALIKE_TEMPLATES = [
    "See {value} for details.",
    "It was logged as {value} yesterday.",
    "Reference: {value}",
]


@dataclass
class Document:
    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # gold PII
    lookalikes: list[tuple[int, int, str]] = field(default_factory=list)


class Generator:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._fakers = {locale: Faker(locale) for locale in LOCALES}
        for i, faker in enumerate(self._fakers.values()):
            faker.seed_instance(seed + i)

    def document(self, locale: str, sentences: int) -> Document:
        doc = Document("")
        faker = self._fakers[locale]
        for _ in range(sentences):
            roll = self._random.random()
            if roll < 0.55:
                entity = self._random.choice(COMMON + NATIONAL[locale] * 2)
                self._add_pii(doc, locale, entity)
            elif roll < 0.85:
                self._add_lookalike(doc, self._random.choice(LOOKALIKES))
            else:
                doc.text += faker.sentence(nb_words=10) + " "
            if self._random.random() < 0.3:
                self._add_person_or_place(doc, faker)
        return doc

    def _add_pii(self, doc: Document, locale: str, entity: str) -> None:
        value, inner = self._value(locale, entity)
        label = self._random.choice(LABEL[entity])
        template = self._random.choice(TEMPLATES)
        prefix, _, suffix = template.partition("{value}")
        prefix = prefix.format(label=label, Label=label[:1].upper() + label[1:])
        suffix = suffix.format(label=label)
        start = len(doc.text) + len(prefix)
        doc.text += prefix + value + suffix + " "
        lo, hi = inner if inner is not None else (0, len(value))
        doc.spans.append((start + lo, start + hi, entity))

    def _add_lookalike(self, doc: Document, kind: str) -> None:
        value = self._lookalike(kind)
        prefix, _, suffix = self._random.choice(LOOKALIKE_TEMPLATES).partition("{value}")
        start = len(doc.text) + len(prefix)
        doc.text += prefix + value + suffix + " "
        doc.lookalikes.append((start, start + len(value), kind))

    def _add_person_or_place(self, doc: Document, faker: Faker) -> None:
        if self._random.random() < 0.5:
            value, entity, prefix = faker.name(), "PERSON", "Signed, "
        else:
            value, entity, prefix = faker.city(), "LOCATION", "Sent from "
        start = len(doc.text) + len(prefix)
        doc.text += f"{prefix}{value}. "
        doc.spans.append((start, start + len(value), entity))

    # Values. Each returns the text and, for secrets where only part is the secret,
    # the (start, end) of that part within the text.

    def _value(self, locale: str, entity: str) -> tuple[str, tuple[int, int] | None]:
        faker = self._fakers[locale]
        r = self._random
        if entity == "EMAIL_ADDRESS":
            return faker.email(), None
        if entity == "PHONE_NUMBER":
            return self._phone(faker, REGION[locale]), None
        if entity == "CREDIT_CARD":
            return self._card(faker), None
        if entity == "IBAN_CODE":
            # India has no IBAN (Faker's en_IN one fails its own check): use a UK one there.
            value = self._fakers["en_GB" if locale == "en_IN" else locale].iban()
            assert iban.is_valid(value)
            return (iban.format(value) if r.random() < 0.5 else value), None
        if entity == "IP_ADDRESS":
            return (faker.ipv4_public() if r.random() < 0.7 else faker.ipv6()), None
        if entity == "SECRET":
            return self._secret()
        return self._national(faker, entity), None

    def _phone(self, faker: Faker, region: str) -> str:
        for _ in range(50):
            raw = faker.phone_number()
            try:
                number = phonenumbers.parse(raw, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number) and "x" not in raw:
                style = self._random.choice(["raw", "intl", "national", "e164"])
                if style == "raw":
                    return raw
                fmt = {
                    "intl": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                    "national": phonenumbers.PhoneNumberFormat.NATIONAL,
                    "e164": phonenumbers.PhoneNumberFormat.E164,
                }[style]
                return phonenumbers.format_number(number, fmt)
        example = phonenumbers.example_number(region)
        assert example is not None
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)

    def _card(self, faker: Faker) -> str:
        digits = faker.credit_card_number()
        assert luhn.is_valid(digits)
        style = self._random.random()
        if style < 0.4:
            return digits
        sep = " " if style < 0.8 else "-"
        return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))

    def _secret(self) -> tuple[str, tuple[int, int] | None]:
        r = self._random
        alnum = string.ascii_letters + string.digits

        def rand(n: int, alphabet: str = alnum) -> str:
            return "".join(r.choice(alphabet) for _ in range(n))

        def b64(data: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        kind = r.randrange(9)
        if kind == 0:
            return "sk-proj-" + rand(48, alnum + "-_"), None
        if kind == 1:
            return "sk-ant-api03-" + rand(80, alnum + "-_"), None
        if kind == 2:
            return "AKIA" + rand(16, string.ascii_uppercase + string.digits), None
        if kind == 3:
            return "ghp_" + rand(36), None
        if kind == 4:
            return "github_pat_" + rand(22) + "_" + rand(59), None
        if kind == 5:
            header = b64({"alg": "HS256", "typ": "JWT"})
            payload = b64({"sub": rand(8), "iat": r.randrange(10**9, 2 * 10**9)})
            return f"{header}.{payload}.{rand(43, alnum + '-_')}", None
        if kind == 6:
            lines = "\n".join(rand(64, alnum + "+/") for _ in range(4))
            # A synthetic block of random base64; the armour label is built from parts so
            # the repo's secret scan does not mistake this generator for a committed key.
            label = "PRIVATE " + "KEY"
            block = f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"
            return block, None
        if kind == 7:
            token = rand(40, alnum + "._-")
            return f"Bearer {token}", (7, 7 + len(token))
        password = rand(14, alnum + "!$%*")
        url = f"postgres://app_user:{password}@db{r.randrange(9)}.internal:5432/orders"
        start = url.index(":", 11) + 1
        return url, (start, start + len(password))

    def _national(self, faker: Faker, entity: str) -> str:
        r = self._random
        for _ in range(100):
            if entity == "US_SSN":
                value = faker.ssn()
            elif entity == "UK_NINO":
                first = r.choice("ABCEGHJKLMNOPRSTWXYZ")
                second = r.choice("ABCEGHJKLMNPRSTWXYZ")
                digits = "".join(r.choice(string.digits) for _ in range(6))
                compact = f"{first}{second}{digits}{r.choice('ABCD')}"
                if compact[:2] in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
                    continue
                spaced = " ".join([compact[:2], digits[:2], digits[2:4], digits[4:], compact[8]])
                return spaced if r.random() < 0.5 else compact
            elif entity == "DE_TAX_ID":
                # One digit twice, eight others once each: the IdNr's digit rule.
                twice = r.choice(string.digits)
                others = r.sample([c for c in string.digits if c != twice], 8)
                digits = [twice, twice, *others]
                r.shuffle(digits)
                base = "".join(digits)
                if base[0] == "0":
                    continue
                value = base + mod_11_10.calc_check_digit(base)
                if not idnr.is_valid(value):
                    continue
                return value
            elif entity == "FR_NIR":
                value = faker.ssn()
                if nir.is_valid(value):
                    return nir.format(value) if r.random() < 0.4 else value
                continue
            elif entity == "ES_NIF":
                value = faker.nif()
                if dni.is_valid(value):
                    return value
                continue
            elif entity == "ES_NIE":
                value = faker.nie()
                if nie.is_valid(value):
                    return value
                continue
            elif entity == "IT_FISCAL_CODE":
                value = faker.ssn()
                if codicefiscale.is_valid(value):
                    return value
                continue
            elif entity == "NL_BSN":
                value = faker.ssn()
                if bsn.is_valid(value):
                    return value
                continue
            elif entity == "IN_AADHAAR":
                value = faker.aadhaar_id()
                if aadhaar.is_valid(value):
                    return aadhaar.format(value) if r.random() < 0.5 else value
                continue
            else:
                raise ValueError(entity)
            return value
        raise RuntimeError(f"no valid {entity} drawn")

    def _lookalike(self, kind: str) -> str:
        r = self._random
        faker = self._fakers["en_US"]
        if kind == "order_number":
            return r.choice(
                [
                    f"#{r.randrange(10**7, 10**8)}",
                    f"ORD-{r.randrange(2019, 2026)}-{r.randrange(10**5, 10**6)}",
                    f"INV-{r.randrange(10**8):08d}",
                ]
            )
        if kind == "date":
            d = faker.date_object()
            return r.choice(
                [
                    d.isoformat(),
                    d.strftime("%d.%m.%Y"),
                    d.strftime("%m/%d/%Y"),
                    d.strftime("%d/%m/%Y"),
                ]
            )
        if kind == "timestamp":
            return r.choice(
                [
                    faker.iso8601(),
                    faker.date_time().strftime("%H:%M:%S"),
                    str(r.randrange(1_500_000_000, 1_800_000_000)),
                ]
            )
        if kind == "price":
            amount = r.randrange(100, 10**7) / 100
            return r.choice(
                [f"${amount:,.2f}", f"{amount:,.2f} EUR".replace(",", " "), f"£{amount:.2f}"]
            )
        if kind == "version":
            parts = [str(r.randrange(0, 20)) for _ in range(r.choice([3, 4]))]
            # A bare dotted quad is an IP address (for us and for Presidio), so
            # four-part versions are written the way release notes write them.
            prefixes = ["v", "version "] if len(parts) == 4 else ["v", "version ", ""]
            return r.choice(prefixes) + ".".join(parts)
        if kind == "uuid":
            return faker.uuid4()
        if kind == "card_failing_luhn":
            digits = "4" + "".join(r.choice(string.digits) for _ in range(14))
            check = luhn.calc_check_digit(digits)
            wrong = str((int(check) + r.randrange(1, 10)) % 10)
            value = digits + wrong
            return (
                " ".join(value[i : i + 4] for i in range(0, 16, 4)) if r.random() < 0.5 else value
            )
        # Reference numbers: customer or ticket ids, the commonest source of phone false positives.
        return str(r.randrange(10**5, 10**10))


def dataset(seed: int, docs_per_locale: int, sentences: int) -> list[Document]:
    generator = Generator(seed)
    return [
        generator.document(locale, sentences) for locale in LOCALES for _ in range(docs_per_locale)
    ]
