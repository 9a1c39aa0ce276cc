"""`gankit report`: a self-contained page with a section for each kind of result a run has."""

import json
import re

import pytest
import torch

from gankit.cli import main
from gankit.errors import GankitError
from gankit.report import write_report


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "gan"
    assert main(["train", "--data", "digits", "--model", "mlp", "--steps", "6", "--log-every",
                 "2", "--sample-every", "2", "--out", str(run), "--no-progress"]) == 0
    return run


def test_the_report_embeds_what_a_gan_run_holds(gan_run):
    page = write_report([gan_run]).read_text()
    assert page.startswith("<!doctype html>") and "<h3>Configuration</h3>" in page
    assert "<h3>Run record</h3>" in page and f"<td>{torch.__version__}</td>" in page
    assert "options without a value are not shown" in page and "<td>data_root</td>" not in page
    assert "<h3>Training</h3>" in page and "training curves" in page and "step 6" in page
    assert "<h3>Evaluation</h3>" not in page  # no eval.json yet: no empty section
    assert "src=\"data:image/png;base64," in page
    assert not re.search(r'src="(?!data:)', page)  # self-contained: nothing to fetch
    assert not (gan_run / ".report-figures").exists()


def test_a_classify_run_with_an_attack_shows_its_reports(tmp_path):
    clf = tmp_path / "clf"
    assert main(["classify", "train", "--data", "digits", "--epochs", "1", "--width", "4",
                 "--out", str(clf), "--no-progress"]) == 0
    assert main(["attack", str(clf), "--method", "fgsm", "--n", "20"]) == 0
    page = write_report([clf]).read_text()
    for title in ("Configuration", "Recognition", "Adversarial attacks"):
        assert f"<h3>{title}</h3>" in page
    assert "fgsm-linf-eps0.1" in page
    assert "AutoAttack has not been run, so this figure is not yet checked" in page


def test_runs_side_by_side_and_bad_folders(gan_run, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "--data", "digits", "--model", "mlp", "--steps", "2", "--out",
                 str(other), "--no-progress"]) == 0
    out = tmp_path / "both.html"
    assert main(["report", str(gan_run), "--compare", str(other), "--out", str(out)]) == 0
    page = out.read_text()
    assert "repeat(2, minmax(0, 1fr))" in page and page.count("<h2>") == 3  # + the comparison
    assert "gan vs other" in page
    compared = page.split('<section class="comparison">', 1)[1].split("</section>", 1)[0]
    assert "<td>steps</td><td>6</td><td>2</td>" in compared  # the config diff
    assert "<td>steps trained</td><td>6</td><td>2</td>" in compared
    assert "<td>model</td>" not in compared  # the same in both: not a difference

    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="is not a gankit run directory"):
        write_report([tmp_path / "empty"])
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "config.yaml").write_text("note: <script>alert(1)</script>\n")
    assert "<script>alert" not in write_report([evil]).read_text()  # autoescaped


def _score(value, n):
    return {"value": value, "std": 0.1, "protocol": {
        "extractor": "inception-v3-tf", "n_real": n, "n_generated": n, "reference": "digits/test",
        "seed": 0, "run_dir": "wherever"}}


def test_compare_shows_one_score_table_and_a_config_diff_in_chromium(gan_run, tmp_path,
                                                                      chromium):
    import json

    from selenium.webdriver.common.by import By

    other = tmp_path / "narrower"
    assert main(["train", "--data", "digits", "--model", "mlp", "--steps", "2", "--width", "24",
                 "--out", str(other), "--no-progress"]) == 0
    # eval.json as gankit eval writes it; the runs were scored with different sample sizes
    (gan_run / "eval.json").write_text(json.dumps({"scores": {"fid": _score(41.5, 2000)}}))
    (other / "eval.json").write_text(json.dumps({"scores": {"fid": _score(38.25, 500)}}))
    out = tmp_path / "compare.html"
    try:
        assert main(["report", str(gan_run), "--compare", str(other), "--out", str(out)]) == 0
    finally:
        (gan_run / "eval.json").unlink()
    chromium.get(out.as_uri())
    scores = chromium.find_element(By.ID, "scores")
    assert [th.text for th in scores.find_elements(By.TAG_NAME, "th")] == \
        ["metric", "gan", "narrower"]
    fid = [td.text for td in scores.find_elements(By.TAG_NAME, "tr")[1]
           .find_elements(By.TAG_NAME, "td")]
    assert fid == ["fid", "41.5", "38.25 (protocol differs: n_generated, n_real)"]
    diff = chromium.find_element(By.ID, "options-that-differ").text
    assert "width" in diff and "24" in diff and "steps" in diff
    # no sideways scrolling at 1400 px, and the comparison sits above the runs
    width = chromium.execute_script("return document.documentElement.scrollWidth")
    assert width <= chromium.execute_script("return window.innerWidth")
    runs_top = chromium.find_element(By.CLASS_NAME, "runs").location["y"]
    assert scores.location["y"] < runs_top
    shot = tmp_path / "compare.png"
    assert chromium.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_a_benchmark_result_shows_its_verdict_and_headline(tmp_path):
    result = tmp_path / "translate.json"
    result.write_text(json.dumps({
        "benchmark": "translate", "command": "python bench/translate.py", "minutes": 80.5,
        "machine": {"cpu": "Xeon", "cores": 2},
        "verdict": "fashion-mnist low-light: the GAN <b>does not</b> measurably help.",
        "headline": {"fashion-mnist@low-light": {"acc_best_gan": 0.861,
                                                 "gain_ci95": [-0.02, 0.01]}}}))
    assert main(["report", str(result)]) == 0
    page = (tmp_path / "translate.html").read_text()
    assert "Verdict of the translate benchmark" in page
    assert "the GAN &lt;b&gt;does not&lt;/b&gt; measurably help." in page  # escaped, whole
    assert "<td>fashion-mnist@low-light / gain_ci95</td><td>[-0.02, 0.01]</td>" in page
    assert "<td>Xeon (2 cores)</td>" in page
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"benchmark": "translate", "headline": {
        "fashion-mnist@low-light": {"acc_best_gan": 0.87}}}))
    both = write_report([result, other], tmp_path / "both.html").read_text()
    assert "<td>fashion-mnist@low-light / acc_best_gan</td><td>0.861</td><td>0.87</td>" in both
    assert "This benchmark stores no verdict sentence." in both
    (tmp_path / "plain.json").write_text("{}")
    with pytest.raises(GankitError, match="is not a gankit benchmark result"):
        write_report([tmp_path / "plain.json"])
