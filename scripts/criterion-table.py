#!/usr/bin/env python3
"""The medians of the last `cargo bench --bench kernels` run, per group, with
kiln `tuned` against each peer (criterion prints a mean-based estimate; the
issues compare medians). Reads target/criterion/<group>/<variant>/new/estimates.json.

    cargo bench --bench kernels -- '^(matmul|matmul_odd|linear|matmul512|matmul512_t2)/'
    scripts/criterion-table.py matmul matmul_odd linear matmul512 matmul512_t2
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")


def median_us(group, variant):
    path = os.path.join(ROOT, group, variant, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / 1e3


def main():
    groups = sys.argv[1:] or sorted(d for d in os.listdir(ROOT) if os.path.isdir(os.path.join(ROOT, d)))
    variants = ["tuned", "default", "tuned_prepacked", "faer", "matrixmultiply", "c_o3", "native", "naive"]
    print(f"{'group':<14} " + " ".join(f"{v:>15}" for v in variants) + "   faer÷tuned")
    for g in groups:
        row = {v: median_us(g, v) for v in variants}
        if all(x is None for x in row.values()):
            continue
        cells = " ".join(f"{row[v]:>15.2f}" if row[v] is not None else f"{'-':>15}" for v in variants)
        ratio = f"{row['faer'] / row['tuned']:.3f}x" if row["tuned"] and row["faer"] else "-"
        print(f"{g:<14} {cells}   {ratio}")
    print("(medians in µs; faer÷tuned above 1: kiln tuned is faster)")


if __name__ == "__main__":
    main()
