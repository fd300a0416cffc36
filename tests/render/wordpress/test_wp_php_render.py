"""The PHP a site's replicas read (ini, wp-config constants, mail plugin), run under php-cli."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import SiteConfig, parse
from components.render.apache import vhost as apache
from components.render.wordpress import php as wp_php
from components.wordpress_site import config_extra

PHPMAILER = Path("/usr/share/wordpress/wp-includes/PHPMailer")


def site(**extra: Any) -> SiteConfig:
    return parse({"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [
        {"name": "blog", "domain": "blog.example.org", "port": 8082, "tls": False,
         **extra}]}).sites[0]


def php(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    if shutil.which("php") is None:
        pytest.skip("php missing: apt-get install php-cli")
    out = subprocess.run(["php", *args], input=code, capture_output=True, text=True,
                         timeout=60, env={**os.environ, **(env or {})})
    assert out.returncode == 0 and not out.stderr, out.stdout + out.stderr
    return out.stdout


def test_ini_sets_the_limits_php_reads(tmp_path: Path) -> None:
    ini = tmp_path / "zz-wpfleet.ini"
    ini.write_text(wp_php.php_ini(site(php={"uploadMaxMb": 200, "memoryLimitMb": 384,
                                            "maxExecutionSeconds": 120})))
    got = json.loads(php("<?php echo json_encode(array_map('ini_get', ['upload_max_filesize', "
                         "'post_max_size', 'memory_limit']));", "-n", "-c", str(ini)))
    assert got == ["200M", "208M", "384M"]
    # php-cli forces unlimited time; a web SAPI (FPM here, mod_php in the image) reads the file
    fpm = sorted(Path("/usr/sbin").glob("php-fpm*"))
    if not fpm:
        pytest.skip("php-fpm missing: apt-get install php-fpm")
    info = subprocess.run([str(fpm[0]), "-n", "-c", str(ini), "-i"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "max_execution_time => 120 => 120" in info and "max_input_time => 120 => 120" in info
    assert "upload_max_filesize => 200M => 200M" in info
    # and the defaults lift PHP's own 2 MB upload limit
    ini.write_text(wp_php.php_ini(site()))
    assert php("<?php echo ini_get('upload_max_filesize');", "-n", "-c", str(ini)) == "64M"


def test_apache_body_limit_matches_post_max_size() -> None:
    s = site(php={"uploadMaxMb": 100})
    stack = parse({"box": {"host": "local"}, "sites": [
        {"name": "blog", "domain": "blog.example.org", "port": 8082, "tls": True,
         "php": {"uploadMaxMb": 100}}], "acme": {"email": "a@example.org"}})
    conf = apache.site_conf(stack, stack.sites[0])
    # in both vhosts (HTTP before the certificate, HTTPS after), before the proxying
    rule = ("    RewriteCond %{REQUEST_URI} !^/\\.well\\-known/acme\\-challenge/\n"
            f'    RewriteCond expr "%{{HTTP:Content-Length}} -gt {108 * 1024 * 1024}"\n'
            "    RewriteRule ^ - [R=413,L]\n")
    assert conf.count(rule) == 2
    assert conf.index(rule) < conf.index("ProxyPass / ")
    assert "post_max_size = 108M" in wp_php.php_ini(s)


def test_constants_and_cron_switch_are_exact_php_values() -> None:
    hostile = "it's \\' ); system('id'); // $HOME {$x} \\"
    s = site(wpConfig={"WP_POST_REVISIONS": 5, "DISALLOW_FILE_EDIT": True, "WP_X": hostile,
                       "WP_F": 0.25, "WP_OFF": False}, cronMinutes=2)
    code = ("<?php\n" + config_extra(s) + "echo json_encode(['cron' => DISABLE_WP_CRON, "
            "'rev' => WP_POST_REVISIONS, 'edit' => DISALLOW_FILE_EDIT, 'x' => WP_X, "
            "'f' => WP_F, 'off' => WP_OFF, 'home' => WP_HOME]);")
    got = json.loads(php(code.replace("echo json_encode", config_extra(s) + "echo json_encode"),
                         "-n", "-d", "error_reporting=-1", "-d", "display_errors=stderr"))
    # (evaluated twice, as `wp config` does: still no warning, php() fails on any stderr)
    assert got == {"cron": True, "rev": 5, "edit": True, "x": hostile, "f": 0.25, "off": False,
                   "home": "http://blog.example.org"}
    # without the box timer WordPress keeps its own page-load cron
    assert "DISABLE_WP_CRON" not in config_extra(site(cronMinutes=0))
    assert php("<?php\n" + config_extra(site(cronMinutes=0))
               + "echo defined('DISABLE_WP_CRON') ? 'set' : 'unset';", "-n") == "unset"


class _SMTP(socketserver.StreamRequestHandler):
    """Just enough ESMTP for PHPMailer: EHLO with AUTH, AUTH PLAIN/LOGIN, one message."""

    seen: list[tuple[str, str]] = []

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 test ESMTP")
        while line := self.rfile.readline().decode().rstrip("\r\n"):
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                self.reply("250-test")
                self.reply("250 AUTH PLAIN LOGIN")
            elif verb == "AUTH" and line.upper().startswith("AUTH PLAIN"):
                blob = line.split(" ", 2)[2] if line.count(" ") >= 2 else ""
                if not blob:
                    self.reply("334 ")
                    blob = self.rfile.readline().decode().strip()
                self.seen.append(("auth", base64.b64decode(blob).decode()))
                self.reply("235 ok")
            elif verb == "AUTH":  # LOGIN
                self.reply("334 VXNlcm5hbWU6")
                user = base64.b64decode(self.rfile.readline().strip()).decode()
                self.reply("334 UGFzc3dvcmQ6")
                pw = base64.b64decode(self.rfile.readline().strip()).decode()
                self.seen.append(("auth", f"\0{user}\0{pw}"))
                self.reply("235 ok")
            elif verb in ("MAIL", "RCPT"):
                self.seen.append((verb.lower(), line))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go")
                body = []
                while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                    body.append(data)
                self.seen.append(("data", "".join(body)))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    _SMTP.seen = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _SMTP.seen
    finally:
        server.shutdown()
        server.server_close()


# WordPress's hook API, reduced to what the plugin uses, and wp_mail's own steps around
# phpmailer_init: From from the wp_mail_from filter, then the hook, then send().
HOOKS = """<?php
define('ABSPATH', '/tmp/');
$hooks = [];
function add_action($name, $fn) { global $hooks; $hooks[$name][] = $fn; }
function add_filter($name, $fn) { add_action($name, $fn); }
function apply_filters($name, $value) { global $hooks;
    foreach ($hooks[$name] ?? [] as $fn) { $value = $fn($value); } return $value; }
