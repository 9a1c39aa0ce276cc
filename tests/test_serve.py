"""`gankit serve`: every endpoint, the bad inputs it must refuse, and an end-to-end run in a
real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

import io
import shutil
import socket
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gankit.cli import main
from gankit.serve import app as app_module
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
    with TestClient(create_app(runs, max_bytes=20_000, max_pixels=200 * 200),
                    base_url="http://127.0.0.1:8000") as c:
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
    summary = {r["path"]: r["summary"] for r in runs}
    assert summary["gan"] == "digits, steps trained 3"
    assert summary["clf"].startswith("digits, accuracy % (digits/test) ")
    report = client.get("/api/report", params={"run": "gan"})
    assert report.status_code == 200 and "<h3>Training</h3>" in report.text


def test_sample_inpaint_attack_and_translate_jobs(client, caplog):
    caplog.set_level("INFO", logger="gankit.serve")
    job = _finish(client, client.post("/api/sample", data={"run": "gan", "n": 4}).json())
    assert f"job {job['id']} sample: done in" in caplog.text  # the server's job log
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


def test_explore_sliders_move_the_image_along_a_direction(client):
    def explore(**fields):
        return _finish(client, client.post("/api/explore", data={"run": "gan", **fields}).json())

    still = explore(amounts="0,0,0")
    assert still["state"] == "done" and still["result"]["pixel_change_rms"] == 0
    for method in ("sefa", "ganspace"):
        moved = explore(method=method, amounts="3,0,0", seed=1)
        assert moved["state"] == "done" and moved["result"]["pixel_change_rms"] > 0
        assert f"moved along {method} directions 0: +3" in moved["result"]["caption"]
    assert "unknown direction method 'pca'" in explore(method="pca")["error"]
    for bad in ("1,,2", "a,b", "nan", "11", ",".join(["1"] * 11)):
        answer = client.post("/api/explore", data={"run": "gan", "amounts": bad})
        assert answer.status_code == 422, bad
    assert client.post("/api/explore", data={"run": "clf"}).status_code == 400  # not a GAN


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
    for not_a_run in ("not-a-run", "."):  # a folder that holds no run: 404, named
        refused = client.get("/api/report", params={"run": not_a_run})
        assert refused.status_code == 404 and "no run" in refused.json()["detail"]
        inpaint = client.post("/api/inpaint", data={"run": not_a_run, "method": "mean"})
        assert inpaint.status_code == 404
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


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels (no pixel data): what an image
    decoder reads before it decodes anything."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_links_out_of_the_runs_folder_are_never_followed(runs, tmp_path, client):
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    linked = runs / "gan_linked"
    shutil.copytree(runs / "gan", linked)
    (linked / "samples.png").unlink()
    (linked / "samples.png").symlink_to(secret)
    try:
        for response in (client.get("/api/report", params={"run": "gan_linked"}),
                         client.post("/api/sample", data={"run": "gan_linked"})):
            assert response.status_code == 403 and "link out of the runs folder" in response.text
            assert "the secret" not in response.text
        assert client.get("/api/report", params={"run": "gan"}).status_code == 200
    finally:
        shutil.rmtree(linked)


def test_host_and_origin_are_checked(client):
    assert client.get("/api/runs", headers={"host": "attacker.example"}).status_code == 400
    for origin, status in [("http://evil.example", 403), ("http://127.0.0.1:8000", 200)]:
        response = client.post("/api/sample", data={"run": "gan", "n": 1},
                               headers={"origin": origin})
        assert response.status_code == status, response.text
        if status == 200:
            _finish(client, response.json())


def test_concurrent_reports_all_succeed_and_write_nothing(runs, client):
    before = sorted(p.relative_to(runs) for p in runs.rglob("*"))
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: client.get("/api/report", params={"run": "gan"})
                              .status_code, range(50)))
    assert codes == [200] * 50
    assert sorted(p.relative_to(runs) for p in runs.rglob("*")) == before
    page = client.get("/api/report", params={"run": "gan"}).text
    assert str(runs) not in page  # paths inside the runs folder only


def test_uploads_masks_indices_and_bombs(client):
    wrong_mask = client.post("/api/inpaint", data={"run": "gan", "method": "mean"},
                             files={"mask_image": ("m.png", _png(size=(5, 5), value=255))})
    assert wrong_mask.status_code == 400 and "is 5x5 pixels; the model's images are 8x8" in (
        wrong_mask.json()["detail"])
    bomb = client.post("/api/attack", data={"run": "clf"},
                       files={"image": ("bomb.png", _png_header(20_000, 20_000))})
    assert bomb.status_code == 400 and "more pixels than the limit" in bomb.json()["detail"]
    past = _finish(client, client.post("/api/attack", data={"run": "clf", "index": 9_999})
                   .json())
    assert past["state"] == "error" and "index 9999 is past the 360 test images" in past["error"]

    def streamed():  # no Content-Length: counted as it arrives
        yield (b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
               b"Content-Type: image/png\r\n\r\n")
        for _ in range(20):
            yield b"x" * 10_000

    chunked = client.post("/api/attack", content=streamed(),
                          headers={"content-type": "multipart/form-data; boundary=b"})
    assert chunked.status_code == 413 and "the request is over" in chunked.json()["detail"]


def test_the_job_store_is_bounded(runs, monkeypatch):
    monkeypatch.setattr(app_module, "MAX_KEPT_JOBS", 2)
    with TestClient(create_app(runs), base_url="http://127.0.0.1") as c:
        ids = [_finish(c, c.post("/api/sample", data={"run": "gan", "n": 1}).json())["id"]
               for _ in range(4)]
        # a submit evicts all but the newest 2 finished jobs, then adds its own
        assert [c.get(f"/api/jobs/{i}").status_code for i in ids] == [404, 200, 200, 200]
    monkeypatch.setattr(app_module, "MAX_PENDING_JOBS", 0)
    with TestClient(create_app(runs), base_url="http://127.0.0.1") as c:
        busy = c.post("/api/sample", data={"run": "gan", "n": 1})
        assert busy.status_code == 503 and "jobs are queued or running" in busy.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_end_to_end_in_headless_chromium(runs, chromium):
    import uvicorn
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import Select, WebDriverWait

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runs), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    driver = chromium
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
        # a failed job leaves no earlier image beside its error
        driver.find_element(By.ID, "sample-class").send_keys("no-such-class")
        driver.find_element(By.ID, "sample-go").click()
        wait.until(lambda d: "error" in d.find_element(By.ID, "sample-status")
                   .get_attribute("class"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#sample-out img")
        assert "digits, steps trained 3" in driver.find_element(By.ID, "runs").text

        Select(driver.find_element(By.ID, "inpaint-method")).select_by_visible_text("biharmonic")
        driver.find_element(By.ID, "inpaint-go").click()
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#inpaint-out img")))
        assert "masked · completed · original" in driver.find_element(
            By.ID, "inpaint-status").text

        slider = driver.find_element(By.ID, "explore-direction-1")  # a moved slider asks at once
        driver.execute_script("arguments[0].value = 2; arguments[0].dispatchEvent("
                              "new Event('change'));", slider)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#explore-out img")))
        assert "moved along sefa directions 1: +2" in driver.find_element(
            By.ID, "explore-status").text
    finally:
        server.should_exit = True
        thread.join(timeout=10)
