"""`gankit serve`: every endpoint, the bad inputs it must refuse, and an end-to-end run in a
real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

import io
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gankit.cli import main
from gankit.serve import create_app


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "--data", "digits", "--model", "dcgan", "--width", "8", "--steps", "3",
                 "--out", str(root / "gan"), "--no-progress"]) == 0
    assert main(["classify", "train", "--data", "digits", "--epochs", "1", "--width", "4",
                 "--out", str(root / "clf"), "--no-progress"]) == 0
    assert main(["translate", "train", "--a", "digits", "--b", "digits@inverted", "--steps",
                 "2", "--width", "4", "--out", str(root / "night"), "--no-progress"]) == 0
    (root / "not-a-run").mkdir()
    return root


@pytest.fixture
def client(runs):
    with TestClient(create_app(runs, max_bytes=20_000, max_pixels=200 * 200)) as c:
        yield c


def _png(size=(8, 8), value=200) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _finish(client, job, timeout=60.0):
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def test_the_page_and_the_run_listing(client):
    page = client.get("/")
    assert page.status_code == 200 and "<h1>gankit</h1>" in page.text
    runs = client.get("/api/runs").json()
    assert {(r["path"], r["kind"]) for r in runs} == {
        ("gan", "gan"), ("clf", "classifier"), ("night", "translator")}
    report = client.get("/api/report", params={"run": "gan"})
    assert report.status_code == 200 and "<h3>Training</h3>" in report.text


def test_sample_inpaint_attack_and_translate_jobs(client):
    job = _finish(client, client.post("/api/sample", data={"run": "gan", "n": 4}).json())
    assert job["state"] == "done" and job["result"]["image"].startswith("data:image/png;base64,")

    job = _finish(client, client.post("/api/inpaint", data={
        "run": "gan", "method": "biharmonic", "mask": "center"}).json())
    assert job["state"] == "done" and "psnr_hole" in job["result"]
    drawn = np.zeros((8, 8), dtype=np.uint8)
    drawn[2:5, 2:5] = 255
    buffer = io.BytesIO()
    Image.fromarray(drawn).save(buffer, "PNG")
    job = _finish(client, client.post("/api/inpaint", data={"run": "gan", "method": "mean"},
                                      files={"image": ("x.png", _png()),
                                             "mask_image": ("m.png", buffer.getvalue())}).json())
    assert job["state"] == "done"

    job = _finish(client, client.post("/api/attack", data={"run": "clf", "method": "fgsm",
                                                           "eps": 0.1}).json())
    assert job["state"] == "done" and job["result"]["linf"] <= 0.1 + 1e-6
    assert set(job["result"]["before"]) == {"class", "confidence"}

    job = _finish(client, client.post("/api/translate", data={"run": "night",
                                                              "direction": "b2a"}).json())
    assert job["state"] == "done" and "digits@inverted" in job["result"]["caption"]


def test_bad_input_is_refused_and_the_server_keeps_serving(client):
    too_big = client.post("/api/attack", data={"run": "clf"},
                          files={"image": ("big.png", b"\x89PNG" + b"0" * 30_000)})
    assert too_big.status_code == 413 and "limit is 20000" in too_big.json()["detail"]
    not_image = client.post("/api/attack", data={"run": "clf"},
                            files={"image": ("notes.txt", b"just some text")})
    assert not_image.status_code == 400 and "not an image" in not_image.json()["detail"]
    bomb = client.post("/api/attack", data={"run": "clf"},
                       files={"image": ("wide.png", _png(size=(300, 300)))})
    assert bomb.status_code == 400 and "300x300 pixels" in bomb.json()["detail"]
    for path in ("../../etc", "/etc", "gan/../../.."):
        escape = client.post("/api/sample", data={"run": path})
        assert escape.status_code == 400 and "leaves the runs folder" in escape.json()["detail"]
    assert client.get("/api/report", params={"run": "../"}).status_code == 400
    wrong_kind = client.post("/api/attack", data={"run": "gan"})
    assert wrong_kind.status_code == 400 and "not a classifier run" in wrong_kind.text
    assert client.post("/api/sample", data={"run": "nowhere"}).status_code == 404
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/report", params={"run": "not-a-run"}).status_code == 400
    for endpoint, field, value, limit in [("sample", "n", 100_000, "256"),
                                          ("sample", "interpolate", 33, "32"),
                                          ("sample", "seed", -1, "0"),
                                          ("attack", "eps", 5, "1"),
                                          ("translate", "index", 10**6, "9999")]:
        over = client.post(f"/api/{endpoint}", data={"run": "gan", field: value})
        assert over.status_code == 422 and limit in over.text, (field, over.text)

    failing = _finish(client, client.post("/api/inpaint", data={"run": "gan",
                                                                "method": "magic"}).json())
    assert failing["state"] == "error" and "unknown inpainting method 'magic'" in failing["error"]
    hides_all = np.full((8, 8), 255, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(hides_all).save(buffer, "PNG")
    failing = _finish(client, client.post("/api/inpaint", data={"run": "gan", "method": "mean"},
                                          files={"mask_image": ("m.png", buffer.getvalue())})
                      .json())
    assert failing["state"] == "error" and "hides the whole image" in failing["error"]
    ok = _finish(client, client.post("/api/sample", data={"run": "gan", "n": 2}).json())
    assert ok["state"] == "done"  # still serving after the failures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_end_to_end_in_headless_chromium(runs):
    webdriver = pytest.importorskip("selenium.webdriver")
    driver_path = shutil.which("chromedriver")
    browser = shutil.which("chromium")
    if driver_path is None or browser is None:
        pytest.skip("needs Debian's chromium and chromium-driver (installed by make test)")
    import uvicorn
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import Select, WebDriverWait

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runs), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: Select(d.find_element(By.ID, "sample-run")).options)
        driver.find_element(By.ID, "sample-go").click()
        image = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#sample-out img")))
        assert image.get_attribute("src").startswith("data:image/png;base64,")

        Select(driver.find_element(By.ID, "inpaint-method")).select_by_visible_text("biharmonic")
        driver.find_element(By.ID, "inpaint-go").click()
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#inpaint-out img")))
        assert "masked · completed · original" in driver.find_element(
            By.ID, "inpaint-status").text
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(timeout=10)
