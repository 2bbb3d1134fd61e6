#!/usr/bin/python3
"""acmeproxy: loopback HTTPS "extension layer" in front of Debian's Pebble 2.4.0.

Pebble 2.4.0 has no certificate profiles, no ARI (RFC 9773) and no
`replaces`.  This proxy sits between acmed and the real Pebble, forwards every
ACME request unchanged and adds those features on top, modelled on newest
Pebble and on Boulder (see /work/shared/SPEC-NOTES.md sections 1, 2 and 4).
It can also inject faults (synthetic errors, resets, stalls, truncated or junk
bodies) into any kind of request.

Why forwarding is trivial: Pebble builds every URL it hands out, and checks
the JWS "url" header, from the request's Host header.  The proxy forwards each
request with the Host header the client sent (the proxy's own address), so all
URLs Pebble generates already point at the proxy and the signatures stay valid.
Only stdlib and Debian's python3-cryptography are used.

Usage:
  acmeproxy.py --listen 127.0.0.1:14443 --control 127.0.0.1:14480 \\
      --upstream https://127.0.0.1:14000 --cert DIR/cert.pem --key DIR/key.pem \\
      --ca DIR/ca.pem [--pidfile F]

Request kinds (for the log and for injection rules), by path:
  directory (/dir)         nonce (/nonce-plz)        newAccount (/sign-me-up)
  newOrder (/order-plz)    order (/my-order/)        authz (/authZ/)
  challenge (/chalZ/)      finalize (/finalize-order/)   cert (/certZ/)
  renewalInfo (/draft-ietf-acme-ari-03/renewalInfo/<certID>)
  other (everything else: /my-account/, /revoke-cert, /rollover-account-key...)
The newNonce/newAccount/newOrder paths are re-read from Pebble's directory at
start-up.

Extensions over Pebble 2.4.0:
  * Directory: meta.profiles (settable, or absent) and renewalInfo (ARI,
    can be switched off).
  * newOrder: "profile" is checked against the offered set (400 invalidProfile,
    not forwarded); a 201 order gets "profile" according to the profile mode:
      echo     echo the requested profile; none requested -> a random offered
               one (Pebble >= 2.7)                                  [default]
      omit     echo the requested one; none requested -> no key (Boulder)
      mismatch a different offered profile than the one requested
    Later fetches of the order and the finalize answer carry the same profile.
    With profiles = null the proxy behaves like Pebble 2.4.0: nothing is
    checked or added (the unknown field is silently ignored by Pebble).
  * replaces (only while ARI is on): reflected in the order; a certID that was
    already replaced by a successfully finalized order gets 409 alreadyReplaced
    (switch off with POST /replaces {"enforce": false}).
  * ARI: GET <renewalInfo>/<certID>.  Answer, first match wins:
      1. a /renewal-info override for that certID (or that serial);
      2. a /renewal-window override for that serial;
      3. a certificate the proxy saw being downloaded: 200, window
         [notAfter - lifetime/3 - 1h, notAfter - lifetime/3 + 1h],
         Retry-After: 21600;
      4. 404 malformed.
    Padded or malformed certIDs get 400 malformed; POST gets 405.

Control API (plain HTTP, JSON bodies, on --control):
  POST /reset [{"all": true}]   clear log, injections and overrides, restore
                                 defaults; with "all" also forget the seen
                                 certificates, orders and replaced certIDs.
  POST /profiles {"profiles": {name: description, ...} | null}
  POST /order-profile-mode {"mode": "echo" | "omit" | "mismatch"}
  POST /ari {"enabled": bool}
  POST /replaces {"enforce": bool, "reject_unknown": bool}
        enforce: 409 alreadyReplaced for already replaced certIDs (default on);
        reject_unknown: 404 malformed for certIDs the proxy never saw (off).
  POST /renewal-info {"certID": "..." | "serial": "hex", "status": 200,
        "body": "raw text (any JSON value is serialized)", "retry_after": "...",
        "content_type": "application/json"}
  POST /renewal-window {"serial": "hex", "start": RFC3339, "end": RFC3339,
        "explanationURL": "..." (optional), "retry_after": "21600" (optional)}
  POST /inject {"rules": [RULE, ...]}          (appends to the fault queue)
  GET  /log[?kind=K]    [{time, kind, method, path, status, payload,
                          raw_payload, protected, headers, injected,
                          problem, retry_after, names}, ...]
        status: what the client got (null: connection reset); payload: the
        decoded JWS payload (null for POST-as-GET, whose raw_payload is "");
        headers: the request's Accept, Content-Type, User-Agent; injected:
        the rule's action or status, if one fired; problem: the "type" of a
        problem+json answer; retry_after: the Retry-After header of the
        answer, if any; names: the sorted identifiers of the order (or
        certificate) the request belongs to, when known: from the newOrder
        payload, then inherited by every URL in the answers about it
        (authorizations, challenges, finalize, certificate; renewalInfo by
        certID); null for directory, nonce, account and unknown URLs.
        A TLS handshake spoiled by a "badtls" rule is logged with kind "tls"
        and method, path and status null.
  GET  /certs           [{serial, certID, not_before, not_after, names}, ...]
  GET  /injections      the pending rules
  GET  /state           settings, orders and replaced certIDs

Injection RULE:
  {"match": KIND | "any", "count": N (default 1; < 0 = forever),
   "skip": K (let the first K matching requests through first, default 0),
   "method": "POST" (optional), "has": "replaces" (optional: only requests
   whose JWS payload has this key), and then either
     "status": 503, "body": "..." | {...}, "content_type": "...",
     "retry_after": "...", "headers": {...}         a synthetic answer
   or
     "action": "reset"            close the TCP connection (RST), no answer
               "reset_after"      forward to Pebble, then reset (answer lost)
               "stall"            sleep "seconds" (default 5), then as usual
               "truncate"         forward, send half the body with the full
                                  Content-Length, then close
               "nonjson"          200 text/html junk
               "huge"             200 with a 10 MiB JSON-ish body ("size")
               "wrongtype"        forward, then replace the answer's
                                  Content-Type ("content_type", default
                                  "text/html; charset=utf-8")
               "alreadyReplaced"  409 alreadyReplaced problem
               "invalidProfile"   400 invalidProfile problem
               "rewrite"          forward, then change Pebble's answer (below)
               "forge"            forward a cert request, then replace the
                                  chain with a forged one (below)}
  Synthetic answers to JWS POSTs always carry a fresh Replay-Nonce (taken from
  Pebble with HEAD /nonce-plz).

  "rewrite" (a hostile CA): Pebble answers as usual, then, in this order,
    "patch": [OP, ...]  on a JSON body (skipped for non-JSON), each OP one of
        {"op": "add" | "replace", "path": PTR, "value": V}   (path "" = all)
        {"op": "remove", "path": PTR}
        {"op": "sub", "path": PTR, "pattern": RE, "repl": S}  (re.sub on a
                                                  string value, count 1)
      PTR is an RFC 6901 JSON pointer ("/authorizations/0").
    "body": "raw text"      replace the body (after the patch, if both)
    "new_status": N         replace the status code
    "content_type": "..."   replace Content-Type
    "headers": {NAME: VALUE | null}   set (or with null drop) a header
    "header_sub": {NAME: [RE, S]}     re.sub on a header Pebble sent
  In every string value above "{origin}" stands for https://HOST (the
  address the client used) and "{orig}" for the value being replaced.

  "forge" (certificates): parse Pebble's chain, then answer with
    "forge": "wrong_key"     leaf for a fresh key, signed by the intermediate
             "extra_name"    leaf with one more SAN ("extra_name", default
                             extra.example.org), same key, signed
             "missing_name"  leaf without its last SAN, same key, signed
             "nul_name"      leaf whose last SAN gets "\\0.evil.example"
                             appended (a NUL inside the name), signed
             "expired"       leaf valid from 10 days ago to 1 day ago
             "bad_signature" leaf signed by a self-made key, chain unchanged
             "private_key"   the real chain plus a PRIVATE KEY block
             "junk"          the real leaf plus a CERTIFICATE block of junk
  "issuer_key": PATH (PEM) is the intermediate's key, needed by the kinds
  that sign (Pebble's management API: GET /intermediate-keys/0).

  Connection-level rule: {"match": "tls", "action": "badtls", "count": N,
  "skip": K}: the next N new TLS connections (after K) are served a
  self-signed certificate for the same names, which no client trusts.  Only
  a "tls" rule matches a handshake, and it matches nothing else.
"""

