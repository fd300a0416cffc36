"""The page cache (`cache: {ttl: N}`) in the rendered balancer, in front of a REAL WordPress.

Debian's wordpress package on php-fpm with a private MariaDB, two replicas on loopback
(tests/integration/wordpress_env.py); the balancer is a private Apache set up by the rendered
install, cache, ACME and conf scripts, as on the box. Every request goes through the balancer;
"reached PHP" is counted from php-fpm's access logs. Ports: balancer 127.0.0.1:28280/28643,
replicas 18280-18281 (run inside a network namespace: /work/bin/ns-pytest).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.render.apache import cache as apache_cache
from tests.integration.apache_env import ApacheEnv, missing_binaries
from tests.integration.wordpress_env import ADMIN_PASSWORD, ADMIN_USER, WordPressEnv, missing

pytestmark = pytest.mark.integration
HTTP, HTTPS = 28280, 28643
REPLICAS = (18280, 18281)
HOST = "blog.example.test"
HOME = f"http://{HOST}:{HTTP}"
TTL = 5
SITE = "cachetest"  # its cache root: /var/cache/apache2/wpfleet-cachetest (removed afterwards)


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]]  # lower-case name -> values
    body: str

    def header(self, name: str) -> str:
        return ", ".join(self.headers.get(name.lower(), []))

    @property
    def cache(self) -> str:
        """HIT / MISS / REVALIDATE from mod_cache's X-Cache header; "" when it said nothing."""
        return self.header("x-cache").split(" ", 1)[0]


def fetch(path: str, jar: Path | None = None, data: dict[str, str] | None = None,
          headers: dict[str, str] | None = None, https: bool = False) -> Response:
    """One request through the balancer with curl (cookie jar read and written when given)."""
    port, home = (HTTPS, f"https://{HOST}:{HTTPS}") if https else (HTTP, HOME)
    with tempfile.TemporaryDirectory() as tmp:
        hfile, bfile = Path(tmp) / "h", Path(tmp) / "b"
        argv = ["curl", "-sS", "-k", "--max-time", "30", "--resolve", f"{HOST}:{port}:127.0.0.1",
                "-D", str(hfile), "-o", str(bfile)]
        if jar is not None:
            argv += ["-b", str(jar), "-c", str(jar)]
        for k, v in (headers or {}).items():
            argv += ["-H", f"{k}: {v}"]
        for k, v in (data or {}).items():
            argv += ["--data-urlencode", f"{k}={v}"]
        subprocess.run([*argv, home + path], check=True, timeout=60)
        lines = hfile.read_text(errors="replace").splitlines()
        found: dict[str, list[str]] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                found.setdefault(k.strip().lower(), []).append(v.strip())
        return Response(int(lines[0].split()[1]), found, bfile.read_text(errors="replace"))


@dataclass
class Stack:
    wp: WordPressEnv
    apache: ApacheEnv
    out: Path
    cron_dir: Path

    def script(self, name: str, suffix: str = ".sh") -> subprocess.CompletedProcess[str]:
        env = {**self.apache.env, "WPFLEET_CRON_DIR": str(self.cron_dir)}
        return subprocess.run(["bash", str(self.out / "commands" / f"{name}{suffix}")], env=env,
                              capture_output=True, text=True, timeout=120)

    def hits(self, expect: int | None = None) -> int:
        """Requests that reached PHP; with `expect`, wait (up to 5 s) for that many: php-fpm logs
        a request when PHP is done, which is after the response for wp-cron.php."""
        deadline = time.monotonic() + 5
        while expect is not None and self.wp.php_hits() < expect and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.wp.php_hits()


