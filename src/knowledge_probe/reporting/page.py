"""The report as one static HTML page: figures embedded as PNG data, no server, no scripts.

Everything shown comes from the stage outputs: the accuracy rows, the analyses' verdicts (each
decided by its analysis module from measured numbers), the configuration and the data statistics.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from knowledge_probe.reporting.cost import HEADERS, SEED_PERCEIVER_CLAIM, cells, cost_rows
from knowledge_probe.reporting.summary import (
    REFERENCE_LABEL,
    REFERENCE_TIMES,
    has_reference,
    reference_cell,
)

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
.supported { color: #176b2c; font-weight: 600; } .not-supported { color: #a4161a; font-weight: 600; }
.undecided { color: #8a6d00; font-weight: 600; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .85em; }
.missing { color: #888; font-style: italic; }
"""

LABELS = {True: ("supported", "supported"), False: ("not supported", "not-supported")}


def esc(value) -> str:
    return html.escape(str(value))


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def figure(path: Path, caption: str) -> str:
    """An <img> with the PNG embedded as base64, or a note when the file is missing."""
    path = Path(path)
    if not path.is_file():
        return f'<p class="missing">figure {esc(path.name)} not available</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def table(
    header: list[str], rows: list[list], numeric: set[int] = frozenset(), cls: str = ""
) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def verdict_row(name: str, verdict: dict) -> str:
    text, cls = LABELS.get(verdict["passed"], ("undecided", "undecided"))
    return (
        f"<tr><td>{esc(name)}</td><td>{esc(verdict['claim'])}</td>"
        f'<td class="{cls}">{text}</td><td>{esc(verdict["finding"])}</td></tr>'
    )


def verdict_table(verdicts: dict[str, dict]) -> str:
    rows = "".join(verdict_row(k, v) for k, v in verdicts.items())
    return (
        '<table class="verdicts"><thead><tr><th>part</th><th>claim (hypothesis)</th>'
        f"<th>verdict</th><th>measured</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def accuracy_section(rows: list[dict], seed) -> str:
    reference = has_reference(rows)
    body = table(
        [
            "model",
            "init",
            "seed",
            "dev accuracy",
            "correct/total",
            "parameters",
            "training time (s)",
        ]
        + ([REFERENCE_LABEL] if reference else []),
        [
            [
                r["model"],
                r["init"],
                seed if r["init"] != "-" else "-",
                pct(r["accuracy"]),
                f"{r['correct']}/{r['total']}",
                f"{r['parameters'] or 0:,}",
                f"{r['train_seconds']:.1f}",
            ]
            + ([reference_cell(r)] if reference else [])
            for r in rows
        ],
        numeric={3, 4, 5, 6, 7},
        cls="accuracy",
    )
    note = (
        "<p>One seed per pipeline run. Mean and spread over seeds come from a Hydra multirun "
        "(<code>python -m pipeline.experiment -m model=vanilla,perceiver,chunked seed=0,1,2</code>), "
        "whose sweep directory gets comparison.md and comparison.html.</p>"
    )
    return f'<h2 id="accuracy">Accuracy</h2>{body}{note}'


def cost_section(rows: list[dict], complexity: dict | None) -> str:
    """Accuracy against the cost of a training step, per variant, and the seed's claim."""
    cost = cost_rows(rows, complexity)
    body = table(HEADERS, [cells(r) for r in cost], numeric=set(range(1, len(HEADERS))))
    missing = (
        ""
        if complexity
        else '<p class="missing">no costs: stage analyze_complexity has not run</p>'
    )
    return (
        f'<h2 id="cost">Accuracy against cost</h2>{body}{missing}<p>{esc(SEED_PERCEIVER_CLAIM)}</p>'
    )


def times_section(times: dict, reference: bool) -> str:
    body = table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in times.items()], numeric={1})
    note = f"<p>{esc(REFERENCE_TIMES)}</p>" if reference else ""
    intro = (
        "<p>Seconds of each model stage's own work: training, or decoding the dev questions.</p>"
    )
    return f'<h2 id="times">Time per stage</h2>{intro}{body}{note}'


