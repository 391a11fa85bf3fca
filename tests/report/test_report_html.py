"""report.html: one self-contained page that parses, inlines each figure as a PNG, escapes
what it quotes, and still renders when the run directory holds almost nothing; in a real
browser (headless chromium), each figure is drawn where the page puts it."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest

from veritune.errors import InputError
from veritune.report.html import write_html_report
from veritune.report.markdown import write_report

PNG = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "wbr"}
CONFIG = "name: myrun\nprompt: <script>alert('x')</script> {question}\nsample:\n  n: 4\n"


def metrics(acc, bon, domains):
    return {"accuracy": acc, "n": 5, "best_of_n": bon, "mean_response_tokens": 4.2,
            "truncated_rate": 0.2, "repetition_rate": 0.0,
            "per_domain": {d: {"accuracy": a, "n": n, "best_of_n": b}
                           for d, (a, n, b) in domains.items()}}


BASE = metrics(0.4, 0.8, {"chemistry": (0.5, 2, 1.0), "geography": (1 / 3, 3, 2 / 3)})
TUNED = metrics(0.8, 0.8, {"chemistry": (1.0, 2, 1.0), "geography": (2 / 3, 3, 2 / 3)})
MANIFEST = {"stages": {"data": {"status": "done", "seconds": 0.1, "counts": {"train": 10}},
                       "train": {"status": "done", "seconds": 12.5, "counts": {"steps": 4}}},
            "versions": {"python": "3.11.7"}}
PAIRS = [{"question_id": q, "prompt": [{"role": "user", "content": "?"}], "chosen": c,
          "rejected": r, "kind": "self", "chosen_index": 0, "rejected_index": 1}
         for q, c, r in [("q1", "Paris.", "It is Lyon I think."),
                         ("q1", "Paris.", "Marseille, surely."), ("q2", "Au", "Ag or so")]]
LOG = [{"loss": 0.69 - 0.1 * s, "rewards/margins": 0.1 * s, "rewards/chosen": 0.05 * s,
        "rewards/rejected": -0.05 * s, "step": s, "phase": "dpo"} for s in (1, 2, 3, 4)]
LOG.append({"train_runtime": 3.0, "train_loss": 0.5, "rewards/margins": 9.0, "step": 4,
            "phase": "dpo"})
SUITE = {"base": {"truthfulqa_mc": 0.25, "halueval_qa": 0.5},
         "tuned": {"truthfulqa_mc": 0.35, "halueval_qa": 0.55}}
HEADLINES = {"truthfulqa_mc": "mc1", "halueval_qa": "accuracy"}


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_run(tmp_path):
    run = tmp_path / "myrun"
    write(run / "config.yaml", CONFIG)
    write(run / "manifest.json", json.dumps(MANIFEST, indent=2))
    write(run / "pairs.jsonl", "".join(json.dumps(p) + "\n" for p in PAIRS))
    write(run / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in LOG))
    write(run / "eval/base/test/metrics.json", json.dumps(BASE))
    write(run / "eval/tuned/test/metrics.json", json.dumps(TUNED))
    write(run / "eval/compare_test.json", json.dumps(
        {"n": 5, "wrong_to_right": 3, "right_to_wrong": 1, "mcnemar_p": 0.625}))
    for label, tasks in SUITE.items():
        for task, value in tasks.items():
            write(run / "eval/suite" / label / task / "metrics.json", json.dumps(
                {"task": task, "headline": HEADLINES[task], HEADLINES[task]: value, "n": 20}))
    write(run / "eval/suite/summary.csv", "task,base,tuned\ntruthfulqa_mc,25.0,35.0\n")
    return run


class Balanced(HTMLParser):
    """Fails on a closing tag that does not match the innermost open one."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def check_balanced(text):
    parser = Balanced()
    parser.feed(text)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"


def images(text):
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', text)


def test_full_run(tmp_path):
    run = make_run(tmp_path)
    path = write_html_report(run)
    assert path == run / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    check_balanced(text)
    figs = images(text)
    assert [alt for _, alt in figs] == ["suite results per task", "per-domain accuracy heatmap",
                                        "BO1 vs BOn per domain", "training curves"]
    assert text.count("<img") == len(figs)
    for data, _ in figs:
        png = base64.b64decode(data, validate=True)
        assert png[:8] == PNG and len(png) > 1000
    # self-contained: nothing to fetch
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text
    # the config is quoted, escaped
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    # headline numbers, flips, suite, pairs, stages
    assert "Flips: wrong→right 3, right→wrong 1; exact McNemar p = 0.625." in text
    assert '<td>truthfulqa_mc</td><td>mc1</td><td class="n">0.25</td><td class="n">0.35</td>' \
           '<td class="n">0.1</td>' in text
    assert "<h3>summary.csv</h3>" in text
    assert '<td>pairs</td><td class="n">3</td>' in text
    assert '<td>questions with pairs</td><td class="n">2</td>' in text
    assert '<td>mean chosen words</td><td class="n">1</td>' in text
    assert '<td>train</td><td>done</td><td class="n">12.5</td><td>steps: 4</td>' in text
    assert "not available" not in text