import argparse
import base64
import datetime
import http.client
import http.server
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ERR = "urn:ietf:params:acme:error:"
ARI_PATH = "/draft-ietf-acme-ari-03/renewalInfo"
DEFAULT_PROFILES = {
    "classic": "The classic profile",
    "shortlived": "6-day certificates",
    "tlsserver": "TLS server certificates",
}
PROFILE_MODES = ("echo", "omit", "mismatch")
KINDS = ("directory", "nonce", "newAccount", "newOrder", "order", "authz",
         "challenge", "finalize", "cert", "renewalInfo", "other")
ACTIONS = ("reset", "reset_after", "stall", "truncate", "nonjson", "huge",
           "alreadyReplaced", "invalidProfile", "rewrite", "forge", "wrongtype",
           "badtls")
FORGE_KINDS = ("wrong_key", "extra_name", "missing_name", "expired",
               "bad_signature", "private_key", "junk", "nul_name")
WRONG_TYPE = "text/html; charset=utf-8"
DEFAULT_RETRY_AFTER = "21600"
# Response headers never relayed from Pebble (hop-by-hop, or set by us).
SKIP_RESPONSE_HEADERS = {"connection", "keep-alive", "transfer-encoding",
                         "content-length", "date", "server", "te", "trailer",
                         "upgrade", "proxy-authenticate"}
# Request headers passed on to Pebble (Host is always set explicitly).
FORWARD_REQUEST_HEADERS = ("Content-Type", "Accept", "User-Agent",
                           "Accept-Language")
CERTID_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def log(msg):
    sys.stderr.write("acmeproxy: %s\n" % msg)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Encoding helpers