def comparison_table(comparison: list[dict]) -> str:
    return table(
        ["setting", "model", "init", "runs", "seeds", "mean", "std", "min", "max"],
        [
            [
                r.get("setting", "default"),
                r["model"],
                r["init"],
                r["runs"],
                ",".join(map(str, r["seeds"])),
                pct(r["mean"]),
                pct(r["std"]),
                pct(r["min"]),
                pct(r["max"]),
            ]
            for r in comparison
        ],
        numeric={3, 5, 6, 7, 8},
        cls="comparison",
    )


def attention_section(details: dict | None, plots: Path) -> str:
    head = '<h2 id="attention">Attention with explicit vectors (seed part 1)</h2>'
    if not details:
        return head + '<p class="missing">not run (stage analyze_attention)</p>'
    spec = details["spec"]
    intro = (
        f"<p>d = {spec['dim']}, n = {spec['n_keys']} keys, beta in {spec['betas']}, "
        f"beta = {spec['beta']} for the noisy parts, {spec['draws']} key draws, tolerance "
        f"{spec['tolerance']}, seed {spec['seed']}. Each verdict is decided by the simulation; "
        "where it disagrees with the seed's derivation, the simulation wins.</p>"
    )
    verdicts = {e["name"]: e["verdict"] for e in details["experiments"]}  # in the seed's order
    figs = "".join(
        figure(plots / f"attention_{n}.png", c)
        for n, c in (
            ("copying", "(a) copying: error against beta"),
            ("averaging", "(b) averaging against beta; which M recovers v_a"),
            ("noisy_keys", "(c) noisy keys: small variance; one stretched key"),
            ("two_heads", "(d) two heads under the noise of (c ii)"),
        )
    )
    return head + intro + verdict_table(verdicts) + figs


def complexity_section(details: dict | None, plots: Path) -> str:
    head = '<h2 id="complexity">Cost of the attention variants (seed part 2g)</h2>'
    if not details:
        return head + '<p class="missing">not run (stage analyze_complexity)</p>'
    paths = "; ".join(f"{v}: {p}" for v, p in details["attention_path"].items())
    intro = (
        f"<p>One training step (forward + backward, batch 1) per sequence length on "
        f"{esc(details['device'])} with {esc(details['threads'])} thread(s); attention path {esc(paths)}. "
        "FLOPs counted by torch.utils.flop_counter; exponents fitted on "
        f"L = {', '.join(map(str, details['fit_lengths']))}.</p>"
    )
    ex = details["exponents"]
    exps = table(
        ["variant", "FLOPs exponent", "time exponent", "peak-memory exponent"],
        [
            [v, f"{e['flops']:.2f}", f"{e['seconds']:.2f}", f"{e['peak_bytes']:.2f}"]
            for v, e in ex.items()
        ],
        numeric={1, 2, 3},
    )
    cross = details["crossover"]
    crossing = table(
        ["quantity", "perceiver cheaper from L ="],
        [[q, "never in range" if c is None else c] for q, c in cross.items()]
        + [["FLOPs (analytic)", details["analytic_crossover"]]],
    )
    rows = table(
        ["variant", "L", "seconds", "peak MiB", "GFLOPs counted", "GFLOPs analytic"],
        [
            [
                r["variant"],
                r["length"],
                f"{r['seconds']:.4f}",
                f"{r['peak_bytes'] / 2**20:.1f}",
                f"{r['flops'] / 1e9:.3f}",
                f"{r['analytic_flops'] / 1e9:.3f}",
            ]
            for r in details["rows"]
        ],
        numeric={1, 2, 3, 4, 5},
    )
    return (
        head
        + intro
        + verdict_table({"complexity": details["verdict"]})
        + figure(
            plots / "complexity.png",
            "FLOPs (with the analytic count), time and peak memory against L",
        )
        + exps
        + crossing
        + "<details><summary>all measurements</summary>"
        + rows
        + "</details>"
    )


