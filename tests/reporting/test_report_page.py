"""reports/index.html in a real browser: it loads without errors, and shows the accuracy table and
every figure, each decoded. The page is rendered from small but real analysis results."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from knowledge_probe.analysis import hallucination as h
from knowledge_probe.analysis.attention_exploration import AttentionSpec, explore
from knowledge_probe.analysis.complexity import ComplexitySpec, measure, summarise
from knowledge_probe.analysis.figures import (
    attention_figures,
    complexity_figure,
    hallucination_figures,
)
from knowledge_probe.data import Question, question_for
from knowledge_probe.models import GPTConfig
from knowledge_probe.reporting import plot_accuracy, plot_curves, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Registered before the page's images load; after `load` it writes what it saw into the DOM.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(
  e.message || ("failed to load " + (e.target && e.target.tagName))), true);
window.addEventListener("load", () => {
  const images = [...document.images];
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    accuracy_rows: document.querySelectorAll("table.accuracy tbody tr").length,
    verdicts: document.querySelectorAll("table.verdicts tbody tr").length,
    errors: window.__errors,
  });
  document.body.appendChild(out);
});
</script>"""

ROWS = [
    {
        "model": m,
        "init": i,
        "accuracy": a,
        "correct": c,
        "total": 20,
        "parameters": 1000,
        "train_seconds": 1.0,
        "tokens_per_sec": 10.0,
    }
    for m, i, a, c in (
        ("vanilla", "scratch", 0.05, 1),
        ("vanilla", "pretrained", 0.25, 5),
        ("perceiver", "scratch", 0.0, 0),
        ("perceiver", "pretrained", 0.15, 3),
        ("majority (Berlin)", "-", 0.05, 1),
    )
]


