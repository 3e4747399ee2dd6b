"""s3keyring 0.3.0 API set/get and boto3 raw PutObject/GetObject (the floor), against the same
S3 server (AWS_ENDPOINT_URL). Run with s3keyring's venv python; HOME must hold an
.s3keyring.ini whose default profile names BUCKET. Prints `name median_us p90_us` lines."""
import sys
import time

import boto3
from s3keyring.s3 import S3Keyring


def report(name, ts):
    ts = sorted(ts)
    q = lambda p: ts[round((len(ts) - 1) * p)] * 1e6
    print(f"{name} {q(0.5):.0f} {q(0.9):.0f}", flush=True)


def timed(n, f):
    out = []
    for i in range(n):
        t = time.perf_counter()
        f(i)
        out.append(time.perf_counter() - t)
    return out


bucket, n = sys.argv[1], int(sys.argv[2])
s3 = boto3.client("s3")
report("boto3_put", timed(n, lambda i: s3.put_object(Bucket=bucket, Key="rawbench/small", Body=f"secret-{i}".encode())))
report("boto3_get", timed(n, lambda i: s3.get_object(Bucket=bucket, Key="rawbench/small")["Body"].read()))
kr = S3Keyring()
report("s3keyring_set", timed(n, lambda i: kr.set_password(f"svc{i}", "user", f"secret-{i}")))
assert kr.get_password("svc0", "user") == "secret-0"
report("s3keyring_get", timed(n, lambda i: kr.get_password("svc0", "user")))