def b64u_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    """base64url without padding -> bytes; ValueError on bad input."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def serial_octets(serial):
    """DER INTEGER content octets of a positive serial (0x00 sign byte kept)."""
    return serial.to_bytes((serial.bit_length() + 8) // 8, "big")


def make_cert_id(aki, serial):
    """RFC 9773 certID: b64url(AKI keyIdentifier) "." b64url(serial octets)."""
    return b64u_encode(aki) + "." + b64u_encode(serial_octets(serial))


def norm_serial(text):
    """Serial as lower-case hex without colons, "0x" or leading zeros."""
    s = str(text).strip().lower().replace(":", "")
    if s.startswith("serial="):
        s = s[len("serial="):]
    if s.startswith("0x"):
        s = s[2:]
    if not re.fullmatch(r"[0-9a-f]+", s):
        raise ValueError("serial %r is not hex" % text)
    return s.lstrip("0") or "0"


def serial_of_cert_id(cert_id):
    """Hex serial encoded in the second half of a certID, or None."""
    try:
        raw = b64u_decode(cert_id.split(".", 1)[1])
    except (ValueError, IndexError):
        return None
    if not raw:
        return None
    return "%x" % int.from_bytes(raw, "big")


def rfc3339(dt):
    """UTC timestamp with millisecond fraction and "Z" (like Pebble >= 2.8)."""
    dt = dt.astimezone(datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def problem(ptype, detail, status):
    """RFC 7807 problem document as bytes."""
    return json.dumps({"type": ERR + ptype, "detail": detail,
                       "status": status}, indent=3).encode()


def problem_type(r):
    """The "type" of a problem+json answer (Response r), else None."""
    if r.reset_after or "problem+json" not in (r.header("Content-Type") or ""):
        return None
    try:
        return json.loads(r.body).get("type")
    except (ValueError, AttributeError):
        return None


def decode_jws(body):
    """Flattened JWS -> (payload dict/None, raw payload text/None, protected/None)."""
    try:
        jws = json.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(jws, dict):
        return None, None, None
    payload = raw = protected = None
    try:
        protected = json.loads(b64u_decode(jws.get("protected", "")))
    except (ValueError, TypeError, AttributeError):
        pass
    if isinstance(jws.get("payload"), str):
        try:
            raw = b64u_decode(jws["payload"]).decode("utf-8", "replace")
        except ValueError:
            raw = None
        if raw:  # "" is POST-as-GET: no payload object
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
    return payload, raw, protected


def cert_info(pem):
    """First certificate of a PEM chain -> dict for the seen-certificate table."""
    cert = x509.load_pem_x509_certificate(pem)
    aki = cert.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value.key_identifier
    names = []
    try:
        san = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName) + \
            [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    nb = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    na = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return {"serial": "%x" % cert.serial_number,
            "certID": make_cert_id(aki, cert.serial_number),
            "not_before": rfc3339(nb), "not_after": rfc3339(na),
            "names": names, "_nb": nb, "_na": na}


def untrusted_context(cert_path):
    """Server TLS context with a fresh self-signed certificate carrying the
    SANs of cert_path: right names, but no client trusts its issuer."""
    with open(cert_path, "rb") as f:
        real = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acmeproxy untrusted")])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30)))
    try:
        b = b.add_extension(real.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value, critical=False)
    except x509.ExtensionNotFound:
        pass
    cert = b.sign(key, hashes.SHA256())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as d:
        cpath, kpath = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        with open(cpath, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(kpath, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        ctx.load_cert_chain(cpath, kpath)
    return ctx


# --------------------------------------------------------------------------
# A hostile CA: rewritten answers and forged certificates

def expand(value, origin, orig):
    """"{origin}" and "{orig}" in strings (recursively), else value as is."""
    if isinstance(value, str):
        return value.replace("{origin}", origin).replace(
            "{orig}", orig if isinstance(orig, str) else json.dumps(orig))
    if isinstance(value, list):
        return [expand(v, origin, orig) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, origin, orig) for k, v in value.items()}
    return value


def pointer_parent(doc, ptr):
    """(container, key) for an RFC 6901 pointer; KeyError/IndexError if absent."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    key = parts[-1]
    if isinstance(cur, list):
        key = len(cur) if key == "-" else int(key)
    return cur, key


def apply_patch(doc, ops, origin):
    """The document after the patch ops (see the docstring)."""
    for op in ops:
        if op["path"] == "":
            doc = expand(op.get("value"), origin, doc)
            continue
        parent, key = pointer_parent(doc, op["path"])
        exists = (key < len(parent)) if isinstance(parent, list) else key in parent
        orig = parent[key] if exists else None
        if op["op"] == "remove":
            del parent[key]
        elif op["op"] == "sub":
            parent[key] = re.sub(op["pattern"], expand(op["repl"], origin, orig),
                                 orig, count=1)
        elif op["op"] == "add" and isinstance(parent, list):
            parent.insert(key, expand(op.get("value"), origin, orig))
        else:
            parent[key] = expand(op.get("value"), origin, orig)
    return doc


def rewrite(r, rule, origin):
    """Change a forwarded Response r as a "rewrite" rule says."""
    if rule.get("patch"):
        try:
            doc = json.loads(r.body)
        except ValueError:
            doc = None
        if doc is not None:
            try:
                doc = apply_patch(doc, rule["patch"], origin)
                r.body = json.dumps(doc, indent=3).encode()
            except (KeyError, IndexError, ValueError, TypeError) as e:
                log("rewrite: patch does not apply: %s" % e)
    if rule.get("body") is not None:
        body = rule["body"]
        if not isinstance(body, str):
            body = json.dumps(body)
        r.body = expand(body, origin, r.body.decode("utf-8", "replace")).encode(
            "utf-8", "surrogateescape")
    if rule.get("new_status") is not None:
        r.status = int(rule["new_status"])
    if rule.get("content_type") is not None:
        r.set_header("Content-Type", rule["content_type"])
    for name, value in rule.get("headers", {}).items():
        orig = r.header(name)
        r.headers = [(k, v) for k, v in r.headers if k.lower() != name.lower()]
        if value is not None:
            r.headers.append((name, expand(str(value), origin, orig or "")))
    for name, (pattern, repl) in rule.get("header_sub", {}).items():
        orig = r.header(name)
        if orig is not None:
            r.set_header(name, re.sub(pattern, expand(repl, origin, orig), orig,
                                      count=1))


