"""Grade the rendered TLS vhost with testssl.sh (not a test: it takes minutes and needs testssl.sh).

    python bench/tls_grade.py [--keep]

Renders a one-site stack, runs the rendered install + conf scripts on a private loopback Apache
(127.0.0.1:38180/38543) with a certificate for site.example.test from a local test CA, then runs
`testssl.sh --severity MEDIUM` against it and prints every finding of MEDIUM or worse (the
test CA publishes no CRL/OCSP: revocation is expected to show).
Run it inside a network namespace (`/work/bin/ns-pytest BRANCH python3 bench/tls_grade.py`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.apache_backends import Backend  # noqa: E402
from tests.integration.apache_env import ApacheEnv  # noqa: E402

HTTP, HTTPS, BACKEND, DOMAIN = 38180, 38543, 38101, "site.example.test"


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="wpfleet-tls-"))
    base.chmod(0o755)
    stack = base / "Pulumi.tls.yaml"
    stack.write_text(
        "config:\n  wpfleet:box: {host: local}\n"
        f"  wpfleet:acme: {{email: a@example.test, configDir: {base}/le, webroot: {base}/acme}}\n"
        f"  wpfleet:apache: {{httpPort: {HTTP}, httpsPort: {HTTPS}}}\n"
        f"  wpfleet:sites:\n    - {{name: site, domain: {DOMAIN}, port: {BACKEND}}}\n")
    out = base / "out"
    subprocess.run([sys.executable, "-m", "components.render", str(stack), str(out)],
                   check=True, capture_output=True, timeout=120)
    live = base / "le" / "live" / DOMAIN
    live.mkdir(parents=True)
    ca, ca_key = base / "ca.pem", base / "ca.key"
    csr = base / "site.csr"
    for argv in (
            # a local test CA (testssl.sh is told to trust it: --add-ca) and a leaf it signs
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "90",
             "-subj", "/CN=wpfleet test CA", "-keyout", str(ca_key), "-out", str(ca)],
            ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={DOMAIN}",
             "-keyout", str(live / "privkey.pem"), "-out", str(csr)],
            ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "90", "-out", str(live / "fullchain.pem"),
             "-extfile", "/dev/stdin"]):
        subprocess.run(argv, check=True, capture_output=True, timeout=60,
                       input=f"subjectAltName=DNS:{DOMAIN}\nextendedKeyUsage=serverAuth\n"
                       .encode())
    backend = Backend(BACKEND).start()
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    try:
        for name in ("apache-install", "apache-acme", "apache-conf-site"):
            r = env.run_script(out / "commands" / f"{name}.sh")
            assert r.returncode == 0, r.stdout + r.stderr
        report = base / "testssl.json"
        subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off",
                        "--ip", "127.0.0.1", "--severity", "MEDIUM", "--add-ca", str(ca), "--jsonfile", str(report),
                        f"https://{DOMAIN}:{HTTPS}"], capture_output=True, timeout=900)
        findings = json.loads(report.read_text())
        print(f"testssl.sh findings of severity MEDIUM or worse against {DOMAIN}:{HTTPS}:")
        shown = [f for f in findings if f.get("severity") not in ("OK", "INFO", "LOW")]
        for f in shown:
            print(f"  {f['severity']:<8} {f['id']}: {f['finding']}")
        print(f"({len(shown)} of {len(findings)} entries; full JSON: {report})")
    finally:
        env.stop()
        backend.stop()
        if "--keep" not in sys.argv:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
