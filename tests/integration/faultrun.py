#!/usr/bin/python3
"""faultrun: drive acmed through rounds of injected faults (test_faults.sh).

Each faulty round clears the proxy (acmeproxy.py), queues a set of fault
rules, runs one acmed pass at a fake time (ACMED_FAKE_NOW) far enough after
the previous one that every failure backoff is over, and then checks:

  * acmed exited normally with a status its contract allows (no signal, no
    worker killed by one);
  * no live file of any certificate changed (every round has "blocker"
    rules that fail every certificate before it can be installed);
  * every certificate that got an error answer with Retry-After (from the
    proxy's log: its "retry_after", attributed by its "names"; session
    requests - directory, nonce, account - count for every certificate
    attempted in that pass) recorded next_check >= the time it allows
    (ari_next_fetch for renewalInfo), and no later round sends a request
    for that certificate (or fetches its renewalInfo) before that time;
  * only the certificates named on the command line were attempted.

Then clean rounds follow (no rules) until every certificate is installed:
every certificate attempted in a clean round must be installed by it (the
first retry after the faults stop), and one that is not attempted must be
waiting for a Retry-After.

Prints PASS:/FAIL: lines (counted by test_faults.sh) and, last, a line
"faults: N injected, N survived over K kinds, R request kinds, C certificates".
"""

import argparse
import email.utils
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request

FILES = ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")
NEW_FILES = ("privkey.pem", "cert.pem", "fullchain.pem")  # chain.pem may stay
SESSION_KINDS = ("directory", "nonce", "newAccount", "other")
CERT_KINDS = ("newOrder", "order", "authz", "challenge", "finalize", "cert",
              "renewalInfo")
# Where spread faults go: the early steps twice as often (fewer flows get there).
SPREAD_KINDS = CERT_KINDS + ("newOrder", "order", "authz", "challenge")
PASS_TIMEOUT = 90        # one pass; a hang is a failure, not a stuck test
STEP = 7 * 3600          # between rounds: past the longest backoff (6 h)
RA_VALUES = (600, 900, 3600, 7200, 30000)   # the last outlasts one STEP
CRASH_RE = re.compile(r"renewal worker exited with status (\d+)")

results = {"pass": 0, "fail": 0}


def ok(desc):
    results["pass"] += 1
    print("PASS: " + desc, flush=True)


def fail(desc, *detail):
    results["fail"] += 1
    print("FAIL: " + desc, flush=True)
    for d in detail:
        print("      " + str(d)[:600], flush=True)


def expect(cond, desc, *detail):
    (ok if cond else fail)(desc, *(() if cond else detail))
    return cond


class Proxy:
    def __init__(self, base):
        self.base = base

    def call(self, path, obj=None):
        data = None if obj is None else json.dumps(obj).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


def fault_rule(name, t, rng, stall):
    """Injection rule (without "match") for fault type "name" at fake time t."""
    ra = rng.choice(RA_VALUES)
    return {
        "500": {"status": 500},
        "500ra": {"status": 500, "retry_after": str(ra)},
        "502": {"status": 502},
        "502ra": {"status": 502, "retry_after": str(ra)},
        "503": {"status": 503},
        "503ra": {"status": 503, "retry_after": str(ra)},
        "503date": {"status": 503,
                    "retry_after": email.utils.formatdate(t + ra, usegmt=True)},
        "429": {"status": 429, "retry_after": str(ra)},
        "reset": {"action": "reset"},
        "reset_after": {"action": "reset_after"},
        "stall": {"action": "stall", "seconds": stall},
        "truncate": {"action": "truncate"},
        "nonjson": {"action": "nonjson"},
        "wrongtype": {"action": "wrongtype"},
        "huge": {"action": "huge"},
    }[name]


# Fault types that fail any request they hit (blockers are made of these).
FATAL = ("500", "500ra", "502", "502ra", "503", "503ra", "503date", "429",
         "reset", "reset_after", "truncate", "nonjson", "huge")
# Spread faults: also the ones acmed may survive within the request.
SPREAD = FATAL + ("stall", "wrongtype", "badtls")


