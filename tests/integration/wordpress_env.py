"""A real WordPress for the page-cache tests and benchmark: Debian's `wordpress` package on
php-fpm with a private MariaDB, served by two "replicas" on loopback (no systemd, no network).

    wp = WordPressEnv.create(home="http://blog.example.test:28280", replica_ports=(18280, 18281))
    wp.start()            # mariadbd + install + php-fpm (one pool per replica) + replica Apache
    wp.php_hits()         # requests that reached PHP so far (php-fpm access logs of both pools)
    wp.stop()             # always (fixture finalizer)

- MariaDB: `mariadb-install-db` into `<base>/db`, `mariadbd` on a unix socket only
  (--skip-networking), run as root; WordPress connects as a password user over that socket.
- Docroot `<base>/www`: a copy of /usr/share/wordpress (wp-includes symlinked: it only uses
  ABSPATH), our own wp-config.php, the twentytwentyone theme from Debian's package, and a
  must-use plugin standing in for plugins that set a cookie for anonymous visitors
  (`/sample-page/` sets `wpfleet_visitor`).
- php-fpm: one master, pools r0 and r1 (static children, one unix socket and access log each).
- Replicas: one private Apache (mpm_event, mod_proxy_fcgi, mod_deflate like the official image)
  listening on both replica ports, port i -> pool ri, pretty permalinks via FallbackResource.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from components.render.apache.vhost import HEALTH_URI
from tests.integration.apache_env import wait_port

WORDPRESS = Path("/usr/share/wordpress")
THEME = "twentytwentyone"
PHP_FPM = "php-fpm8.2"
BINARIES = ("mariadbd", "mariadb-install-db", "mariadb", "php", PHP_FPM, "apache2")
ADMIN_USER, ADMIN_PASSWORD, ADMIN_EMAIL = "admin", "admin-test-password", "admin@example.test"
DB_PASSWORD = "wp-test-db-password"  # a throwaway local test database on a private socket
MODULES = ("mpm_event", "authz_core", "mime", "dir", "proxy", "proxy_fcgi",
           "deflate", "filter", "headers")


def missing() -> list[str]:
    """What is not installed (apt-get install mariadb-server php-fpm php-mysql wordpress ...)."""
    out = [b for b in BINARIES if shutil.which(b) is None]
    if not (WORDPRESS / "wp-settings.php").exists():
        out.append("wordpress")
    if not (WORDPRESS / "wp-content/themes" / THEME).exists():
        out.append(f"wordpress-theme-{THEME}")
    return out


WP_CONFIG = """\
<?php
define('DB_NAME', 'wp');
define('DB_USER', 'wp');
define('DB_PASSWORD', '%(db_password)s');
define('DB_HOST', 'localhost:%(socket)s');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
%(salts)s
$table_prefix = 'wp_';
/* Like the official image: the balancer says which scheme the visitor used. WordPress is
   reached as http:// (port 80 vhost) and https:// (443 vhost) under the Host it was asked for. */