def forge(r, rule):
    """Replace the chain in Response r as a "forge" rule says."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = serialization.Encoding.PEM
    # (load_pem_x509_certificates needs cryptography >= 39; Debian 12 has 38)
    certs = [x509.load_pem_x509_certificate(m.group(0)) for m in re.finditer(
        rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", r.body,
        re.S)]
    leaf, rest = certs[0], certs[1:]
    kind = rule["forge"]
    tail = b"".join(c.public_bytes(pem) for c in rest)
    if kind == "private_key":
        k = ec.generate_private_key(ec.SECP256R1())
        r.body = leaf.public_bytes(pem) + k.private_bytes(
            pem, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()) + tail
        return
    if kind == "junk":
        r.body = (leaf.public_bytes(pem) + b"-----BEGIN CERTIFICATE-----\n" +
                  base64.encodebytes(b"this is not DER at all; " * 8) +
                  b"-----END CERTIFICATE-----\n")
        return
    with open(rule["issuer_key"], "rb") as f:
        signer = serialization.load_pem_private_key(f.read(), None)
    pub = leaf.public_key()
    nb, na = leaf.not_valid_before, leaf.not_valid_after
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = list(san)
    if kind == "wrong_key":
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    elif kind == "extra_name":
        names.append(x509.DNSName(rule.get("extra_name", "extra.example.org")))
    elif kind == "missing_name":
        names = names[:-1] or [x509.DNSName("other.example.org")]
    elif kind == "nul_name":
        names[-1] = x509.DNSName(names[-1].value + "\x00.evil.example")
    elif kind == "expired":
        now = datetime.datetime.utcnow()
        nb, na = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
    elif kind == "bad_signature":
        signer = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(leaf.subject)
         .issuer_name(leaf.issuer).public_key(pub)
         .serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na))
    for ext in leaf.extensions:
        if isinstance(ext.value, x509.SubjectAlternativeName):
            b = b.add_extension(x509.SubjectAlternativeName(names), ext.critical)
        elif isinstance(ext.value, x509.SubjectKeyIdentifier):
            b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub),
                                ext.critical)
        elif isinstance(ext.value, (x509.AuthorityKeyIdentifier, x509.KeyUsage,
                                    x509.ExtendedKeyUsage, x509.BasicConstraints)):
            b = b.add_extension(ext.value, ext.critical)
    r.body = b.sign(signer, hashes.SHA256()).public_bytes(pem) + tail


# --------------------------------------------------------------------------
# Shared state (one lock; everything the control API can change)

class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.certs = {}      # certID -> cert_info()
        self.orders = {}     # order id -> {"profile": str|None, "replaces": str|None}
        self.replaced = {}   # certID -> id of the finalized order that replaced it
        self.owners = {}     # URL path -> sorted identifiers it belongs to
        self.reset(everything=False)

    def reset(self, everything):
        """Back to defaults. Caller holds the lock (or we are in __init__)."""
        self.profiles = dict(DEFAULT_PROFILES)
        self.profile_mode = "echo"
        self.ari_enabled = True
        self.replaces_enforce = True
        self.replaces_reject_unknown = False
        self.renewal_info = {}   # ("certID"|"serial", key) -> override
        self.windows = {}        # serial hex -> window override
        self.rules = []
        self.log = []
        if everything:
            self.certs.clear()
            self.orders.clear()
            self.replaced.clear()
            self.owners.clear()

    def take_rule(self, kind, method, payload):
        """The first pending rule matching this request (consumed), or None."""
        with self.lock:
            for rule in self.rules:
                if rule["match"] != kind and (rule["match"] != "any" or kind == "tls"):
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("has") and not (isinstance(payload, dict)
                                            and rule["has"] in payload):
                    continue
                if rule.get("skip", 0) > 0:
                    rule["skip"] -= 1
                    continue
                if rule["count"] > 0:
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self.rules.remove(rule)
                return dict(rule)
        return None


def validate_rule(rule):
    """Normalized copy of an injection rule; ValueError when it is invalid."""
    if not isinstance(rule, dict):
        raise ValueError("a rule must be an object")
    r = dict(rule)
    if r.get("match") not in KINDS + ("any", "tls"):
        raise ValueError("match must be one of %s, any or tls" % ", ".join(KINDS))
    if (r["match"] == "tls") != (r.get("action") == "badtls"):
        raise ValueError('"badtls" goes with match "tls", and only it')
    r["count"] = int(r.get("count", 1))
    r["skip"] = int(r.get("skip", 0))
    if r["count"] == 0:
        raise ValueError("count 0 would never fire (use < 0 for forever)")
    if ("status" in r) == ("action" in r):
        raise ValueError("a rule needs exactly one of status or action")
    if "status" in r:
        r["status"] = int(r["status"])
        if not 100 <= r["status"] <= 599:
            raise ValueError("bad status")
    elif r["action"] not in ACTIONS:
        raise ValueError("action must be one of " + ", ".join(ACTIONS))
    if r.get("action") == "stall":
        r["seconds"] = float(r.get("seconds", 5))
    if "headers" in r and not isinstance(r["headers"], dict):
        raise ValueError("headers must be an object")
    if r.get("action") == "rewrite":
        for op in r.get("patch", []):
            if not isinstance(op, dict) or op.get("op") not in (
                    "add", "replace", "remove", "sub") or \
                    not isinstance(op.get("path"), str):
                raise ValueError("bad patch op %r" % (op,))
        if not isinstance(r.get("header_sub", {}), dict):
            raise ValueError("header_sub must be an object")
    if r.get("action") == "forge":
        if r.get("forge") not in FORGE_KINDS:
            raise ValueError("forge must be one of " + ", ".join(FORGE_KINDS))
        if r["forge"] not in ("private_key", "junk") and not r.get("issuer_key"):
            raise ValueError("forge %s needs issuer_key" % r["forge"])
    return r


def classify(path, paths):
    """Request kind of a URL path (see the module docstring)."""
    if path == "/dir":
        return "directory"
    for kind in ("nonce", "newAccount", "newOrder"):
        if path == paths[kind]:
            return kind
    if path == ARI_PATH or path.startswith(ARI_PATH + "/"):
        return "renewalInfo"
    for prefix, kind in (("/my-order/", "order"), ("/authZ/", "authz"),
                         ("/chalZ/", "challenge"),
                         ("/finalize-order/", "finalize"),
                         ("/certZ/", "cert")):
        if path.startswith(prefix):
            return kind
    return "other"


def order_id(path):
    """Order id from /my-order/ID or /finalize-order/ID (same id in Pebble)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------
# The HTTPS proxy

