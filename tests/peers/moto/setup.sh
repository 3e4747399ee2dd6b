#!/usr/bin/env bash
# Create (or reuse) the S3/KMS peer venvs used by tresor-s3's tests and benchmark, under
# target/peers (git-ignored), and print the variables that enable them:
#   target/peers/moto       moto[server] (S3 + KMS on 127.0.0.1) and boto3
#   target/peers/s3keyring  s3keyring 0.3.0 (its own venv: it pins old keyring/awscli/click)
# s3keyring is optional: if it does not install, its tests and benchmark rows say so.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
peers="$root/target/peers"
mkdir -p "$peers"
venv="$peers/moto"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import moto, boto3, flask, flask_cors' 2>/dev/null || [ ! -x "$venv/bin/moto_server" ]; then
    "$venv/bin/pip" install -q 'moto[server]>=5,<6' 'boto3>=1.34' >&2
fi
"$venv/bin/python" -c 'import moto, boto3; print("# moto", moto.__version__, "boto3", boto3.__version__)' >&2
echo "export TRESOR_MOTO_PY=$venv/bin/python"
echo "export TRESOR_MOTO_SERVER=$venv/bin/moto_server"
kr="$peers/s3keyring"
[ -x "$kr/bin/python" ] || python3 -m venv "$kr"
if [ ! -x "$kr/bin/s3keyring" ]; then
    "$kr/bin/pip" install -q 's3keyring==0.3.0' >&2 || echo "# s3keyring 0.3.0 did not install; its tests will skip" >&2
fi
if [ -x "$kr/bin/s3keyring" ]; then
    echo "export TRESOR_S3KEYRING=$kr/bin/s3keyring"
    echo "export TRESOR_S3KEYRING_PY=$kr/bin/python"
fi
