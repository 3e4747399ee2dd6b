#!/usr/bin/env python3
"""Build a real seeqret (1.0.5) vault and exports for tresor's tests.

Usage (with the python of a venv where `pip install seeqret==1.0.5` ran):

    python make_fixture.py OUTDIR --to-pubkey BASE64 [--to-username bob]

It drives the installed `seeqret` CLI (found next to this python) with a
private HOME and SEEQRET=OUTDIR/seeqret, TESTING=TRUE, and writes:

    OUTDIR/seeqret/          the vault (seeqrets.db, seeqret.key,
                             private.key, public.key)
    OUTDIR/export.json       `seeqret export -s json-crypt` to the recipient
    OUTDIR/export.cmd        `seeqret export -s command` to the recipient
    OUTDIR/expected.json     what a reader must find: owner, users, secrets
                             (plaintext), recipient username

The recipient is added as a vault user with the given X25519 public key
(standard base64 of 32 bytes, as `seeqret add user --pubkey` takes it).
"""
import argparse
import json
import os
import subprocess
import sys

# (app, env, key, value): values chosen to exercise quoting and encodings.
SECRETS = [
    ("myapp", "dev", "DB_PASS", 'p@ss w"rd $HOME #x'),
    ("myapp", "dev", "DB_USER", "alice"),
    ("myapp", "prod", "DB_PASS", "it's a back\\slash"),
    ("other", "dev", "API_KEY", "k-123"),
    ("*", "*", "GLOBAL", "blåbær ✓"),
    ("*", "dev", "EMPTYISH", " "),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--to-pubkey", required=True)
    ap.add_argument("--to-username", default="bob")
    ap.add_argument("--to-email", default="bob@example.org")
    args = ap.parse_args()

    outdir = os.path.abspath(args.outdir)
    os.makedirs(outdir, exist_ok=True)
    vault = os.path.join(outdir, "seeqret")
    home = os.path.join(outdir, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ)
    env.update(HOME=home, SEEQRET=vault, TESTING="TRUE")
    exe = os.path.join(os.path.dirname(sys.executable), "seeqret")

    def run(*argv):
        res = subprocess.run([exe, *argv], env=env, cwd=outdir,
                             stdin=subprocess.DEVNULL,
                             capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"seeqret {' '.join(argv)} failed:\n{res.stdout}\n{res.stderr}")
        return res.stdout

    # The owner must be the OS user (seeqret checks it on every command).
    from seeqret.run_utils import qualified_user
    owner = qualified_user()
    owner_email = "owner@example.org"
    run("init", outdir, "--user", owner, "--email", owner_email)
    for app, e, key, value in SECRETS:
        run("add", "key", key, value, "--app", app, "--env", e)
    run("add", "user", "--username", args.to_username,
        "--email", args.to_email, "--pubkey", args.to_pubkey)
    run("export", "--to", args.to_username, "-f", "::",
        "-s", "json-crypt", "-o", "export.json")
    out = run("export", "--to", args.to_username, "-f", "::", "-s", "command")
    lines = [l for l in out.splitlines() if l.startswith("seeqret load ")]
    with open(os.path.join(outdir, "export.cmd"), "w") as f:
        f.write("\n".join(lines) + "\n")

    with open(os.path.join(vault, "public.key")) as f:
        owner_pubkey = f.read().strip()
    expected = {
        "owner": {"username": owner, "email": owner_email,
                  "pubkey": owner_pubkey},
        "users": [
            {"username": owner, "email": owner_email, "pubkey": owner_pubkey},
            {"username": args.to_username, "email": args.to_email,
             "pubkey": args.to_pubkey},
        ],
        "secrets": [{"app": a, "env": e, "key": k, "value": v, "type": "str"}
                    for a, e, k, v in SECRETS],
        "recipient": args.to_username,
    }
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, ensure_ascii=False)
    print(outdir)


if __name__ == "__main__":
    main()
