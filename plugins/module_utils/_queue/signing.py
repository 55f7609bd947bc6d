# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signed job data: an HMAC-SHA256 over a job's data, its queue and its job name, with a secret shared
by the producers (the collection's ``queue: true``, the API) and the workers.

Anyone who can write to the Redis the workers read can add a job; a worker holding a key runs only
jobs signed with one of its keys. The algorithm is docs/QUEUE.md's "Signed jobs" (with the Node.js
code the API uses), so both sides compute the same bytes:

* the message is the canonical JSON of ``{"data": <job data without "signature">, "name": <BullMQ job
  name>, "queue": <queue name>, "v": 1}``: object keys sorted by UTF-16 code units (JavaScript's
  default sort), no whitespace, strings as ``JSON.stringify`` writes them (non-ASCII characters as
  themselves), numbers as JavaScript writes them (``1`` not ``1.0``, ``1e-7`` not ``1e-07``), UTF-8;
* the signature is ``sha256=`` and the lowercase hex HMAC-SHA256 of the message, in the data's
  ``signature`` field.

Keys come from the ``queue_signing_key`` option, else ``SKILLFORGE_<ENV>_QUEUE_SIGNING_KEY``, else
``SKILLFORGE_QUEUE_SIGNING_KEY``: one key or several separated by commas (rotation: the first signs,
every one verifies). No message here ever shows a key or a signature. Nothing here imports Ansible.
"""

from __future__ import annotations

import decimal
import hashlib
import hmac
import math
import os
import re

SIGNATURE_FIELD = "signature"
SIGNATURE_PREFIX = "sha256="
SIGNATURE_PATTERN = re.compile(r"^sha256=[0-9a-f]{64}$")
CANONICAL_VERSION = 1
MIN_KEY_CHARS = 32
KEY_OPTION = "queue_signing_key"
GLOBAL_KEY_VARIABLE = "SKILLFORGE_QUEUE_SIGNING_KEY"
# What a JSON string may hold as is (JSON.stringify escapes '"', '\\' and U+0000-U+001F).
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


class SigningConfigError(ValueError):
    """An unusable signing key setting; the message names where it came from, never the key."""


class SignatureError(ValueError):
    """A job whose signature is missing, malformed or wrong; the message shows neither it nor a key."""


# --- keys ----------------------------------------------------------------------------------------

def key_variable(env: str) -> str:
    """``SKILLFORGE_<ENV>_QUEUE_SIGNING_KEY`` for an environment name such as ``production``."""
    return "SKILLFORGE_%s_QUEUE_SIGNING_KEY" % env.upper().replace("-", "_")


def resolve_signing_keys(option_value=None, env=None, environ=None) -> tuple:
    """``(keys, source)``: the keys (a tuple, empty when none is configured) and where they came from
    (``option``, a variable's name, or None). The first key signs; every key verifies."""
    environ = os.environ if environ is None else environ
    candidates = [("option", option_value)]
    if env:
        candidates.append((key_variable(env), environ.get(key_variable(env))))
    candidates.append((GLOBAL_KEY_VARIABLE, environ.get(GLOBAL_KEY_VARIABLE)))
    for source, value in candidates:
        if value is None or value == "":
            continue
        return parse_keys(value, source), source
    return (), None


def parse_keys(value, source: str = "option") -> tuple:
    """The keys of one setting: comma-separated, each at least ``MIN_KEY_CHARS`` characters without
    whitespace or control characters. Raises SigningConfigError naming the setting, not the key."""
    where = "option %s" % KEY_OPTION if source == "option" else source
    if not isinstance(value, str):
        raise SigningConfigError("%s must be a string of one or more comma-separated keys" % where)
    keys = tuple(key.strip() for key in value.split(","))
    for number, key in enumerate(keys, 1):
        label = "%s: key %d of %d" % (where, number, len(keys))
        if len(key) < MIN_KEY_CHARS:
            raise SigningConfigError("%s is shorter than %d characters (use e.g. `openssl rand -hex 32`)"
                                     % (label, MIN_KEY_CHARS))
        if re.search(r"[\s\x00-\x1f\x7f]", key):
            raise SigningConfigError("%s holds whitespace or control characters" % label)
    return keys


# --- canonical form ------------------------------------------------------------------------------

def _number(value) -> str:
    """A number as JavaScript's Number.prototype.toString writes it (shortest round trip)."""
    if isinstance(value, int):
        if abs(value) > 2 ** 53:
            raise SignatureError("a whole number beyond 2**53 cannot be signed (JavaScript would round it)")
        return str(value)
    if not math.isfinite(value):
        raise SignatureError("NaN and infinity cannot be signed (JSON has no such number)")
    if value == 0:
        return "0"
    sign, digits, exponent = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
    del sign
    digits = "".join(map(str, digits))
    point = len(digits) + exponent  # the decimal point sits after this many digits
    text = None
    if len(digits) <= point <= 21:
        text = digits + "0" * (point - len(digits))
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        text = "%s%se%s%d" % (digits[0], "." + digits[1:] if len(digits) > 1 else "", "+" if power > 0 else "-",
                              abs(power))
    return ("-" if value < 0 else "") + text


def _string(value: str) -> str:
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        raise SignatureError("a string with a lone surrogate cannot be signed")
    return '"%s"' % _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(0), "\\u%04x" % ord(m.group(0))), value)


