"""The render CLI's OUT_DIR holds exactly the latest render, and shows what it cannot run:
every resource `up` registers, per site, recorded from the program itself (issue 8, item 17)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.harness import ROOT, run_stack
from tests.render.test_render_stackfile import BACKEND, STACK

SECRETS = "  wpfleet:backendSecrets:\n    api:\n      API_KEY:\n        secure: AAABAk\n" \
          "      DB_URL:\n        secure: AAABAu\n"


def render(stack_file: Path, out: Path, cwd: Path = ROOT,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
                          env=env)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text)
    return path


def test_a_removed_site_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(write(tmp_path, STACK), out).returncode == 0
    conf = out / "etc/apache2/sites-available/wpfleet-notes.conf"
    assert conf.is_file() and (out / "commands/apache-conf-notes.sh").is_file()
    assert (out / "plan/sites/notes.yaml").is_file()
    without_notes = STACK[:STACK.index("    - name: notes")]
    done = render(write(tmp_path, without_notes), out)
    assert done.returncode == 0, done.stderr
    for gone in (conf, out / "commands/apache-conf-notes.sh",
                 out / "commands/apache-conf-notes.delete.sh", out / "plan/sites/notes.yaml"):
        assert not gone.exists(), gone
        assert f"removed {gone} (not part of this render)" in done.stdout
    assert (out / "etc/apache2/sites-available/wpfleet-blog.conf").is_file()
    assert not (out / "plan/sites").joinpath("notes.yaml").exists()


def test_a_foreign_directory_is_never_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "home"
    (out / "docs").mkdir(parents=True)
    (out / "docs/thesis.tex").write_text("years of work")
    done = render(write(tmp_path, STACK), out)
    assert done.returncode == 1
    assert "OUT_DIR is not empty and holds no .wpfleet-render file" in done.stderr
    assert sorted(p.name for p in out.rglob("*")) == ["docs", "thesis.tex"]
    # an empty directory is fine, and becomes a render output
    (tmp_path / "fresh").mkdir()
    assert render(write(tmp_path, STACK), tmp_path / "fresh").returncode == 0
    assert (tmp_path / "fresh/.wpfleet-render").is_file()


def test_cleaning_removes_links_not_what_they_point_to(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(write(tmp_path, STACK), out).returncode == 0
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    (out / "link-to-dir").symlink_to(precious)
    (out / "etc/stray.conf").write_text("left by hand")
    done = render(write(tmp_path, STACK), out)
    assert done.returncode == 0, done.stderr
    assert not (out / "link-to-dir").is_symlink() and not (out / "etc/stray.conf").exists()
    assert (precious / "keep.txt").read_text() == "keep"
    # a directory of the render replaced by a link: the next render never writes through it
    shutil.rmtree(out / "etc")
    (out / "etc").symlink_to(precious)
    done = render(write(tmp_path, STACK), out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in precious.iterdir()) == ["keep.txt"]
    assert not (out / "etc").is_symlink()
    assert (out / "etc/apache2/sites-available/wpfleet-blog.conf").is_file()


def plan_of(out: Path, rel: str) -> dict:
    doc = yaml.safe_load((out / "plan" / rel).read_text())
    return {k: {e["name"]: e for e in v} if isinstance(v, list) else v for k, v in doc.items()}


def test_plan_shows_each_sites_containers_networks_volumes_images(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = render(write(tmp_path, STACK + BACKEND + SECRETS), out)
    assert done.returncode == 0, done.stderr
    blog = plan_of(out, "sites/blog.yaml")
    assert set(blog["containers"]) == {"blog-db", "blog-wp-0", "blog-wp-1"}
    assert {c["inputs"]["name"] for c in blog["containers"].values()} == {
        "wpfleet-blog-db", "wpfleet-blog-wp-0", "wpfleet-blog-wp-1"}
    assert [p["external"] for p in blog["containers"]["blog-wp-1"]["inputs"]["ports"]] == [8083]
    nets = {n["inputs"]["name"] for n in blog["networks"].values()}
    assert nets == {n["name"] for c in blog["containers"].values()
                    for n in c["inputs"]["networksAdvanced"]}
    assert {v["inputs"]["name"] for v in blog["volumes"].values()} == {
        v["volumeName"] for c in blog["containers"].values() for v in c["inputs"]["volumes"]
        if "volumeName" in v}  # bind mounts (hostPath: the PHP ini, the mail plugin) are no volumes
    assert {i["inputs"]["name"] for i in blog["images"].values()} == {
        "wordpress:6.8.3-php8.3-apache", "mariadb:11.4.8"}
    assert "notes" not in json.dumps(blog)  # only this site's resources
    api = plan_of(out, "backends/api.yaml")
    assert set(api["containers"]) == {"api-container"}
    assert set(api["images"]) == {"image-node-22-11-0-alpine"}
    env = api["containers"]["api-container"]["inputs"]["envs"]
    assert env == ["API_KEY=<secret>", "DB_URL=<secret>"]


def test_plan_masks_every_secret(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(write(tmp_path, STACK + BACKEND + SECRETS), out).returncode == 0
    text = "".join(p.read_text() for p in (out / "plan").rglob("*.yaml"))
    blog = plan_of(out, "sites/blog.yaml")
    # the containers' environment names files (no secret in it: issue 20 item 5); the values
    # go to the box on site-secrets-blog's stdin, masked line by line
    db = blog["containers"]["blog-db"]
    assert ("MARIADB_ROOT_PASSWORD_FILE=/run/secrets/wpfleet/MARIADB_ROOT_PASSWORD"
            in db["inputs"]["envs"]) and "envs" not in db.get("secretInputs", [])
    stdin = blog["other"]["site-secrets-blog"]["inputs"]["stdin"]
    assert "db/MARIADB_ROOT_PASSWORD=<secret>\n" in stdin
    assert "wordpress/WORDPRESS_AUTH_KEY=<secret>\n" in stdin and "privateKey: <secret>" in text
    for leaked in ("AAABA", "****"):  # ciphertext, or an unmasked placeholder
        assert leaked not in text


def test_plan_is_the_programs_own_resource_graph(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(write(tmp_path, STACK), out).returncode == 0
    listed = yaml.safe_load((out / "plan/resources.yaml").read_text())
    doc = yaml.safe_load(STACK)["config"]
    config = {k.split(":", 1)[1]: v for k, v in doc.items() if "sshPrivateKey" not in k}
    graph = run_stack(copy.deepcopy(config), secrets={"sshPrivateKey": "k"})
    assert sorted((e["type"], e["name"]) for e in listed) == sorted(
        (r.type, r.name) for r in graph.resources)
    wp = next(e for e in listed if e["name"] == "blog-wp-0")["inputs"]
    assert wp["healthcheck"] == {k: int(v) if isinstance(v, float) else v for k, v in
                                 sorted(graph.get("blog-wp-0").inputs["healthcheck"].items())}


def test_render_leaves_the_projects_key_files_alone(tmp_path: Path) -> None:
    # the program writes the Docker provider's key file under .wpfleet/ when it runs; under
    # render it runs in a throwaway directory, so the last real `up`'s files stay as they are
    project, home = tmp_path / "project", tmp_path / "home"
    (project / ".wpfleet").mkdir(parents=True)
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = render(write(tmp_path, STACK), tmp_path / "out", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    assert list((project / ".wpfleet").iterdir()) == [] and list(home.iterdir()) == []
    docker = yaml.safe_load((tmp_path / "out/plan/resources.yaml").read_text())
    opts = next(e for e in docker if e["name"] == "box-docker")["inputs"]["sshOpts"]
    assert "~/.wpfleet/id-" in opts  # the path `up` uses (the user's home, whatever the clone)


def test_every_apt_get_waits_for_apts_locks() -> None:
    """Installs run in parallel commands and a fresh box runs apt-daily right after boot: an
    apt-get that fails at once on the lock broke the first `up` on the test box."""
    import re as _re

    from components.config import parse
    from components.render import plan
    from tests.harness import BASE_CONFIG
    cfg = {**BASE_CONFIG, "box": {**BASE_CONFIG["box"], "installDocker": True},
           "backup": {"repository": "/srv/restic"}}
    texts = [t for c in plan(parse(cfg)).commands for t in (c.create, c.update or "")]
    calls = [m for t in texts for m in _re.findall(r"(?<!')apt-get[^\n;|&']*", t)
             if " install " in m or " update" in m]
    assert len(calls) >= 6  # apache2, certbot, restic, docker.io: install and update
    assert all("-o DPkg::Lock::Timeout=600" in c for c in calls), calls