function do_action($name, $arg) { global $hooks; foreach ($hooks[$name] ?? [] as $fn) { $fn($arg); } }
class WP_Error { public function __construct(public $c, public $m) {}
    public function get_error_message() { return $this->m; } }
"""
SEND = """
require '@DIR@/PHPMailer.php'; require '@DIR@/SMTP.php'; require '@DIR@/Exception.php';
$m = new PHPMailer\\PHPMailer\\PHPMailer(true);
$m->setFrom(apply_filters('wp_mail_from', 'wordpress@example.net'));
do_action('phpmailer_init', $m);
$m->addAddress('reader@example.org'); $m->Subject = 'Password reset'; $m->Body = 'hello';
echo json_encode(['secure' => $m->SMTPSecure, 'autotls' => $m->SMTPAutoTLS, 'host' => $m->Host]);
if (getenv('SEND')) { try { $m->send(); } catch (Exception $e) {
    do_action('wp_mail_failed', new WP_Error('wp_mail_failed', $e->getMessage())); } }
"""


def run_plugin(s: SiteConfig, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if not PHPMAILER.is_dir():
        pytest.skip("Debian's wordpress (PHPMailer) missing: apt-get install wordpress")
    plugin = tmp_path / "wpfleet-mail.php"
    plugin.write_text(wp_php.mail_plugin(s))
    code = HOOKS + f"require '{plugin}';\n" + SEND.replace("@DIR@", str(PHPMAILER))
    if shutil.which("php") is None:
        pytest.skip("php missing: apt-get install php-cli")
    # no machine ini (-n); PHPMailer needs ctype; mail() fails like in the container (which
    # has no sendmail), whatever MTA this machine has
    return subprocess.run(["php", "-n", "-d", "extension=ctype", "-d", "sendmail_path=/bin/false"],
                          input=code, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_mail_plugin_sends_through_smtp_with_the_secret_from_its_file(
        tmp_path: Path, smtp_server: tuple[int, list[tuple[str, str]]]) -> None:
    """The password is read from the file WPFLEET_SMTP_PASSWORD_FILE names (site-secrets-<site>
    writes it, the replicas mount it): a value in the environment itself is not used."""
    port, seen = smtp_server
    s = site(smtp={"host": "127.0.0.1", "port": port, "user": "wp@example.org",
                   "from": "news@example.org", "tls": False})
    text = wp_php.mail_plugin(s)
    assert "pa55" not in text  # the file on the box holds no secret
    secret = tmp_path / "WPFLEET_SMTP_PASSWORD"
    secret.write_text("pa55'w\"rd")  # as site-secrets writes it: no trailing newline
    out = run_plugin(s, tmp_path, {"SEND": "1", f"{wp_php.SMTP_PASSWORD_ENV}_FILE": str(secret),
                                   wp_php.SMTP_PASSWORD_ENV: "not-this-one"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout) == {"secure": "", "autotls": False, "host": "127.0.0.1"}
    assert ("auth", "\0wp@example.org\0pa55'w\"rd") in seen
    assert ("mail", "MAIL FROM:<news@example.org>") in seen  # envelope sender
    data = next(v for k, v in seen if k == "data")
    assert "From: news@example.org" in data and "Subject: Password reset" in data


def test_mail_plugin_tls_modes(tmp_path: Path) -> None:
    starttls = site(smtp={"host": "smtp.example.org", "from": "a@example.org"})
    out = run_plugin(starttls, tmp_path, {})
    assert json.loads(out.stdout) == {"secure": "tls", "autotls": True,
                                      "host": "smtp.example.org"}
    implicit = site(smtp={"host": "smtp.example.org", "port": 465, "from": "a@example.org"})
    assert json.loads(run_plugin(implicit, tmp_path, {}).stdout)["secure"] == "ssl"
    assert "SMTPAuth" not in wp_php.mail_plugin(starttls)  # no user: no login


def test_without_smtp_the_plugin_only_logs_that_mail_stays_on_the_box(tmp_path: Path) -> None:
    out = run_plugin(site(), tmp_path, {"SEND": "1"})
    assert out.returncode == 0, out.stderr
    # PHPMailer's mail() transport fails in the container (no sendmail): the log says why
    assert json.loads(out.stdout.splitlines()[0].split("}")[0] + "}")["host"] == "localhost"
    log = out.stdout + out.stderr
    assert "wpfleet mail: not sent" in log and "no smtp configured for this site" in log