def hallucination_section(details: dict | None, plots: Path) -> str:
    head = '<h2 id="hallucination">What the models say about strangers (seed part 3)</h2>'
    if not details:
        return head + '<p class="missing">not run (stage analyze_hallucination)</p>'
    rate = details.get("training_origin_rate")
    intro = (
        f"<p>{details['strangers']} people who do not exist (fresh names, absent from the corpus and "
        "every question file) asked of each finetuned model with greedy decoding. "
        + (
            f"In the training data {pct(rate)} of people are born in their name's country. "
            if rate is not None
            else ""
        )
        + f"Dev questions are split by where the gold place occurs: in the first {details['window']} "
        f"characters of the biography (the pretraining window; pretrain.window = "
        f"{esc(details['pretrain_window_option'])}), later in it, or nowhere.</p>"
    )
    models = details["models"]
    rows = []
    for name, m in sorted(models.items()):
        origin = m["origin"]
        top = ", ".join(f"{p or '(empty)'} {c}" for p, c in m["choices"]["top"][:3])
        windows = " / ".join(
            f"{m['window'][g]['correct']}/{m['window'][g]['total']}"
            for g in ("in_window", "beyond_window", "not_in_bio")
        )
        rows.append(
            [
                name,
                pct(m["choices"]["known_place"]),
                m["choices"]["distinct"],
                top,
                f"{m['confidence']['strangers']:.2f} / {m['confidence']['dev']:.2f}",
                f"{pct(origin['agreement'])} vs {pct(origin['chance'])} (p = {origin['p_value']:.3g})"
                if origin
                else "-",
                windows,
            ]
        )
    model_table = table(
        [
            "model",
            "known place",
            "distinct answers",
            "most frequent answers",
            "median P(answer): strangers / dev",
            "answer in the name's country vs chance",
            "dev correct: in window / beyond / not in bio",
        ],
        rows,
        numeric={1, 2},
    )
    figs = figure(
        plots / "hallucination_places.png", "What each model answers for strangers"
    ) + figure(
        plots / "hallucination_origin.png",
        "Origin-following against chance; dev accuracy by where the gold place occurs",
    )
    return head + intro + verdict_table(details["verdicts"]) + model_table + figs


def render(
    *,
    title: str,
    rows: list[dict],
    times: dict,
    reference_times: bool,
    seed,
    data_stats: dict,
    config_yaml: str,
    reports: Path,
    plots: Path,
    attention: dict | None,
    complexity: dict | None,
    hallucination: dict | None,
) -> str:
    """The whole page. `reports` holds the training figures, `plots` the analyses' figures."""
    statistics = [
        [f"{k} {name}", value] if isinstance(v, dict) else [k, v]
        for k, v in sorted(data_stats.items())
        for name, value in (v.items() if isinstance(v, dict) else [(None, v)])
    ]
    fingerprint = table(["statistic", "value"], statistics, numeric={1})
    sections = [
        accuracy_section(rows, seed),
        cost_section(rows, complexity),
        times_section(times, reference_times),
        '<h2 id="training">Training</h2>'
        + figure(reports / "loss_curves.png", "Training loss (pretraining and finetuning)")
        + figure(reports / "accuracy.png", "Dev accuracy per model"),
        attention_section(attention, plots),
        complexity_section(complexity, plots),
        hallucination_section(hallucination, plots),
        f'<h2 id="data">Data fingerprint</h2>{fingerprint}',
        f'<h2 id="config">Configuration</h2><pre>{esc(config_yaml)}</pre>',
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>" + "".join(sections) + "</body></html>\n"
    )


def render_comparison(title: str, comparison: list[dict], failed: list[dict] = ()) -> str:
    """A small page for a multirun's comparison across seeds, and the jobs that failed."""
    failures = ""
    if failed:
        failures = "<h2>Failed jobs</h2>" + table(
            ["job", "overrides", "error"],
            [[f["job"], " ".join(f["overrides"]), f["error"]] for f in failed],
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{comparison_table(comparison)}{failures}</body></html>\n"
    )
