"""Static figures of the analyses (matplotlib, Agg), each written atomically as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from knowledge_probe.io import write_with  # noqa: E402

DPI = 110


def _save(fig, target: Path) -> Path:
    fig.tight_layout()
    write_with(target, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
    plt.close(fig)
    return target


def _stamp(ax, verdict) -> None:
    ax.set_title(f"{ax.get_title()}\n[{verdict.label}]", fontsize=9)


def attention_figures(experiments: dict, out: Path) -> list[Path]:
    """Four figures: copying, averaging + subspace, noisy keys, two heads."""
    a, b, s = experiments["copying"], experiments["averaging"], experiments["subspace"]
    ci, cii, d = (
        experiments["noisy_small_variance"],
        experiments["noisy_single_head"],
        experiments["two_heads"],
    )
    paths = []

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(a.series["betas"], a.series["error"], "o-", label="measured |c - v_j| / |v_j|")
    ax.plot(
        a.series["betas"],
        a.series["orthonormal_missing_weight"],
        "--",
        label="weight off v_j, orthonormal keys",
    )
    ax.set(xscale="log", yscale="log", xlabel="beta", ylabel="error", title="(a) copying")
    ax.legend(fontsize=8)
    _stamp(ax, a.verdict)
    paths.append(_save(fig, out / "attention_copying.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(b.series["betas"], b.series["error"], "o-")
    left.set(
        xscale="log",
        yscale="log",
        xlabel="beta",
        ylabel="|c - (v_a+v_b)/2| / |(v_a+v_b)/2|",
        title="(b ii) averaging, q = beta(k_a + k_b)",
    )
    _stamp(left, b.verdict)
    candidates = s.metrics["candidates"]
    names = list(candidates)
    errors = [max(candidates[n]["relative_error"], 1e-17) for n in names]
    right.bar(
        [f"M = {n}\n(output in R^{candidates[n]['output_dim']})" for n in names],
        errors,
        color=["C3" if not candidates[n]["works"] else "C2" for n in names],
    )
    right.set(yscale="log", ylabel="max |M(v_a+v_b) - v_a| / |v_a|", title="(b i) subspace")
    _stamp(right, s.verdict)
    paths.append(_save(fig, out / "attention_averaging.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(ci.series["alphas"], ci.series["error"], "o-")
    left.set(
        xscale="log",
        yscale="log",
        xlabel="key variance alpha (Sigma = alpha I)",
        ylabel="mean |c - (v_a+v_b)/2| / |(v_a+v_b)/2|",
        title="(c i) vanishing key variance",
    )
    _stamp(left, ci.verdict)
    right.hist(cii.series["weight_a"], bins=40, range=(0, 1), color="C1")
    right.set(
        xlabel="output's weight on v_a",
        ylabel="draws",
        title="(c ii) Sigma_a = alpha I + mu_a mu_a^T / 2, one head",
    )
    _stamp(right, cii.verdict)
    paths.append(_save(fig, out / "attention_noisy_keys.png"))

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.hist(
        [d.series["seed"], d.series["per_key"]],
        bins=40,
        range=(0, 1),
        label=[
            "seed: q1 = q2 = beta(mu_a + mu_b)",
            "one head per key: q1 = beta mu_a, q2 = beta mu_b",
        ],
        color=["C3", "C2"],
    )
    ax.axvline(0.5, color="k", lw=0.8, ls=":")
    ax.set(xlabel="output's weight on v_a", ylabel="draws", title="(d) two heads, noisy k_a")
    ax.legend(fontsize=8)
    _stamp(ax, d.verdict)
    paths.append(_save(fig, out / "attention_two_heads.png"))
    return paths


def complexity_figure(rows: list[dict], target: Path) -> Path:
    """Counted FLOPs against the analytic count, time and peak memory, log-log in L."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    panels = (
        ("flops", "FLOPs per step"),
        ("seconds", "seconds per step"),
        ("peak_bytes", "peak bytes"),
    )
    for ax, (key, label) in zip(axes, panels, strict=True):
        for colour, variant in (("C0", "vanilla"), ("C1", "perceiver")):
            rs = [r for r in rows if r["variant"] == variant]
            lengths = [r["length"] for r in rs]
            ax.plot(lengths, [r[key] for r in rs], "o-", color=colour, label=variant)
            if key == "flops":
                ax.plot(
                    lengths,
                    [r["analytic_flops"] for r in rs],
                    ":",
                    color=colour,
                    lw=2,
                    label=f"{variant}, analytic",
                )
        ref = [r for r in rows if r["variant"] == "vanilla"]
        x0, y0 = ref[-1]["length"], ref[-1][key]
        xs = [r["length"] for r in ref]
        for power, style in ((1, "--"), (2, "-.")):
            ax.plot(
                xs,
                [y0 * (x / x0) ** power for x in xs],
                style,
                color="grey",
                lw=0.8,
                label=f"~L^{power}",
            )
        ax.set(xscale="log", yscale="log", xlabel="sequence length L", title=label)
        ax.legend(fontsize=7)
    return _save(fig, target)


def hallucination_figures(models: dict, out: Path) -> list[Path]:
    """Preferred places per model; origin agreement against chance and dev accuracy by window."""
    names = sorted(models)
    paths = []
    fig, axes = plt.subplots(
        1, max(len(names), 1), figsize=(3.4 * max(len(names), 1), 3.8), squeeze=False
    )
    for ax, name in zip(axes[0], names, strict=False):
        top = models[name]["choices"]["top"][:8]
        ax.barh([p or "(empty)" for p, _ in top][::-1], [c for _, c in top][::-1], color="C4")
        ax.set(title=f"{name}\nanswers for strangers", xlabel="strangers")
        ax.tick_params(axis="y", labelsize=7)
    paths.append(_save(fig, out / "hallucination_places.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    with_origin = [n for n in names if models[n]["origin"]]
    xs = range(len(with_origin))
    left.bar(
        [x - 0.2 for x in xs],
        [100 * models[n]["origin"]["agreement"] for n in with_origin],
        0.4,
        label="answer in the name's country",
    )
    left.bar(
        [x + 0.2 for x in xs],
        [100 * models[n]["origin"]["chance"] for n in with_origin],
        0.4,
        label="chance",
        color="C7",
    )
    left.set_xticks(list(xs), with_origin, fontsize=7)
    left.set(ylabel="% of strangers", title="Do guesses follow the name's origin?")
    left.legend(fontsize=8)
    groups = ("in_window", "beyond_window", "not_in_bio")
    width = 0.8 / len(groups)
    for i, group in enumerate(groups):
        values = [100 * (models[n]["window"][group]["accuracy"] or 0) for n in names]
        totals = [models[n]["window"][group]["total"] for n in names]
        right.bar(
            [x + (i - 1) * width for x in range(len(names))],
            values,
            width,
            label=f"{group} (n={totals[0] if totals else 0})",
        )
    right.set_xticks(list(range(len(names))), names, fontsize=7)
    right.set(ylabel="dev accuracy (%)", title="Dev accuracy by where the gold place occurs")
    right.legend(fontsize=8)
    paths.append(_save(fig, out / "hallucination_origin.png"))
    return paths