def _hallucination_details() -> dict:
    places = {"Berlin": "Germany", "Hamburg": "Germany", "Krakow": "Poland"}
    locales = ["de_DE", "pl_PL"] * 10
    dev = [
        Question(question_for("Ada Byron"), "Berlin"),
        Question(question_for("Kurt Weill"), "Krakow"),
    ]
    corpus = ["Ada Byron. Ada Byron was born in Berlin.", "Kurt Weill. Kurt Weill was a composer."]
    models = {}
    for name, answers in (
        ("vanilla-pretrained", ["Berlin" if loc == "de_DE" else "Krakow" for loc in locales]),
        ("vanilla-scratch", ["Hamburg"] * 20),
    ):
        models[name] = {
            "choices": h.place_choices(answers, set(places)),
            "confidence": {"strangers": 0.4, "dev": 0.5},
            "origin": h.origin_agreement(answers, locales, places, permutations=100),
            "window": h.window_split(dev, ["Berlin", "Hamburg"], corpus, window=112),
        }
    return {
        "strangers": 20,
        "window": 112,
        "pretrain_window_option": "prefix",
        "training_origin_rate": 0.75,
        "models": models,
        "verdicts": {k: v.to_dict() for k, v in h.verdicts(models, 112).items()},
    }


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, int]:
    """index.html from real (small) analysis runs; returns its path and the number of figures."""
    root = tmp_path_factory.mktemp("report")
    reports, plots = root / "reports", root / "plots" / "analysis"
    for stage in ("pretrain", "finetune"):
        (root / "plots" / stage).mkdir(parents=True)
        (root / "plots" / stage / "vanilla.csv").write_text(
            "step,loss\n1,4.0\n2,3.0\n3,2.5\n", encoding="utf-8"
        )
    plot_curves(root / "plots", reports / "loss_curves.png")
    plot_accuracy(ROWS, reports / "accuracy.png")
    spec = AttentionSpec(dim=16, n_keys=6, trials=10, draws=200)
    experiments = {e.name: e for e in explore(spec)}
    figures = attention_figures(experiments, plots)
    tiny = dict(vocab_size=16, n_layer=2, n_head=2, n_embd=8, bottleneck_dim=8)
    cspec = ComplexitySpec(lengths=(16, 32, 64), fit_points=2)
    rows = [
        r for v in ("vanilla", "perceiver") for r in measure(GPTConfig(**tiny, variant=v), cspec)
    ]
    complexity = summarise(rows, cspec, GPTConfig(**tiny)) | {
        "rows": rows,
        "device": "cpu",
        "threads": 1,
        "attention_path": {"vanilla": "explicit", "perceiver": "explicit"},
    }
    figures.append(complexity_figure(rows, plots / "complexity.png"))
    hallucination = _hallucination_details()
    figures += hallucination_figures(hallucination["models"], plots)
    html = render(
        title="fixture: seed 0, data synthetic",
        rows=ROWS,
        times={"pretrain@vanilla": 12.5, "evaluate@vanilla-pretrained": 0.3},
        reference_times=False,
        seed=0,
        data_stats={"documents": 80, "vocab_fingerprint": "abc123"},
        config_yaml="seed: 0\nmodel:\n  n_layer: 2\n",
        reports=reports,
        plots=plots,
        attention={
            "spec": spec.__dict__,
            "experiments": [{"name": n} | e.summary() for n, e in experiments.items()],
        },
        complexity=json.loads(json.dumps(complexity)),
        hallucination=json.loads(json.dumps(hallucination)),
    )
    index = reports / "index.html"
    index.write_text(html, encoding="utf-8")
    return index, len(figures) + 2  # + the training curves and the accuracy bars


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_every_figure_is_embedded_as_a_png(page):
    index, n_figures = page
    html = index.read_text(encoding="utf-8")
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)">', html)
    assert len(images) == html.count("<img") == n_figures
    for encoded in images:
        width, height = _png_size(base64.b64decode(encoded))
        assert width > 200 and height > 200
    assert 'class="missing"' not in html  # nothing the page expected was absent
    for verdict in ("supported", "not supported"):
        assert f">{verdict}</td>" in html


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_page_renders_in_headless_chromium(page, tmp_path):
    index, n_figures = page
    probe = index.with_name("probe.html")
    probe.write_text(
        index.read_text(encoding="utf-8").replace("</head>", PROBE + "</head>", 1), encoding="utf-8"
    )
    dom = _chromium(
        [
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probe.as_uri(),
        ],
        tmp_path / "profile-dom",
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"the page did not finish loading:\n{dom.stdout[-1000:]}\n{dom.stderr[-1000:]}"
    seen = json.loads(found.group(1).replace("&quot;", '"'))
    assert seen["errors"] == []
    assert seen["images"] == seen["decoded"] == n_figures
    assert seen["accuracy_rows"] == len(ROWS)
    assert seen["verdicts"] == 6 + 1 + 3  # attention parts, complexity, hallucination

    shot = tmp_path / "page.png"
    result = _chromium(
        ["--window-size=1280,3000", "--hide-scrollbars", f"--screenshot={shot}", index.as_uri()],
        tmp_path / "profile-shot",
    )
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert _png_size(shot.read_bytes()) == (1280, 3000)
    from PIL import Image

    colours = Image.open(shot).convert("RGB").resize((320, 750)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # text, tables and plots, not a blank page


def test_the_source_files_digests_are_listed_one_per_row(tmp_path) -> None:
    page = render(
        title="t",
        rows=[],
        times={},
        reference_times=False,
        seed=0,
        data_stats={"documents": 3, "sha256": {"wiki.txt": "abc", "birth_dev.tsv": "def"}},
        config_yaml="",
        reports=tmp_path,
        plots=tmp_path,
        attention=None,
        complexity=None,
        hallucination=None,
    )
    rows = re.findall(r'<tr><td>([^<]*)</td><td class="num">([^<]*)</td></tr>', page)
    assert ("sha256 wiki.txt", "abc") in rows and ("sha256 birth_dev.tsv", "def") in rows
    assert ("documents", "3") in rows
