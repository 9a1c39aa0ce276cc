"""`gankit report`: a self-contained page with a section for each kind of result a run has."""

import re

import pytest

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


def test_runs_side_by_side_and_bad_folders(gan_run, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "--data", "digits", "--model", "mlp", "--steps", "2", "--out",
                 str(other), "--no-progress"]) == 0
    out = tmp_path / "both.html"
    assert main(["report", str(gan_run), "--compare", str(other), "--out", str(out)]) == 0
    page = out.read_text()
    assert "repeat(2, minmax(0, 1fr))" in page and page.count("<h2>") == 2
    assert "gan vs other" in page

    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="is not a gankit run directory"):
        write_report([tmp_path / "empty"])
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "config.yaml").write_text("note: <script>alert(1)</script>\n")
    assert "<script>alert" not in write_report([evil]).read_text()  # autoescaped