class Response:
    """An answer to send: status, header list, body, and how to end it."""

    def __init__(self, status, headers=None, body=b""):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.truncate = False     # send half the body, then close
        self.reset_after = False  # do not answer at all: RST after forwarding
        self.head_length = None   # Content-Length to announce for HEAD

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers
                        if k.lower() != name.lower()]
        self.headers.append((name, value))

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, tls_ctx, bad_tls_ctx, upstream, up_ctx, state):
        super().__init__(addr, ProxyHandler)
        self.tls_ctx = tls_ctx      # server-side TLS (handshake in the thread)
        self.bad_tls_ctx = bad_tls_ctx  # untrusted certificate ("badtls")
        self.upstream = upstream    # (host, port)
        self.up_ctx = up_ctx        # client-side TLS, trusts --ca
        self.state = state
        self.paths = {"nonce": "/nonce-plz", "newAccount": "/sign-me-up",
                      "newOrder": "/order-plz"}

    def handle_error(self, request, client_address):
        log("connection from %s:%d failed: %s" % (client_address[:2] + (sys.exc_info()[1],)))

    def learn_paths(self, stop):
        """Read newNonce/newAccount/newOrder paths from Pebble's directory."""
        for _ in range(50):
            if stop.is_set():
                return
            try:
                status, _, body = upstream_request(self, "GET", "/dir", None,
                                                   {"Host": "%s:%d" % self.upstream})
                if status == 200:
                    d = json.loads(body)
                    for kind, key in (("nonce", "newNonce"),
                                      ("newAccount", "newAccount"),
                                      ("newOrder", "newOrder")):
                        if key in d:
                            self.paths[kind] = urllib.parse.urlsplit(d[key]).path
                    log("upstream paths: %s" % self.paths)
                    return
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        log("WARNING: cannot read the upstream directory; using Pebble 2.4.0 paths")