$wpfleet_https = ($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '') === 'https';
if ($wpfleet_https) { $_SERVER['HTTPS'] = 'on'; }
if (PHP_SAPI !== 'cli' && isset($_SERVER['HTTP_HOST'])) {
    define('WP_HOME', ($wpfleet_https ? 'https://' : 'http://') . $_SERVER['HTTP_HOST']);
} else {
    define('WP_HOME', '%(home)s');
}
define('WP_SITEURL', WP_HOME);
define('DISABLE_WP_CRON', true);  /* no loopback requests muddying the PHP hit counts */
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }
require_once ABSPATH . 'wp-settings.php';
"""

MU_PLUGIN = """\
<?php
/* The tests post several comments a second: no flood check. */
remove_action('check_comment_flood', 'check_comment_flood_db', 10);
/* A stand-in for plugins that give anonymous visitors a cookie on some page (a visitor id). */
add_action('template_redirect', function () {
    if (is_page('sample-page')) {
        setcookie('wpfleet_visitor', bin2hex(random_bytes(8)), 0, '/');
    }
    /* a plugin that sends its own, long lifetime (issue 21: the TTL must cap it) */
    if (isset($_GET['wpfleet_long'])) {
        header('Cache-Control: public, max-age=86400');
    }
    if (isset($_GET['wpfleet_expires'])) {
        header('Expires: ' . gmdate('D, d M Y H:i:s', time() + 86400) . ' GMT');
    }
});
/* A plugin that personalises pages with a cookie the cache has never heard of (issue 21). */
add_filter('the_content', function ($content) {
    if (isset($_COOKIE['visitor_id'])) {
        $content = '<p>welcome back visitor ' . esc_html($_COOKIE['visitor_id']) . '</p>' . $content;
    }
    return $content;
});
"""

INSTALL = """\
<?php
$_SERVER['HTTP_HOST'] = parse_url('%(home)s', PHP_URL_HOST);
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require '%(www)s/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('wpfleet cache test', '%(user)s', '%(email)s', true, '', '%(password)s');
update_option('permalink_structure', '/%%postname%%/');
switch_theme('%(theme)s');
echo "installed\\n";
"""

FPM_CONF = """\
[global]
pid = %(base)s/run/fpm.pid
error_log = %(base)s/log/fpm-error.log
daemonize = no
%(pools)s"""
FPM_POOL = """\
[r%(i)d]
user = www-data
group = www-data
listen = %(base)s/run/fpm-r%(i)d.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = %(children)d
access.log = %(base)s/log/php-r%(i)d.log
access.format = "%%t %%m %%{REQUEST_URI}e %%s"
"""

REPLICA_CONF = """\
ServerRoot %(base)s/replica
PidFile %(base)s/run/replica.pid
DefaultRuntimeDir %(base)s/run
Mutex file:%(base)s/run default
ErrorLog %(base)s/log/replica-error.log
LogLevel warn
ServerName 127.0.0.1
User www-data
Group www-data
%(modules)s
TypesConfig /etc/mime.types
<IfModule mpm_event_module>
    ThreadsPerChild 32
    MaxRequestWorkers 128
</IfModule>
DirectoryIndex index.php
AddOutputFilterByType DEFLATE text/html text/css application/javascript application/json
%(vhosts)s"""
REPLICA_VHOST = """\
Listen 127.0.0.1:%(port)d
<VirtualHost 127.0.0.1:%(port)d>
    DocumentRoot %(www)s
    <Directory %(www)s>
        Require all granted
        FallbackResource /index.php
    </Directory>
    <FilesMatch "\\.php$">
        SetHandler "proxy:unix:%(base)s/run/fpm-r%(i)d.sock|fcgi://r%(i)d/"
    </FilesMatch>
