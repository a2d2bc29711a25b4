#!/usr/bin/env python3
"""Solve the `scale pack --instances` instances exactly with OR-Tools CP-SAT.

Each instance is 2-D vector bin packing (cpu, memory) on identical nodes.
Model: x[i][b] (item i on node b), y[b] (node b used); every item on exactly
one node; per node and dimension, the items' demand <= capacity * y[b];
symmetry breaking y[b] >= y[b+1], and item i only on nodes 0..i (nodes
numbered by their first item; compatible with the y ordering); minimise
sum y. The number of nodes offered is min(our_nodes_used, first-fit
decreasing): both are feasible packings, so the optimum is unchanged. The
first-fit-decreasing packing is given as a hint, and sum y >= the
instance's lower bound.

Prints per class: our nodes used, the optimum (or, when the time limit
stops the search first, the best packing found and the proven bound), and
our / optimal. `--json OUT` writes the same figures.

    scripts/pack_optimal.py INSTANCES.json [--time-limit 60] [--workers N] [--json OUT]
"""

import argparse
import json
import os
import sys
import time

from ortools.sat.python import cp_model


def first_fit_decreasing(items, cap_cpu, cap_mem):
    """Node index per item (nodes numbered by their first item in input
    order), and the node count."""
    order = sorted(
        range(len(items)),
        key=lambda i: max(items[i][0] / cap_cpu, items[i][1] / cap_mem),
        reverse=True,
    )
    loads = []
    node_of = [None] * len(items)
    for i in order:
        cpu, mem = items[i]
        for b, (used_cpu, used_mem) in enumerate(loads):
            if used_cpu + cpu <= cap_cpu and used_mem + mem <= cap_mem:
                loads[b] = (used_cpu + cpu, used_mem + mem)
                node_of[i] = b
                break
        else:
            loads.append((cpu, mem))
            node_of[i] = len(loads) - 1
    # Renumber nodes by their first item in input order, as the symmetry
    # breaking requires.
    renumber = {}
    for i in range(len(items)):
        renumber.setdefault(node_of[i], len(renumber))
    return [renumber[b] for b in node_of], len(loads)


def solve(instance, cap_cpu, cap_mem, time_limit, workers):
    items = instance["items"]
    n = len(items)
    ours = instance["our_nodes_used"]
    lower = instance["lower_bound"]
    hint, ffd = first_fit_decreasing(items, cap_cpu, cap_mem)
    nodes = min(ours, ffd)

    model = cp_model.CpModel()
    y = [model.new_bool_var(f"y{b}") for b in range(nodes)]
    x = {}
    for i in range(n):
        for b in range(min(i + 1, nodes)):
            x[i, b] = model.new_bool_var(f"x{i}_{b}")
        model.add_exactly_one(x[i, b] for b in range(min(i + 1, nodes)))
    for b in range(nodes):
        on_b = [(i, x[i, b]) for i in range(b, n) if (i, b) in x]
        model.add(sum(items[i][0] * v for i, v in on_b) <= cap_cpu * y[b])
        model.add(sum(items[i][1] * v for i, v in on_b) <= cap_mem * y[b])
        if b + 1 < nodes:
            model.add(y[b] >= y[b + 1])
    model.add(sum(y) >= lower)
    model.minimize(sum(y))
    if ffd <= nodes:
        for (i, b), v in x.items():
            model.add_hint(v, hint[i] == b)
        for b in range(nodes):
            model.add_hint(y[b], b < ffd)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = workers
    started = time.monotonic()
    status = solver.solve(model)
    seconds = time.monotonic() - started

    optimal = status == cp_model.OPTIMAL
    found = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = round(solver.objective_value)
    bound = max(lower, int(-(-solver.best_objective_bound // 1)))
    if found is None:
        # No packing below the offered nodes found in time: the offered
        # count (ours or first-fit decreasing) is the best known.
        found = nodes
    if optimal:
        bound = found
    return {
        "class": instance["class"],
        "items": n,
        "lower_bound": lower,
        "our_nodes_used": ours,
        "first_fit_decreasing": ffd,
        "status": solver.status_name(status),
        "optimal": optimal,
        "best_found": found,
        "best_bound": bound,
        "our_over_optimal": ours / found if optimal else None,
        # Without a proof, the true ratio lies between these two.
        "our_over_best_found": ours / found,
        "our_over_best_bound": ours / bound if bound else None,
        "seconds": seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instances", help="JSON written by `scale pack --instances`")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance (60)")
    workers = min(8, os.cpu_count() or 1)
    parser.add_argument(
        "--workers", type=int, default=workers, help=f"CP-SAT workers ({workers}: CPUs, at most 8)"
    )
    parser.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    args = parser.parse_args()

    with open(args.instances) as f:
        data = json.load(f)
    cap_cpu = data["node_capacity"]["cpu"]
    cap_mem = data["node_capacity"]["memory"]

    results = []
    print(
        f"{'class':<16} {'items':>5} {'lower':>5} {'ours':>5} {'ffd':>5} "
        f"{'optimum':>13} {'ours/opt':>14} {'time':>7}  status"
    )
    for instance in data["instances"]:
        r = solve(instance, cap_cpu, cap_mem, args.time_limit, args.workers)
        results.append(r)
        if r["optimal"]:
            optimum = f"{r['best_found']}"
            ratio = f"{r['our_over_optimal']:.3f}"
            status = "optimal"
        else:
            optimum = f"{r['best_bound']}..{r['best_found']}"
            ratio = f"{r['our_over_best_found']:.3f}..{r['our_over_best_bound']:.3f}"
            status = (
                f"{r['status']}: optimality NOT proven in {args.time_limit:g} s; "
                f"best found {r['best_found']}, best bound {r['best_bound']}"
            )
        print(
            f"{r['class']:<16} {r['items']:>5} {r['lower_bound']:>5} {r['our_nodes_used']:>5} "
            f"{r['first_fit_decreasing']:>5} {optimum:>13} {ratio:>14} {r['seconds']:>6.1f}s  {status}"
        )
        sys.stdout.flush()

    if args.json:
        out = {
            "node_capacity": {"cpu": cap_cpu, "memory": cap_mem},
            "time_limit_seconds": args.time_limit,
            "instances": results,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
