"""The fast gold subset, run through `newsdesk eval --corpus` machinery, held to evals/thresholds.toml."""
import json
import tomllib
from pathlib import Path

import pytest
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
AT_MOST = {"false_abstention"}


@pytest.mark.slow
def test_fast_subset_meets_thresholds(tmp_path, monkeypatch):
    """With the real reader: the default local model."""
    from evals.runner import run_eval

    monkeypatch.setenv("NEWSDESK_LLM", "local")
    floors = tomllib.loads((ROOT / "evals" / "thresholds.toml").read_text())["fast"]
    out = tmp_path / "eval"
    metrics = run_eval(ROOT / "evals" / "gold.jsonl", out, Console(file=open(tmp_path / "log.txt", "w")),
                       corpus=ROOT / "corpus", tag="fast")
    assert (out / "report.html").exists() and (out / "answers.jsonl").exists()
    assert json.loads((out / "metrics.json").read_text())["questions"] == metrics["questions"] > 0
    assert (out / "index").is_dir(), "--corpus must index into a throwaway store under --out"
    low = {k: (metrics[k], v) for k, v in floors.items()
           if (metrics[k] > v if k in AT_MOST else metrics[k] < v)}
    detail = "\n".join(f"  {f['id']}: {f['question']} -> {f['got'][:120]}" for f in metrics["failures"])
    assert not low, f"below evals/thresholds.toml (got, floor): {low}\nfailures:\n{detail}"
