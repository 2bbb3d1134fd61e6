#!/usr/bin/python3
"""seed.py: a configuration of N certificates for the benchmarks, and
optionally a state in which none of them is due.

  seed.py config DIR N DIRECTORY_URL [--max-parallel K] [--prefix P]
      DIR/config/*.yaml: one CA (DIRECTORY_URL, ca_bundle from
      $BENCH_CA_BUNDLE if set) and N single-name http-01 certificates
      P00001 .. (names P00001.bench.example.org), output under DIR/out.
  seed.py state DIR N DIRECTORY_URL [--prefix P]
      Empty stand-in files in each output directory and one row per
      certificate in DIR/state/acmed.db (whose schema acmed has created):
      issued 10 days ago, valid for 90 days, so the next renewal is about
      50 days away.  The fingerprint is written as renew_fingerprint()
      does; the benchmark checks with "acmed status --json" that nothing
      is due, so a drift here shows up as a failure, not as a wrong figure.
"""

import os
import sqlite3
import sys
import time

KEY_TYPE = "ec-p256"  # the configuration's default key


def names(n, prefix):
    for i in range(1, n + 1):
        name = "%s%05d" % (prefix, i)
        yield name, "%s.bench.example.org" % name


def fingerprint(directory, domains):
    # renew_fingerprint(): directory, profile ("" if none), key type,
    # "names", then each domain, sorted; one per line.
    return "".join(p + "\n" for p in [directory, "", KEY_TYPE, "names"] + sorted(domains))


def write_config(top, n, directory, prefix, max_parallel):
    # One file for the CA, then files of at most 1000 certificates (each
    # file is capped at CFG_FILE_MAX, 1 MiB); acmed reads them in name order.
    conf = os.path.join(top, "config")
    os.makedirs(conf, exist_ok=True)
    bundle = os.environ.get("BENCH_CA_BUNDLE")
    head = []
    if max_parallel is not None:
        head.append("global:\n  max_parallel: \"%d\"\n" % max_parallel)
    head.append("cas:\n  - name: bench\n    directory: %s\n" % directory)
    head.append("    contact: [mailto:bench@example.org]\n")
    if bundle:
        head.append("    ca_bundle: %s\n" % bundle)
    with open(os.path.join(conf, "00-ca.yaml"), "w") as f:
        f.write("".join(head))
    chunk = []
    for i, (name, domain) in enumerate(names(n, prefix)):
        chunk.append("  - name: %s\n    domains: [%s]\n"
                     "    challenge: {type: http-01, listen: \"127.0.0.1:5002\"}\n"
                     "    output: %s\n" % (name, domain, os.path.join(top, "out", name)))
        if len(chunk) == 1000 or i == n - 1:
            with open(os.path.join(conf, "certs-%03d.yaml" % (i // 1000)), "w") as f:
                f.write("certificates:\n" + "".join(chunk))
            chunk = []


def write_state(top, n, directory, prefix):
    now = int(time.time())
    nb, na = now - 10 * 86400, now + 80 * 86400
    rows = []
    for i, (name, domain) in enumerate(names(n, prefix)):
        d = os.path.join(top, "out", name)
        os.makedirs(d, exist_ok=True)
        for f in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"):
            open(os.path.join(d, f), "a").close()
        rows.append((name, "bench", domain, fingerprint(directory, [domain]),
                     "%032x" % (i + 1), nb, na, nb, nb, na - 30 * 86400,
                     "lifetime fraction"))
    db = sqlite3.connect(os.path.join(top, "state", "acmed.db"))
    with db:
        db.executemany(
            "INSERT OR REPLACE INTO certificates (name, ca, domains, fingerprint,"
            " serial, not_before, not_after, last_attempt, last_success,"
            " failures, next_check, next_reason, hook_pending)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0)", rows)
    db.close()


def main(argv):
    if len(argv) < 5 or argv[1] not in ("config", "state"):
        sys.exit(__doc__)
    top, n, directory = argv[2], int(argv[3]), argv[4]
    opts = dict(zip(argv[5::2], argv[6::2]))
    prefix = opts.get("--prefix", "b")
    if argv[1] == "config":
        mp = opts.get("--max-parallel")
        write_config(top, n, directory, prefix, int(mp) if mp else None)
    else:
        write_state(top, n, directory, prefix)


if __name__ == "__main__":
    main(sys.argv)