def upstream_request(server, method, path, body, headers):
    """One request to Pebble -> (status, [(name, value)], body). Raises OSError."""
    host, port = server.upstream
    conn = http.client.HTTPSConnection(host, port, context=server.up_ctx,
                                       timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheaders(), data
    finally:
        conn.close()


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "acmeproxy"
    sys_version = ""

    def version_string(self):
        return self.server_version
    timeout = 120  # idle keep-alive connections

    # TLS handshake here, in the connection's thread, not in the accept loop.
    def setup(self):
        st = self.server.state
        ctx = self.server.tls_ctx
        self.request.settimeout(30)
        # Headers and body go out in separate writes: without this, Nagle
        # holds the body until the client's delayed ACK (~40 ms a request).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if st.take_rule("tls", None, None):
            ctx = self.server.bad_tls_ctx
            with st.lock:
                st.log.append({"time": time.time(), "kind": "tls", "method": None,
                               "path": None, "status": None, "payload": None,
                               "raw_payload": None, "protected": None,
                               "headers": {}, "injected": "badtls",
                               "problem": None, "retry_after": None,
                               "names": None})
            log("TLS handshake with the untrusted certificate (injected badtls)")
        self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            try:
                self.request.close()
            except OSError:
                pass

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout) as e:
            log("connection error: %s" % e)

    def log_message(self, fmt, *args):
        pass  # we log one line per request ourselves

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = lambda self: self.proxy()

    # -- request plumbing ---------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def host(self):
        return self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]

    def fresh_nonce(self):
        """A new Pebble nonce (HEAD newNonce), or None."""
        try:
            _, headers, _ = upstream_request(
                self.server, "HEAD", self.server.paths["nonce"], None,
                {"Host": self.host()})
        except (OSError, http.client.HTTPException) as e:
            log("cannot fetch a nonce: %s" % e)
            return None
        for k, v in headers:
            if k.lower() == "replay-nonce":
                return v
        return None

    def synthetic(self, status, body, content_type, jws_post):
        """A locally generated answer; JWS POSTs get a fresh nonce + index link."""
        r = Response(status, [("Content-Type", content_type)], body)
        if jws_post:
            nonce = self.fresh_nonce()
            if nonce:
                r.set_header("Replay-Nonce", nonce)
            r.headers.append(("Link", '<https://%s/dir>;rel="index"' % self.host()))
        return r

    def forward(self, body):
        headers = {"Host": self.host()}
        for name in FORWARD_REQUEST_HEADERS:
            if self.headers.get(name) is not None:
                headers[name] = self.headers[name]
        try:
            status, up_headers, data = upstream_request(
                self.server, self.command, self.path,
                body if (body or self.command in ("POST", "PUT")) else None,
                headers)
        except (OSError, http.client.HTTPException) as e:
            log("upstream error: %s" % e)
            return Response(502, [("Content-Type", "application/problem+json")],
                            problem("serverInternal", "acmeproxy: upstream: %s" % e, 502))
        keep = [(k, v) for k, v in up_headers
                if k.lower() not in SKIP_RESPONSE_HEADERS]
        r = Response(status, keep, data)
        if self.command == "HEAD":
            r.head_length = dict((k.lower(), v) for k, v in up_headers).get(
                "content-length")
        return r

    def send(self, r):
        """Write Response r (honouring truncate / reset_after)."""
        if r.reset_after:
            self.reset_connection()
            return
        self.send_response(r.status)
        for k, v in r.headers:
            self.send_header(k, v)
        if self.command == "HEAD":
            if r.head_length is not None:
                self.send_header("Content-Length", r.head_length)
        elif r.status not in (204, 304):
            self.send_header("Content-Length", str(len(r.body)))
        if r.truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and r.status not in (204, 304):
            self.wfile.write(r.body[:len(r.body) // 2] if r.truncate else r.body)
        self.wfile.flush()

    def reset_connection(self):
        """Close the TCP connection abruptly (RST), without any answer."""
        self.close_connection = True
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
            self.rfile.close()
            self.request.close()
        except OSError:
            pass

    # -- main dispatcher ----------------------------------------------------

    def proxy(self):
        st = self.server.state
        start = time.time()
        body = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        kind = classify(path, self.server.paths)
        method = self.command
        jws_post = method == "POST" and kind != "renewalInfo"
        payload = raw = protected = None
        if jws_post:
            payload, raw, protected = decode_jws(body)
        entry = {"time": start, "kind": kind, "method": method,
                 "path": self.path, "status": None, "payload": payload,
                 "raw_payload": raw, "protected": protected,
                 "headers": {h: self.headers[h] for h in
                             ("Accept", "Content-Type", "User-Agent")
                             if self.headers.get(h) is not None},
                 "injected": None, "problem": None, "retry_after": None,
                 "names": self.names_for(kind, path, payload)}
        with st.lock:
            st.log.append(entry)

        r = None
        rule = st.take_rule(kind, method, payload)
        if rule:
            entry["injected"] = rule.get("action") or rule["status"]
            r = self.apply_rule(rule, jws_post)
        if r is None and kind == "renewalInfo" and st.ari_enabled:
            r = self.renewal_info(path)
        if r is None and kind == "newOrder" and method == "POST":
            r = self.check_new_order(payload)
        if r is None:
            r = self.forward(body)
            self.postprocess(kind, path, payload, r)
            self.learn_owners(entry["names"], r)
        if rule and rule.get("action") == "rewrite":
            rewrite(r, rule, "https://" + self.host())
        if rule and rule.get("action") == "forge" and r.status == 200:
            try:
                forge(r, rule)
            except (ValueError, OSError, x509.ExtensionNotFound) as e:
                log("forge %s failed, answer left as is: %s" % (rule["forge"], e))
        # These spoil whatever answer was produced (Pebble's or ours).
        if rule and rule.get("action") == "truncate":
            r.truncate = True
        if rule and rule.get("action") == "reset_after":
            r.reset_after = True
        if rule and rule.get("action") == "wrongtype":
            r.set_header("Content-Type", rule.get("content_type") or WRONG_TYPE)

        entry["status"] = None if r.reset_after else r.status
        entry["problem"] = problem_type(r)
        entry["retry_after"] = None if r.reset_after else r.header("Retry-After")
        log("%s %s [%s] -> %s%s" % (method, self.path, kind,
                                    entry["status"] or "reset",
                                    " (injected %s)" % entry["injected"]
                                    if entry["injected"] is not None else ""))
        self.send(r)

    def apply_rule(self, rule, jws_post):
        """Response for an injection rule, or None to go on normally."""
        action = rule.get("action")
        if action is None:
            body = rule.get("body")
            if body is None:
                st = rule["status"]
                body = problem("rateLimited" if st == 429 else
                               "serverInternal" if st >= 500 else "malformed",
                               "acmeproxy: injected %d" % st, st) if st >= 400 else b"{}"
            elif not isinstance(body, str):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            ctype = rule.get("content_type") or (
                "application/problem+json" if rule["status"] >= 400
                else "application/json")
            r = self.synthetic(rule["status"], body, ctype, jws_post)
            if rule.get("retry_after") is not None:
                r.set_header("Retry-After", str(rule["retry_after"]))
            for k, v in rule.get("headers", {}).items():
                r.headers.append((k, str(v)))
            return r
        if action == "reset":
            r = Response(0)
            r.reset_after = True
            return r
        if action == "stall":
            time.sleep(rule["seconds"])
            return None
        if action in ("truncate", "reset_after", "rewrite", "forge", "wrongtype"):
            return None  # handled after forwarding
        if action == "nonjson":
            return self.synthetic(
                200, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>\n",
                "text/html", jws_post)
        if action == "huge":
            size = int(rule.get("size", 10 * 1024 * 1024))
            junk = b'{"junk":"' + b"A" * max(size - 12, 0) + b'"}\n'
            return self.synthetic(200, junk, "application/json", jws_post)
        if action == "alreadyReplaced":
            return self.synthetic(
                409, problem("alreadyReplaced",
                             "acmeproxy: the certificate has already been replaced", 409),
                "application/problem+json", jws_post)
        if action == "invalidProfile":
            return self.synthetic(
                400, problem("invalidProfile", "acmeproxy: injected invalidProfile", 400),
                "application/problem+json", jws_post)
        raise AssertionError(action)

    # -- which certificate a request is about ---------------------------------

    def names_for(self, kind, path, payload):
        """Sorted identifiers this request concerns, or None (see /log)."""
        st = self.server.state
        if kind == "newOrder":
            ids = payload.get("identifiers") if isinstance(payload, dict) else None
            if not isinstance(ids, list):
                return None
            return sorted(str(i.get("value")) for i in ids if isinstance(i, dict))
        with st.lock:
            if kind == "renewalInfo":
                cert = st.certs.get(path[len(ARI_PATH) + 1:])
                return sorted(cert["names"]) if cert else None
            # /certZ/ID/alternate/N belongs to /certZ/ID.
            return st.owners.get(path) or st.owners.get("/".join(path.split("/")[:3]))

    def learn_owners(self, names, r):
        """URLs in a good answer about "names" belong to the same names."""
        if not names or r.status not in (200, 201):
            return
        try:
            obj = json.loads(r.body)
        except ValueError:
            return  # e.g. a PEM chain
        if not isinstance(obj, dict):
            return
        urls = [r.header("Location")] + [obj.get(k) for k in ("finalize", "certificate")]
        if isinstance(obj.get("authorizations"), list):
            urls += obj["authorizations"]
        if isinstance(obj.get("challenges"), list):
            urls += [c.get("url") for c in obj["challenges"] if isinstance(c, dict)]
        st = self.server.state
        with st.lock:
            for u in urls:
                if isinstance(u, str) and u:
                    st.owners[urllib.parse.urlsplit(u).path] = names

    # -- newOrder checks (profile, replaces) ----------------------------------

    def check_new_order(self, payload):
        """A rejection for this newOrder payload, or None to forward it."""
        st = self.server.state
        if not isinstance(payload, dict):
            return None  # let Pebble complain about it
        rep = payload.get("replaces")
        with st.lock:
            profiles = st.profiles
            ari = st.ari_enabled
            enforce = st.replaces_enforce
            reject_unknown = st.replaces_reject_unknown
            already = st.replaced.get(rep) if isinstance(rep, str) else None
            known = isinstance(rep, str) and rep in st.certs
        if profiles is not None and "profile" in payload:
            p = payload["profile"]
            if not isinstance(p, str):
                return self.synthetic(400, problem(
                    "malformed", "profile must be a string", 400),
                    "application/problem+json", True)
            if p not in profiles:
                return self.synthetic(400, problem(
                    "invalidProfile", 'profile "%s" is not offered' % p, 400),
                    "application/problem+json", True)
        if ari and "replaces" in payload:
            if not isinstance(rep, str) or not CERTID_RE.fullmatch(rep):
                return self.synthetic(400, problem(
                    "malformed", "replaces is not a valid certID", 400),
                    "application/problem+json", True)
            if enforce and already is not None:
                return self.synthetic(409, problem(
                    "alreadyReplaced",
                    'certificate "%s" has already been replaced by order %s'
                    % (rep, already), 409),
                    "application/problem+json", True)
            if reject_unknown and not known:
                return self.synthetic(404, problem(
                    "malformed", 'unknown certificate "%s" in replaces' % rep, 404),
                    "application/problem+json", True)
        return None

    # -- rewriting Pebble's answers -----------------------------------------

    def postprocess(self, kind, path, payload, r):
        st = self.server.state
        if kind == "directory" and r.status == 200:
            self.rewrite_json(r, self.patch_directory)
        elif kind == "newOrder" and r.status == 201:
            loc = r.header("Location")
            if loc:
                oid = order_id(urllib.parse.urlsplit(loc).path)
                self.remember_order(oid, payload if isinstance(payload, dict) else {})
                self.rewrite_json(r, lambda o: self.patch_order(o, oid))
        elif kind in ("order", "finalize") and r.status == 200:
            oid = order_id(path)
            self.rewrite_json(r, lambda o: self.patch_order(o, oid))
            if kind == "finalize":
                with st.lock:
                    rep = st.orders.get(oid, {}).get("replaces")
                    if rep:
                        st.replaced.setdefault(rep, oid)
        elif kind == "cert" and r.status == 200:
            try:
                info = cert_info(r.body)
            except (ValueError, x509.ExtensionNotFound) as e:
                log("cannot parse the certificate at %s: %s" % (path, e))
                return
            with st.lock:
                st.certs[info["certID"]] = info
            log("seen certificate serial %s certID %s" % (info["serial"], info["certID"]))

    @staticmethod
    def rewrite_json(r, fn):
        try:
            obj = json.loads(r.body)
        except ValueError:
            return
        if isinstance(obj, dict):
            fn(obj)
            r.body = json.dumps(obj, indent=3).encode()

    def patch_directory(self, d):
        st = self.server.state
        with st.lock:
            profiles, ari = st.profiles, st.ari_enabled
        if profiles is not None:
            d.setdefault("meta", {})["profiles"] = profiles
        if ari:
            d["renewalInfo"] = "https://%s%s" % (self.host(), ARI_PATH)

    def remember_order(self, oid, payload):
        """Decide which profile this new order shows, and remember replaces."""
        st = self.server.state
        with st.lock:
            profiles, mode, ari = st.profiles, st.profile_mode, st.ari_enabled
            req = payload.get("profile")
            chosen = None
            if profiles is not None:
                offered = sorted(profiles)
                if mode == "mismatch":
                    others = [p for p in offered if p != req]
                    chosen = random.choice(others) if others else \
                        ("not-" + req if req else None)
                elif req is not None:
                    chosen = req
                elif mode == "echo" and offered:
                    chosen = random.choice(offered)
            rep = payload.get("replaces") if ari else None
            st.orders[oid] = {"profile": chosen, "replaces": rep}

    def patch_order(self, o, oid):
        st = self.server.state
        with st.lock:
            info = st.orders.get(oid)
        if not info:
            return
        if info["profile"] is not None:
            o["profile"] = info["profile"]
        if info["replaces"] is not None:
            o["replaces"] = info["replaces"]

    # -- ARI ------------------------------------------------------------------

    def renewal_info(self, path):
        st = self.server.state
        ptype = "application/problem+json"
        if self.command not in ("GET", "HEAD"):
            r = Response(405, [("Content-Type", ptype), ("Allow", "GET, HEAD")],
                         problem("malformed", "renewalInfo only answers GET", 405))
            return r
        cert_id = path[len(ARI_PATH) + 1:] if path.startswith(ARI_PATH + "/") else ""
        if not cert_id:
            return Response(404, [("Content-Type", ptype)],
                            problem("malformed", "no certID in the path", 404))
        if not CERTID_RE.fullmatch(cert_id):
            return Response(400, [("Content-Type", ptype)], problem(
                "malformed", 'certID "%s" is not two unpadded base64url parts'
                % cert_id, 400))
        serial = serial_of_cert_id(cert_id)
        with st.lock:
            ov = st.renewal_info.get(("certID", cert_id)) or \
                st.renewal_info.get(("serial", serial))
            win = st.windows.get(serial)
            cert = st.certs.get(cert_id)
        if ov:
            r = Response(ov["status"], [("Content-Type", ov["content_type"])],
                         ov["body"].encode())
            if ov.get("retry_after") is not None:
                r.set_header("Retry-After", ov["retry_after"])
            return r
        if win:
            obj = {"suggestedWindow": {"start": win["start"], "end": win["end"]}}
            if win.get("explanationURL") is not None:
                obj["explanationURL"] = win["explanationURL"]
            r = Response(200, [("Content-Type", "application/json")],
                         json.dumps(obj, indent=3).encode())
            if win.get("retry_after") is not None:
                r.set_header("Retry-After", win["retry_after"])
            return r
        if cert:
            lifetime = cert["_na"] - cert["_nb"]
            mid = cert["_na"] - lifetime / 3
            obj = {"suggestedWindow": {
                "start": rfc3339(mid - datetime.timedelta(hours=1)),
                "end": rfc3339(mid + datetime.timedelta(hours=1))}}
            return Response(200, [("Content-Type", "application/json"),
                                  ("Retry-After", DEFAULT_RETRY_AFTER)],
                            json.dumps(obj, indent=3).encode())
        return Response(404, [("Content-Type", ptype)], problem(
            "malformed", 'unknown certificate "%s"' % cert_id, 404))


# --------------------------------------------------------------------------
# Control API (plain HTTP)

class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, state):
        super().__init__(addr, ControlHandler)
        self.state = state


class ControlHandler(http.server.BaseHTTPRequestHandler):
    server_version = "acmeproxy-control"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        data = (json.dumps(obj, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        with st.lock:
            if url.path == "/log":
                kinds = query.get("kind")
                self.reply(200, [e for e in st.log
                                 if not kinds or e["kind"] in kinds])
            elif url.path == "/certs":
                self.reply(200, [{k: v for k, v in c.items() if not k.startswith("_")}
                                 for c in st.certs.values()])
            elif url.path == "/injections":
                self.reply(200, st.rules)
            elif url.path == "/state":
                self.reply(200, {
                    "profiles": st.profiles, "profile_mode": st.profile_mode,
                    "ari": st.ari_enabled, "replaces_enforce": st.replaces_enforce,
                    "replaces_reject_unknown": st.replaces_reject_unknown,
                    "orders": st.orders, "replaced": st.replaced,
                    "windows": st.windows,
                    "renewal_info": [dict(v, key=list(k))
                                     for k, v in st.renewal_info.items()],
                    "injections": st.rules})
            else:
                self.reply(404, {"error": "unknown path %s" % url.path})

    def do_POST(self):
        st = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            req = json.loads(raw) if raw.strip() else {}
            if not isinstance(req, dict):
                raise ValueError("the body must be a JSON object")
            handler = {
                "/reset": self.c_reset, "/profiles": self.c_profiles,
                "/order-profile-mode": self.c_mode, "/ari": self.c_ari,
                "/replaces": self.c_replaces,
                "/renewal-info": self.c_renewal_info,
                "/renewal-window": self.c_window, "/inject": self.c_inject,
            }.get(path)
            if handler is None:
                self.reply(404, {"error": "unknown path %s" % path})
                return
            with st.lock:
                result = handler(st, req)
        except (ValueError, TypeError, KeyError) as e:
            self.reply(400, {"error": "%s: %s" % (type(e).__name__, e)})
            return
        log("control %s %s" % (path, raw.decode("utf-8", "replace")[:200]))
        self.reply(200, dict({"ok": True}, **(result or {})))

    # Each c_* runs with the state lock held.

    @staticmethod
    def c_reset(st, req):
        st.reset(everything=bool(req.get("all")))

    @staticmethod
    def c_profiles(st, req):
        p = req["profiles"]
        if p is not None and not (isinstance(p, dict) and
                                  all(isinstance(v, str) for v in p.values())):
            raise ValueError("profiles must be an object name -> description, or null")
        st.profiles = p

    @staticmethod
    def c_mode(st, req):
        if req.get("mode") not in PROFILE_MODES:
            raise ValueError("mode must be one of " + ", ".join(PROFILE_MODES))
        st.profile_mode = req["mode"]

    @staticmethod
    def c_ari(st, req):
        if not isinstance(req.get("enabled"), bool):
            raise ValueError("enabled must be true or false")
        st.ari_enabled = req["enabled"]

    @staticmethod
    def c_replaces(st, req):
        if "enforce" in req:
            st.replaces_enforce = bool(req["enforce"])
        if "reject_unknown" in req:
            st.replaces_reject_unknown = bool(req["reject_unknown"])

    @staticmethod
    def c_renewal_info(st, req):
        if "certID" in req:
            key = ("certID", str(req["certID"]))
        elif "serial" in req:
            key = ("serial", norm_serial(req["serial"]))
        else:
            raise ValueError("certID or serial is required")
        body = req.get("body", "")
        if not isinstance(body, str):
            body = json.dumps(body)
        ra = req.get("retry_after")
        st.renewal_info[key] = {
            "status": int(req.get("status", 200)), "body": body,
            "retry_after": None if ra is None else str(ra),
            "content_type": req.get("content_type", "application/json")}

    @staticmethod
    def c_window(st, req):
        serial = norm_serial(req["serial"])
        ra = req.get("retry_after", DEFAULT_RETRY_AFTER)
        st.windows[serial] = {"start": req["start"], "end": req["end"],
                              "explanationURL": req.get("explanationURL"),
                              "retry_after": None if ra is None else str(ra)}
        return {"serial": serial}

    @staticmethod
    def c_inject(st, req):
        rules = req["rules"]
        if not isinstance(rules, list):
            raise ValueError("rules must be a list")
        new = [validate_rule(r) for r in rules]  # all or nothing
        st.rules.extend(new)
        return {"pending": len(st.rules)}


# --------------------------------------------------------------------------

def parse_addr(text):
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1", int(port))


def main():
    ap = argparse.ArgumentParser(description="ACME extension proxy for Pebble 2.4.0")
    ap.add_argument("--listen", default="127.0.0.1:14443")
    ap.add_argument("--control", default="127.0.0.1:14480")
    ap.add_argument("--upstream", default="https://127.0.0.1:14000")
    ap.add_argument("--cert", required=True, help="TLS certificate (PEM)")
    ap.add_argument("--key", required=True, help="TLS private key (PEM)")
    ap.add_argument("--ca", required=True, help="CA that signed Pebble's listener cert")
    ap.add_argument("--pidfile")
    args = ap.parse_args()

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "https" or not up.hostname:
        ap.error("--upstream must be https://HOST:PORT")
    up_ctx = ssl.create_default_context(cafile=args.ca)
    tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ctx.load_cert_chain(args.cert, args.key)

    state = State()
    proxy = ProxyServer(parse_addr(args.listen), tls_ctx, untrusted_context(args.cert),
                        (up.hostname, up.port or 443), up_ctx, state)
    control = ControlServer(parse_addr(args.control), state)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    proxy.learn_paths(stop)
    for srv in (proxy, control):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    log("listening on https://%s:%d (control http://%s:%d), upstream %s"
        % (proxy.server_address[:2] + control.server_address[:2] + (args.upstream,)))
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log("stopping")
        proxy.shutdown()
        control.shutdown()
        proxy.server_close()
        control.server_close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass


if __name__ == "__main__":
    main()