def canonical_json(value) -> str:
    """``value`` as canonical JSON (the module docstring's rules)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ",".join(canonical_json(item) for item in value)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise SignatureError("object keys must be strings")
        keys = sorted(value, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
        return "{%s}" % ",".join("%s:%s" % (_string(key), canonical_json(value[key])) for key in keys)
    raise SignatureError("a %s cannot be signed (only JSON values can)" % type(value).__name__)


def signed_message(queue: str, name: str, data: dict) -> bytes:
    """The bytes the HMAC is computed over: the job's data (without its signature), queue and name."""
    unsigned = {key: value for key, value in data.items() if key != SIGNATURE_FIELD}
    return canonical_json({"data": unsigned, "name": name, "queue": queue, "v": CANONICAL_VERSION}).encode("utf-8")


# --- sign and verify -----------------------------------------------------------------------------

def signature(key: str, queue: str, name: str, data: dict) -> str:
    digest = hmac.new(key.encode("utf-8"), signed_message(queue, name, data), hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def sign(keys, queue: str, name: str, data: dict) -> dict:
    """The data with its ``signature`` (by the first key); the data unchanged when there is no key."""
    if not keys:
        return data
    return dict(data, **{SIGNATURE_FIELD: signature(keys[0], queue, name, data)})


def verify(keys, queue: str, name: str, data) -> str:
    """Check a job's signature against every key; return ``verified``, or ``unchecked`` when this
    worker has no key (it then runs unsigned and signed jobs alike). Raises SignatureError."""
    if not keys:
        return "unchecked"
    if not isinstance(data, dict) or SIGNATURE_FIELD not in data:
        raise SignatureError("job data is not signed: this worker runs only jobs signed with its %s" % KEY_OPTION)
    given = data[SIGNATURE_FIELD]
    if not isinstance(given, str) or not SIGNATURE_PATTERN.match(given):
        raise SignatureError("job data field signature is malformed: expected sha256= and 64 lowercase hex digits")
    try:
        expected = [signature(key, queue, name, data) for key in keys]
    except SignatureError as error:
        raise SignatureError("job data cannot be verified: %s" % error) from None
    matched = False
    for candidate in expected:  # compare with every key: the time taken does not say which matched
        matched |= hmac.compare_digest(candidate.encode("ascii"), given.encode("ascii"))
    if not matched:
        raise SignatureError("job data signature does not match any of this worker's %s: the data, queue or "
                             "job name was changed after signing, or it was signed with another key" % KEY_OPTION)
    return "verified"
