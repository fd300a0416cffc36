"""Benchmark (not a test): evaluate __main__.py under Pulumi mocks for 1, 10 and 50 sites,
then for 1, 3 and 10 boxes (`wpfleet:boxes`) of 10 sites each.

Prints resources, wall time, ms per site and the longest dependency chain in the resource graph
(dependencies as the engine receives them, plus parent -> child). Targets: the chain does not
grow with the number of sites or boxes; <= 50 ms per site.

    python bench/mocks_bench.py [--runs 3] [--sizes 1,10,50] [--boxes 1,3,10] [--per-box 10]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fleet_configs import sized  # noqa: E402
from tests.harness import BASE_CONFIG, SECRETS, Graph, run_stack  # noqa: E402


def config_with(n: int) -> dict:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sites"] = [{"name": f"site{i}", "domain": f"site{i}.example.org", "port": 10000 + 10 * i,
                     "replicas": 2, "tls": i % 2 == 0,
                     "aliases": [f"www.site{i}.example.org"]} for i in range(n)]
    return cfg


def longest_chain(g: Graph) -> int:
    edges: dict[str, set[str]] = {r.urn: set(r.deps) for r in g.resources}
    for r in g.resources:  # a child waits for nothing of its parent, but is created after it
        if r.parent_urn in edges:
            edges[r.urn].add(r.parent_urn)

    @cache
    def depth(urn: str) -> int:
        return 1 + max((depth(d) for d in edges.get(urn, ()) if d in edges), default=0)

    return max(depth(u) for u in edges)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--boxes", default="1,3,10")
    ap.add_argument("--per-box", type=int, default=10)
    args = ap.parse_args()
    run_stack(config_with(1))  # warm-up: imports, gRPC stubs
    print(f"{'sites':>5} {'resources':>9} {'wall ms (median)':>16} {'ms/site':>8} "
          f"{'marginal ms/site':>16} {'longest chain':>13}")
    base = None
    for n in (int(s) for s in args.sizes.split(",")):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            g = run_stack(config_with(n))
            times.append((time.perf_counter() - t0) * 1000)
        wall = statistics.median(times)
        marginal = "" if base is None else f"{(wall - base[1]) / (n - base[0]):.1f}"
        base = base or (n, wall)
        print(f"{n:>5} {len(g.resources):>9} {wall:>16.0f} {wall / n:>8.1f} "
              f"{marginal:>16} {longest_chain(g):>13}")
    print(f"\n{'boxes':>5} {'sites':>5} {'resources':>9} {'wall ms (median)':>16} {'ms/site':>8} "
          f"{'longest chain':>13}")
    for n in (int(s) for s in args.boxes.split(",") if s):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            g = run_stack(sized(n, args.per_box), SECRETS)
            times.append((time.perf_counter() - t0) * 1000)
        wall = statistics.median(times)
        sites = n * args.per_box
        print(f"{n:>5} {sites:>5} {len(g.resources):>9} {wall:>16.0f} {wall / sites:>8.1f} "
              f"{longest_chain(g):>13}")


if __name__ == "__main__":
    main()
