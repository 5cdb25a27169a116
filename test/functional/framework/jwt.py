"""An HS256 JWT made with the standard library only: proves the servers
accept tokens from any implementation, not just ours."""
import base64
import hashlib
import hmac
import json
import time


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret_path, iat=None):
    secret = bytes.fromhex(open(secret_path).read().strip())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64(json.dumps({"iat": int(time.time() if iat is None else iat)}).encode())
    signing_input = f"{header}.{claims}".encode()
    return f"{header}.{claims}.{_b64(hmac.new(secret, signing_input, hashlib.sha256).digest())}"