</VirtualHost>
"""


@dataclass
class WordPressEnv:
    base: Path
    home: str  # WP_HOME: the address visitors use (the balancer), e.g. http://blog.test:28280
    replica_ports: tuple[int, ...]
    php_children: int = 3  # php-fpm children per replica
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def create(cls, home: str, replica_ports: tuple[int, ...], base: Path | None = None,
               php_children: int = 3) -> WordPressEnv:
        if base is None:
            base = Path(tempfile.mkdtemp(prefix="wpfleet-wp-"))
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        for d in ("run", "log", "db", "replica"):
            (base / d).mkdir(exist_ok=True)
        shutil.chown(base / "log", "www-data", "www-data")
        return cls(base=base, home=home, replica_ports=replica_ports, php_children=php_children)

    @property
    def socket(self) -> Path:
        return self.base / "run" / "mariadb.sock"

    @property
    def www(self) -> Path:
        return self.base / "www"

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.base / "log" / f"{name}.out", "ab")  # noqa: SIM115 (owned by the child)
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def sql(self, statements: str) -> str:
        return subprocess.run(["mariadb", "--no-defaults", "-S", str(self.socket), "-u", "root",
                               "-N", "-B"], input=statements, capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def start(self) -> WordPressEnv:
        self._start_db()
        self._docroot()
        self.php(INSTALL % {"home": self.home, "www": self.www, "user": ADMIN_USER,
                            "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "theme": THEME})
        self._start_fpm()
        self._start_replicas()
        return self

    def php(self, code: str) -> str:
        """Run PHP code with php-cli (as root: reads the docroot, talks to the DB socket)."""
        path = self.base / "run" / "cli.php"
        path.write_text(code)
        proc = subprocess.run(["php", str(path)], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"php failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def wp(self, code: str) -> str:
        """PHP code run inside the installed WordPress (e.g. wp_insert_post(...))."""
        return self.php(f"<?php\n$_SERVER['HTTP_HOST'] = parse_url('{self.home}', PHP_URL_HOST);\n"
                        f"require '{self.www}/wp-load.php';\n{code}\n")

    def _start_db(self) -> None:
        datadir = self.base / "db"
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}",
                        "--user=root", "--skip-test-db", "--auth-root-authentication-method=socket"],
                       capture_output=True, check=True, timeout=120)
        self._spawn("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={datadir}", "--user=root",
                                 f"--socket={self.socket}", "--skip-networking",
                                 f"--pid-file={self.base}/run/mariadb.pid",
                                 f"--log-error={self.base}/log/mariadb.err",
                                 "--innodb-buffer-pool-size=64M", "--skip-log-bin"])
        deadline = time.monotonic() + 60
        while True:
            try:
                self.sql("SELECT 1;")
                break
            except subprocess.CalledProcessError as err:
                if time.monotonic() > deadline or self.procs["mariadbd"].poll() is not None:
                    raise RuntimeError("mariadbd did not start:\n" + (
                        self.base / "log/mariadb.err").read_text(errors="replace")[-2000:]) from err
                time.sleep(0.2)
        self.sql(f"CREATE DATABASE wp; CREATE USER 'wp'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';"
                 " GRANT ALL ON wp.* TO 'wp'@'localhost';")

    def _docroot(self) -> None:
        www = self.www
        shutil.copytree(WORDPRESS, www, symlinks=True,
                        ignore=shutil.ignore_patterns("wp-includes", "wp-content", ".htaccess",
                                                      "wp-config.php"))
        (www / "wp-includes").symlink_to(WORDPRESS / "wp-includes")  # only reached via ABSPATH
        content = www / "wp-content"
        for d in ("themes", "plugins", "mu-plugins", "uploads"):
            (content / d).mkdir(parents=True)
        (content / "themes" / THEME).symlink_to(WORDPRESS / "wp-content/themes" / THEME)
        # upstream WordPress (and so the official image) ships this file; Debian's package does
        # not. The balancer's health check GETs it: without it every replica is out (404)
        (content / "index.php").write_text("<?php\n// Silence is golden.\n")
        (content / "mu-plugins" / "visitor-cookie.php").write_text(MU_PLUGIN)
        shutil.chown(content / "uploads", "www-data", "www-data")
        salts = "\n".join(f"define('{k}', '{os.urandom(24).hex()}');" for k in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
            "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        (www / "wp-config.php").write_text(WP_CONFIG % {
            "db_password": DB_PASSWORD, "socket": self.socket, "salts": salts, "home": self.home})

    def _start_fpm(self) -> None:
        pools = "".join(FPM_POOL % {"i": i, "base": self.base, "children": self.php_children}
                        for i in range(len(self.replica_ports)))
        conf = self.base / "fpm.conf"
        conf.write_text(FPM_CONF % {"base": self.base, "pools": pools})
        self._spawn("php-fpm", [PHP_FPM, "-F", "-y", str(conf)])
        for i in range(len(self.replica_ports)):
            self._wait_file(self.base / "run" / f"fpm-r{i}.sock", "php-fpm")

    def _start_replicas(self) -> None:
        lib = "/usr/lib/apache2/modules"
        modules = "\n".join(f"LoadModule {m}_module {lib}/mod_{m}.so" for m in MODULES)
        vhosts = "".join(REPLICA_VHOST % {"port": port, "www": self.www, "base": self.base, "i": i}
                         for i, port in enumerate(self.replica_ports))
        conf = self.base / "replica" / "httpd.conf"
        conf.write_text(REPLICA_CONF % {"base": self.base, "modules": modules, "vhosts": vhosts})
        test = subprocess.run(["apache2", "-t", "-f", str(conf)], capture_output=True, text=True,
                              timeout=30)
        if test.returncode != 0:
            raise RuntimeError(f"replica Apache conf rejected:\n{test.stderr}")
        self._spawn("replicas", ["apache2", "-f", str(conf), "-DFOREGROUND"])
        for port in self.replica_ports:
            wait_port(port, timeout=20)

    def _wait_file(self, path: Path, name: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline or self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} did not create {path}")
            time.sleep(0.05)

    def php_log(self) -> list[str]:
        """Every request that reached PHP (both pools), as php-fpm logged it."""
        lines: list[str] = []
        for i in range(len(self.replica_ports)):
            path = self.base / "log" / f"php-r{i}.log"
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()
        return lines

    def php_hits(self) -> int:
        """Visitor requests that reached PHP: the balancer's health checks (HCHECK's URI, every
        5 s per replica) are not counted."""
        probe = f" GET {HEALTH_URI} "
        return sum(1 for line in self.php_log() if probe not in line)

    def stop(self) -> None:
        for name in ("replicas", "php-fpm", "mariadbd"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
