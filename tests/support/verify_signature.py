#!/usr/bin/env python3
"""Verifies an o2gw webhook signature (X-O2-Signature) independently of o2gw.

    verify_signature.py --key-file KEY [--key-file KEY2 ...] \\
        --header "t=..,kid=..,v1=.." --body-file BODY [--tolerance 300] [--now UNIX]

Each key file is one key of the ring: its name is the key id (kid) and its bytes,
with one trailing newline removed, are the secret. The header's kid picks the key.
Exits 0 and prints "valid ..." when the signature is good, 1 and the reason otherwise.
Python standard library only; webhook_receiver.py imports the functions below.
"""

import argparse
import hashlib
import hmac
import os
import re
import sys
import time

KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,17}")
MAC = re.compile(r"[0-9a-f]{64}")
MIN_SECRET_BYTES = 32


class SignatureError(Exception):
    """Why a signature was rejected."""


def read_key_file(path):
    """(kid, secret) for a key file, following the key-ring rules."""
    kid = os.path.basename(path)
    if not KEY_ID.fullmatch(kid) or kid.startswith("."):
        raise SignatureError(f"key file name {kid!r} is not a valid key id")
    with open(path, "rb") as f:
        secret = f.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]  # exactly one newline, as o2gw does
    if len(secret) < MIN_SECRET_BYTES:
        raise SignatureError(f"key {kid!r} is {len(secret)} bytes, at least {MIN_SECRET_BYTES} are required")
    return kid, secret


def load_key_dir(directory):
    """{kid: secret} for every usable key file in a key-ring directory."""
    keys = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        try:
            kid, secret = read_key_file(path)
        except (SignatureError, OSError):
            continue
        keys[kid] = secret
    return keys


def parse_header(header):
    """{"t", "kid", "v1"} from "t=..,kid=..,v1=..": each field exactly once, any order."""
    fields = {}
    for part in header.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise SignatureError(f"malformed signature header: field {part!r} has no '='")
        if name not in ("t", "kid", "v1"):
            raise SignatureError(f"malformed signature header: unknown field {name!r}")
        if name in fields:
            raise SignatureError(f"malformed signature header: field {name!r} repeated")
        fields[name] = value
    missing = [n for n in ("t", "kid", "v1") if n not in fields]
    if missing:
        raise SignatureError(f"malformed signature header: missing {', '.join(missing)}")
    if not TIMESTAMP.fullmatch(fields["t"]):
        raise SignatureError(f"malformed signature header: t={fields['t']!r} is not a unix time in seconds")
    if not KEY_ID.fullmatch(fields["kid"]):
        raise SignatureError(f"malformed signature header: kid={fields['kid']!r} is not a valid key id")
    if not MAC.fullmatch(fields["v1"]):
        raise SignatureError("malformed signature header: v1 is not 64 lower-case hex digits")
    return fields


def verify(header, body, keys, tolerance=300, now=None):
    """Returns the kid that signed `body` (bytes); raises SignatureError otherwise."""
    if header is None or header == "":
        raise SignatureError("missing X-O2-Signature header")
    fields = parse_header(header)
    now = int(time.time()) if now is None else int(now)
    age = now - int(fields["t"])
    if abs(age) > tolerance:
        raise SignatureError(f"timestamp t={fields['t']} is {age} s from now (tolerance {tolerance} s)")
    secret = keys.get(fields["kid"])
    if secret is None:
        raise SignatureError(f"unknown kid {fields['kid']!r}")
    # The signed text is "<t>." followed by the raw body bytes, exactly as received.
    signed = fields["t"].encode("ascii") + b"." + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["v1"]):
        raise SignatureError(f"signature mismatch for kid {fields['kid']!r}")
    return fields["kid"]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify an o2gw X-O2-Signature header.")
    parser.add_argument("--key-file", action="append", required=True,
                        help="a key file; its name is the kid (repeat for several keys)")
    parser.add_argument("--header", required=True, help='the X-O2-Signature value, "t=..,kid=..,v1=.."')
    parser.add_argument("--body-file", required=True, help="the request body, byte for byte")
    parser.add_argument("--tolerance", type=int, default=300, help="seconds the timestamp may be off (300)")
    parser.add_argument("--now", type=int, default=None, help="unix time to check against (default: the clock)")
    args = parser.parse_args(argv)
    try:
        keys = dict(read_key_file(path) for path in args.key_file)
        with open(args.body_file, "rb") as f:
            body = f.read()
        kid = verify(args.header, body, keys, args.tolerance, args.now)
    except SignatureError as e:
        print(f"invalid: {e}")
        return 1
    except OSError as e:
        print(f"invalid: {e}")
        return 1
    print(f"valid (kid {kid})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
