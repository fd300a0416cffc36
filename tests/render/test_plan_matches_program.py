"""What the render CLI shows is exactly what `pulumi up` runs: same commands, same scripts."""

from __future__ import annotations

import copy

from components.config import parse
from components.render import as_root, owned, plan
from tests.harness import BASE_CONFIG, run_stack

FULL = copy.deepcopy(BASE_CONFIG)
FULL.update(duckdns={"domains": ["meljuju"]}, firewall={"enabled": True, "allow": ["8443/tcp"]})
FULL["box"] = {**FULL["box"], "hardenSsh": True}
FULL_SECRETS = {"sshPrivateKey": "-----BEGIN KEY-----\nk\n-----END KEY-----",
                "duckdnsToken": "0f3a9c11-aaaa-bbbb-cccc-000000000000",
                "adminPasswords": '{"blog": "configured-admin-pw-0123"}'}


def test_every_rendered_command_is_a_resource_with_that_script() -> None:
    stack = parse(copy.deepcopy(FULL))
    graph = run_stack(FULL, secrets=FULL_SECRETS)
    resources = {r.name: r for r in graph.of_type("command:remote:Command")}
    # as its resource runs it: with the owner stamps of a resource of that name
    rendered = {c.name: owned(c, c.name) for c in plan(stack).commands}
    assert set(resources) == set(rendered)
    assert {"box-preflight", "box-firewall", "box-ssh", "box-duckdns", "box-boot", "apache-install",
            "apache-acme", "apache-conf-blog", "apache-conf-api", "cert-blog", "cert-api"} <= set(rendered)
    for name, spec in rendered.items():
        inputs = resources[name].inputs
        assert inputs["create"] == as_root(spec.create, sudo=True), name
        assert inputs.get("update") == as_root(spec.update or spec.create, sudo=True), name
        if spec.delete is not None:
            assert inputs["delete"] == as_root(spec.delete, sudo=True), name
        # a secret only ever travels on stdin, as a secret
        if spec.stdin_secret:
            assert "stdin" in resources[name].secret_inputs
            assert FULL_SECRETS[spec.stdin_secret] not in spec.create
    assert FULL_SECRETS["duckdnsToken"] not in graph.plain_text()
    assert "configured-admin-pw-0123" not in graph.plain_text()
