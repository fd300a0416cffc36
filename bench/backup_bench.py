"""Backup benchmark: first and incremental `wpfleet-backup` of one site, real restic + MariaDB.

    /work/bin/ns-pytest BRANCH python3 bench/backup_bench.py [--uploads-mb 100] [--db-mb 50]

The site: a MariaDB database of ~DB_MB (WordPress-like posts: text, compressible) dumped with
the rendered program, and ~UPLOADS_MB of uploads: 40% incompressible "photos" (random bytes),
30% exact duplicates of some of them (the same image uploaded twice), 30% text-like files
(CSS/JS/SVG-ish, compressible). Runs: first backup; incremental after +5% new uploads and 1%
of the rows changed; a run with nothing changed. Prints time, bytes read (dump + files),
repository growth and the ratio read / stored (dedup + compression). Figures, never asserted.
The repository key uses restic's own calibrated KDF (no test shortcut).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.config import BackupConfig  # noqa: E402
from tests.integration.backup_env import Box, install_datadir, new_box  # noqa: E402

PASSWORD = "bench-restic-password"
WORDS = ("wordpress", "site", "post", "content", "block", "theme", "plugin", "media", "gallery",
         "comment", "author", "tag", "category", "page", "draft", "revision", "excerpt")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def text_blob(rng: random.Random, size: int) -> bytes:
    out = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + f" {rng.randrange(10**6)};\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def make_uploads(root: Path, total_mb: int, rng: random.Random, prefix: str = "") -> int:
    """Photos (random), duplicates of photos, text-like assets; returns bytes written."""
    written, budget = 0, total_mb * 2**20
    photos: list[Path] = []
    month = root / "wp-content/uploads/2026" / (prefix or "01")
    month.mkdir(parents=True, exist_ok=True)
    while written < budget * 0.4:
        p = month / f"{prefix}photo-{len(photos)}.jpg"
        p.write_bytes(os.urandom(rng.randrange(1, 4) * 2**20))
        photos.append(p)
        written += p.stat().st_size
    i = 0
    while written < budget * 0.7 and photos:
        src = photos[i % len(photos)]
        dup = month / f"{src.stem}-copy{i}.jpg"
        dup.write_bytes(src.read_bytes())
        written += dup.stat().st_size
        i += 1
    j = 0
    while written < budget:
        p = month / f"{prefix}asset-{j}.css"
        p.write_bytes(text_blob(rng, rng.randrange(50, 500) * 1024))
        written += p.stat().st_size
        j += 1
    return written


def make_db(box: Box, db_mb: int) -> None:
    rows = db_mb * 1000  # ~1 KB per post
    db = box.dbs["blog"]
    db.sql("CREATE TABLE wp_posts (ID BIGINT PRIMARY KEY AUTO_INCREMENT, post_title TEXT, "
           "post_content LONGTEXT, post_modified DATETIME) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    db.sql("INSERT INTO wp_posts (post_title, post_content, post_modified) "
           "SELECT CONCAT('Post ', seq), CONCAT_WS(' ', MD5(seq), REPEAT(CONCAT("
           "ELT(1 + seq % 5, 'WordPress', 'theme', 'plugin', 'gallery', 'comment'), ' content of "
           "post ', seq, ', with words. '), 24)), NOW() "
           f"FROM seq_1_to_{rows}")


def backup(box: Box, repo: Path, when: str) -> tuple[float, int]:
    before = du(repo)
    t0 = time.perf_counter()
    r = box.run("wpfleet-backup", BACKUP_TIME=when)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"backup failed: {r.stderr}")
    return elapsed, du(repo) - before


def dump_size(box: Box) -> int:
    out = subprocess.run(["bash", "-c", f"{box.root}/bin/docker exec -i wpfleet-blog-db sh -c "
                          "'MYSQL_PWD=\"$MARIADB_ROOT_PASSWORD\" exec mariadb-dump -uroot "
                          "--single-transaction --skip-dump-date wordpress' | wc -c"],
                         capture_output=True, text=True, env=box.env(), check=True)
    return int(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads-mb", type=int, default=100)
    ap.add_argument("--db-mb", type=int, default=50)
    args = ap.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        root = Path(tmp)
        box = new_box(root / "box", install_datadir(root / "template"))
        try:
            box.add_site("blog", replicas=1)
            make_db(box, args.db_mb)
            make_uploads(box.html("blog"), args.uploads_mb, rng)
            repo = root / "repo"
            box.install(BackupConfig(repository=str(repo)), PASSWORD)
            box.restic(repo, "init")
            rows = []
            for label, when, change in (
                ("first", "2026-03-01 03:00:00", None),
                ("incremental", "2026-03-02 03:00:00", "+5% uploads, 1% rows"),
                ("unchanged", "2026-03-03 03:00:00", None),
            ):
                if change:
                    make_uploads(box.html("blog"), max(1, args.uploads_mb // 20), rng, "02")
                    box.dbs["blog"].sql("UPDATE wp_posts SET post_content = CONCAT(post_content,"
                                        " ' edited'), post_modified = NOW() WHERE ID % 100 = 0")
                read = dump_size(box) + du(box.html("blog"))
                elapsed, grew = backup(box, repo, when)
                rows.append((label, elapsed, read, grew))
        finally:
            for db in box.dbs.values():
                db.stop()
    mb = 2**20
    print(f"\nsite: ~{args.db_mb} MB database (as SQL dump) + ~{args.uploads_mb} MB uploads "
          "(40% random, 30% duplicates, 30% text)")
    print(f"{'backup':<12} {'time s':>7} {'read MB':>8} {'repo +MB':>9} {'read/stored':>12}")
    for label, elapsed, read, grew in rows:
        ratio = f"{read / grew:.1f}x" if grew > mb // 10 else "metadata only"
        print(f"{label:<12} {elapsed:7.1f} {read / mb:8.1f} {grew / mb:9.2f} {ratio:>12}")


if __name__ == "__main__":
    main()