# The first rounds are fixed: faults whose handling once went wrong.  Their
# Retry-After (20000 s, 24000 s) outlasts every backoff acmed could be in
# by then but not one STEP, so the checks tell them apart.
FIXED = (
    # A 200 answer to the challenge POST that is not the challenge: the CA
    # never saw the response, so waiting for the authorization is futile.
    [{"match": "challenge", "action": "nonjson", "count": -1}],
    # Retry-After from the session's setup holds for every certificate.
    [{"match": "directory", "status": 503, "retry_after": "20000"}],
    [{"match": "nonce", "status": 503, "retry_after": "20000"}],
    # renewalInfo errors: Retry-After beats the error delays (60 s, 6 h).
    [{"match": "renewalInfo", "status": 503, "retry_after": "20000", "count": 2},
     {"match": "renewalInfo", "status": 429, "retry_after": "24000", "count": 3}],
    # The CA cannot answer for a stored order: no new order in its place.
    [{"match": "order", "status": 503, "retry_after": "20000", "count": -1}],
)


def round_rules(k, t, rng, stall, nstalls):
    """The rules of faulty round k (in queue order: the first match wins)."""
    rules = []
    if k < len(FIXED):
        rules += [dict(r) for r in FIXED[k]]
    elif k % 6 == 5:
        # Session round: the pass's setup (directory, nonce, account) fails.
        kind = SESSION_KINDS[(k // 6) % 3]
        rules.append(dict(fault_rule(rng.choice(FATAL), t, rng, stall),
                          match=kind))
    else:
        for _ in range(rng.randint(10, 14)):
            name = rng.choice(SPREAD)
            if name == "stall":
                if nstalls[0] >= 4:
                    name = "503ra"
                else:
                    nstalls[0] += 1
            if name == "badtls":
                # Not the pass's first connection: a later one (after a
                # reset or a stall), in the middle of some certificate's order.
                rules.append({"match": "tls", "action": "badtls",
                              "skip": rng.randint(1, 2)})
                continue
            rule = fault_rule(name, t, rng, stall)
            # acmed may take a mistyped answer: never where it would let a
            # certificate through (its download is the last gate).
            kinds = [c for c in SPREAD_KINDS if c != "cert"] if name == "wrongtype" else SPREAD_KINDS
            rule.update(match=rng.choice(kinds), skip=rng.randint(0, 3))
            rules.append(rule)
    # Blockers: nothing gets installed while the faults last.  Every other
    # round stops orders at finalize, half of those with an answer that
    # makes acmed give the order up, so the next round starts afresh.
    if k % 4 == 0:
        rules.append(dict(fault_rule(rng.choice(("nonjson", "huge")), t, rng, stall),
                          match="finalize", count=-1))
    elif k % 4 == 2:
        rules.append(dict(fault_rule(rng.choice(FATAL), t, rng, stall),
                          match="finalize", count=-1))
    rules.append(dict(fault_rule(rng.choice(FATAL), t, rng, stall),
                      match="cert", count=-1))
    return rules


def live_sums(outdir, names):
    sums = {}
    for n in names:
        for f in FILES:
            p = os.path.join(outdir, n, f)
            try:
                with open(p, "rb") as fh:
                    sums[(n, f)] = hashlib.sha256(fh.read()).hexdigest()
            except FileNotFoundError:
                sums[(n, f)] = None
    return sums


def db_rows(state):
    con = sqlite3.connect("file:%s/acmed.db?mode=ro" % state, uri=True)
    con.row_factory = sqlite3.Row
    rows = {r["name"]: dict(r) for r in con.execute("SELECT * FROM certificates")}
    con.close()
    return rows


def stored_orders(state):
    """Certificate name -> creation time of the order acmed keeps for it."""
    con = sqlite3.connect("file:%s/acmed.db?mode=ro" % state, uri=True)
    rows = dict(con.execute("SELECT name, created FROM orders"))
    con.close()
    return rows


def ra_deadline(value, t):
    """Absolute time a Retry-After value allows, at fake time t (or None)."""
    v = (value or "").strip()
    if v.isdigit():
        return t + int(v)
    try:
        return int(email.utils.parsedate_to_datetime(v).timestamp())
    except (TypeError, ValueError):
        return None


class Run:
    def __init__(self, a):
        self.a = a
        self.px = Proxy(a.ctrl)
        self.names = ["f%d" % i for i in range(a.ncerts)]
        self.domain = {n: "%s.example.org" % n for n in self.names}
        self.by_domain = {d: n for n, d in self.domain.items()}
        self.wait = {n: {"acme": 0, "ari": 0} for n in self.names}
        self.injected = []     # proxy log entries that carried a fault
        self.kinds = set()     # fault types seen firing
        self.npass = 0

    def acmed(self, t, args, tag):
        env = dict(os.environ)
        if t is not None:
            env["ACMED_FAKE_NOW"] = str(t)
        logf = os.path.join(self.a.logdir, "round-%s.log" % tag)
        with open(logf, "w") as out:
            # Its own process group: a hung pass (and its worker) can be ended.
            p = subprocess.Popen([self.a.acmed, "--config-dir", self.a.config,
                                  "--state-dir", self.a.state] + args,
                                 stdout=out, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=PASS_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                rc = "hung (killed after %d s)" % PASS_TIMEOUT
        with open(logf, errors="replace") as f:
            text = f.read()
        return rc, text, logf

    def config(self, timeout):
        lines = ["global:", "  max_parallel: %d" % self.a.ncerts, "cas:",
                 "  - name: px", "    directory: %s" % self.a.dir_url,
                 "    contact: [mailto:admin@example.org]",
                 "    ca_bundle: %s" % self.a.ca_bundle,
                 "    http_timeout: %d" % timeout, "certificates:"]
        for n in self.names:
            lines += ["  - name: %s" % n, "    domains: [%s]" % self.domain[n],
                      '    challenge: {type: http-01, listen: "127.0.0.1:%s"}' % self.a.http_port,
                      "    output: %s/%s" % (self.a.out, n),
                      "    reload: [%s, %s]" % (self.a.hook, n)]
        with open(os.path.join(self.a.config, "acmed.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def owners(self, e):
        return [self.by_domain[d] for d in (e.get("names") or []) if d in self.by_domain]

    # -- one faulty round -----------------------------------------------------

    def faulty(self, k, t, rng, nstalls, rules=None):
        names = self.names
        if rules is not None:
            args, allowed = ["renew", "--all"], (0, 1, 2)
        elif k % 3 == 0:
            args, allowed = ["run", "--once"], (0, 1)
        elif k % 3 == 1:
            args, allowed = ["renew", "--all"], (0, 1, 2)
        else:
            args, allowed = ["renew"] + names[k % 2::2], (0, 1, 2)
        selected = set(args[1:]) if args[0] == "renew" and args[1] != "--all" else set(names)
        if rules is None:
            rules = round_rules(k, t, rng, self.a.stall, nstalls)
        self.px.call("/reset", {})
        self.px.call("/inject", {"rules": rules})
        before = live_sums(self.a.out, names)
        rc, text, logf = self.acmed(t, args, "%02d" % k)
        log = self.px.call("/log")
        with open(os.path.join(self.a.logdir, "round-%02d.json" % k), "w") as f:
            json.dump({"time": t, "args": args, "rules": rules, "log": log}, f, indent=1)
        rows = db_rows(self.a.state)
        after = live_sums(self.a.out, names)
        hits = [e for e in log if e.get("injected") is not None]
        self.injected += hits
        attempted = {n for n in names if (rows.get(n) or {}).get("last_attempt") == t}
        what = "round %d (%s, %d rules, %d faults fired, %d attempted)" % (
            k, " ".join(args[:2]), len(rules), len(hits), len(attempted))

        crashes = [int(s) for s in CRASH_RE.findall(text) if int(s) not in (1,)]
        expect(rc in allowed and not crashes, "%s: exit %s, no crash" % (what, rc),
               "exit status %s (allowed %s), worker statuses %s; see %s" % (rc, allowed, crashes, logf))
        changed = sorted({n for (n, f) in before if before[(n, f)] != after[(n, f)]})
        expect(not changed, "%s: no live file changed" % what,
               "changed: %s" % changed)
        expect(rc == (1 if attempted else rc), "%s: exit 1 when a certificate failed" % what,
               "exit %s with %s attempted" % (rc, sorted(attempted)))
        stray = attempted - selected
        expect(not stray, "%s: only the named certificates were attempted" % what,
               "also attempted: %s" % sorted(stray))
        if k < len(FIXED):
            fired = {(e["kind"], e["injected"]) for e in hits}
            want = {(r["match"], r.get("status") or r.get("action")) for r in FIXED[k]}
            expect(want <= fired, "%s: the fixed faults fired" % what,
                   "wanted %s, fired %s" % (sorted(want), sorted(fired)))
        self.check_waits(what, t, log, attempted)
        self.check_after_ra(what, log, attempted)
        self.learn_waits(what, t, log, rows, attempted)
        return attempted

    def check_waits(self, what, t, log, attempted):
        """Nothing for a certificate that still waits for a Retry-After."""
        early = []
        for n in self.names:
            w = self.wait[n]
            if w["acme"] > t and n in attempted:
                early.append("%s attempted at %d, Retry-After allows %d" % (n, t, w["acme"]))
            for e in log:
                ch = "ari" if e["kind"] == "renewalInfo" else "acme"
                if n in self.owners(e) and w[ch] > t:
                    early.append("%s: %s %s %s before the Retry-After (%d s early)"
                                 % (n, e["kind"], e["method"], e["path"], w[ch] - t))
        expect(not early, "%s: no request for a certificate before its Retry-After" % what, *early[:5])

    def check_after_ra(self, what, log, attempted):
        """After an error with Retry-After: nothing more for it in the pass."""
        late = []
        for i, e in enumerate(log):
            if not e.get("retry_after") or (e.get("status") or 0) < 400:
                continue
            ch = "ari" if e["kind"] == "renewalInfo" else "acme"
            targets = self.owners(e) or (sorted(attempted) if e["kind"] in SESSION_KINDS else [])
            for f in log[i + 1:]:
                fch = "ari" if f["kind"] == "renewalInfo" else "acme"
                hit = set(self.owners(f)) & set(targets)
                if hit and fch == ch:
                    late.append("%s: %s %s after %s %s answered %s with Retry-After %s"
                                % (sorted(hit), f["kind"], f["path"], e["kind"], e["path"],
                                   e["status"], e["retry_after"]))
        expect(not late, "%s: no request for a certificate after its Retry-After in the same pass" % what,
               *late[:5])

    def learn_waits(self, what, t, log, rows, attempted):
        """Every Retry-After on an error answer: recorded as the next time."""
        bad = []
        for e in log:
            if not e.get("retry_after") or (e.get("status") or 0) < 400:
                continue
            d = ra_deadline(e["retry_after"], t)
            if d is None:
                continue
            targets = self.owners(e)
            if not targets and e["kind"] in SESSION_KINDS:
                targets = sorted(attempted)
            ch = "ari" if e["kind"] == "renewalInfo" else "acme"
            col = "ari_next_fetch" if ch == "ari" else "next_check"
            for n in targets:
                got = (rows.get(n) or {}).get(col) or 0
                if got < d:
                    bad.append("%s: %s %s answered %s with Retry-After %s; %s = %d, %d s too early"
                               % (n, e["kind"], e["path"], e["status"], e["retry_after"], col, got, d - got))
                self.wait[n][ch] = max(self.wait[n][ch], d)
        expect(not bad, "%s: every Retry-After recorded as the earliest next try" % what, *bad[:5])

    # -- clean rounds -----------------------------------------------------------

    def clean(self, t0, serials):
        todo = set(self.names)
        t = t0
        for i in range(4):
            if not todo:
                break
            self.px.call("/reset", {})
            before = live_sums(self.a.out, self.names)
            rc, text, logf = self.acmed(t, ["run", "--once"], "clean-%d" % i)
            rows = db_rows(self.a.state)
            after = live_sums(self.a.out, self.names)
            attempted = {n for n in todo if (rows.get(n) or {}).get("last_attempt") == t}
            what = "clean round %d (%d attempted)" % (i, len(attempted))
            expect(rc == 0, "%s: run --once exits 0" % what, "exit %s; see %s" % (rc, logf))
            bad = []
            for n in sorted(attempted):
                r = rows[n]
                if r["failures"] != 0 or not r["serial"] or r["serial"] == serials.get(n):
                    bad.append("%s: failures %s, serial %s (was %s), error %s"
                               % (n, r["failures"], r["serial"], serials.get(n), r["last_error"]))
                elif any(after[(n, f)] is None for f in FILES) or \
                        any(before[(n, f)] == after[(n, f)] for f in NEW_FILES):
                    bad.append("%s: recorded as issued but its live files are not all new" % n)
            expect(not bad, "%s: each attempted certificate is installed at this first retry" % what, *bad)
            idle = [n for n in todo - attempted if self.wait[n]["acme"] <= t]
            expect(not idle, "%s: a certificate not retried is waiting for a Retry-After" % what,
                   *["%s: not attempted at %d (Retry-After until %d)" % (n, t, self.wait[n]["acme"]) for n in idle])
            todo -= attempted
            later = [self.wait[n]["acme"] for n in todo if self.wait[n]["acme"] > t]
            t = max([t + STEP] + [w + 60 for w in later])
        expect(not todo, "after the faults: every certificate is installed", "missing: %s" % sorted(todo))

    def main(self):
        a = self.a
        os.makedirs(a.config, exist_ok=True)
        # Half of the certificates are installed before the faults begin.
        self.config(30)
        first = self.names[: a.ncerts // 2]
        self.px.call("/reset", {})
        rc, _, logf = self.acmed(None, ["renew"] + first, "setup")
        expect(rc == 0, "setup: %d certificates issued without faults" % len(first), "exit %s; see %s" % (rc, logf))
        rows = db_rows(a.state)
        serials = {n: rows[n]["serial"] for n in first if n in rows}
        # Past the renewal point and the ARI window of all of them: every
        # certificate is due.
        t = max(max(r["next_check"] or 0, r["ari_end"] or 0) for r in rows.values()) + 60
        hooks_before = os.path.getsize(a.hook_log) if os.path.exists(a.hook_log) else 0
        self.config(a.timeout)
        rng = random.Random(a.seed)
        nstalls = [0]
        for k in range(a.rounds):
            self.faulty(k, t, rng, nstalls)
            t += STEP
        # A week later the CA fails on every stored order: each is given up
        # (the Retry-After still holds for this pass), not kept for ever.
        t += 8 * 86400
        stale = {n for n, c in stored_orders(a.state).items() if c < t - 7 * 86400}
        attempted = self.faulty(a.rounds, t, rng, nstalls, rules=[
            {"match": "order", "status": 503, "retry_after": "600", "count": -1},
            {"match": "cert", "status": 503, "count": -1}])
        left = stale & attempted & set(stored_orders(a.state))
        expect(stale & attempted and not left,
               "orders older than a week that the CA cannot answer for are given up (%d)" % len(stale & attempted),
               "stale %s, attempted %s, still stored %s" % (sorted(stale), sorted(attempted), sorted(left)))
        t += STEP
        hooks_after = os.path.getsize(a.hook_log) if os.path.exists(a.hook_log) else 0
        expect(hooks_after == hooks_before, "no reload hook ran while the faults lasted")
        # The faults stop; the normal timeout again.
        self.config(30)
        self.clean(t, serials)
        self.summary()

    def summary(self):
        kinds, reqs, certs = {}, {}, {}
        for e in self.injected:
            kind = str(e["injected"])
            if isinstance(e["injected"], int):
                ra = e.get("retry_after") or ""
                kind += "" if not ra else "+Retry-After" if ra.isdigit() else "+Retry-After(date)"
            kinds[kind] = kinds.get(kind, 0) + 1
            reqs[e["kind"]] = reqs.get(e["kind"], 0) + 1
            for n in self.owners(e):
                certs[n] = certs.get(n, 0) + 1
        print("fault types fired: %s" % json.dumps(kinds, sort_keys=True))
        print("request kinds hit: %s" % json.dumps(reqs, sort_keys=True))
        print("certificates hit: %s" % json.dumps(certs, sort_keys=True))
        n = len(self.injected)
        expect(n >= self.a.min_faults, "at least %d faults injected (%d)" % (self.a.min_faults, n))
        nk = len(kinds)
        expect(nk >= 10, "at least 10 kinds of fault (%d)" % nk)
        expect(len(reqs) >= 6, "faults spread over request kinds (%d)" % len(reqs))
        expect(len(certs) == len(self.names), "faults reached every certificate (%d)" % len(certs))
        survived = n if results["fail"] == 0 else 0
        print("faults: %d injected, %d survived, %d kinds, %d request kinds, %d certificates"
              % (n, survived, nk, len(reqs), len(certs)))


def parse():
    ap = argparse.ArgumentParser()
    for opt in ("acmed", "config", "state", "out", "ctrl", "dir-url", "ca-bundle",
                "hook", "hook-log", "logdir", "http-port"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--ncerts", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=26)
    ap.add_argument("--timeout", type=int, default=2)
    ap.add_argument("--stall", type=float, default=3.5)
    ap.add_argument("--seed", type=int, default=8555)
    ap.add_argument("--min-faults", type=int, default=200)
    return ap.parse_args()


if __name__ == "__main__":
    Run(parse()).main()
    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    sys.exit(1 if results["fail"] else 0)