def render(base: Path) -> Path:
    doc = {"config": {
        "wpfleet:box": {"host": "local"},
        "wpfleet:acme": {"email": "admin@example.test", "configDir": f"{base}/le",
                         "webroot": f"{base}/acme"},
        "wpfleet:apache": {"httpPort": HTTP, "httpsPort": HTTPS},
        "wpfleet:sites": [{"name": SITE, "domain": HOST, "port": REPLICAS[0],
                           "replicas": len(REPLICAS), "tls": True,
                           "cache": {"ttl": TTL, "maxSizeMb": 16,
                                     "allowCookies": ["wpfleet_ok_*", "theme"]}}]}}
    stack_file = base / "Pulumi.cache.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    out = base / "out"
    proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if missing_binaries() or missing() or not shutil.which("curl"):
        pytest.skip(f"missing {missing_binaries() + missing()}: apt-get install -y "
                    "$(cat .ci/packages.d/h10.txt)")
    base = Path(tempfile.mkdtemp(prefix="wpfleet-cache-test-"))
    base.chmod(0o755)
    root = Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}"
    shutil.rmtree(root, ignore_errors=True)
    wp = WordPressEnv.create(HOME, REPLICAS, base / "wp")
    apache = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    cron_dir = base / "cron"
    cron_dir.mkdir()
    try:
        wp.start()
        s = Stack(wp, apache, render(base), cron_dir)
        for name in ("apache-install", "apache-acme", f"apache-cache-{SITE}",
                     f"apache-conf-{SITE}"):
            done = s.script(name)
            assert done.returncode == 0, f"{name}:\n{done.stdout}{done.stderr}"
            if name == "apache-install":
                apache.wait_reloads(0)
        yield s
    finally:
        apache.stop()
        wp.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def test_cache_script_enables_modules_root_and_cleaning_idempotently(stack: Stack) -> None:
    for m in ("cache", "cache_disk"):
        assert (stack.apache.root / "mods-enabled" / f"{m}.load").exists()
    root = Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}"
    assert root.is_dir() and root.owner() == "www-data"
    cron = stack.cron_dir / f"wpfleet-htcacheclean-{SITE}"
    assert f"htcacheclean -n -t -p {root} -l 16M" in cron.read_text()
    again = stack.script(f"apache-cache-{SITE}")
    assert again.returncode == 0 and again.stdout.startswith("unchanged"), again.stdout


