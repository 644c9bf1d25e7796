"""The report's "what was tried" table is read back from the committed reports in git history."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from converters.emotion import history

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def _report(acc: float, sha: str, ratio: float, rounds: bool) -> dict:
    latency = {"median_ms": 0.3, **({"rounds": 10} if rounds else {})}
    return {"results": {"float_keras": {"accuracy": acc + 0.01},
                        "pruned_int8_ptq": {"accuracy": acc, "latency_1thread": latency}},
            "shipped": {"variant": "pruned_int8_ptq", "sha256": sha},
            "targets": {"accuracy": {"measured": acc, "met": False},
                        "pruned_vs_unpruned_int8_latency_ratio": {"measured": ratio, "met": ratio <= 0.7}},
            "training": {"float": {"epochs": 30, "wall_clock_s": 1800.0},
                         "pruned": {"epochs": 5, "wall_clock_s": 600.0}}}


def _commit(repo: Path, report: dict, float_cfg: dict, pipeline_cfg: dict, message: str) -> None:
    out = repo / "reports" / "emotion"
    (out / "configs").mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report))
    (out / "configs" / "float.json").write_text(json.dumps(float_cfg))
    (out / "configs" / "pipeline.json").write_text(json.dumps(pipeline_cfg))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["add", "-A"], check=True, capture_output=True)
    subprocess.run(git + ["commit", "-qm", message], check=True, capture_output=True)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    # The oldest config predates the activation and divisor keys: their defaults of the time apply.
    _commit(tmp_path, _report(0.70, "aaa", 0.84, rounds=False), {"variant": "small", "input_size": 64}, {}, "first")
    (tmp_path / "README.md").write_text("unrelated commit\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "README.md"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm",
                    "x"],
                   check=True)
    _commit(tmp_path, _report(0.75, "bbb", 0.69, rounds=True),
            {"variant": "small", "input_size": 64, "activation": "relu"},
            {"prune_divisor": 16}, "second")
    return tmp_path


def test_past_runs_reads_every_committed_report_oldest_first(repo):
    runs = history.past_runs(repo, repo / "reports" / "emotion")
    assert [r.shipped_sha256 for r in runs] == ["aaa", "bbb"]
    first, second = runs
    assert first.settings["activation"] == "hswish" and first.settings["channel multiple"] == 4
    assert first.latency_method == "back-to-back" and second.latency_method == "interleaved"
    assert first.training == {"float": "30 ep in 30 min", "pruned": "5 ep in 10 min"}
    assert second.met == ["pruned_vs_unpruned_int8_latency_ratio"] and second.shipped_acc == 0.75
    assert history.changes(first, second) == ["activation hswish -> relu", "channel multiple 4 -> 16"]


def test_render_lists_what_changed_and_marks_missed_targets(repo):
    lines = history.render(history.past_runs(repo, repo / "reports" / "emotion"))
    assert len(lines) == 4
    assert "activation hswish" in lines[2] and "70.00% ✗" in lines[2] and "0.840 ✗" in lines[2] and "0 of 2" in lines[2]
    assert "activation hswish -> relu; channel multiple 4 -> 16; latency measured interleaved" in lines[3]
    assert "| 0.690 |" in lines[3] and "1 of 2" in lines[3]


def test_a_change_in_how_faces_were_scored_is_listed(repo):
    report = {**_report(0.74, "ccc", 0.69, rounds=True), "eval_inputs": "runtime pixels"}
    _commit(repo, report, {"variant": "small", "input_size": 64, "activation": "relu"}, {"prune_divisor": 16}, "third")
    runs = history.past_runs(repo, repo / "reports" / "emotion")
    assert [r.eval_inputs for r in runs] == [history.OLD_EVAL_INPUTS] * 2 + ["runtime pixels"]
    lines = history.render(runs)
    assert "scored on" not in lines[3] and "| scored on runtime pixels |" in lines[4]


def test_no_history_outside_the_repository_or_without_commits(tmp_path_factory, repo):
    outside = tmp_path_factory.mktemp("outside")
    assert history.past_runs(repo, outside / "reports" / "emotion") == []
    subprocess.run(["git", "init", "-q", str(outside)], check=True)
    assert history.past_runs(outside, outside / "reports" / "emotion") == []
    assert history.render([]) == []


def test_report_has_a_what_was_tried_section_only_with_earlier_runs(repo):
    from converters.emotion.report_markdown import _history_lines

    runs = [r.to_dict() for r in history.past_runs(repo, repo / "reports" / "emotion")]
    lines = _history_lines(runs)
    assert "## What was tried" in lines
    assert sum(line.startswith("| ") for line in lines) == 3  # header and one row per run
    assert _history_lines(runs[-1:]) == []


def test_current_replaces_a_re_measured_last_run_and_names_a_model_shipped_again(repo):
    runs = history.past_runs(repo, repo / "reports" / "emotion")
    remeasured = history.Run(**{**runs[-1].to_dict(), "commit": "this report"})
    assert [r.commit for r in history.with_current(repo, repo / "reports" / "emotion", remeasured)] == [
        runs[0].commit, "this report"]
    back = history.Run(**{**runs[0].to_dict(), "commit": "this report"})
    got = history.with_current(repo, repo / "reports" / "emotion", back)
    assert len(got) == 3 and f"the model of {runs[0].commit} again" in history.render(got)[-1]


def test_teacher_labels_show_as_a_change_from_none(repo):
    _commit(repo, _report(0.76, "ccc", 0.6, rounds=True), {"variant": "small", "input_size": 64, "activation": "relu"},
            {"prune_divisor": 8, "teacher_labels": "reports/emotion_teacher/teacher_labels.npz", "teacher_weight": 0.5},
            "third")
    runs = history.past_runs(repo, repo / "reports" / "emotion")
    assert runs[1].settings["fine-tune + QAT teacher labels"] == "none"
    assert history.changes(runs[1], runs[2]) == [
        "channel multiple 16 -> 8", "fine-tune + QAT teacher labels none -> reports/emotion_teacher/teacher_labels.npz"]