def test_missing_sections(tmp_path):
    run = tmp_path / "fresh"
    write(run / "config.yaml", CONFIG)
    text = write_html_report(run).read_text(encoding="utf-8")
    check_balanced(text)
    assert images(text) == [] and "<img" not in text
    for what in ("Evaluation results", "Suite results", "Per-domain results",
                 "Preference pairs (pairs.jsonl)", "Training log (train_log.jsonl)",
                 "Manifest (stage timings)"):
        assert f"{what} not available." in text
    assert "&lt;script&gt;" in text and "<script" not in text


def test_empty_dir_renders(tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    write(run / "train_log.jsonl", '{"loss": 0.7, "step": 1}\n{"loss": 0.6, "step": 2}\n')
    text = write_html_report(run).read_text(encoding="utf-8")
    check_balanced(text)
    assert "config.yaml not available." in text and "Manifest (stage timings) not available." \
        in text
    assert [alt for _, alt in images(text)] == ["training curves"]


@pytest.mark.parametrize("name, content, where", [
    ("train_log.jsonl", '{"loss": 0.7, "step": 1}\n{"loss": 0.6, "st', "line 2"),  # torn
    ("manifest.json", "{not json", "line 1"),
    ("manifest.json", '{"stages": []}', "field 'stages'"),
    ("pairs.jsonl", '{"chosen": "a", "rejected": "b"}\n[1, 2]\n', "line 2"),
])
def test_a_corrupt_input_is_an_error_naming_it(tmp_path, name, content, where):
    """One JSONL/JSON policy: a corrupt file is an InputError naming file and line, not a
    section silently left out (the report of a missing file still says "not available")."""
    run = tmp_path / "corrupt"
    run.mkdir()
    write(run / name, content)
    with pytest.raises(InputError) as e:
        write_html_report(run)
    assert name in str(e.value) and where in str(e.value)
    assert not (run / "report.html").exists()


def test_base_only_run(tmp_path):
    run = make_run(tmp_path)
    shutil.rmtree(run / "eval" / "tuned")
    shutil.rmtree(run / "eval" / "suite" / "tuned")
    (run / "eval" / "compare_test.json").unlink()
    text = write_html_report(run).read_text(encoding="utf-8")
    check_balanced(text)
    assert len(images(text)) == 4
    assert "Paired comparison (flips, McNemar p) not available." in text


def test_write_report_writes_html_too(tmp_path):
    run = make_run(tmp_path)
    md = write_report(run).read_text(encoding="utf-8")
    assert "[report.html](report.html)" in md.splitlines()[2]
    assert (run / "report.html").is_file()


# --- a real browser ----------------------------------------------------------------------------
# CI installs Debian's chromium (.ci/run); without it this test fails, unless VERITUNE_NO_BROWSER
# is set (a developer machine without a browser). The flags keep it off the network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1")
# Appended to a copy of the page: after load, write each image's box on the page (as JSON in
# a <pre>) for --dump-dom to return. A script element takes no space: the layout is unchanged.
PROBE = ("<script>addEventListener('load',()=>{const p=document.createElement('pre');"
         "p.id='probe';p.textContent=JSON.stringify({height:document.documentElement"
         ".scrollHeight,images:[...document.images].map(i=>{const b=i.getBoundingClientRect();"
         "return {alt:i.alt,x:b.left+scrollX,y:b.top+scrollY,w:b.width,h:b.height,"
         "natural:i.naturalWidth,complete:i.complete}})});document.body.appendChild(p)});"
         "</script>")


def chromium(tmp_path, *args):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        if os.environ.get("VERITUNE_NO_BROWSER"):
            pytest.skip("VERITUNE_NO_BROWSER is set")
        pytest.fail("no chromium on PATH: apt-get install chromium (as .ci/run does), or set "
                    "VERITUNE_NO_BROWSER=1 to skip this test on a machine without a browser")
    profile = tempfile.mkdtemp(dir=tmp_path, prefix="chromium-profile-")
    done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_renders_in_headless_chromium(tmp_path):
    """Every figure is drawn where the page puts it: the screenshot's pixels in each image's
    box match the figure's own PNG (scaled to the box), and are far from a blank box."""
    from PIL import Image, ImageChops, ImageStat

    page = write_html_report(make_run(tmp_path))
    text = page.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, "--window-size=1200,3000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    boxes = layout["images"]
    assert [b["alt"] for b in boxes] == [alt for _, alt in images(text)]
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--window-size=1200,{layout['height']}", f"--screenshot={shot}",
             probe.as_uri())
    screen = Image.open(shot).convert("RGB")
    assert screen.size == (1200, layout["height"])
    for box, (data, alt) in zip(boxes, images(text)):
        assert box["complete"] and box["natural"] > 0 and box["w"] > 100 and box["h"] > 100, box
        region = screen.crop(tuple(round(v) for v in (box["x"], box["y"], box["x"] + box["w"],
                                                       box["y"] + box["h"])))
        figure = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        figure = figure.resize(region.size, Image.BILINEAR)
        blank = Image.new("RGB", region.size, (255, 255, 255))
        drawn = sum(ImageStat.Stat(ImageChops.difference(region, figure)).mean) / 3
        empty = sum(ImageStat.Stat(ImageChops.difference(blank, figure)).mean) / 3
        inked = sum(region.convert("L").histogram()[:200]) / (region.width * region.height)
        assert inked > 0.01, f"{alt}: the box is blank in the screenshot"
        assert drawn < empty / 3, f"{alt}: drawn {drawn:.1f} vs blank {empty:.1f}"