def test_debian_htcacheclean_service_is_kept_off(stack: Stack, tmp_path: Path) -> None:
    """Issue 21 item 9: `a2enmod cache_disk` enables Debian's apache-htcacheclean service (its
    own 300 MB limit on a directory wpfleet does not use); the cache script turns it off again.
    The service managers are stubs on PATH that record their calls (no init system here)."""
    stubs, calls = tmp_path / "bin", tmp_path / "calls"
    stubs.mkdir()
    for name in ("update-rc.d", "systemctl", "invoke-rc.d"):
        (stubs / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n')
        (stubs / name).chmod(0o755)
    env = {**stack.apache.env, "PATH": f"{stubs}:/usr/sbin:/usr/bin:/sbin:/bin",
           "WPFLEET_CRON_DIR": str(stack.cron_dir)}
    subprocess.run(["a2dismod", "-q", "-f", "cache_disk"], env=stack.apache.env, check=True,
                   capture_output=True, timeout=60)
    done = subprocess.run(["bash", str(stack.out / "commands" / f"apache-cache-{SITE}.sh")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    htc = [c for c in calls.read_text().splitlines() if "apache-htcacheclean" in c]
    # a2enmod's side effect (systemctl where /run/systemd exists, as in this container; else
    # update-rc.d), then undone
    assert htc[0] in ("systemctl enable apache-htcacheclean",
                      "update-rc.d apache-htcacheclean enable"), htc
    assert htc[-1] in ("systemctl disable -q apache-htcacheclean",
                       "update-rc.d apache-htcacheclean disable"), htc
    assert htc[0].split()[0] == htc[-1].split()[0]
    assert "disabled Debian's apache-htcacheclean" in done.stdout
    assert fetch("/").status == 200


def test_anonymous_home_page_is_a_hit_after_warm_up(stack: Stack) -> None:
    first = fetch("/")
    assert first.status == 200 and "wpfleet cache test" in first.body
    warm("/")
    before = stack.hits()
    hit = fetch("/")
    assert hit.status == 200 and hit.body == first.body
    assert hit.cache == "HIT", hit.headers
    assert stack.hits() == before  # PHP never saw it
    # Accept-Encoding is normalised: other spellings share the copy (no per-spelling split)
    for spelling in ("gzip, deflate, br", "deflate, gzip", "identity"):
        fetch("/", headers={"Accept-Encoding": spelling})
    before = stack.hits()
    for spelling in ("gzip, deflate, br, zstd", "deflate, gzip", "identity"):
        assert fetch("/", headers={"Accept-Encoding": spelling}).cache == "HIT", spelling
    assert stack.hits() == before
    # a visitor's reload headers do not send the request to PHP (only the bypass rules do)
    for forced in ({"Cache-Control": "no-cache"}, {"Cache-Control": "max-age=0"},
                   {"Pragma": "no-cache"}):
        assert fetch("/", headers=forced).cache == "HIT", forced
    assert stack.hits() == before


def warm(path: str, https: bool = False) -> None:
    """Make sure `path` has a cached copy with >= 2 s to live, so the next request is a HIT
    (a copy about to expire would make the next one a refresh instead)."""
    for _ in range(10 * TTL):
        r = fetch(path, https=https)
        if r.cache == "MISS" or (r.cache == "HIT" and int(r.header("age") or 0) <= TTL - 3):
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never got a fresh cached copy")


def login(jar: Path, https: bool = False) -> None:
    fetch("/wp-login.php", jar, https=https)  # sets wordpress_test_cookie, needed by the POST
    r = fetch("/wp-login.php", jar, data={"log": ADMIN_USER, "pwd": ADMIN_PASSWORD,
                                         "wp-submit": "Log In", "testcookie": "1"}, https=https)
    assert r.status == 302, r.body[:500]
    assert "wordpress_logged_in_" in jar.read_text()


def test_logged_in_user_gets_admin_bar_next_anonymous_visitor_does_not(stack: Stack,
                                                                    tmp_path: Path) -> None:
    warm("/")
    assert fetch("/").cache == "HIT"  # an anonymous copy is in the cache
    jar = tmp_path / "admin.jar"
    login(jar)
    for path in ("/", "/hello-world/", "/sample-page/"):  # warm and cold entries alike
        for _ in range(2):
            before = stack.hits()
            mine = fetch(path, jar)
            assert mine.status == 200 and 'id="wpadminbar"' in mine.body, path
            assert mine.cache == "BYPASS" and stack.hits(before + 1) == before + 1, path
        for _ in range(2):
            anon = fetch(path)
            assert anon.status == 200 and "wpadminbar" not in anon.body, path
            assert "Log Out" not in anon.body and "Howdy" not in anon.body


def comment(post: str, name: str, email: str, jar: Path, consent: bool) -> Response:
    data = {"comment_post_ID": post, "author": name, "email": email, "url": "",
            "comment": f"A comment by {name}, held for moderation.", "comment_parent": "0"}
    if consent:  # "save my name and e-mail in this browser": the comment_author_* cookies
        data["wp-comment-cookies-consent"] = "yes"
    r = fetch("/wp-comments-post.php", jar, data=data)
    assert r.status == 302, r.body[:500]
    return r


def test_commenter_name_and_email_never_reach_another_visitor(stack: Stack,
                                                              tmp_path: Path) -> None:
    stack.wp.wp("update_option('comment_moderation', 1);")  # held: only the author may see it
    post = stack.wp.wp("echo wp_insert_post(['post_title' => 'Comment here', 'post_status' =>"
                       " 'publish', 'post_name' => 'comment-here']);").strip()
    name, email = "Carol Commenter", "carol.private@example.test"
    jar = tmp_path / "carol.jar"
    comment(post, name, email, jar, consent=True)
    assert "comment_author_email_" in jar.read_text()
    # the commenter's own view: her held comment, the form pre-filled with name and e-mail
    mine = fetch("/comment-here/", jar)
    assert email in mine.body and name in mine.body and mine.cache == "BYPASS"
    for _ in range(2):
        anon = fetch("/comment-here/")
        assert anon.status == 200 and email not in anon.body and name not in anon.body
    warm("/comment-here/")
    assert fetch("/comment-here/").cache == "HIT"  # the anonymous copy is cached...
    mine = fetch("/comment-here/", jar)  # ...and never served to the commenter
    assert email in mine.body and mine.cache == "BYPASS"
    assert name not in fetch("/comment-here/").body  # nor her page to anyone else
    # without the cookie consent WordPress links to ?unapproved=..&moderation-hash=.. instead,
    # which shows the held comment: never stored, so never served to anyone else
    r = comment(post, "Dave Nocookie", "dave.private@example.test", tmp_path / "d.jar", False)
    awaiting = r.header("location").replace(HOME, "")
    assert "unapproved=" in awaiting and "moderation-hash=" in awaiting
    for _ in range(3):
        shown = fetch(awaiting)
        assert "Dave Nocookie" in shown.body and shown.cache == "BYPASS"
    assert "Dave Nocookie" not in fetch("/comment-here/").body


def test_set_cookie_is_never_replayed(stack: Stack) -> None:
    values = []
    before = stack.hits()
    for _ in range(3):  # /sample-page/ sets a visitor cookie (the test's must-use plugin)
        r = fetch("/sample-page/")
        assert r.status == 200 and r.cache == "MISS"
        values += [c for c in r.headers.get("set-cookie", []) if c.startswith("wpfleet_visitor=")]
    assert len(values) == 3 and len(set(values)) == 3, values  # each visitor its own, from PHP
    assert stack.hits(before + 3) == before + 3
    root = Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}"
    stored = b"".join(p.read_bytes() for p in root.rglob("*.header"))
    assert stored and b"wpfleet_visitor" not in stored and b"Set-Cookie" not in stored


BYPASSED = ("/wp-login.php", "/wp-admin/", "/wp-json/", "/wp-json/wp/v2/posts", "/?rest_route=/",
            "/xmlrpc.php", "/wp-comments-post.php", "/wp-signup.php", "/wp-activate.php",
            "/?p=1&preview=true", "/wp-cron.php")
NOT_200 = ("/no-such-page/", "/hello-world")  # WordPress's 404 and canonical 301
PERSONAL_COOKIES = ("wordpress_logged_in_0123abcd=admin%7C1", "wordpress_0123abcd=x",
                    "wp-postpass_0123abcd=x", "comment_author_0123abcd=Eve",
                    "comment_author_email_0123abcd=eve%40example.test",
                    "wordpress_no_cache=1", "woocommerce_items_in_cart=1",
                    "woocommerce_cart_hash=abc", "wp_woocommerce_session_0123abcd=x")


def test_each_bypassed_path_cookie_and_method_is_a_miss_every_time(stack: Stack) -> None:
    for path in BYPASSED + NOT_200:
        before = stack.hits()
        for _ in range(3):
            r = fetch(path)
            assert r.cache == ("BYPASS" if path in BYPASSED else "MISS"), (path, r.headers)
        assert stack.hits(before + 3) >= before + 3, path  # every one reached PHP
    warm("/")
    assert fetch("/").cache == "HIT"
    for cookie in PERSONAL_COOKIES:
        before = stack.hits()
        for _ in range(2):
            assert fetch("/", headers={"Cookie": f"a=b; {cookie}"}).cache == "BYPASS", cookie
        assert stack.hits(before + 2) == before + 2, (cookie, stack.wp.php_log()[-12:])
    before = stack.hits()
    for _ in range(2):
        assert fetch("/", data={"s": "x"}).cache != "HIT"  # POST
    assert stack.hits(before + 2) == before + 2
    # not every cookie is personal: wp-login.php's test cookie does not bypass the cache
    warm("/")
    assert fetch("/", headers={"Cookie": "wordpress_test_cookie=WP%20Cookie%20check"}).cache \
        == "HIT"


def test_unknown_cookie_bypasses_the_cache_allow_listed_ones_do_not(stack: Stack) -> None:
    """Issue 21 item 6: a plugin's own cookie (visitor_id) personalises the page."""
    stack.wp.wp("wp_insert_post(['post_type' => 'page', 'post_title' => 'Cookie probe',"
                " 'post_name' => 'cookie-probe', 'post_content' => 'probe',"
                " 'post_status' => 'publish']);")
    before = stack.hits()
    mine = fetch("/cookie-probe/", headers={"Cookie": "_ga=GA1.2.3.4; visitor_id=alice-1234"})
    assert "welcome back visitor alice-1234" in mine.body and mine.cache == "BYPASS"
    assert stack.hits(before + 1) == before + 1
    for _ in range(3):  # never stored, so never served to anyone else
        anon = fetch("/cookie-probe/")
        assert anon.status == 200 and "alice-1234" not in anon.body, anon.headers
    warm("/cookie-probe/")
    assert fetch("/cookie-probe/").cache == "HIT"
    mine = fetch("/cookie-probe/", headers={"Cookie": "visitor_id=bob"})  # never looked up
    assert "welcome back visitor bob" in mine.body and mine.cache == "BYPASS"
    # analytics/consent cookies (the built-in list) and the site's own allowCookies do not
    for harmless in ("_ga=GA1.2.3.4; _gid=GA1.2.5; _ga_ABC123=GS1.1",
                     "cookielawinfo-checkbox-analytics=yes; viewed_cookie_policy=yes",
                     "wordpress_test_cookie=WP%20Cookie%20check", "wpfleet_ok_font=big",
                     "theme=dark; _fbp=fb.1.2", "cmplz_consent_status=allow"):
        assert fetch("/cookie-probe/", headers={"Cookie": harmless}).cache == "HIT", harmless
    for unknown in ("themes=dark", "xtheme=dark", "wpfleet_okay=1", "_ga=1; sessionid=2",
                    "PHPSESSID=abc"):
        assert fetch("/cookie-probe/", headers={"Cookie": unknown}).cache == "BYPASS", unknown


def test_authenticated_requests_are_never_served_or_stored(stack: Stack) -> None:
    """Issue 21 item 7: `Authorization` (HTTP auth, application passwords)."""
    warm("/")
    assert fetch("/").cache == "HIT"
    auth = {"Authorization": "Basic YWRtaW46c2VjcmV0"}
    before = stack.hits()
    for _ in range(2):
        assert fetch("/", headers=auth).cache == "BYPASS"
    assert stack.hits(before + 2) == before + 2  # both reached PHP
    stack.wp.wp("wp_insert_post(['post_type' => 'page', 'post_title' => 'Auth probe',"
                " 'post_name' => 'auth-probe', 'post_content' => 'probe',"
                " 'post_status' => 'publish']);")
    assert fetch("/auth-probe/", headers=auth).cache == "BYPASS"
    assert fetch("/auth-probe/").cache == "MISS"  # the authenticated answer was not stored


@pytest.mark.parametrize("query", ["wpfleet_long=1", "wpfleet_expires=1"])
def test_ttl_caps_a_longer_lifetime_sent_by_a_plugin(stack: Stack, query: str) -> None:
    """Issue 21 item 8: `max-age=86400` (or an Expires a day away) from a plugin."""
    first = fetch(f"/?{query}")
    stored = time.monotonic()
    assert first.cache == "MISS"
    assert fetch(f"/?{query}").cache == "HIT"
    time.sleep(max(0.0, stored + TTL + 1.5 - time.monotonic()))
    before = stack.hits()
    assert fetch(f"/?{query}").cache != "HIT"  # expired after the TTL, not after a day
    assert stack.hits(before + 1) == before + 1


def test_ttl_is_honoured(stack: Stack) -> None:
    warm("/feed/")  # feeds carry Last-Modified/ETag: after the TTL they are revalidated
    assert fetch("/feed/").cache == "HIT"
    page = stack.wp.wp("echo wp_insert_post(['post_type' => 'page', 'post_title' => 'TTL probe',"
                       " 'post_name' => 'ttl-probe', 'post_content' => 'version-one',"
                       " 'post_status' => 'publish']);").strip()
    first = fetch("/ttl-probe/")
    stored = time.monotonic()
    assert first.cache == "MISS" and "version-one" in first.body
    stack.wp.wp(f"wp_update_post(['ID' => {page}, 'post_content' => 'version-two']);")
    cached = fetch("/ttl-probe/")
    if time.monotonic() - stored < TTL - 1:  # still fresh: the old copy, from the cache
        assert cached.cache == "HIT" and "version-one" in cached.body
    time.sleep(max(0.0, stored + TTL + 1 - time.monotonic()))
    fresh = fetch("/ttl-probe/")
    assert fresh.cache != "HIT" and "version-two" in fresh.body
    again = fetch("/ttl-probe/")
    assert again.cache == "HIT" and "version-two" in again.body
    assert fetch("/feed/").cache == "MISS"  # stale, and changed since (a new page)
    stored = time.monotonic()
    assert fetch("/feed/").cache == "HIT"
    time.sleep(max(0.0, stored + TTL + 1 - time.monotonic()))
    stale = fetch("/feed/")  # unchanged: WordPress answers the conditional request with 304
    assert stale.cache == "REVALIDATE" and stale.status == 200 and "<rss" in stale.body
    assert fetch("/feed/").cache == "HIT"  # the revalidated copy is served again


def test_rendered_htcacheclean_runs_against_the_cache_apache_uses(stack: Stack) -> None:
    warm("/")
    assert fetch("/").cache == "HIT"
    line = (stack.cron_dir / f"wpfleet-htcacheclean-{SITE}").read_text().splitlines()[-1]
    argv = shlex.split(line)[6:]  # after the schedule and the user
    assert argv[0] == "/usr/bin/htcacheclean"
    subprocess.run(argv, check=True, timeout=60)  # under its limit: nothing to do
    assert fetch("/").cache == "HIT"
    limit = argv.index("-l") + 1
    argv[limit] = "1K"  # the same command with a limit below one page: the cache empties
    subprocess.run(argv, check=True, timeout=60)
    assert fetch("/").cache == "MISS"
    assert fetch("/").cache == "HIT"


def test_https_vhost_caches_and_bypasses_the_same_way(stack: Stack, tmp_path: Path) -> None:
    """Last: once the certificate exists, port 80 redirects everything to the 443 vhost."""
    live = stack.out.parent / "le" / "live" / HOST
    live.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-keyout", str(live / "privkey.pem"), "-out", str(live / "fullchain.pem")],
                   check=True, capture_output=True, timeout=60)
    # as after the cert command: the site's conf command puts certbot's (matching) pair in
    # front of Apache and reloads; <IfFile> is read at reload: the 443 vhost is now active
    done = stack.script(f"apache-conf-{SITE}")
    assert done.returncode == 0 and "holds the certificate and key" in done.stdout, done.stderr
    assert fetch("/").status == 301
    first = fetch("/", https=True)
    assert first.status == 200 and f"https://{HOST}:{HTTPS}/" in first.body
    warm("/", https=True)
    before = stack.hits()
    assert fetch("/", https=True).cache == "HIT"
    assert stack.hits() == before
    jar = tmp_path / "admin.jar"
    login(jar, https=True)
    assert "wordpress_sec_" in jar.read_text()  # the HTTPS-only auth cookie
    mine = fetch("/", jar, https=True)
    assert 'id="wpadminbar"' in mine.body and mine.cache == "BYPASS"
    anon = fetch("/", https=True)
    assert anon.status == 200 and "wpadminbar" not in anon.body


def test_cache_command_delete_removes_the_job_and_the_pages(stack: Stack) -> None:
    root = Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}"
    cron = stack.cron_dir / f"wpfleet-htcacheclean-{SITE}"
    assert root.is_dir() and cron.exists() and any(root.iterdir())
    gone = stack.script(f"apache-cache-{SITE}", ".delete.sh")
    assert gone.returncode == 0, gone.stderr
    assert f"removed {cron}" in gone.stdout and f"removed {root}" in gone.stdout
    assert not root.exists() and not cron.exists()
    again = stack.script(f"apache-cache-{SITE}", ".delete.sh")
    assert again.returncode == 0 and again.stdout == ""  # nothing left to remove
